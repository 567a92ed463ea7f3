//! evalkit: evaluate and benchmark LLMs.
//!
//! `evalkit run suite.toml` reads a suite (datasets, prompt templates, the
//! variants to compare and the metrics to score them with), runs every variant
//! on every sample, scores the answers and writes a journal, results and a
//! report. The data flows forward through named stages:
//!
//! ```text
//! suite.toml ─[suite::load]→ Suite ─[prepare]→ + datasets ─[plan]→ Tasks
//!   ─[runner::execute: caller → scoring (→ paired stage)]→ records.jsonl (journal)
//!   ─[outputs::derive]→ results + gates ─[outputs::export]→ results.json, report.html, …
//! ```
//!
//! See docs/architecture.md for where each stage lives and why.

#![deny(missing_docs)]

pub mod backend_kinds;
pub mod cache;
pub mod caller;
pub mod cli;
mod clock;
pub mod commands;
pub mod connect;
pub mod dataset;
pub mod diagnostic;
pub mod exit;
pub mod open_files;
pub mod outputs;
pub mod plan;
pub mod prepare;
pub mod prompt;
pub mod redact;
pub mod rundir;
pub mod runner;
pub mod scoring;
pub mod signals;
pub mod suite;
