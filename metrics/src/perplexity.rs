//! `perplexity`: how well a local model predicts a text, scored from token
//! log-probabilities rather than generated answers.

use evalkit_model_api::{ScoreSpec, Scored};
use serde::{Deserialize, Serialize};

use crate::{ready, BoxFuture, ConfigError, Direction, Fields, Metric, Scale, Score, ScoreContext};

/// Settings for `kind = "perplexity"`. Each sample's rendered prompt is the
/// text scored; nothing is generated. Per sample the value is that text's
/// perplexity; the run's aggregate is the corpus perplexity
/// `exp(Σ NLL / Σ tokens)` with llama.cpp's standard error, mean NLL per
/// token, bits per byte and word perplexity.
///
/// ```toml
/// [[metrics]]
/// kind = "perplexity"
/// protocol = "llama.cpp"
/// n_ctx = 512
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PerplexityConfig {
    /// Name the results are reported under, unique within the suite.
    /// Type: string. Default: `"perplexity"`. Example: `name = "ppl_wiki"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `llama.cpp`: windows of `n_ctx` tokens, BOS first, only each window's second half scored,
    /// exactly as `llama-perplexity` does (the text needs at least 2 × `n_ctx` tokens). `strided`:
    /// Hugging Face's sliding windows of `window` tokens every `stride` tokens, every token scored
    /// once.
    /// Type: `"llama.cpp"` or `"strided"`. Default: `"llama.cpp"`. Example: `protocol = "strided"`.
    #[serde(default)]
    pub protocol: Protocol,
    /// llama.cpp protocol: the window length in tokens (as `-c`).
    /// Type: integer ≥ 4. Default: `512`. Example: `n_ctx = 2048`.
    #[serde(default = "default_n_ctx")]
    pub n_ctx: usize,
    /// llama.cpp protocol: positions per forward pass (as `-b`).
    /// Type: integer ≥ 1. Default: `n_ctx`. Example: `n_batch = 512`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_batch: Option<usize>,
    /// llama.cpp protocol: score only the first N windows (as `--chunks`).
    /// Type: integer ≥ 1. Default: every whole window of the text. Example: `chunks = 20`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<usize>,
    /// Strided protocol: the window length in tokens.
    /// Type: integer ≥ 2. Default: `1024`. Example: `window = 2048`.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Strided protocol: tokens between window starts.
    /// Type: integer, 1 to `window`. Default: `512`. Example: `stride = 256`.
    #[serde(default = "default_stride")]
    pub stride: usize,
}

/// How a text is cut into scored windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum Protocol {
    /// llama.cpp's `llama-perplexity`.
    #[default]
    #[serde(rename = "llama.cpp")]
    LlamaCpp,
    /// Hugging Face's strided sliding windows.
    #[serde(rename = "strided")]
    Strided,
}

fn default_n_ctx() -> usize {
    512
}

fn default_window() -> usize {
    1024
}

fn default_stride() -> usize {
    512
}

/// The `perplexity` metric. Details: `tokens`, `nll_sum`, `nll_sq_sum`,
/// `bytes`, `words`, `greedy_hits`, `text_tokens` (sums, so samples combine).
#[derive(Debug, Clone)]
pub struct Perplexity {
    name: String,
    spec: ScoreSpec,
}

impl Perplexity {
    /// Check the settings.
    pub fn new(config: PerplexityConfig) -> Result<Self, ConfigError> {
        let name = config.name.clone().unwrap_or_else(|| "perplexity".to_owned());
        let invalid = |setting: &'static str, problem: String| ConfigError::InvalidSetting {
            metric: name.clone(),
            setting,
            problem,
        };
        let spec = match config.protocol {
            Protocol::LlamaCpp => {
                if config.n_ctx < 4 {
                    return Err(invalid("n_ctx", format!("must be at least 4, not {}", config.n_ctx)));
                }
                let n_batch = config.n_batch.unwrap_or(config.n_ctx);
                if n_batch == 0 {
                    return Err(invalid("n_batch", "must be at least 1".into()));
                }
                if config.chunks == Some(0) {
                    return Err(invalid("chunks", "must be at least 1 (leave it out to score every window)".into()));
                }
                ScoreSpec::LlamaCpp { n_ctx: config.n_ctx, n_batch, chunks: config.chunks }
            }
            Protocol::Strided => {
                if config.window < 2 || config.stride == 0 || config.stride > config.window {
                    return Err(invalid(
                        "stride",
                        format!(
                            "must be between 1 and `window`, and `window` at least 2 (found window {}, stride {})",
                            config.window, config.stride
                        ),
                    ));
                }
                ScoreSpec::Strided { window: config.window, stride: config.stride }
            }
        };
        Ok(Perplexity { name, spec })
    }
}

impl Metric for Perplexity {
    fn name(&self) -> &str {
        &self.name
    }

    fn scale(&self) -> Scale {
        Scale::Continuous
    }

    fn direction(&self) -> Direction {
        Direction::LowerIsBetter
    }

    fn aggregate(&self) -> Option<&'static str> {
        Some("perplexity")
    }

    fn scoring(&self, _fields: &Fields) -> Option<Result<ScoreSpec, String>> {
        Some(Ok(self.spec.clone()))
    }

    fn score<'a>(&'a self, input: &'a ScoreContext<'a>) -> BoxFuture<'a, Score> {
        ready(self.score_sample(input))
    }
}

impl Perplexity {
    /// Score from the sample and the response alone (no model calls).
    fn score_sample(&self, input: &ScoreContext<'_>) -> Score {
        let Some(Scored::Tokens(t)) = &input.response.scored else {
            return Score::invalid("the backend returned no token log-probabilities");
        };
        if t.tokens == 0 {
            return Score::invalid("no token was scored");
        }
        Score::value((t.nll_sum / t.tokens as f64).exp())
            .with_detail("tokens", t.tokens)
            .with_detail("nll_sum", t.nll_sum)
            .with_detail("nll_sq_sum", t.nll_sq_sum)
            .with_detail("bytes", t.bytes)
            .with_detail("words", t.words)
            .with_detail("greedy_hits", t.greedy_hits)
            .with_detail("text_tokens", t.text_tokens)
    }
}
