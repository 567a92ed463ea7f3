//! Holding records until every variant has answered the same sample and
//! repeat, then running the paired stage over them.

use std::collections::HashMap;

use std::path::Path;

use evalkit_model_api::Response;
use evalkit_record::journal::{Outcome, Record};
use evalkit_record::journal_file::for_each;

use super::Shared;
use crate::plan::Task;
use crate::scoring::score_pairs;

/// The latest answers of `variants` in the journal at `path`, by (variant,
/// sample id, repeat): what a resumed run's paired stage compares with.
pub fn earlier_answers(path: &Path, variants: &[&str]) -> std::io::Result<HashMap<(String, String, u32), Response>> {
    let mut answers = HashMap::new();
    if variants.is_empty() || !path.exists() {
        return Ok(answers);
    }
    for_each(path, |_, record| {
        if !variants.contains(&record.variant.as_str()) {
            return;
        }
        let key = (record.variant, record.sample, record.repeat);
        match record.outcome {
            Outcome::Response(response) => answers.insert(key, response),
            Outcome::Error(_) => answers.remove(&key),
        };
    })?;
    Ok(answers)
}

/// Records waiting for the rest of their (sample, repeat) group.
pub struct PairedStage {
    /// (sample index, repeat) → tasks of the group still running, and the records so far.
    waiting: HashMap<(usize, u32), (usize, Vec<Record>)>,
    /// Reference variants' answers recorded by earlier sessions of this run:
    /// (variant, sample id, repeat) → response.
    earlier: HashMap<(String, String, u32), Response>,
}

impl PairedStage {
    /// A stage for `pending` tasks; `earlier` holds the answers the
    /// reference variants gave in earlier sessions of this run, by
    /// (variant, sample id, repeat) ([`earlier_answers`]).
    pub fn new<'t>(
        pending: impl IntoIterator<Item = &'t Task>,
        earlier: HashMap<(String, String, u32), Response>,
    ) -> Self {
        let mut waiting: HashMap<(usize, u32), (usize, Vec<Record>)> = HashMap::new();
        for task in pending {
            waiting.entry((task.sample, task.repeat)).or_default().0 += 1;
        }
        PairedStage { waiting, earlier }
    }

    /// Take one finished task's record (`None` when the task failed inside
    /// evalkit); returns the records of its group, scored by the paired
    /// metrics, once the group is complete (else nothing yet).
    pub async fn finished(
        &mut self,
        shared: &Shared,
        sample: usize,
        repeat: u32,
        record: Option<Record>,
    ) -> Vec<Record> {
        let key = (sample, repeat);
        let group = self.waiting.entry(key).or_insert((1, Vec::new()));
        group.0 = group.0.saturating_sub(1);
        group.1.extend(record);
        if group.0 > 0 {
            return Vec::new();
        }
        let Some((_, mut records)) = self.waiting.remove(&key) else { return Vec::new() };
        let sample = &shared.dataset().samples[sample];
        let earlier = &self.earlier;
        score_pairs(&shared.metrics, &sample.fields, &mut records, |variant| {
            earlier.get(&(variant.to_owned(), sample.id.clone(), repeat))
        })
        .await;
        records
    }
}
