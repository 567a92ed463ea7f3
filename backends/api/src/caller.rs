//! The caller metrics use to ask a model something, and the record of a call.
//!
//! A metric that needs a model (an LLM judge, a RAG faithfulness check) never
//! holds a [`crate::Backend`]: it is handed a [`ModelCaller`], which applies the
//! same response cache, retry policy, concurrency limit and usage accounting
//! as the runner's own calls, and returns a [`ModelCall`] that the journal keeps
//! next to the score it explains.

use serde::{Deserialize, Serialize};

use crate::{BackendError, BoxFuture, Capabilities, GenRequest, Response};

/// Calls the backends a suite defines, by name.
pub trait ModelCaller: Send + Sync {
    /// Send `request` to the backend named `backend` in the suite's
    /// `[backends]`: answered from the cache when it can be, otherwise sent
    /// and retried as the run's retry policy says, within the backend's
    /// concurrency limit. Never fails: an unknown backend or a request whose
    /// attempts all failed is a [`ModelCall`] with an error outcome.
    fn call<'a>(&'a self, backend: &'a str, request: GenRequest) -> BoxFuture<'a, ModelCall>;

    /// What the backend named `backend` can do; `None` when the suite defines
    /// no backend of that name.
    fn capabilities(&self, backend: &str) -> Option<Capabilities>;
}

/// One call through a [`ModelCaller`], as the journal records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCall {
    /// The backend's name in the suite.
    pub backend: String,
    /// What was sent.
    pub request: GenRequest,
    /// The response-cache key of the request.
    pub request_hash: String,
    /// Requests sent; 0 when the cache answered.
    pub attempts: u32,
    /// Whether the response came from the response cache.
    #[serde(default)]
    pub cached: bool,
    /// The answer, or why there is none.
    pub outcome: Outcome,
}

impl ModelCall {
    /// The response, when the call succeeded.
    pub fn response(&self) -> Option<&Response> {
        self.outcome.response()
    }
}

/// A call's result: the model's response, or the error that ended its attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The model answered.
    Response(Response),
    /// Every attempt failed.
    Error(CallError),
}

impl Outcome {
    /// The response, if the call succeeded.
    pub fn response(&self) -> Option<&Response> {
        match self {
            Outcome::Response(response) => Some(response),
            Outcome::Error(_) => None,
        }
    }

    /// The error, if the call failed.
    pub fn error(&self) -> Option<&CallError> {
        match self {
            Outcome::Response(_) => None,
            Outcome::Error(error) => Some(error),
        }
    }
}

/// A failed call as recorded: the error's class and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallError {
    /// `rate_limited`, `transient`, `timeout` or `fatal` ([`BackendError::kind`]);
    /// `unknown_backend` when the suite names no such backend; `unavailable`
    /// where no model may be called (offline rescoring); `prompt` in records
    /// upgraded from version 1 whose template failed.
    pub kind: String,
    /// The last error's message.
    pub message: String,
}

impl From<&BackendError> for CallError {
    fn from(error: &BackendError) -> Self {
        CallError { kind: error.kind().to_owned(), message: error.to_string() }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.kind)
    }
}
