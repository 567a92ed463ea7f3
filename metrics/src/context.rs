//! What a metric is handed to score one task: the sample, the response, and a
//! way to call the suite's backends that keeps a log of every call.

use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use evalkit_model_api::{BoxFuture, CallError, Capabilities, GenRequest, ModelCall, ModelCaller, Outcome, Response};

use crate::{Fields, Metric, Score};

/// One task as a metric sees it.
pub struct ScoreContext<'a> {
    /// The sample's fields (question, answer, context, ...).
    pub fields: &'a Fields,
    /// What the variant answered.
    pub response: &'a Response,
    /// The model name the variant's backend sent, for price lookups.
    pub model: &'a str,
    caller: &'a dyn ModelCaller,
    calls: Mutex<Vec<ModelCall>>,
}

impl<'a> ScoreContext<'a> {
    /// A context whose model calls go through `caller`.
    pub fn new(fields: &'a Fields, response: &'a Response, model: &'a str, caller: &'a dyn ModelCaller) -> Self {
        ScoreContext { fields, response, model, caller, calls: Mutex::new(Vec::new()) }
    }

    /// Ask the backend named `backend` in the suite. Cached, retried, limited
    /// and counted like the variant's own requests; the call is kept and
    /// journaled with this metric's score.
    pub async fn call(&self, backend: &str, request: GenRequest) -> ModelCall {
        let call = self.caller.call(backend, request).await;
        self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(call.clone());
        call
    }

    /// What the backend named `backend` can do; `None` when the suite has no such backend.
    pub fn capabilities(&self, backend: &str) -> Option<Capabilities> {
        self.caller.capabilities(backend)
    }

    /// The calls made through this context, in the order they finished.
    pub fn into_calls(self) -> Vec<ModelCall> {
        self.calls.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One task and the reference variant's answer to the same sample and repeat.
pub struct PairContext<'a> {
    /// The sample's fields.
    pub fields: &'a Fields,
    /// What the scored variant answered.
    pub response: &'a Response,
    /// What the reference variant answered.
    pub reference: &'a Response,
}

/// A caller for contexts where no model may be called (rescoring offline,
/// unit tests): every call is an `unavailable` error.
pub struct NoModels;

impl ModelCaller for NoModels {
    fn call<'a>(&'a self, backend: &'a str, request: GenRequest) -> BoxFuture<'a, ModelCall> {
        Box::pin(std::future::ready(ModelCall {
            backend: backend.to_owned(),
            request,
            request_hash: String::new(),
            attempts: 0,
            cached: false,
            outcome: Outcome::Error(CallError {
                kind: "unavailable".to_owned(),
                message: format!("no model can be called here (backend `{backend}`)"),
            }),
        }))
    }

    fn capabilities(&self, _backend: &str) -> Option<Capabilities> {
        None
    }
}

/// Score with a metric that calls no model, without an async runtime. A
/// metric that would wait on anything (a model call included) scores
/// [`Score::invalid`] saying so.
pub fn score_without_models(metric: &dyn Metric, fields: &Fields, response: &Response, model: &str) -> Score {
    let context = ScoreContext::new(fields, response, model, &NoModels);
    let mut future = metric.score(&context);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(score) => score,
        Poll::Pending => {
            Score::invalid(format!("metric `{}` needs a model and none can be called here", metric.name()))
        }
    }
}
