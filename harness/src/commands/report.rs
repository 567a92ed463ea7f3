//! `evalkit report <run dir>`: rebuild a run's outputs from its journal.
//! Gates are checked and shown but do not change the exit code: that is
//! `evalkit gate`'s job.

use std::path::Path;

use anyhow::Context;
use evalkit_reports::record::Record;
use evalkit_reports::RunResults;

use crate::exit::Failure;
use crate::journal;
use crate::outputs::{self, BaselineSource};
use crate::rundir::RunDir;
use crate::suite::{self, Suite};

/// A run folder re-read and its outputs rewritten.
pub struct Rebuilt {
    /// The run folder.
    pub run: RunDir,
    /// The suite as it ran.
    pub suite: Suite,
    /// The last record of each task.
    pub records: Vec<Record>,
    /// The results, gates included.
    pub results: RunResults,
}

/// Re-analyse `records.jsonl` and rewrite every output of the run.
pub fn report(run_path: &Path) -> Result<(), Failure> {
    let rebuilt = rebuild(run_path, BaselineSource::Suite)?;
    println!("{}", evalkit_reports::terminal::summary_table(&rebuilt.results));
    eprint!("{}", evalkit_reports::terminal::gate_report(&rebuilt.results));
    eprintln!("report: {}", rebuilt.run.report().display());
    Ok(())
}

/// Read a run folder's suite and journal, and rewrite its outputs.
pub fn rebuild(run_path: &Path, baseline: BaselineSource<'_>) -> Result<Rebuilt, Failure> {
    let run = RunDir::open(run_path)?;
    let suite = suite::load(&run.suite_toml())?;
    let contents =
        journal::read(&run.records()).with_context(|| format!("cannot read `{}`", run.records().display()))?;
    for (line, why) in &contents.skipped {
        eprintln!("warning: {}:{line}: skipped an unreadable record ({why})", run.records().display());
    }
    let samples = run.manifest.datasets.get(&suite.dataset).map_or(0, |d| d.samples);
    let planned = samples * suite.variants.len() * suite.file.run.repeats as usize;
    let records = crate::commands::run::latest_per_task(contents.records);
    let complete = records.len() >= planned;
    let results = outputs::write(&run, &suite, &records, samples, complete, baseline)?;
    Ok(Rebuilt { run, suite, records, results })
}
