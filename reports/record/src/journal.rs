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

use std::collections::hash_map::Entry;
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
    pub scores: Scores,
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

    /// The record as analysis reads it: the prompt and request hash emptied,
    /// the answer cut to its first `text_chars` characters, no token
    /// log-probabilities or metric calls, and of each score's details only the
    /// numbers (what pooled aggregates such as corpus perplexity add up).
    /// Values, causes, usage and timing stay whole.
    pub fn lighten(mut self, text_chars: usize) -> Record {
        self.prompt = Prompt::Completion(String::new());
        self.request_hash = String::new();
        if let Outcome::Response(response) = &mut self.outcome {
            if let Some((cut, _)) = response.text.char_indices().nth(text_chars) {
                response.text.truncate(cut);
                response.text.shrink_to_fit();
            }
            response.logprobs = None;
        }
        for score in self.scores.values_mut() {
            score.calls = Vec::new();
            // A fresh map: one emptied by `retain` may keep its node allocated.
            score.details = std::mem::take(&mut score.details).into_iter().filter(|(_, v)| v.is_number()).collect();
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

/// A task's scores by metric name, in name order; written as a JSON object
/// whose keys are metric names and whose values are [`ScoreEntry`] objects.
///
/// A sorted vector rather than a `BTreeMap`: a task has a few scores, and
/// a run holds a hundred thousand tasks' scores while it is analysed, where
/// a map's node of eleven slots per task would cost kilobytes each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores(Vec<(String, ScoreEntry)>);

impl Scores {
    /// The score of metric `name`.
    pub fn get(&self, name: &str) -> Option<&ScoreEntry> {
        self.position(name).ok().map(|i| &self.0[i].1)
    }

    /// The score of metric `name`, to change it.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut ScoreEntry> {
        self.position(name).ok().map(|i| &mut self.0[i].1)
    }

    /// Whether metric `name` has a score.
    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Set metric `name`'s score; returns the one it replaces.
    pub fn insert(&mut self, name: String, entry: ScoreEntry) -> Option<ScoreEntry> {
        match self.position(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, entry)),
            Err(i) => {
                self.0.insert(i, (name, entry));
                None
            }
        }
    }

    /// (metric name, score) pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &ScoreEntry)> {
        self.0.iter().map(|(name, entry)| (name, entry))
    }

    /// Metric names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(name, _)| name)
    }

    /// Scores, in metric-name order.
    pub fn values(&self) -> impl Iterator<Item = &ScoreEntry> {
        self.0.iter().map(|(_, entry)| entry)
    }

    /// Scores, to change them.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut ScoreEntry> {
        self.0.iter_mut().map(|(_, entry)| entry)
    }

    /// How many metrics have a score.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no metric has a score.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(key, _)| key.as_str().cmp(name))
    }
}

impl std::ops::Index<&str> for Scores {
    type Output = ScoreEntry;

    fn index(&self, name: &str) -> &ScoreEntry {
        self.get(name).unwrap_or_else(|| panic!("no score for metric `{name}`"))
    }
}

impl FromIterator<(String, ScoreEntry)> for Scores {
    fn from_iter<I: IntoIterator<Item = (String, ScoreEntry)>>(pairs: I) -> Self {
        let mut scores = Scores::default();
        for (name, entry) in pairs {
            scores.insert(name, entry);
        }
        scores
    }
}

impl<'s> IntoIterator for &'s Scores {
    type Item = (&'s String, &'s ScoreEntry);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'s, (String, ScoreEntry)>, fn(&(String, ScoreEntry)) -> (&String, &ScoreEntry)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(name, entry)| (name, entry))
    }
}

impl Serialize for Scores {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Scores {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pairs: BTreeMap<String, ScoreEntry> = BTreeMap::deserialize(deserializer)?;
        let mut scores = Scores(pairs.into_iter().collect());
        scores.0.shrink_to_fit();
        Ok(scores)
    }
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
    let keep = latest_indices(&records);
    let mut slots: Vec<Option<Record>> = records.into_iter().map(Some).collect();
    keep.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// The index of each task's last record in `records`, in the order tasks
/// first appear. The one definition of "the latest record of a task" that
/// every reader of a journal uses.
pub fn latest_indices(records: &[Record]) -> Vec<usize> {
    let mut position: HashMap<(&str, &str, u32), usize> = HashMap::with_capacity(records.len());
    let mut latest: Vec<usize> = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        match position.entry((record.variant.as_str(), record.sample.as_str(), record.repeat)) {
            Entry::Occupied(slot) => latest[*slot.get()] = index,
            Entry::Vacant(slot) => {
                slot.insert(latest.len());
                latest.push(index);
            }
        }
    }
    latest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_a_json_object_kept_in_name_order() {
        let mut scores: Scores =
            [("token_f1".to_owned(), ScoreEntry { value: Some(0.5), ..ScoreEntry::default() })].into_iter().collect();
        assert_eq!(scores.insert("exact_match".to_owned(), ScoreEntry::default()), None);
        let replaced = scores.insert("token_f1".to_owned(), ScoreEntry { value: Some(1.0), ..ScoreEntry::default() });
        assert_eq!(replaced.and_then(|s| s.value), Some(0.5));
        assert_eq!(scores.keys().map(String::as_str).collect::<Vec<_>>(), ["exact_match", "token_f1"]);
        let json = serde_json::to_string(&scores).unwrap();
        assert_eq!(json, r#"{"exact_match":{"value":null},"token_f1":{"value":1.0}}"#);
        let back: Scores = serde_json::from_str(r#"{"b":{"value":2.0},"a":{"value":1.0}}"#).unwrap();
        assert_eq!(back.keys().map(String::as_str).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(back["b"].value, Some(2.0));
        assert!(back.get("c").is_none() && !back.contains_key("c"));
    }
}
