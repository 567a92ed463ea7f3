//! `evalkit validate suite.toml`: check a suite without calling any model.

use std::path::Path;

use crate::exit::Failure;
use crate::plan;
use crate::prepare::prepare;
use crate::suite::schema::BackendSpec;

/// Check schema, references, dataset files and columns, and render every
/// prompt against every sample (which is what the first stage of a run does).
pub fn validate(path: &Path) -> Result<(), Failure> {
    let prepared = prepare(path)?;
    let suite = &prepared.suite;
    // Rendering needs only the backend identities, not live backends.
    let identities: Vec<_> = suite.variants.iter().filter_map(|v| suite.backend_identity(&v.backend)).collect();
    let plan = plan::plan(suite, &prepared.datasets, &identities)?;
    let mut problems = Vec::new();
    for (name, spec) in &suite.file.backends {
        match spec {
            BackendSpec::Openai(spec) => {
                if let Some(var) = &spec.api_key_env {
                    if std::env::var(var).map_or(true, |v| v.is_empty()) {
                        eprintln!("warning: backend `{name}` reads its key from `{var}`, which is not set here; `evalkit run` will need it");
                    }
                }
            }
            // Opening reads the model's metadata and tokenizer, not its weights: quick.
            BackendSpec::Local(spec) => {
                if let Err(problem) = crate::connect::open_local(suite, name, spec) {
                    problems.push(problem);
                }
            }
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
