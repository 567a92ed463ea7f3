//! Location and spread of a sample: mean, standard deviation, standard error
//! and percentiles.

/// Arithmetic mean. `None` for an empty slice.
///
/// Inputs must not contain `NaN` (a `NaN` propagates into the result).
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

/// Sample standard deviation (Bessel-corrected, `n - 1` denominator; numpy's
/// `std(ddof=1)`). `None` when `n < 2`, where it is undefined.
///
/// Two passes (mean first, then squared deviations) rather than the
/// sum-of-squares shortcut, which loses precision when the mean is large
/// relative to the spread (latencies, token counts).
pub fn std_dev(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values)?;
    let squares: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    Some((squares / (values.len() - 1) as f64).sqrt())
}

/// Standard error of the mean, `std_dev / sqrt(n)` (scipy's `sem`). `None` when
/// `n < 2`.
pub fn std_error(values: &[f64]) -> Option<f64> {
    Some(std_dev(values)? / (values.len() as f64).sqrt())
}

/// The `p`-th percentile (`0 <= p <= 100`) of ascending `sorted` values, by
/// linear interpolation between the two nearest ranks: numpy's default
/// (`method="linear"`, Hyndman & Fan type 7).
///
/// `None` when `sorted` is empty, is not in ascending order (which includes
/// containing `NaN`), or `p` is outside `[0, 100]`. Checking the order costs
/// one pass, far less than the sort the caller did, and turns a silent wrong
/// answer into a visible `None`.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=100.0).contains(&p) || !sorted.is_sorted() {
        return None;
    }
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    // `rank` is within [0, n - 1], so both casts are in range.
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let (a, b) = (*sorted.get(lo)?, *sorted.get(hi)?);
    let t = rank - lo as f64;
    // numpy's `_lerp`: interpolating from the nearer end keeps the result
    // monotone and exact at the ends.
    Some(if t < 0.5 { a + (b - a) * t } else { b - (b - a) * (1.0 - t) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_of_nothing_is_none() {
        assert_eq!(mean(&[]), None);
        assert_eq!(mean(&[2.0, 4.0]), Some(3.0));
    }

    #[test]
    fn spread_needs_two_values() {
        assert_eq!(std_dev(&[1.0]), None);
        assert_eq!(std_error(&[1.0]), None);
        assert_eq!(std_dev(&[3.0, 3.0]), Some(0.0));
        // 2, 4, 4, 4, 5, 5, 7, 9: sum of squares 32, n - 1 = 7.
        let values = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let sd = std_dev(&values).unwrap();
        assert!((sd - (32.0f64 / 7.0).sqrt()).abs() < 1e-15);
        assert!((std_error(&values).unwrap() - sd / 8f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn large_offsets_keep_precision() {
        let values = [1e9 + 1.0, 1e9 + 2.0, 1e9 + 3.0];
        assert_eq!(std_dev(&values), Some(1.0));
    }

    #[test]
    fn percentile_interpolates_linearly() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&v, 100.0), Some(4.0));
        assert_eq!(percentile(&v, 50.0), Some(2.5));
        assert!((percentile(&v, 90.0).unwrap() - 3.7).abs() < 1e-12);
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
    }

    #[test]
    fn percentile_rejects_bad_input() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[1.0, 2.0], -1.0), None);
        assert_eq!(percentile(&[1.0, 2.0], 100.5), None);
        assert_eq!(percentile(&[1.0, 2.0], f64::NAN), None);
        assert_eq!(percentile(&[2.0, 1.0], 50.0), None);
        assert_eq!(percentile(&[1.0, f64::NAN], 50.0), None);
    }
}
