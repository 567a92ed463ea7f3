//! Free-standing statistics: summaries, percentiles and confidence intervals,
//! bootstrap and cluster-robust intervals, paired tests, power, and pass@k.
//!
//! Like criterion's `stats` module, this is a leaf: it depends on no other
//! evalkit crate and works on plain `f64` slices and counts, so that every
//! analysis (paired comparisons, clustered standard errors, power) can reuse it,
//! and so that it can be checked against reference values in isolation
//! (`tests/stats_reference.rs`).
//!
//! # Conventions
//!
//! * Inputs must not contain `NaN` (callers drop invalid scores first and count
//!   them). Functions never panic on bad input; they return `None` instead.
//! * "Not enough data" is `None`, never `NaN` or a degenerate interval:
//!   [`std_dev`], [`std_error`] and [`t_interval`] need `n >= 2`.
//! * Confidence levels are fractions in the open interval `(0, 1)`, e.g. `0.95`.

#![deny(missing_docs)]

mod binomial;
mod bootstrap;
mod clustered;
mod interval;
mod lattice;
mod paired;
mod perplexity;
mod power;
mod repeats;
mod rng;
mod sign_flip;
mod signed_rank;
mod summary;
mod t_test;

pub use bootstrap::{bootstrap_interval, DEFAULT_RESAMPLES};
pub use clustered::{clustered_mean, ClusteredMean};
pub use interval::{t_interval, t_interval_from_summary, wilson_interval, Interval};
pub use paired::{cohens_dz, holm, mcnemar, McNemar};
pub use perplexity::{perplexity, PerplexitySummary};
pub use power::{minimum_detectable_difference, required_samples};
pub use repeats::{pass_at_k, pass_hat_k};
pub use rng::SplitMix64;
pub use sign_flip::{sign_flip_test, SignFlip, SignFlipMethod, EXACT_SIGN_FLIP_MAX_N, LATTICE_MAX_WORK};
pub use signed_rank::{wilcoxon_signed_rank, SignedRank, SignedRankMethod};
pub use summary::{mean, percentile, std_dev, std_error};
pub use t_test::{paired_t_test, PairedT};
