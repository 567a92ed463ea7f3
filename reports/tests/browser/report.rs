//! The report the browser test opens: two prompt versions of one model on 36
//! questions, with pass/fail and continuous metrics, latency and cost, an
//! error, an invalid score, a judge's reasoning, and an answer that tries to
//! run script and load an image.
//!
//! Which sample passes where is a simple rule ([`Plan`]), so the test can say
//! how many rows each filter should leave without reading the page.

use evalkit_model_api::{Prompt, Response, Timing, Usage};
use evalkit_record::journal::{ErrorEntry, Outcome, Record, ScoreEntry, Scores, RECORD_VERSION};
use evalkit_record::results::{
    Direction, GateResult, GateStatus, MetricInfo, RunInfo, RunResults, Scale, VariantInfo, Verdict,
};
use evalkit_reports::{analyze, AnalysisInput};

pub const BASELINE: &str = "qa-v1";
pub const CANDIDATE: &str = "qa-v2";
pub const SAMPLES: usize = 36;
/// The candidate's answer to this sample carries the script and image payloads.
pub const EVIL_SAMPLE: usize = 7;
/// The candidate's request for this sample failed.
pub const ERROR_SAMPLE: usize = 13;
/// The baseline's exact-match score for this sample could not be computed.
pub const INVALID_SAMPLE: usize = 5;
/// A word that appears in exactly one answer (the candidate's to sample 21).
pub const UNIQUE_WORD: &str = "zanzibar";

pub const SCRIPT_PAYLOAD: &str = "<script>window.__pwned=1</script>";

/// Whether each variant answers each sample correctly.
pub struct Plan;

impl Plan {
    pub fn correct(variant: &str, sample: usize) -> bool {
        if variant == BASELINE {
            !sample.is_multiple_of(3)
        } else {
            !sample.is_multiple_of(4) || sample.is_multiple_of(8)
        }
    }

    /// The task failed with an error.
    pub fn error(variant: &str, sample: usize) -> bool {
        variant == CANDIDATE && sample == ERROR_SAMPLE
    }

    /// Exact match could not score the answer.
    pub fn invalid(variant: &str, sample: usize) -> bool {
        variant == BASELINE && sample == INVALID_SAMPLE
    }

    /// Samples with an error, an invalid score or a failed pass/fail score
    /// under `variant` (or under either, for `None`).
    pub fn failures(variant: Option<&str>) -> usize {
        let failed = |v: &str, s| Plan::error(v, s) || Plan::invalid(v, s) || !Plan::correct(v, s);
        (0..SAMPLES)
            .filter(|&s| [BASELINE, CANDIDATE].iter().any(|v| variant.is_none_or(|x| x == *v) && failed(v, s)))
            .count()
    }

    /// Samples whose quality scores differ between the two variants.
    pub fn changed() -> usize {
        (0..SAMPLES)
            .filter(|&s| {
                Plan::correct(BASELINE, s) != Plan::correct(CANDIDATE, s)
                    || Plan::error(CANDIDATE, s)
                    || Plan::invalid(BASELINE, s)
            })
            .count()
    }
}

fn metric(name: &str, scale: Scale, direction: Direction, unit: Option<&str>) -> MetricInfo {
    MetricInfo { name: name.into(), kind: name.into(), scale, direction, unit: unit.map(Into::into), aggregate: None }
}

fn variant(name: &str, version: &str) -> VariantInfo {
    VariantInfo {
        name: name.into(),
        backend: "openai".into(),
        backend_kind: "openai".into(),
        model: "gpt-mini".into(),
        endpoint: None,
        prompt: "qa".into(),
        prompt_version: Some(version.into()),
        params: serde_json::json!({ "temperature": 0.0, "max_tokens": 64 }),
        planned_tasks: SAMPLES as u64,
        runtime: None,
    }
}

fn record(variant: &str, sample: usize, trap_url: &str) -> Record {
    let id = format!("q{sample:02}");
    let correct = Plan::correct(variant, sample);
    let answer = format!("City{sample}");
    let prompt = if variant == BASELINE {
        format!("What is the capital of country {sample}?")
    } else {
        format!("Answer with the city only.\nWhat is the capital of country {sample}?")
    };
    let outcome = if Plan::error(variant, sample) {
        Outcome::Error(ErrorEntry { kind: "timeout".into(), message: "timed out after 30s".into() })
    } else {
        let mut text = if correct {
            format!("The capital is {answer}.")
        } else {
            format!("I believe the capital is Town{sample}, not sure.")
        };
        if variant == CANDIDATE && sample == EVIL_SAMPLE {
            text = format!(
                "{text} {SCRIPT_PAYLOAD} <img src=http://127.0.0.1:9/x onerror=\"window.__pwned=2\"> \
                 <img src=\"{trap_url}\" onerror=\"window.__pwned=3\">"
            );
        }
        if variant == CANDIDATE && sample == 21 {
            text = format!("{text} (as in {UNIQUE_WORD})");
        }
        let seconds =
            if variant == BASELINE { 0.4 + (sample % 10) as f64 * 0.03 } else { 0.7 + (sample % 7) as f64 * 0.05 };
        Outcome::Response(Response {
            text,
            usage: Usage { input_tokens: 40 + sample as u64, output_tokens: 8, ..Usage::default() },
            timing: Timing { e2e_seconds: seconds, ..Timing::default() },
            finish_reason: Some("stop".into()),
            ..Response::default()
        })
    };
    let mut scores = Scores::default();
    if outcome.response().is_some() {
        let pass = if correct { 1.0 } else { 0.0 };
        let em = if Plan::invalid(variant, sample) {
            ScoreEntry { value: None, cause: Some("no answer found".into()), ..ScoreEntry::default() }
        } else {
            score(pass)
        };
        scores.insert("exact_match".to_owned(), em);
        scores.insert("token_f1".to_owned(), score(if correct { 1.0 } else { 0.25 }));
        let mut judge = score(pass);
        let reasoning = if correct {
            format!("The answer names {answer}, which is the capital.")
        } else {
            format!("Town{sample} is not the capital; the reference is {answer}.")
        };
        judge.details.insert("reasoning".into(), reasoning.into());
        scores.insert("judge".to_owned(), judge);
        let response = outcome.response().map_or(0.0, |r| r.timing.e2e_seconds);
        scores.insert("latency".to_owned(), score(response));
        let cost = if variant == BASELINE { 0.0010 } else { 0.0021 };
        scores.insert("cost".to_owned(), score(cost + (sample % 5) as f64 * 0.00002));
    }
    Record {
        v: RECORD_VERSION,
        variant: variant.into(),
        sample: id.clone(),
        repeat: 0,
        request_hash: format!("{variant}-{id}"),
        prompt: Prompt::Completion(prompt),
        reference: Some(answer.into()),
        cluster: None,
        outcome,
        scores,
        attempts: if Plan::error(variant, sample) { 3 } else { 1 },
        cached: false,
        finished_at: "2025-03-01T10:00:00Z".into(),
    }
}

fn score(value: f64) -> ScoreEntry {
    ScoreEntry { value: Some(value), ..ScoreEntry::default() }
}

/// The journal and its results; `trap_url` is planted in an answer as an
/// image source.
pub fn build(trap_url: &str) -> (RunResults, Vec<Record>) {
    let records: Vec<Record> =
        (0..SAMPLES).flat_map(|s| [record(BASELINE, s, trap_url), record(CANDIDATE, s, trap_url)]).collect();
    let metrics = vec![
        metric("exact_match", Scale::Binary, Direction::HigherIsBetter, None),
        metric("token_f1", Scale::Continuous, Direction::HigherIsBetter, None),
        metric("judge", Scale::Binary, Direction::HigherIsBetter, None),
        metric("latency", Scale::Continuous, Direction::LowerIsBetter, Some("s")),
        metric("cost", Scale::Continuous, Direction::LowerIsBetter, Some("USD")),
    ];
    let run = RunInfo {
        id: "20250301-100000-b10b".into(),
        suite_name: "capitals-prompts".into(),
        suite_description: Some("Prompt v1 against prompt v2 on capital cities".into()),
        started_at: "2025-03-01T09:58:00Z".into(),
        finished_at: Some("2025-03-01T10:00:00Z".into()),
        complete: true,
        seed: 42,
        repeats: 1,
        git_commit: Some("abc1234".into()),
        host: "ci".into(),
    };
    let mut results = analyze(AnalysisInput {
        run,
        suite: serde_json::json!({ "name": "capitals-prompts" }),
        variants: vec![variant(BASELINE, "1"), variant(CANDIDATE, "2")],
        metrics,
        records: &records,
        baseline: None,
        paired_test: Default::default(),
    });
    if results.gates.is_empty() {
        results.gates = gates(&results);
    }
    (results, records)
}

fn gates(results: &RunResults) -> Vec<GateResult> {
    let em = results.aggregate(CANDIDATE, "exact_match").and_then(|a| a.mean);
    let latency = results.comparison(CANDIDATE, "latency");
    vec![
        GateResult {
            name: "exact_match at least 70%".into(),
            metric: "exact_match".into(),
            variant: CANDIDATE.into(),
            status: if em.unwrap_or(0.0) >= 0.7 { GateStatus::Passed } else { GateStatus::Failed },
            verdict: None,
            observed: em,
            message: format!("{CANDIDATE} exact_match mean against a floor of 70%"),
            warnings: Vec::new(),
        },
        GateResult {
            name: "no latency regression".into(),
            metric: "latency".into(),
            variant: CANDIDATE.into(),
            status: if latency.is_some_and(|c| c.verdict == Verdict::Regressed) {
                GateStatus::Failed
            } else {
                GateStatus::Passed
            },
            verdict: latency.map(|c| c.verdict),
            observed: latency.and_then(|c| c.difference),
            message: format!("{CANDIDATE} latency is significantly higher than {BASELINE}'s"),
            warnings: vec!["36 samples detect only large changes".into()],
        },
    ]
}
