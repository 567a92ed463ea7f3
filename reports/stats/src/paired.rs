//! Paired comparisons of two models (or two configurations) on the same
//! samples: McNemar's test for pass/fail outcomes, a sign-flip permutation
//! test for score differences, Holm's correction when several comparisons
//! are reported together, and Cohen's d_z as an effect size.
//!
//! References: statsmodels' `mcnemar` and `multipletests(method="holm")`,
//! scipy's `permutation_test(..., permutation_type="samples")`; d_z is
//! `mean / std(ddof=1)` of the differences (Cohen 1988, Lakens 2013).

use serde::{Deserialize, Serialize};

use super::binomial::binomial_two_sided_half;
use super::rng::SplitMix64;
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

/// Up to this many differences, [`sign_flip_test`] enumerates all `2^n` sign
/// patterns (at most 65536) instead of sampling them.
pub const EXACT_SIGN_FLIP_MAX_N: usize = 16;

/// scipy's relative tolerance for treating a permuted statistic as equal to
/// the observed one (`permutation_test`'s `gamma = abs(100 · eps · observed)`):
/// sign flips that should give exactly the observed mean can differ from it in
/// the last bits.
const RELATIVE_TIE_TOLERANCE: f64 = 100.0 * f64::EPSILON;

/// The mean of `differences` with the signs flipped where `flip(i)` is true.
/// Sums in a fixed order, so that a pattern and its complement give exactly
/// opposite means and the unflipped pattern reproduces the observed mean.
fn flipped_mean(differences: &[f64], flip: impl Fn(usize) -> bool) -> f64 {
    let sum: f64 = differences.iter().enumerate().map(|(i, &d)| if flip(i) { -d } else { d }).sum();
    sum / differences.len() as f64
}

/// Two-sided paired sign-flip permutation test of `mean(differences) == 0`
/// (under the null hypothesis each difference is as likely to have the
/// opposite sign).
///
/// With at most [`EXACT_SIGN_FLIP_MAX_N`] differences, all `2^n` sign patterns
/// are enumerated and the p-value is the share of them whose `|mean|` is at
/// least the observed `|mean|` (within scipy's relative tolerance of
/// `100 · eps`): the same as scipy's `permutation_test((d,), np.mean,
/// permutation_type="samples", alternative="two-sided",
/// n_resamples=np.inf).pvalue`. (scipy doubles the smaller one-sided p-value;
/// the sign-flip distribution is symmetric, so that is the same count.)
///
/// With more differences, `resamples` random sign patterns are drawn from
/// [`SplitMix64`] seeded with `seed`, and the p-value is
/// `(1 + hits) / (1 + resamples)`, where hits are the patterns whose `|mean|`
/// is at least the observed one within the same tolerance (Phipson & Smyth
/// 2010; never 0). `resamples == 0` then gives 1.
///
/// The result is always in `(0, 1]`; all-zero differences give 1. `None` for
/// an empty slice or one with a non-finite value.
pub fn sign_flip_test(differences: &[f64], resamples: usize, seed: u64) -> Option<f64> {
    let n = differences.len();
    if n == 0 || !differences.iter().all(|d| d.is_finite()) {
        return None;
    }
    let observed = flipped_mean(differences, |_| false);
    let bound = observed.abs() - (RELATIVE_TIE_TOLERANCE * observed).abs();
    if n <= EXACT_SIGN_FLIP_MAX_N {
        // Each pattern with the last sign kept stands for itself and its
        // complement, whose mean is exactly its negation.
        let half = 1u32 << (n - 1);
        let hits =
            (0..half).filter(|&pattern| flipped_mean(differences, |i| pattern >> i & 1 == 1).abs() >= bound).count();
        return Some(hits as f64 / f64::from(half));
    }
    let mut rng = SplitMix64::new(seed);
    let mut signs = vec![0u64; n.div_ceil(64)];
    let mut hits = 0usize;
    for _ in 0..resamples {
        for word in signs.iter_mut() {
            *word = rng.next_u64();
        }
        if flipped_mean(differences, |i| signs[i / 64] >> (i % 64) & 1 == 1).abs() >= bound {
            hits += 1;
        }
    }
    Some((1 + hits) as f64 / (1 + resamples) as f64)
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

    /// `n` random differences drawn from a few shapes eval differences take:
    /// pass/fail differences in {-1, 0, 1}, per-sample means of 3 repeats
    /// (multiples of 1/3) and continuous scores.
    fn random_differences(rng: &mut SplitMix64, n: usize) -> Vec<f64> {
        let shape = rng.below(3);
        (0..n)
            .map(|_| match shape {
                0 => rng.below(3) as f64 - 1.0,
                1 => (rng.below(7) as f64 - 3.0) / 3.0,
                _ => rng.next_f64() * 2.0 - 0.8,
            })
            .collect()
    }

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
    fn sign_flip_small_cases_by_hand() {
        assert_eq!(sign_flip_test(&[], 100, 0), None);
        assert_eq!(sign_flip_test(&[1.0, f64::NAN], 100, 0), None);
        assert_eq!(sign_flip_test(&[0.5], 100, 0), Some(1.0));
        // Means of the four patterns: 1, 0, 0, -1.
        assert_eq!(sign_flip_test(&[1.0, 1.0], 100, 0), Some(0.5));
        assert_eq!(sign_flip_test(&[1.0; 16], 100, 0), Some(2.0 / 65536.0));
        assert_eq!(sign_flip_test(&[0.0; 16], 100, 0), Some(1.0));
        assert_eq!(sign_flip_test(&[0.0; 40], 100, 0), Some(1.0));
        // Zeros add nothing: only the signs of the 1s matter.
        assert_eq!(sign_flip_test(&[1.0, 0.0, 1.0, 0.0, 0.0], 100, 0), Some(0.5));
    }

    #[test]
    fn sign_flip_p_values_are_in_the_unit_interval() {
        let mut rng = SplitMix64::new(31);
        for seed in 0..60 {
            let n = 1 + rng.below(40);
            let d = random_differences(&mut rng, n);
            let p = sign_flip_test(&d, 200, seed).unwrap();
            assert!(p > 0.0 && p <= 1.0, "{d:?}: {p}");
            if n <= EXACT_SIGN_FLIP_MAX_N {
                assert!(p >= 1.0 / (1u64 << n) as f64);
            } else {
                assert!(p >= 1.0 / 201.0);
            }
        }
    }

    #[test]
    fn sign_flip_is_invariant_under_negation_and_order() {
        let mut rng = SplitMix64::new(32);
        for _ in 0..30 {
            let n = 1 + rng.below(EXACT_SIGN_FLIP_MAX_N);
            // Negating every difference negates every sum exactly.
            let d = random_differences(&mut rng, n);
            let negated: Vec<f64> = d.iter().map(|x| -x).collect();
            let p = sign_flip_test(&d, 0, 0).unwrap();
            assert_eq!(sign_flip_test(&negated, 0, 0).unwrap(), p, "{d:?}");
            // Reordering changes the order of summation, which is exact only
            // for values like these multiples of 1/2.
            let halves: Vec<f64> = (0..n).map(|_| (rng.below(7) as f64 - 3.0) / 2.0).collect();
            let mut reversed = halves.clone();
            reversed.reverse();
            assert_eq!(sign_flip_test(&reversed, 0, 0), sign_flip_test(&halves, 0, 0), "{halves:?}");
        }
    }

    #[test]
    fn sign_flip_sampling_is_seeded_and_close_to_the_exact_answer() {
        // A pattern of 20 values is too long to enumerate by default, but 2^20
        // patterns can be enumerated here to check the sampled p-value.
        let mut rng = SplitMix64::new(33);
        let d: Vec<f64> = (0..20).map(|_| rng.next_f64() - 0.3).collect();
        let observed = flipped_mean(&d, |_| false).abs();
        let bound = observed - RELATIVE_TIE_TOLERANCE * observed;
        let exact_hits = (0..1u32 << 20).filter(|&s| flipped_mean(&d, |i| s >> i & 1 == 1).abs() >= bound).count();
        let exact = exact_hits as f64 / f64::from(1u32 << 20);
        let sampled = sign_flip_test(&d, 20_000, 5).unwrap();
        assert_eq!(sign_flip_test(&d, 20_000, 5).unwrap(), sampled);
        // Binomial sd of the estimate is at most 0.0036.
        assert!((sampled - exact).abs() < 0.015, "{sampled} vs {exact}");
        assert_eq!(sign_flip_test(&d, 0, 5), Some(1.0));
    }

    #[test]
    fn a_clear_shift_is_significant() {
        let mut rng = SplitMix64::new(34);
        let d: Vec<f64> = (0..200).map(|_| rng.next_f64() - 0.2).collect();
        let p = sign_flip_test(&d, 2000, 1).unwrap();
        assert_eq!(p, 1.0 / 2001.0);
        let d: Vec<f64> = (0..12).map(|_| rng.next_f64() + 0.1).collect();
        assert_eq!(sign_flip_test(&d, 0, 0), Some(2.0 / 4096.0));
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
