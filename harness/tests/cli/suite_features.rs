//! Suite features end to end, each through the real binary against the
//! scripted server: repeats, clusters, random few-shot examples, a fatal
//! error, and the suites users copy (suites/*.toml, the README's annotated
//! suite) passing `evalkit validate`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::*;

/// Eight questions in four clusters of two, with a train split.
fn clustered_rows() -> String {
    let mut rows = String::new();
    for i in 0..8 {
        let split = if i < 6 { "test" } else { "train" };
        rows.push_str(&format!(
            "{{\"id\": \"q{i}\", \"question\": \"Q{i}?\", \"answer\": \"A{i}\", \"doc\": \"d{}\", \"split\": \"{split}\"}}\n",
            i / 2
        ));
    }
    rows
}

fn suite(dataset_extra: &str, prompt: &str, run: &str) -> String {
    format!(
        r#"[suite]
name = "features"
seed = 7

[datasets.qa]
path = "qa.jsonl"
{dataset_extra}

[prompts.qa]
{prompt}

[backends.local]
kind = "openai"
base_url = "{{base_url}}"
model = "test-model"

[[variants]]
name = "base"
prompt = "qa"
backend = "local"

[[metrics]]
kind = "exact_match"

[run]
{FAST_RUN}{run}
"#
    )
}

/// `Q<i>?` → `A<i>`, whatever else the prompt holds (few-shot examples come first).
fn answer_of(prompt: &str) -> String {
    let last = prompt.lines().rev().find(|l| l.contains('?')).unwrap_or(prompt);
    let i: String = last.chars().skip_while(|c| *c != 'Q').skip(1).take_while(char::is_ascii_digit).collect();
    format!("A{i}")
}

#[test]
fn repeats_are_each_asked_and_averaged_per_sample() {
    let sandbox = Sandbox::new();
    // Right on the first two asks of a question, wrong on the third.
    let server = Server::start(|request, attempt| {
        let prompt = request.prompt();
        Reply::answer(if attempt <= 2 { answer_of(&prompt) } else { "no idea".to_owned() })
    });
    sandbox.write("qa.jsonl", &clustered_rows());
    let text = suite("split = \"test\"", "user = \"{{ question }}\"", "repeats = 3\n");
    sandbox.write_suite("suite.toml", &text, &server.base_url());

    let output = sandbox.evalkit(&["run", "suite.toml", "--no-cache"]);
    output.expect_code(0);
    let run_dir = output.run_dir(sandbox.path());
    let records = read_records(&run_dir);
    assert_eq!(records.len(), 18, "6 samples × 3 repeats");
    let repeats: BTreeSet<u64> = records.iter().map(|r| r["repeat"].as_u64().unwrap()).collect();
    assert_eq!(repeats, BTreeSet::from([0, 1, 2]));
    assert_eq!(server.request_count(), 18, "each repeat is its own request");
    let exact = aggregate(&read_results(&run_dir), "base", "exact_match").clone();
    assert_eq!(exact["n_samples"], 6, "repeats are averaged per sample first: {exact:#}");
    assert!((exact["mean"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12, "{exact:#}");
    assert_eq!(exact["repeats"]["flaky_samples"], 6, "{exact:#}");
    let pass_at: Vec<f64> =
        exact["repeats"]["pass_at_k"].as_array().unwrap().iter().map(|k| k["value"].as_f64().unwrap()).collect();
    assert_eq!(pass_at, [2.0 / 3.0, 1.0, 1.0], "pass@1 = 2/3; two or three tries always include a pass");
}

#[test]
fn a_cluster_field_gives_a_cluster_robust_interval() {
    let sandbox = Sandbox::new();
    // Right on clusters d0 and d1, wrong on d2.
    let server = Server::start(|request, _| {
        let answer = answer_of(&request.prompt());
        let i: usize = answer[1..].parse().unwrap();
        Reply::answer(if i < 4 { answer } else { "no idea".to_owned() })
    });
    sandbox.write("qa.jsonl", &clustered_rows());
    let text = suite("split = \"test\"\ncluster_field = \"doc\"", "user = \"{{ question }}\"", "");
    sandbox.write_suite("suite.toml", &text, &server.base_url());

    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(0);
    let run_dir = output.run_dir(sandbox.path());
    let records = read_records(&run_dir);
    let clusters: BTreeMap<String, String> = records
        .iter()
        .map(|r| (r["sample"].as_str().unwrap().to_owned(), r["cluster"].as_str().unwrap_or("none").to_owned()))
        .collect();
    assert_eq!(clusters["q0"], "d0");
    assert_eq!(clusters["q5"], "d2");
    let exact = aggregate(&read_results(&run_dir), "base", "exact_match").clone();
    assert_eq!(exact["ci"]["method"], "clustered_t", "{exact:#}");
}

#[test]
fn random_few_shot_examples_are_seeded_and_never_the_sample_itself() {
    let sandbox = Sandbox::new();
    let server = Server::start(|request, _| Reply::answer(answer_of(&request.prompt())));
    sandbox.write("qa.jsonl", &clustered_rows());
    let prompt = "few_shot = { dataset = \"qa\", count = 2, selection = \"random\" }\n\
                  text = '''{% for e in examples %}{{ e.question }} {{ e.answer }}\n{% endfor %}{{ question }}'''";
    let text = suite("", prompt, "");
    sandbox.write_suite("suite.toml", &text, &server.base_url());

    for _ in 0..2 {
        sandbox.evalkit(&["run", "suite.toml", "--no-cache"]).expect_code(0);
    }
    let prompts: Vec<String> = server.requests().iter().map(|r| r.prompt()).collect();
    assert_eq!(prompts.len(), 16);
    let (first, second) = prompts.split_at(8);
    let sorted = |p: &[String]| p.iter().cloned().collect::<BTreeSet<String>>();
    assert_eq!(sorted(first), sorted(second), "the same seed picks the same examples");
    let mut example_sets = BTreeSet::new();
    for prompt in first {
        let lines: Vec<&str> = prompt.lines().collect();
        assert_eq!(lines.len(), 3, "two examples, then the question: {prompt:?}");
        let own = lines[2];
        assert!(!lines[..2].iter().any(|l| l.starts_with(own)), "a sample is never its own example: {prompt:?}");
        example_sets.insert(lines[..2].join("|"));
    }
    assert!(example_sets.len() > 1, "random selection varies between samples: {example_sets:?}");
}

#[test]
fn a_fatal_client_error_is_recorded_after_one_attempt() {
    let sandbox = Sandbox::new();
    let server = Server::start(|_, _| Reply::status(400, "max_tokens is too large"));
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    let run = format!("{FAST_RUN}error_budget = 1.0\n");
    sandbox.write_suite("suite.toml", &capitals_suite("fatal", "", &run), &server.base_url());

    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(0);
    assert_eq!(server.request_count(), 4, "a 400 is not retried (retries = 2 would make 12)");
    for record in read_records(&output.run_dir(sandbox.path())) {
        assert_eq!(record["attempts"], 1, "{record:#}");
        assert_eq!(record["outcome"]["error"]["kind"], "fatal", "{record:#}");
        let message = record["outcome"]["error"]["message"].as_str().unwrap();
        assert!(message.contains("max_tokens is too large") && message.contains("/chat/completions"), "{message}");
    }
}

/// The repository root.
fn repo() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("..")
}

/// Validate `suite` as if it were at `at` inside a copy of the repository's datasets.
fn validates(sandbox: &Sandbox, relative: &str, text: &str) -> Output {
    let path = sandbox.write(relative, text);
    sandbox.evalkit(&["validate", path.to_str().unwrap()])
}

fn copy_datasets(sandbox: &Sandbox) {
    for entry in std::fs::read_dir(repo().join("datasets")).unwrap().flatten() {
        let name = entry.file_name();
        let target = sandbox.path().join("datasets").join(&name);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(entry.path(), target).unwrap();
    }
}

#[test]
fn every_shipped_suite_validates() {
    let sandbox = Sandbox::new();
    copy_datasets(&sandbox);
    let mut checked = 0;
    for entry in std::fs::read_dir(repo().join("suites")).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains("kind = \"local\"") && !demo_model_present() {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap();
        let output = validates(&sandbox, &format!("suites/{name}"), &text);
        assert_eq!(output.code, Some(0), "suites/{name} does not validate:\n{}", output.stderr);
        assert!(output.stderr.contains("is valid"), "{}", output.stderr);
        checked += 1;
    }
    assert!(checked >= 1, "no suite checked");
}

#[test]
fn the_readme_annotated_suite_validates() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme.split("## A suite, annotated").nth(1).expect("the README has its annotated suite");
    let block = section.split("```toml\n").nth(1).and_then(|b| b.split("\n```").next()).expect("a toml block");
    assert!(block.contains("[suite]") && block.contains("[[metrics]]"), "{block}");
    let sandbox = Sandbox::new();
    copy_datasets(&sandbox);
    // "Save this as `capitals.toml` in the repository root."
    let output = validates(&sandbox, "capitals.toml", block);
    assert_eq!(output.code, Some(0), "the README's suite does not validate:\n{}", output.stderr);
    assert!(Path::new(&sandbox.path().join("capitals.toml")).exists());
}
