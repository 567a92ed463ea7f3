//! The Wilcoxon signed-rank test of paired differences, as scipy's
//! `wilcoxon(d)` computes it with its defaults (`zero_method="wilcox"`,
//! `correction=False`, `method="auto"`), including when it is exact.

use libm::erfc;

use super::lattice::lattice;

/// scipy's `method="auto"` uses the normal approximation beyond this many
/// differences (zeros included).
const EXACT_MAX_N: usize = 50;

/// With ties or zeros, scipy's `method="auto"` counts every sign pattern
/// (a permutation test whose 2^n patterns fit in its default 9999 resamples)
/// up to this many differences, zeros included, and uses the normal
/// approximation beyond.
const EXACT_WITH_TIES_MAX_N: usize = 13;

/// How a signed-rank p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedRankMethod {
    /// The exact null distribution of `W+` over every sign pattern (with ties,
    /// over their average ranks).
    Exact,
    /// The normal approximation with the tie correction of the variance, no
    /// continuity correction.
    Normal,
}

/// The result of [`wilcoxon_signed_rank`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignedRank {
    /// `min(W+, W-)`, the sums of the ranks of `|d|` over the positive and the
    /// negative differences (scipy's two-sided `statistic`).
    pub statistic: f64,
    /// Two-sided p-value, in `[0, 1]`.
    pub p_value: f64,
    /// How it was computed.
    pub method: SignedRankMethod,
    /// For the normal approximation: `(W+ - n'(n' + 1)/4) / σ` over the `n'`
    /// non-zero differences.
    pub z: Option<f64>,
}

/// Two-sided Wilcoxon signed-rank test of "the differences are symmetric
/// about 0", matching `scipy.stats.wilcoxon(d)` (scipy 1.17) with its defaults:
///
/// * zeros are dropped (`zero_method="wilcox"`), the other `|d|` ranked with
///   average ranks for ties;
/// * `method="auto"`: at most 50 differences (zeros included) without ties or
///   zeros, the exact distribution of `W+`; with ties or zeros, at most 13
///   differences, every sign pattern counted (scipy's permutation test, exact
///   at that size); otherwise the normal approximation
///   `z = (W+ - n'(n' + 1)/4) / sqrt((n'(n' + 1)(2n' + 1) - Σ(t³ - t)/2) / 24)`
///   with `t` the sizes of the groups of ties, no continuity correction, and
///   p-value `2 Φ(-|z|)`.
///
/// Differences that lie on a lattice (see the `lattice` module: pass/fail
/// differences, means of repeats, scores with few decimals) are compared as
/// the integer multiples of its step, so that values equal up to rounding
/// (`1 - 2/3` and `1/3`) are ties and rounding residue (`0.1 + 0.2 - 0.3`)
/// next to such values is a zero; scipy compares the floats exactly. On
/// inputs whose equal values are equal floats the two agree.
///
/// All-zero differences give p-value 1 (scipy: 1 up to 13 of them, `NaN`
/// beyond). `None` for an empty slice or a non-finite value.
pub fn wilcoxon_signed_rank(differences: &[f64]) -> Option<SignedRank> {
    let n = differences.len();
    if n == 0 || !differences.iter().all(|d| d.is_finite()) {
        return None;
    }
    let values: Vec<f64> = match lattice(differences) {
        // |multiple| <= 2^20: exact as f64.
        Some(on_lattice) => on_lattice.multiples.iter().map(|&m| m as f64).collect(),
        None => differences.to_vec(),
    };
    let mut nonzero: Vec<f64> = values.into_iter().filter(|v| *v != 0.0).collect();
    let zeros = n - nonzero.len();
    if nonzero.is_empty() {
        return Some(SignedRank { statistic: 0.0, p_value: 1.0, method: SignedRankMethod::Exact, z: None });
    }
    nonzero.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    // Doubled average ranks (integers): a group of ties at 1-based positions
    // i..=j shares the rank (i + j) / 2.
    let mut doubled_ranks = Vec::with_capacity(nonzero.len());
    let mut tie_term = 0.0;
    let mut start = 0;
    while start < nonzero.len() {
        let magnitude = nonzero[start].abs();
        let end = start + nonzero[start..].iter().take_while(|v| v.abs() == magnitude).count();
        let size = (end - start) as f64;
        doubled_ranks.extend(std::iter::repeat_n(start as u64 + end as u64 + 1, end - start));
        tie_term += size * size * size - size;
        start = end;
    }
    let has_ties = tie_term > 0.0;
    // In u128, which no slice that fits in memory can overflow.
    let doubled_plus: u128 =
        nonzero.iter().zip(&doubled_ranks).filter(|(v, _)| **v > 0.0).map(|(_, &r)| u128::from(r)).sum();
    let doubled_total: u128 = doubled_ranks.iter().map(|&r| u128::from(r)).sum();
    let w_plus = doubled_plus as f64 / 2.0;
    let statistic = w_plus.min((doubled_total - doubled_plus) as f64 / 2.0);
    let exact = n <= EXACT_MAX_N && (!(has_ties || zeros > 0) || n <= EXACT_WITH_TIES_MAX_N);
    if exact {
        // At most 50 ranks: the sums are below 2 · 50 · 51.
        let p_value = exact_p_value(&doubled_ranks, doubled_plus as u64);
        return Some(SignedRank { statistic, p_value, method: SignedRankMethod::Exact, z: None });
    }
    let count = nonzero.len() as f64;
    let mean = count * (count + 1.0) * 0.25;
    let sd = ((count * (count + 1.0) * (2.0 * count + 1.0) - tie_term / 2.0) / 24.0).sqrt();
    let z = (w_plus - mean) / sd;
    let p_value = erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0);
    Some(SignedRank { statistic, p_value, method: SignedRankMethod::Normal, z: Some(-z.abs()) })
}

/// `min(1, 2 · min(P(W <= w), P(W >= w)))` for `W` the sum of the ranks given
/// a positive sign, each rank's sign fair and independent, in doubled ranks
/// (integers) and exact counts: at most 50 ranks, so the counts stay below
/// 2^50 and the sums below 2 · 50 · 51.
fn exact_p_value(doubled_ranks: &[u64], doubled_observed: u64) -> f64 {
    let total: u64 = doubled_ranks.iter().sum();
    let mut counts = vec![0u64; total as usize + 1];
    counts[0] = 1;
    let mut reach = 0usize;
    for &r in doubled_ranks {
        let r = r as usize;
        // Descending, so that each pattern adds this rank at most once.
        for s in (0..=reach).rev() {
            counts[s + r] += counts[s];
        }
        reach += r;
    }
    let observed = doubled_observed as usize;
    let at_most: u64 = counts[..=observed].iter().sum();
    let at_least: u64 = counts[observed..].iter().sum();
    let patterns = 2f64.powi(doubled_ranks.len() as i32);
    (2.0 * at_most.min(at_least) as f64 / patterns).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(d: &[f64]) -> SignedRank {
        wilcoxon_signed_rank(d).unwrap()
    }

    #[test]
    fn small_cases_by_hand() {
        assert_eq!(wilcoxon_signed_rank(&[]), None);
        assert_eq!(wilcoxon_signed_rank(&[1.0, f64::NAN]), None);
        // One difference: W+ is 0 or 1, each with probability 1/2.
        assert_eq!(test(&[1.0]).p_value, 1.0);
        // Five positive differences: only 1 of 32 patterns is as extreme on
        // each side.
        let t = test(&[0.5, 1.5, 2.5, 3.5, 4.5]);
        assert_eq!((t.statistic, t.p_value, t.method), (0.0, 2.0 / 32.0, SignedRankMethod::Exact));
        // All zeros: no evidence.
        assert_eq!(test(&[0.0; 60]).p_value, 1.0);
        assert_eq!(test(&[0.0; 3]).p_value, 1.0);
    }

    #[test]
    fn ties_up_to_rounding_are_ties() {
        // 1 - 2/3 and 1/3 differ in the last bit but are the same third.
        let noisy = [1.0 - 2.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0, -1.0 / 3.0, 1.0, 2.0 / 3.0];
        let clean = [1.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0, -1.0 / 3.0, 1.0, 2.0 / 3.0];
        assert_eq!(test(&noisy), test(&clean));
    }

    #[test]
    fn the_method_follows_scipys_auto_rule() {
        let distinct: Vec<f64> = (1..=50).map(|i| f64::from(i) * if i % 3 == 0 { -1.0 } else { 1.0 }).collect();
        assert_eq!(test(&distinct).method, SignedRankMethod::Exact);
        let mut longer = distinct.clone();
        longer.push(51.0);
        assert_eq!(test(&longer).method, SignedRankMethod::Normal);
        let mut with_zero = distinct[..13].to_vec();
        with_zero[0] = 0.0;
        assert_eq!(test(&with_zero).method, SignedRankMethod::Exact);
        let mut with_zero = distinct[..14].to_vec();
        with_zero[0] = 0.0;
        assert_eq!(test(&with_zero).method, SignedRankMethod::Normal);
    }

    #[test]
    fn negation_swaps_nothing_but_the_sign_of_z() {
        let d: Vec<f64> = (0..80).map(|i| (f64::from(i) * 0.37).sin() + 0.1).collect();
        let negated: Vec<f64> = d.iter().map(|x| -x).collect();
        let (a, b) = (test(&d), test(&negated));
        assert_eq!((a.statistic, a.p_value), (b.statistic, b.p_value));
    }

    #[test]
    fn large_inputs_are_quick_and_sane() {
        let d: Vec<f64> = (0..1_000_000).map(|i| f64::from(i % 7) - 2.9).collect();
        let t = test(&d);
        assert_eq!(t.method, SignedRankMethod::Normal);
        assert!(t.p_value >= 0.0 && t.p_value < 1e-10, "{t:?}");
    }
}
