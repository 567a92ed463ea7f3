//! Gates: the conditions a run must meet for CI to pass it.
//!
//! Two kinds, both read from `[[gates]]` in the suite ([`GateSpec`]):
//!
//! * **threshold**: a statistic of one metric (its mean, a CI bound, the
//!   median, a percentile of the per-sample values) must be at least `min`
//!   and/or at most `max`;
//! * **regression**: paired against a baseline (a baseline file written by
//!   `evalkit baseline update`, or another variant of the same run), the
//!   metric must not be worse by more than `margin` at the chosen confidence.
//!   This is a non-inferiority check: the gate fails only when the whole
//!   confidence interval of the change lies beyond the margin, so noise never
//!   fails a build; when the sample is too small to see a drop of `margin`,
//!   the gate says so in a warning instead of passing silently.
//!
//! Evaluation is a pure function of the results, the per-sample scores and
//! the baselines, so `evalkit gate` can re-check an old run.

mod baseline;
mod evaluate;
mod spec;

pub use baseline::baseline_of_run;
pub use evalkit_record::baseline::{Baseline, BaselineError, BASELINE_SCHEMA_VERSION};
pub use evaluate::{evaluate, GateInputs};
pub use spec::{GateSpec, GateStat};

#[cfg(test)]
mod tests;
