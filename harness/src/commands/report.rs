//! `evalkit report <run dir>`: rebuild a run's outputs from its journal.

use std::path::Path;

use anyhow::Context;

use crate::exit::Failure;
use crate::rundir::RunDir;
use crate::{journal, outputs, suite};

/// Re-analyse `records.jsonl` and rewrite `results.json` and `report.html`.
pub fn report(run_path: &Path) -> Result<(), Failure> {
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
    let results = outputs::write(&run, &suite, &records, samples, complete)?;
    println!("{}", evalkit_reports::terminal::summary_table(&results));
    eprintln!("report: {}", run.report().display());
    Ok(())
}
