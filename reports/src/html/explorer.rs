//! The per-sample explorer: one row per sample, one column per variant, each
//! cell holding that variant's answers (one per repeat) with their scores and
//! a word diff against the baseline's answer.
//!
//! The page's script filters these rows by reading `data-*` attributes and
//! toggling `hidden`; everything it needs is decided here: each score's state
//! (`pass`, `fail`, `value`, `invalid`), its raw value for comparing variants,
//! and whether it is a quality metric (compared by default) or a resource
//! metric such as latency (compared only when picked).
//!
//! Work is linear in the number of records (grouping by hash map); the only
//! per-answer cost above that is the diff, which [`super::diff`] bounds.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::diff::{self, Change, Piece};
use super::view::{color_of, is_resource_metric};
use crate::analyze::latest_tasks;
use crate::format::{self, Style};
use evalkit_record::journal::{ErrorEntry, Outcome, Record, ScoreEntry};
use evalkit_record::results::{RunResults, Scale};

/// Characters of a prompt shown before it is expanded.
pub(super) const PREVIEW_CHARS: usize = 80;

/// Characters of an answer, a prompt or a reference the report holds. The
/// whole text is in `samples.csv` and `records.jsonl`, a click away: a few
/// huge answers must not make a report of hundreds of megabytes.
pub const TEXT_CHARS: usize = 20_000;

/// Detail keys shown as a judge's reasoning, next to the score.
const REASONING_KEYS: [&str; 2] = ["reasoning", "explanation"];

#[derive(Serialize)]
pub(super) struct Explorer<'a> {
    variants: Vec<Column<'a>>,
    metrics: Vec<&'a str>,
    baseline: Option<&'a str>,
    samples: Vec<SampleView<'a>>,
    /// Whether some variant answered a sample more than once.
    repeats: bool,
    /// Samples in the run; more than `samples` when the explorer holds a selection.
    samples_in_run: usize,
    /// [`TEXT_CHARS`], for the page to say how much of a long text it shows.
    text_chars: usize,
}

#[derive(Serialize)]
struct Column<'a> {
    name: &'a str,
    color: String,
    is_baseline: bool,
}

#[derive(Serialize)]
struct SampleView<'a> {
    id: &'a str,
    cluster: Option<&'a str>,
    reference: Option<String>,
    /// The prompt, when every answer of the sample had the same one.
    prompt: Option<Prompt>,
    cells: Vec<Cell<'a>>,
}

#[derive(Serialize)]
struct Prompt {
    preview: String,
    text: String,
    /// The prompt's length in characters when `text` holds only its start.
    truncated: Option<usize>,
}

impl Prompt {
    /// The prompt as the reader sees it: chat messages under their roles, or the completion text.
    fn of(prompt: &evalkit_model_api::Prompt) -> Self {
        let text = prompt.display_text();
        let (shown, truncated) = cut(&text);
        Prompt { preview: preview(&text), text: shown.to_owned(), truncated }
    }
}

/// `text` cut at [`TEXT_CHARS`] characters (on a char boundary), and its
/// whole length in characters when it was cut.
fn cut(text: &str) -> (&str, Option<usize>) {
    match text.char_indices().nth(TEXT_CHARS) {
        Some((end, _)) => (&text[..end], Some(text.chars().count())),
        None => (text, None),
    }
}

/// One variant's answers to one sample.
#[derive(Serialize)]
struct Cell<'a> {
    variant: &'a str,
    tasks: Vec<TaskView<'a>>,
}

#[derive(Serialize)]
struct TaskView<'a> {
    repeat: u32,
    /// This variant's own prompt, when the variants' prompts differ.
    prompt: Option<Prompt>,
    output: Option<Output<'a>>,
    error: Option<&'a ErrorEntry>,
    attempts: u32,
    /// Latency, tokens, cache: one muted line.
    meta: String,
    scores: Vec<ScoreView<'a>>,
}

/// An answer as pieces of a word diff against the baseline's answer (one
/// `same` piece when there is nothing to diff against).
#[derive(Serialize)]
struct Output<'a> {
    pieces: Vec<Piece<'a>>,
    /// `baseline` (this is the baseline's answer), `identical`, `diff`, `none`
    /// (no baseline answer to compare with) or `too_long` (diff skipped).
    diff: &'static str,
    /// The answer's length in characters when `pieces` hold only its start
    /// ([`TEXT_CHARS`]); the report then points to `samples.csv`.
    truncated: Option<usize>,
}

#[derive(Serialize)]
struct ScoreView<'a> {
    metric: &'a str,
    /// `pass` / `fail` (pass/fail metrics), `value`, or `invalid`.
    state: &'static str,
    /// For people.
    value: String,
    /// For the page's script: the exact value, empty when invalid.
    raw: String,
    /// Compared by "verdict changed" when no metric is picked.
    quality: bool,
    cause: Option<&'a str>,
    reasoning: Option<String>,
    details: Option<String>,
}

pub(super) fn explorer<'a>(
    results: &'a RunResults,
    records: &'a [Record],
    baseline: Option<&'a str>,
    samples_in_run: usize,
) -> Explorer<'a> {
    let metrics = score_columns(results, records);
    let tasks = latest_tasks(records);

    // Columns: the suite's variants, then any other variant in the journal.
    let mut variants: Vec<&str> = results.variants.iter().map(|v| v.name.as_str()).collect();
    let mut extra: Vec<&str> = tasks.keys().map(|(v, _, _)| *v).filter(|v| !variants.contains(v)).collect();
    extra.dedup(); // keys are sorted by variant first
    variants.extend(extra);
    let column: HashMap<&str, usize> = variants.iter().enumerate().map(|(i, v)| (*v, i)).collect();

    // Samples in the order the journal first mentions them: the runner works
    // sample by sample, so this follows the dataset.
    let mut order: HashMap<&str, usize> = HashMap::new();
    for record in records {
        let next = order.len();
        order.entry(record.sample.as_str()).or_insert(next);
    }
    let mut grouped: Vec<Vec<Vec<&Record>>> = vec![vec![Vec::new(); variants.len()]; order.len()];
    for ((variant, sample, _), record) in tasks {
        grouped[order[sample]][column[variant]].push(record); // repeats in order: keys are sorted
    }

    let mut repeats = false;
    let samples: Vec<SampleView<'_>> = grouped
        .into_iter()
        .filter_map(|cells| {
            repeats |= cells.iter().any(|c| c.len() > 1);
            sample(results, &metrics, &variants, baseline.and_then(|b| column.get(b).copied()), cells)
        })
        .collect();

    Explorer {
        variants: variants
            .iter()
            .map(|&name| Column { name, color: color_of(results, name).hex(), is_baseline: baseline == Some(name) })
            .collect(),
        metrics,
        baseline,
        samples_in_run: samples_in_run.max(samples.len()),
        text_chars: TEXT_CHARS,
        samples,
        repeats,
    }
}

/// How many samples `records` are of.
pub(super) fn samples_in(records: &[Record]) -> usize {
    records.iter().map(|r| r.sample.as_str()).collect::<HashSet<_>>().len()
}

/// The samples the explorer shows when a run has more than `limit`: first
/// those where something happened (a request failed, a quality score is
/// invalid or a failing pass/fail score, or a quality metric's value differs
/// between variants or repeats), then the rest, each group in the order the
/// journal first mentions it. Latency and cost differ on every sample, so
/// they do not count. `None` when every sample fits.
///
/// `records` are the run's latest records (their texts are not read).
pub fn explorer_samples(results: &RunResults, records: &[Record], limit: usize) -> Option<HashSet<String>> {
    let quality: HashMap<&str, Scale> =
        results.metrics.iter().filter(|m| !is_resource_metric(m)).map(|m| (m.name.as_str(), m.scale)).collect();
    // sample → (order of first mention, whether something happened, metric → first value seen)
    type Seen<'r> = (usize, bool, HashMap<&'r str, Option<u64>>);
    let mut seen: HashMap<&str, Seen<'_>> = HashMap::new();
    for record in records {
        let next = seen.len();
        let (_, happened, values) = seen.entry(record.sample.as_str()).or_insert_with(|| (next, false, HashMap::new()));
        *happened |= matches!(record.outcome, Outcome::Error(_));
        for (metric, score) in &record.scores {
            let Some(&scale) = quality.get(metric.as_str()) else { continue };
            let failed = scale == Scale::Binary && score.value == Some(0.0);
            let value = score.value.map(f64::to_bits);
            *happened |= value.is_none() || failed || *values.entry(metric.as_str()).or_insert(value) != value;
        }
    }
    if seen.len() <= limit {
        return None;
    }
    let mut order: Vec<(bool, usize, &str)> = seen.iter().map(|(id, (first, hit, _))| (!hit, *first, *id)).collect();
    order.sort_unstable();
    Some(order.into_iter().take(limit).map(|(_, _, id)| id.to_owned()).collect())
}

/// The suite's metrics, then any other score name found in the records, so
/// that every recorded score is shown.
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

fn sample<'a>(
    results: &RunResults,
    metrics: &[&'a str],
    variants: &[&'a str],
    baseline: Option<usize>,
    cells: Vec<Vec<&'a Record>>,
) -> Option<SampleView<'a>> {
    let first = cells.iter().flatten().next()?;
    let shared_prompt = cells.iter().flatten().all(|r| r.prompt == first.prompt);
    let baseline_tasks: &[&Record] = baseline.map_or(&[], |b| &cells[b]);
    let cells = cells
        .iter()
        .zip(variants)
        .enumerate()
        .map(|(index, (tasks, &variant))| Cell {
            variant,
            tasks: tasks
                .iter()
                .map(|record| {
                    let against = (Some(index) != baseline).then(|| baseline_answer(baseline_tasks, record.repeat));
                    task(results, metrics, record, against, !shared_prompt)
                })
                .collect(),
        })
        .collect();
    Some(SampleView {
        id: &first.sample,
        cluster: first.cluster.as_deref(),
        reference: first.reference.as_ref().map(|r| {
            let text = match r {
                serde_json::Value::String(s) => s.clone(),
                other => serde_json::to_string_pretty(other).unwrap_or_default(),
            };
            match cut(&text) {
                (shown, Some(total)) => {
                    format!("{shown}… ({total} characters; the whole reference is in records.jsonl)")
                }
                (_, None) => text,
            }
        }),
        prompt: shared_prompt.then(|| Prompt::of(&first.prompt)),
        cells,
    })
}

/// The baseline's answer to compare a repeat with: the same repeat, else its
/// first answer.
fn baseline_answer<'a>(baseline: &[&'a Record], repeat: u32) -> Option<&'a str> {
    let answer = |r: &&'a Record| r.outcome.response().map(|resp| resp.text.as_str());
    baseline.iter().find(|r| r.repeat == repeat).and_then(answer).or_else(|| baseline.iter().find_map(answer))
}

/// `against`: `None` for the baseline's own answers, `Some(None)` when the
/// baseline has no answer to diff with.
fn task<'a>(
    results: &RunResults,
    metrics: &[&'a str],
    record: &'a Record,
    against: Option<Option<&'a str>>,
    own_prompt: bool,
) -> TaskView<'a> {
    let (output, error, meta) = match &record.outcome {
        Outcome::Response(response) => {
            let (text, truncated) = cut(response.text.as_str());
            let (pieces, diff) = match against {
                None => (whole(text), "baseline"),
                Some(None) => (whole(text), "none"),
                // A diff of two cut answers would show a difference that is not there.
                Some(Some(_)) if truncated.is_some() => (whole(text), "too_long"),
                Some(Some(base)) => match diff::word_diff(cut(base).0, text) {
                    Some(pieces) if pieces.iter().all(|p| p.change == Change::Same) => (pieces, "identical"),
                    Some(pieces) => (pieces, "diff"),
                    None => (whole(text), "too_long"),
                },
            };
            let output = Output { pieces, diff, truncated };
            let mut meta = vec![
                format::seconds(response.timing.e2e_seconds),
                format!(
                    "{} → {} tokens",
                    format::count(response.usage.input_tokens),
                    format::count(response.usage.output_tokens)
                ),
            ];
            if let Some(reason) = response.finish_reason.as_deref().filter(|r| *r != "stop") {
                meta.push(format!("finish: {reason}"));
            }
            if record.cached {
                meta.push("cached".to_owned());
            }
            (Some(output), None, meta.join(" · "))
        }
        Outcome::Error(error) => (None, Some(error), String::new()),
    };
    let scores = if output.is_some() {
        metrics.iter().filter_map(|name| score(results, name, record.scores.get(name))).collect()
    } else {
        Vec::new()
    };
    TaskView {
        repeat: record.repeat,
        prompt: own_prompt.then(|| Prompt::of(&record.prompt)),
        output,
        error,
        attempts: record.attempts,
        meta,
        scores,
    }
}

fn whole(text: &str) -> Vec<Piece<'_>> {
    vec![Piece { change: Change::Same, text }]
}

/// A response's score for `metric`; `None` when a metric outside the suite
/// did not score it (a suite metric that did not is shown as invalid, as the
/// aggregates count it).
fn score<'a>(results: &RunResults, metric: &'a str, entry: Option<&'a ScoreEntry>) -> Option<ScoreView<'a>> {
    let info = results.metric(metric);
    let style = info.map_or(Style::Plain(None), Style::of);
    let quality = !info.is_some_and(is_resource_metric);
    let Some(entry) = entry else {
        return info.is_some().then_some(ScoreView {
            metric,
            state: "invalid",
            value: "invalid".to_owned(),
            raw: String::new(),
            quality,
            cause: Some("not scored"),
            reasoning: None,
            details: None,
        });
    };
    let reasoning = REASONING_KEYS.iter().find_map(|key| entry.details.get(*key)).map(|value| match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let rest: serde_json::Map<String, serde_json::Value> = entry
        .details
        .iter()
        .filter(|(key, _)| !REASONING_KEYS.contains(&key.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let details = (!rest.is_empty()).then(|| serde_json::to_string_pretty(&rest).unwrap_or_default());
    let (state, value, raw) = match entry.value.filter(|v| v.is_finite()) {
        Some(v) => {
            let binary = info.is_some_and(|m| m.scale == Scale::Binary);
            // One pass/fail score reads better as a word than as 100.0%.
            let (state, value) = match (binary, v) {
                (true, 1.0) => ("pass", "pass".to_owned()),
                (true, 0.0) => ("fail", "fail".to_owned()),
                (true, v) if v > 0.0 => ("pass", style.value(v)),
                (true, v) => ("fail", style.value(v)),
                (false, v) => ("value", style.value(v)),
            };
            (state, value, v.to_string())
        }
        None => ("invalid", "invalid".to_owned(), String::new()),
    };
    Some(ScoreView { metric, state, value, raw, quality, cause: entry.cause.as_deref(), reasoning, details })
}

/// The prompt's first non-blank line, cut at [`PREVIEW_CHARS`] characters (on
/// a char boundary: prompts are any Unicode).
pub(super) fn preview(prompt: &str) -> String {
    let line = prompt.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let mut chars = line.chars();
    let mut out: String = chars.by_ref().take(PREVIEW_CHARS).collect();
    if chars.next().is_some() || prompt.trim().lines().nth(1).is_some() {
        out.push('…');
    }
    out
}
