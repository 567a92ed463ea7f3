//! Planning: a checked suite and its data → the list of [`Task`]s to run.
//!
//! Every prompt is rendered here, before any request is sent, so a row
//! missing a field fails the run up front (exit 2) instead of halfway through
//! and after spending money.

use std::collections::BTreeMap;
use std::sync::Arc;

use evalkit_model_api::{BackendIdentity, GenRequest, ScoreSpec};

use crate::caller::request_hash;
use crate::dataset::{few_shot_examples, Dataset};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::prompt::RenderError;
use crate::suite::schema::FewShotSelection;
use crate::suite::Suite;

/// One unit of work: a variant answering one sample once.
#[derive(Debug, Clone)]
pub struct Task {
    /// Index into the suite's variants.
    pub variant: usize,
    /// Index into the evaluated dataset's samples.
    pub sample: usize,
    /// Repeat index, from 0.
    pub repeat: u32,
    /// What is sent.
    pub request: Arc<GenRequest>,
    /// Hash of everything that can change the answer; the cache key.
    pub request_hash: String,
}

/// Identifies a task across runs (for resume): variant name, sample id, repeat.
pub type TaskKey = (String, String, u32);

/// Everything a run will do.
pub struct Plan {
    /// Tasks, sample-major so an interrupted run has results for every variant.
    pub tasks: Vec<Task>,
}

/// Render every prompt and lay out variant × sample × repeat.
///
/// `datasets` holds every dataset the suite names (evaluated and few-shot pools).
pub fn plan(
    suite: &Suite,
    datasets: &BTreeMap<String, Dataset>,
    identities: &[BackendIdentity],
) -> Result<Plan, Diagnostics> {
    let evaluated = &datasets[&suite.dataset];
    let repeats = suite.file.run.repeats;
    let mut problems = missing_everywhere(suite, evaluated);
    if !problems.is_empty() {
        return Err(Diagnostics(problems));
    }
    let mut more_problems = 0usize;
    // Rendering is per (prompt, sample): variants sharing a prompt share it.
    let mut rendered: BTreeMap<(&str, usize), Arc<evalkit_model_api::Prompt>> = BTreeMap::new();
    for variant in &suite.variants {
        let Some(template) = suite.prompt(&variant.prompt) else { continue };
        let spec = &suite.file.prompts[&variant.prompt];
        for (index, sample) in evaluated.samples.iter().enumerate() {
            if rendered.contains_key(&(variant.prompt.as_str(), index)) {
                continue;
            }
            let examples = match &spec.few_shot {
                Some(few_shot) => {
                    let pool = &datasets[&few_shot.dataset].samples;
                    let random = few_shot.selection == FewShotSelection::Random;
                    few_shot_examples(pool, &sample.id, few_shot.count, random, suite.file.suite.seed)
                }
                None => Vec::new(),
            };
            match template.render(&sample.fields, &examples) {
                Ok(prompt) => {
                    rendered.insert((variant.prompt.as_str(), index), Arc::new(prompt));
                }
                Err(error) if problems.len() < MAX_ROW_PROBLEMS => {
                    problems.push(render_problem(&variant.prompt, evaluated, index, error))
                }
                Err(_) => more_problems += 1,
            }
        }
    }
    if more_problems > 0 {
        problems.push(
            Diagnostic::new(format!("… and {more_problems} more rows with the same kind of problem"))
                .in_file(&evaluated.path),
        );
    }
    if !problems.is_empty() {
        return Err(Diagnostics(problems));
    }
    let scoring = scoring_specs(suite, evaluated)?;
    let mut tasks = Vec::with_capacity(evaluated.samples.len() * suite.variants.len() * repeats as usize);
    for index in 0..evaluated.samples.len() {
        for (v, variant) in suite.variants.iter().enumerate() {
            let prompt = &rendered[&(variant.prompt.as_str(), index)];
            let request = Arc::new(GenRequest {
                prompt: (**prompt).clone(),
                params: variant.params.clone(),
                score: scoring[index].clone(),
            });
            for repeat in 0..repeats {
                let request_hash = request_hash(&identities[v], &request, repeat);
                tasks.push(Task { variant: v, sample: index, repeat, request: Arc::clone(&request), request_hash });
            }
        }
    }
    Ok(Plan { tasks })
}

/// Per sample, what scoring metrics (perplexity, multiple choice) ask the
/// backend to score instead of generating; `None` for generation suites.
/// The suite check guarantees that all scoring metrics agree on the protocol.
fn scoring_specs(suite: &Suite, dataset: &Dataset) -> Result<Vec<Option<ScoreSpec>>, Diagnostics> {
    let mut specs = Vec::with_capacity(dataset.samples.len());
    let mut problems = Vec::new();
    for sample in &dataset.samples {
        let spec = suite.metrics.iter().find_map(|m| m.scoring(&sample.fields));
        match spec {
            None => specs.push(None),
            Some(Ok(spec)) => specs.push(Some(spec)),
            Some(Err(cause)) => {
                specs.push(None);
                if problems.len() < MAX_ROW_PROBLEMS {
                    let line = match sample.position {
                        crate::dataset::Position::Line(line) | crate::dataset::Position::Row(line) => line,
                    };
                    problems.push(
                        Diagnostic::new(format!(
                            "sample `{}` of dataset `{}` ({}): {cause}",
                            sample.id, dataset.name, sample.position
                        ))
                        .in_file(&dataset.path)
                        .at(line, None)
                        .with_hint("fix the row, or the metric's field names"),
                    );
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(specs)
    } else {
        Err(Diagnostics(problems))
    }
}

/// Row-level rendering problems reported before the rest are summarised.
const MAX_ROW_PROBLEMS: usize = 5;

/// Template variables that no row of the dataset has: one error at the
/// template (a typo, usually), not one per row.
fn missing_everywhere(suite: &Suite, dataset: &Dataset) -> Vec<Diagnostic> {
    use crate::diagnostic::did_you_mean;
    use crate::suite::source::key_path;
    let columns: std::collections::BTreeSet<&str> =
        dataset.samples.iter().flat_map(|s| s.fields.keys().map(String::as_str)).collect();
    let columns: Vec<&str> = columns.into_iter().collect();
    let mut problems = Vec::new();
    for template in &suite.prompts {
        for variable in template.variables() {
            if variable == "examples" || columns.contains(&variable.as_str()) {
                continue;
            }
            let path = key_path!["prompts", template.name.as_str()];
            let span = suite.source.span_of(&path).unwrap_or(0..0);
            let hint = did_you_mean(&variable, &columns).map(|h| {
                format!(
                    "{h} (the fields of dataset `{}` are {})",
                    dataset.name,
                    columns.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
                )
            });
            problems.push(crate::suite::parse::locate(
                &suite.source,
                format!("prompt `{}` uses `{variable}`, which no row of dataset `{}` has", template.name, dataset.name),
                &span,
                hint,
            ));
        }
    }
    problems
}

fn render_problem(prompt: &str, dataset: &Dataset, index: usize, error: RenderError) -> Diagnostic {
    let sample = &dataset.samples[index];
    let (message, hint) = match error {
        RenderError::MissingFields(fields) => {
            let names: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
            let available: Vec<String> = sample.fields.keys().map(|k| format!("`{k}`")).collect();
            (
                format!(
                    "prompt `{prompt}` uses {}, which sample `{}` of dataset `{}` ({}) does not have",
                    names.join(", "),
                    sample.id,
                    dataset.name,
                    sample.position
                ),
                format!(
                    "the row has {}; add the field or fix the template",
                    if available.is_empty() { "no fields".to_owned() } else { available.join(", ") }
                ),
            )
        }
        RenderError::Template(message) => (
            format!(
                "prompt `{prompt}` failed for sample `{}` of dataset `{}` ({}): {message}",
                sample.id, dataset.name, sample.position
            ),
            "check the template against this row".to_owned(),
        ),
    };
    let line = match sample.position {
        crate::dataset::Position::Line(line) | crate::dataset::Position::Row(line) => line,
    };
    Diagnostic::new(message).in_file(&dataset.path).at(line, None).with_hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use evalkit_model_api::{GenParams, Message, Prompt};

    #[test]
    fn hash_changes_with_anything_that_changes_the_answer() {
        let identity = BackendIdentity { kind: "openai".into(), endpoint: "http://a/v1".into(), model: "m".into() };
        let request = GenRequest {
            prompt: Prompt::Chat(vec![Message { role: "user".into(), content: "hi".into() }]),
            params: GenParams::default(),
            score: None,
        };
        let base = request_hash(&identity, &request, 0);
        assert_eq!(base, request_hash(&identity, &request, 0));
        assert_ne!(base, request_hash(&identity, &request, 1));
        let mut other = request.clone();
        other.params.temperature = Some(0.5);
        assert_ne!(base, request_hash(&identity, &other, 0));
        let moved = BackendIdentity { endpoint: "http://b/v1".into(), ..identity.clone() };
        assert_ne!(base, request_hash(&moved, &request, 0));
    }
}
