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

#![deny(missing_docs)]

pub mod analyze;
mod format;
pub mod html;
pub mod record;
pub mod results;
pub mod stats;
pub mod terminal;

#[cfg(test)]
mod test_support;

pub use analyze::{analyze, AnalysisInput};
pub use html::{render_html, RenderError};
pub use results::RunResults;
pub use terminal::summary_table;
