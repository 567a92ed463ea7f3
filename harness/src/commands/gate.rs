//! `evalkit gate <run dir>`: check a finished run's gates again, optionally
//! against another baseline, and exit 1 when one fails.

use std::path::Path;

use crate::exit::{self, Failure};
use crate::outputs::{self, BaselineSource};

/// Check the gates of the run in `run_path`; returns the exit code.
pub fn gate(run_path: &Path, baseline: Option<&Path>) -> Result<u8, Failure> {
    let source = baseline.map_or(BaselineSource::Suite, BaselineSource::Override);
    let rebuilt = super::report::derive(run_path, source)?;
    let results = &rebuilt.results;
    if results.gates.is_empty() {
        eprintln!("the suite defines no gates; add `[[gates]]` to it (see docs/suite.md)");
    }
    print!("{}", evalkit_reports::terminal::gate_report(results));
    outputs::publish_step_summary(results).map_err(Failure::Incomplete)?;
    Ok(if results.gates_passed() { exit::SUCCESS } else { exit::GATE_FAILED })
}
