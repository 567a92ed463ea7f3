//! End-to-end tests of the `evalkit` binary against a scripted
//! OpenAI-compatible server (tests/support/server.rs).
//!
//! Each test writes a suite and a dataset into its own temporary folder, runs
//! the real binary, and asserts what ends up in `records.jsonl` and
//! `results.json` (and what the server saw). Run with:
//!
//! ```text
//! cargo test -p evalkit --test cli
//! ```

mod support;

#[path = "cli/bad_input.rs"]
mod bad_input;
#[path = "cli/cache.rs"]
mod cache;
#[path = "cli/datasets.rs"]
mod datasets;
#[path = "cli/faults.rs"]
mod faults;
#[path = "cli/gates.rs"]
mod gates;
// The demo model needs the local engine (the default `local` feature).
#[cfg(feature = "local")]
#[path = "cli/local.rs"]
mod local;
#[path = "cli/paired.rs"]
mod paired;
#[path = "cli/resume.rs"]
mod resume;
#[path = "cli/run.rs"]
mod run;
#[path = "cli/run_folders.rs"]
mod run_folders;
#[path = "cli/secrets.rs"]
mod secrets;
#[path = "cli/signals.rs"]
mod signals;
#[path = "cli/suite_features.rs"]
mod suite_features;
#[cfg(not(feature = "local"))]
#[path = "cli/without_local.rs"]
mod without_local;
