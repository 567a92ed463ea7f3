//! Planning: a checked suite and its data → the list of [`Task`]s to run.
//!
//! Every prompt is rendered here once, before any request is sent, so a row
//! missing a field fails the run up front (exit 2) instead of halfway through
//! and after spending money. The rendered prompts are not kept: a task is a
//! few indices, and [`request`] renders its prompt again when it is sent, so
//! a run holds only the requests in flight, whatever the size of its dataset.

use std::collections::BTreeMap;

use evalkit_model_api::{GenRequest, Prompt, ScoreSpec};

use crate::dataset::{few_shot_examples, Dataset};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::prompt::RenderError;
use crate::suite::schema::FewShotSelection;
use crate::suite::{Suite, Variant};

/// One unit of work: a variant answering one sample once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task {
    /// Index into the suite's variants.
    pub variant: usize,
    /// Index into the evaluated dataset's samples.
    pub sample: usize,
    /// Repeat index, from 0.
    pub repeat: u32,
}

/// Identifies a task across runs (for resume): variant name, sample id, repeat.
pub type TaskKey = (String, String, u32);

/// Everything a run will do.
pub struct Plan {
    /// Tasks, sample-major so an interrupted run has results for every variant.
    pub tasks: Vec<Task>,
}

/// Render every prompt once, check what scoring metrics need of every
/// sample, and lay out variant × sample × repeat.
///
/// `datasets` holds every dataset the suite names (evaluated and few-shot pools).
pub fn plan(suite: &Suite, datasets: &BTreeMap<String, Dataset>) -> Result<Plan, Diagnostics> {
    let evaluated = &datasets[&suite.dataset];
    let repeats = suite.file.run.repeats;
    let mut problems = missing_everywhere(suite, evaluated);
    if !problems.is_empty() {
        return Err(Diagnostics(problems));
    }
    let mut more_problems = 0usize;
    // Variants sharing a prompt share its rendering: check each (prompt, sample) once.
    let mut prompts: Vec<&str> = suite.variants.iter().map(|v| v.prompt.as_str()).collect();
    prompts.sort_unstable();
    prompts.dedup();
    for prompt in prompts {
        for index in 0..evaluated.samples.len() {
            match render(suite, datasets, prompt, index) {
                Ok(_) => {}
                // Wrong for every row: said once, at the prompt, not once per row.
                Err(RenderError::Broken(message)) => {
                    let path = crate::suite::source::key_path!["prompts", prompt];
                    let span = suite.source.span_of(&path).unwrap_or(0..0);
                    problems.push(crate::suite::parse::locate(
                        &suite.source,
                        format!("prompt `{prompt}`: {message}"),
                        &span,
                        Some("templates have minijinja's built-in filters and tests (docs/suite.md, \"Templates\"); check the spelling".into()),
                    ));
                    break;
                }
                Err(error) if problems.len() < MAX_ROW_PROBLEMS => {
                    problems.push(render_problem(prompt, evaluated, index, error))
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
    check_scoring(suite, evaluated)?;
    let planned =
        (evaluated.samples.len() as u64).saturating_mul(suite.variants.len() as u64).saturating_mul(u64::from(repeats));
    if planned > MAX_TASKS {
        let span = suite.source.span_of(&crate::suite::source::key_path!["run", "repeats"]).unwrap_or(0..0);
        return Err(Diagnostics(vec![crate::suite::parse::locate(
            &suite.source,
            format!(
                "{} samples × {} variants × {repeats} repeats = {planned} tasks, more than one run can hold ({MAX_TASKS})",
                evaluated.samples.len(),
                suite.variants.len()
            ),
            &span,
            Some("lower `repeats`, or run a part of the dataset (`[datasets.<name>] limit`)".into()),
        )]));
    }
    let mut tasks = Vec::with_capacity(evaluated.samples.len() * suite.variants.len() * repeats as usize);
    for sample in 0..evaluated.samples.len() {
        for variant in 0..suite.variants.len() {
            for repeat in 0..repeats {
                tasks.push(Task { variant, sample, repeat });
            }
        }
    }
    Ok(Plan { tasks })
}

/// The request `task` sends: its variant's prompt rendered for its sample
/// (with few-shot examples), the variant's parameters, and what scoring
/// metrics ask the backend to score.
pub fn request(suite: &Suite, datasets: &BTreeMap<String, Dataset>, task: &Task) -> Result<GenRequest, String> {
    let variant: &Variant = &suite.variants[task.variant];
    let prompt = render(suite, datasets, &variant.prompt, task.sample).map_err(|error| match error {
        RenderError::MissingFields(fields) => format!("the prompt uses missing fields {}", fields.join(", ")),
        RenderError::Template(message) | RenderError::Broken(message) => message,
    })?;
    let fields = &datasets[&suite.dataset].samples[task.sample].fields;
    let score = scoring_spec(suite, fields).transpose()?;
    Ok(GenRequest { prompt, params: variant.params.clone(), score })
}

/// Prompt `name` rendered for sample `index` of the evaluated dataset.
fn render(
    suite: &Suite,
    datasets: &BTreeMap<String, Dataset>,
    name: &str,
    index: usize,
) -> Result<Prompt, RenderError> {
    let Some(template) = suite.prompt(name) else {
        return Err(RenderError::Template(format!("the suite has no prompt `{name}`")));
    };
    let sample = &datasets[&suite.dataset].samples[index];
    let examples = match &suite.file.prompts[name].few_shot {
        Some(few_shot) => {
            let pool = &datasets[&few_shot.dataset].samples;
            let random = few_shot.selection == FewShotSelection::Random;
            few_shot_examples(pool, &sample.id, few_shot.count, random, suite.file.suite.seed)
        }
        None => Vec::new(),
    };
    template.render(&sample.fields, &examples)
}

/// What scoring metrics (perplexity, multiple choice) ask the backend to score
/// for a sample instead of generating; `None` for generation suites. The suite
/// check guarantees that all scoring metrics agree on the protocol.
fn scoring_spec(suite: &Suite, fields: &evalkit_metrics::Fields) -> Option<Result<ScoreSpec, String>> {
    suite.metrics.iter().find_map(|m| m.scoring(fields))
}

/// Every sample has what the scoring metrics need.
fn check_scoring(suite: &Suite, dataset: &Dataset) -> Result<(), Diagnostics> {
    let mut problems = Vec::new();
    for sample in &dataset.samples {
        let Some(Err(cause)) = scoring_spec(suite, &sample.fields) else { continue };
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
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(problems))
    }
}

/// Most tasks one run plans (24 bytes each in memory, a record each in the journal).
pub const MAX_TASKS: u64 = 20_000_000;

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
            let hint = did_you_mean(variable, &columns).map(|h| {
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
        RenderError::Template(message) | RenderError::Broken(message) => (
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
