//! Builders for records and run descriptions, shared by the unit tests.

use crate::analyze::{analyze, AnalysisInput};
use evalkit_model_api::{Prompt, Response, Timing, Usage};
use evalkit_record::journal::{ErrorEntry, Outcome, Record, ScoreEntry, Scores, RECORD_VERSION};
use evalkit_record::results::{Direction, MetricInfo, RunInfo, RunResults, Scale, VariantInfo};

pub fn run_info() -> RunInfo {
    RunInfo {
        id: "20250101-120000-abcd".into(),
        suite_name: "smoke".into(),
        suite_description: Some("A small smoke test.".into()),
        started_at: "2025-01-01T12:00:00Z".into(),
        finished_at: Some("2025-01-01T12:01:00Z".into()),
        complete: false,
        seed: 7,
        repeats: 1,
        git_commit: Some("0123456789abcdef".into()),
        host: "devbox".into(),
    }
}

pub fn variant(name: &str, planned_tasks: u64) -> VariantInfo {
    VariantInfo {
        name: name.into(),
        backend: "local".into(),
        backend_kind: "mock".into(),
        model: "echo-1".into(),
        endpoint: None,
        prompt: "qa".into(),
        prompt_version: Some("v1".into()),
        params: serde_json::json!({ "temperature": 0.0 }),
        planned_tasks,
        runtime: None,
    }
}

pub fn metric(name: &str, scale: Scale, direction: Direction, unit: Option<&str>) -> MetricInfo {
    MetricInfo { name: name.into(), kind: name.into(), scale, direction, unit: unit.map(Into::into), aggregate: None }
}

pub fn binary(name: &str) -> MetricInfo {
    metric(name, Scale::Binary, Direction::HigherIsBetter, None)
}

/// A successful task with the given scores (`None` = null score).
pub fn response(variant: &str, sample: &str, repeat: u32, scores: &[(&str, Option<f64>)]) -> Record {
    let outcome = Outcome::Response(Response {
        text: format!("answer to {sample}"),
        usage: Usage { input_tokens: 100, output_tokens: 10, ..Usage::default() },
        timing: Timing { e2e_seconds: 1.0 + f64::from(repeat), ..Timing::default() },
        finish_reason: Some("stop".into()),
        ..Response::default()
    });
    let scores = scores
        .iter()
        .map(|(name, value)| {
            let cause = value.is_none().then(|| "no answer found".to_owned());
            (name.to_string(), ScoreEntry { value: *value, cause, ..ScoreEntry::default() })
        })
        .collect();
    Record { outcome, scores, ..task(variant, sample, repeat) }
}

/// A failed task.
pub fn failure(variant: &str, sample: &str, repeat: u32) -> Record {
    let outcome = Outcome::Error(ErrorEntry { kind: "timeout".into(), message: "timed out after 30s".into() });
    Record { outcome, attempts: 3, ..task(variant, sample, repeat) }
}

fn task(variant: &str, sample: &str, repeat: u32) -> Record {
    Record {
        v: RECORD_VERSION,
        variant: variant.into(),
        sample: sample.into(),
        repeat,
        request_hash: format!("hash-{variant}-{sample}-{repeat}"),
        prompt: Prompt::Completion(format!("Question {sample}?")),
        reference: Some(serde_json::json!("42")),
        cluster: None,
        outcome: Outcome::Error(ErrorEntry { kind: "fatal".into(), message: String::new() }),
        scores: Scores::default(),
        attempts: 1,
        cached: false,
        finished_at: "2025-01-01T12:00:30Z".into(),
    }
}

/// Analyse `records` for the given plan with the default run info.
pub fn results(variants: Vec<VariantInfo>, metrics: Vec<MetricInfo>, records: &[Record]) -> RunResults {
    analyze(AnalysisInput {
        run: run_info(),
        suite: serde_json::json!({ "name": "smoke" }),
        variants,
        metrics,
        records,
        baseline: None,
        paired_test: Default::default(),
    })
}

/// `record` with its response's end-to-end latency set.
pub fn with_latency(mut record: Record, seconds: f64) -> Record {
    if let Outcome::Response(response) = &mut record.outcome {
        response.timing.e2e_seconds = seconds;
    }
    record
}
