//! Every metric, built from suite-style settings, over awkward outputs and
//! samples: none may panic, and every score is either a number or `NaN` with
//! a cause.

use std::collections::BTreeMap;

use evalkit_metrics::{build, score_without_models, BuildContext, Fields, MetricConfig, Price, Scale};
use evalkit_model_api::{Response, Timing, Usage};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct Suite {
    metrics: Vec<MetricConfig>,
}

const SUITE: &str = r#"
    [[metrics]]
    kind = "exact_match"
    normalize = { punctuation = true, articles = true }
    [[metrics]]
    kind = "contains"
    [[metrics]]
    kind = "regex"
    pattern = '(?i)answer:\s*(\S+)?'
    reference = "answer"
    [[metrics]]
    kind = "regex"
    name = "has_digits"
    pattern = '\d'
    [[metrics]]
    kind = "json_valid"
    schema = { type = "object" }
    [[metrics]]
    kind = "token_f1"
    [[metrics]]
    kind = "latency"
    measure = "ttft"
    [[metrics]]
    kind = "cost"
"#;

fn outputs() -> Vec<String> {
    let mut outputs: Vec<String> = [
        "",
        " ",
        "\0",
        "```",
        "```json",
        "```json\n",
        "{",
        "[",
        "}",
        "]{",
        "answer:",
        "ANSWER: x",
        "the a an",
        "\u{301}\u{301}",
        "ǅ İ ß ﬁ",
        "😀👍🏽",
        "\u{202e}rtl",
        "a\u{1c}b",
        "{\"a\": 1} {\"b\":",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    outputs.push("[".repeat(10_000));
    outputs.push("answer: ".repeat(1_000) + "42");
    outputs
}

fn samples() -> Vec<Fields> {
    [
        json!({}),
        json!({"answer": ""}),
        json!({"answer": "42"}),
        json!({"answer": [""]}),
        json!({"answer": null}),
        json!({"answer": [1, "the", ["x"]]}),
        json!({"answer": {"text": "x"}}),
        json!({"answer": 1e300}),
    ]
    .into_iter()
    .map(|value| match value {
        serde_json::Value::Object(map) => map,
        _ => unreachable!(),
    })
    .collect()
}

#[test]
fn no_panics_and_every_nan_has_a_cause() {
    let suite: Suite = toml::from_str(SUITE).expect("suite parses");
    let context = BuildContext {
        backends: BTreeMap::new(),
        prices: BTreeMap::from([("m".to_owned(), Price { input: 1.0, output: 2.0, cached_input: None })]),
    };
    let metrics: Vec<_> = suite.metrics.iter().map(|c| build(c, &context).expect("metric builds")).collect();
    for text in outputs() {
        let response = Response {
            text,
            usage: Usage { input_tokens: 3, output_tokens: 5, cached_input_tokens: Some(7), reasoning_tokens: None },
            timing: Timing { e2e_seconds: 0.5, ttft_seconds: None, inter_token_seconds: None },
            ..Response::default()
        };
        for fields in &samples() {
            for model in ["m", "unknown"] {
                for metric in &metrics {
                    let score = score_without_models(metric.as_ref(), fields, &response, model);
                    let context = format!("{} on {:?} with {fields:?}: {score:?}", metric.name(), response.text);
                    if score.value.is_nan() {
                        assert!(score.cause.as_deref().is_some_and(|c| !c.is_empty()), "{context}");
                    } else {
                        assert!(score.cause.is_none(), "{context}");
                        if metric.scale() == Scale::Binary {
                            assert!(score.value == 0.0 || score.value == 1.0, "{context}");
                        }
                    }
                }
            }
        }
    }
}
