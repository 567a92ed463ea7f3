//! Confidence intervals for a mean: Wilson score intervals for proportions and
//! Student t intervals for everything else.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use super::summary::{mean, std_error};

/// A two-sided interval `[low, high]`, `low <= high`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// The upper-tail probability `1 - (1 - level) / 2` whose quantile bounds a
/// two-sided interval at `level`, if `level` is usable: strictly between 0
/// and 1, and not so close to 1 that the probability rounds to 1 (an infinite
/// quantile). Checked up front also because statrs' quantile functions panic
/// outside `[0, 1]`.
fn upper_tail(level: f64) -> Option<f64> {
    let p = 1.0 - (1.0 - level) / 2.0;
    (level > 0.0 && level < 1.0 && p < 1.0).then_some(p)
}

/// The Wilson score interval for a proportion of `successes` out of `n`
/// independent trials at confidence `level` (e.g. `0.95`); identical to
/// statsmodels' `proportion_confint(successes, n, 1 - level, method="wilson")`.
///
/// Unlike the normal (Wald) interval it stays inside `[0, 1]` and is not
/// degenerate at 0 or `n` successes, which matters for small evaluation sets
/// where a model gets everything right. Bounds are clamped to `[0, 1]` to
/// remove rounding residue (a `-1e-17` lower bound at zero successes).
///
/// `None` when `n == 0`, `successes > n`, or `level` is not in `(0, 1)`.
pub fn wilson_interval(successes: u64, n: u64, level: f64) -> Option<Interval> {
    if n == 0 || successes > n {
        return None;
    }
    let z = Normal::standard().inverse_cdf(upper_tail(level)?);
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Some(Interval { low: (center - half).clamp(0.0, 1.0), high: (center + half).clamp(0.0, 1.0) })
}

/// The Student t interval for the mean of `values` at confidence `level`:
/// `mean ± t(df = n - 1) · sem`, identical to
/// `scipy.stats.t.interval(level, n - 1, loc=mean, scale=sem)`.
///
/// Invariants: `values` has no `NaN` and `n >= 2`; otherwise, or when `level`
/// is not in `(0, 1)`, the result is `None`. When all values are equal the
/// interval is the single point `[mean, mean]` (scipy returns `NaN` there).
pub fn t_interval(values: &[f64], level: f64) -> Option<Interval> {
    let df = values.len().checked_sub(1)? as f64;
    t_interval_from_summary(mean(values)?, std_error(values)?, df, level)
}

/// A t interval from summary statistics: `mean ± t(df) · std_error`.
///
/// For callers whose standard error is not the plain `sd / sqrt(n)` (clustered
/// standard errors use `df = clusters - 1`). `None` unless `df > 0`,
/// `std_error >= 0`, everything is finite and `level` is in `(0, 1)`.
pub fn t_interval_from_summary(mean: f64, std_error: f64, df: f64, level: f64) -> Option<Interval> {
    let finite = mean.is_finite() && std_error.is_finite() && df.is_finite();
    let p = upper_tail(level)?;
    if !finite || df <= 0.0 || std_error < 0.0 {
        return None;
    }
    if std_error == 0.0 {
        return Some(Interval { low: mean, high: mean });
    }
    let t = StudentsT::new(0.0, 1.0, df).ok()?.inverse_cdf(p);
    let half = t * std_error;
    half.is_finite().then_some(Interval { low: mean - half, high: mean + half })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn wilson_known_values() {
        // statsmodels: proportion_confint(5, 10, method="wilson")
        let ci = wilson_interval(5, 10, 0.95).unwrap();
        assert!(close(ci.low, 0.23659309051256394), "{ci:?}");
        assert!(close(ci.high, 0.7634069094874361), "{ci:?}");
    }

    #[test]
    fn wilson_at_the_edges_stays_in_unit_range() {
        let none = wilson_interval(0, 7, 0.95).unwrap();
        assert_eq!(none.low, 0.0);
        assert!(none.high > 0.0 && none.high < 1.0);
        let all = wilson_interval(7, 7, 0.95).unwrap();
        assert_eq!(all.high, 1.0);
        assert!(all.low > 0.0 && all.low < 1.0);
    }

    #[test]
    fn wilson_rejects_bad_input() {
        assert_eq!(wilson_interval(0, 0, 0.95), None);
        assert_eq!(wilson_interval(3, 2, 0.95), None);
        assert_eq!(wilson_interval(1, 2, 1.0), None);
        assert_eq!(wilson_interval(1, 2, 0.0), None);
        assert_eq!(wilson_interval(1, 2, f64::NAN), None);
        assert_eq!(wilson_interval(1, 2, 1.0 - 1e-17), None, "rounds to an infinite quantile");
    }

    #[test]
    fn t_interval_known_values() {
        // scipy: t.interval(0.95, 3, loc=2.5, scale=sem([1, 2, 3, 4]))
        let ci = t_interval(&[1.0, 2.0, 3.0, 4.0], 0.95).unwrap();
        assert!(close(ci.low, 0.4457397432394794), "{ci:?}");
        assert!(close(ci.high, 4.554260256760521), "{ci:?}");
    }

    #[test]
    fn t_interval_needs_two_values() {
        assert_eq!(t_interval(&[], 0.95), None);
        assert_eq!(t_interval(&[1.0], 0.95), None);
        assert_eq!(t_interval(&[1.0, 2.0], 1.5), None);
        assert_eq!(t_interval(&[1.0, 2.0], 1.0 - 1e-17), None);
    }

    #[test]
    fn constant_values_give_a_point() {
        let ci = t_interval(&[0.5, 0.5, 0.5], 0.95).unwrap();
        assert_eq!((ci.low, ci.high), (0.5, 0.5));
    }

    #[test]
    fn summary_form_rejects_nonsense() {
        assert_eq!(t_interval_from_summary(1.0, 0.1, 0.0, 0.95), None);
        assert_eq!(t_interval_from_summary(1.0, -0.1, 3.0, 0.95), None);
        assert_eq!(t_interval_from_summary(f64::NAN, 0.1, 3.0, 0.95), None);
        assert_eq!(t_interval_from_summary(1.0, f64::INFINITY, 3.0, 0.95), None);
        assert_eq!(t_interval(&[f64::MAX, -f64::MAX, f64::MAX], 0.95), None, "overflowing spread");
    }
}
