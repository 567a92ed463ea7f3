//! Holding records until every variant has answered the same sample and
//! repeat, then running the paired stage over them.

use std::collections::HashMap;

use evalkit_model_api::Response;
use evalkit_record::journal::Record;

use super::Shared;
use crate::plan::Task;
use crate::scoring::score_pairs;

/// Records waiting for the rest of their (sample, repeat) group.
pub struct PairedStage {
    /// (sample index, repeat) → tasks of the group still running, and the records so far.
    waiting: HashMap<(usize, u32), (usize, Vec<Record>)>,
    /// Reference variants' answers recorded by earlier sessions of this run:
    /// (variant, sample id, repeat) → response.
    earlier: HashMap<(String, String, u32), Response>,
}

impl PairedStage {
    /// A stage for `pending` tasks; `earlier` are the journal's records from
    /// earlier sessions, of which the reference variants' answers are kept.
    pub fn new<'t>(
        pending: impl IntoIterator<Item = &'t Task>,
        earlier: &[Record],
        reference_variants: &[&str],
    ) -> Self {
        let mut waiting: HashMap<(usize, u32), (usize, Vec<Record>)> = HashMap::new();
        for task in pending {
            waiting.entry((task.sample, task.repeat)).or_default().0 += 1;
        }
        let earlier = earlier
            .iter()
            .filter(|r| reference_variants.contains(&r.variant.as_str()))
            .filter_map(|r| Some(((r.variant.clone(), r.sample.clone(), r.repeat), r.response()?.clone())))
            .collect();
        PairedStage { waiting, earlier }
    }

    /// Take one finished record; returns the records of its group, scored by
    /// the paired metrics, once the group is complete (else nothing yet).
    pub async fn finished(&mut self, shared: &Shared, sample: usize, repeat: u32, record: Record) -> Vec<Record> {
        let key = (sample, repeat);
        let group = self.waiting.entry(key).or_insert((1, Vec::new()));
        group.0 = group.0.saturating_sub(1);
        group.1.push(record);
        if group.0 > 0 {
            return Vec::new();
        }
        let Some((_, mut records)) = self.waiting.remove(&key) else { return Vec::new() };
        let sample = &shared.dataset.samples[sample];
        let earlier = &self.earlier;
        score_pairs(&shared.metrics, &sample.fields, &mut records, |variant| {
            earlier.get(&(variant.to_owned(), sample.id.clone(), repeat))
        })
        .await;
        records
    }
}
