//! The files an evalkit run writes, shared by every writer and reader.
//!
//! ```text
//! run.json        manifest::Manifest        what ran, where, when (versions 1 and 2 read)
//! records.jsonl   journal::Record           one line per finished task (versions 1 and 2 read);
//!                 journal_file              appended with fsync, torn last lines cut
//! results.json    results::RunResults       aggregates and comparisons derived from the journal
//! baseline.json   baseline::Baseline        per-sample means that regression gates compare with
//! ```
//!
//! Every whole file is written with [`atomic::write_atomic`]. docs/results.md
//! documents each field; it is written from the doc comments here.

#![deny(missing_docs)]

pub mod atomic;
pub mod baseline;
pub mod journal;
pub mod journal_file;
pub mod journal_v1;
pub mod manifest;
pub mod results;
