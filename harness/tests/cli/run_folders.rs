//! Run folders as files on disk: a folder written by evalkit before journal
//! v2 still renders the same results, and the commands that read a run folder
//! never write into it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::{files_under, Sandbox};

/// The version-1 run folder (journal v1, manifest v1) made by evalkit at
/// f9fcec7; see tests/fixtures/v1_run/README.md.
fn v1_fixture() -> PathBuf {
    let package =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    package.join("tests/fixtures/v1_run/run")
}

/// A copy of the fixture in the sandbox, so the test never touches the committed files.
fn copy_of_v1_run(sandbox: &Sandbox) -> PathBuf {
    let target = sandbox.path().join("v1-run");
    std::fs::create_dir_all(&target).expect("create the copy");
    for file in files_under(&v1_fixture()) {
        let name = file.file_name().expect("a file name");
        std::fs::copy(&file, target.join(name)).expect("copy a fixture file");
    }
    target
}

/// File name → sha256 of every file in `dir`.
fn fingerprints(dir: &Path) -> BTreeMap<String, String> {
    files_under(dir)
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("read a run file");
            let name = path.strip_prefix(dir).expect("under the folder").display().to_string();
            (name, hex::encode(Sha256::digest(&bytes)))
        })
        .collect()
}

#[test]
fn gate_compare_and_baseline_update_change_no_file_in_a_run_folder() {
    let sandbox = Sandbox::new();
    let run = copy_of_v1_run(&sandbox);
    let other = sandbox.path().join("other-run");
    std::fs::create_dir_all(&other).unwrap();
    for file in files_under(&run) {
        std::fs::copy(&file, other.join(file.file_name().unwrap())).unwrap();
    }
    let before = fingerprints(&run);
    let before_other = fingerprints(&other);
    assert!(before.contains_key("records.jsonl") && before.contains_key("results.json"), "{before:?}");

    let run_arg = run.to_str().unwrap();
    sandbox.evalkit(&["gate", run_arg]).expect_code(0);
    sandbox.evalkit(&["compare", other.to_str().unwrap(), run_arg, "--json", "comparison.json"]).expect_code(0);
    sandbox.evalkit(&["baseline", "update", run_arg, "--output", "baseline.json"]).expect_code(0);
    assert!(sandbox.path().join("comparison.json").is_file() && sandbox.path().join("baseline.json").is_file());

    assert_eq!(fingerprints(&run), before, "a read-only command changed the run folder");
    assert_eq!(fingerprints(&other), before_other, "`compare` changed run A's folder");
}

/// `results.json` as evalkit at f9fcec7 wrote it, and as `evalkit report`
/// derives it today from the same journal and manifest, agree on every
/// number. Only what a version-1 manifest did not record may differ: the host
/// (then read from the machine rendering the report) and the finish time
/// (then the time of rendering; now the last record's time); and the suite
/// snapshot, which `evalkit run` took from the file as written and which now
/// is the checked suite with its paths resolved.
#[test]
fn a_version_1_run_folder_renders_the_same_results() {
    let sandbox = Sandbox::new();
    let run = copy_of_v1_run(&sandbox);
    let old: Value =
        serde_json::from_str(&std::fs::read_to_string(v1_fixture().join("results.json")).unwrap()).unwrap();

    let output = sandbox.evalkit(&["report", run.to_str().unwrap()]);
    output.expect_code(0);
    let new: Value = serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();

    let comparable = |results: &Value| {
        let mut results = results.clone();
        let object = results.as_object_mut().unwrap();
        object.remove("evalkit_version");
        object.remove("suite");
        let run = object["run"].as_object_mut().unwrap();
        run.remove("host");
        run.remove("finished_at");
        results
    };
    let differences = differences("", &comparable(&old), &comparable(&new));
    assert!(differences.is_empty(), "results.json differs at {differences:#?}\n{output:?}");
    assert_eq!(new["suite"]["suite"]["dataset"], "capitals", "the snapshot is of the checked suite");
    // What the old evalkit could not know stays honest.
    assert_eq!(new["run"]["host"], "unknown");
    let last_record = std::fs::read_to_string(run.join("records.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|record| record["finished_at"].as_str().map(str::to_owned))
        .max()
        .unwrap();
    assert_eq!(new["run"]["finished_at"], Value::String(last_record));
    // The fixture exercises errors, repeats, comparisons and gates.
    assert!(old["aggregates"].as_array().unwrap().iter().any(|a| a["errors"].as_u64() > Some(0)), "{old:#}");
    assert!(!old["comparisons"].as_array().unwrap().is_empty() && !old["gates"].as_array().unwrap().is_empty());
}

/// JSON paths where `old` and `new` differ, with both values.
fn differences(path: &str, old: &Value, new: &Value) -> Vec<String> {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter()
                .flat_map(|key| {
                    let (x, y) = (a.get(key).unwrap_or(&Value::Null), b.get(key).unwrap_or(&Value::Null));
                    differences(&format!("{path}.{key}"), x, y)
                })
                .collect()
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().flat_map(|(i, (x, y))| differences(&format!("{path}[{i}]"), x, y)).collect()
        }
        _ if old == new => Vec::new(),
        _ => vec![format!("{path}: {old} → {new}")],
    }
}

/// With more samples than `[report] explorer_samples`, the report's explorer
/// holds the samples where something happened, and `samples.csv` still has
/// every task with its whole answer (both read again from the journal).
#[test]
fn the_explorer_holds_a_selection_and_samples_csv_every_task() {
    let sandbox = Sandbox::new();
    let server = crate::support::Server::answering(crate::support::CAPITALS_ANSWERS);
    sandbox.write("qa.jsonl", crate::support::CAPITALS_JSONL);
    let suite = crate::support::capitals_suite("capped", "", crate::support::FAST_RUN)
        .replace("[run]", "[report]\nexplorer_samples = 1\n\n[run]");
    sandbox.write_suite("suite.toml", &suite, &server.base_url());
    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(0);
    let run = output.run_dir(sandbox.path());

    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("The explorer holds 1 of the run"), "the page says it is a selection");
    // Spain is the one wrong answer: the sample where something happened comes first.
    assert!(html.contains("Barcelona"), "Spain's row is in the explorer");
    assert!(!html.contains("Berlin") && !html.contains("Rome"), "no other sample's row is");

    let mut csv = csv::Reader::from_path(run.join("samples.csv")).unwrap();
    let mut outputs: Vec<String> = csv.records().map(|row| row.unwrap()[4].to_owned()).collect();
    outputs.sort();
    assert_eq!(outputs, ["Barcelona", "Berlin", "Paris", "Rome"], "every task, with its whole answer");
}
