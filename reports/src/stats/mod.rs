//! Free-standing statistics: summaries, percentiles and confidence intervals.
//!
//! Like criterion's `stats` module, this imports nothing else from the crate:
//! it works on plain `f64` slices and counts so that later analyses (paired
//! comparisons, clustered standard errors, power) can reuse it, and so that it
//! can be checked against reference values in isolation
//! (`tests/stats_reference.rs`).
//!
//! # Conventions
//!
//! * Inputs must not contain `NaN` (callers drop invalid scores first and count
//!   them). Functions never panic on bad input; they return `None` instead.
//! * "Not enough data" is `None`, never `NaN` or a degenerate interval:
//!   [`std_dev`], [`std_error`] and [`t_interval`] need `n >= 2`.
//! * Confidence levels are fractions in the open interval `(0, 1)`, e.g. `0.95`.

mod interval;
mod perplexity;
mod summary;

pub use interval::{t_interval, t_interval_from_summary, wilson_interval, Interval};
pub use perplexity::{perplexity, PerplexitySummary};
pub use summary::{mean, percentile, std_dev, std_error};
