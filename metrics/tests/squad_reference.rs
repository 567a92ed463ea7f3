//! Checks the SQuAD functions, and the metrics built on them, against values
//! the official SQuAD v2.0 evaluation script produced (see `fixtures/README.md`).

use evalkit_metrics::{
    compute_exact, compute_f1, normalize_answer, score_without_models, ExactMatch, ExactMatchConfig, Fields, Metric,
    Normalize, TokenF1, TokenF1Config,
};
use evalkit_model_api::{Response, Timing, Usage};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    prediction: String,
    gold: String,
    normalized_prediction: String,
    normalized_gold: String,
    exact: u8,
    f1: f64,
}

fn cases() -> Vec<Case> {
    let text = include_str!("fixtures/squad_reference.json");
    let fixture: Fixture = serde_json::from_str(text).expect("fixture is valid JSON");
    assert!(fixture.cases.len() >= 40, "the fixture should hold at least 40 cases");
    fixture.cases
}

fn score(metric: &dyn Metric, case: &Case) -> f64 {
    let mut fields = Fields::new();
    fields.insert("answer".to_owned(), case.gold.clone().into());
    let response = Response {
        text: case.prediction.clone(),
        usage: Usage::default(),
        timing: Timing::default(),
        ..Response::default()
    };
    score_without_models(metric, &fields, &response, "m").value
}

#[test]
fn normalize_answer_matches_the_official_script() {
    for case in cases() {
        assert_eq!(normalize_answer(&case.prediction), case.normalized_prediction, "{case:?}");
        assert_eq!(normalize_answer(&case.gold), case.normalized_gold, "{case:?}");
    }
}

#[test]
fn compute_exact_and_compute_f1_match_the_official_script() {
    for case in cases() {
        assert_eq!(u8::from(compute_exact(&case.gold, &case.prediction)), case.exact, "{case:?}");
        let f1 = compute_f1(&case.gold, &case.prediction);
        assert!((f1 - case.f1).abs() <= 1e-12, "f1 {f1} != {} for {case:?}", case.f1);
    }
}

#[test]
fn metrics_match_the_official_script() {
    let exact = ExactMatch::new(ExactMatchConfig { normalize: Normalize::SQUAD, ..ExactMatchConfig::default() });
    let f1 = TokenF1::new(TokenF1Config::default());
    for case in cases() {
        assert_eq!(score(&exact, &case), f64::from(case.exact), "{case:?}");
        let value = score(&f1, &case);
        assert!((value - case.f1).abs() <= 1e-12, "f1 {value} != {} for {case:?}", case.f1);
    }
}
