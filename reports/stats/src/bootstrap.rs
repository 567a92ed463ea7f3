//! Seeded percentile bootstrap intervals for statistics that have no simple
//! standard error (medians, ratios, differences of pass rates over shared
//! samples).
//!
//! This is the percentile method of `scipy.stats.bootstrap(...,
//! method="percentile")`, with numpy's linear percentile, but it draws its
//! resamples from [`SplitMix64`] rather than numpy's generator, so no
//! reference values can reproduce it draw for draw: it is checked by
//! properties instead (close to the t interval for the mean of a large
//! sample, the same seed gives the same interval, bounds inside the range of
//! the statistic).

use super::interval::Interval;
use super::rng::SplitMix64;
use super::summary::percentile;

/// The number of resamples callers should use unless they have a reason not
/// to: enough for stable 95% percentile bounds at a cost of milliseconds.
pub const DEFAULT_RESAMPLES: usize = 2000;

/// Seeded percentile bootstrap: draws `resamples` resamples of the indices
/// `0..n` with replacement, computes `statistic(&indices)` on each (skipping
/// resamples where it returns `None` or a non-finite value), and returns the
/// `(1 - level) / 2` and `1 - (1 - level) / 2` percentiles of those values
/// (numpy's linear percentile, [`percentile`]).
///
/// The statistic receives indices rather than values so that it can resample
/// paired or multi-column data (for example both models' scores of the same
/// sample) consistently.
///
/// Deterministic: the same `n`, `resamples`, `seed` and statistic give the same
/// interval. `None` when `n == 0`, when fewer than 2 resamples gave a usable
/// value, or when `level` is not in `(0, 1)`.
pub fn bootstrap_interval(
    n: usize,
    statistic: impl Fn(&[usize]) -> Option<f64>,
    resamples: usize,
    level: f64,
    seed: u64,
) -> Option<Interval> {
    if n == 0 || !(level > 0.0 && level < 1.0) {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut indices = vec![0usize; n];
    let mut values = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for index in indices.iter_mut() {
            *index = rng.below(n);
        }
        if let Some(value) = statistic(&indices).filter(|v| v.is_finite()) {
            values.push(value);
        }
    }
    if values.len() < 2 {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let tail = 50.0 * (1.0 - level);
    let low = percentile(&values, tail)?;
    let high = percentile(&values, 100.0 - tail)?;
    Some(Interval { low, high })
}

#[cfg(test)]
mod tests {
    use super::super::interval::t_interval;
    use super::super::summary::mean;
    use super::*;

    /// Approximately normal draws: the sum of 12 uniforms minus 6
    /// (Irwin-Hall), mean 0 and variance 1.
    fn normalish(rng: &mut SplitMix64, n: usize, center: f64, scale: f64) -> Vec<f64> {
        (0..n).map(|_| center + scale * ((0..12).map(|_| rng.next_f64()).sum::<f64>() - 6.0)).collect()
    }

    fn mean_of(values: &[f64]) -> impl Fn(&[usize]) -> Option<f64> + '_ {
        move |indices| {
            let sum: f64 = indices.iter().map(|&i| values[i]).sum();
            Some(sum / indices.len() as f64)
        }
    }

    #[test]
    fn mean_of_a_large_sample_is_close_to_the_t_interval() {
        let mut rng = SplitMix64::new(2025);
        for case in 0..4 {
            let values = normalish(&mut rng, 2000, case as f64, 1.0 + case as f64);
            let boot = bootstrap_interval(values.len(), mean_of(&values), DEFAULT_RESAMPLES, 0.95, case).unwrap();
            let t = t_interval(&values, 0.95).unwrap();
            let width = t.high - t.low;
            // Percentile bounds from 2000 resamples wobble by a few percent of
            // the width; the centres agree to well within that.
            assert!((boot.low - t.low).abs() < 0.1 * width, "case {case}: {boot:?} vs {t:?}");
            assert!((boot.high - t.high).abs() < 0.1 * width, "case {case}: {boot:?} vs {t:?}");
            let centre = mean(&values).unwrap();
            assert!(boot.low < centre && centre < boot.high);
        }
    }

    #[test]
    fn same_seed_same_interval_other_seed_other_interval() {
        let mut rng = SplitMix64::new(1);
        let values = normalish(&mut rng, 50, 0.0, 1.0);
        let a = bootstrap_interval(values.len(), mean_of(&values), 500, 0.9, 77).unwrap();
        let b = bootstrap_interval(values.len(), mean_of(&values), 500, 0.9, 77).unwrap();
        let c = bootstrap_interval(values.len(), mean_of(&values), 500, 0.9, 78).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn bounds_are_ordered_and_inside_the_data_range() {
        let mut rng = SplitMix64::new(5);
        for seed in 0..20 {
            let n = 1 + rng.below(30);
            let values: Vec<f64> = (0..n).map(|_| rng.next_f64() * 10.0 - 5.0).collect();
            let level = 0.5 + 0.49 * rng.next_f64();
            let ci = bootstrap_interval(n, mean_of(&values), 200, level, seed).unwrap();
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert!(lo <= ci.low && ci.low <= ci.high && ci.high <= hi, "{ci:?} outside [{lo}, {hi}]");
        }
    }

    #[test]
    fn wider_level_gives_a_wider_interval() {
        let mut rng = SplitMix64::new(9);
        let values = normalish(&mut rng, 100, 3.0, 2.0);
        let narrow = bootstrap_interval(values.len(), mean_of(&values), 1000, 0.5, 4).unwrap();
        let wide = bootstrap_interval(values.len(), mean_of(&values), 1000, 0.99, 4).unwrap();
        assert!(wide.low < narrow.low && narrow.high < wide.high);
    }

    #[test]
    fn constant_data_give_a_point() {
        let values = [0.25; 10];
        let ci = bootstrap_interval(values.len(), mean_of(&values), 100, 0.95, 0).unwrap();
        assert_eq!((ci.low, ci.high), (0.25, 0.25));
    }

    #[test]
    fn unusable_resamples_are_skipped() {
        // A statistic that fails on every other call still yields an interval
        // from the rest; one that always fails or is never finite gives None.
        let calls = std::cell::Cell::new(0u32);
        let flaky = |idx: &[usize]| {
            calls.set(calls.get() + 1);
            calls.get().is_multiple_of(2).then(|| idx.iter().sum::<usize>() as f64)
        };
        assert!(bootstrap_interval(5, flaky, 100, 0.95, 1).is_some());
        assert_eq!(bootstrap_interval(5, |_| None, 100, 0.95, 1), None);
        assert_eq!(bootstrap_interval(5, |_| Some(f64::NAN), 100, 0.95, 1), None);
        assert_eq!(bootstrap_interval(5, |_| Some(f64::INFINITY), 100, 0.95, 1), None);
    }

    #[test]
    fn rejects_bad_input() {
        let ok = |_: &[usize]| Some(1.0);
        assert_eq!(bootstrap_interval(0, ok, 100, 0.95, 1), None);
        assert_eq!(bootstrap_interval(3, ok, 0, 0.95, 1), None);
        assert_eq!(bootstrap_interval(3, ok, 1, 0.95, 1), None);
        assert!(bootstrap_interval(3, ok, 2, 0.95, 1).is_some());
        for level in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
            assert_eq!(bootstrap_interval(3, ok, 100, level, 1), None, "level {level}");
        }
    }
}
