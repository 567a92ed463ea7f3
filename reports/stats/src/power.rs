//! Statistical power for paired (one-sample) comparisons: how small a
//! difference an evaluation of a given size can detect, and how many samples
//! a difference of interest needs.
//!
//! Two-sided tests at level `alpha` with the normal approximation, as
//! statsmodels' `NormalIndPower` with `ratio=0` (one sample): the power of
//! detecting a standardized effect `d` with `n` samples is
//! `Φ(d√n − z) + Φ(−d√n − z)`, `z = Φ⁻¹(1 − α/2)`. statsmodels solves this
//! numerically with a loose tolerance (its root finder stops a few 1e-6 from
//! the effect size, up to 1e-4 in some settings); the functions here solve it
//! to full precision, and the reference tests check them both against
//! statsmodels' `solve_power` (to its tolerance) and against a tight root of
//! statsmodels' own `power` function (to 1e-9).

use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::gamma::gamma_ur;

/// The standard normal CDF Φ(x), through the regularized upper incomplete
/// gamma function: `P(|Z| > |x|) = Q(1/2, x² / 2)`.
///
/// Not statrs' `Normal::cdf`: in statrs 0.18 that goes through `erfc`, whose
/// rational approximations are off by up to about 1e-10 relative (its
/// constants are the decimal rather than the single-precision values Boost's
/// fits were made for), enough to move a solved effect size in the 11th
/// digit. `gamma_ur` agrees with mpmath to about 1e-14.
fn normal_cdf(x: f64) -> f64 {
    let half_square = 0.5 * x * x;
    let both_tails = if half_square.is_nan() {
        f64::NAN
    } else if half_square == 0.0 {
        1.0
    } else if half_square.is_infinite() {
        0.0
    } else {
        gamma_ur(0.5, half_square)
    };
    if x < 0.0 {
        0.5 * both_tails
    } else {
        1.0 - 0.5 * both_tails
    }
}

/// `x = d√n`, the standardized shift of the test statistic that a two-sided
/// test at `alpha` detects with probability `power`: the root of
/// `Φ(x − z) + Φ(−x − z) = power`, `z = Φ⁻¹(1 − α/2)`.
///
/// Found by bisection on `[0, z + Φ⁻¹(power)]`: the power is `alpha < power`
/// at 0, increases with `x`, and is at least `power` at the upper end (where
/// the first term alone equals it), so the bisection ends at the float
/// nearest the root of the computed power. `None` unless `0 < alpha < 1` and
/// `alpha < power < 1`.
fn detectable_shift(alpha: f64, power: f64) -> Option<f64> {
    if !(alpha > 0.0 && alpha < 1.0 && power > alpha && power < 1.0) {
        return None;
    }
    let normal = Normal::standard();
    // `-Φ⁻¹(α/2)` rather than `Φ⁻¹(1 − α/2)`: no rounding of `1 − α/2` for
    // tiny alpha (statsmodels uses `norm.isf(alpha / 2)`).
    let z = -normal.inverse_cdf(alpha / 2.0);
    let power_at = |x: f64| normal_cdf(x - z) + normal_cdf(-x - z);
    let mut low = 0.0f64;
    let mut high = z + normal.inverse_cdf(power);
    if !(high.is_finite() && high > 0.0) {
        return None;
    }
    // In exact arithmetic `high` is an upper bound; make sure rounding in
    // the quantile has not put it a hair below the root.
    while power_at(high) < power {
        high *= 2.0;
        if !high.is_finite() {
            return None;
        }
    }
    // Halve until the bracket is two adjacent floats (at most ~1100 steps
    // near 0, typically about 60).
    for _ in 0..2000 {
        let mid = 0.5 * (low + high);
        if mid <= low || mid >= high {
            break;
        }
        if power_at(mid) < power {
            low = mid;
        } else {
            high = mid;
        }
    }
    Some(0.5 * (low + high))
}

/// Smallest true mean difference detectable with probability `power` by a
/// two-sided test at `alpha` with `n` paired samples whose differences have
/// standard deviation `sd`: `d · sd`, where `d` solves statsmodels'
/// `NormalIndPower().solve_power(effect_size=None, nobs1=n, alpha=alpha,
/// power=power, ratio=0)` (power counting both tails,
/// `Φ(d√n − z) + Φ(−d√n − z)`, `z = Φ⁻¹(1 − α/2)`).
///
/// For the usual `alpha = 0.05`, `power = 0.8` this is about `2.80 · sd / √n`.
///
/// `None` when `n == 0`, `sd` is negative or not finite, `alpha` is not in
/// `(0, 1)`, or `power` is not in `(alpha, 1)`. `sd == 0` gives 0.
pub fn minimum_detectable_difference(sd: f64, n: u64, alpha: f64, power: f64) -> Option<f64> {
    if n == 0 || !(sd.is_finite() && sd >= 0.0) {
        return None;
    }
    Some(detectable_shift(alpha, power)? * sd / (n as f64).sqrt())
}

/// Samples needed to detect a true mean difference `difference` (either sign)
/// between paired measurements whose differences have standard deviation `sd`,
/// with probability `power` in a two-sided test at `alpha`: the ceiling of
/// statsmodels' `NormalIndPower().solve_power(effect_size=difference / sd,
/// nobs1=None, alpha=alpha, power=power, ratio=0)`, and at least 1.
///
/// `None` when `difference` is 0 or not finite, `sd` is negative or not
/// finite, `alpha` is not in `(0, 1)`, `power` is not in `(alpha, 1)`, or the
/// count does not fit in a `u64`. `sd == 0` gives 1.
pub fn required_samples(sd: f64, difference: f64, alpha: f64, power: f64) -> Option<u64> {
    if !(sd.is_finite() && sd >= 0.0 && difference.is_finite() && difference != 0.0) {
        return None;
    }
    let ratio = detectable_shift(alpha, power)? * sd / difference.abs();
    let n = (ratio * ratio).ceil().max(1.0);
    // 2^64 is the first float that does not fit; the cast is exact below it.
    (n < 18_446_744_073_709_551_616.0).then_some(n as u64)
}

#[cfg(test)]
mod tests {
    use super::super::rng::SplitMix64;
    use super::*;

    #[test]
    fn textbook_value() {
        // alpha 0.05, power 0.8: z = 1.959964, Φ⁻¹(0.8) = 0.841621, and the far
        // tail adds almost nothing: x ≈ 2.801585 (statsmodels gives
        // effect_size 0.2801568 for n = 100, within its 1e-5 tolerance).
        let mde = minimum_detectable_difference(1.0, 100, 0.05, 0.8).unwrap();
        assert!((mde - 0.2801581787013579).abs() < 1e-12, "{mde}");
        // n = 1 / 0.1² · 2.8016² = 784.886…
        assert_eq!(required_samples(1.0, 0.1, 0.05, 0.8), Some(785));
        assert_eq!(required_samples(1.0, -0.1, 0.05, 0.8), Some(785), "sign does not matter");
        assert_eq!(required_samples(2.0, 0.2, 0.05, 0.8), Some(785), "scale does not matter");
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(minimum_detectable_difference(0.0, 10, 0.05, 0.8), Some(0.0));
        assert_eq!(required_samples(0.0, 0.1, 0.05, 0.8), Some(1));
        assert_eq!(required_samples(1.0, 100.0, 0.05, 0.8), Some(1), "at least one sample");
        assert_eq!(minimum_detectable_difference(1.0, 0, 0.05, 0.8), None);
        assert_eq!(required_samples(1.0, 0.0, 0.05, 0.8), None);
        assert_eq!(required_samples(1.0, f64::NAN, 0.05, 0.8), None);
        assert_eq!(required_samples(1.0, 1e-300, 0.05, 0.8), None, "does not fit in u64");
        for sd in [-1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(minimum_detectable_difference(sd, 10, 0.05, 0.8), None);
            assert_eq!(required_samples(sd, 0.1, 0.05, 0.8), None);
        }
        for (alpha, power) in
            [(0.0, 0.8), (1.0, 0.8), (0.05, 1.0), (0.05, 0.05), (0.05, 0.01), (f64::NAN, 0.8), (0.05, f64::NAN)]
        {
            assert_eq!(minimum_detectable_difference(1.0, 10, alpha, power), None, "{alpha} {power}");
            assert_eq!(required_samples(1.0, 0.1, alpha, power), None, "{alpha} {power}");
        }
        // Extreme but valid settings still give finite answers.
        assert!(minimum_detectable_difference(1.0, 10, 1e-300, 0.999_999).unwrap().is_finite());
        assert!(minimum_detectable_difference(1.0, 10, 0.05, 0.050_000_01).unwrap() < 1e-3);
    }

    #[test]
    fn normal_cdf_is_accurate() {
        // mpmath: ncdf(x) to 30 digits. Deep tails lose a little to the
        // exponential (Φ(-20) is off by 2e-14 relative).
        let cases = [
            (0.0, 0.5),
            (-1.0, 0.15865525393145705),
            (0.5, 0.6914624612740131),
            (2.0, 0.9772498680518208),
            (-4.8, 7.933281519755953e-07),
            (-20.0, 2.7536241186062337e-89),
            (1e-200, 0.5),
        ];
        for (x, expected) in cases {
            let actual = normal_cdf(x);
            assert!((actual - expected).abs() <= 1e-13 * expected, "Φ({x}) = {actual:e}, expected {expected:e}");
        }
        assert_eq!(normal_cdf(f64::INFINITY), 1.0);
        assert_eq!(normal_cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(normal_cdf(-1e200), 0.0);
        assert!(normal_cdf(f64::NAN).is_nan());
    }

    #[test]
    fn power_at_the_solution_is_the_requested_power() {
        let normal = Normal::standard();
        let mut rng = SplitMix64::new(41);
        for _ in 0..200 {
            let alpha = 0.001 + 0.2 * rng.next_f64();
            let power = alpha + (0.999 - alpha) * (0.01 + 0.99 * rng.next_f64());
            let x = detectable_shift(alpha, power).unwrap();
            let z = -normal.inverse_cdf(alpha / 2.0);
            let achieved = normal_cdf(x - z) + normal_cdf(-x - z);
            assert!((achieved - power).abs() < 1e-14, "alpha {alpha}, power {power}: {achieved}");
        }
    }

    #[test]
    fn mde_shrinks_with_n_and_grows_with_power() {
        let mut rng = SplitMix64::new(42);
        for _ in 0..50 {
            let sd = 0.1 + rng.next_f64();
            let alpha = 0.01 + 0.1 * rng.next_f64();
            let power = 0.5 + 0.45 * rng.next_f64();
            let mut previous = f64::INFINITY;
            for n in [1u64, 2, 5, 10, 50, 100, 1000, 10_000] {
                let mde = minimum_detectable_difference(sd, n, alpha, power).unwrap();
                assert!(mde > 0.0 && mde < previous, "n = {n}: {mde} >= {previous}");
                previous = mde;
                let more_power = minimum_detectable_difference(sd, n, alpha, power + 0.04).unwrap();
                assert!(more_power > mde);
                let stricter = minimum_detectable_difference(sd, n, alpha / 2.0, power).unwrap();
                assert!(stricter > mde);
            }
        }
    }

    #[test]
    fn required_samples_inverts_the_mde() {
        let mut rng = SplitMix64::new(43);
        for _ in 0..300 {
            let sd = 0.01 + 3.0 * rng.next_f64();
            let n = 1 + rng.below(5000) as u64;
            let alpha = 0.005 + 0.1 * rng.next_f64();
            let power = 0.6 + 0.35 * rng.next_f64();
            let mde = minimum_detectable_difference(sd, n, alpha, power).unwrap();
            let needed = required_samples(sd, mde, alpha, power).unwrap();
            assert!(needed == n || needed == n + 1, "n = {n}, needed {needed}");
            // A slightly larger difference never needs more samples, a
            // slightly smaller one never fewer.
            assert!(required_samples(sd, mde * 1.01, alpha, power).unwrap() <= needed);
            assert!(required_samples(sd, mde * 0.99, alpha, power).unwrap() >= n);
        }
    }
}
