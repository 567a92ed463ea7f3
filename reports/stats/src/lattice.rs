//! Recognising values that are integer multiples of one step: the shape most
//! evaluation differences have. Pass/fail differences are -1, 0 or 1; means
//! of `k` repeats are multiples of `1/k` (of `1/lcm(1..=k)` when some samples
//! have fewer valid repeats); scores written with two decimals are multiples
//! of 0.01. On such a lattice the paired tests can count exactly (the
//! sign-flip test by convolution, the signed-rank test's ties by equality of
//! integers) where floating-point values only almost agree: `1 - 2/3` and
//! `1/3` differ in the last bit.

/// The largest step denominator tried, relative to the largest value: the
/// step is at least `max |value| / 2^20`. Large enough for means of up to 10
/// repeats of scores with two decimals (2520 · 100), small enough that
/// `value / step` is computed to well within [`TOLERANCE`].
const MAX_DENOMINATOR: u64 = 1 << 20;

/// How far from an integer `value / step` may be, for values that are
/// multiples of the step up to rounding. Rounding in the scores and their
/// means leaves about 1e-16 of the values' magnitude; relative to a step at
/// least 2^-20 of the largest value that is at most about 1e-10. Continuous
/// values are rejected unless every one of them lands this close to the same
/// lattice; if they did, treating them as on it would move each by at most
/// 1e-9 of a step, which changes no test.
const TOLERANCE: f64 = 1e-9;

/// Values written as `multiples[i] · step`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lattice {
    /// The common step, positive; the largest for which the multiples are
    /// integers (their greatest common divisor is 1).
    pub step: f64,
    /// `values[i] / step`, rounded; |multiple| <= 2^20.
    pub multiples: Vec<i64>,
}

/// The lattice `values` lie on, if there is one with a step of at least
/// `max |value| / 2^20`. All-zero values lie on the lattice of step 1.
/// `None` also for non-finite values.
pub(crate) fn lattice(values: &[f64]) -> Option<Lattice> {
    if !values.iter().all(|v| v.is_finite()) {
        return None;
    }
    let largest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if largest == 0.0 {
        return Some(Lattice { step: 1.0, multiples: vec![0; values.len()] });
    }
    // The common denominator of the ratios to the largest value: the least
    // common multiple of each ratio's smallest denominator.
    let mut denominator: u64 = 1;
    for v in values {
        let ratio = v.abs() / largest;
        if !near_integer(ratio * denominator as f64) {
            denominator = lcm(denominator, smallest_denominator(ratio)?)?;
        }
    }
    let scaled = |v: f64| v / largest * denominator as f64;
    let mut multiples = Vec::with_capacity(values.len());
    for &v in values {
        let x = scaled(v);
        if !near_integer(x) {
            return None;
        }
        // |x| <= 2^20, so the cast is exact.
        multiples.push(x.round() as i64);
    }
    let divisor = multiples.iter().fold(0u64, |g, m| gcd(g, m.unsigned_abs())).max(1);
    for m in &mut multiples {
        *m /= divisor as i64;
    }
    Some(Lattice { step: largest / denominator as f64 * divisor as f64, multiples })
}

fn near_integer(x: f64) -> bool {
    (x - x.round()).abs() <= TOLERANCE
}

/// The smallest `q <= 2^20` with `ratio · q` within [`TOLERANCE`] of an
/// integer, for `0 <= ratio <= 1`. It is a denominator of one of the
/// continued-fraction convergents of `ratio` (these are its best
/// approximations: no smaller denominator comes closer), so only those are
/// tried, at most a few dozen.
fn smallest_denominator(ratio: f64) -> Option<u64> {
    // Convergents p/q from the recurrences p_k = a_k p_(k-1) + p_(k-2),
    // likewise q, started from p = (0, 1) and q = (1, 0).
    let (mut p_prev, mut p) = (0.0f64, 1.0f64);
    let (mut q_prev, mut q) = (1.0f64, 0.0f64);
    let mut x = ratio;
    for _ in 0..64 {
        let a = x.floor();
        let (p_next, q_next) = (a * p + p_prev, a * q + q_prev);
        if q_next > MAX_DENOMINATOR as f64 {
            return None;
        }
        if (ratio * q_next - p_next).abs() <= TOLERANCE {
            // A whole number at most 2^20.
            return Some(q_next as u64);
        }
        let fraction = x - a;
        if fraction <= 0.0 {
            return None;
        }
        x = 1.0 / fraction;
        (p_prev, p, q_prev, q) = (p, p_next, q, q_next);
    }
    None
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The least common multiple, if it is at most [`MAX_DENOMINATOR`].
fn lcm(a: u64, b: u64) -> Option<u64> {
    let l = a / gcd(a, b) * b;
    (l <= MAX_DENOMINATOR).then_some(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn on(values: &[f64]) -> Option<(f64, Vec<i64>)> {
        lattice(values).map(|l| (l.step, l.multiples))
    }

    #[test]
    fn eval_shaped_differences_are_found() {
        assert_eq!(on(&[1.0, 0.0, -1.0, 1.0]), Some((1.0, vec![1, 0, -1, 1])));
        assert_eq!(on(&[0.0, 0.0]), Some((1.0, vec![0, 0])));
        assert_eq!(on(&[]), Some((1.0, vec![])));
        // Means of three repeats, with the rounding subtraction leaves.
        let thirds = [1.0 - 2.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0 - 0.0, -1.0, 0.0];
        assert_ne!(thirds[0], thirds[1], "not equal as floats");
        let (step, multiples) = on(&thirds).unwrap();
        assert!((step - 1.0 / 3.0).abs() < 1e-15);
        assert_eq!(multiples, vec![1, 1, 2, -3, 0]);
        // Two decimals, but all even hundredths: the step is 0.02.
        let (step, multiples) = on(&[0.86 - 0.5, 0.1 - 0.3, 0.06]).unwrap();
        assert!((step - 0.02).abs() < 1e-15);
        assert_eq!(multiples, vec![18, -10, 3]);
        // Means over 1, 2, 3 or 4 valid repeats: twelfths.
        let (step, multiples) = on(&[0.5, 1.0 / 3.0, -0.25, 1.0]).unwrap();
        assert!((step - 1.0 / 12.0).abs() < 1e-15);
        assert_eq!(multiples, vec![6, 4, -3, 12]);
        // Any scale: identical tiny costs.
        let (step, multiples) = on(&[-6e-7, -6e-7, 0.0]).unwrap();
        assert_eq!((step, multiples), (6e-7, vec![-1, -1, 0]));
        // Large offsets before the subtraction: 1000.1 - 1000.0 is 0.1 only to 1e-13.
        let (step, multiples) = on(&[1000.1 - 1000.0, 0.3, -0.2]).unwrap();
        assert!((step - 0.1).abs() < 1e-12);
        assert_eq!(multiples, vec![1, 3, -2]);
    }

    #[test]
    fn continuous_values_are_not_a_lattice() {
        let mut rng = SplitMix64::new(41);
        for _ in 0..200 {
            let values: Vec<f64> = (0..5).map(|_| rng.next_f64() * 2.0 - 1.0).collect();
            assert_eq!(on(&values), None, "{values:?}");
        }
        assert_eq!(on(&[1.0, 1e-7]), None, "a step finer than 2^-20 of the largest");
        assert_eq!(on(&[1.0, f64::NAN]), None);
        assert_eq!(on(&[f64::INFINITY]), None);
        assert_eq!(on(&[std::f64::consts::PI, 1.0]), None);
    }

    #[test]
    fn multiples_reproduce_the_values() {
        let mut rng = SplitMix64::new(42);
        for _ in 0..200 {
            let k = 1 + rng.below(10) as i64;
            let scale = [1.0, 0.01, 1e-6, 250.0][rng.below(4)];
            let values: Vec<f64> =
                (0..20).map(|_| (rng.below(2 * k as usize + 1) as i64 - k) as f64 / k as f64 * scale).collect();
            let Lattice { step, multiples } = lattice(&values).unwrap();
            for (v, m) in values.iter().zip(&multiples) {
                assert!((m.to_owned() as f64 * step - v).abs() <= 1e-12 * scale, "{values:?}");
            }
            let g = multiples.iter().fold(0u64, |g, m| gcd(g, m.unsigned_abs()));
            assert!(g <= 1, "the step is the largest: {multiples:?}");
        }
    }
}
