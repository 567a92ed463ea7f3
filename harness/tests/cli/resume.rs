//! `--resume` after a hard kill: nothing finished is asked again, nothing is
//! recorded twice, and the results equal those of an uninterrupted run.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

const SAMPLES: usize = 40;

const SUITE: &str = r#"[suite]
name = "resume"

[datasets.sums]
path = "sums.jsonl"

[prompts.sum]
user = "{{ question }}"

[backends.local]
kind = "openai"
base_url = "{base_url}"
model = "test-model"

[[variants]]
name = "base"
prompt = "sum"
backend = "local"

[[metrics]]
kind = "exact_match"

[run]
concurrency = 2
retries = 0
"#;

fn dataset() -> String {
    (0..SAMPLES)
        .map(|i| {
            format!(
                "{{\"id\": \"s{i:02}\", \"question\": \"S{i:02}: what is {i} + {i}?\", \"answer\": \"{}\"}}\n",
                2 * i
            )
        })
        .collect()
}

/// The sample id a prompt is about (`S07: ...` → `s07`).
fn sample_of(prompt: &str) -> String {
    prompt.split(':').next().unwrap_or_default().to_lowercase()
}

/// Sums, wrong for every fifth sample; waits `delay_ms` before answering.
fn summing_server(delay_ms: Arc<AtomicU64>) -> Server {
    Server::start(move |request, _| {
        let prompt = request.prompt();
        let i: usize = prompt[1..3].parse().expect("prompt starts with S<nn>");
        let answer = if i.is_multiple_of(5) { "no idea".to_owned() } else { (2 * i).to_string() };
        Answer::new(answer).first_delay(Duration::from_millis(delay_ms.load(Ordering::Relaxed))).into()
    })
}

fn lines_in(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |text| complete_lines(&text).count())
}

/// The only run folder under `runs/resume/`, once it exists.
fn the_run_dir(root: &Path) -> Option<PathBuf> {
    let entries: Vec<PathBuf> =
        std::fs::read_dir(root.join("runs/resume")).ok()?.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    match entries.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

fn comparable(results: &Value) -> Vec<Value> {
    results["aggregates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            serde_json::json!({
                "variant": a["variant"], "metric": a["metric"], "mean": a["mean"], "valid": a["valid"],
                "total": a["total"], "errors": a["errors"], "invalid": a["invalid"], "missing": a["missing"],
                "n_samples": a["n_samples"], "ci": a["ci"],
            })
        })
        .collect()
}

#[test]
fn resume_after_sigkill_finishes_without_repeating_finished_work() {
    let sandbox = Sandbox::new();
    let delay = Arc::new(AtomicU64::new(100));
    let server = summing_server(Arc::clone(&delay));
    sandbox.write("sums.jsonl", &dataset());
    sandbox.write_suite("suite.toml", SUITE, &server.base_url());

    // Start a run (40 tasks, 2 at a time, 100 ms each: about 2 s) and kill -9
    // it once a few records are in the journal.
    let mut child = spawn_evalkit(sandbox.path(), &["run", "suite.toml", "--no-cache", "-q"], "first");
    let started = Instant::now();
    let mut run_dir = None;
    let seen_some = wait_until(Duration::from_secs(30), || {
        if run_dir.is_none() {
            run_dir = the_run_dir(sandbox.path());
        }
        run_dir.as_ref().is_some_and(|dir| lines_in(&dir.join("records.jsonl")) >= 6)
    });
    child.kill().expect("kill -9 evalkit");
    let status = child.wait().expect("reap evalkit");
    let first_stderr = std::fs::read_to_string(sandbox.path().join("first.stderr")).unwrap_or_default();
    assert!(seen_some, "no records appeared within 30 s (exit: {status:?})\n{first_stderr}");
    assert!(
        status.code().is_none(),
        "evalkit finished before it could be killed ({:?} after {:?}); the test needs a slower server\n{first_stderr}",
        status,
        started.elapsed()
    );
    let run_dir = run_dir.unwrap();

    let before: Vec<Value> = read_records(&run_dir);
    let done_before: HashSet<String> = before.iter().map(|r| r["sample"].as_str().unwrap().to_owned()).collect();
    assert!(!done_before.is_empty() && done_before.len() < SAMPLES, "{} records before the kill", done_before.len());

    // Let any request that was on the wire when the process died be logged,
    // then mark where the resumed run's requests begin.
    std::thread::sleep(Duration::from_millis(300));
    let resume_started = Instant::now();
    let resumed = sandbox.evalkit(&["run", "--resume", run_dir.to_str().unwrap(), "--no-cache"]);
    resumed.expect_code(0);
    assert!(
        resumed.stderr.contains("already done"),
        "resume should say how much was already done:\n{}",
        resumed.stderr
    );
    assert_eq!(
        resumed.run_dir(sandbox.path()).canonicalize().unwrap(),
        run_dir.canonicalize().unwrap(),
        "resume continues in the same folder"
    );

    // The journal: every task exactly once.
    let after = read_records(&run_dir);
    let text = std::fs::read_to_string(run_dir.join("records.jsonl")).unwrap();
    assert_eq!(
        text.lines().filter(|l| !l.trim().is_empty()).count(),
        after.len(),
        "the journal has an unreadable line"
    );
    let mut keys = BTreeSet::new();
    for record in &after {
        assert!(keys.insert(task_key(record)), "task {:?} recorded twice", task_key(record));
    }
    let expected: BTreeSet<(String, String, u64)> =
        (0..SAMPLES).map(|i| ("base".to_owned(), format!("s{i:02}"), 0)).collect();
    assert_eq!(keys, expected, "every task must be recorded once");
    assert!(after.iter().all(|r| r["outcome"]["response"].is_object()), "no task should have failed");

    // The server: nothing recorded before the kill was asked again.
    let asked_again: Vec<String> =
        server.requests().iter().filter(|r| r.received_at > resume_started).map(|r| sample_of(&r.prompt())).collect();
    let repeated: Vec<&String> = asked_again.iter().filter(|s| done_before.contains(*s)).collect();
    assert!(repeated.is_empty(), "resume asked again for finished samples {repeated:?}");
    assert_eq!(
        asked_again.len(),
        SAMPLES - done_before.len(),
        "resume should ask exactly the unfinished tasks, once each: {asked_again:?}"
    );

    // The results equal those of an uninterrupted run of the same suite.
    delay.store(0, Ordering::Relaxed);
    let reference = sandbox.evalkit(&["run", "suite.toml", "--no-cache", "--output-dir", "uninterrupted"]);
    reference.expect_code(0);
    let reference_dir = reference.run_dir(sandbox.path());
    assert!(
        reference_dir.starts_with(sandbox.path().join("uninterrupted")),
        "--output-dir was ignored: {}",
        reference_dir.display()
    );
    let (resumed_results, reference_results) = (read_results(&run_dir), read_results(&reference_dir));
    assert_eq!(resumed_results["run"]["complete"], true);
    assert_eq!(reference_results["run"]["complete"], true);
    assert_eq!(comparable(&resumed_results), comparable(&reference_results));
    let exact = aggregate(&resumed_results, "base", "exact_match");
    assert!((exact["mean"].as_f64().unwrap() - 0.8).abs() < 1e-9, "32 of 40 right: {exact:#}");
    assert_eq!((exact["valid"].as_u64(), exact["total"].as_u64()), (Some(40), Some(40)), "{exact:#}");
}

#[test]
fn resume_of_a_finished_run_sends_nothing() {
    let sandbox = Sandbox::new();
    let server = summing_server(Arc::new(AtomicU64::new(0)));
    sandbox.write("sums.jsonl", &dataset());
    sandbox.write_suite("suite.toml", SUITE, &server.base_url());

    let first = sandbox.evalkit(&["run", "suite.toml", "--no-cache"]);
    first.expect_code(0);
    assert_eq!(server.request_count(), SAMPLES);
    let run_dir = first.run_dir(sandbox.path());
    let before = read_results(&run_dir);

    let again = sandbox.evalkit(&["run", "--resume", run_dir.to_str().unwrap(), "--no-cache"]);
    again.expect_code(0);
    assert_eq!(server.request_count(), SAMPLES, "a finished run has nothing left to ask");
    assert_eq!(read_records(&run_dir).len(), SAMPLES, "nothing appended");
    assert_eq!(comparable(&read_results(&run_dir)), comparable(&before));
}

#[test]
fn resume_retries_failed_tasks_and_the_latest_record_wins() {
    let sandbox = Sandbox::new();
    let table = AnswerTable::new(CAPITALS_ANSWERS);
    let server = Server::start(move |request, attempt| {
        // France fails for the whole first run (1 attempt + 1 retry), then recovers.
        if request.prompt().contains("France") && attempt <= 2 {
            Reply::status(502, "upstream gone")
        } else {
            table.reply(request)
        }
    });
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    let run = "retries = 1\nbackoff = 0.05\nconcurrency = 2\nerror_budget = 0.5\n";
    sandbox.write_suite("suite.toml", &capitals_suite("retry-failed", "", run), &server.base_url());

    let first = sandbox.evalkit(&["run", "suite.toml", "--no-cache"]);
    first.expect_code(0);
    let run_dir = first.run_dir(sandbox.path());
    assert_eq!(record(&read_records(&run_dir), "base", "fr")["outcome"]["error"]["kind"], "transient");
    assert_eq!(aggregate(&read_results(&run_dir), "base", "exact_match")["errors"], 1);
    assert_eq!(server.request_count(), 5);

    let resumed = sandbox.evalkit(&["run", "--resume", run_dir.to_str().unwrap(), "--no-cache"]);
    resumed.expect_code(0);
    assert_eq!(server.request_count(), 6, "only the failed task is asked again");
    assert_eq!(server.requests_for("France").len(), 3);

    // The journal keeps both records of France (it is append-only); the later one counts.
    let records = read_records(&run_dir);
    let france: Vec<&Value> = records.iter().filter(|r| r["sample"] == "fr").collect();
    assert_eq!(france.len(), 2, "{records:#?}");
    assert!(
        france[0]["outcome"]["error"].is_object() && france[1]["outcome"]["response"]["text"] == "Paris",
        "{france:#?}"
    );
    let results = read_results(&run_dir);
    let exact = aggregate(&results, "base", "exact_match");
    assert_eq!(
        (exact["valid"].as_u64(), exact["errors"].as_u64(), exact["total"].as_u64()),
        (Some(4), Some(0), Some(4)),
        "{exact:#}"
    );
    assert_eq!(exact["mean"], 0.75, "{exact:#}");
    assert_eq!(usage(&results, "base")["tasks"], 4, "a superseded record is not counted");
}

#[test]
fn a_second_writer_of_a_run_folder_is_refused() {
    let sandbox = Sandbox::new();
    let delay = Arc::new(AtomicU64::new(200));
    let server = summing_server(Arc::clone(&delay));
    sandbox.write("sums.jsonl", &dataset());
    sandbox.write_suite("suite.toml", SUITE, &server.base_url());

    let mut child = spawn_evalkit(sandbox.path(), &["run", "suite.toml", "--no-cache", "-q"], "first");
    let mut run_dir = None;
    let started = wait_until(Duration::from_secs(30), || {
        run_dir = the_run_dir(sandbox.path());
        run_dir.is_some() && server.request_count() > 0
    });
    assert!(started, "the first run did not start");
    let run_dir = run_dir.unwrap();

    let second = sandbox.evalkit(&["run", "--resume", run_dir.to_str().unwrap(), "--no-cache", "-q"]);
    second.expect_code(3);
    assert!(second.stderr.contains("is being written by another `evalkit run`"), "{}", second.stderr);

    // The first run goes on alone: every sample asked exactly once.
    delay.store(0, Ordering::Relaxed);
    let status = child.wait().expect("wait for the first run");
    assert_eq!(status.code(), Some(0));
    let prompts: Vec<String> = server.requests().iter().map(|r| r.prompt()).collect();
    let distinct: BTreeSet<&String> = prompts.iter().collect();
    assert_eq!((prompts.len(), distinct.len()), (SAMPLES, SAMPLES), "nothing asked twice");
    assert_eq!(read_records(&run_dir).len(), SAMPLES);
}

#[test]
fn after_a_row_is_removed_resume_leaves_its_records_out() {
    let sandbox = Sandbox::new();
    let server = Server::answering(CAPITALS_ANSWERS);
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    sandbox.write_suite("suite.toml", &capitals_suite("edited", "", FAST_RUN), &server.base_url());
    let first = sandbox.evalkit(&["run", "suite.toml"]);
    first.expect_code(0);
    let run_dir = first.run_dir(sandbox.path());

    // Spain goes; the others stay.
    let without_spain: String =
        CAPITALS_JSONL.lines().filter(|l| !l.contains("\"es\"")).map(|l| format!("{l}\n")).collect();
    sandbox.write("qa.jsonl", &without_spain);
    let resumed = sandbox.evalkit(&["run", "--resume", run_dir.to_str().unwrap()]);
    resumed.expect_code(0);
    assert!(resumed.stderr.contains("1 samples in the journal are no longer in"), "{}", resumed.stderr);
    assert!(resumed.stderr.contains("(es)"), "{}", resumed.stderr);

    for results in [read_results(&run_dir), {
        sandbox.evalkit(&["report", run_dir.to_str().unwrap()]).expect_code(0);
        read_results(&run_dir)
    }] {
        let exact = aggregate(&results, "base", "exact_match");
        assert_eq!((exact["total"].as_u64(), exact["n_samples"].as_u64()), (Some(3), Some(3)), "{exact:#}");
        assert_eq!(exact["mean"], 1.0, "Spain, the wrong answer, no longer counts: {exact:#}");
        assert_eq!(results["run"]["complete"], true);
    }
    assert_eq!(read_records(&run_dir).len(), 4, "the journal keeps every record");
}
