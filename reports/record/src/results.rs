//! `results.json`: the versioned, machine-readable summary of one run.
//!
//! [`RunResults`] is what `evalkit_reports::analyze` derives from the journal
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
    /// Paired comparisons of each other variant with the baseline variant, one
    /// per (candidate, metric), candidate-major. Empty with one variant.
    #[serde(default)]
    pub comparisons: Vec<Comparison>,
    /// The suite's gates and how each ended, in suite order. Empty when the
    /// suite has none.
    #[serde(default)]
    pub gates: Vec<GateResult>,
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

    /// The comparison of `candidate` with the baseline on `metric`.
    pub fn comparison(&self, candidate: &str, metric: &str) -> Option<&Comparison> {
        self.comparisons.iter().find(|c| c.candidate == candidate && c.metric == metric)
    }

    /// Whether every gate passed (true when there are none).
    pub fn gates_passed(&self) -> bool {
        self.gates.iter().all(|g| g.status != GateStatus::Failed)
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
    /// The backend's kind (`openai`, `local`), or `unknown` when the suite no longer names the backend.
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
    /// the process's peak resident memory, as `runtime.json` in the run folder
    /// recorded it. Absent for remote backends, and for a local model that
    /// never loaded (every answer came from the cache).
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
    /// Median of the per-sample means; `null` when `n_samples == 0`.
    #[serde(default)]
    pub median: Option<f64>,
    /// Seeded percentile-bootstrap interval for `median`; `null` below two samples.
    #[serde(default)]
    pub median_ci: Option<ConfidenceInterval>,
    /// Clusters among the valid samples, when the dataset names a cluster
    /// field; `std_error` and `ci` are then cluster-robust.
    #[serde(default)]
    pub clusters: Option<u64>,
    /// Repeat statistics, when the suite asks each sample more than once.
    #[serde(default)]
    pub repeats: Option<RepeatStats>,
    /// Why scores were invalid: cause → count (e.g. `"no number in the
    /// answer": 3`), so a NaN is never a silent gap.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub invalid_causes: std::collections::BTreeMap<String, u64>,
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
    /// Seeded percentile-bootstrap interval for `perplexity`, resampling
    /// texts (samples); `null` with fewer than two texts.
    #[serde(default)]
    pub ci: Option<ConfidenceInterval>,
}

/// How a metric behaves across repeats of the same sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepeatStats {
    /// Repeats per sample asked for by the suite.
    pub repeats: u32,
    /// Samples with at least two valid repeats, the base of the figures below.
    pub samples: u64,
    /// Samples whose repeats did not all score the same.
    pub flaky_samples: u64,
    /// `flaky_samples / samples`.
    pub flakiness: Option<f64>,
    /// For pass/fail metrics: unbiased pass@k (at least one of k attempts
    /// passes), averaged over samples, for k = 1 … repeats.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_at_k: Vec<KValue>,
    /// For pass/fail metrics: pass^k (all of k attempts pass), averaged over samples.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_hat_k: Vec<KValue>,
}

/// A value at one `k`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KValue {
    /// Attempts.
    pub k: u32,
    /// The estimate.
    pub value: f64,
}

/// A paired comparison of a candidate variant with the baseline variant on
/// one metric, over the samples both scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Metric name.
    pub metric: String,
    /// The variant compared against.
    pub baseline: String,
    /// The variant being judged.
    pub candidate: String,
    /// Samples with a valid score under both variants (repeats averaged first).
    pub pairs: u64,
    /// Mean of the baseline over the pairs.
    pub baseline_mean: Option<f64>,
    /// Mean of the candidate over the pairs.
    pub candidate_mean: Option<f64>,
    /// Mean paired difference, candidate − baseline, in the metric's units.
    pub difference: Option<f64>,
    /// Student t interval of the paired differences; `null` below two pairs.
    pub ci: Option<ConfidenceInterval>,
    /// The significance test used.
    pub test: TestKind,
    /// Two-sided p-value of "no difference".
    pub p_value: Option<f64>,
    /// When `p_value` comes from random sign patterns (`test` is
    /// `sign_flip_monte_carlo`): its Monte Carlo standard error,
    /// `sqrt(p (1 − p) / resamples)`; absent for exact and closed-form tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value_mc_se: Option<f64>,
    /// `p_value` after Holm's correction over every comparison in the report.
    pub p_adjusted: Option<f64>,
    /// Cohen's d_z: mean difference / standard deviation of the differences.
    pub effect_size: Option<f64>,
    /// For pass/fail metrics: pairs that pass only under the baseline and
    /// only under the candidate (what McNemar's test looks at).
    #[serde(default)]
    pub discordant: Option<Discordant>,
    /// The smallest true difference this many pairs detect with 80% power at
    /// the 5% level (normal approximation); a difference below it can hide
    /// in the noise.
    pub minimum_detectable_difference: Option<f64>,
    /// The call, accounting for the metric's direction and Holm's correction.
    pub verdict: Verdict,
}

/// Counts of discordant pairs of a pass/fail metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discordant {
    /// Passed under the baseline, failed under the candidate.
    pub baseline_only: u64,
    /// Failed under the baseline, passed under the candidate.
    pub candidate_only: u64,
}

/// Which test produced a comparison's p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestKind {
    /// McNemar's exact binomial test on the discordant pairs.
    McnemarExact,
    /// McNemar's chi-square test with continuity correction. No longer
    /// written: evalkit used it from 25 discordant pairs on before McNemar's
    /// test became exact at every size; kept so that older results still load.
    McnemarChiSquare,
    /// Paired sign-flip permutation test, exact: every sign pattern counted,
    /// by the exact distribution of the sum when the differences are multiples
    /// of one step (pass/fail differences, means of repeats, scores with few
    /// decimals) or by enumeration (at most 16 pairs).
    SignFlipExact,
    /// Paired sign-flip permutation test on seeded random sign patterns; the
    /// p-value's standard error is in `p_value_mc_se`.
    SignFlipMonteCarlo,
    /// Paired t-test of the mean difference (`[report] paired_test = "t"`).
    PairedT,
    /// Wilcoxon signed-rank test, exact null distribution (`[report]
    /// paired_test = "wilcoxon"`; scipy's rule: at most 50 pairs without ties
    /// or zero differences, at most 13 with them).
    WilcoxonExact,
    /// Wilcoxon signed-rank test, normal approximation with the tie
    /// correction (`[report] paired_test = "wilcoxon"`, more pairs).
    WilcoxonNormal,
    /// Too few pairs for any test.
    None,
}

/// How a comparison or regression check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significantly better, in the metric's direction.
    Improved,
    /// Significantly worse (for a regression gate: worse by more than the margin).
    Regressed,
    /// No difference the data can tell from noise.
    NoSignificantChange,
    /// Too few pairs to test.
    NotEnoughData,
}

impl Verdict {
    /// How people read it: `improved`, `regressed`, `no significant change`, `not enough data`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Improved => "improved",
            Verdict::Regressed => "regressed",
            Verdict::NoSignificantChange => "no significant change",
            Verdict::NotEnoughData => "not enough data",
        }
    }
}

/// One gate of the suite, evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// The gate's name (from the suite, or made from what it checks).
    pub name: String,
    /// Metric checked.
    pub metric: String,
    /// Variant checked.
    pub variant: String,
    /// Passed or failed.
    pub status: GateStatus,
    /// For regression gates: how the comparison with the baseline ended.
    #[serde(default)]
    pub verdict: Option<Verdict>,
    /// The figure compared with the threshold (a mean, a bound, a percentile,
    /// a difference), when there was one.
    pub observed: Option<f64>,
    /// One sentence saying what was checked and why it passed or failed.
    pub message: String,
    /// Caveats that do not fail the gate (a sample too small to detect the margin).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Whether a gate held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateStatus {
    /// The condition holds.
    Passed,
    /// The condition does not hold, or there was no data to check it on.
    Failed,
}

/// A two-sided confidence interval: of a mean, a median, a difference or a corpus perplexity.
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
    /// Student t interval with a cluster-robust standard error (`df = clusters - 1`).
    ClusteredT,
    /// Seeded percentile bootstrap.
    Bootstrap,
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
    /// 90th percentile end-to-end latency in seconds; `null` without responses.
    pub latency_p90_seconds: Option<f64>,
    /// 99th percentile end-to-end latency in seconds; `null` without responses.
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
    fn test_kinds_keep_their_names_including_retired_ones() {
        // Older results.json files name tests evalkit no longer runs; they
        // must still load.
        for (kind, name) in [
            (TestKind::McnemarExact, "mcnemar_exact"),
            (TestKind::McnemarChiSquare, "mcnemar_chi_square"),
            (TestKind::SignFlipExact, "sign_flip_exact"),
            (TestKind::SignFlipMonteCarlo, "sign_flip_monte_carlo"),
            (TestKind::PairedT, "paired_t"),
            (TestKind::WilcoxonExact, "wilcoxon_exact"),
            (TestKind::WilcoxonNormal, "wilcoxon_normal"),
            (TestKind::None, "none"),
        ] {
            let json = format!("\"{name}\"");
            assert_eq!(serde_json::to_string(&kind).unwrap(), json);
            assert_eq!(serde_json::from_str::<TestKind>(&json).unwrap(), kind);
        }
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
