//! Choosing the next token: greedy, or seeded sampling with temperature,
//! top-k, top-p and a repetition penalty.
//!
//! The random generator is evalkit's own (SplitMix64) rather than a crate's,
//! so the same seed gives the same text across evalkit versions and platforms.

/// How to pick tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// 0 means greedy.
    pub temperature: f64,
    /// Keep the `k` most likely tokens (0: all).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches `p` (1: all).
    pub top_p: f64,
    /// Divide positive logits (multiply negative ones) of tokens already seen by this (1: off).
    pub repetition_penalty: f64,
    /// Seed of the random generator.
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams { temperature: 0.0, top_k: 0, top_p: 1.0, repetition_penalty: 1.0, seed: 0 }
    }
}

/// A token picker with its own random state.
#[derive(Debug, Clone)]
pub struct Sampler {
    params: SamplingParams,
    rng: SplitMix64,
}

impl Sampler {
    /// A sampler seeded from `params.seed`.
    pub fn new(params: SamplingParams) -> Self {
        let rng = SplitMix64(params.seed);
        Sampler { params, rng }
    }

    /// Pick the next token from `logits`, given the tokens seen so far.
    pub fn next(&mut self, logits: &mut [f32], seen: &[u32]) -> u32 {
        let p = &self.params;
        if p.repetition_penalty != 1.0 {
            let penalty = p.repetition_penalty as f32;
            let mut penalised = std::collections::HashSet::new();
            for &id in seen {
                if let Some(l) = logits.get_mut(id as usize) {
                    if penalised.insert(id) {
                        *l = if *l > 0.0 { *l / penalty } else { *l * penalty };
                    }
                }
            }
        }
        if p.temperature <= 0.0 {
            return argmax(logits);
        }
        let inv_t = 1.0 / p.temperature as f32;
        let mut candidates: Vec<(u32, f32)> = logits.iter().enumerate().map(|(i, &l)| (i as u32, l * inv_t)).collect();
        // Sorting by logit (ties by id, so the order is deterministic).
        candidates.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        if p.top_k > 0 && p.top_k < candidates.len() {
            candidates.truncate(p.top_k);
        }
        let max = candidates[0].1;
        let mut probs: Vec<f64> = candidates.iter().map(|&(_, l)| ((l - max) as f64).exp()).collect();
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|x| *x /= total);
        if p.top_p < 1.0 {
            let mut mass = 0.0;
            let mut keep = probs.len();
            for (i, &x) in probs.iter().enumerate() {
                mass += x;
                if mass >= p.top_p {
                    keep = i + 1;
                    break;
                }
            }
            probs.truncate(keep);
            let total: f64 = probs.iter().sum();
            probs.iter_mut().for_each(|x| *x /= total);
        }
        let mut target = self.rng.next_f64();
        for (i, &x) in probs.iter().enumerate() {
            if target < x {
                return candidates[i].0;
            }
            target -= x;
        }
        candidates[probs.len() - 1].0
    }
}

/// Index of the largest value; the lowest index among equals.
pub fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best as u32
}

/// Steele, Lea and Flood's SplitMix64: small, fast, and fixed forever.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logits() -> Vec<f32> {
        vec![1.0, 3.0, 2.5, -1.0, 0.0, 2.9]
    }

    #[test]
    fn greedy_takes_the_largest_logit() {
        let mut sampler = Sampler::new(SamplingParams::default());
        assert_eq!(sampler.next(&mut logits(), &[]), 1);
    }

    #[test]
    fn repetition_penalty_demotes_seen_tokens() {
        let mut sampler = Sampler::new(SamplingParams { repetition_penalty: 2.0, ..Default::default() });
        // 3.0 / 2 = 1.5 < 2.9, so token 5 wins.
        assert_eq!(sampler.next(&mut logits(), &[1, 1]), 5);
    }

    #[test]
    fn top_k_one_is_greedy_whatever_the_temperature() {
        let mut sampler = Sampler::new(SamplingParams { temperature: 5.0, top_k: 1, seed: 9, ..Default::default() });
        for _ in 0..20 {
            assert_eq!(sampler.next(&mut logits(), &[]), 1);
        }
    }

    #[test]
    fn top_p_keeps_only_the_nucleus() {
        // Probabilities at t=1: token 1 ≈ 0.37, 5 ≈ 0.34, 2 ≈ 0.22; top_p 0.5 keeps {1, 5}.
        let mut sampler = Sampler::new(SamplingParams { temperature: 1.0, top_p: 0.5, seed: 3, ..Default::default() });
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.insert(sampler.next(&mut logits(), &[]));
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![1, 5]);
    }

    #[test]
    fn the_same_seed_gives_the_same_tokens() {
        let params = SamplingParams { temperature: 1.0, seed: 42, ..Default::default() };
        let draw = |params: &SamplingParams| {
            let mut sampler = Sampler::new(params.clone());
            (0..50).map(|_| sampler.next(&mut logits(), &[])).collect::<Vec<_>>()
        };
        assert_eq!(draw(&params), draw(&params));
        assert_ne!(draw(&params), draw(&SamplingParams { seed: 43, ..params.clone() }));
    }

    #[test]
    fn sampling_follows_the_distribution() {
        let mut sampler = Sampler::new(SamplingParams { temperature: 1.0, seed: 7, ..Default::default() });
        let n = 20_000;
        let hits = (0..n).filter(|_| sampler.next(&mut logits(), &[]) == 1).count() as f64 / n as f64;
        let l = logits();
        let expected = (3.0f64).exp() / l.iter().map(|&x| (x as f64).exp()).sum::<f64>();
        assert!((hits - expected).abs() < 0.015, "token 1 drawn {hits}, expected {expected}");
    }
}
