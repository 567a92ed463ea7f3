//! `evalkit report <run dir>`: rebuild a run's outputs from its journal.
//! Gates are checked and shown but do not change the exit code: that is
//! `evalkit gate`'s job.

use std::path::Path;

use evalkit_reports::record::Record;
use evalkit_reports::RunResults;

use crate::exit::Failure;
use crate::outputs::{self, BaselineSource};
use crate::rundir::RunDir;
use crate::suite::Suite;

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
    let contents = outputs::read_run(run_path)?;
    for (line, why) in &contents.skipped {
        eprintln!("warning: {}:{line}: skipped an unreadable record ({why})", contents.run.records().display());
    }
    let planned = contents.samples * contents.suite.variants.len() * contents.suite.file.run.repeats as usize;
    let complete = contents.records.len() >= planned;
    let results =
        outputs::write(&contents.run, &contents.suite, &contents.records, contents.samples, complete, baseline)?;
    Ok(Rebuilt { run: contents.run, suite: contents.suite, records: contents.records, results })
}
