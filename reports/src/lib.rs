//! Results, statistics and reports for evalkit.
//!
//! This crate reads [`record::Record`]s (the run journal) and turns them into
//! [`results::RunResults`] (`results.json`) and human-readable reports. It
//! depends on no other evalkit crate: a report never re-scores, and the
//! statistics know nothing of backends or suites.
//!
//! * [`record`]: the journal schema.
//! * [`mod@analyze`]: journal → [`RunResults`].
//! * [`results`]: the `results.json` schema.
//! * [`stats`]: free-standing statistics (means, intervals, percentiles).
//! * [`terminal`]: the plain-text summary printed at the end of a run.
//! * [`html`]: the self-contained HTML report.
//! * [`gates`]: `[[gates]]`, baseline files, and their evaluation.
//! * [`markdown`]: `summary.md`, for a CI step summary or a pull-request comment.
//! * [`junit`]: JUnit XML of the gates (and of every task), for CI test reports.
//! * [`csv_export`]: the aggregates and the tasks as CSV.

#![deny(missing_docs)]

pub mod analyze;
pub mod csv_export;
mod format;
pub mod gates;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod record;
pub mod results;
pub mod stats;
pub mod terminal;

#[cfg(test)]
mod test_support;

pub use analyze::{analyze, AnalysisInput};
pub use csv_export::{results_csv, samples_csv};
pub use html::{render_html, RenderError};
pub use junit::junit_xml;
pub use markdown::summary_markdown;
pub use results::RunResults;
pub use terminal::summary_table;
