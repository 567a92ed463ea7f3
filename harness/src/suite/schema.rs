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
    /// `[[gates]]`: conditions the run must meet; a failed gate makes
    /// `evalkit run` and `evalkit gate` exit with code 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<evalkit_reports::gates::GateSpec>,
    /// `[report]`: what the output files include.
    #[serde(default)]
    pub report: ReportSpec,
}

/// `[report]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSpec {
    /// Whether `junit.xml` has a test case per task besides one per gate.
    /// Default `true`; large suites may want gates only.
    pub junit_samples: bool,
}

impl Default for ReportSpec {
    fn default() -> Self {
        ReportSpec { junit_samples: true }
    }
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
    /// The variant every other variant is compared with in reports. Default:
    /// the first `[[variants]]` entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

/// `[datasets.<name>]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// Path to a `.jsonl`, `.csv`, `.parquet` or `.txt` file, relative to the suite file.
    pub path: String,
    /// `jsonl`, `csv`, `parquet` or `text`. Default: from the file extension.
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
    /// The whole file is one sample with fields `id` (the file name) and
    /// `text` (its contents): a corpus for perplexity.
    Text,
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
    /// A model run in-process on candle (GGUF file or Hugging Face folder).
    Local(LocalSpec),
}

impl BackendSpec {
    /// Generation parameters every variant on this backend starts from.
    pub fn params(&self) -> &ParamsSpec {
        match self {
            BackendSpec::Openai(spec) => &spec.params,
            BackendSpec::Local(spec) => &spec.params,
        }
    }
}

/// `[backends.<name>]` with `kind = "local"`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSpec {
    /// A `.gguf` file, or a folder holding config.json, *.safetensors and
    /// tokenizer.json. Relative to the suite file; `~/` is the home folder.
    /// Type: string. Required. Example: `model = "~/.cache/evalkit/models/gemma-3-270m-q4_k_m.gguf"`.
    pub model: String,
    /// `stored` runs quantized GGUF weights as stored (numbers closest to
    /// llama.cpp); `f32` or `f16` dequantize them at load (faster on CPUs
    /// without SIMD kernels for the stored block type, 2–8× the memory).
    /// Type: string. Default: `"stored"`. Example: `weights = "f32"`.
    #[serde(default)]
    pub weights: evalkit_backends::local::WeightsMode,
    /// `cpu`, or `cuda` (needs evalkit built with `--features cuda`; falls back to the CPU with a message).
    /// Type: string. Default: `"cpu"`. Example: `device = "cuda"`.
    #[serde(default)]
    pub device: evalkit_backends::local::DeviceChoice,
    /// CPU threads for the matrix kernels. One pool serves the whole process,
    /// so all local backends of a suite must agree.
    /// Type: integer. Default: the physical cores (or `RAYON_NUM_THREADS`). Example: `threads = 2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Prompt positions run through the model per forward pass.
    /// Type: integer. Default: `512`. Example: `n_batch = 256`.
    #[serde(default = "default_n_batch")]
    pub n_batch: usize,
    /// A Jinja chat template to use instead of the model's own (base models have none).
    /// Type: string. Default: the model's template. Example: `chat_template = "{% for m in messages %}{{ m.content }}\n{% endfor %}"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_template: Option<String>,
    /// Requests in flight at once. Models share the CPU, so more rarely helps.
    /// Type: integer. Default: `1`. Example: `max_concurrency = 1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<usize>,
    /// Generation parameters for every variant using this backend.
    /// Type: table. Default: greedy decoding, `max_tokens = 256`. Example: `params = { max_tokens = 32, stop = ["\n"] }`.
    #[serde(default, skip_serializing_if = "ParamsSpec::is_empty")]
    pub params: ParamsSpec,
}

fn default_n_batch() -> usize {
    512
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
    /// Sample among the `top_k` most likely tokens (local models; servers that accept it).
    /// Type: integer. Default: unset (all tokens). Example: `top_k = 40`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Divide the logits of tokens already in the prompt or answer by this (local models).
    /// Type: float. Default: unset (1.0, off). Example: `repetition_penalty = 1.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
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
            top_k: overrides.top_k.or(self.top_k),
            repetition_penalty: overrides.repetition_penalty.or(self.repetition_penalty),
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
