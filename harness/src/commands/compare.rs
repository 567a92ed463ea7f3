//! `evalkit compare <run A> <run B>`: two runs of a suite (main against a
//! branch, yesterday against today) compared sample by sample.

use std::path::Path;

use evalkit_reports::analyze::compare::compare_runs;

use crate::exit::{self, Failure};
use crate::outputs::BaselineSource;

/// Compare run B with run A; prints the comparison table and the samples
/// only one run has, and writes it as JSON to `json` when given.
pub fn compare(run_a: &Path, run_b: &Path, json: Option<&Path>) -> Result<u8, Failure> {
    let a = super::report::derive(run_a, BaselineSource::Suite)?;
    let b = super::report::derive(run_b, BaselineSource::Suite)?;
    if a.results.run.suite_name != b.results.run.suite_name {
        eprintln!(
            "warning: the runs are of different suites (`{}` and `{}`)",
            a.results.run.suite_name, b.results.run.suite_name
        );
    }
    // Run B's settings: the run being judged, typically the newer one.
    let (test, seed) = (b.suite.file.report.paired_test, b.results.run.seed);
    let comparison = compare_runs((&a.results, a.records()), (&b.results, b.records()), test, seed);
    println!("A = {} ({})", a.results.run.id, a.run.path.display());
    println!("B = {} ({})", b.results.run.id, b.run.path.display());
    if comparison.comparisons.is_empty() {
        println!("no variant and metric in common: nothing to compare");
    } else {
        print!("{}", evalkit_reports::terminal::comparison_table(&comparison.comparisons, &b.results.metrics));
    }
    let list = |ids: &[String]| {
        let shown: Vec<&str> = ids.iter().take(20).map(String::as_str).collect();
        let more = ids.len().saturating_sub(shown.len());
        format!("{}{}", shown.join(", "), if more > 0 { format!(" and {more} more") } else { String::new() })
    };
    if !comparison.added_samples.is_empty() {
        println!("{} sample(s) only in B: {}", comparison.added_samples.len(), list(&comparison.added_samples));
    }
    if !comparison.removed_samples.is_empty() {
        println!("{} sample(s) only in A: {}", comparison.removed_samples.len(), list(&comparison.removed_samples));
    }
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&comparison).map_err(|e| Failure::Incomplete(e.into()))?;
        crate::rundir::write_file(path, text.as_bytes()).map_err(Failure::Incomplete)?;
        eprintln!("comparison: {}", path.display());
    }
    Ok(exit::SUCCESS)
}
