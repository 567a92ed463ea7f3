//! The suite file as written: the serde shapes of `suite.toml`.
//!
//! Every key is documented here once, as a description and then a line
//! `Type: … Default: … Example: …` (or `Required.` for the default); the key
//! tables of docs/suite.md are generated from these comments by
//! `harness/tests/suite_docs.rs` (`EVALKIT_BLESS=1 cargo test -p evalkit --test suite_docs`).
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
    /// Whether `junit.xml` has a test case per task (failing when the request errored or a
    /// pass/fail metric scored 0) besides one per gate. Set `false` to list gates only; large
    /// suites may want that.
    /// Type: bool. Default: `true`. Example: `junit_samples = false`.
    pub junit_samples: bool,
    /// Most samples the report's per-sample explorer holds. A larger run shows first the samples
    /// where a request failed, a pass/fail metric failed, a score is invalid, or a quality metric
    /// (not latency or cost) differs between variants or repeats; every task is in `samples.csv`
    /// whatever this says.
    /// Type: integer ≥ 1. Default: `2000`. Example: `explorer_samples = 500`.
    pub explorer_samples: usize,
    /// How `samples.csv` and `results.csv` write a text cell a spreadsheet would run as a formula
    /// (one starting with `=`, `+`, `-`, `@`, a tab or a carriage return): `neutralize` puts a `'`
    /// before it, as OWASP recommends, so a model's answer cannot become a live formula; `raw`
    /// writes it as it is, for tools that read the file as data. Number cells are never changed.
    /// Type: `"neutralize"` or `"raw"`. Default: `"neutralize"`. Example: `csv_formulas = "raw"`.
    pub csv_formulas: evalkit_reports::CsvFormulas,
    /// The test that compares each variant with the baseline on metrics that are not one pass/fail
    /// score per sample (those always get McNemar's exact test). `"permutation"`: the sign-flip
    /// permutation test of the mean difference, exact when the differences are multiples of one
    /// step (pass/fail differences, means of repeats, scores with few decimals) or number at most
    /// 16, sampled otherwise with the p-value's standard error shown. `"t"`: the paired t-test.
    /// `"wilcoxon"`: the Wilcoxon signed-rank test, which ranks the differences, so that a few
    /// outlying ones weigh no more than their rank. The report names the test behind each p-value.
    /// Type: `"permutation"`, `"t"` or `"wilcoxon"`. Default: `"permutation"`. Example:
    /// `paired_test = "wilcoxon"`.
    pub paired_test: evalkit_reports::analyze::PairedTest,
}

impl Default for ReportSpec {
    fn default() -> Self {
        ReportSpec {
            junit_samples: true,
            explorer_samples: 2000,
            csv_formulas: Default::default(),
            paired_test: Default::default(),
        }
    }
}

/// `[suite]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteSection {
    /// Name of the suite. Runs are stored under `<output_dir>/<name>/`, so it must be a folder
    /// name: not empty, no `/` or `\`, and not `.` or `..`.
    /// Type: string. Required. Example: `name = "capitals"`.
    pub name: String,
    /// One line about what the suite measures. Shown in the report.
    /// Type: string. Default: none. Example: `description = "Capital cities, zero-shot vs 3-shot"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Seed for every random choice: dataset `sample` subsets and `random` few-shot draws. It is
    /// **not** sent to the model; for that, use `params.seed`.
    /// Type: integer ≥ 0. Default: `0`. Example: `seed = 42`.
    #[serde(default)]
    pub seed: u64,
    /// Name of the `[datasets.<name>]` table that is evaluated. Required unless the suite defines
    /// exactly one dataset, or exactly one that is not a few-shot pool (named by no prompt's
    /// `few_shot.dataset`).
    /// Type: string. Default: the only dataset that is not a few-shot pool. Example:
    /// `dataset = "test"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// Name of the `[[variants]]` entry every other variant is compared with (paired tests in
    /// `results.json`, the report and the terminal).
    /// Type: string. Default: the first variant. Example: `baseline = "zero-shot"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

/// `[datasets.<name>]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// A `.jsonl`, `.csv`, `.parquet` or `.txt` file, relative to the suite file (`~/` is the home
    /// folder).
    /// Type: string. Required. Example: `path = "../datasets/capitals.jsonl"`.
    pub path: String,
    /// Needed only when the extension does not say: `.jsonl`/`.ndjson` → `jsonl`, `.csv` → `csv`,
    /// `.parquet`/`.pq` → `parquet`, `.txt`/`.text`/`.raw` → `text` (in any case); any other
    /// extension is read as `jsonl`. A `text` file is one sample with fields `id` (the file name)
    /// and `text` (the whole contents): a corpus for [`perplexity`](#kind--perplexity).
    /// Type: `"jsonl"`, `"csv"`, `"parquet"` or `"text"`. Default: from the extension. Example:
    /// `format = "csv"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<DatasetFormat>,
    /// Field holding a stable sample id.
    /// Type: string. Default: `"id"` if every row has one, else content hashes. Example:
    /// `id_field = "qid"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_field: Option<String>,
    /// Field holding the reference answer that records and reports show next to each output.
    /// Metrics read their own `reference` setting.
    /// Type: string. Default: `"answer"`. Example: `reference_field = "gold"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_field: Option<String>,
    /// Field naming a cluster of related samples (for example, several questions about one
    /// document). Its value is recorded with each result as `cluster`.
    /// Type: string. Default: none. Example: `cluster_field = "document"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_field: Option<String>,
    /// Keep only rows whose `split_field` equals this value, compared as text (`"test"`, or `"1"`
    /// for a number field).
    /// Type: string. Default: none. Example: `split = "test"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// The field `split` looks at.
    /// Type: string. Default: `"split"`. Example: `split_field = "fold"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_field: Option<String>,
    /// Keep the first N rows, after `split`.
    /// Type: integer ≥ 1. Default: none. Example: `limit = 100`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Keep a seeded random subset of N rows, after `split` and `limit`. The rows stay in file
    /// order.
    /// Type: integer ≥ 1. Default: none. Example: `sample = 20`.
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
    /// Apache Parquet (every type but INTERVAL; see docs/suite.md).
    Parquet,
    /// The whole file is one sample with fields `id` (the file name) and
    /// `text` (its contents): a corpus for perplexity.
    Text,
}

/// `[prompts.<name>]`: exactly one of `user`, `messages` or `text`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PromptSpec {
    /// A label for this version of the prompt, recorded with every result (`prompt_version` in
    /// `results.json`).
    /// Type: string. Default: none. Example: `version = "v2"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// System message of a chat prompt. Only together with `user`.
    /// Type: template. Default: none. Example: `system = "Answer with the city name only."`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// User message of a chat prompt.
    /// Type: template. Default: none (set exactly one of `user`, `messages` or `text`). Example:
    /// `user = "What is the capital of {{ country }}?"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A full chat conversation. `role` is passed to the endpoint as written (`system`, `user`,
    /// `assistant`). `content` is a template.
    /// Type: array of `{ role, content }`. Default: none (set exactly one of `user`, `messages` or
    /// `text`). Example: `messages = [{ role = "user", content = "{{ question }}" }]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageSpec>>,
    /// A completion prompt: plain text the model continues. Use this for base models without a chat
    /// template.
    /// Type: template. Default: none (set exactly one of `user`, `messages` or `text`). Example:
    /// `text = "Q: {{ question }}\nA:"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Few-shot examples, available to templates as `examples`. See [below](#few-shot-examples).
    /// Type: table. Default: none. Example: `few_shot = { dataset = "train", count = 3 }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub few_shot: Option<FewShotSpec>,
}

/// One message of `messages = [...]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    /// Who speaks: `system`, `user` or `assistant`, passed to the endpoint as written.
    /// Type: string. Required. Example: `role = "system"`.
    pub role: String,
    /// The message text.
    /// Type: template. Required. Example: `content = "{{ question }}"`.
    pub content: String,
}

/// `few_shot = { dataset = "train", count = 3 }`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FewShotSpec {
    /// The `[datasets.<name>]` the examples come from. It may be the evaluated dataset: a sample is
    /// never its own example.
    /// Type: string. Required. Example: `dataset = "train"`.
    pub dataset: String,
    /// How many examples each prompt gets.
    /// Type: integer ≥ 1. Required. Example: `count = 3`.
    pub count: usize,
    /// `fixed`: the pool's first `count` rows (skipping the sample itself), the same for every
    /// sample. `random`: a seeded draw per sample.
    /// Type: `"fixed"` or `"random"`. Default: `"fixed"`. Example: `selection = "random"`.
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
    /// An OpenAI-compatible HTTP endpoint (OpenAI, vLLM, llama.cpp's `llama-server`, Ollama,
    /// LiteLLM).
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
    /// A `.gguf` file, or a folder holding `config.json`, `*.safetensors` and `tokenizer.json`
    /// (plus `tokenizer_config.json` for the chat template). Relative to the suite file; `~/` is
    /// the home folder. `evalkit validate` opens it (metadata and tokenizer only). GGUF block
    /// types: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K to Q6_K; a file with another type
    /// (llama.cpp's IQ and TQ types, MXFP4) is refused, naming the first such tensor.
    /// Type: string. Required. Example:
    /// `model = "~/.cache/evalkit/models/gemma-3-270m-q4_k_m.gguf"`.
    pub model: String,
    /// `stored` computes GGUF blocks as llama.cpp does: Q8_0, Q4_0, Q5_0, Q4_1, Q5_1, Q2_K, Q3_K,
    /// Q4_K, Q5_K and Q6_K on evalkit's integer kernels (1.25 to 1.5 bytes per weight); F16 and
    /// BF16 matrices converted to f32, with activations rounded to f16 or bf16 first, as llama.cpp
    /// rounds them. `quantized` uses candle's kernels for every block type (slow for Q5_0, Q4_1,
    /// Q5_1). `f32`/`f16` dequantize at load: more memory (about 1 GB for the 270M demo model in
    /// f32). Safetensors run as f32 (or f16). `results.json` records which.
    /// Type: `"stored"`, `"quantized"`, `"f32"` or `"f16"`. Default: `"stored"`. Example:
    /// `weights = "f32"`.
    #[serde(default)]
    pub weights: evalkit_model_api::local_settings::WeightsMode,
    /// `cuda` needs evalkit built with `--features cuda`; without it, or without a usable GPU, the
    /// run continues on the CPU and says so.
    /// Type: `"cpu"` or `"cuda"`. Default: `"cpu"`. Example: `device = "cuda"`.
    #[serde(default)]
    pub device: evalkit_model_api::local_settings::DeviceChoice,
    /// CPU threads for the kernels. One pool serves the process, so all local backends of a suite
    /// must agree.
    /// Type: integer ≥ 1. Default: physical cores, or `RAYON_NUM_THREADS`. Example: `threads = 2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Prompt positions per forward pass.
    /// Type: integer ≥ 1. Default: `512`. Example: `n_batch = 256`.
    #[serde(default = "default_n_batch")]
    pub n_batch: usize,
    /// A Jinja chat template (inline) for chat prompts. GGUF files carry theirs in
    /// `tokenizer.chat_template`, Hugging Face folders in `tokenizer_config.json`; base models have
    /// none, and a chat prompt on them is an error that says to use a completion prompt.
    /// Type: string. Default: the model's own. Example:
    /// `chat_template = "{% for m in messages %}{{ m.content }}\n{% endfor %}"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_template: Option<String>,
    /// Requests in flight at once. They share the same cores, so more rarely helps.
    /// Type: integer from 1 to 100000. Default: `1`. Example: `max_concurrency = 1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<usize>,
    /// As for `openai`. Unset `temperature` means greedy decoding (0); `seed` defaults to 0, so
    /// sampled runs are reproducible.
    /// Type: table. Default: greedy, `max_tokens = 256`. Example:
    /// `params = { max_tokens = 32, stop = ["\n"] }`.
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
    /// Base URL including the API version, e.g. `https://api.openai.com/v1` or
    /// `http://127.0.0.1:8080/v1`. Must start with `http://` or `https://`.
    /// Type: string. Required. Example: `base_url = "https://api.openai.com/v1"`.
    pub base_url: String,
    /// Model name sent with each request. Also the key for `[prices]`.
    /// Type: string. Required. Example: `model = "gpt-4o-mini"`.
    pub model: String,
    /// Environment variable holding the API key, sent as `Authorization: Bearer <key>`. Keys are
    /// never written in suite files or anything evalkit writes. See [Secrets](#secrets).
    /// Type: string. Default: none. Example: `api_key_env = "OPENAI_API_KEY"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Extra HTTP headers. In a value, `${VAR}` is replaced by the environment variable `VAR`.
    /// Type: table of strings. Default: none. Example:
    /// `headers = { "OpenAI-Organization" = "${OPENAI_ORG}" }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Seconds allowed for one request, from sending it to the last byte of a streamed answer. Each
    /// retry gets a fresh timeout.
    /// Type: float > 0, at most one week. Default: `[run] request_timeout`. Example: `timeout = 60`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// Most requests in flight to this backend at once. Variants sharing a backend share this
    /// limit.
    /// Type: integer from 1 to 100000. Default: `[run] concurrency`. Example: `max_concurrency = 4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<usize>,
    /// Stream answers (server-sent events). Only streaming measures time to first token and
    /// inter-token time. A streamed request also asks for token counts
    /// (`stream_options.include_usage`).
    /// Type: bool. Default: `true`. Example: `stream = false`.
    #[serde(default = "default_true")]
    pub stream: bool,
    /// Generation parameters for every variant using this backend: the `params` keys below.
    /// Type: table. Default: none. Example: `params = { temperature = 0.0, max_tokens = 64 }`.
    #[serde(default, skip_serializing_if = "ParamsSpec::is_empty")]
    pub params: ParamsSpec,
}

/// Generation parameters; a variant's values override its backend's.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ParamsSpec {
    /// Sampling temperature.
    /// Type: float in [0, 5]. Default: the endpoint's (local: `0`, greedy). Example:
    /// `temperature = 0.8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    /// Type: float in (0, 1]. Default: the endpoint's (local: `1`). Example: `top_p = 0.9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Most tokens to generate.
    /// Type: integer ≥ 1. Default: the endpoint's (local: `256`). Example: `max_tokens = 64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sample among the k most likely tokens. Local models; sent as is to servers (vLLM, llama.cpp)
    /// that accept it.
    /// Type: integer ≥ 1. Default: the endpoint's (local: all tokens). Example: `top_k = 40`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Divide positive logits (multiply negative ones) of tokens already in the prompt or answer;
    /// 1.0 is off. Local models; sent as is to servers.
    /// Type: float > 0. Default: the endpoint's (local: `1.0`, off). Example:
    /// `repetition_penalty = 1.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    /// Sampling seed sent to the endpoint, where it supports one.
    /// Type: integer ≥ 0. Default: the endpoint's (local: `0`). Example: `seed = 7`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Stop sequences.
    /// Type: array of strings. Default: none. Example: `stop = ["\n"]`.
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
    /// Unique, non-empty name shown in reports and used to pair results on resume.
    /// Type: string. Required. Example: `name = "zero-shot"`.
    pub name: String,
    /// Name of a `[prompts.<name>]` table.
    /// Type: string. Required. Example: `prompt = "zero_shot"`.
    pub prompt: String,
    /// Name of a `[backends.<name>]` table.
    /// Type: string. Required. Example: `backend = "local"`.
    pub backend: String,
    /// Generation parameters (same keys as the backend's `params`). Each key that is set overrides
    /// the backend's value. `stop` replaces the backend's list as a whole.
    /// Type: table. Default: none. Example: `params = { temperature = 0.8 }`.
    #[serde(default, skip_serializing_if = "ParamsSpec::is_empty")]
    pub params: ParamsSpec,
    /// What this variant is, for the report.
    /// Type: string. Default: none. Example: `description = "same prompt, sampled"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `[run]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSpec {
    /// Times each sample is asked per variant. Repeats are averaged per sample before statistics
    /// are computed.
    /// Type: integer from 1 to 10000. Default: `1`. Example: `repeats = 3`.
    pub repeats: u32,
    /// Most tasks in flight across all backends.
    /// Type: integer from 1 to 100000. Default: `8`. Example: `concurrency = 16`.
    pub concurrency: usize,
    /// Retries after a failed attempt (429, 5xx, timeout, connection error), so up to `retries + 1`
    /// attempts. Fatal errors (other 4xx) are not retried.
    /// Type: integer ≥ 0. Default: `3`. Example: `retries = 5`.
    pub retries: u32,
    /// First retry delay in seconds. It doubles with each retry, with jitter (each delay is 50–100%
    /// of the computed one).
    /// Type: float ≥ 0, at most one week. Default: `0.5`. Example: `backoff = 1.0`.
    pub backoff: f64,
    /// Longest computed delay between retries, in seconds. A server's `Retry-After` is honoured
    /// even when it is longer, up to `max_retry_after`.
    /// Type: float ≥ 0, at most one week. Default: `30`. Example: `max_backoff = 60`.
    pub max_backoff: f64,
    /// Longest `Retry-After` (seconds, or an HTTP date) evalkit waits for. A server that asks for
    /// more gets no retry: the task fails with a message saying what the server asked for, and
    /// `--resume` asks again later.
    /// Type: float ≥ 0, at most one week. Default: `120`. Example: `max_retry_after = 600`.
    pub max_retry_after: f64,
    /// Seconds allowed per request, unless a backend sets `timeout`.
    /// Type: float > 0, at most one week. Default: `120`. Example: `request_timeout = 300`.
    pub request_timeout: f64,
    /// Abort when more than this share of planned tasks has failed. `0` aborts on the first
    /// failure.
    /// Type: float in [0, 1]. Default: `0.1`. Example: `error_budget = 0.05`.
    pub error_budget: f64,
    /// Where run folders go, relative to the suite file. `--output-dir` overrides it.
    /// Type: string. Default: `"runs"`. Example: `output_dir = "../runs"`.
    pub output_dir: String,
    /// Where cached responses go, relative to the suite file.
    /// Type: string. Default: `".evalkit/cache"`. Example: `cache_dir = "../.evalkit/cache"`.
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
            max_retry_after: 120.0,
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
