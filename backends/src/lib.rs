//! Model backends for evalkit.
//!
//! A backend turns a [`GenRequest`] into a [`Response`] and knows nothing of
//! suites, datasets or metrics. Failures are classified ([`BackendError`]) so
//! that the runner, not the backend, decides whether to retry.
//!
//! Implementations:
//! - [`openai`]: any OpenAI-compatible `/v1/chat/completions` endpoint
//!   (OpenAI, vLLM, llama.cpp's server, Ollama, LiteLLM), streamed or not.
//! - [`local`]: GGUF and safetensors models run in-process on candle, with
//!   token log-probabilities for perplexity and multiple-choice scoring.

#![deny(missing_docs)]

mod error;
pub mod local;
pub mod openai;
mod request;
mod response;

pub use error::BackendError;
pub use request::{GenParams, GenRequest, Message, Prompt, ScoreSpec};
pub use response::{ChoiceScore, Response, Scored, Timing, TokenScores, Usage};

use futures_util::future::BoxFuture;

/// A model that can generate text.
pub trait Backend: Send + Sync {
    /// Everything about this backend that can change an answer besides the
    /// request itself (endpoint, model). Part of the response-cache key.
    fn identity(&self) -> BackendIdentity;

    /// Generate one response. Makes exactly one attempt: retries are the
    /// caller's decision, guided by [`BackendError::is_retryable`].
    fn generate<'a>(&'a self, request: &'a GenRequest) -> BoxFuture<'a, Result<Response, BackendError>>;

    /// How the backend ran, for reports: load time, memory, weights mode.
    /// `None` for remote backends, and before a local model has loaded.
    fn runtime(&self) -> Option<RuntimeInfo> {
        None
    }
}

/// How a local model ran.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RuntimeInfo {
    /// Decoder family, e.g. `gemma3`.
    pub architecture: String,
    /// `stored`, `f32` or `f16`.
    pub weights: String,
    /// Block types in the file and how many tensors use each (e.g. `q5_0: 54`).
    pub stored_types: std::collections::BTreeMap<String, usize>,
    /// Where it ran: `cpu`, `cuda:0`.
    pub device: String,
    /// CPU threads.
    pub threads: usize,
    /// Seconds to load the weights.
    pub load_seconds: f64,
    /// Bytes the weights take in memory.
    pub weights_bytes: u64,
    /// Peak resident memory of the process, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
}

/// What identifies a backend for caching and reporting.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackendIdentity {
    /// Backend kind, e.g. `openai`.
    pub kind: String,
    /// Where requests go (a URL, or a model path for local backends).
    pub endpoint: String,
    /// The model name sent to the endpoint.
    pub model: String,
}
