//! From the journal to `results.json`: counting, averaging and confidence
//! intervals per (variant, metric), and usage totals per variant.
//!
//! The rules, in the order they are applied:
//!
//! 1. Duplicate records of one task (same variant, sample and repeat; a
//!    resumed run may append a task again) collapse to the last one written.
//! 2. Every task is exactly one of: *valid* (a response with a finite score),
//!    *invalid* (a response whose score is null or absent), *error* (the request
//!    failed), or *missing* (planned but not recorded).
//! 3. Valid scores are averaged per sample over its repeats; the statistics
//!    describe those per-sample means, so a sample asked five times weighs no
//!    more than one asked once, and the spread reflects sample-to-sample
//!    variation rather than repeat noise.
//! 4. A binary metric with exactly one 0/1 score per sample gets a Wilson
//!    interval (integer counts); everything else gets a t interval. With fewer
//!    than two samples there is no interval.
//!
//! Records of variants not listed in the input, and scores of metrics not
//! listed, are outside the plan and not reported: the caller passes the
//! suite's full lists.

use std::collections::BTreeMap;

use crate::record::{Outcome, Record};
use crate::results::{
    Aggregate, CiMethod, ConfidenceInterval, CorpusPerplexity, MetricInfo, RunInfo, RunResults, Scale, VariantInfo,
    VariantUsage, RESULTS_SCHEMA_VERSION,
};
use crate::stats;

/// Confidence level of every interval in `results.json`.
pub const CI_LEVEL: f64 = 0.95;

/// Everything [`analyze`] needs: the plan (from the resolved suite) and the
/// journal.
#[derive(Debug, Clone)]
pub struct AnalysisInput<'a> {
    /// Run identity; `complete` is recomputed from the records.
    pub run: RunInfo,
    /// The resolved suite, copied into the results as-is.
    pub suite: serde_json::Value,
    /// Every variant of the suite, in suite order.
    pub variants: Vec<VariantInfo>,
    /// Every metric of the suite, in suite order.
    pub metrics: Vec<MetricInfo>,
    /// The journal, in the order it was written.
    pub records: &'a [Record],
}

/// Summarise a run's records. Never panics; any records (none, partial,
/// duplicated, inconsistent) give a well-formed result.
pub fn analyze(input: AnalysisInput<'_>) -> RunResults {
    let by_variant = tasks_by_variant(input.records);
    let no_tasks = Vec::new();
    let tasks_of = |variant: &VariantInfo| by_variant.get(variant.name.as_str()).unwrap_or(&no_tasks);

    let aggregates = input
        .variants
        .iter()
        .flat_map(|v| input.metrics.iter().map(move |m| (v, m)))
        .map(|(variant, metric)| aggregate(variant, metric, tasks_of(variant)))
        .collect();
    let cost_metric = cost_metric(&input.metrics);
    let usage = input.variants.iter().map(|v| usage(v, tasks_of(v), cost_metric)).collect();

    let complete = input.variants.iter().all(|v| tasks_of(v).len() as u64 >= v.planned_tasks);
    RunResults {
        schema_version: RESULTS_SCHEMA_VERSION,
        evalkit_version: env!("CARGO_PKG_VERSION").to_owned(),
        run: RunInfo { complete, ..input.run },
        suite: input.suite,
        variants: input.variants,
        metrics: input.metrics,
        aggregates,
        usage,
    }
}

/// The last record written of each task, keyed by (variant, sample, repeat).
pub(crate) fn latest_tasks(records: &[Record]) -> BTreeMap<(&str, &str, u32), &Record> {
    let mut latest = BTreeMap::new();
    for record in records {
        latest.insert((record.variant.as_str(), record.sample.as_str(), record.repeat), record);
    }
    latest
}

/// The last record of each task, grouped by variant and ordered by (sample, repeat).
fn tasks_by_variant(records: &[Record]) -> BTreeMap<&str, Vec<&Record>> {
    let mut by_variant: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
    for ((variant, _, _), record) in latest_tasks(records) {
        by_variant.entry(variant).or_default().push(record);
    }
    by_variant
}

/// The metric whose values are dollars: one of kind `cost`, else one named `cost`.
fn cost_metric(metrics: &[MetricInfo]) -> Option<&str> {
    let by_kind = metrics.iter().find(|m| m.kind == "cost");
    by_kind.or_else(|| metrics.iter().find(|m| m.name == "cost")).map(|m| m.name.as_str())
}

/// A task's valid score for `metric`, if it has one.
fn valid_score(record: &Record, metric: &str) -> Option<f64> {
    let score = record.scores.get(metric)?.value?;
    // JSON cannot carry NaN or infinity, but an in-memory record can.
    score.is_finite().then_some(score)
}

fn aggregate(variant: &VariantInfo, metric: &MetricInfo, tasks: &[&Record]) -> Aggregate {
    let (mut valid, mut invalid, mut errors) = (0u64, 0u64, 0u64);
    let mut per_sample: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for record in tasks {
        match &record.outcome {
            Outcome::Error(_) => errors += 1,
            Outcome::Response(_) => match valid_score(record, &metric.name) {
                Some(score) => {
                    valid += 1;
                    per_sample.entry(&record.sample).or_default().push(score);
                }
                None => invalid += 1,
            },
        }
    }
    let recorded = tasks.len() as u64;
    // More records than planned means the plan passed in is stale; widening
    // `total` keeps the counting invariant rather than hiding the extra tasks.
    let total = variant.planned_tasks.max(recorded);

    let sample_means: Vec<f64> = per_sample.values().filter_map(|s| stats::mean(s)).collect();
    let ci = interval(metric.scale, &per_sample, &sample_means);
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
        std_error: finite(stats::std_error(&sample_means)),
        ci,
        corpus: (metric.aggregate.as_deref() == Some("perplexity")).then(|| corpus_perplexity(metric, tasks)).flatten(),
    }
}

/// Pool the token sums that perplexity scores carry in their details.
/// Repeats of a sample score the same tokens, so only the first counts.
fn corpus_perplexity(metric: &MetricInfo, tasks: &[&Record]) -> Option<CorpusPerplexity> {
    let mut seen = std::collections::BTreeSet::new();
    let (mut tokens, mut nll, mut nll_sq, mut bytes, mut words, mut hits) = (0u64, 0.0, 0.0, 0u64, 0u64, 0u64);
    for record in tasks {
        let Some(score) = record.scores.get(&metric.name) else { continue };
        if score.value.is_none() || !seen.insert(record.sample.as_str()) {
            continue;
        }
        let number = |key: &str| score.details.get(key).and_then(serde_json::Value::as_f64);
        let count = |key: &str| score.details.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let (Some(t), Some(sum), Some(sq)) =
            (score.details.get("tokens").and_then(|v| v.as_u64()), number("nll_sum"), number("nll_sq_sum"))
        else {
            continue;
        };
        tokens += t;
        nll += sum;
        nll_sq += sq;
        bytes += count("bytes");
        words += count("words");
        hits += count("greedy_hits");
    }
    if tokens == 0 {
        return None;
    }
    let summary = stats::perplexity(nll, nll_sq, tokens)?;
    Some(CorpusPerplexity {
        perplexity: summary.perplexity,
        std_error: summary.std_error,
        mean_nll: summary.mean_nll,
        bits_per_byte: (bytes > 0).then(|| nll / (std::f64::consts::LN_2 * bytes as f64)),
        word_perplexity: (words > 0).then(|| (nll / words as f64).exp()),
        top1_accuracy: hits as f64 / tokens as f64,
        tokens,
        bytes,
        words,
    })
}

/// Drops a statistic that overflowed (scores near `f64::MAX`): JSON cannot
/// carry infinity, and `null` already means "no value".
fn finite(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite())
}

/// Wilson when every sample contributes one 0/1 score (the data are then
/// Bernoulli counts); t on the per-sample means otherwise. `None` below two
/// samples: one observation says nothing about spread.
fn interval(scale: Scale, per_sample: &BTreeMap<&str, Vec<f64>>, sample_means: &[f64]) -> Option<ConfidenceInterval> {
    let n = sample_means.len() as u64;
    if n < 2 {
        return None;
    }
    let counts =
        scale == Scale::Binary && per_sample.values().all(|s| matches!(s.as_slice(), [v] if *v == 0.0 || *v == 1.0));
    let (method, bounds) = if counts {
        let successes = sample_means.iter().filter(|&&v| v == 1.0).count() as u64;
        (CiMethod::Wilson, stats::wilson_interval(successes, n, CI_LEVEL)?)
    } else {
        (CiMethod::T, stats::t_interval(sample_means, CI_LEVEL)?)
    };
    Some(ConfidenceInterval { level: CI_LEVEL, low: bounds.low, high: bounds.high, method })
}

fn usage(variant: &VariantInfo, tasks: &[&Record], cost_metric: Option<&str>) -> VariantUsage {
    let responses: Vec<_> = tasks.iter().filter_map(|r| r.outcome.response()).collect();
    let mut latencies: Vec<f64> = responses.iter().map(|r| r.e2e_seconds).filter(|s| s.is_finite()).collect();
    latencies.sort_by(f64::total_cmp);
    let cost_usd = cost_metric.map(|metric| tasks.iter().filter_map(|r| valid_score(r, metric)).sum::<f64>());
    VariantUsage {
        variant: variant.name.clone(),
        tasks: tasks.len() as u64,
        responses: responses.len() as u64,
        errors: (tasks.len() - responses.len()) as u64,
        cached: tasks.iter().filter(|r| r.cached).count() as u64,
        // Saturating: a corrupt journal must not overflow (a panic in debug builds).
        input_tokens: responses.iter().fold(0, |sum: u64, r| sum.saturating_add(r.input_tokens)),
        output_tokens: responses.iter().fold(0, |sum: u64, r| sum.saturating_add(r.output_tokens)),
        latency_p50_seconds: stats::percentile(&latencies, 50.0),
        latency_p90_seconds: stats::percentile(&latencies, 90.0),
        latency_p99_seconds: stats::percentile(&latencies, 99.0),
        cost_usd,
        prompt_tokens_per_second: rate(responses.iter().filter_map(|r| Some((r.input_tokens as f64, r.ttft_seconds?)))),
        generation_tokens_per_second: rate(responses.iter().filter_map(|r| {
            let steps = r.output_tokens.checked_sub(1).filter(|&s| s > 0)?;
            Some((steps as f64, r.inter_token_seconds? * steps as f64))
        })),
    }
}

/// Σ amount / Σ seconds, when any time was measured.
fn rate(pairs: impl Iterator<Item = (f64, f64)>) -> Option<f64> {
    let (amount, seconds) = pairs.fold((0.0, 0.0), |(a, s), (x, t)| (a + x, s + t));
    (seconds > 0.0 && seconds.is_finite()).then(|| amount / seconds)
}

#[cfg(test)]
mod tests;
