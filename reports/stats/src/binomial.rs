//! The exact two-sided binomial test of "success probability 1/2", the test
//! behind McNemar's exact test and the sign test, at any number of trials.
//!
//! The p-value is `min(1, 2 · P(X <= k))` for `X ~ Binomial(n, 1/2)` and
//! `k = min(b, c)` (statsmodels' `mcnemar(..., exact=True)`, which calls
//! `scipy.stats.binom.cdf(k, n, 0.5) * 2`). Three ways to the same number,
//! by size:
//!
//! * `n <= 64`: exact integer arithmetic (`Σ C(n, i)` in `u128`, then one
//!   rounding), so small cases are correctly rounded.
//! * `n <= 2^40`: the tail summed term by term from `P(X = k)` downwards, each
//!   term from the previous one by the ratio `i / (n - i + 1)` and recomputed
//!   from scratch every 256 terms so that rounding cannot drift. Terms come
//!   from Loader's saddle-point expansion of the binomial probability
//!   ("Fast and accurate computation of binomial probabilities", 2000; R's
//!   `dbinom`), not from `ln Γ` differences, which cancel: `ln Γ(n)` is about
//!   `n ln n`, so for a million trials they would leave only about 9 correct
//!   digits (statrs' `Binomial::cdf` goes through exactly those differences).
//!   The sum stops once the rest of the tail is provably below 2^-60 of it;
//!   that takes `O(sqrt(n))` terms at worst (k just below `n / 2`), and a
//!   handful far in the tail.
//! * `n > 2^40`: more terms than is reasonable, so the Lugannani–Rice
//!   saddle-point approximation with Daniels' second continuity correction
//!   (Butler, "Saddlepoint Approximations with Applications", 2007, §1.2.5),
//!   whose relative error shrinks like `1/n`: below 1e-12 here. No evaluation
//!   has this many discordant pairs; the branch exists so that every input gets
//!   an answer quickly.
//!
//! Accuracy: about 1e-13 relative for p-values above 1e-300 (the error grows
//! with `|ln p|`, as for any `exp` of a rounded exponent; checked against
//! statsmodels from 1 to 10^18 trials in `tests/stats_reference.rs`). Smaller
//! p-values lose relative precision in the subnormal range and are 0 below
//! about 5e-324, the correctly rounded `f64` (statsmodels gives the same 0).

use libm::erfc;

/// Up to this many trials the tail is summed; beyond, the saddle-point
/// approximation is used (see the module documentation).
const SUMMED_MAX_N: u128 = 1 << 40;

/// The summed tail stops once what is left is below this share of it.
const TAIL_CUTOFF: f64 = 1.0 / (1u64 << 60) as f64;

/// Every this many terms the running term is recomputed from scratch.
const REANCHOR_EVERY: u32 = 256;

/// Two-sided exact binomial test of `P(success) = 1/2` with `below` trials on
/// one side and `above` on the other: `min(1, 2 · P(X <= min))` with
/// `X ~ Binomial(below + above, 1/2)`. Symmetric in its arguments; 1 when
/// there are no trials or the split is as even as it can be.
pub(crate) fn binomial_two_sided_half(below: u64, above: u64) -> f64 {
    let k = u128::from(below.min(above));
    let n = u128::from(below) + u128::from(above);
    // P(X <= k) >= 1/2 when k >= n/2, and P(X <= k) = 1/2 exactly when
    // n = 2k + 1: either way the doubled tail is at least 1.
    if n <= 2 * k + 1 {
        return 1.0;
    }
    let tail = if n <= 64 {
        exact_lower_tail(n, k)
    } else if n <= SUMMED_MAX_N {
        // n <= 2^40, so both fit in u64 and convert to f64 exactly.
        summed_lower_tail(n as f64, k as f64)
    } else {
        saddlepoint_lower_tail(n, k)
    };
    (2.0 * tail).min(1.0)
}

/// `P(X <= k)` by integer arithmetic, `n <= 64`: every binomial coefficient
/// times `n - i` is below 2^70, and the sum below 2^64, so nothing overflows;
/// the sum is rounded once and the division by a power of two is exact.
fn exact_lower_tail(n: u128, k: u128) -> f64 {
    let mut term: u128 = 1;
    let mut sum: u128 = 1;
    for i in 0..k {
        term = term * (n - i) / (i + 1);
        sum += term;
    }
    // n <= 64: the shift fits, and 2^-n is a normal f64.
    sum as f64 / (1u128 << n) as f64
}

/// `P(X <= k)` for `0 <= k < n / 2 - 1/2` (see [`binomial_two_sided_half`]),
/// `n <= 2^40` (integers exact in `f64`), by summing terms downwards from `k`.
fn summed_lower_tail(n: f64, k: f64) -> f64 {
    let mut i = k;
    let mut term = pmf_half(n, i);
    // Millions of terms near the centre: compensated, the sum's rounding
    // stays at an ulp instead of growing with their number.
    let mut sum = CompensatedSum::new(term);
    let mut since_anchor = 0;
    while i > 0.0 {
        // The terms below i shrink by at least this ratio each step (it
        // decreases with i), so what is left is at most term · r / (1 - r).
        let ratio = i / (n - i + 1.0);
        if term * ratio <= sum.value() * TAIL_CUTOFF * (1.0 - ratio) {
            break;
        }
        i -= 1.0;
        since_anchor += 1;
        term = if since_anchor == REANCHOR_EVERY {
            since_anchor = 0;
            pmf_half(n, i)
        } else {
            term * ratio
        };
        sum.add(term);
    }
    sum.value()
}

/// Neumaier's compensated summation (Kahan–Babuška): the low-order bits that
/// each addition rounds away are kept in a second accumulator.
pub(crate) struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    pub(crate) fn new(first: f64) -> Self {
        CompensatedSum { sum: first, compensation: 0.0 }
    }

    pub(crate) fn add(&mut self, x: f64) {
        let t = self.sum + x;
        self.compensation += if self.sum.abs() >= x.abs() { (self.sum - t) + x } else { (x - t) + self.sum };
        self.sum = t;
    }

    pub(crate) fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// `P(X = x)` for `X ~ Binomial(n, 1/2)`, `0 <= x <= n` integers below 2^53.
///
/// Loader's form: `exp(-(δ(n) - δ(x) - δ(n - x)) - D) / sqrt(2π x (n - x) / n)`
/// with `δ` the Stirling-series error [`stirlerr`] and `D` the deviance
/// [`half_deviance`]; every piece is small or computed without cancellation,
/// so the relative error is a few ulps of `|ln P|`.
fn pmf_half(n: f64, x: f64) -> f64 {
    let y = n - x;
    if x == 0.0 || y == 0.0 {
        return power_of_half(n);
    }
    let correction = stirlerr(n) - stirlerr(x) - stirlerr(y);
    let log_scale = (2.0 * std::f64::consts::PI * x * y / n).ln();
    (correction - half_deviance(n, x) - 0.5 * log_scale).exp()
}

/// `2^-n` for an integer `n >= 0`, exact down to the smallest subnormal and 0
/// below it. Two factors, each a normal number, so neither over- nor
/// underflows on the way.
fn power_of_half(n: f64) -> f64 {
    if n > 1100.0 {
        return 0.0;
    }
    // An integer at most 1100: the cast is exact.
    let n = n as i32;
    0.5f64.powi(n / 2) * 0.5f64.powi(n - n / 2)
}

/// `D = x ln(2x / n) + y ln(2y / n)` with `y = n - x`: `n` times the
/// Kullback–Leibler divergence of `x / n` from 1/2, Loader's
/// `bd0(x, n/2) + bd0(y, n/2)`. Near the centre the two terms nearly cancel,
/// so there it is the series `(n / 2) Σ t^(2j) / (j (2j - 1))` in
/// `t = (x - y) / n` (all terms positive).
fn half_deviance(n: f64, x: f64) -> f64 {
    let y = n - x;
    let t = (x - y) / n;
    if t.abs() <= 0.5 {
        0.5 * n * even_series(t * t, 1)
    } else {
        x * (2.0 * x / n).ln() + y * (2.0 * y / n).ln()
    }
}

/// `Σ_{j >= first} s^j / (j (2j - 1))` for `0 <= s <= 1/4`, summed until the
/// terms no longer change the sum (at most about 30 of them).
fn even_series(s: f64, first: u32) -> f64 {
    let mut power = s.powi(first as i32);
    let mut sum = 0.0;
    for j in first..200 {
        let j = f64::from(j);
        let next = sum + power / (j * (2.0 * j - 1.0));
        if next == sum {
            break;
        }
        sum = next;
        power *= s;
    }
    sum
}

/// Loader's Stirling-series error `δ(n) = ln n! - ln(sqrt(2π n) (n / e)^n)`
/// for integers `n >= 1`: tabulated to 15 (the nearest `f64` to a 60-digit
/// computation with Python's `decimal`; R's `sferr_halves` agrees), the
/// asymptotic series `1/(12n) - 1/(360n³) + ...` above, truncated where the
/// next term is below 1e-16 of the leading one.
fn stirlerr(n: f64) -> f64 {
    const TABLE: [f64; 16] = [
        0.0,
        0.081_061_466_795_327_26,
        0.041_340_695_955_409_3,
        0.027_677_925_684_998_34,
        0.020_790_672_103_765_093,
        0.016_644_691_189_821_193,
        0.013_876_128_823_070_748,
        0.011_896_709_945_891_77,
        0.010_411_265_261_972_096,
        0.009_255_462_182_712_733,
        0.008_330_563_433_362_87,
        0.007_573_675_487_951_841,
        0.006_942_840_107_209_53,
        0.006_408_994_188_004_207,
        0.005_951_370_112_758_847_5,
        0.005_554_733_551_962_801,
    ];
    const S0: f64 = 1.0 / 12.0;
    const S1: f64 = 1.0 / 360.0;
    const S2: f64 = 1.0 / 1260.0;
    const S3: f64 = 1.0 / 1680.0;
    const S4: f64 = 1.0 / 1188.0;
    if n <= 15.0 {
        // Integers 1..=15 here; the cast truncates nothing.
        return TABLE[n as usize];
    }
    let nn = n * n;
    if n > 500.0 {
        (S0 - S1 / nn) / n
    } else if n > 80.0 {
        (S0 - (S1 - S2 / nn) / nn) / n
    } else if n > 35.0 {
        (S0 - (S1 - (S2 - S3 / nn) / nn) / nn) / n
    } else {
        (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / n
    }
}

/// `P(X <= k)` for `n > 2^40` and `k < n / 2 - 1/2`: by symmetry
/// `P(X >= x)` with `x = n - k`, from the Lugannani–Rice formula with the
/// second continuity correction: with `x̃ = x - 1/2` and `t = (2x̃ - n) / n`,
/// `P ≈ Φ̄(w) + φ(w) (1/u - 1/w)` where `w = sqrt(2 n KL(x̃/n ‖ 1/2))` and
/// `u = t sqrt(n)` (for `p = 1/2`, `2 sinh(s/2) sqrt(K''(s))` at the saddle
/// point `s` reduces to exactly that).
fn saddlepoint_lower_tail(n: u128, k: u128) -> f64 {
    let nf = n as f64;
    // n - 2k - 1 >= 1 by the caller's guard; exact in u128, rounded once.
    let gap = (n - 2 * k - 1) as f64;
    let t = gap / nf;
    // f(t) = (1 + t) ln(1 + t) + (1 - t) ln(1 - t) = Σ t^(2j) / (j (2j - 1)),
    // and g = f - t², the part that separates w from u.
    let (f, g) = if t <= 0.5 {
        let s = t * t;
        let g = even_series(s, 2);
        (s + g, g)
    } else {
        // 1 ± t from the integers, not by adding to a rounded t.
        let plus = (2 * (n - k) - 1) as f64 / nf;
        let minus = (2 * k + 1) as f64 / nf;
        let f = plus * plus.ln() + minus * minus.ln();
        (f, f - t * t)
    };
    let w = (nf * f).sqrt();
    let u = gap / nf.sqrt();
    // 1/u - 1/w = (w - u) / (u w) and w - u = (w² - u²) / (w + u) = n g / (w + u):
    // no cancellation near the centre, where w and u agree to many digits.
    let density = (-0.5 * nf * f).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let upper = 0.5 * erfc(w / std::f64::consts::SQRT_2);
    upper + density * (nf * g / (u * w * (w + u)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `P(X <= k)` by the summed route for any `n`, for comparisons.
    fn summed(n: u64, k: u64) -> f64 {
        summed_lower_tail(n as f64, k as f64)
    }

    #[test]
    fn tiny_cases_by_hand() {
        assert_eq!(binomial_two_sided_half(0, 0), 1.0);
        assert_eq!(binomial_two_sided_half(1, 0), 1.0);
        assert_eq!(binomial_two_sided_half(5, 5), 1.0);
        assert_eq!(binomial_two_sided_half(5, 6), 1.0);
        // 2 · (1 + 10 + 45) / 1024.
        assert_eq!(binomial_two_sided_half(2, 8), 112.0 / 1024.0);
        assert_eq!(binomial_two_sided_half(8, 2), 112.0 / 1024.0);
        assert_eq!(binomial_two_sided_half(0, 24), 2.0 / f64::from(1 << 24));
        assert_eq!(binomial_two_sided_half(0, 64), 2.0 / 2f64.powi(64));
    }

    #[test]
    fn stirlerr_table_continues_into_the_series() {
        // δ(n) - δ(n + 1) = (n + 1/2) ln(1 + 1/n) - 1: the table and each
        // branch of the series must agree with it, to the 2e-16 or so that
        // the subtraction of 1 leaves of this reference (δ enters P through
        // exp, so an absolute error is what matters).
        for n in 1..600u32 {
            let n = f64::from(n);
            let step = (n + 0.5) * (1.0 / n).ln_1p() - 1.0;
            let got = stirlerr(n) - stirlerr(n + 1.0);
            assert!((got - step).abs() <= 4e-16, "n = {n}: {got:e} vs {step:e}");
        }
    }

    #[test]
    fn pmf_matches_exact_coefficients() {
        // C(n, x) / 2^n in integers, n <= 64; a relative error of a few ulps
        // of |ln P|, the size of the exponent.
        for n in 1..=64u32 {
            let mut c: u128 = 1;
            for x in 0..=n {
                if x > 0 {
                    c = c * u128::from(n - x + 1) / u128::from(x);
                }
                let exact = c as f64 / 2f64.powi(n as i32);
                let got = pmf_half(f64::from(n), f64::from(x));
                let tolerance = 4.0 * f64::EPSILON * (1.0 - exact.ln());
                assert!((got - exact).abs() <= tolerance * exact, "n = {n}, x = {x}: {got:e} vs {exact:e}");
            }
        }
    }

    #[test]
    fn summed_tail_matches_the_integer_tail() {
        for n in 3..=64u64 {
            for k in 0..n.div_ceil(2) - 1 {
                let exact = exact_lower_tail(u128::from(n), u128::from(k));
                let got = summed(n, k);
                assert!((got - exact).abs() <= 1e-14 * exact, "n = {n}, k = {k}: {got:e} vs {exact:e}");
            }
        }
    }

    #[test]
    fn saddlepoint_error_shrinks_like_one_over_n() {
        // Against the summed tail, across the range of p-values, at sizes
        // where the sum is cheap: a relative error of at most 1/n (in
        // practice a few times smaller) is at most 1e-12 beyond 2^40 trials.
        for n in [1_000u64, 100_000, 10_000_000] {
            let sd = (n as f64).sqrt() / 2.0;
            for z in [0.01, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0] {
                let k = (n as f64 / 2.0 - z * sd).floor() as u64;
                if 2 * k + 1 >= n {
                    continue;
                }
                let summed = summed(n, k);
                let saddle = saddlepoint_lower_tail(u128::from(n), u128::from(k));
                let relative = ((saddle - summed) / summed).abs();
                assert!(relative <= 1.0 / n as f64, "n = {n}, k = {k}: {saddle:e} vs {summed:e} ({relative:e})");
            }
        }
    }

    #[test]
    fn huge_and_extreme_counts_answer_without_panicking() {
        for (b, c) in [
            (u64::MAX, u64::MAX),
            (u64::MAX, 0),
            (u64::MAX - 1, u64::MAX),
            (0, 1 << 41),
            (1 << 40, (1 << 40) + 3_000_000),
            (10, 100_000_000),
            (49_000_000, 51_000_000),
        ] {
            let p = binomial_two_sided_half(b, c);
            assert!((0.0..=1.0).contains(&p), "({b}, {c}): {p}");
        }
        assert_eq!(binomial_two_sided_half(0, 5000), 0.0, "2^-4999 underflows");
        assert_eq!(binomial_two_sided_half(u64::MAX - 1, u64::MAX), 1.0);
        // Just past the even split: p is just below 1, from both routes.
        let sum_side = binomial_two_sided_half(1 << 39, (1 << 39) + 2);
        let saddle_side = binomial_two_sided_half(1 << 40, (1 << 40) + 2);
        assert!(sum_side < 1.0 && sum_side > 0.999_999, "{sum_side}");
        assert!(saddle_side < 1.0 && saddle_side > 0.999_999, "{saddle_side}");
    }
}
