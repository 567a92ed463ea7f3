//! The suite file as written: the serde shapes of `suite.toml`.
//!
//! Every key is documented here once; docs/suite.md mirrors these comments.
//! Nothing in this file checks references between sections: that is
//! [`super::check`]'s job, which turns a [`SuiteFile`] into a checked
//! [`super::Suite`].

use std::collections::BTreeMap;

use evalkit_metrics::{MetricConfig, Price};
use serde::{Deserialize, Serialize};

/// A whole `suite.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteFile {
    /// `[suite]`: name, description, seed.
    pub suite: SuiteSection,
    /// `[datasets.<name>]`: the data the suite runs on, and few-shot pools.
    #[serde(default)]
    pub datasets: BTreeMap<String, DatasetSpec>,
    /// `[prompts.<name>]`: templates that turn a sample into a prompt.
    #[serde(default)]
    pub prompts: BTreeMap<String, PromptSpec>,
    /// `[backends.<name>]`: models to call.
    #[serde(default)]
    pub backends: BTreeMap<String, BackendSpec>,
    /// `[[variants]]`: what is compared side by side (prompt × backend × parameters).
    #[serde(default)]
    pub variants: Vec<VariantSpec>,
    /// `[[metrics]]`: how answers are scored.
    #[serde(default)]
    pub metrics: Vec<MetricConfig>,
    /// `[prices."<model>"]`: USD per million tokens, for the `cost` metric.
    #[serde(default)]
    pub prices: BTreeMap<String, Price>,
    /// `[run]`: repeats, concurrency, retries, timeouts, error budget.
    #[serde(default)]
    pub run: RunSpec,
}

/// `[suite]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteSection {
    /// Name of the suite; runs are stored under `runs/<name>/`.
    pub name: String,
    /// One line about what the suite measures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Seed for every random choice (dataset sampling, few-shot draws). Default 0.
    #[serde(default)]
    pub seed: u64,
    /// Which dataset is evaluated. Optional when the suite defines exactly one
    /// dataset that is not only a few-shot pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
}

/// `[datasets.<name>]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// Path to a `.jsonl`, `.csv` or `.parquet` file, relative to the suite file.
    pub path: String,
    /// `jsonl`, `csv` or `parquet`. Default: from the file extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<DatasetFormat>,
    /// Field holding a stable sample id. Default: `id` if every row has one,
    /// else a hash of the row's content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_field: Option<String>,
    /// Field holding the reference answer shown in reports. Default `answer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_field: Option<String>,
    /// Field naming a cluster of related samples (e.g. questions about one document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_field: Option<String>,
    /// Keep only rows whose `split_field` equals this value (e.g. `"test"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// Field that `split` looks at. Default `split`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_field: Option<String>,
    /// Keep the first N rows (after `split`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Keep a seeded random subset of N rows (after `split` and `limit`), in file order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<usize>,
}

/// Supported dataset file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetFormat {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row; every value is a string.
    Csv,
    /// Apache Parquet, read with polars.
    Parquet,
}

/// `[prompts.<name>]`: exactly one of `user`, `messages` or `text`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PromptSpec {
    /// A label for this version of the prompt, recorded with every result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// System message template (chat prompts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// User message template (chat prompts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A full list of chat messages, each `{ role, content }` with a template as content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageSpec>>,
    /// A completion prompt (plain text the model continues), for base models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Few-shot examples, available to templates as `examples`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub few_shot: Option<FewShotSpec>,
}

/// One message of `messages = [...]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Template for the message text.
    pub content: String,
}

/// `few_shot = { dataset = "train", count = 3 }`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FewShotSpec {
    /// Dataset the examples are drawn from (may be the evaluated one: a sample
    /// is never its own example).
    pub dataset: String,
    /// How many examples each prompt gets.
    pub count: usize,
    /// `fixed`: the same first `count` examples for every sample (default);
    /// `random`: a seeded draw per sample.
    #[serde(default)]
    pub selection: FewShotSelection,
}

/// How few-shot examples are chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FewShotSelection {
    /// The first `count` rows of the pool (excluding the sample itself).
    #[default]
    Fixed,
    /// A seeded random draw per sample.
    Random,
}

/// `[backends.<name>]`, selected by `kind`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BackendSpec {
    /// An OpenAI-compatible HTTP endpoint.
    Openai(OpenAiSpec),
}

/// `kind = "openai"`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiSpec {
    /// Base URL including the API version, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Model name sent with each request.
    pub model: String,
    /// Environment variable holding the API key (sent as a bearer token).
    /// Keys are never written in suite files or anything evalkit writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Extra headers. A value `"${VAR}"` is replaced by the environment variable `VAR`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Seconds allowed for one request. Default: `[run] request_timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// Most requests in flight to this backend at once. Default: `[run] concurrency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<usize>,
    /// Stream answers (measures time to first token). Default true.
    #[serde(default = "default_true")]
    pub stream: bool,
    /// Generation parameters for every variant using this backend.
    #[serde(default, skip_serializing_if = "ParamsSpec::is_empty")]
    pub params: ParamsSpec,
}

/// Generation parameters; a variant's values override its backend's.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ParamsSpec {
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Most tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling seed sent to the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
}

impl ParamsSpec {
    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == ParamsSpec::default()
    }

    /// These parameters with `overrides` applied on top.
    pub fn merged(&self, overrides: &ParamsSpec) -> ParamsSpec {
        ParamsSpec {
            temperature: overrides.temperature.or(self.temperature),
            top_p: overrides.top_p.or(self.top_p),
            max_tokens: overrides.max_tokens.or(self.max_tokens),
            seed: overrides.seed.or(self.seed),
            stop: overrides.stop.clone().or_else(|| self.stop.clone()),
        }
    }
}

/// `[[variants]]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    /// Unique name shown in reports.
    pub name: String,
    /// Name of a `[prompts.<name>]` table.
    pub prompt: String,
    /// Name of a `[backends.<name>]` table.
    pub backend: String,
    /// Parameters overriding the backend's.
    #[serde(default, skip_serializing_if = "ParamsSpec::is_empty")]
    pub params: ParamsSpec,
    /// What this variant is, for the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `[run]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSpec {
    /// Times each sample is asked per variant. Default 1.
    pub repeats: u32,
    /// Most requests in flight across all backends. Default 8.
    pub concurrency: usize,
    /// Retries after a failed attempt (429, 5xx, timeout, connection error). Default 3.
    pub retries: u32,
    /// First retry delay in seconds; doubles each retry, with jitter. Default 0.5.
    pub backoff: f64,
    /// Longest delay between retries in seconds. Default 30.
    pub max_backoff: f64,
    /// Seconds allowed per request, unless a backend sets `timeout`. Default 120.
    pub request_timeout: f64,
    /// Abort when more than this share of tasks has failed. Default 0.1.
    pub error_budget: f64,
    /// Where run folders go, relative to the suite file. Default `runs`.
    pub output_dir: String,
    /// Where cached responses go, relative to the suite file. Default `.evalkit/cache`.
    pub cache_dir: String,
}

impl Default for RunSpec {
    fn default() -> Self {
        RunSpec {
            repeats: 1,
            concurrency: 8,
            retries: 3,
            backoff: 0.5,
            max_backoff: 30.0,
            request_timeout: 120.0,
            error_budget: 0.1,
            output_dir: "runs".to_owned(),
            cache_dir: ".evalkit/cache".to_owned(),
        }
    }
}

fn default_true() -> bool {
    true
}
