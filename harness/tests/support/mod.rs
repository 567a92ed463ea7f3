//! Helpers shared by the CLI tests: a temporary folder per test, suites and
//! datasets written into it, the real `evalkit` binary run with a timeout, and
//! readers for what a run leaves behind.

#![allow(dead_code, unused_imports)]

pub mod server;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use server::{Answer, AnswerTable, Reply, Request, Server};

/// How long one `evalkit` invocation may take before the test fails.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// The capital-cities dataset most tests use: four samples, ids `fr`, `de`, `it`, `es`.
pub const CAPITALS_JSONL: &str = r#"{"id": "fr", "question": "What is the capital of France?", "answer": "Paris"}
{"id": "de", "question": "What is the capital of Germany?", "answer": "Berlin"}
{"id": "it", "question": "What is the capital of Italy?", "answer": "Rome"}
{"id": "es", "question": "What is the capital of Spain?", "answer": "Madrid"}
"#;

/// Answers for [`CAPITALS_JSONL`]: three right, Spain wrong (exact_match mean 0.75).
pub const CAPITALS_ANSWERS: &[(&str, &str)] =
    &[("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Barcelona")];

/// A suite over `qa.jsonl` with one chat prompt, one backend `local`, one
/// variant `base` and `exact_match`. `backend_extra` is appended to
/// `[backends.local]`, `run` is the body of `[run]`. `{base_url}` is left for
/// [`Sandbox::write_suite`] to fill in.
pub fn capitals_suite(name: &str, backend_extra: &str, run: &str) -> String {
    format!(
        r#"[suite]
name = "{name}"

[datasets.qa]
path = "qa.jsonl"

[prompts.qa]
system = "Answer with one word."
user = "{{{{ question }}}}"

[backends.local]
kind = "openai"
base_url = "{{base_url}}"
model = "test-model"
{backend_extra}

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

/// A file under harness/tests/fixtures.
pub fn fixture(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Fast retry settings for `[run]`.
pub const FAST_RUN: &str = "retries = 2\nbackoff = 0.05\nmax_backoff = 0.2\nconcurrency = 2\n";

/// A temporary folder for one test.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    /// A fresh, empty folder.
    pub fn new() -> Self {
        Sandbox { dir: tempfile::Builder::new().prefix("evalkit-cli-").tempdir().expect("create a temporary folder") }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write a file (creating folders), relative to the sandbox.
    pub fn write(&self, relative: &str, contents: &str) -> PathBuf {
        self.write_bytes(relative, contents.as_bytes())
    }

    /// Write a file of any bytes (a Parquet dataset), relative to the sandbox.
    pub fn write_bytes(&self, relative: &str, contents: &[u8]) -> PathBuf {
        let path = self.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folders");
        }
        std::fs::write(&path, contents).expect("write a test file");
        path
    }

    /// Write a suite, replacing `{base_url}` with `base_url`.
    pub fn write_suite(&self, relative: &str, template: &str, base_url: &str) -> PathBuf {
        self.write(relative, &template.replace("{base_url}", base_url))
    }

    /// Run `evalkit <args>` in the sandbox with a timeout.
    pub fn evalkit(&self, args: &[&str]) -> Output {
        self.evalkit_with_env(args, &[])
    }

    /// Run `evalkit <args>` in the sandbox with extra environment variables.
    /// Run the binary with a long timeout, for runs on a real local model.
    pub fn evalkit_slow(&self, args: &[&str]) -> Output {
        run_with_timeout(evalkit_command(self.path(), args), Duration::from_secs(900))
    }

    pub fn evalkit_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = evalkit_command(self.path(), args);
        for (name, value) in env {
            command.env(name, value);
        }
        run_with_timeout(command, RUN_TIMEOUT)
    }
}

/// `evalkit <args>` with `cwd` as working directory, no proxies, piped output.
pub fn evalkit_command(cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_evalkit"));
    command.args(args).current_dir(cwd).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // The fake server is on 127.0.0.1: make sure no proxy from the
    // environment gets in between.
    for var in ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"] {
        command.env_remove(var);
    }
    command.env("NO_PROXY", "127.0.0.1,localhost").env("no_proxy", "127.0.0.1,localhost");
    command
}

/// What one invocation did.
#[derive(Debug)]
pub struct Output {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Panic with both streams unless the exit code is `expected`.
    #[track_caller]
    pub fn expect_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(expected),
            "unexpected exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// The run folder named by the `run: <dir>` line on stderr, resolved
    /// against `cwd` when relative.
    #[track_caller]
    pub fn run_dir(&self, cwd: &Path) -> PathBuf {
        let path = PathBuf::from(self.run_dir_text());
        if path.is_absolute() {
            path
        } else {
            cwd.join(path)
        }
    }

    /// The run folder exactly as the `run: <dir>` line prints it.
    #[track_caller]
    pub fn run_dir_text(&self) -> &str {
        self.stderr
            .lines()
            .find_map(|line| line.strip_prefix("run: "))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no `run: <dir>` line on stderr\n--- stderr ---\n{}", self.stderr))
    }

    /// stdout and stderr together, for "appears nowhere" checks.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Run a command to completion or kill it after `timeout`.
pub fn run_with_timeout(mut command: Command, timeout: Duration) -> Output {
    let mut child = command.spawn().expect("start evalkit");
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for evalkit") {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = stderr.join().unwrap_or_default();
            panic!("evalkit took longer than {timeout:?}; killed it\n--- stderr ---\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output { code: status.code(), stdout: stdout.join().unwrap_or_default(), stderr: stderr.join().unwrap_or_default() }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

/// Start `evalkit <args>` without waiting; its output goes to files in `cwd`
/// (`<log_name>.stdout`, `<log_name>.stderr`).
pub fn spawn_evalkit(cwd: &Path, args: &[&str], log_name: &str) -> Child {
    let mut command = evalkit_command(cwd, args);
    let stdout = std::fs::File::create(cwd.join(format!("{log_name}.stdout"))).expect("create a log file");
    let stderr = std::fs::File::create(cwd.join(format!("{log_name}.stderr"))).expect("create a log file");
    command.stdout(stdout).stderr(stderr);
    command.spawn().expect("start evalkit")
}

/// Every complete line of `records.jsonl`, parsed.
#[track_caller]
pub fn read_records(run_dir: &Path) -> Vec<Value> {
    let path = run_dir.join("records.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    complete_lines(&text)
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: unreadable record ({e}): {line}", path.display()))
        })
        .collect()
}

/// Lines ending in a newline (a torn last line is left out), without blank ones.
pub fn complete_lines(text: &str) -> impl Iterator<Item = &str> {
    let end = text.rfind('\n').map_or(0, |i| i + 1);
    text[..end].lines().filter(|l| !l.trim().is_empty())
}

/// `results.json`, parsed.
#[track_caller]
pub fn read_results(run_dir: &Path) -> Value {
    let path = run_dir.join("results.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The aggregate of one (variant, metric) in `results.json`.
#[track_caller]
pub fn aggregate<'a>(results: &'a Value, variant: &str, metric: &str) -> &'a Value {
    results["aggregates"]
        .as_array()
        .expect("`aggregates` is an array")
        .iter()
        .find(|a| a["variant"] == variant && a["metric"] == metric)
        .unwrap_or_else(|| panic!("no aggregate for ({variant}, {metric}) in {:#}", results["aggregates"]))
}

/// The usage entry of one variant in `results.json`.
#[track_caller]
pub fn usage<'a>(results: &'a Value, variant: &str) -> &'a Value {
    results["usage"]
        .as_array()
        .expect("`usage` is an array")
        .iter()
        .find(|u| u["variant"] == variant)
        .unwrap_or_else(|| panic!("no usage for {variant} in {:#}", results["usage"]))
}

/// The only record of (variant, sample) with repeat 0.
#[track_caller]
pub fn record<'a>(records: &'a [Value], variant: &str, sample: &str) -> &'a Value {
    let found: Vec<&Value> = records.iter().filter(|r| r["variant"] == variant && r["sample"] == sample).collect();
    assert_eq!(found.len(), 1, "expected one record for ({variant}, {sample}), found {}: {records:#?}", found.len());
    found[0]
}

/// (variant, sample, repeat) of a record.
pub fn task_key(record: &Value) -> (String, String, u64) {
    (
        record["variant"].as_str().unwrap_or_default().to_owned(),
        record["sample"].as_str().unwrap_or_default().to_owned(),
        record["repeat"].as_u64().unwrap_or(u64::MAX),
    )
}

/// Every regular file under `dir` (none if it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => stack.push(path),
                Ok(kind) if kind.is_file() => found.push(path),
                _ => {}
            }
        }
    }
    found.sort();
    found
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("address").port()
}

/// 1-based line and column (in characters) of the first occurrence of `needle` in `text`.
#[track_caller]
pub fn position_of(text: &str, needle: &str) -> (usize, usize) {
    let offset = text.find(needle).unwrap_or_else(|| panic!("`{needle}` is not in\n{text}"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Poll `condition` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// Whether the demo model is where the shipped suites look for it
/// (`~/.cache/evalkit/models`, fetched by `ci/fetch-demo-model`). Tests that
/// need it skip without it, unless `EVALKIT_REQUIRE_MODELS` is set (CI).
pub fn demo_model_present() -> bool {
    // Where the shipped suites look for it, and nowhere else.
    let dir = PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/evalkit/models");
    if dir.join("gemma-3-270m-q4_k_m.gguf").exists() {
        return true;
    }
    assert!(std::env::var_os("EVALKIT_REQUIRE_MODELS").is_none(), "the demo model is missing; run ci/fetch-demo-model");
    eprintln!("skipping: the demo model is missing (run ci/fetch-demo-model)");
    false
}
