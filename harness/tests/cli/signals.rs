//! Ctrl-C and SIGTERM: the first stops gently (tasks in flight finish and are
//! journaled, the exit code says which signal, `--resume` finishes the run
//! without asking anything twice); a second stops at once. An error-budget
//! abort also journals what was already in flight.

use std::collections::HashSet;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::*;

const SAMPLES: usize = 8;

fn dataset() -> String {
    (0..SAMPLES).map(|i| format!("{{\"id\": \"q{i}\", \"question\": \"Q{i}?\", \"answer\": \"A{i}\"}}\n")).collect()
}

fn suite(run: &str) -> String {
    format!(
        r#"[suite]
name = "signals"

[datasets.qa]
path = "qa.jsonl"

[prompts.qa]
user = "{{{{ question }}}}"

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
{run}
"#
    )
}

/// Answers `A<i>` to `Q<i>?` after `delay`.
fn slow_server(delay: Duration) -> Server {
    Server::start(move |request, _| {
        let prompt = request.prompt();
        let answer = prompt.trim_end_matches('?').replacen('Q', "A", 1);
        Answer::new(answer).first_delay(delay).into()
    })
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().expect("run kill");
    assert!(status.success(), "kill -{name} failed");
}

fn wait_for_exit(child: &mut Child, within: Duration) -> Option<i32> {
    let mut status = None;
    let exited = wait_until(within, || {
        status = child.try_wait().expect("poll evalkit");
        status.is_some()
    });
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    status.and_then(|s| s.code())
}

fn only_run_dir(root: &std::path::Path) -> std::path::PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(root.join("runs/signals")).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

#[test]
fn sigterm_finishes_the_tasks_in_flight_then_resume_asks_only_the_rest() {
    let sandbox = Sandbox::new();
    let server = slow_server(Duration::from_millis(1500));
    sandbox.write("qa.jsonl", &dataset());
    sandbox.write_suite("suite.toml", &suite("concurrency = 2\nretries = 0"), &server.base_url());

    let mut child = spawn_evalkit(sandbox.path(), &["run", "suite.toml", "--no-cache", "-q"], "first");
    assert!(wait_until(Duration::from_secs(30), || server.request_count() >= 2), "no request arrived");
    signal(&child, "TERM");
    let code = wait_for_exit(&mut child, Duration::from_secs(30));
    let stderr = std::fs::read_to_string(sandbox.path().join("first.stderr")).unwrap();
    assert_eq!(code, Some(143), "SIGTERM exits 143\n{stderr}");
    assert!(stderr.contains("stopped by SIGTERM") && stderr.contains("--resume"), "{stderr}");

    // Both answers in flight were kept, and nothing else was started.
    let run_dir = only_run_dir(sandbox.path());
    let asked_first = server.request_count();
    let records = read_records(&run_dir);
    assert_eq!(asked_first, 2, "no task starts after the signal");
    assert_eq!(records.len(), asked_first, "every answer in flight is journaled\n{stderr}");
    assert!(records.iter().all(|r| r["outcome"]["response"].is_object()), "{records:?}");

    let resumed = sandbox.evalkit(&["run", "--resume", run_dir.to_str().unwrap(), "--no-cache", "-q"]);
    resumed.expect_code(0);
    let prompts: Vec<String> = server.requests().iter().map(|r| r.prompt()).collect();
    let distinct: HashSet<&String> = prompts.iter().collect();
    assert_eq!(prompts.len(), SAMPLES, "each sample asked once in all: {prompts:?}");
    assert_eq!(distinct.len(), SAMPLES);
    let results = read_results(&run_dir);
    assert_eq!(aggregate(&results, "base", "exact_match")["mean"], 1.0);
}

#[test]
fn a_second_signal_stops_at_once() {
    let sandbox = Sandbox::new();
    // Far longer than the test waits: only a stop at once ends the run in time.
    let server = slow_server(Duration::from_secs(120));
    sandbox.write("qa.jsonl", &dataset());
    sandbox.write_suite(
        "suite.toml",
        &suite("concurrency = 2\nretries = 0\nrequest_timeout = 300"),
        &server.base_url(),
    );

    let mut child = spawn_evalkit(sandbox.path(), &["run", "suite.toml", "--no-cache", "-q"], "first");
    assert!(wait_until(Duration::from_secs(30), || server.request_count() >= 2), "no request arrived");
    signal(&child, "INT");
    let first_said = wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(sandbox.path().join("first.stderr")).unwrap_or_default().contains("again to stop")
    });
    assert!(first_said, "the first Ctrl-C says how to stop at once");
    signal(&child, "INT");
    let code = wait_for_exit(&mut child, Duration::from_secs(20));
    let stderr = std::fs::read_to_string(sandbox.path().join("first.stderr")).unwrap();
    assert_eq!(code, Some(130), "a second Ctrl-C stops at once with 130\n{stderr}");
    assert!(stderr.contains("stopping now"), "{stderr}");
    assert!(read_records(&only_run_dir(sandbox.path())).is_empty(), "nothing finished, nothing recorded");
}

#[test]
fn an_error_budget_abort_journals_the_answers_already_in_flight() {
    let sandbox = Sandbox::new();
    let arrivals = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&arrivals);
    // The first request fails at once (fatal); the others answer slowly.
    let server = Server::start(move |request, _| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            return Reply::status(400, "bad request");
        }
        let answer = request.prompt().trim_end_matches('?').replacen('Q', "A", 1);
        Answer::new(answer).first_delay(Duration::from_millis(800)).into()
    });
    sandbox.write("qa.jsonl", &dataset());
    sandbox.write_suite("suite.toml", &suite("concurrency = 4\nretries = 0\nerror_budget = 0"), &server.base_url());

    let output = sandbox.evalkit(&["run", "suite.toml", "--no-cache", "-q"]);
    output.expect_code(3);
    let records = read_records(&output.run_dir(sandbox.path()));
    assert_eq!(server.request_count(), 4, "no task starts after the budget is spent");
    assert_eq!(records.len(), 4, "the 3 answers in flight are journaled, not thrown away\n{}", output.stderr);
    assert_eq!(records.iter().filter(|r| r["outcome"]["response"].is_object()).count(), 3);
}
