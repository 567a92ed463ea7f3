//! Results, statistics and reports for evalkit.
//!
//! This crate reads journal records (`evalkit_record::journal::Record`) and
//! turns them into `results.json` (`evalkit_record::results::RunResults`) and
//! human-readable reports. It knows nothing of backends, suites or metrics: a
//! report never re-scores, and the statistics it uses (`evalkit_stats`) work
//! on plain slices.
//!
//! * [`mod@analyze`]: journal → [`RunResults`].
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
pub mod terminal;

#[cfg(test)]
mod test_support;

pub use analyze::{analyze, AnalysisInput};
pub use csv_export::{results_csv, samples_csv, CsvFormulas, SamplesCsv};
pub use evalkit_record::results::RunResults;
pub use html::{explorer_samples, render_html, render_html_sampled, RenderError};
pub use junit::junit_xml;
pub use markdown::summary_markdown;
pub use terminal::summary_table;
