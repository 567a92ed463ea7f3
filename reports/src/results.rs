//! `results.json`: the versioned, machine-readable summary of one run.
//!
//! [`RunResults`] is what [`crate::analyze::analyze`] derives from the journal
//! (`records.jsonl`) and what every report renders. It is a public contract:
//! CI gates, dashboards and notebooks read it, so every field is documented
//! here and any incompatible change bumps [`RESULTS_SCHEMA_VERSION`].
//!
//! Counts are exhaustive by design: for every aggregate,
//! `valid + invalid + errors + missing == total`, so a score that could not be
//! computed or a request that failed is never silently dropped from a headline
//! number.

use serde::{Deserialize, Serialize};

/// Version of the `results.json` format. Readers should refuse versions they
/// do not know.
pub const RESULTS_SCHEMA_VERSION: u32 = 1;

/// The whole of `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    /// Always [`RESULTS_SCHEMA_VERSION`] when written by this version.
    pub schema_version: u32,
    /// Version of evalkit that wrote the file.
    pub evalkit_version: String,
    /// When, where and how the run happened.
    pub run: RunInfo,
    /// The suite as resolved for this run (defaults filled in, paths
    /// expanded), so the file alone says what was evaluated.
    pub suite: serde_json::Value,
    /// The variants (backend + model + prompt + parameters) compared, in suite order.
    pub variants: Vec<VariantInfo>,
    /// The metrics scored, in suite order.
    pub metrics: Vec<MetricInfo>,
    /// One entry per (variant, metric), variant-major, in the orders above.
    pub aggregates: Vec<Aggregate>,
    /// Token, latency and cost totals, one entry per variant, in variant order.
    pub usage: Vec<VariantUsage>,
}

impl RunResults {
    /// The aggregate for one (variant, metric) pair.
    pub fn aggregate(&self, variant: &str, metric: &str) -> Option<&Aggregate> {
        self.aggregates.iter().find(|a| a.variant == variant && a.metric == metric)
    }

    /// A metric's description, by name.
    pub fn metric(&self, name: &str) -> Option<&MetricInfo> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// A variant's usage totals, by name.
    pub fn usage(&self, variant: &str) -> Option<&VariantUsage> {
        self.usage.iter().find(|u| u.variant == variant)
    }

    /// Planned tasks that have no record yet, over all variants (0 for a
    /// complete run).
    pub fn missing_tasks(&self) -> u64 {
        let missing = |v: &VariantInfo| v.planned_tasks.saturating_sub(self.usage(&v.name).map_or(0, |u| u.tasks));
        self.variants.iter().map(missing).fold(0, u64::saturating_add)
    }
}

/// Identity and provenance of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Run id (also the name of the run's directory).
    pub id: String,
    /// The suite's name.
    pub suite_name: String,
    /// The suite's description, if it has one.
    pub suite_description: Option<String>,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// When the run finished (RFC 3339, UTC); `null` while it is still going or
    /// if it was interrupted.
    pub finished_at: Option<String>,
    /// Whether every planned task has a record. Computed by `analyze` from the
    /// records, whatever the caller passed.
    pub complete: bool,
    /// Seed for sampling and shuffling.
    pub seed: u64,
    /// How many times each (variant, sample) pair was asked.
    pub repeats: u32,
    /// Commit of the working directory the suite ran from, if it was a git
    /// checkout.
    pub git_commit: Option<String>,
    /// Host name of the machine that ran the suite.
    pub host: String,
}

/// One variant: a backend, a model, a prompt and generation parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantInfo {
    /// The variant's name (unique in a suite).
    pub name: String,
    /// Name of the backend entry in the suite.
    pub backend: String,
    /// The backend's implementation (`openai`, `anthropic`, `mock`, ...).
    pub backend_kind: String,
    /// Model identifier sent to the backend.
    pub model: String,
    /// Endpoint URL, for HTTP backends.
    pub endpoint: Option<String>,
    /// Name of the prompt template.
    pub prompt: String,
    /// The prompt's version label, if it has one.
    pub prompt_version: Option<String>,
    /// Generation parameters (temperature, max tokens, ...) as sent.
    pub params: serde_json::Value,
    /// Tasks planned for this variant: samples × repeats.
    pub planned_tasks: u64,
    /// How a local model ran: architecture, weights mode (`stored`, `f32`,
    /// `f16`) and block types, device, threads, load seconds, weight bytes and
    /// the process's peak resident memory. Absent for remote backends, and
    /// when `evalkit report` rebuilds results without running the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<serde_json::Value>,
}

/// How a metric's values are distributed; decides the statistics used.
/// Serialised names match the metrics crate's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// 0 or 1 per task (pass/fail): Wilson intervals when possible.
    Binary,
    /// Any real number: t intervals.
    Continuous,
}

/// Whether bigger values are better. Serialised names match the metrics crate's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Accuracy, F1, ...
    HigherIsBetter,
    /// Latency, cost, error rates, ...
    LowerIsBetter,
}

/// One metric as configured in the suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricInfo {
    /// The name scores are recorded under (unique in a suite).
    pub name: String,
    /// The metric's implementation (`exact_match`, `latency`, `cost`, ...).
    pub kind: String,
    /// Binary or continuous.
    pub scale: Scale,
    /// Whether bigger is better.
    pub direction: Direction,
    /// Unit of the values (`"s"`, `"USD"`), if any.
    pub unit: Option<String>,
    /// How the aggregate is pooled when it is not a mean of per-sample values:
    /// `"perplexity"` (see [`Aggregate::corpus`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<String>,
}

/// One metric's statistics for one variant.
///
/// Tasks are (sample, repeat) pairs. Repeats are averaged per sample first, so
/// `mean`, `std_dev`, `std_error` and `ci` describe the distribution of
/// per-sample means over `n_samples` samples. Invariant:
/// `valid + invalid + errors + missing == total`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    /// Variant name.
    pub variant: String,
    /// Metric name.
    pub metric: String,
    /// Samples with at least one valid score: the `n` of the statistics.
    pub n_samples: u64,
    /// Tasks with a valid (finite) score.
    pub valid: u64,
    /// Planned tasks (or recorded tasks, if more were recorded than planned).
    pub total: u64,
    /// Tasks whose request failed: no response, so no score.
    pub errors: u64,
    /// Tasks with a response whose score is `null` (could not be computed, or
    /// the metric was not recorded for it).
    pub invalid: u64,
    /// Planned tasks with no record yet (an interrupted or running run).
    pub missing: u64,
    /// Mean of the per-sample means; `null` when `n_samples == 0`.
    pub mean: Option<f64>,
    /// Sample standard deviation (`n - 1`) of the per-sample means; `null`
    /// when `n_samples < 2`.
    pub std_dev: Option<f64>,
    /// Standard error of `mean`; `null` when `n_samples < 2`.
    pub std_error: Option<f64>,
    /// Confidence interval for `mean`; `null` when `n_samples < 2`.
    pub ci: Option<ConfidenceInterval>,
    /// For perplexity metrics: the corpus figures pooled over every scored
    /// token of every sample (the per-sample `mean` above is a mean of
    /// per-text perplexities, which is not the same number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corpus: Option<CorpusPerplexity>,
}

/// Perplexity pooled over all scored tokens, as llama.cpp's perplexity tool reports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CorpusPerplexity {
    /// `exp(Σ NLL / Σ tokens)`.
    pub perplexity: f64,
    /// llama.cpp's standard error of the perplexity: `ppl × sqrt(var(NLL) / (tokens − 1))`,
    /// with the variance of per-token NLL (tokens treated as independent).
    pub std_error: Option<f64>,
    /// Mean negative log-likelihood per token, in nats.
    pub mean_nll: f64,
    /// Σ NLL / (ln 2 × Σ bytes): compression in bits per UTF-8 byte of the scored text.
    pub bits_per_byte: Option<f64>,
    /// `exp(Σ NLL / Σ words)`, words split on whitespace: comparable across tokenizers.
    pub word_perplexity: Option<f64>,
    /// Share of scored tokens that were the model's most likely token.
    pub top1_accuracy: f64,
    /// Tokens scored.
    pub tokens: u64,
    /// UTF-8 bytes of the scored tokens.
    pub bytes: u64,
    /// Words in the scored tokens.
    pub words: u64,
}

/// A two-sided confidence interval for a mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceInterval {
    /// Confidence level as a fraction (`0.95`).
    pub level: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
    /// How it was computed.
    pub method: CiMethod,
}

/// How a confidence interval was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CiMethod {
    /// Wilson score interval: a binary metric with one score per sample.
    Wilson,
    /// Student t interval on the per-sample means (`df = n_samples - 1`).
    T,
}

/// Resource use of one variant over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantUsage {
    /// Variant name.
    pub variant: String,
    /// Tasks recorded (responses + errors).
    pub tasks: u64,
    /// Tasks that got a response.
    pub responses: u64,
    /// Tasks whose request failed.
    pub errors: u64,
    /// Responses served from the response cache (included in the token and
    /// latency figures, which describe the responses, not this run's spend).
    pub cached: u64,
    /// Prompt tokens over all responses.
    pub input_tokens: u64,
    /// Generated tokens over all responses.
    pub output_tokens: u64,
    /// Median end-to-end latency in seconds; `null` without responses.
    pub latency_p50_seconds: Option<f64>,
    /// 90th percentile end-to-end latency in seconds.
    pub latency_p90_seconds: Option<f64>,
    /// 99th percentile end-to-end latency in seconds.
    pub latency_p99_seconds: Option<f64>,
    /// Sum of the valid values of the metric named `cost`, in USD; `null` when
    /// the suite has no such metric.
    pub cost_usd: Option<f64>,
    /// Prompt processing speed: input tokens / time to first token, over
    /// responses that measured it (for local models, prefill throughput).
    #[serde(default)]
    pub prompt_tokens_per_second: Option<f64>,
    /// Generation speed: tokens after the first / time spent generating them.
    #[serde(default)]
    pub generation_tokens_per_second: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_use_the_metrics_crate_names() {
        let names = serde_json::to_string(&(
            Scale::Binary,
            Scale::Continuous,
            Direction::HigherIsBetter,
            Direction::LowerIsBetter,
            CiMethod::Wilson,
            CiMethod::T,
        ))
        .unwrap();
        assert_eq!(names, r#"["binary","continuous","higher_is_better","lower_is_better","wilson","t"]"#);
    }

    #[test]
    fn optional_fields_are_written_as_null() {
        let usage = VariantUsage {
            variant: "a".into(),
            tasks: 0,
            responses: 0,
            errors: 0,
            cached: 0,
            input_tokens: 0,
            output_tokens: 0,
            latency_p50_seconds: None,
            latency_p90_seconds: None,
            latency_p99_seconds: None,
            cost_usd: None,
            prompt_tokens_per_second: None,
            generation_tokens_per_second: None,
        };
        let json = serde_json::to_value(&usage).unwrap();
        assert_eq!(json["cost_usd"], serde_json::Value::Null);
        assert_eq!(serde_json::from_value::<VariantUsage>(json).unwrap(), usage);
    }
}
