//! A small seeded pseudo-random number generator for resampling (bootstrap
//! intervals, random sign-flip tests) and for the property tests.
//!
//! SplitMix64 (Steele, Lea & Flood 2014; Vigna's reference `splitmix64.c`):
//! 64 bits of state, one add and a mixing function per draw. It is not
//! cryptographic and not meant to reproduce numpy's streams; it is here so
//! that a report computed twice with the same seed shows the same interval,
//! without a dependency on the `rand` crate.

/// The SplitMix64 generator: seeded, deterministic, platform-independent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose stream is fully determined by `seed` (any value,
    /// including 0, is a good seed).
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 uniformly distributed bits; the same sequence as Vigna's
    /// `splitmix64.c` started from the same seed.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n`, without modulo bias (Lemire's
    /// multiply-and-reject method, "Fast Random Integer Generation in an
    /// Interval", 2019).
    ///
    /// `n` must be positive; `below(0)` returns 0 rather than panicking.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let n = n as u64;
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        // The low half below 2^64 mod n marks the few draws that would make
        // some results more likely than others; redraw those.
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        // The high half is < n <= usize::MAX, so the cast is lossless.
        (m >> 64) as usize
    }

    /// A uniform float in `[0, 1)` with 53 random bits (every multiple of
    /// 2^-53 equally likely).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_stream() {
        // Vigna's splitmix64.c, seeded with 0 and with 1234567.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(rng.next_u64(), 0x06C4_5D18_8009_454F);
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(rng.next_u64(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn same_seed_same_stream() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        let mut c = SplitMix64::new(43);
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..100).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn below_stays_in_range_and_hits_every_value() {
        let mut rng = SplitMix64::new(7);
        assert_eq!(rng.below(0), 0);
        for _ in 0..100 {
            assert_eq!(rng.below(1), 0);
        }
        for n in [2usize, 3, 5, 10, 17] {
            let mut seen = vec![0usize; n];
            for _ in 0..2000 * n {
                let i = rng.below(n);
                assert!(i < n);
                seen[i] += 1;
            }
            // Each value expects 2000 hits (sd about 45); allow a wide margin.
            assert!(seen.iter().all(|&k| (1700..=2300).contains(&k)), "n = {n}: {seen:?}");
        }
        let huge = usize::MAX;
        assert!(rng.below(huge) < huge);
        let near_half = usize::MAX / 2 + 2;
        for _ in 0..100 {
            assert!(rng.below(near_half) < near_half);
        }
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn below_is_unbiased_for_a_range_that_does_not_divide_2_to_the_64() {
        // n = 3 * 2^62: a plain `x % n` would make the lowest third of the
        // range twice as likely as the rest (half the draws instead of a
        // third).
        let n = 3usize << 62;
        let mut rng = SplitMix64::new(11);
        let draws = 30_000;
        let low = (0..draws).filter(|_| rng.below(n) < n / 3).count();
        let share = low as f64 / draws as f64;
        assert!((share - 1.0 / 3.0).abs() < 0.02, "share below n/3 = {share}");
    }

    #[test]
    fn unit_floats_are_in_range_with_mean_one_half() {
        let mut rng = SplitMix64::new(3);
        let xs: Vec<f64> = (0..20_000).map(|_| rng.next_f64()).collect();
        assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
    }
}
