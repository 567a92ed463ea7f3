//! A run on disk: `runs/<suite>/<UTC timestamp>-<short id>/`.
//!
//! ```text
//! suite.toml      resolved copy of what ran (absolute paths): resume needs nothing else
//! runtime.json    how local models ran: load time, weights memory, peak memory
//! run.json        manifest: id, host, start and finish times, dataset fingerprints, backend identities
//! records.jsonl   the journal (source of truth)
//! results.json    aggregates, derived from the journal
//! report.html     one self-contained page, derived from the journal
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use evalkit_model_api::BackendIdentity;
use evalkit_record::atomic::write_atomic;
use evalkit_record::journal::Record;
pub use evalkit_record::manifest::{DatasetFingerprint, Manifest, MANIFEST_VERSION};
use sha2::{Digest, Sha256};

use crate::dataset::Dataset;
use crate::suite::Suite;

/// The lock file inside a run folder (hidden: it is no output).
pub const LOCK_FILE: &str = ".lock";

/// Held while a process writes a run folder; see [`RunDir::lock`].
pub struct RunLock {
    _file: std::fs::File,
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
    pub fn create(
        output_dir: &Path,
        suite: &Suite,
        datasets: &BTreeMap<String, Dataset>,
        backends: BTreeMap<String, BackendIdentity>,
        planned_tasks: u64,
    ) -> Result<RunDir> {
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
            finished_at: None,
            host: Some(host_name()),
            evalkit_version: env!("CARGO_PKG_VERSION").to_owned(),
            git_commit: git_commit(suite.source.base_dir()),
            datasets: fingerprints(datasets),
            backends,
            planned_tasks: Some(planned_tasks),
            stale_samples: Vec::new(),
        };
        let run = RunDir { path, manifest };
        write_file(&run.suite_toml(), resolved_suite(suite)?.as_bytes())?;
        run.write_manifest()?;
        Ok(run)
    }

    /// Record that every planned task now has a record (`evalkit run` calls
    /// this when a session ends with the plan complete). Only a run writes its manifest.
    pub fn mark_finished(&mut self) -> Result<()> {
        if self.manifest.finished_at.is_none() {
            self.manifest.finished_at = Some(crate::clock::now_rfc3339());
            self.write_manifest()?;
        }
        Ok(())
    }

    /// A `--resume` found the dataset edited: record the plan as it is now
    /// (fingerprints, planned tasks) and which samples of the journal it no
    /// longer has, so that every later reading of the run leaves them out.
    pub fn replan(
        &mut self,
        datasets: BTreeMap<String, DatasetFingerprint>,
        planned_tasks: u64,
        stale_samples: Vec<String>,
    ) -> Result<()> {
        let changed = self.manifest.datasets != datasets
            || self.manifest.planned_tasks != Some(planned_tasks)
            || self.manifest.stale_samples != stale_samples;
        if changed {
            self.manifest.datasets = datasets;
            self.manifest.planned_tasks = Some(planned_tasks);
            self.manifest.stale_samples = stale_samples;
            self.write_manifest()?;
        }
        Ok(())
    }

    fn write_manifest(&self) -> Result<()> {
        write_file(&self.manifest_path(), serde_json::to_string_pretty(&self.manifest)?.as_bytes())
    }

    /// Whether every planned task has a record: the one place this is decided.
    /// A run records it in its manifest when it finishes; a manifest of
    /// version 1 did not, so there the latest records are counted against
    /// the plan's size.
    pub fn is_complete(&self, latest: &[Record], planned_tasks: usize) -> bool {
        if self.manifest.finished_at.is_some() {
            return true;
        }
        match self.manifest.planned_tasks {
            Some(_) => false,
            None => latest.len() >= planned_tasks,
        }
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

    /// Become the one process writing this run: two `evalkit run --resume`
    /// of one folder at once would each ask every pending task. The lock is
    /// the operating system's (`flock`), so a process that dies, even by
    /// `kill -9`, releases it; it is held until the [`RunLock`] is dropped.
    pub fn lock(&self) -> Result<RunLock> {
        let path = self.path.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open the run lock `{}`", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                let by = if holder.is_empty() { String::new() } else { format!(" (by {holder})") };
                anyhow::bail!(
                    "run folder `{}` is being written by another `evalkit run`{by}; wait for it to finish, or stop \
                     it, then `evalkit run --resume {}`",
                    self.path.display(),
                    self.path.display()
                );
            }
            Err(std::fs::TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("cannot lock the run folder `{}`", self.path.display()))
            }
        }
        // Who holds it, for the message a second writer gets; not needed for the lock itself.
        let _ = file.set_len(0);
        let _ = std::io::Write::write_all(
            &mut &file,
            format!("process {} on {}\n", std::process::id(), host_name()).as_bytes(),
        );
        Ok(RunLock { _file: file })
    }

    /// How each local backend ran (load time, memory), by backend name.
    pub fn runtime_path(&self) -> PathBuf {
        self.path.join("runtime.json")
    }

    /// Backend runtime facts recorded by earlier sessions of this run.
    pub fn runtime(&self) -> BTreeMap<String, evalkit_model_api::RuntimeInfo> {
        std::fs::read_to_string(self.runtime_path())
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Add this session's backend runtime facts. A backend that did not load
    /// its model this time (everything cached) keeps what an earlier session recorded.
    pub fn record_runtime(&self, latest: BTreeMap<String, evalkit_model_api::RuntimeInfo>) -> Result<()> {
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

/// The checked suite as it ran, serialised, with its (already resolved)
/// paths made absolute so the copy stands alone.
fn resolved_suite(suite: &Suite) -> Result<String> {
    let mut file = suite.file.clone();
    crate::suite::paths::map_paths(&mut file, absolute);
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

/// Write a whole file atomically ([`write_atomic`]), naming the path on error.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(write_atomic(path, bytes)?)
}

/// This machine's host name, for the manifest.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn git_commit(dir: &Path) -> Option<String> {
    let output = std::process::Command::new("git").arg("-C").arg(dir).args(["rev-parse", "HEAD"]).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned()).filter(|s| !s.is_empty())
}
