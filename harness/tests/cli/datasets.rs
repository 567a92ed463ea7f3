//! Datasets end to end: a Parquet dataset with typed columns is validated,
//! run and scored, its values reaching the prompts as the docs say; a JSONL
//! file with a byte-order mark reads like one without. (Rejected datasets
//! are in bad_input.rs.)

use serde_json::json;

use crate::support::*;

/// `capitals.parquet` (harness/tests/fixtures/parquet/generate.py): five
/// capitals, four in the `test` split, with an int8 `rank`, a decimal(8, 2)
/// `area` and a `founded` date.
fn parquet_suite() -> String {
    capitals_suite("parquet", "", FAST_RUN)
        .replace("path = \"qa.jsonl\"", "path = \"capitals.parquet\"\nsplit = \"test\"")
        .replace(
            "user = \"{{ question }}\"",
            "user = \"{{ question }} (rank {{ rank }}, area {{ area }}, founded {{ founded }})\"",
        )
}

#[test]
fn a_parquet_dataset_is_validated_run_and_scored() {
    let sandbox = Sandbox::new();
    let server = Server::answering(CAPITALS_ANSWERS);
    sandbox.write_bytes("capitals.parquet", &fixture("parquet/capitals.parquet"));
    sandbox.write_suite("suite.toml", &parquet_suite(), &server.base_url());

    let output = sandbox.evalkit(&["validate", "suite.toml"]);
    output.expect_code(0);
    assert!(output.all().contains("4 samples from `capitals.parquet`"), "{}", output.all());

    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(0);
    // Each typed column as the docs say: int8 a number, a decimal its exact
    // digits, a date ISO 8601 even past year 9999; Germany's date is null,
    // which templates render as `None`.
    let mut prompts: Vec<String> = server.requests().iter().map(Request::prompt).collect();
    prompts.sort();
    assert_eq!(
        prompts,
        [
            "What is the capital of France? (rank 2, area 105.40, founded 0000-09-07)",
            "What is the capital of Germany? (rank 1, area 891.12, founded None)",
            "What is the capital of Italy? (rank 4, area 1285.00, founded +5881580-07-11)",
            "What is the capital of Spain? (rank 3, area 604.30, founded 1970-01-01)",
        ]
    );
    let run_dir = output.run_dir(sandbox.path());
    let records = read_records(&run_dir);
    let mut samples: Vec<(&str, &str)> =
        records.iter().map(|r| (r["sample"].as_str().unwrap(), r["reference"].as_str().unwrap())).collect();
    samples.sort();
    assert_eq!(samples, [("de", "Berlin"), ("es", "Madrid"), ("fr", "Paris"), ("it", "Rome")]);
    let results = read_results(&run_dir);
    // Three right, Spain answered Barcelona.
    assert_eq!(aggregate(&results, "base", "exact_match")["mean"], json!(0.75));
}

#[test]
fn jsonl_with_a_byte_order_mark_reads_like_jsonl_without() {
    let sandbox = Sandbox::new();
    let server = Server::answering(CAPITALS_ANSWERS);
    sandbox.write("qa.jsonl", &format!("\u{feff}{CAPITALS_JSONL}"));
    sandbox.write_suite("suite.toml", &capitals_suite("bom", "", FAST_RUN), &server.base_url());
    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(0);
    let records = read_records(&output.run_dir(sandbox.path()));
    let mut samples: Vec<&str> = records.iter().map(|r| r["sample"].as_str().unwrap()).collect();
    samples.sort();
    // The ids come from the `id` field of every row, the first one included.
    assert_eq!(samples, ["de", "es", "fr", "it"]);
}
