//! `evalkit baseline update <run dir>`: write the baseline file that
//! regression gates compare later runs with.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use evalkit_reports::gates::baseline_of_run;

use crate::diagnostic::Diagnostic;
use crate::exit::Failure;
use crate::outputs::BaselineSource;
use crate::rundir::write_file;

/// Write the baseline of the run in `run_path` to `output`, or to the one
/// baseline file the suite's gates name.
pub fn update(run_path: &Path, output: Option<&Path>) -> Result<(), Failure> {
    let rebuilt = super::report::derive(run_path, BaselineSource::Suite)?;
    if !rebuilt.results.run.complete {
        return Err(Failure::Incomplete(anyhow!(
            "run `{}` is incomplete ({} task(s) have no record): a baseline must cover every sample\n  finish it with `evalkit run --resume {}`",
            rebuilt.run.path.display(),
            rebuilt.results.missing_tasks(),
            rebuilt.run.path.display()
        )));
    }
    let target = match output {
        Some(path) => path.to_path_buf(),
        None => suite_baseline(&rebuilt.suite)?,
    };
    let baseline = baseline_of_run(&rebuilt.results, rebuilt.records());
    let json = serde_json::to_string_pretty(&baseline).map_err(|e| Failure::Incomplete(e.into()))?;
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))
            .map_err(Failure::Incomplete)?;
    }
    write_file(&target, json.as_bytes()).map_err(Failure::Incomplete)?;
    let samples: usize = baseline.scores.values().flat_map(|m| m.values()).map(|s| s.len()).max().unwrap_or(0);
    eprintln!(
        "baseline: {} ({} variant(s), {} metric(s), {samples} samples, from run {})",
        target.display(),
        baseline.scores.len(),
        baseline.metrics.len(),
        baseline.run_id
    );
    Ok(())
}

/// The baseline file named by the suite's regression gates (already made
/// absolute in the run's copy of the suite), when they name exactly one.
fn suite_baseline(suite: &crate::suite::Suite) -> Result<PathBuf, Failure> {
    let named: BTreeSet<&str> = suite.file.gates.iter().filter_map(|g| g.baseline.as_deref()).collect();
    match named.len() {
        1 => Ok(PathBuf::from(named.into_iter().next().unwrap_or_default())),
        0 => Err(Failure::Invalid(
            Diagnostic::new("the suite's gates name no baseline file")
                .with_hint("pass `--output baseline.json`, or add a gate with `baseline = \"baseline.json\"`")
                .into(),
        )),
        _ => Err(Failure::Invalid(
            Diagnostic::new(format!("the suite's gates name {} baseline files", named.len()))
                .with_hint("pass `--output <file>` to say which one to write")
                .into(),
        )),
    }
}
