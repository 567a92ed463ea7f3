//! `evalkit report <run dir>`: rebuild a run's outputs from its journal and
//! manifest. Gates are checked and shown but do not change the exit code:
//! that is `evalkit gate`'s job.
//!
//! [`derive()`] is the read-only half that `gate`, `compare` and `baseline
//! update` use: they never write into a run folder.

use std::path::Path;

use evalkit_record::journal::Record;
use evalkit_record::journal_file::LatestRecords;
use evalkit_record::results::RunResults;

use crate::exit::Failure;
use crate::outputs::{self, BaselineSource};
use crate::rundir::RunDir;
use crate::suite::Suite;

/// A run folder read back and analysed.
pub struct Derived {
    /// The run folder.
    pub run: RunDir,
    /// The suite as it ran.
    pub suite: Suite,
    /// The last record of each task, answers cut short.
    pub latest: LatestRecords,
    /// The results, gates included.
    pub results: RunResults,
}

impl Derived {
    /// The last record of each task.
    pub fn records(&self) -> &[Record] {
        &self.latest.records
    }
}

/// Re-analyse `records.jsonl` and rewrite every output of the run.
pub fn report(run_path: &Path) -> Result<(), Failure> {
    let rebuilt = derive(run_path, BaselineSource::Suite)?;
    outputs::export(&rebuilt.run, &rebuilt.suite, &rebuilt.results, &rebuilt.latest)?;
    println!("{}", evalkit_reports::terminal::summary_table(&rebuilt.results));
    eprint!("{}", evalkit_reports::terminal::gate_report(&rebuilt.results));
    eprintln!("report: {}", rebuilt.run.report().display());
    Ok(())
}

/// Read a run folder's suite, manifest and journal, and analyse them (gates
/// included). Reads only.
pub fn derive(run_path: &Path, baseline: BaselineSource<'_>) -> Result<Derived, Failure> {
    let contents = outputs::read_run(run_path)?;
    let planned = contents.samples * contents.suite.variants.len() * contents.suite.file.run.repeats as usize;
    let complete = contents.run.is_complete(contents.records(), planned);
    let results =
        outputs::derive(&contents.run, &contents.suite, contents.records(), contents.samples, complete, baseline)?;
    Ok(Derived { run: contents.run, suite: contents.suite, latest: contents.latest, results })
}
