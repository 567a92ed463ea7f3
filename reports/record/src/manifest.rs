//! `run.json`: the run manifest. What a run is (its id, suite, data and
//! backends) and when and where it ran. Written by `evalkit run` when a run
//! starts and again when a session ends; read by every command that looks at
//! a run folder, which take host, times and backend identities from here, not
//! from the machine that reads.

use std::collections::BTreeMap;

use evalkit_model_api::BackendIdentity;
use serde::{Deserialize, Serialize};

/// The manifest version this evalkit writes. Version 1 (no host, finish time
/// or backend identities) still reads.
pub const MANIFEST_VERSION: u32 = 2;

/// `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version.
    pub manifest_version: u32,
    /// Unique run id (`<timestamp>-<short id>`).
    pub run_id: String,
    /// `[suite] name`.
    pub suite_name: String,
    /// The suite file the run was started from.
    pub suite_file: String,
    /// RFC 3339 start time.
    pub started_at: String,
    /// RFC 3339 time at which the session that recorded the plan's last task
    /// ended; absent while the run is incomplete (interrupted, over its error
    /// budget, or still running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Host name of the machine that started the run (version 2 on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// evalkit version that started the run.
    pub evalkit_version: String,
    /// Git commit of the suite's repository, when it is in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Dataset name → fingerprint, to warn when data changed before a resume.
    pub datasets: BTreeMap<String, DatasetFingerprint>,
    /// Backend name → what identifies it (kind, endpoint, model and, for local
    /// models, the weights file and mode), as connected when the run started
    /// (version 2 on).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub backends: BTreeMap<String, BackendIdentity>,
    /// Tasks in the plan (variants × samples × repeats), version 2 on.
    /// A `--resume` after the dataset was edited updates it, with `datasets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_tasks: Option<u64>,
    /// Samples the journal has records for that the dataset no longer holds
    /// (rows removed before a `--resume`): their records stay in the
    /// journal, and are left out of every result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stale_samples: Vec<String>,
}

/// Which file a dataset came from, and its content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetFingerprint {
    /// Absolute path.
    pub path: String,
    /// sha256 of the file.
    pub sha256: String,
    /// Samples used (after split, limit, sample).
    pub samples: usize,
}
