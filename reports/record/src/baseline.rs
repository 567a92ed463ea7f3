//! Baseline files: the per-sample scores of a run that later runs are gated
//! against. Written by `evalkit baseline update`, committed next to the suite.
//!
//! A baseline keeps every sample's score (not just the means) so a later run
//! can be compared sample by sample: a paired comparison needs far fewer
//! samples than comparing two means to see the same drop.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::results::{Aggregate, MetricInfo};

/// Version of the baseline file format.
pub const BASELINE_SCHEMA_VERSION: u32 = 1;

/// A baseline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Always [`BASELINE_SCHEMA_VERSION`] when written by this version.
    pub schema_version: u32,
    /// The suite the baseline was made from.
    pub suite_name: String,
    /// The run it was made from.
    pub run_id: String,
    /// When that run started.
    pub started_at: String,
    /// Commit the run was made at, if known.
    pub git_commit: Option<String>,
    /// The metrics, as the run described them.
    pub metrics: Vec<MetricInfo>,
    /// The run's aggregates, for people reading the file.
    pub aggregates: Vec<Aggregate>,
    /// variant → metric → sample id → the sample's mean score.
    pub scores: BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>>,
}

/// Why a baseline file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// Not JSON of the baseline shape.
    #[error("not a baseline file: {0}")]
    Parse(#[from] serde_json::Error),
    /// Written by a newer evalkit.
    #[error("baseline schema version {found} is not supported (this evalkit reads version {BASELINE_SCHEMA_VERSION})")]
    Version {
        /// The version in the file.
        found: u32,
    },
}

impl Baseline {
    /// Read a baseline from its JSON text.
    pub fn parse(text: &str) -> Result<Baseline, BaselineError> {
        #[derive(Deserialize)]
        struct Version {
            schema_version: u32,
        }
        let version: Version = serde_json::from_str(text)?;
        if version.schema_version != BASELINE_SCHEMA_VERSION {
            return Err(BaselineError::Version { found: version.schema_version });
        }
        Ok(serde_json::from_str(text)?)
    }

    /// The per-sample scores of `metric` under `variant`: the variant of the
    /// same name, or the baseline's only variant.
    pub fn scores(&self, variant: &str, metric: &str) -> Option<&BTreeMap<String, f64>> {
        let per_metric = match self.scores.get(variant) {
            Some(per_metric) => per_metric,
            None if self.scores.len() == 1 => self.scores.values().next()?,
            None => return None,
        };
        per_metric.get(metric)
    }
}
