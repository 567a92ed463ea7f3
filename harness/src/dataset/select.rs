//! Seeded choices over samples: random subsets and few-shot draws.
//!
//! Choices rank rows by a hash of (seed, purpose, id) rather than by shuffling
//! with a PRNG: the same seed picks the same rows on every machine and every
//! evalkit version, and adding rows to a dataset does not reshuffle the rows
//! already chosen.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::Sample;

/// A pseudo-random rank for `id`, fixed by `seed` and `purpose`.
pub fn stable_rank(seed: u64, purpose: &str, id: &str) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(seed.to_le_bytes());
    hasher.update(purpose.as_bytes());
    hasher.update([0]);
    hasher.update(id.as_bytes());
    let digest = hasher.finalize();
    u64::from_le_bytes(digest[..8].try_into().unwrap_or([0; 8]))
}

/// `count` samples chosen by seed, kept in file order.
pub(super) fn seeded_subset(samples: Vec<Sample>, count: usize, seed: u64, dataset: &str) -> Vec<Sample> {
    if count >= samples.len() {
        return samples;
    }
    let purpose = format!("sample:{dataset}");
    let mut ranked: Vec<(u64, usize)> =
        samples.iter().enumerate().map(|(i, s)| (stable_rank(seed, &purpose, &s.id), i)).collect();
    ranked.sort_unstable();
    let mut keep: Vec<usize> = ranked.into_iter().take(count).map(|(_, i)| i).collect();
    keep.sort_unstable();
    let mut keep = keep.into_iter().peekable();
    samples
        .into_iter()
        .enumerate()
        .filter_map(|(i, s)| {
            (keep.peek() == Some(&i)).then(|| {
                keep.next();
                s
            })
        })
        .collect()
}

/// Few-shot examples for one sample: never the sample itself.
/// `random` draws per sample by seed; otherwise the pool's first rows.
pub fn few_shot_examples<'a>(
    pool: &'a [Sample],
    sample_id: &str,
    count: usize,
    random: bool,
    seed: u64,
) -> Vec<&'a Map<String, Value>> {
    let candidates = pool.iter().filter(|s| s.id != sample_id);
    if !random {
        return candidates.take(count).map(|s| &s.fields).collect();
    }
    let purpose = format!("few-shot:{sample_id}");
    let mut ranked: Vec<(u64, &Sample)> = candidates.map(|s| (stable_rank(seed, &purpose, &s.id), s)).collect();
    ranked.sort_unstable_by_key(|(rank, _)| *rank);
    ranked.into_iter().take(count).map(|(_, s)| &s.fields).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Position;

    fn samples(n: usize) -> Vec<Sample> {
        (0..n).map(|i| Sample { id: i.to_string(), fields: Map::new(), position: Position::Line(i + 1) }).collect()
    }

    #[test]
    fn subset_is_stable_when_rows_are_added() {
        let small = seeded_subset(samples(50), 10, 3, "d");
        let large = seeded_subset(samples(51), 10, 3, "d");
        let overlap = small.iter().filter(|s| large.contains(s)).count();
        assert!(overlap >= 9, "adding one row changed {} of 10 choices", 10 - overlap);
        assert!(small.windows(2).all(|w| w[0].position.to_string() < w[1].position.to_string()
            || w[0].id.parse::<u32>().unwrap() < w[1].id.parse::<u32>().unwrap()));
    }

    #[test]
    fn few_shot_never_includes_the_sample() {
        let pool = samples(5);
        for random in [false, true] {
            let chosen = few_shot_examples(&pool, "0", 4, random, 1);
            assert_eq!(chosen.len(), 4);
        }
        let fixed = few_shot_examples(&pool, "0", 2, false, 1);
        assert_eq!(fixed.len(), 2);
    }
}
