//! How evalkit talks to a model.
//!
//! This crate is the seam between everything that *asks* a model something
//! (the runner, for a variant's answer; metrics, for a judge's verdict) and
//! everything that *answers* (the HTTP backends, the local candle engine, a
//! replay of logged outputs). It holds only types and traits, and depends on
//! nothing heavy, so that metrics and record readers build without candle,
//! polars or an HTTP stack.
//!
//! - [`Backend`]: one attempt at one [`GenRequest`], answered with a
//!   [`Response`] or a classified [`BackendError`]; [`Backend::capabilities`]
//!   says what it can do, so checks ask "can it score text?" rather than
//!   "is it local?".
//! - [`ModelCaller`]: the one way to call a named backend with the cache,
//!   retries, concurrency limit and accounting applied. The harness
//!   implements it; metrics receive it.
//! - [`ModelCall`]: what one call through the caller did, as the journal
//!   records it.

#![deny(missing_docs)]

mod caller;
mod error;
pub mod local_settings;
mod request;
mod response;

pub use caller::{CallError, ModelCall, ModelCaller, Outcome};
pub use error::BackendError;
pub use request::{GenParams, GenRequest, Message, Prompt, ScoreSpec};
pub use response::{ChoiceScore, Response, Scored, Timing, TokenLogprob, TokenScores, Usage};

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future: what trait methods that do I/O return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A model that can generate text.
pub trait Backend: Send + Sync {
    /// Everything about this backend that can change an answer besides the
    /// request itself (endpoint, model). Part of the response-cache key.
    fn identity(&self) -> BackendIdentity;

    /// What this backend can do beyond generating text. Suite checks and
    /// metrics ask this, never which kind of backend it is.
    fn capabilities(&self) -> Capabilities;

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
    /// Block types in the file and how many tensors use each (e.g. `{"q5_0": 54}`).
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

/// What a backend can do beyond generating text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Capabilities {
    /// Streams its answer, so time to first token and inter-token gaps are measured.
    pub streaming: bool,
    /// Returns the log-probability of each generated token.
    pub token_logprobs: bool,
    /// Scores given text instead of generating: perplexity windows and the
    /// log-likelihood of choices ([`GenRequest::score`]).
    pub score_text: bool,
    /// Embeds text as vectors.
    pub embeddings: bool,
}

/// What identifies a backend for caching and reporting.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackendIdentity {
    /// Backend kind, e.g. `openai`.
    pub kind: String,
    /// Where requests go (a URL, or a model path for local backends).
    pub endpoint: String,
    /// The model: for HTTP backends the name sent to the endpoint; for local
    /// models `<file name> [weights <mode>]`.
    pub model: String,
    /// Anything else that changes the answers, by name: for a local model its
    /// content hash (`content`), `device` and `chat_template` (a hash of the
    /// template's text). Empty for HTTP backends, and then not written, so
    /// their cache keys stay what they were.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub settings: std::collections::BTreeMap<String, String>,
}
