//! The HTML report: one self-contained file (inline CSS and a few lines of
//! vanilla JS, no network requests) with the run's header, per-variant metric
//! and usage tables, and every task's prompt, output, reference and scores.
//!
//! Safety: model outputs, prompts and dataset fields are untrusted text. The
//! template is rendered by minijinja with HTML auto-escaping (the template
//! name ends in `.html`), every value reaches it as plain data through a
//! private context struct, and nothing is ever marked safe, so no text can
//! become markup. A Content-Security-Policy meta tag also forbids any network
//! fetch.

use serde::Serialize;

use crate::analyze::latest_tasks;
use crate::format::{self, Style, NONE};
use crate::record::{ErrorEntry, Outcome, Record};
use crate::results::{CiMethod, Direction, RunInfo, RunResults, VariantInfo, VariantUsage};

const TEMPLATE_NAME: &str = "report.html";
const TEMPLATE: &str = include_str!("../../templates/report.html");

/// Characters of the prompt shown before it is expanded.
const PREVIEW_CHARS: usize = 80;

/// Why the report could not be rendered (a bug in the template, not in the data).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The template failed to parse or render.
    #[error("rendering the HTML report: {0}")]
    Template(#[from] minijinja::Error),
}

/// Render the report for `results`, listing `records` (the run's journal) as
/// the per-sample table.
pub fn render_html(results: &RunResults, records: &[Record]) -> Result<String, RenderError> {
    let mut env = minijinja::Environment::new();
    // Strict: a misspelt field in the template is an error in the tests, not
    // an empty cell in a report.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template(TEMPLATE_NAME, TEMPLATE)?;
    let context = Context::new(results, records);
    Ok(env.get_template(TEMPLATE_NAME)?.render(minijinja::value::Serde(&context))?)
}

/// Everything the template shows, already formatted.
#[derive(Serialize)]
struct Context<'a> {
    run: &'a RunInfo,
    evalkit_version: &'a str,
    schema_version: u32,
    missing: u64,
    variants: Vec<VariantView<'a>>,
    score_columns: Vec<&'a str>,
    rows: Vec<RowView<'a>>,
}

#[derive(Serialize)]
struct VariantView<'a> {
    name: &'a str,
    backend_kind: &'a str,
    model: &'a str,
    prompt: &'a str,
    prompt_version: Option<&'a str>,
    metrics: Vec<MetricView<'a>>,
    usage: UsageView,
}

#[derive(Serialize)]
struct MetricView<'a> {
    name: &'a str,
    direction: &'static str,
    mean: String,
    ci: String,
    ci_method: &'static str,
    valid: u64,
    total: u64,
    errors: u64,
    invalid: u64,
    missing: u64,
}

#[derive(Serialize)]
struct UsageView {
    tasks: u64,
    responses: u64,
    errors: u64,
    cached: u64,
    input_tokens: String,
    output_tokens: String,
    p50: String,
    p90: String,
    p99: String,
    cost: String,
}

/// One task of the journal.
#[derive(Serialize)]
struct RowView<'a> {
    /// Lower-cased "sample variant", what the filter box matches.
    key: String,
    sample: &'a str,
    variant: &'a str,
    repeat: u32,
    cached: bool,
    attempts: u32,
    prompt: &'a str,
    prompt_preview: String,
    output: Option<&'a str>,
    error: Option<&'a ErrorEntry>,
    reference: Option<String>,
    scores: Vec<ScoreView<'a>>,
}

/// One score cell; `state` is `valid`, `invalid` or `none` (no score: the
/// request failed).
#[derive(Serialize)]
struct ScoreView<'a> {
    state: &'static str,
    value: Option<String>,
    cause: Option<&'a str>,
    details: Option<String>,
}

impl<'a> Context<'a> {
    fn new(results: &'a RunResults, records: &'a [Record]) -> Self {
        let score_columns = score_columns(results, records);
        Context {
            run: &results.run,
            evalkit_version: &results.evalkit_version,
            schema_version: results.schema_version,
            missing: results.missing_tasks(),
            variants: results.variants.iter().map(|v| VariantView::new(results, v)).collect(),
            rows: rows(results, records, &score_columns),
            score_columns,
        }
    }
}

impl<'a> VariantView<'a> {
    fn new(results: &'a RunResults, variant: &'a VariantInfo) -> Self {
        let metrics = results
            .aggregates
            .iter()
            .filter(|a| a.variant == variant.name)
            .map(|a| {
                let info = results.metric(&a.metric);
                let style = info.map_or(Style::Plain(None), Style::of);
                MetricView {
                    name: &a.metric,
                    direction: match info.map(|m| m.direction) {
                        Some(Direction::LowerIsBetter) => "lower is better",
                        _ => "higher is better",
                    },
                    mean: style.option(a.mean),
                    ci: style.interval(a.ci.as_ref()),
                    ci_method: a.ci.map_or("no interval", |ci| match ci.method {
                        CiMethod::Wilson => "Wilson score interval",
                        CiMethod::T => "Student t interval over per-sample means",
                    }),
                    valid: a.valid,
                    total: a.total,
                    errors: a.errors,
                    invalid: a.invalid,
                    missing: a.missing,
                }
            })
            .collect();
        let usage = results.usage(&variant.name);
        let seconds = |pick: fn(&VariantUsage) -> Option<f64>| {
            usage.and_then(pick).map_or_else(|| NONE.to_owned(), format::seconds)
        };
        VariantView {
            name: &variant.name,
            backend_kind: &variant.backend_kind,
            model: &variant.model,
            prompt: &variant.prompt,
            prompt_version: variant.prompt_version.as_deref(),
            metrics,
            usage: UsageView {
                tasks: usage.map_or(0, |u| u.tasks),
                responses: usage.map_or(0, |u| u.responses),
                errors: usage.map_or(0, |u| u.errors),
                cached: usage.map_or(0, |u| u.cached),
                input_tokens: format::count(usage.map_or(0, |u| u.input_tokens)),
                output_tokens: format::count(usage.map_or(0, |u| u.output_tokens)),
                p50: seconds(|u| u.latency_p50_seconds),
                p90: seconds(|u| u.latency_p90_seconds),
                p99: seconds(|u| u.latency_p99_seconds),
                cost: usage.and_then(|u| u.cost_usd).map_or_else(|| NONE.to_owned(), format::usd),
            },
        }
    }
}

/// The suite's metrics, then any other score name found in the records, so
/// that every recorded score has a column.
fn score_columns<'a>(results: &'a RunResults, records: &'a [Record]) -> Vec<&'a str> {
    let mut columns: Vec<&str> = results.metrics.iter().map(|m| m.name.as_str()).collect();
    let mut extra: Vec<&str> = records
        .iter()
        .flat_map(|r| r.scores.keys())
        .map(String::as_str)
        .filter(|name| !columns.contains(name))
        .collect();
    extra.sort_unstable();
    extra.dedup();
    columns.extend(extra);
    columns
}

/// One row per task (the last record of each, as in `results.json`), grouped
/// by sample so a sample's variants sit together, variants in suite order.
fn rows<'a>(results: &'a RunResults, records: &'a [Record], columns: &[&str]) -> Vec<RowView<'a>> {
    let variant_rank = |name: &str| results.variants.iter().position(|v| v.name == name).unwrap_or(usize::MAX);
    let mut tasks: Vec<&Record> = latest_tasks(records).into_values().collect();
    tasks.sort_by_key(|&r| (r.sample.as_str(), variant_rank(&r.variant), r.repeat));
    tasks.into_iter().map(|record| row(results, columns, record)).collect()
}

fn row<'a>(results: &RunResults, columns: &[&str], record: &'a Record) -> RowView<'a> {
    let (output, error) = match &record.outcome {
        Outcome::Response(response) => (Some(response.text.as_str()), None),
        Outcome::Error(error) => (None, Some(error)),
    };
    let scores = columns
        .iter()
        .map(|name| {
            let style = results.metric(name).map_or(Style::Plain(None), Style::of);
            let entry = record.scores.get(*name);
            let details =
                entry.filter(|s| !s.details.is_empty()).and_then(|s| serde_json::to_string_pretty(&s.details).ok());
            match entry {
                Some(s) => match s.value.filter(|v| v.is_finite()) {
                    Some(v) => ScoreView { state: "valid", value: Some(style.value(v)), cause: None, details },
                    None => ScoreView { state: "invalid", value: None, cause: s.cause.as_deref(), details },
                },
                // A response a suite metric did not score counts as invalid in
                // the aggregates; say so here too.
                None if output.is_some() && results.metric(name).is_some() => {
                    ScoreView { state: "invalid", value: None, cause: Some("not scored"), details: None }
                }
                None => ScoreView { state: "none", value: None, cause: None, details: None },
            }
        })
        .collect();
    RowView {
        key: format!("{} {}", record.sample, record.variant).to_lowercase(),
        sample: &record.sample,
        variant: &record.variant,
        repeat: record.repeat,
        cached: record.cached,
        attempts: record.attempts,
        prompt: &record.prompt,
        prompt_preview: preview(&record.prompt),
        output,
        error,
        reference: record.reference.as_ref().map(|r| match r {
            serde_json::Value::String(s) => s.clone(),
            other => serde_json::to_string_pretty(other).unwrap_or_default(),
        }),
        scores,
    }
}

/// The prompt's first line, cut at [`PREVIEW_CHARS`] characters (on a char
/// boundary: prompts are any Unicode).
fn preview(prompt: &str) -> String {
    let line = prompt.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let mut chars = line.chars();
    let mut out: String = chars.by_ref().take(PREVIEW_CHARS).collect();
    if chars.next().is_some() || prompt.trim().lines().nth(1).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests;
