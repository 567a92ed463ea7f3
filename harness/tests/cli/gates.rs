//! Gates, baselines, run comparison and the report formats, end to end: two
//! prompt versions on 40 questions with a known true difference, answered by
//! a scripted server on loopback.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::*;

const SAMPLES: usize = 40;

/// `v1` is a plain completion prompt; `v2` marks itself so the server can
/// tell them apart. `{gates}` is replaced by each test.
const SUITE: &str = r#"[suite]
name = "prompts"
baseline = "v1"

[datasets.qa]
path = "qa.jsonl"

[prompts.v1]
version = "1"
text = "Q: {{ question }}\nA:"

[prompts.v2]
version = "2"
text = "Question (v2): {{ question }}\nAnswer:"

[backends.api]
kind = "openai"
base_url = "{base_url}"
model = "test-model"
stream = false

[[variants]]
name = "v1"
prompt = "v1"
backend = "api"

[[variants]]
name = "v2"
prompt = "v2"
backend = "api"

[[metrics]]
kind = "exact_match"

[[metrics]]
kind = "latency"

[run]
concurrency = 8
cache_dir = "cache-{label}"

{gates}
"#;

fn dataset() -> String {
    (0..SAMPLES)
        .map(|i| format!("{{\"id\": \"q{i:02}\", \"question\": \"What is item {i}?\", \"answer\": \"a{i}\"}}\n"))
        .collect()
}

/// A server that answers every question right, except that `v2` answers the
/// even-numbered ones with a script tag when `v2_broken`.
fn server(v2_broken: bool) -> Server {
    Server::start(move |request, _| {
        let prompt = request.prompt();
        let number: usize = prompt
            .split("item ")
            .nth(1)
            .and_then(|rest| rest.split('?').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(999);
        let text = if v2_broken && prompt.contains("(v2)") && number.is_multiple_of(2) {
            format!("<script>alert(\"q{number}\")</script>")
        } else {
            format!("a{number}")
        };
        Reply::answer(text)
    })
}

/// Write the suite with `gates` and run it against a fresh server.
fn run(sandbox: &Sandbox, label: &str, v2_broken: bool, gates: &str, env: &[(&str, &str)]) -> (Output, PathBuf) {
    let server = server(v2_broken);
    sandbox.write("qa.jsonl", &dataset());
    let suite = SUITE.replace("{gates}", gates).replace("{label}", label);
    let path = sandbox.write_suite(&format!("{label}.toml"), &suite, &server.base_url());
    let output = sandbox.evalkit_with_env(&["run", "--quiet", path.to_str().unwrap()], env);
    let dir = output.run_dir(sandbox.path());
    (output, dir)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_real_regression_fails_the_gates_and_says_so_everywhere() {
    let sandbox = Sandbox::new();
    let gates = r#"
[[gates]]
name = "v2 accuracy floor"
metric = "exact_match"
variant = "v2"
min = 0.9

[[gates]]
metric = "exact_match"
baseline_variant = "v1"
margin = 0.05

[[gates]]
metric = "latency"
stat = "p95"
max = 30.0
"#;
    let step_summary = sandbox.path().join("step-summary.md");
    let env = [("GITHUB_STEP_SUMMARY", step_summary.to_str().unwrap())];
    let (output, dir) = run(&sandbox, "broken", true, gates, &env);
    output.expect_code(1);
    let stderr = output.all();
    assert!(stderr.contains("FAIL  v2 accuracy floor [v2]"), "{stderr}");
    assert!(stderr.contains("regressed by -50.0 pts"), "{stderr}");
    assert!(stderr.contains("PASS  latency p95 <= 30"), "{stderr}");
    assert!(stderr.contains("2 of 4 gate(s) failed"), "{stderr}");

    let results = read_json(&dir.join("results.json"));
    let comparison = results["comparisons"].as_array().unwrap().iter().find(|c| c["metric"] == "exact_match").unwrap();
    assert_eq!(comparison["verdict"], "regressed");
    assert_eq!(comparison["test"], "mcnemar_exact", "20 discordant pairs");
    assert_eq!(comparison["discordant"]["baseline_only"], 20);
    assert_eq!(results["gates"].as_array().unwrap().len(), 4, "the latency gate applies to both variants");

    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("v2 accuracy floor"), "{summary}");
    assert_eq!(std::fs::read_to_string(&step_summary).unwrap(), summary, "the step summary gets summary.md");
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
    assert!(junit.contains("v2 accuracy floor"), "{junit}");
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert!(csv.lines().next().unwrap().starts_with("variant,metric,"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 2 * 2, "a row per (variant, metric)");

    // The planted script is text in every output, never markup.
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("&lt;script&gt;alert("), "the answer is shown escaped");
    assert!(!html.contains("<script>alert("), "the answer never becomes a script");
    assert!(!summary.contains("<script>"), "{summary}");
    assert!(!junit.contains("<script>"), "{junit}");

    // `evalkit gate` re-checks the same run with the same verdict.
    let again = sandbox.evalkit(&["gate", dir.to_str().unwrap()]);
    again.expect_code(1);
    assert!(again.all().contains("FAIL  v2 accuracy floor [v2]"), "{}", again.all());
}

#[test]
fn identical_prompts_pass_every_gate() {
    let sandbox = Sandbox::new();
    let gates = "[[gates]]\nmetric = \"exact_match\"\nbaseline_variant = \"v1\"\n\n[[gates]]\nmetric = \"exact_match\"\nstat = \"ci_low\"\nmin = 0.85\n";
    let (output, dir) = run(&sandbox, "good", false, gates, &[]);
    output.expect_code(0);
    assert!(output.all().contains("all 3 gate(s) passed"), "{}", output.all());
    let results = read_json(&dir.join("results.json"));
    let comparison = results["comparisons"].as_array().unwrap().iter().find(|c| c["metric"] == "exact_match").unwrap();
    assert_eq!(comparison["verdict"], "no_significant_change");
    assert_eq!(comparison["p_value"], 1.0);
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(junit.contains("samples.v2"), "a test case per task by default: {junit}");

    // `[report] junit_samples = false` leaves only the gates.
    let gates_only = format!("[report]\njunit_samples = false\n\n{gates}");
    let (output, dir) = run(&sandbox, "gates-only", false, &gates_only, &[]);
    output.expect_code(0);
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(!junit.contains("samples.v2"), "{junit}");
    assert_eq!(junit.matches("<testcase").count(), 3, "{junit}");
}

#[test]
fn baselines_gate_a_later_run_and_compare_pairs_runs() {
    let sandbox = Sandbox::new();
    let gates = "[[gates]]\nmetric = \"exact_match\"\nbaseline = \"baselines/main.json\"\nmargin = 0.02\n";
    // Main: both prompts good; accept it as the baseline. Its own gate fails
    // first, as there is no baseline file yet, and says why.
    let (output, main) = run(&sandbox, "main", false, gates, &[]);
    output.expect_code(1);
    assert!(output.all().contains("cannot use baseline"), "{}", output.all());
    assert!(output.all().contains("evalkit baseline update <run dir>"), "says how to fix it: {}", output.all());
    let update = sandbox.evalkit(&["baseline", "update", main.to_str().unwrap()]);
    update.expect_code(0);
    let baseline = read_json(&sandbox.path().join("baselines/main.json"));
    assert_eq!(baseline["scores"]["v2"]["exact_match"].as_object().unwrap().len(), SAMPLES);
    sandbox.evalkit(&["gate", main.to_str().unwrap()]).expect_code(0);

    // A branch where v2 broke: the gate against the committed baseline fails
    // for v2 only.
    let (output, branch) = run(&sandbox, "branch", true, gates, &[]);
    output.expect_code(1);
    let text = output.all();
    assert!(text.contains("PASS  exact_match no worse than baseline (margin 0.02) [v1]"), "{text}");
    assert!(text.contains("FAIL  exact_match no worse than baseline (margin 0.02) [v2]"), "{text}");

    // Against the branch itself as the baseline (a run folder), nothing regressed.
    let gate = sandbox.evalkit(&["gate", branch.to_str().unwrap(), "--baseline", branch.to_str().unwrap()]);
    gate.expect_code(0);

    // compare: main → branch pairs by sample id.
    let json = sandbox.path().join("compare.json");
    let compare = sandbox.evalkit(&[
        "compare",
        main.to_str().unwrap(),
        branch.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    compare.expect_code(0);
    assert!(compare.all().contains("regressed"), "{}", compare.all());
    let written = read_json(&json);
    let v2 = written["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["candidate"] == "B:v2" && c["metric"] == "exact_match")
        .unwrap();
    assert_eq!(v2["pairs"], SAMPLES);
    assert_eq!(v2["verdict"], "regressed");
    assert_eq!(written["added_samples"].as_array().unwrap().len(), 0);
}

#[test]
fn compare_lists_added_and_removed_samples() {
    let sandbox = Sandbox::new();
    let (output, first) = run(&sandbox, "first", false, "", &[]);
    output.expect_code(0);
    // The second run drops q00 and adds q99.
    let mut rows: Vec<String> = dataset().lines().skip(1).map(str::to_owned).collect();
    rows.push("{\"id\": \"q99\", \"question\": \"What is item 99?\", \"answer\": \"a99\"}".into());
    let server = server(false);
    sandbox.write("qa2.jsonl", &(rows.join("\n") + "\n"));
    let suite = SUITE.replace("{gates}", "").replace("{label}", "second").replace("qa.jsonl", "qa2.jsonl");
    let path = sandbox.write_suite("second.toml", &suite, &server.base_url());
    let output = sandbox.evalkit(&["run", "--quiet", path.to_str().unwrap()]);
    output.expect_code(0);
    let second = output.run_dir(sandbox.path());
    let compare = sandbox.evalkit(&["compare", first.to_str().unwrap(), second.to_str().unwrap()]);
    compare.expect_code(0);
    let text = compare.all();
    assert!(text.contains("1 sample(s) only in B: q99"), "{text}");
    assert!(text.contains("1 sample(s) only in A: q00"), "{text}");
}

#[test]
fn gates_that_name_nothing_are_invalid_input() {
    let sandbox = Sandbox::new();
    sandbox.write("qa.jsonl", &dataset());
    let gates = "[[gates]]\nmetric = \"exact_mach\"\nmin = 0.5\n\n[[gates]]\nmetric = \"exact_match\"\n";
    let suite = SUITE.replace("{gates}", gates).replace("{label}", "bad");
    let path = sandbox.write_suite("bad.toml", &suite, "http://127.0.0.1:9/v1");
    let output = sandbox.evalkit(&["validate", path.to_str().unwrap()]);
    output.expect_code(2);
    let text = output.all();
    assert!(text.contains("`gates[0].metric` names metric `exact_mach`"), "{text}");
    assert!(text.contains("exact_match"), "a did-you-mean hint: {text}");
    assert!(text.contains("a gate needs a threshold"), "{text}");
    assert!(text.contains("bad.toml:"), "the location is given: {text}");
}
