//! A run's baseline file: its per-sample means, made from its results and journal.
//! The file format itself is `evalkit_record::baseline`.

use std::collections::BTreeMap;

use evalkit_record::baseline::{Baseline, BASELINE_SCHEMA_VERSION};
use evalkit_record::journal::Record;
use evalkit_record::results::RunResults;

use crate::analyze::sample_means;

/// The baseline of a finished run: every (variant, metric)'s per-sample means.
pub fn baseline_of_run(results: &RunResults, records: &[Record]) -> Baseline {
    let mut scores = BTreeMap::new();
    for variant in &results.variants {
        let per_metric: BTreeMap<String, BTreeMap<String, f64>> =
            results.metrics.iter().map(|m| (m.name.clone(), sample_means(records, &variant.name, &m.name))).collect();
        scores.insert(variant.name.clone(), per_metric);
    }
    Baseline {
        schema_version: BASELINE_SCHEMA_VERSION,
        suite_name: results.run.suite_name.clone(),
        run_id: results.run.id.clone(),
        started_at: results.run.started_at.clone(),
        git_commit: results.run.git_commit.clone(),
        metrics: results.metrics.clone(),
        aggregates: results.aggregates.clone(),
        scores,
    }
}
