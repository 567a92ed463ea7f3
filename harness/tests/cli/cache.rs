//! The response cache: unchanged suites are answered from it, `--no-cache`
//! bypasses it, and anything that changes the request misses it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::*;

fn scores_by_sample(records: &[Value]) -> BTreeMap<String, Value> {
    records
        .iter()
        .map(|r| (r["sample"].as_str().unwrap().to_owned(), r["scores"]["exact_match"]["value"].clone()))
        .collect()
}

fn texts_by_sample(records: &[Value]) -> BTreeMap<String, Value> {
    records
        .iter()
        .map(|r| (r["sample"].as_str().unwrap().to_owned(), r["outcome"]["response"]["text"].clone()))
        .collect()
}

#[test]
fn cache_answers_unchanged_suites_and_misses_on_changes() {
    let sandbox = Sandbox::new();
    let server = Server::answering(CAPITALS_ANSWERS);
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    let template = capitals_suite("cached", "", FAST_RUN);
    sandbox.write_suite("suite.toml", &template, &server.base_url());

    // 1. A first run asks the model.
    let first = sandbox.evalkit(&["run", "suite.toml"]);
    first.expect_code(0);
    assert_eq!(server.request_count(), 4);
    let first_dir = first.run_dir(sandbox.path());
    let first_records = read_records(&first_dir);
    assert!(first_records.iter().all(|r| r["cached"] == false && r["attempts"] == 1), "{first_records:#?}");
    assert!(
        sandbox.path().join(".evalkit/cache").is_dir(),
        "the default cache_dir is .evalkit/cache next to the suite"
    );

    // 2. The same suite again: nothing is sent, same answers and scores.
    let second = sandbox.evalkit(&["run", "suite.toml"]);
    second.expect_code(0);
    assert_eq!(server.request_count(), 4, "an unchanged suite must be answered from the cache");
    let second_dir = second.run_dir(sandbox.path());
    assert_ne!(first_dir, second_dir, "every run gets its own folder");
    let second_records = read_records(&second_dir);
    assert_eq!(second_records.len(), 4);
    for record in &second_records {
        assert_eq!(record["cached"], true, "{record:#}");
        assert_eq!(record["attempts"], 0, "a cached answer makes no attempt: {record:#}");
    }
    assert_eq!(scores_by_sample(&second_records), scores_by_sample(&first_records));
    assert_eq!(texts_by_sample(&second_records), texts_by_sample(&first_records));
    let (first_results, second_results) = (read_results(&first_dir), read_results(&second_dir));
    let (a, b) = (aggregate(&first_results, "base", "exact_match"), aggregate(&second_results, "base", "exact_match"));
    for field in ["mean", "valid", "total", "n_samples", "errors", "ci"] {
        assert_eq!(a[field], b[field], "{field} differs between the fresh and the cached run");
    }
    assert_eq!(usage(&second_results, "base")["cached"], 4);

    // 3. --no-cache asks again.
    let third = sandbox.evalkit(&["run", "suite.toml", "--no-cache"]);
    third.expect_code(0);
    assert_eq!(server.request_count(), 8, "--no-cache must send every request again");
    assert!(read_records(&third.run_dir(sandbox.path())).iter().all(|r| r["cached"] == false && r["attempts"] == 1));

    // 4. A different temperature is a different request.
    let warmer = template.replace("backend = \"local\"", "backend = \"local\"\nparams = { temperature = 0.7 }");
    assert_ne!(warmer, template);
    sandbox.write_suite("suite.toml", &warmer, &server.base_url());
    let fourth = sandbox.evalkit(&["run", "suite.toml"]);
    fourth.expect_code(0);
    assert_eq!(server.request_count(), 12, "changing the temperature must miss the cache");
    let sent = server.requests();
    assert!(sent[8..].iter().all(|r| r.body["temperature"] == 0.7), "the new requests carry the new temperature");
    let fourth_records = read_records(&fourth.run_dir(sandbox.path()));
    assert!(fourth_records.iter().all(|r| r["cached"] == false), "{fourth_records:#?}");
    let old_hashes: Vec<&Value> = first_records.iter().map(|r| &r["request_hash"]).collect();
    assert!(
        fourth_records.iter().all(|r| !old_hashes.contains(&&r["request_hash"])),
        "request hashes must change with the temperature"
    );

    // 5. ... which is itself cached from then on.
    let fifth = sandbox.evalkit(&["run", "suite.toml"]);
    fifth.expect_code(0);
    assert_eq!(server.request_count(), 12);
    assert!(read_records(&fifth.run_dir(sandbox.path())).iter().all(|r| r["cached"] == true));
}

#[test]
fn failed_requests_are_not_cached() {
    let sandbox = Sandbox::new();
    let table = AnswerTable::new(CAPITALS_ANSWERS);
    let server = Server::start(move |request, attempt| {
        // France fails throughout the first run (1 attempt + 1 retry), then recovers.
        if request.prompt().contains("France") && attempt <= 2 {
            Reply::status(503, "overloaded")
        } else {
            table.reply(request)
        }
    });
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    let run = "retries = 1\nbackoff = 0.05\nconcurrency = 2\nerror_budget = 0.5\n";
    sandbox.write_suite("suite.toml", &capitals_suite("no-cached-errors", "", run), &server.base_url());

    let first = sandbox.evalkit(&["run", "suite.toml"]);
    first.expect_code(0);
    assert_eq!(
        record(&read_records(&first.run_dir(sandbox.path())), "base", "fr")["outcome"]["error"]["kind"],
        "transient"
    );

    let second = sandbox.evalkit(&["run", "suite.toml"]);
    second.expect_code(0);
    let records = read_records(&second.run_dir(sandbox.path()));
    let france = record(&records, "base", "fr");
    assert_eq!(france["cached"], false, "an error must not be served from the cache: {france:#}");
    assert_eq!(france["outcome"]["response"]["text"], "Paris", "{france:#}");
    assert_eq!(server.requests_for("France").len(), 3);
    assert_eq!(server.request_count(), 6, "only France is asked again");
}

#[test]
fn a_cache_that_cannot_be_written_warns_once_and_loses_nothing() {
    let sandbox = Sandbox::new();
    let server = Server::answering(CAPITALS_ANSWERS);
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    // A file where the cache folder should be: every write fails, as on a full disk.
    sandbox.write("blocked", "not a folder");
    let run = format!("{FAST_RUN}cache_dir = \"blocked/cache\"\n");
    sandbox.write_suite("suite.toml", &capitals_suite("unwritable", "", &run), &server.base_url());

    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(0);
    assert_eq!(output.stderr.matches("cannot write the response cache").count(), 1, "{}", output.stderr);
    assert_eq!(read_records(&output.run_dir(sandbox.path())).len(), 4, "every answer is journaled");
}
