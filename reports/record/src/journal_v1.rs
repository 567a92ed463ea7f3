//! Version 1 of the journal record, as evalkit 0.1 wrote it before journal v2.
//!
//! Frozen: these shapes are only read, never written, and each record is
//! upgraded to the current [`crate::journal::Record`] as it is read. What v1
//! did not keep stays absent after the upgrade: the prompt's structure (it
//! reads back as its display text), the model name the server reported, and
//! the model calls metrics made (v1 metrics made none).

use std::collections::BTreeMap;

use evalkit_model_api::{CallError, Prompt, Response, Timing, Usage};
use serde::{Deserialize, Serialize};

use crate::journal as current;

/// One finished task: a variant's answer to one sample (one repeat), and its scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Variant name.
    pub variant: String,
    /// Stable sample id.
    pub sample: String,
    /// Repeat index, from 0.
    pub repeat: u32,
    /// Hash of everything that can change the answer (the response-cache key).
    pub request_hash: String,
    /// The rendered prompt as readable text.
    pub prompt: String,
    /// The sample's reference answer, when the dataset has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<serde_json::Value>,
    /// The sample's cluster (several questions about one document), when the dataset names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// What happened.
    pub outcome: Outcome,
    /// Metric name → score. Empty when the request failed.
    #[serde(default)]
    pub scores: BTreeMap<String, ScoreEntry>,
    /// How many requests were sent (0 when answered from the cache).
    pub attempts: u32,
    /// Whether the response came from the response cache.
    #[serde(default)]
    pub cached: bool,
    /// When the task finished (RFC 3339, UTC).
    pub finished_at: String,
}

/// The task's result: a response, or the error that stopped it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The model answered.
    Response(ResponseEntry),
    /// Every attempt failed.
    Error(ErrorEntry),
}

impl Outcome {
    /// The response, if the task succeeded.
    pub fn response(&self) -> Option<&ResponseEntry> {
        match self {
            Outcome::Response(response) => Some(response),
            Outcome::Error(_) => None,
        }
    }
}

/// A model's answer as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseEntry {
    /// The generated text.
    pub text: String,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// Prompt tokens served from the provider's cache, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_tokens: Option<u64>,
    /// Reasoning tokens, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// End-to-end latency in seconds.
    pub e2e_seconds: f64,
    /// Time to first token in seconds (streaming only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_seconds: Option<f64>,
    /// Mean inter-token gap in seconds (streaming only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inter_token_seconds: Option<f64>,
    /// Why generation stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
}

/// A failed task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEntry {
    /// `rate_limited`, `transient`, `timeout`, `fatal`, or `prompt` (template failed).
    pub kind: String,
    /// The last error's message.
    pub message: String,
}

/// One metric's score of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreEntry {
    /// The value; `null` when it could not be computed.
    pub value: Option<f64>,
    /// Why the value is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Explanations (extracted answer, matched reference, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, serde_json::Value>,
}

impl Record {
    /// The same task as a current record.
    pub fn upgrade(self) -> current::Record {
        current::Record {
            v: current::RECORD_VERSION,
            variant: self.variant,
            sample: self.sample,
            repeat: self.repeat,
            request_hash: self.request_hash,
            prompt: Prompt::Completion(self.prompt),
            reference: self.reference,
            cluster: self.cluster,
            outcome: match self.outcome {
                Outcome::Response(response) => current::Outcome::Response(response.upgrade()),
                Outcome::Error(error) => {
                    current::Outcome::Error(CallError { kind: error.kind, message: error.message })
                }
            },
            scores: self
                .scores
                .into_iter()
                .map(|(name, score)| {
                    let entry = current::ScoreEntry {
                        value: score.value,
                        cause: score.cause,
                        details: score.details,
                        calls: Vec::new(),
                    };
                    (name, entry)
                })
                .collect(),
            attempts: self.attempts,
            cached: self.cached,
            finished_at: self.finished_at,
        }
    }
}

impl ResponseEntry {
    fn upgrade(self) -> Response {
        Response {
            text: self.text,
            usage: Usage {
                input_tokens: self.input_tokens,
                output_tokens: self.output_tokens,
                cached_input_tokens: self.cached_input_tokens,
                reasoning_tokens: self.reasoning_tokens,
            },
            timing: Timing {
                e2e_seconds: self.e2e_seconds,
                ttft_seconds: self.ttft_seconds,
                inter_token_seconds: self.inter_token_seconds,
            },
            finish_reason: self.finish_reason,
            ..Response::default()
        }
    }
}
