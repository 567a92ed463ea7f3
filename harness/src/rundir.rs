//! A run on disk: `runs/<suite>/<UTC timestamp>-<short id>/`.
//!
//! ```text
//! suite.toml      resolved copy of what ran (absolute paths): resume needs nothing else
//! runtime.json    how local models ran: load time, weights memory, peak memory
//! run.json        manifest: id, start time, dataset fingerprints
//! records.jsonl   the journal (source of truth)
//! results.json    aggregates, derived from the journal
//! report.html     one self-contained page, derived from the journal
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::dataset::Dataset;
use crate::suite::Suite;

/// Version of `run.json`.
pub const MANIFEST_VERSION: u32 = 1;

/// `run.json`: what a resume needs to know about the original run.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// evalkit version that started the run.
    pub evalkit_version: String,
    /// Git commit of the suite's repository, when it is in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Dataset name → fingerprint, to warn when data changed before a resume.
    pub datasets: BTreeMap<String, DatasetFingerprint>,
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

/// An existing or new run directory.
pub struct RunDir {
    /// The folder.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

impl RunDir {
    /// Create a fresh run folder under `output_dir/<suite>/` and write the
    /// resolved suite and manifest into it.
    pub fn create(output_dir: &Path, suite: &Suite, datasets: &BTreeMap<String, Dataset>) -> Result<RunDir> {
        let stamp = crate::clock::now_compact();
        let nonce = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
        let short = hex::encode(&Sha256::digest(nonce.as_bytes())[..3]);
        let run_id = format!("{stamp}-{short}");
        let path = output_dir.join(&suite.file.suite.name).join(&run_id);
        std::fs::create_dir_all(&path).with_context(|| format!("cannot create run folder `{}`", path.display()))?;
        let manifest = Manifest {
            manifest_version: MANIFEST_VERSION,
            run_id,
            suite_name: suite.file.suite.name.clone(),
            suite_file: absolute(&suite.source.path).display().to_string(),
            started_at: crate::clock::now_rfc3339(),
            evalkit_version: env!("CARGO_PKG_VERSION").to_owned(),
            git_commit: git_commit(suite.source.base_dir()),
            datasets: fingerprints(datasets),
        };
        let run = RunDir { path, manifest };
        write_file(&run.suite_toml(), resolved_suite(suite)?.as_bytes())?;
        write_file(&run.manifest_path(), serde_json::to_string_pretty(&run.manifest)?.as_bytes())?;
        Ok(run)
    }

    /// Open a run folder to resume or re-report it.
    pub fn open(path: &Path) -> Result<RunDir> {
        let manifest_path = path.join("run.json");
        let text = std::fs::read_to_string(&manifest_path).with_context(|| {
            format!("`{}` is not a run folder (cannot read `{}`)", path.display(), manifest_path.display())
        })?;
        let manifest: Manifest =
            serde_json::from_str(&text).with_context(|| format!("cannot parse `{}`", manifest_path.display()))?;
        Ok(RunDir { path: path.to_path_buf(), manifest })
    }

    /// How each local backend ran (load time, memory), by backend name.
    pub fn runtime_path(&self) -> PathBuf {
        self.path.join("runtime.json")
    }

    /// Backend runtime facts recorded by earlier sessions of this run.
    pub fn runtime(&self) -> BTreeMap<String, evalkit_backends::RuntimeInfo> {
        std::fs::read_to_string(self.runtime_path())
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Add this session's backend runtime facts. A backend that did not load
    /// its model this time (everything cached) keeps what an earlier session recorded.
    pub fn record_runtime(&self, latest: BTreeMap<String, evalkit_backends::RuntimeInfo>) -> Result<()> {
        if latest.is_empty() {
            return Ok(());
        }
        let mut all = self.runtime();
        all.extend(latest);
        write_file(&self.runtime_path(), serde_json::to_string_pretty(&all)?.as_bytes())
    }

    /// The resolved suite copy.
    pub fn suite_toml(&self) -> PathBuf {
        self.path.join("suite.toml")
    }
    /// The manifest.
    pub fn manifest_path(&self) -> PathBuf {
        self.path.join("run.json")
    }
    /// The journal.
    pub fn records(&self) -> PathBuf {
        self.path.join("records.jsonl")
    }
    /// Aggregated results.
    pub fn results(&self) -> PathBuf {
        self.path.join("results.json")
    }
    /// The HTML report.
    pub fn report(&self) -> PathBuf {
        self.path.join("report.html")
    }
    /// Any other output of the run, by file name (`summary.md`, `junit.xml`, ...).
    pub fn output(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

/// Dataset name → fingerprint.
pub fn fingerprints(datasets: &BTreeMap<String, Dataset>) -> BTreeMap<String, DatasetFingerprint> {
    datasets
        .iter()
        .map(|(name, d)| {
            let fingerprint = DatasetFingerprint {
                path: absolute(&d.path).display().to_string(),
                sha256: d.sha256.clone(),
                samples: d.samples.len(),
            };
            (name.clone(), fingerprint)
        })
        .collect()
}

/// The suite as it ran, with every path made absolute so the copy stands alone.
fn resolved_suite(suite: &Suite) -> Result<String> {
    let mut file = suite.file.clone();
    for dataset in file.datasets.values_mut() {
        dataset.path = absolute(&suite.resolve(&dataset.path)).display().to_string();
    }
    for backend in file.backends.values_mut() {
        if let crate::suite::schema::BackendSpec::Local(local) = backend {
            local.model = absolute(&suite.resolve(&local.model)).display().to_string();
        }
    }
    file.run.output_dir = absolute(&suite.resolve(&file.run.output_dir)).display().to_string();
    file.run.cache_dir = absolute(&suite.resolve(&file.run.cache_dir)).display().to_string();
    for gate in &mut file.gates {
        if let Some(baseline) = &mut gate.baseline {
            *baseline = absolute(&suite.resolve(baseline)).display().to_string();
        }
    }
    file.suite.dataset = Some(suite.dataset.clone());
    for metric in &mut file.metrics {
        if let evalkit_metrics::MetricConfig::JsonValid(json) = metric {
            if let Some(path) = &json.schema_file {
                json.schema_file = Some(absolute(&suite.source.base_dir().join(path)));
            }
        }
    }
    let body = toml::to_string_pretty(&file).context("cannot serialise the resolved suite")?;
    Ok(format!(
        "# Resolved copy of `{}` as run by evalkit {}.\n# `evalkit run --resume <this folder>` reads it.\n\n{body}",
        suite.source.path.display(),
        env!("CARGO_PKG_VERSION")
    ))
}

/// Absolute form of a path (not resolving symlinks).
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Write a whole file atomically (temp file + rename), naming the path on error.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, bytes).with_context(|| format!("cannot write `{}`", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("cannot write `{}`", path.display()))
}

fn git_commit(dir: &Path) -> Option<String> {
    let output = std::process::Command::new("git").arg("-C").arg(dir).args(["rev-parse", "HEAD"]).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned()).filter(|s| !s.is_empty())
}
