//! The paired sign-flip permutation test of "the differences are symmetric
//! about 0": under that null hypothesis each difference is as likely to have
//! the opposite sign, so the observed `|mean|` is compared with the `|mean|`
//! of every sign pattern (scipy's `permutation_test(..., permutation_type=
//! "samples")`). Exact wherever it can be:
//!
//! 1. Differences on a lattice (integer multiples of one step: pass/fail
//!    differences, means of `k` repeats, scores with few decimals; see the
//!    `lattice` module) get the exact null distribution of their sum by
//!    convolution, at any `n` whose convolution fits [`LATTICE_MAX_WORK`];
//!    differences of one magnitude (`±c` and zeros) at any `n` through the
//!    binomial distribution.
//! 2. Otherwise, up to [`EXACT_SIGN_FLIP_MAX_N`] differences, all `2^n` sign
//!    patterns are enumerated.
//! 3. Otherwise random sign patterns are drawn, and the p-value comes with
//!    its Monte Carlo standard error.

use super::binomial::{binomial_two_sided_half, CompensatedSum};
use super::lattice::lattice;
use super::rng::SplitMix64;

/// Up to this many differences not on a lattice, [`sign_flip_test`]
/// enumerates all `2^n` sign patterns (at most 65536) instead of sampling them.
pub const EXACT_SIGN_FLIP_MAX_N: usize = 16;

/// The most cell updates the exact lattice convolution may take, about a
/// tenth of a second: `Σ_i (|m_1| + … + |m_i|)` over the multiples sorted by
/// size. 2,000 pairs of means of 5 repeats take at most 10^7; 20,000 pairs
/// of means of 10 repeats, 70% of them ties as is common, about 3·10^7.
pub const LATTICE_MAX_WORK: u64 = 1 << 26;

/// The widest distribution the convolution may hold: `Σ |m_i|`, 2^20 cells
/// (8 MiB in each of its two buffers). The work bound alone would allow four
/// times as many for a handful of large multiples.
const LATTICE_MAX_SPAN: u64 = 1 << 20;

/// scipy's relative tolerance for treating a permuted statistic as equal to
/// the observed one (`permutation_test`'s `gamma = abs(100 · eps · observed)`):
/// sign flips that should give exactly the observed mean can differ from it in
/// the last bits. (On a lattice the comparison is between integers.)
const RELATIVE_TIE_TOLERANCE: f64 = 100.0 * f64::EPSILON;

/// How a sign-flip p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SignFlipMethod {
    /// The exact null distribution of the sum of differences that are integer
    /// multiples of `step`, by convolution (or the binomial distribution when
    /// they have one magnitude).
    Lattice {
        /// The common step of the differences.
        step: f64,
    },
    /// All `2^n` sign patterns enumerated.
    Enumerated,
    /// Seeded random sign patterns; `p = (1 + hits) / (1 + resamples)`.
    MonteCarlo {
        /// Sign patterns drawn.
        resamples: usize,
        /// `sqrt(p (1 - p) / resamples)`, the standard error of `p` as an
        /// estimate of the exact p-value; infinite with no resamples.
        std_error: f64,
    },
}

/// The outcome of [`sign_flip_test`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignFlip {
    /// Two-sided p-value, in `[0, 1]`.
    pub p_value: f64,
    /// How it was computed.
    pub method: SignFlipMethod,
}

impl SignFlip {
    /// Whether `p_value` is the exact permutation p-value (up to rounding).
    pub fn is_exact(&self) -> bool {
        !matches!(self.method, SignFlipMethod::MonteCarlo { .. })
    }

    /// The Monte Carlo standard error of `p_value`, when it was sampled.
    pub fn monte_carlo_std_error(&self) -> Option<f64> {
        match self.method {
            SignFlipMethod::MonteCarlo { std_error, .. } => Some(std_error),
            _ => None,
        }
    }
}

/// Two-sided paired sign-flip permutation test of `mean(differences) == 0`:
/// the share of sign patterns whose `|mean|` is at least the observed `|mean|`.
///
/// Exact when the differences lie on a lattice that the convolution can
/// handle (see the module documentation; ties are then decided in integers),
/// or when there are at most [`EXACT_SIGN_FLIP_MAX_N`] of them (every pattern
/// enumerated, ties within scipy's relative tolerance of `100 · eps`): the
/// same as scipy's `permutation_test((d,), np.mean, permutation_type=
/// "samples", alternative="two-sided", n_resamples=np.inf).pvalue`. (scipy
/// doubles the smaller one-sided p-value; the sign-flip distribution is
/// symmetric, so that is the same count.) The convolution's p-value is a sum
/// of probabilities each rounded at most `n` times: relative error below
/// `n · 1.1e-16`, and p-values below about 1e-300 lose precision to
/// subnormal numbers and may come out as 0.
///
/// Otherwise `resamples` random sign patterns are drawn from [`SplitMix64`]
/// seeded with `seed`, the p-value is `(1 + hits) / (1 + resamples)`, where
/// hits are the patterns whose `|mean|` is at least the observed one within
/// scipy's tolerance (Phipson & Smyth 2010; never 0), and its standard error
/// is reported. `resamples == 0` then gives 1.
///
/// All-zero differences give 1. `None` for an empty slice or one with a
/// non-finite value.
pub fn sign_flip_test(differences: &[f64], resamples: usize, seed: u64) -> Option<SignFlip> {
    let n = differences.len();
    if n == 0 || !differences.iter().all(|d| d.is_finite()) {
        return None;
    }
    if let Some(on_lattice) = lattice(differences) {
        if let Some(p_value) = lattice_p_value(&on_lattice.multiples) {
            return Some(SignFlip { p_value, method: SignFlipMethod::Lattice { step: on_lattice.step } });
        }
    }
    let bits: Vec<u64> = differences.iter().map(|d| d.to_bits()).collect();
    let observed = flipped_sum(&bits, &[]);
    let bound = observed.abs() - (RELATIVE_TIE_TOLERANCE * observed).abs();
    if n <= EXACT_SIGN_FLIP_MAX_N {
        // Each pattern with the last sign kept stands for itself and its
        // complement, whose sum is exactly its negation.
        let half = 1u64 << (n - 1);
        let hits = (0..half).filter(|&pattern| flipped_sum(&bits, &[pattern]).abs() >= bound).count();
        return Some(SignFlip { p_value: hits as f64 / half as f64, method: SignFlipMethod::Enumerated });
    }
    let mut rng = SplitMix64::new(seed);
    let mut signs = vec![0u64; n.div_ceil(64)];
    let mut hits = 0usize;
    for _ in 0..resamples {
        for word in signs.iter_mut() {
            *word = rng.next_u64();
        }
        if flipped_sum(&bits, &signs).abs() >= bound {
            hits += 1;
        }
    }
    let p_value = (1 + hits) as f64 / (1 + resamples) as f64;
    let std_error = (p_value * (1.0 - p_value) / resamples as f64).sqrt();
    let std_error = if resamples == 0 { f64::INFINITY } else { std_error };
    Some(SignFlip { p_value, method: SignFlipMethod::MonteCarlo { resamples, std_error } })
}

/// The sum of the values whose bit patterns are `bits`, with the sign of
/// value `i` flipped where bit `i % 64` of `flips[i / 64]` is set (missing
/// words flip nothing). Flipping is an exclusive or on the sign bit, and four
/// running sums take the values in a fixed order: a pattern and its
/// complement give exactly opposite sums, and no flips give the observed sum.
fn flipped_sum(bits: &[u64], flips: &[u64]) -> f64 {
    let mut lanes = [0.0f64; 4];
    for (chunk_index, chunk) in bits.chunks(64).enumerate() {
        let mut word = flips.get(chunk_index).copied().unwrap_or(0);
        // Value i goes to lane i % 4 (64 is a multiple of 4, so that holds
        // across chunks too); unrolled so that the sums do not wait on each other.
        let mut quads = chunk.chunks_exact(4);
        for quad in &mut quads {
            for (lane, &b) in lanes.iter_mut().zip(quad) {
                *lane += f64::from_bits(b ^ (word & 1) << 63);
                word >>= 1;
            }
        }
        for (lane, &b) in lanes.iter_mut().zip(quads.remainder()) {
            *lane += f64::from_bits(b ^ (word & 1) << 63);
            word >>= 1;
        }
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
}

/// `P(|Σ s_i m_i| >= |Σ m_i|)` for independent fair signs `s_i`, if it is
/// cheap enough to compute exactly: `None` past [`LATTICE_MAX_WORK`] or
/// [`LATTICE_MAX_SPAN`].
fn lattice_p_value(multiples: &[i64]) -> Option<f64> {
    let observed = multiples.iter().map(|&m| i128::from(m)).sum::<i128>().unsigned_abs();
    let mut sizes: Vec<u64> = multiples.iter().map(|m| m.unsigned_abs()).filter(|&m| m > 0).collect();
    if observed == 0 {
        return Some(1.0);
    }
    sizes.sort_unstable();
    if sizes.first() == sizes.last() {
        // One magnitude c: the sum is c (2B - n') with B ~ Binomial(n', 1/2),
        // the sign test; exact at any n.
        let positive = multiples.iter().filter(|&&m| m > 0).count() as u64;
        return Some(binomial_two_sided_half(sizes.len() as u64 - positive, positive));
    }
    // Smallest first: the distribution grows as slowly as it can, so the
    // work, Σ of the running widths, is least.
    let mut span: u64 = 0;
    let mut work: u64 = 0;
    for &m in &sizes {
        span = span.saturating_add(m);
        work = work.saturating_add(span);
    }
    if span > LATTICE_MAX_SPAN || work > LATTICE_MAX_WORK {
        return None;
    }
    Some(convolved_tail(&sizes, span as usize, observed as usize))
}

/// `P(|T| >= observed)` for `T = Σ ±sizes[i]`, fair independent signs, by
/// convolving one size at a time. `T` is symmetric, so only `P(T = j)` for
/// `j >= 0` is kept; adding `±m` maps it to
/// `P'(j) = (P(|j - m|) + P(j + m)) / 2`. Sizes ascending, total `span`,
/// `0 < observed <= span`.
fn convolved_tail(sizes: &[u64], span: usize, observed: usize) -> f64 {
    // Beyond the current width the cells are 0; the padding lets j + m be
    // read without a bounds test.
    let largest = sizes.last().map_or(0, |&m| m as usize);
    let mut current = vec![0.0f64; span + largest + 1];
    let mut next = current.clone();
    current[0] = 1.0;
    let mut width = 0usize;
    for &m in sizes {
        let m = m as usize;
        width += m;
        let (low, high) = next[..=width].split_at_mut(m.min(width + 1));
        // j < m: |j - m| = m - j.
        for (j, cell) in low.iter_mut().enumerate() {
            *cell = 0.5 * (current[m - j] + current[j + m]);
        }
        // j >= m: j - m and j + m, two shifted runs.
        for ((cell, below), above) in high.iter_mut().zip(&current[..]).zip(&current[2 * m..]) {
            *cell = 0.5 * (below + above);
        }
        std::mem::swap(&mut current, &mut next);
    }
    let mut tail = CompensatedSum::new(0.0);
    for &p in current[observed..=span].iter().rev() {
        tail.add(p);
    }
    (2.0 * tail.value()).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(differences: &[f64]) -> f64 {
        sign_flip_test(differences, 0, 0).unwrap().p_value
    }

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

    /// The exact p-value by enumerating every pattern of integer multiples.
    fn enumerated(multiples: &[i64]) -> f64 {
        let observed: i64 = multiples.iter().sum();
        let n = multiples.len();
        let hits = (0..1u64 << n)
            .filter(|&pattern| {
                let sum: i64 =
                    multiples.iter().enumerate().map(|(i, &m)| if pattern >> i & 1 == 1 { -m } else { m }).sum();
                sum.abs() >= observed.abs()
            })
            .count();
        hits as f64 / (1u64 << n) as f64
    }

    #[test]
    fn small_cases_by_hand() {
        assert_eq!(sign_flip_test(&[], 100, 0), None);
        assert_eq!(sign_flip_test(&[1.0, f64::NAN], 100, 0), None);
        assert_eq!(sign_flip_test(&[1.0, f64::INFINITY], 100, 0), None);
        assert_eq!(p(&[0.5]), 1.0);
        // Means of the four patterns: 1, 0, 0, -1.
        assert_eq!(p(&[1.0, 1.0]), 0.5);
        assert_eq!(p(&[1.0; 16]), 2.0 / 65536.0);
        assert_eq!(p(&[0.0; 16]), 1.0);
        assert_eq!(p(&[0.0; 40]), 1.0);
        // Zeros add nothing: only the signs of the 1s matter.
        assert_eq!(p(&[1.0, 0.0, 1.0, 0.0, 0.0]), 0.5);
        // One magnitude at any n: the sign test, 2 · 2^-100.
        let t = sign_flip_test(&[0.25; 100], 10, 0).unwrap();
        assert_eq!(t.p_value, 2f64.powi(-99));
        assert_eq!(t.method, SignFlipMethod::Lattice { step: 0.25 });
        assert!(t.is_exact() && t.monte_carlo_std_error().is_none());
    }

    #[test]
    fn the_method_follows_the_data() {
        let thirds: Vec<f64> = (0..30).map(|i| f64::from(i % 7 - 2) / 3.0).collect();
        let step = match sign_flip_test(&thirds, 10, 0).unwrap().method {
            SignFlipMethod::Lattice { step } => step,
            other => panic!("{other:?}"),
        };
        assert!((step - 1.0 / 3.0).abs() < 1e-15);
        let mut rng = SplitMix64::new(30);
        let continuous: Vec<f64> = (0..12).map(|_| rng.next_f64() - 0.3).collect();
        assert_eq!(sign_flip_test(&continuous, 10, 0).unwrap().method, SignFlipMethod::Enumerated);
        let continuous: Vec<f64> = (0..40).map(|_| rng.next_f64() - 0.3).collect();
        let t = sign_flip_test(&continuous, 99, 0).unwrap();
        let SignFlipMethod::MonteCarlo { resamples, std_error } = t.method else { panic!("{t:?}") };
        assert_eq!(resamples, 99);
        assert_eq!(std_error, (t.p_value * (1.0 - t.p_value) / 99.0).sqrt());
        assert_eq!(t.monte_carlo_std_error(), Some(std_error));
        assert!(!t.is_exact());
        let none = sign_flip_test(&continuous, 0, 0).unwrap();
        assert_eq!(none.p_value, 1.0);
        assert_eq!(none.monte_carlo_std_error(), Some(f64::INFINITY));
    }

    #[test]
    fn the_convolution_matches_enumeration() {
        let mut rng = SplitMix64::new(37);
        for _ in 0..300 {
            let n = 1 + rng.below(14);
            let spread = 1 + rng.below(12) as i64;
            let multiples: Vec<i64> = (0..n).map(|_| rng.below(2 * spread as usize + 1) as i64 - spread).collect();
            let expected = enumerated(&multiples);
            let got = lattice_p_value(&multiples).unwrap();
            assert!((got - expected).abs() <= 1e-15, "{multiples:?}: {got} vs {expected}");
        }
    }

    #[test]
    fn large_lattices_are_exact_and_bounded() {
        // 20,000 means of 10 repeats, 70% of them ties, a slight gain:
        // exact, and within the budget.
        let mut rng = SplitMix64::new(38);
        let d: Vec<f64> =
            (0..20_000).map(|_| if rng.below(10) < 7 { 0.0 } else { (rng.below(7) as f64 - 2.0) / 10.0 }).collect();
        let t = sign_flip_test(&d, 10, 0).unwrap();
        assert!(t.is_exact(), "{t:?}");
        assert!(t.p_value >= 0.0 && t.p_value < 1e-6, "{t:?}");
        // A million pass/fail differences: one magnitude, the binomial route.
        let d: Vec<f64> = (0..1_000_000).map(|i| f64::from(i % 3) - 1.0).collect();
        let t = sign_flip_test(&d, 10, 0).unwrap();
        assert!(t.is_exact() && t.p_value == 1.0, "{t:?}");
        // Few differences, but multiples too large to hold: 17 · 2^20 cells.
        let mut d = vec![1.0; 17];
        d.push(1.0 / f64::from(1 << 20));
        let t = sign_flip_test(&d, 3, 0).unwrap();
        assert!(matches!(t.method, SignFlipMethod::MonteCarlo { .. }), "{t:?}");
        // A million differences of several sizes: over the budget, sampled.
        let d: Vec<f64> = (0..1_000_000).map(|i| f64::from(i % 5) - 2.1).collect();
        let t = sign_flip_test(&d, 3, 0).unwrap();
        assert!(!t.is_exact(), "{t:?}");
    }

    #[test]
    fn p_values_are_in_the_unit_interval() {
        let mut rng = SplitMix64::new(31);
        for seed in 0..60 {
            let n = 1 + rng.below(40);
            let d = random_differences(&mut rng, n);
            let t = sign_flip_test(&d, 200, seed).unwrap();
            assert!(t.p_value > 0.0 && t.p_value <= 1.0, "{d:?}: {t:?}");
            if t.is_exact() {
                assert!(t.p_value >= 1.0 / (1u64 << n) as f64 - 1e-15);
            } else {
                assert!(t.p_value >= 1.0 / 201.0);
            }
        }
    }

    #[test]
    fn invariant_under_negation_and_order() {
        let mut rng = SplitMix64::new(32);
        for _ in 0..60 {
            let n = 1 + rng.below(30);
            // Negating every difference negates every sum exactly.
            let d = random_differences(&mut rng, n);
            let negated: Vec<f64> = d.iter().map(|x| -x).collect();
            assert_eq!(sign_flip_test(&negated, 100, 3), sign_flip_test(&d, 100, 3), "{d:?}");
            // Reordering changes the order of summation, which is exact on a
            // lattice and for values like these multiples of 1/2.
            let halves: Vec<f64> = (0..n).map(|_| (rng.below(7) as f64 - 3.0) / 2.0).collect();
            let mut reversed = halves.clone();
            reversed.reverse();
            assert_eq!(sign_flip_test(&reversed, 0, 0), sign_flip_test(&halves, 0, 0), "{halves:?}");
        }
    }

    #[test]
    fn sampling_is_seeded_and_close_to_the_exact_answer() {
        // A pattern of 20 continuous values is too long to enumerate by
        // default, but 2^20 patterns can be enumerated here to check the
        // sampled p-value.
        let mut rng = SplitMix64::new(33);
        let d: Vec<f64> = (0..20).map(|_| rng.next_f64() - 0.3).collect();
        let bits: Vec<u64> = d.iter().map(|x| x.to_bits()).collect();
        let observed = flipped_sum(&bits, &[]).abs();
        let bound = observed - RELATIVE_TIE_TOLERANCE * observed;
        let exact_hits = (0..1u64 << 20).filter(|&s| flipped_sum(&bits, &[s]).abs() >= bound).count();
        let exact = exact_hits as f64 / f64::from(1u32 << 20);
        let sampled = sign_flip_test(&d, 20_000, 5).unwrap();
        assert_eq!(sign_flip_test(&d, 20_000, 5).unwrap(), sampled);
        // Four standard errors.
        let se = sampled.monte_carlo_std_error().unwrap();
        assert!(se > 0.0 && se < 0.004, "{sampled:?}");
        assert!((sampled.p_value - exact).abs() < 4.0 * se, "{sampled:?} vs {exact}");
        assert_eq!(sign_flip_test(&d, 0, 5).unwrap().p_value, 1.0);
    }

    #[test]
    fn a_clear_shift_is_significant() {
        let mut rng = SplitMix64::new(34);
        let d: Vec<f64> = (0..200).map(|_| rng.next_f64() - 0.2).collect();
        let t = sign_flip_test(&d, 2000, 1).unwrap();
        assert_eq!(t.p_value, 1.0 / 2001.0);
        let d: Vec<f64> = (0..12).map(|_| rng.next_f64() + 0.1).collect();
        assert_eq!(p(&d), 2.0 / 4096.0);
        // On a lattice the p-value has no floor: 200 pass/fail gains and 20
        // losses over 300 pairs.
        let mut d = vec![1.0; 200];
        d.extend([-1.0; 20]);
        d.extend([0.5; 80]);
        let t = sign_flip_test(&d, 2000, 1).unwrap();
        assert!(t.is_exact() && t.p_value < 1e-30, "{t:?}");
    }
}
