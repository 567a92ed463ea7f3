//! The journal schema: one [`Record`] per finished task, one JSON object per
//! line of `records.jsonl`. Everything else a run produces is derived from these.
//!
//! This crate defines its own copy of the shapes it reads (rather than importing
//! backend or metric types) so that reports stay independent of how results
//! were produced, and old journals stay readable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the record format written to `records.jsonl`.
pub const RECORD_SCHEMA_VERSION: u32 = 1;

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
