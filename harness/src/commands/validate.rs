//! `evalkit validate suite.toml`: check a suite without calling any model.

use std::path::Path;

use crate::exit::Failure;
use crate::plan;
use crate::prepare::prepare;

/// Check schema, references, dataset files and columns, and render every
/// prompt against every sample (which is what the first stage of a run does).
pub fn validate(path: &Path) -> Result<(), Failure> {
    let prepared = prepare(path)?;
    let suite = &prepared.suite;
    let plan = plan::plan(suite, &prepared.datasets)?;
    let mut problems = Vec::new();
    for (name, spec) in &suite.file.backends {
        if let Err(problem) = spec.preflight(suite, name) {
            problems.push(problem);
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Invalid(crate::diagnostic::Diagnostics(problems)));
    }
    let evaluated = prepared.evaluated();
    eprintln!(
        "ok: suite `{}` is valid: {} samples from `{}` × {} variants × {} repeats = {} tasks, {} metrics",
        suite.file.suite.name,
        evaluated.samples.len(),
        evaluated.path.display(),
        suite.variants.len(),
        suite.file.run.repeats,
        plan.tasks.len(),
        suite.metrics.len()
    );
    Ok(())
}
