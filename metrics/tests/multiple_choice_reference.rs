//! Checks `multiple_choice` against what lm-evaluation-harness's own
//! `ConfigurableTask.process_results` decided for `acc`, `acc_norm` and
//! `acc_bytes` on the same log-likelihoods (see `fixtures/README.md`).

use std::collections::BTreeMap;

use evalkit_metrics::{score_without_models, ChoiceNormalize, Fields, Metric, MultipleChoice, MultipleChoiceConfig};
use evalkit_model_api::{ChoiceScore, Response, Scored};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Fixture {
    lm_eval: String,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    note: String,
    target_delimiter: String,
    /// What lm-eval scored after the prompt: its target_delimiter + choice, which is what an
    /// evalkit suite writes as the choice.
    continuations: Vec<String>,
    logliks: Vec<f64>,
    answer: usize,
    chosen: BTreeMap<String, usize>,
    passed: BTreeMap<String, f64>,
}

const METRICS: [(ChoiceNormalize, &str); 3] =
    [(ChoiceNormalize::None, "acc"), (ChoiceNormalize::Chars, "acc_norm"), (ChoiceNormalize::Bytes, "acc_bytes")];

fn fixture() -> Fixture {
    let text = include_str!("fixtures/multiple_choice_reference.json");
    let fixture: Fixture = serde_json::from_str(text).expect("fixture is valid JSON");
    assert!(fixture.cases.len() >= 10, "the fixture should hold at least 10 cases");
    fixture
}

fn response(logliks: &[f64]) -> Response {
    let scores = logliks
        .iter()
        // `bytes` is what a backend reports for the choice as scored; the metric must not need it.
        .map(|&loglik| ChoiceScore { loglik, tokens: 1, bytes: 0, greedy: false })
        .collect();
    Response { scored: Some(Scored::Choices(scores)), ..Response::default() }
}

#[test]
fn the_fixture_still_tells_the_metrics_apart() {
    // Without cases where the three metrics disagree, the comparison below could not catch a
    // metric computed the wrong way.
    let fixture = fixture();
    let all_differ = fixture.cases.iter().filter(|case| {
        let picks: std::collections::BTreeSet<_> = case.chosen.values().collect();
        picks.len() == METRICS.len()
    });
    assert!(all_differ.count() >= 4, "lm-eval {}", fixture.lm_eval);
    assert!(fixture.cases.iter().any(|case| case.target_delimiter.is_empty()));
    assert!(fixture.cases.iter().any(|case| case.continuations.iter().any(|c| !c.is_ascii())));
}

#[test]
fn choices_and_results_match_lm_evaluation_harness() {
    let fixture = fixture();
    for case in &fixture.cases {
        let mut fields = Fields::new();
        fields.insert("choices".to_owned(), serde_json::json!(case.continuations));
        fields.insert("answer".to_owned(), case.answer.into());
        let response = response(&case.logliks);
        for (normalize, name) in METRICS {
            // lm-eval's default delimiter is left to evalkit's default, so a change to either shows.
            let target_delimiter = (case.target_delimiter != " ").then(|| case.target_delimiter.clone());
            let metric =
                MultipleChoice::new(MultipleChoiceConfig { normalize, target_delimiter, ..Default::default() });
            assert_eq!(metric.name(), name, "evalkit's default name is lm-eval's");
            let score = score_without_models(&metric, &fields, &response, "m");
            let at = format!("{name} on {:?} (lm-eval {})", case.note, fixture.lm_eval);
            assert_eq!(score.cause, None, "{at}");
            assert_eq!(score.details.get("chosen"), Some(&serde_json::json!(case.chosen[name])), "{at}");
            assert_eq!(score.value, case.passed[name], "{at}");
        }
    }
}
