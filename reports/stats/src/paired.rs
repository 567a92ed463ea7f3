//! Paired comparisons of two models (or two configurations) on the same
//! samples: McNemar's test for pass/fail outcomes, Holm's correction when
//! several comparisons are reported together, and Cohen's d_z as an effect
//! size. The tests of score differences have their own modules (`sign_flip`,
//! and `t_test` and `signed_rank` for the alternatives).
//!
//! References: statsmodels' `mcnemar` and `multipletests(method="holm")`;
//! d_z is `mean / std(ddof=1)` of the differences (Cohen 1988, Lakens 2013).

use serde::{Deserialize, Serialize};

use super::binomial::binomial_two_sided_half;
use super::summary::{mean, std_dev};

/// The result of McNemar's test on paired pass/fail outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct McNemar {
    /// `b`: samples that pass under the baseline only.
    pub baseline_only: u64,
    /// `c`: samples that pass under the candidate only.
    pub candidate_only: u64,
    /// `min(b, c)`, statsmodels' `statistic` for the exact test.
    pub statistic: f64,
    /// Two-sided p-value of "both models pass equally often".
    pub p_value: f64,
}

/// McNemar's exact test on the discordant pairs (`b` = pass only under
/// baseline, `c` = pass only under candidate); the concordant pairs carry no
/// information about the difference and are not needed.
///
/// The exact two-sided binomial test at every size: statsmodels'
/// `mcnemar([[a, b], [c, d]], exact=True)`, statistic `min(b, c)`, p-value
/// `min(1, 2 · P(Binomial(b + c, 1/2) <= min(b, c)))`. statsmodels' default,
/// and exact where the chi-square approximation (which evalkit used from 25
/// discordant pairs on) is not: with few discordant pairs among many, or a
/// lopsided split, the approximation misstates small p-values by orders of
/// magnitude, and computing the exact tail costs microseconds (see the
/// `binomial` module for how it stays accurate, to about 1e-13 relative, from
/// one pair to `u64::MAX`).
///
/// `b + c == 0` gives p-value 1.0 (no evidence either way). p-values below
/// about 5e-324 (e.g. 0 against 1100) are 0, the nearest `f64`.
pub fn mcnemar(baseline_only: u64, candidate_only: u64) -> McNemar {
    let (b, c) = (baseline_only, candidate_only);
    McNemar { baseline_only: b, candidate_only: c, statistic: b.min(c) as f64, p_value: binomial_two_sided_half(b, c) }
}

/// Holm-Bonferroni step-down adjusted p-values, in the same order as the input:
/// with the `m` p-values sorted ascending, the `j`-th (from 0) becomes
/// `min(1, max_{i <= j} (m - i) · p_(i))`. Equal to statsmodels'
/// `multipletests(p, method="holm")[1]`.
///
/// `NaN` inputs stay `NaN` and are not counted in `m` (statsmodels counts
/// them: its result equals this one applied to the p-values without the
/// `NaN`s).
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p_values.len()).filter(|&i| !p_values[i].is_nan()).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let m = order.len();
    let mut adjusted = p_values.to_vec();
    let mut running = f64::NEG_INFINITY;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(p_values[i] * (m - rank) as f64);
        adjusted[i] = running.min(1.0);
    }
    adjusted
}

/// Cohen's d_z for paired data: `mean(differences) / sd(differences)` with the
/// `n - 1` standard deviation (`np.mean(d) / np.std(d, ddof=1)`).
///
/// `None` when `n < 2`, when the standard deviation is 0 (every difference
/// equal), or when the result is not finite.
pub fn cohens_dz(differences: &[f64]) -> Option<f64> {
    let sd = std_dev(differences)?;
    let dz = mean(differences)? / sd;
    (sd > 0.0 && dz.is_finite()).then_some(dz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn mcnemar_known_values() {
        // statsmodels: mcnemar([[0, 2], [8, 0]]).pvalue = 2 · (1 + 10 + 45) / 1024.
        let t = mcnemar(2, 8);
        assert_eq!(t.statistic, 2.0);
        assert_eq!(t.p_value, 112.0 / 1024.0);
        assert_eq!(mcnemar(8, 2).p_value, t.p_value, "symmetric");
        assert_eq!(mcnemar(0, 0).p_value, 1.0);
        assert_eq!(mcnemar(5, 5).p_value, 1.0);
        assert_eq!(mcnemar(0, 24).p_value, 2.0 / f64::from(1 << 24));
        // Exact beyond the old chi-square switch at 25 as well.
        assert_eq!(mcnemar(0, 25).p_value, 2.0 / f64::from(1 << 25));
    }

    #[test]
    fn mcnemar_p_values_are_probabilities_and_shrink_with_imbalance() {
        for total in (0..200u64).chain([999, 1000, 5001]) {
            let mut previous = f64::INFINITY;
            for b in 0..=total / 2 {
                let t = mcnemar(b, total - b);
                assert!(t.p_value >= 0.0 && t.p_value <= 1.0, "{t:?}");
                assert!(total > 1000 || t.p_value > 0.0, "{t:?}");
                // Moving a pair from the larger side to the smaller one makes
                // the split more balanced, which never lowers the p-value.
                assert!(previous.is_infinite() || t.p_value >= previous, "{t:?}");
                previous = t.p_value;
            }
        }
        // Enormous counts neither panic nor overflow.
        let t = mcnemar(u64::MAX, u64::MAX);
        assert_eq!(t.p_value, 1.0);
    }

    #[test]
    fn holm_known_values() {
        // statsmodels: multipletests([0.01, 0.04, 0.03, 0.2], method="holm")[1]
        let adjusted = holm(&[0.01, 0.04, 0.03, 0.2]);
        let expected = [0.04, 0.09, 0.09, 0.2];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-15, "{adjusted:?}");
        }
        assert!(holm(&[]).is_empty());
        assert_eq!(holm(&[0.3]), vec![0.3]);
        assert_eq!(holm(&[0.6, 0.7]), vec![1.0, 1.0]);
        let with_nan = holm(&[0.01, f64::NAN, 0.03, 0.2]);
        assert!(with_nan[1].is_nan());
        assert_eq!([with_nan[0], with_nan[2], with_nan[3]], [0.03, 0.06, 0.2]);
        assert!(holm(&[f64::NAN, f64::NAN]).iter().all(|p| p.is_nan()));
    }

    #[test]
    fn holm_is_at_least_the_input_and_monotone_in_sorted_order() {
        let mut rng = SplitMix64::new(35);
        for _ in 0..200 {
            let m = rng.below(25);
            let p: Vec<f64> = (0..m)
                .map(|_| match rng.below(10) {
                    0 => f64::NAN,
                    1 => 0.05, // ties
                    2 => 0.0,
                    3 => 1.0,
                    _ => rng.next_f64().powi(3),
                })
                .collect();
            let adjusted = holm(&p);
            assert_eq!(adjusted.len(), m);
            let mut order: Vec<usize> = (0..m).filter(|&i| !p[i].is_nan()).collect();
            order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
            for (i, (&raw, &adj)) in p.iter().zip(&adjusted).enumerate() {
                if raw.is_nan() {
                    assert!(adj.is_nan(), "{i}");
                } else {
                    assert!(adj >= raw && adj <= 1.0, "{raw} -> {adj}");
                    // Never more than Bonferroni.
                    assert!(adj <= (raw * order.len() as f64).min(1.0));
                }
            }
            for pair in order.windows(2) {
                assert!(adjusted[pair[0]] <= adjusted[pair[1]], "{p:?} -> {adjusted:?}");
            }
        }
    }

    #[test]
    fn cohens_dz_known_values_and_edges() {
        // [0, 1, 2]: mean 1, sd(ddof=1) sqrt(2 / 2) = 1.
        assert_eq!(cohens_dz(&[0.0, 1.0, 2.0]), Some(1.0));
        assert_eq!(cohens_dz(&[-2.0, -1.0, 0.0]), Some(-1.0));
        assert_eq!(cohens_dz(&[]), None);
        assert_eq!(cohens_dz(&[1.0]), None);
        assert_eq!(cohens_dz(&[0.5, 0.5, 0.5]), None, "no spread");
        assert_eq!(cohens_dz(&[0.0, 0.0]), None, "identical inputs: no difference");
        assert_eq!(cohens_dz(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn cohens_dz_scales_and_flips_sign() {
        let mut rng = SplitMix64::new(36);
        for _ in 0..50 {
            let n = 2 + rng.below(30);
            let d: Vec<f64> = (0..n).map(|_| rng.next_f64() - 0.4).collect();
            let Some(dz) = cohens_dz(&d) else { continue };
            let scaled: Vec<f64> = d.iter().map(|x| -3.5 * x).collect();
            let dz_scaled = cohens_dz(&scaled).unwrap();
            assert!((dz_scaled + dz).abs() <= 1e-12 * dz.abs().max(1.0), "{dz} vs {dz_scaled}");
        }
    }
}
