//! The paired stage: a metric that compares each variant with a reference
//! variant's answer to the same sample is scored once both have answered.

use serde_json::json;

use crate::support::*;

const SUITE: &str = r#"[suite]
name = "paired"

[datasets.qa]
path = "qa.jsonl"

[prompts.plain]
user = "{{ question }}"

[prompts.careful]
user = "{{ question }} Think twice."

[backends.model]
kind = "openai"
base_url = "{base_url}"
model = "test-model"

[[variants]]
name = "reference"
prompt = "plain"
backend = "model"

[[variants]]
name = "candidate"
prompt = "careful"
backend = "model"

[[metrics]]
kind = "exact_match"

[[metrics]]
kind = "agreement"
reference_variant = "reference"

[run]
retries = 0
concurrency = 4
"#;

#[test]
fn agreement_scores_each_candidate_answer_against_the_reference_variant() {
    let sandbox = Sandbox::new();
    // The candidate's prompt changes Spain's answer (the table matches the longer key first).
    let mut answers = vec![("What is the capital of Spain? Think twice.", "Madrid")];
    answers.extend_from_slice(CAPITALS_ANSWERS);
    let server = Server::answering(&answers);
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    sandbox.write_suite("suite.toml", SUITE, &server.base_url());
    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(0);
    let records = read_records(&output.run_dir(sandbox.path()));
    assert_eq!(records.len(), 8, "2 variants × 4 samples: {records:#?}");
    for sample in ["fr", "de", "it", "es"] {
        let reference = record(&records, "reference", sample);
        assert!(reference["scores"].get("agreement").is_none(), "the reference variant is not compared with itself");
        let candidate = record(&records, "candidate", sample);
        let expected = if sample == "es" { 0.0 } else { 1.0 };
        assert_eq!(candidate["scores"]["agreement"]["value"], json!(expected), "{sample}: {candidate:#}");
    }
    let es = record(&records, "candidate", "es");
    assert_eq!(es["scores"]["agreement"]["details"]["reference_answer"], "barcelona");
    let results = read_results(&output.run_dir(sandbox.path()));
    assert_eq!(aggregate(&results, "candidate", "agreement")["mean"], json!(0.75));
}

#[test]
fn a_reference_variant_that_is_not_a_variant_is_an_error_at_the_key() {
    let sandbox = Sandbox::new();
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    let suite = SUITE.replace("reference_variant = \"reference\"", "reference_variant = \"refrence\"");
    sandbox.write_suite("suite.toml", &suite, "http://127.0.0.1:9/v1");
    let output = sandbox.evalkit(&["validate", "suite.toml"]);
    output.expect_code(2);
    let text = output.all();
    assert!(text.contains("names variant `refrence`, which is not defined"), "{text}");
    assert!(text.contains("did you mean `reference`?"), "{text}");
}
