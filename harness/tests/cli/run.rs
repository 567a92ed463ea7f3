//! The happy path: streamed and non-streamed answers, chat and completion
//! prompts, what is recorded, how it is scored and aggregated.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

/// Two backends on one server (streamed and not), three variants: a chat
/// prompt on each backend and a completion prompt on the plain one.
const SUITE: &str = r#"[suite]
name = "answers"

[datasets.qa]
path = "qa.jsonl"

[prompts.chat]
system = "Answer with one word."
user = "{{ question }}"

[prompts.completion]
text = "Q: {{ question }}\nA:"

[backends.streamed]
kind = "openai"
base_url = "{base_url}"
model = "stream-model"

[backends.plain]
kind = "openai"
base_url = "{base_url}"
model = "plain-model"
stream = false

[[variants]]
name = "chat-stream"
prompt = "chat"
backend = "streamed"
params = { temperature = 0.0, max_tokens = 8 }

[[variants]]
name = "chat-plain"
prompt = "chat"
backend = "plain"

[[variants]]
name = "completion"
prompt = "completion"
backend = "plain"

[[metrics]]
kind = "exact_match"

[run]
retries = 1
backoff = 0.05
concurrency = 4
"#;

// Lower bounds only, with slack: a loaded machine can delay the client's
// reads (stretching or squeezing measured gaps a little) but never make the
// server send sooner.
const FIRST_DELAY: Duration = Duration::from_millis(150);
const CHUNK_DELAY: Duration = Duration::from_millis(100);

fn answering_with_timings() -> Server {
    let table = AnswerTable::new(CAPITALS_ANSWERS);
    Server::start(move |request, _| {
        Answer::new(table.lookup(&request.prompt()))
            .usage(12, 2)
            .cached(4)
            .first_delay(FIRST_DELAY)
            .chunk_delay(CHUNK_DELAY)
            .pieces(3)
            .into()
    })
}

fn expected_answer(sample: &str) -> (&'static str, f64) {
    match sample {
        "fr" => ("Paris", 1.0),
        "de" => ("Berlin", 1.0),
        "it" => ("Rome", 1.0),
        "es" => ("Barcelona", 0.0),
        other => panic!("unexpected sample {other}"),
    }
}

#[test]
fn streamed_and_plain_answers_are_recorded_scored_and_aggregated() {
    let sandbox = Sandbox::new();
    let server = answering_with_timings();
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    sandbox.write_suite("suite.toml", SUITE, &server.base_url());

    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(0);
    let run_dir = output.run_dir(sandbox.path());
    for file in ["suite.toml", "run.json", "records.jsonl", "results.json", "report.html"] {
        assert!(run_dir.join(file).is_file(), "{file} missing from {}", run_dir.display());
    }
    assert!(
        run_dir.starts_with(sandbox.path().join("runs").join("answers")),
        "run folder {} is not under runs/answers/",
        run_dir.display()
    );

    // --- records.jsonl ---
    let records = read_records(&run_dir);
    assert_eq!(records.len(), 12, "3 variants × 4 samples: {records:#?}");
    for record in &records {
        let variant = record["variant"].as_str().unwrap();
        let sample = record["sample"].as_str().unwrap();
        let (text, score) = expected_answer(sample);
        let response = &record["outcome"]["response"];
        assert!(response.is_object(), "({variant}, {sample}) has no response: {record:#}");
        assert_eq!(response["text"], text, "({variant}, {sample})");
        assert_eq!(response["usage"]["input_tokens"], 12, "({variant}, {sample})");
        assert_eq!(response["usage"]["output_tokens"], 2, "({variant}, {sample})");
        assert_eq!(response["usage"]["cached_input_tokens"], 4, "({variant}, {sample})");
        assert_eq!(response["finish_reason"], "stop", "({variant}, {sample})");
        let model = response["model"].as_str().unwrap_or_default();
        assert!(["stream-model", "plain-model"].contains(&model), "the server's model name is kept: {record:#}");
        assert_eq!(record["attempts"], 1, "({variant}, {sample})");
        assert_eq!(record["cached"], false, "({variant}, {sample})");
        assert_eq!(record["repeat"], 0, "({variant}, {sample})");
        assert_eq!(record["reference"], expected_reference(sample), "({variant}, {sample})");
        assert_eq!(record["scores"]["exact_match"]["value"], json!(score), "({variant}, {sample}): {record:#}");

        let e2e = response["timing"]["e2e_seconds"].as_f64().expect("e2e_seconds is a number");
        assert!(e2e >= FIRST_DELAY.as_secs_f64() * 0.9 && e2e < 10.0, "({variant}, {sample}) e2e {e2e}");
        if variant == "chat-stream" {
            let ttft = response["timing"]["ttft_seconds"]
                .as_f64()
                .unwrap_or_else(|| panic!("streamed answer without ttft_seconds: {record:#}"));
            let gap = response["timing"]["inter_token_seconds"]
                .as_f64()
                .unwrap_or_else(|| panic!("streamed answer without inter_token_seconds: {record:#}"));
            // Only bounds a loaded machine cannot break: the server waits before each
            // piece, so nothing can arrive sooner; a busy client may read late pieces
            // together, so the spacing it sees has no lower bound.
            assert!(ttft >= FIRST_DELAY.as_secs_f64() * 0.9, "ttft {ttft} is shorter than the server's first delay");
            assert!(ttft <= e2e, "ttft {ttft} > e2e {e2e}");
            assert!(
                e2e >= (FIRST_DELAY + 2 * CHUNK_DELAY).as_secs_f64() * 0.9,
                "e2e {e2e} is shorter than the server's delays"
            );
            assert!(gap >= 0.0 && gap <= e2e - ttft + 1e-9, "inter-token {gap} outside [0, e2e - ttft]");
            assert!(
                record["prompt"]["chat"][0] == json!({"role": "system", "content": "Answer with one word."}),
                "the journal keeps the prompt's messages: {record:#}"
            );
        } else {
            assert!(
                response["timing"].get("ttft_seconds").is_none_or(Value::is_null),
                "non-streamed answer has ttft: {record:#}"
            );
            assert!(
                response["timing"].get("inter_token_seconds").is_none_or(Value::is_null),
                "non-streamed answer has inter_token: {record:#}"
            );
        }
    }

    // --- what the server was sent ---
    let requests = server.requests();
    assert_eq!(requests.len(), 12, "one request per task");
    for request in &requests {
        assert_eq!(request.method, "POST");
        match request.body["model"].as_str() {
            Some("stream-model") => {
                assert_eq!(request.path, "/v1/chat/completions");
                assert_eq!(request.body["stream"], true);
                assert_eq!(request.body["stream_options"]["include_usage"], true);
                assert_eq!(request.body["temperature"], 0.0);
                assert_eq!(request.body["max_tokens"], 8);
                assert_eq!(
                    request.body["messages"][0],
                    json!({ "role": "system", "content": "Answer with one word." })
                );
                assert_eq!(request.body["messages"][1]["role"], "user");
            }
            Some("plain-model") if request.is_completion() => {
                assert_eq!(request.path, "/v1/completions");
                assert_eq!(request.body["stream"], false);
                let prompt = request.body["prompt"].as_str().expect("completion requests carry `prompt`");
                assert!(prompt.starts_with("Q: What is the capital of ") && prompt.ends_with("\nA:"), "{prompt:?}");
                assert!(request.body.get("temperature").is_none(), "unset parameters are not sent: {}", request.body);
            }
            Some("plain-model") => {
                assert_eq!(request.path, "/v1/chat/completions");
                assert_eq!(request.body["stream"], false);
                assert!(request.body.get("stream_options").is_none(), "{}", request.body);
            }
            other => panic!("unexpected model {other:?}: {}", request.body),
        }
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert!(request.header("authorization").is_none(), "no api_key_env, so no Authorization header");
    }

    // --- results.json ---
    let results = read_results(&run_dir);
    assert_eq!(results["schema_version"], 1);
    assert_eq!(results["run"]["complete"], true);
    assert_eq!(results["run"]["suite_name"], "answers");
    let variants: Vec<&str> =
        results["variants"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(variants, ["chat-stream", "chat-plain", "completion"]);
    assert_eq!(results["variants"][0]["planned_tasks"], 4);
    assert_eq!(results["variants"][0]["model"], "stream-model");
    for variant in variants {
        let exact = aggregate(&results, variant, "exact_match");
        assert_eq!(exact["mean"], 0.75, "{variant}: {exact:#}");
        assert_eq!(exact["valid"], 4, "{variant}: {exact:#}");
        assert_eq!(exact["total"], 4, "{variant}: {exact:#}");
        assert_eq!(exact["n_samples"], 4, "{variant}: {exact:#}");
        assert_eq!(exact["errors"], 0, "{variant}: {exact:#}");
        assert_eq!(exact["invalid"], 0, "{variant}: {exact:#}");
        assert_eq!(exact["missing"], 0, "{variant}: {exact:#}");
        let ci = &exact["ci"];
        assert_eq!(ci["method"], "wilson", "{variant}: {exact:#}");
        let (low, high) = (ci["low"].as_f64().unwrap(), ci["high"].as_f64().unwrap());
        assert!(low < 0.75 && 0.75 < high && low >= 0.0 && high <= 1.0, "{variant}: {exact:#}");

        let used = usage(&results, variant);
        assert_eq!(used["tasks"], 4, "{variant}: {used:#}");
        assert_eq!(used["responses"], 4, "{variant}: {used:#}");
        assert_eq!(used["errors"], 0, "{variant}: {used:#}");
        assert_eq!(used["cached"], 0, "{variant}: {used:#}");
        assert_eq!(used["input_tokens"], 48, "{variant}: {used:#}");
        assert_eq!(used["output_tokens"], 8, "{variant}: {used:#}");
        assert!(used["latency_p50_seconds"].as_f64().is_some(), "{variant}: {used:#}");
    }

    // The summary table names every variant.
    for variant in ["chat-stream", "chat-plain", "completion"] {
        assert!(output.stdout.contains(variant), "summary table lacks {variant}:\n{}", output.stdout);
    }

    // `evalkit report` rebuilds the same aggregates from the journal.
    let before = results["aggregates"].clone();
    sandbox.evalkit(&["report", run_dir.to_str().unwrap()]).expect_code(0);
    assert_eq!(read_results(&run_dir)["aggregates"], before, "`evalkit report` changed the aggregates");
    assert_eq!(server.request_count(), 12, "`evalkit report` must not call the model");
}

fn expected_reference(sample: &str) -> Value {
    json!(match sample {
        "fr" => "Paris",
        "de" => "Berlin",
        "it" => "Rome",
        "es" => "Madrid",
        _ => unreachable!(),
    })
}

#[test]
fn validate_accepts_a_good_suite_without_calling_the_model() {
    let sandbox = Sandbox::new();
    let server = Server::answering(CAPITALS_ANSWERS);
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    sandbox.write_suite("suite.toml", SUITE, &server.base_url());

    let output = sandbox.evalkit(&["validate", "suite.toml"]);
    output.expect_code(0);
    assert!(output.stderr.contains("ok: suite `answers` is valid"), "{}", output.stderr);
    assert!(output.stderr.contains("4 samples") && output.stderr.contains("12 tasks"), "{}", output.stderr);
    assert_eq!(server.request_count(), 0, "validate must not call the model");
    assert!(!sandbox.path().join("runs").exists(), "validate must not create a run folder");
}
