//! One metric's statistics for one variant: counts, the mean of per-sample
//! means with its interval, the median, repeat statistics and, for
//! perplexity, the corpus figures.

use std::collections::{BTreeMap, BTreeSet};

use super::samples::SampleScores;
use super::CI_LEVEL;
use evalkit_record::journal::{Outcome, Record};
use evalkit_record::results::{
    Aggregate, CiMethod, ConfidenceInterval, CorpusPerplexity, KValue, MetricInfo, RepeatStats, Scale, VariantInfo,
};
use evalkit_stats::{self as stats, Interval};

/// What every aggregate of a run shares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// Repeats per sample asked for by the suite.
    pub(crate) repeats: u32,
    /// Seed of the bootstrap resampling (the suite's seed).
    pub(crate) seed: u64,
}

pub(crate) fn aggregate(
    variant: &VariantInfo,
    metric: &MetricInfo,
    tasks: &[&Record],
    settings: Settings,
) -> Aggregate {
    let (mut valid, mut invalid, mut errors) = (0u64, 0u64, 0u64);
    let mut invalid_causes: BTreeMap<String, u64> = BTreeMap::new();
    for record in tasks {
        match &record.outcome {
            Outcome::Error(_) => errors += 1,
            Outcome::Response(_) => match super::samples::valid_score(record, &metric.name) {
                Some(_) => valid += 1,
                None => {
                    invalid += 1;
                    let cause = match record.scores.get(&metric.name) {
                        None => "not scored".to_owned(),
                        Some(score) => score.cause.clone().unwrap_or_else(|| "no value".to_owned()),
                    };
                    *invalid_causes.entry(cause).or_default() += 1;
                }
            },
        }
    }
    let recorded = tasks.len() as u64;
    // More records than planned means the plan passed in is stale; widening
    // `total` keeps the counting invariant rather than hiding the extra tasks.
    let total = variant.planned_tasks.max(recorded);

    let samples = SampleScores::collect(tasks, &metric.name);
    let sample_means: Vec<f64> = samples.means().into_values().collect();
    let spread = spread(metric.scale, &samples, &sample_means);
    let mut sorted = sample_means.clone();
    sorted.sort_by(f64::total_cmp);
    Aggregate {
        variant: variant.name.clone(),
        metric: metric.name.clone(),
        n_samples: sample_means.len() as u64,
        valid,
        total,
        errors,
        invalid,
        missing: total - recorded,
        mean: finite(stats::mean(&sample_means)),
        std_dev: finite(stats::std_dev(&sample_means)),
        std_error: spread.as_ref().and_then(|s| finite(Some(s.std_error))),
        ci: spread.as_ref().and_then(|s| s.ci),
        median: finite(stats::percentile(&sorted, 50.0)),
        median_ci: median_interval(&sample_means, settings.seed),
        clusters: spread.as_ref().and_then(|s| s.clusters),
        repeats: (settings.repeats > 1).then(|| repeat_stats(metric.scale, &samples, settings.repeats)),
        invalid_causes,
        corpus: (metric.aggregate.as_deref() == Some("perplexity"))
            .then(|| corpus_perplexity(metric, tasks, settings.seed))
            .flatten(),
    }
}

/// The standard error and interval of the mean, and the cluster count when
/// they are cluster-robust.
struct Spread {
    std_error: f64,
    ci: Option<ConfidenceInterval>,
    clusters: Option<u64>,
}

/// Cluster-robust when every sample names a cluster and there are at least
/// two (several questions about one document are not independent, and
/// treating them so understates the error); otherwise Wilson when every
/// sample contributes one 0/1 score (Bernoulli counts), else t on the
/// per-sample means. `None` below two samples: one observation says nothing
/// about spread.
fn spread(scale: Scale, samples: &SampleScores<'_>, sample_means: &[f64]) -> Option<Spread> {
    let n = sample_means.len() as u64;
    if n < 2 {
        return None;
    }
    let ci =
        |method, bounds: Interval| ConfidenceInterval { level: CI_LEVEL, low: bounds.low, high: bounds.high, method };
    if let Some(clusters) = samples.cluster_list() {
        if let Some(clustered) = stats::clustered_mean(sample_means, &clusters) {
            let bounds = stats::t_interval_from_summary(clustered.mean, clustered.std_error, clustered.df, CI_LEVEL);
            return Some(Spread {
                std_error: clustered.std_error,
                ci: bounds.map(|b| ci(CiMethod::ClusteredT, b)),
                clusters: Some(clustered.clusters as u64),
            });
        }
    }
    let std_error = stats::std_error(sample_means)?;
    let bounds = if scale == Scale::Binary && samples.is_single_pass_fail() {
        let successes = sample_means.iter().filter(|&&v| v == 1.0).count() as u64;
        stats::wilson_interval(successes, n, CI_LEVEL).map(|b| ci(CiMethod::Wilson, b))
    } else {
        stats::t_interval(sample_means, CI_LEVEL).map(|b| ci(CiMethod::T, b))
    };
    Some(Spread { std_error, ci: bounds, clusters: None })
}

/// Percentile-bootstrap interval of the median of the per-sample means.
fn median_interval(sample_means: &[f64], seed: u64) -> Option<ConfidenceInterval> {
    if sample_means.len() < 2 {
        return None;
    }
    let median = |indices: &[usize]| {
        let mut picked: Vec<f64> = indices.iter().map(|&i| sample_means[i]).collect();
        picked.sort_by(f64::total_cmp);
        stats::percentile(&picked, 50.0)
    };
    let bounds = stats::bootstrap_interval(sample_means.len(), median, stats::DEFAULT_RESAMPLES, CI_LEVEL, seed)?;
    Some(ConfidenceInterval { level: CI_LEVEL, low: bounds.low, high: bounds.high, method: CiMethod::Bootstrap })
}

/// Flakiness over samples with at least two valid repeats and, for pass/fail
/// metrics, pass@k and pass^k averaged over the samples with at least k.
fn repeat_stats(scale: Scale, samples: &SampleScores<'_>, repeats: u32) -> RepeatStats {
    let repeated: Vec<&Vec<f64>> = samples.scores.values().filter(|s| s.len() >= 2).collect();
    let flaky = repeated.iter().filter(|s| s.iter().any(|v| *v != s[0])).count() as u64;
    let pass_fail = scale == Scale::Binary && samples.scores.values().flatten().all(|v| *v == 0.0 || *v == 1.0);
    let at_k = |estimate: fn(u64, u64, u64) -> Option<f64>| -> Vec<KValue> {
        if !pass_fail {
            return Vec::new();
        }
        (1..=repeats)
            .filter_map(|k| {
                let values: Vec<f64> = samples
                    .scores
                    .values()
                    .filter_map(|s| estimate(s.len() as u64, s.iter().filter(|v| **v == 1.0).count() as u64, k.into()))
                    .collect();
                Some(KValue { k, value: stats::mean(&values)? })
            })
            .collect()
    };
    RepeatStats {
        repeats,
        samples: repeated.len() as u64,
        flaky_samples: flaky,
        flakiness: (!repeated.is_empty()).then(|| flaky as f64 / repeated.len() as f64),
        pass_at_k: at_k(stats::pass_at_k),
        pass_hat_k: at_k(stats::pass_hat_k),
    }
}

/// One text's token sums, as its perplexity score's details carry them.
#[derive(Debug, Clone, Copy, Default)]
struct TokenSums {
    tokens: u64,
    nll: f64,
    nll_sq: f64,
    bytes: u64,
    words: u64,
    hits: u64,
}

impl std::ops::AddAssign for TokenSums {
    fn add_assign(&mut self, other: TokenSums) {
        self.tokens += other.tokens;
        self.nll += other.nll;
        self.nll_sq += other.nll_sq;
        self.bytes += other.bytes;
        self.words += other.words;
        self.hits += other.hits;
    }
}

/// Pool the token sums that perplexity scores carry in their details.
/// Repeats of a sample score the same tokens, so only the first counts.
/// With two texts or more, the perplexity gets a bootstrap interval over texts.
fn corpus_perplexity(metric: &MetricInfo, tasks: &[&Record], seed: u64) -> Option<CorpusPerplexity> {
    let mut seen = BTreeSet::new();
    let mut texts = Vec::new();
    for record in tasks {
        let Some(score) = record.scores.get(&metric.name) else { continue };
        if score.value.is_none() || !seen.insert(record.sample.as_str()) {
            continue;
        }
        let number = |key: &str| score.details.get(key).and_then(serde_json::Value::as_f64);
        let count = |key: &str| score.details.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let (Some(tokens), Some(nll), Some(nll_sq)) =
            (score.details.get("tokens").and_then(|v| v.as_u64()), number("nll_sum"), number("nll_sq_sum"))
        else {
            continue;
        };
        let (bytes, words, hits) = (count("bytes"), count("words"), count("greedy_hits"));
        texts.push(TokenSums { tokens, nll, nll_sq, bytes, words, hits });
    }
    let mut all = TokenSums::default();
    for text in &texts {
        all += *text;
    }
    if all.tokens == 0 {
        return None;
    }
    let summary = stats::perplexity(all.nll, all.nll_sq, all.tokens)?;
    let ci = (texts.len() >= 2)
        .then(|| {
            let pooled = |indices: &[usize]| {
                let (nll, tokens) =
                    indices.iter().fold((0.0, 0u64), |(n, t), &i| (n + texts[i].nll, t + texts[i].tokens));
                (tokens > 0).then(|| (nll / tokens as f64).exp())
            };
            stats::bootstrap_interval(texts.len(), pooled, stats::DEFAULT_RESAMPLES, CI_LEVEL, seed)
        })
        .flatten()
        .map(|b| ConfidenceInterval { level: CI_LEVEL, low: b.low, high: b.high, method: CiMethod::Bootstrap });
    Some(CorpusPerplexity {
        perplexity: summary.perplexity,
        std_error: summary.std_error,
        mean_nll: summary.mean_nll,
        bits_per_byte: (all.bytes > 0).then(|| all.nll / (std::f64::consts::LN_2 * all.bytes as f64)),
        word_perplexity: (all.words > 0).then(|| (all.nll / all.words as f64).exp()),
        top1_accuracy: all.hits as f64 / all.tokens as f64,
        tokens: all.tokens,
        bytes: all.bytes,
        words: all.words,
        ci,
    })
}

/// Drops a statistic that overflowed (scores near `f64::MAX`): JSON cannot
/// carry infinity, and `null` already means "no value".
pub(crate) fn finite(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite())
}
