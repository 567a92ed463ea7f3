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
//! 4. When every sample names a cluster and there are two clusters or more,
//!    the standard error and interval are cluster-robust. Otherwise a binary
//!    metric with exactly one 0/1 score per sample gets a Wilson interval
//!    (integer counts), and everything else a t interval. With fewer than two
//!    samples there is no interval. Medians and corpus perplexities get seeded
//!    bootstrap intervals.
//! 5. Each other variant is compared with the baseline variant on every
//!    metric, paired by sample ([`compare`]), with McNemar's exact test for
//!    pass/fail metrics and the suite's [`PairedTest`] for the others.
//!
//! Records of variants not listed in the input, and scores of metrics not
//! listed, are outside the plan and not reported: the caller passes the
//! suite's full lists.

use std::collections::BTreeMap;

mod aggregate;
pub mod compare;
mod samples;

use aggregate::Settings;
pub use compare::PairedTest;
pub use samples::sample_means;
use samples::valid_score;

use evalkit_record::journal::{latest_indices, Record};
use evalkit_record::results::{MetricInfo, RunInfo, RunResults, VariantInfo, VariantUsage, RESULTS_SCHEMA_VERSION};
use evalkit_stats as stats;

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
    /// The variant the others are compared with; `None`: the first one.
    pub baseline: Option<String>,
    /// The test of the paired differences of metrics that are not pass/fail
    /// (`[report] paired_test`).
    pub paired_test: PairedTest,
}

/// Summarise a run's records. Never panics; any records (none, partial,
/// duplicated, inconsistent) give a well-formed result. Gates are left empty:
/// they need the suite's gate list and baseline files ([`crate::gates`]).
pub fn analyze(input: AnalysisInput<'_>) -> RunResults {
    let by_variant = tasks_by_variant(input.records);
    let no_tasks = Vec::new();
    let tasks_of = |variant: &VariantInfo| by_variant.get(variant.name.as_str()).unwrap_or(&no_tasks);
    let settings = Settings { repeats: input.run.repeats, seed: input.run.seed };

    let aggregates = input
        .variants
        .iter()
        .flat_map(|v| input.metrics.iter().map(move |m| (v, m)))
        .map(|(variant, metric)| aggregate::aggregate(variant, metric, tasks_of(variant), settings))
        .collect();
    let cost_metric = cost_metric(&input.metrics);
    let usage = input.variants.iter().map(|v| usage(v, tasks_of(v), cost_metric)).collect();

    let baseline = input
        .baseline
        .as_deref()
        .filter(|name| input.variants.iter().any(|v| v.name == *name))
        .or_else(|| input.variants.first().map(|v| v.name.as_str()));
    let comparisons = match baseline {
        Some(baseline) => {
            let candidates: Vec<&str> =
                input.variants.iter().map(|v| v.name.as_str()).filter(|name| *name != baseline).collect();
            compare::comparisons(&input.metrics, baseline, &candidates, &by_variant, input.paired_test, settings.seed)
        }
        None => Vec::new(),
    };

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
        comparisons,
        gates: Vec::new(),
    }
}

/// The last record written of each task, keyed by (variant, sample, repeat).
pub(crate) fn latest_tasks(records: &[Record]) -> BTreeMap<(&str, &str, u32), &Record> {
    latest_indices(records)
        .into_iter()
        .map(|i| &records[i])
        .map(|record| ((record.variant.as_str(), record.sample.as_str(), record.repeat), record))
        .collect()
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

fn usage(variant: &VariantInfo, tasks: &[&Record], cost_metric: Option<&str>) -> VariantUsage {
    let responses: Vec<_> = tasks.iter().filter_map(|r| r.outcome.response()).collect();
    let mut latencies: Vec<f64> = responses.iter().map(|r| r.timing.e2e_seconds).filter(|s| s.is_finite()).collect();
    latencies.sort_by(f64::total_cmp);
    let cost_usd = cost_metric.map(|metric| tasks.iter().filter_map(|r| valid_score(r, metric)).sum::<f64>());
    VariantUsage {
        variant: variant.name.clone(),
        tasks: tasks.len() as u64,
        responses: responses.len() as u64,
        errors: (tasks.len() - responses.len()) as u64,
        cached: tasks.iter().filter(|r| r.cached).count() as u64,
        // Saturating: a corrupt journal must not overflow (a panic in debug builds).
        input_tokens: responses.iter().fold(0, |sum: u64, r| sum.saturating_add(r.usage.input_tokens)),
        output_tokens: responses.iter().fold(0, |sum: u64, r| sum.saturating_add(r.usage.output_tokens)),
        latency_p50_seconds: stats::percentile(&latencies, 50.0),
        latency_p90_seconds: stats::percentile(&latencies, 90.0),
        latency_p99_seconds: stats::percentile(&latencies, 99.0),
        cost_usd,
        prompt_tokens_per_second: rate(
            responses.iter().filter_map(|r| Some((r.usage.input_tokens as f64, r.timing.ttft_seconds?))),
        ),
        generation_tokens_per_second: rate(responses.iter().filter_map(|r| {
            let steps = r.usage.output_tokens.checked_sub(1).filter(|&s| s > 0)?;
            Some((steps as f64, r.timing.inter_token_seconds? * steps as f64))
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
