//! Per-sample views of the journal: the valid scores of one (variant, metric)
//! grouped by sample, which every statistic after counting works on.

use std::collections::BTreeMap;

use evalkit_record::journal::{Outcome, Record};

/// The valid scores of one (variant, metric), by sample id.
#[derive(Debug, Default)]
pub(crate) struct SampleScores<'a> {
    /// Sample id → its valid scores, one per repeat that produced one.
    pub(crate) scores: BTreeMap<&'a str, Vec<f64>>,
    /// Sample id → its cluster, for samples whose record names one.
    pub(crate) clusters: BTreeMap<&'a str, &'a str>,
}

impl<'a> SampleScores<'a> {
    /// Collect the valid scores of `metric` from one variant's tasks.
    pub(crate) fn collect(tasks: &[&'a Record], metric: &str) -> Self {
        let mut out = SampleScores::default();
        for record in tasks {
            if let Some(score) = valid_score(record, metric) {
                out.scores.entry(record.sample.as_str()).or_default().push(score);
                if let Some(cluster) = &record.cluster {
                    out.clusters.insert(record.sample.as_str(), cluster.as_str());
                }
            }
        }
        out
    }

    /// Each sample's mean over its valid repeats, in sample-id order.
    pub(crate) fn means(&self) -> BTreeMap<&'a str, f64> {
        self.scores.iter().filter_map(|(id, s)| Some((*id, evalkit_stats::mean(s)?))).collect()
    }

    /// Whether every sample has exactly one score and it is 0 or 1: the data
    /// are then Bernoulli counts (Wilson intervals, McNemar's test).
    pub(crate) fn is_single_pass_fail(&self) -> bool {
        self.scores.values().all(|s| matches!(s.as_slice(), [v] if *v == 0.0 || *v == 1.0))
    }

    /// The cluster of every sample, in sample order, when every sample has one.
    pub(crate) fn cluster_list(&self) -> Option<Vec<&'a str>> {
        self.scores.keys().map(|id| self.clusters.get(id).copied()).collect()
    }
}

/// A task's valid score for `metric`, if it has one.
pub(crate) fn valid_score(record: &Record, metric: &str) -> Option<f64> {
    if !matches!(record.outcome, Outcome::Response(_)) {
        return None;
    }
    let score = record.scores.get(metric)?.value?;
    // JSON cannot carry NaN or infinity, but an in-memory record can.
    score.is_finite().then_some(score)
}

/// Each sample's mean score of `metric` under `variant`, from the last record
/// of every task: what a baseline file stores and regression gates pair on.
pub fn sample_means(records: &[Record], variant: &str, metric: &str) -> BTreeMap<String, f64> {
    let latest = super::latest_tasks(records);
    let tasks: Vec<&Record> = latest.into_iter().filter(|((v, _, _), _)| *v == variant).map(|(_, r)| r).collect();
    SampleScores::collect(&tasks, metric).means().into_iter().map(|(id, m)| (id.to_owned(), m)).collect()
}
