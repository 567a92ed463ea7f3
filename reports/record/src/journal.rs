//! The journal record, version 2: one [`Record`] per finished task, one JSON
//! object per line of `records.jsonl`. Everything else a run produces is
//! derived from these records and the run manifest.
//!
//! A record keeps all that the model caller returned, so that a report,
//! a rescore or a replay never needs to ask the model again: the prompt as
//! structured messages, the whole [`Response`] (text, usage, timing, finish
//! reason, token log-probabilities and scored tokens when present, the model
//! name the server reported), every metric's score with its details, and the
//! model calls a metric made to reach it.
//!
//! Records of version 1 (no `v` key) still read: [`parse_line`] upgrades them
//! (see [`crate::journal_v1`]).

use std::collections::{BTreeMap, HashMap};

use evalkit_model_api::{ModelCall, Prompt, Response};
use serde::{Deserialize, Serialize};

pub use evalkit_model_api::{CallError as ErrorEntry, Outcome};

/// The record version this evalkit writes.
pub const RECORD_VERSION: u32 = 2;

/// One finished task: a variant's answer to one sample (one repeat), and its scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Record format version: [`RECORD_VERSION`].
    pub v: u32,
    /// Variant name.
    pub variant: String,
    /// Stable sample id.
    pub sample: String,
    /// Repeat index, from 0.
    pub repeat: u32,
    /// Hash of everything that can change the answer (the response-cache key).
    pub request_hash: String,
    /// The rendered prompt: chat messages, or completion text.
    pub prompt: Prompt,
    /// The sample's reference answer, when the dataset has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<serde_json::Value>,
    /// The sample's cluster (several questions about one document), when the dataset names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The variant's response, or the error that ended its attempts
    /// (`{"response": {...}}` or `{"error": {"kind", "message"}}`).
    pub outcome: Outcome,
    /// Metric name → score. Empty when the request failed.
    #[serde(default)]
    pub scores: BTreeMap<String, ScoreEntry>,
    /// How many requests were sent for the answer (0 when the cache answered).
    pub attempts: u32,
    /// Whether the response came from the response cache.
    #[serde(default)]
    pub cached: bool,
    /// When the task finished (RFC 3339, UTC).
    pub finished_at: String,
}

impl Record {
    /// The variant's response, if the task succeeded.
    pub fn response(&self) -> Option<&Response> {
        self.outcome.response()
    }

    /// Which task this record is of.
    pub fn key(&self) -> TaskKey<'_> {
        TaskKey { variant: &self.variant, sample: &self.sample, repeat: self.repeat }
    }

    /// The record as analysis reads it: the prompt emptied, the answer cut to
    /// its first `text_chars` characters, and no token log-probabilities or
    /// metric calls. Scores, details, usage and timing stay whole.
    pub fn lighten(mut self, text_chars: usize) -> Record {
        self.prompt = Prompt::Completion(String::new());
        if let Outcome::Response(response) = &mut self.outcome {
            if let Some((cut, _)) = response.text.char_indices().nth(text_chars) {
                response.text.truncate(cut);
                response.text.shrink_to_fit();
            }
            response.logprobs = None;
        }
        for score in self.scores.values_mut() {
            score.calls = Vec::new();
        }
        self
    }
}

/// One metric's score of one task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreEntry {
    /// The value; `null` when it could not be computed (see `cause`).
    pub value: Option<f64>,
    /// Why the value is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// What explains the score, as typed JSON values: the extracted answer,
    /// the reference matched, a judge's reasoning, token counts. Each metric
    /// documents its keys.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, serde_json::Value>,
    /// The model calls the metric made for this score (a judge's request and
    /// answer), cached, retried and counted like the variant's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<ModelCall>,
}

/// Identifies a task across sessions of a run: variant name, sample id, repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskKey<'a> {
    /// Variant name.
    pub variant: &'a str,
    /// Sample id.
    pub sample: &'a str,
    /// Repeat index.
    pub repeat: u32,
}

/// Why a journal line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// Neither a current nor a version-1 record.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// Written by a newer evalkit.
    #[error("record version {0} is newer than this evalkit reads (up to {RECORD_VERSION}); upgrade evalkit")]
    NewerVersion(u32),
}

/// Read one journal line: a current record, or a version-1 record upgraded.
pub fn parse_line(line: &[u8]) -> Result<Record, LineError> {
    match serde_json::from_slice::<Record>(line) {
        Ok(record) if record.v > RECORD_VERSION => Err(LineError::NewerVersion(record.v)),
        Ok(record) => Ok(record),
        // A version-1 line has no `v`; anything else reports the current format's error.
        Err(current) => match serde_json::from_slice::<crate::journal_v1::Record>(line) {
            Ok(old) => Ok(old.upgrade()),
            Err(_) => Err(LineError::Json(current)),
        },
    }
}

/// The last record of each task, in the order tasks first appear: a retried
/// task's new record supersedes its old error, and a task resumed twice counts once.
pub fn latest_per_task(records: Vec<Record>) -> Vec<Record> {
    let mut position: HashMap<(String, String, u32), usize> = HashMap::with_capacity(records.len());
    let mut latest: Vec<Record> = Vec::with_capacity(records.len());
    for record in records {
        let key = (record.variant.clone(), record.sample.clone(), record.repeat);
        match position.get(&key) {
            Some(&index) => latest[index] = record,
            None => {
                position.insert(key, latest.len());
                latest.push(record);
            }
        }
    }
    latest
}
