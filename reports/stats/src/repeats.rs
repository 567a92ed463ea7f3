//! Metrics over repeated attempts at the same task: pass@k, the chance that
//! at least one of k attempts passes (Chen et al. 2021, "Evaluating Large
//! Language Models Trained on Code"), and pass^k, the chance that all k do
//! (Yao et al. 2024, τ-bench).
//!
//! Both are the unbiased estimators from `n >= k` recorded attempts of which
//! `c` passed, i.e. hypergeometric probabilities of drawing k of the n
//! attempts without replacement. They match Python's exact `math.comb`
//! formulas and the numerically stable numpy product from the Codex paper.

/// `Π (1 - k / i)` over `i = lo ..= hi` (1 when `lo > hi`). Each factor is
/// in `[0, 1]`, so the product neither overflows nor loses precision the way
/// the binomial coefficients it replaces would.
fn product_of_one_minus_k_over(k: u64, lo: u64, hi: u64) -> f64 {
    (lo..=hi).map(|i| 1.0 - k as f64 / i as f64).product()
}

/// `Π (a - i) / (b - i)` for `i = 0 .. terms`; `a <= b`, `terms <= a`.
fn product_of_falling_ratios(a: u64, b: u64, terms: u64) -> f64 {
    (0..terms).map(|i| (a - i) as f64 / (b - i) as f64).product()
}

/// `1 - Π (1 - x)` over `shrinks` (each `x` in `[0, 1)`), as
/// `-expm1(Σ ln_1p(-x))`: the same product, summed in logarithms so that a
/// result near 0 keeps its relative precision instead of being the
/// difference of two numbers near 1.
fn one_minus_product(shrinks: impl Iterator<Item = f64>) -> f64 {
    // `0.0 - …` rather than negation: an empty product gives +0, not -0.
    0.0 - shrinks.map(|x| (-x).ln_1p()).sum::<f64>().exp_m1()
}

/// Unbiased pass@k (Chen et al. 2021): the probability that at least one of
/// `k` attempts drawn without replacement from `n` attempts, `c` of which
/// passed, passes: `1 - C(n - c, k) / C(n, k)`.
///
/// Computed as a product of at most `min(k, c)` factors in `[0, 1]` (the
/// paper's `1 - np.prod(1 - k / np.arange(n - c + 1, n + 1))` when `c < k`),
/// without the overflow of the binomial coefficients, and summed in
/// logarithms so that a tiny pass@k keeps its relative precision.
/// `pass_at_k(n, c, 1) == c / n` up to rounding.
///
/// `None` when `k == 0`, `k > n` or `c > n`.
pub fn pass_at_k(n: u64, c: u64, k: u64) -> Option<f64> {
    if k == 0 || k > n || c > n {
        return None;
    }
    if n - c < k {
        // Every draw of k attempts includes a passing one.
        return Some(1.0);
    }
    // C(n - c, k) / C(n, k) = Π_{i < k} (n - c - i) / (n - i) = Π_{i < k} (1 - c / (n - i))
    //                       = Π_{i = n - c + 1 ..= n} (1 - k / i),
    // with no factor 0 since n - c >= k.
    Some(if k <= c {
        one_minus_product((0..k).map(|i| c as f64 / (n - i) as f64))
    } else {
        one_minus_product((n - c + 1..=n).map(|i| k as f64 / i as f64))
    })
}

/// pass^k (Yao et al. 2024, τ-bench): the probability that all `k` attempts
/// drawn without replacement from `n` attempts, `c` of which passed, pass:
/// `C(c, k) / C(n, k)`.
///
/// Computed as a product of at most `min(k, n - c)` factors in `[0, 1]`.
/// `pass_hat_k(n, c, 1) == c / n` up to rounding; 0 when `c < k`.
///
/// `None` when `k == 0`, `k > n` or `c > n`.
pub fn pass_hat_k(n: u64, c: u64, k: u64) -> Option<f64> {
    if k == 0 || k > n || c > n {
        return None;
    }
    if c < k {
        return Some(0.0);
    }
    // C(c, k) / C(n, k) = Π_{i < k} (c - i) / (n - i)
    //                   = Π_{i = c + 1 ..= n} (1 - k / i).
    Some(if k <= n - c { product_of_falling_ratios(c, n, k) } else { product_of_one_minus_k_over(k, c + 1, n) })
}

#[cfg(test)]
mod tests {
    use super::super::rng::SplitMix64;
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12
    }

    /// `C(n, k)` as a float, exactly for the small arguments used here.
    fn comb(n: u64, k: u64) -> f64 {
        if k > n {
            return 0.0;
        }
        (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
    }

    #[test]
    fn known_values() {
        // 1 - C(7, 5) / C(10, 5) = 1 - 21 / 252
        assert!(close(pass_at_k(10, 3, 5).unwrap(), 1.0 - 21.0 / 252.0));
        // C(3, 2) / C(10, 2) = 3 / 45
        assert!(close(pass_hat_k(10, 3, 2).unwrap(), 3.0 / 45.0));
        assert_eq!(pass_at_k(10, 3, 8), Some(1.0));
        assert_eq!(pass_at_k(10, 0, 4), Some(0.0));
        assert_eq!(pass_at_k(10, 10, 4), Some(1.0));
        assert_eq!(pass_hat_k(10, 10, 10), Some(1.0));
        assert_eq!(pass_hat_k(10, 2, 3), Some(0.0));
        assert_eq!(pass_hat_k(10, 0, 1), Some(0.0));
        assert_eq!(pass_at_k(1, 1, 1), Some(1.0));
        assert_eq!(pass_at_k(1, 0, 1), Some(0.0));
    }

    #[test]
    fn rejects_bad_input() {
        for f in [pass_at_k, pass_hat_k] {
            assert_eq!(f(10, 3, 0), None);
            assert_eq!(f(10, 3, 11), None);
            assert_eq!(f(10, 11, 1), None);
            assert_eq!(f(0, 0, 1), None);
            assert_eq!(f(0, 0, 0), None);
        }
    }

    #[test]
    fn k_equal_one_is_the_pass_rate() {
        let mut rng = SplitMix64::new(51);
        for _ in 0..500 {
            let n = 1 + rng.below(1000) as u64;
            let c = rng.below(n as usize + 1) as u64;
            let rate = c as f64 / n as f64;
            assert!(close(pass_at_k(n, c, 1).unwrap(), rate), "{n} {c}");
            assert!(close(pass_hat_k(n, c, 1).unwrap(), rate), "{n} {c}");
        }
    }

    #[test]
    fn k_equal_n_is_any_or_all() {
        for n in 1..30u64 {
            for c in 0..=n {
                assert_eq!(pass_at_k(n, c, n), Some(if c > 0 { 1.0 } else { 0.0 }));
                assert!(close(pass_hat_k(n, c, n).unwrap(), if c == n { 1.0 } else { 0.0 }));
            }
        }
    }

    #[test]
    fn agrees_with_binomial_coefficients_and_is_monotone() {
        for n in 1..40u64 {
            for c in 0..=n {
                let mut previous_at = 0.0;
                let mut previous_hat = 1.0;
                for k in 1..=n {
                    let at = pass_at_k(n, c, k).unwrap();
                    let hat = pass_hat_k(n, c, k).unwrap();
                    assert!((at - (1.0 - comb(n - c, k) / comb(n, k))).abs() < 1e-10, "{n} {c} {k}");
                    assert!((hat - comb(c, k) / comb(n, k)).abs() < 1e-10, "{n} {c} {k}");
                    assert!((0.0..=1.0).contains(&at) && (0.0..=1.0).contains(&hat));
                    // More attempts: any-pass gets likelier, all-pass rarer,
                    // and all passing implies one passing.
                    assert!(at >= previous_at - 1e-15 && hat <= previous_hat + 1e-15, "{n} {c} {k}");
                    assert!(hat <= at + 1e-15);
                    (previous_at, previous_hat) = (at, hat);
                }
            }
        }
    }

    #[test]
    fn huge_counts_are_fast_and_finite() {
        let at = pass_at_k(u64::MAX, 3, 1_000).unwrap();
        assert!(at > 0.0 && at < 1e-12);
        let hat = pass_hat_k(1_000_000_000_000, 999_999_999_999, 5).unwrap();
        assert!(close(hat, (1.0 - 1e-12f64).powi(5)));
        assert!(close(pass_at_k(u64::MAX, u64::MAX / 2, 2).unwrap(), 0.75));
    }
}
