//! Scoring functions for evalkit.
//!
//! A [`Metric`] looks at one sample and the response a variant gave for it and
//! returns a [`Score`]. Scoring is async: a metric receives a [`ScoreContext`]
//! holding the sample, the response and a caller for the backends the suite
//! names ([`ScoreContext::call`]), so a judge asks its model through the same
//! cache, retries, concurrency limits and accounting as the runner, and every
//! call it makes is kept with its score. Metrics never call the runner or hold
//! a backend.
//!
//! A [`PairedMetric`] scores a variant's response against another variant's
//! response to the same sample (agreement with a reference model today; KL
//! divergence next); the harness runs these in a paired stage once both
//! answers exist.
//!
//! A suite describes its metrics with [`MetricConfig`] entries, and the
//! harness turns each into a `Box<dyn Metric>` with [`build`].
//!
//! # Metrics
//!
//! | `kind` | type | scale | better | unit | scores |
//! |---|---|---|---|---|---|
//! | `exact_match` | [`ExactMatch`] | binary | higher | | the output equals a reference answer after [`Normalize`] |
//! | `contains` | [`Contains`] | binary | higher | | the output contains a reference answer, or a fixed text |
//! | `regex` | [`RegexMatch`] | binary | higher | | a pattern matches, or the answer it captures equals a reference |
//! | `json_valid` | [`JsonValid`] | binary | higher | | the output is (or contains) JSON, optionally valid against a JSON Schema |
//! | `token_f1` | [`TokenF1`] | continuous | higher | | SQuAD v2.0 token-overlap F1 against a reference answer |
//! | `latency` | [`Latency`] | continuous | lower | `s` | end-to-end time, time to first token, or inter-token time |
//! | `cost` | [`Cost`] | continuous | lower | `USD` | token counts times the suite's [`Price`] for the model |
//! | `perplexity` | [`Perplexity`] | continuous | lower | | a text's perplexity under a local model (llama.cpp or strided protocol) |
//! | `multiple_choice` | [`MultipleChoice`] | binary | higher | | the most likely choice (by log-likelihood) is the right one (`acc`, `acc_norm`, `acc_bytes`) |
//!
//! Reference answers come from a sample field (`answer` unless the metric's
//! `reference` says otherwise) holding a string, a number, or an array of
//! acceptable answers; the best score over the array counts. A sample without
//! the field scores [`Score::invalid`] (`NaN`, with a cause naming the field),
//! whereas an output that is merely wrong or empty scores 0.
//!
//! [`normalize_answer`], [`compute_exact`] and [`compute_f1`] reproduce the
//! official SQuAD evaluation script; `tests/squad_reference.rs` checks them
//! against values the script itself produced.

#![deny(missing_docs)]

mod agreement;
mod config;
mod contains;
mod context;
mod cost;
mod error;
mod exact_match;
mod json_extract;
mod json_valid;
mod latency;
mod multiple_choice;
mod normalize;
mod perplexity;
mod reference;
mod regex_group;
mod regex_match;
mod token_f1;

pub use agreement::{Agreement, AgreementConfig};
pub use config::{build, BuildContext, MetricConfig, Price};
pub use contains::{Contains, ContainsConfig};
pub use context::{score_without_models, NoModels, PairContext, ScoreContext};
pub use cost::{Cost, CostConfig};
pub use error::ConfigError;
pub use exact_match::{compute_exact, ExactMatch, ExactMatchConfig};
pub use json_valid::{JsonValid, JsonValidConfig};
pub use latency::{Latency, LatencyConfig, Measure};
pub use multiple_choice::{ChoiceNormalize, MultipleChoice, MultipleChoiceConfig};
pub use normalize::{normalize_answer, Normalize};
pub use perplexity::{Perplexity, PerplexityConfig, Protocol};
pub use regex_group::{Group, Occurrence};
pub use regex_match::{RegexConfig, RegexMatch};
pub use token_f1::{compute_f1, TokenF1, TokenF1Config};

use std::collections::BTreeMap;

pub use evalkit_model_api::BoxFuture;
use evalkit_model_api::ScoreSpec;
pub use evalkit_record::results::{Direction, Scale};
use serde::{Deserialize, Serialize};

/// The fields of one dataset row, as JSON values.
pub type Fields = serde_json::Map<String, serde_json::Value>;

/// One metric's verdict on one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The score; `NaN` when it could not be computed (see `cause`).
    pub value: f64,
    /// Why `value` is `NaN`, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Anything that explains the score: the extracted answer, the reference matched, ...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, serde_json::Value>,
}

impl Score {
    /// A computed score.
    pub fn value(value: f64) -> Self {
        Score { value, cause: None, details: BTreeMap::new() }
    }

    /// A pass (1.0) or fail (0.0).
    pub fn pass(passed: bool) -> Self {
        Score::value(if passed { 1.0 } else { 0.0 })
    }

    /// A score that could not be computed, and why.
    pub fn invalid(cause: impl Into<String>) -> Self {
        Score { value: f64::NAN, cause: Some(cause.into()), details: BTreeMap::new() }
    }

    /// Attach one detail.
    pub fn with_detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// Attach a text detail (the answer as compared, a reference), cut at
    /// [`DETAIL_TEXT_CHARS`] characters: the whole answer is the record's
    /// response, and a detail repeating a 10 MiB answer would store it twice.
    pub fn with_text_detail(self, key: &str, text: &str) -> Self {
        match text.char_indices().nth(DETAIL_TEXT_CHARS) {
            Some((end, _)) => {
                let total = text.chars().count();
                self.with_detail(key, format!("{}… ({total} characters)", &text[..end]))
            }
            None => self.with_detail(key, text),
        }
    }
}

/// Characters of a text detail kept in the journal ([`Score::with_text_detail`]).
pub const DETAIL_TEXT_CHARS: usize = 1000;

/// A scoring function.
pub trait Metric: Send + Sync {
    /// The name results are reported under (unique in a suite).
    fn name(&self) -> &str;
    /// Binary or continuous.
    fn scale(&self) -> Scale;
    /// Whether bigger is better.
    fn direction(&self) -> Direction;
    /// The unit values are in (`"s"`, `"USD"`), if any, for display.
    fn unit(&self) -> Option<&str> {
        None
    }
    /// Score one response. Never panics: a score that cannot be computed
    /// (a missing field, a judge whose every attempt failed) is
    /// [`Score::invalid`] with its cause.
    fn score<'a>(&'a self, context: &'a ScoreContext<'a>) -> BoxFuture<'a, Score>;
    /// For metrics computed from log-likelihoods instead of generated text:
    /// what the backend must score for this sample (`Err` when the sample
    /// lacks what the metric needs). `None` for metrics that read generated text.
    fn scoring(&self, _fields: &Fields) -> Option<Result<ScoreSpec, String>> {
        None
    }
    /// How the run's aggregate is formed when it is not a mean of per-sample
    /// values: `"perplexity"` pools token log-likelihoods across samples.
    fn aggregate(&self) -> Option<&'static str> {
        None
    }
    /// For metrics that compare with a reference variant's answer: how.
    /// `None` for metrics that score one response on its own.
    fn paired(&self) -> Option<&dyn PairedMetric> {
        None
    }
}

/// The part of a metric that compares a variant's response with another
/// variant's response to the same sample and repeat (the metric's reference
/// variant). The harness scores such metrics in its paired stage, once both
/// answers exist, instead of calling [`Metric::score`].
pub trait PairedMetric: Send + Sync {
    /// The variant every other variant is compared with. That variant itself
    /// gets no score from this metric.
    fn reference_variant(&self) -> &str;
    /// Score one response against the reference variant's. Never panics.
    fn score_pair<'a>(&'a self, context: &'a PairContext<'a>) -> BoxFuture<'a, Score>;
}

/// A future that is ready at once: how metrics that call no model answer.
pub(crate) fn ready<'a>(score: Score) -> BoxFuture<'a, Score> {
    Box::pin(std::future::ready(score))
}

/// Helpers shared by the unit tests.
#[cfg(test)]
mod testing {
    use evalkit_model_api::Response;
    use serde_json::Value;

    use crate::{score_without_models, Fields, Metric, Score};

    /// A non-streamed response with `text` and no usage.
    pub(crate) fn response(text: &str) -> Response {
        Response { text: text.to_owned(), ..Response::default() }
    }

    /// A sample's fields from a JSON object literal.
    pub(crate) fn fields(value: Value) -> Fields {
        match value {
            Value::Object(map) => map,
            other => panic!("test fields must be an object, got {other}"),
        }
    }

    /// Score `text` against `fields` with `metric`.
    pub(crate) fn score(metric: &dyn Metric, fields: &Fields, text: &str) -> Score {
        score_without_models(metric, fields, &response(text), "test-model")
    }
}
