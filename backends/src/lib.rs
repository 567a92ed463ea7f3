//! Model backends for evalkit.
//!
//! A backend turns a [`GenRequest`] into a [`Response`] and knows nothing of
//! suites, datasets or metrics. Failures are classified ([`BackendError`]) so
//! that the runner, not the backend, decides whether to retry.
//!
//! Implementations:
//! - [`openai`]: any OpenAI-compatible `/v1/chat/completions` endpoint
//!   (OpenAI, vLLM, llama.cpp's server, Ollama, LiteLLM), streamed or not.

#![deny(missing_docs)]

mod error;
pub mod openai;
mod request;
mod response;

pub use error::BackendError;
pub use request::{GenParams, GenRequest, Message, Prompt};
pub use response::{Response, Timing, Usage};

use futures_util::future::BoxFuture;

/// A model that can generate text.
pub trait Backend: Send + Sync {
    /// Everything about this backend that can change an answer besides the
    /// request itself (endpoint, model). Part of the response-cache key.
    fn identity(&self) -> BackendIdentity;

    /// Generate one response. Makes exactly one attempt: retries are the
    /// caller's decision, guided by [`BackendError::is_retryable`].
    fn generate<'a>(&'a self, request: &'a GenRequest) -> BoxFuture<'a, Result<Response, BackendError>>;
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
