//! Failures of the endpoint: retried faults, samples that always fail,
//! timeouts, the error budget, an unreachable backend.

use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// Run the capitals suite against a server that answers the France question
/// with `fault` on the first attempt and normally afterwards (every other
/// question is answered normally at once). Asserts the run recovered: France
/// recorded as a correct answer after exactly two attempts, everything else
/// after one. Returns the sandbox (which owns the run folder), the server
/// (for its log) and the records.
fn recovers_after(fault: Reply, stream: bool) -> (Sandbox, Server, Vec<Value>) {
    let sandbox = Sandbox::new();
    let table = AnswerTable::new(CAPITALS_ANSWERS);
    let server = Server::start(move |request, attempt| {
        if request.prompt().contains("France") && attempt == 1 {
            fault.clone()
        } else {
            table.reply(request)
        }
    });
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    let backend_extra = if stream { "" } else { "stream = false" };
    sandbox.write_suite("suite.toml", &capitals_suite("faults", backend_extra, FAST_RUN), &server.base_url());

    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(0);
    let run_dir = output.run_dir(sandbox.path());
    let records = read_records(&run_dir);
    assert_eq!(records.len(), 4, "{records:#?}");

    let france = record(&records, "base", "fr");
    assert_eq!(france["outcome"]["response"]["text"], "Paris", "France should be answered after a retry: {france:#}");
    assert_eq!(france["attempts"], 2, "{france:#}");
    assert_eq!(france["scores"]["exact_match"]["value"], 1.0, "{france:#}");
    for sample in ["de", "it", "es"] {
        let other = record(&records, "base", sample);
        assert!(other["outcome"]["response"].is_object(), "{other:#}");
        assert_eq!(other["attempts"], 1, "{other:#}");
    }
    assert_eq!(server.requests_for("France").len(), 2, "one failed attempt and one retry");

    let results = read_results(&run_dir);
    let exact = aggregate(&results, "base", "exact_match");
    assert_eq!(
        (exact["valid"].as_u64(), exact["total"].as_u64(), exact["errors"].as_u64()),
        (Some(4), Some(4), Some(0)),
        "{exact:#}"
    );
    assert_eq!(exact["mean"], 0.75, "{exact:#}");
    (sandbox, server, records)
}

#[test]
fn rate_limited_with_retry_after_waits_then_succeeds() {
    let (_sandbox, server, _records) = recovers_after(Reply::rate_limited(1), true);
    let france = server.requests_for("France");
    let waited = france[1].received_at.duration_since(france[0].received_at);
    assert!(
        waited >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured: the retry came {waited:?} after the 429"
    );
    assert!(waited < Duration::from_secs(5), "the retry after a 1 s Retry-After took {waited:?}");
}

#[test]
fn server_error_then_success_is_retried() {
    let (_sandbox, _server, _records) = recovers_after(Reply::status(500, "internal hiccup"), true);
}

#[test]
fn connection_dropped_mid_stream_then_success_is_retried() {
    let (_sandbox, _server, records) = recovers_after(Reply::DropMidStream { chunks: 2 }, true);
    // The partial text of the dropped attempt must not leak into the answer.
    let france = record(&records, "base", "fr");
    assert_eq!(france["outcome"]["response"]["text"], "Paris");
}

#[test]
fn invalid_json_body_then_success_is_retried() {
    let (_sandbox, _server, _records) = recovers_after(Reply::InvalidJson, false);
}

#[test]
fn garbled_stream_event_then_success_is_retried() {
    let (_sandbox, _server, _records) = recovers_after(Reply::InvalidJson, true);
}

#[test]
fn a_sample_that_always_fails_is_recorded_as_an_error_not_dropped() {
    let sandbox = Sandbox::new();
    let table = AnswerTable::new(CAPITALS_ANSWERS);
    let server = Server::start(move |request, _| {
        if request.prompt().contains("France") {
            Reply::status(500, "the model fell over")
        } else {
            table.reply(request)
        }
    });
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    let run = "retries = 2\nbackoff = 0.05\nmax_backoff = 0.2\nconcurrency = 2\nerror_budget = 0.5\n";
    sandbox.write_suite("suite.toml", &capitals_suite("always-fails", "", run), &server.base_url());

    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(0);
    let run_dir = output.run_dir(sandbox.path());
    let records = read_records(&run_dir);
    assert_eq!(records.len(), 4, "a failed task is recorded, never dropped: {records:#?}");

    let france = record(&records, "base", "fr");
    let error = &france["outcome"]["error"];
    assert!(error.is_object(), "France should be an error record: {france:#}");
    assert!(france["outcome"].get("response").is_none(), "{france:#}");
    assert_eq!(error["kind"], "transient", "{france:#}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("500"), "the message should name the status: {message:?}");
    assert!(message.contains("the model fell over"), "the message should quote the endpoint's error: {message:?}");
    assert_eq!(france["attempts"], 3, "1 attempt + 2 retries: {france:#}");
    assert!(france["scores"].as_object().is_none_or(|s| s.is_empty()), "a failed task has no scores: {france:#}");
    assert_eq!(server.requests_for("France").len(), 3);

    let results = read_results(&run_dir);
    assert_eq!(results["run"]["complete"], true, "every task has a record");
    let exact = aggregate(&results, "base", "exact_match");
    assert_eq!(exact["valid"], 3, "{exact:#}");
    assert_eq!(exact["total"], 4, "{exact:#}");
    assert_eq!(exact["errors"], 1, "{exact:#}");
    assert_eq!(exact["invalid"], 0, "{exact:#}");
    assert_eq!(exact["missing"], 0, "{exact:#}");
    assert_eq!(exact["n_samples"], 3, "{exact:#}");
    let mean = exact["mean"].as_f64().unwrap();
    assert!(
        (mean - 2.0 / 3.0).abs() < 1e-9,
        "mean over the 3 answered samples (Berlin, Rome right; Barcelona wrong): {mean}"
    );
    let used = usage(&results, "base");
    assert_eq!((used["responses"].as_u64(), used["errors"].as_u64()), (Some(3), Some(1)), "{used:#}");
}

/// A sandbox with the capitals dataset and a server that never answers France.
fn france_stalls() -> (Sandbox, Server) {
    let sandbox = Sandbox::new();
    let table = AnswerTable::new(CAPITALS_ANSWERS);
    let server = Server::start(move |request, _| {
        if request.prompt().contains("France") {
            Reply::Stall(Duration::from_secs(5))
        } else {
            table.reply(request)
        }
    });
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    (sandbox, server)
}

#[test]
fn a_response_slower_than_request_timeout_is_a_timeout_error_after_retries() {
    let (sandbox, server) = france_stalls();
    let run = "retries = 1\nbackoff = 0.05\nconcurrency = 4\nerror_budget = 0.5\nrequest_timeout = 1\n";
    sandbox.write_suite("suite.toml", &capitals_suite("timeouts", "", run), &server.base_url());

    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(0);
    let run_dir = output.run_dir(sandbox.path());
    let records = read_records(&run_dir);
    assert_eq!(records.len(), 4);
    let france = record(&records, "base", "fr");
    assert_eq!(france["outcome"]["error"]["kind"], "timeout", "{france:#}");
    let message = france["outcome"]["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("1.0s"), "the message should say which timeout expired: {message:?}");
    assert_eq!(france["attempts"], 2, "a timeout is retried: {france:#}");
    assert_eq!(server.requests_for("France").len(), 2);
    let results = read_results(&run_dir);
    let exact = aggregate(&results, "base", "exact_match");
    assert_eq!((exact["valid"].as_u64(), exact["errors"].as_u64()), (Some(3), Some(1)), "{exact:#}");
}

#[test]
fn a_backend_timeout_overrides_request_timeout() {
    let (sandbox, server) = france_stalls();
    let run = "retries = 0\nconcurrency = 4\nerror_budget = 0.5\nrequest_timeout = 30\n";
    sandbox.write_suite("suite.toml", &capitals_suite("backend-timeout", "timeout = 0.5", run), &server.base_url());

    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(0);
    let records = read_records(&output.run_dir(sandbox.path()));
    let france = record(&records, "base", "fr");
    assert_eq!(france["outcome"]["error"]["kind"], "timeout", "{france:#}");
    let message = france["outcome"]["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("0.5s"), "the backend's 0.5 s applies, not request_timeout: {message:?}");
    assert_eq!(france["attempts"], 1, "retries = 0: {france:#}");
}

#[test]
fn exceeding_the_error_budget_aborts_with_exit_3_and_keeps_finished_records() {
    let sandbox = Sandbox::new();
    let server = Server::start(|_, _| Reply::status(500, "down for maintenance"));
    let rows: String = (0..10)
        .map(|i| format!("{{\"id\": \"q{i}\", \"question\": \"Question {i}?\", \"answer\": \"{i}\"}}\n"))
        .collect();
    sandbox.write("qa.jsonl", &rows);
    // Sequential and without retries, so the abort point is exact: 10 tasks,
    // 20% budget → 2 failures allowed, the 3rd aborts.
    let run = "retries = 0\nconcurrency = 1\nerror_budget = 0.2\n";
    sandbox.write_suite("suite.toml", &capitals_suite("budget", "", run), &server.base_url());

    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(3);
    let run_dir = output.run_dir(sandbox.path());
    let stderr = &output.stderr;
    assert!(stderr.contains("error budget"), "stderr should say the error budget was exceeded:\n{stderr}");
    assert!(stderr.contains("3 of 10 tasks failed"), "stderr should count the failures:\n{stderr}");
    assert!(stderr.contains("500"), "stderr should show the last error:\n{stderr}");
    assert!(stderr.contains("--resume"), "stderr should suggest --resume:\n{stderr}");
    assert!(
        stderr.contains(&format!("--resume {}", output.run_dir_text())),
        "the --resume hint should name the run folder:\n{stderr}"
    );

    let records = read_records(&run_dir);
    assert_eq!(records.len(), 3, "the failures so far are kept in the journal: {records:#?}");
    assert!(records.iter().all(|r| r["outcome"]["error"]["kind"] == "transient"), "{records:#?}");
    assert_eq!(server.request_count(), 3, "no request after the abort");

    let results = read_results(&run_dir);
    assert_eq!(results["run"]["complete"], false);
    let exact = aggregate(&results, "base", "exact_match");
    assert_eq!(
        (exact["errors"].as_u64(), exact["missing"].as_u64(), exact["total"].as_u64()),
        (Some(3), Some(7), Some(10)),
        "{exact:#}"
    );
}

#[test]
fn an_unreachable_backend_exits_3() {
    let sandbox = Sandbox::new();
    let port = closed_port();
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    let run = "retries = 1\nbackoff = 0.05\nconcurrency = 1\n";
    sandbox.write_suite("suite.toml", &capitals_suite("unreachable", "", run), &format!("http://127.0.0.1:{port}/v1"));

    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(3);
    assert!(
        output.stderr.contains(&format!("127.0.0.1:{port}")),
        "stderr should name the endpoint that could not be reached:\n{}",
        output.stderr
    );
    assert!(
        output.stderr.to_lowercase().contains("connect"),
        "stderr should say the connection failed:\n{}",
        output.stderr
    );
}

#[test]
fn a_retry_after_beyond_max_retry_after_is_not_waited_for_and_says_why() {
    let sandbox = Sandbox::new();
    let server = Server::start(|_, _| Reply::rate_limited(3600));
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    let run = format!("{FAST_RUN}error_budget = 1.0\nmax_retry_after = 30\n");
    sandbox.write_suite("suite.toml", &capitals_suite("patience", "", &run), &server.base_url());

    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(0);
    assert_eq!(server.request_count(), 4, "one request per task, no retry");
    let records = read_records(&output.run_dir(sandbox.path()));
    for record in &records {
        let message = record["outcome"]["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("retry after 3600s") && message.contains("max_retry_after"),
            "the journal says why it did not wait: {message}"
        );
    }
}

#[test]
fn escape_sequences_in_a_server_message_are_printed_escaped() {
    let sandbox = Sandbox::new();
    let server = Server::start(|_, _| Reply::status(500, "\u{1b}]0;owned\u{7}\u{1b}[2Jdown"));
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    let run = "retries = 0\nconcurrency = 1\nerror_budget = 0\n";
    sandbox.write_suite("suite.toml", &capitals_suite("escapes", "", run), &server.base_url());

    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(3);
    assert!(!output.all().contains('\u{1b}') && !output.all().contains('\u{7}'), "{:?}", output.all());
    assert!(output.stderr.contains("\\u{1b}[2Jdown"), "the message is shown, escaped:\n{}", output.stderr);
}
