//! `[[gates]]` as written in the suite.

use serde::{Deserialize, Serialize};

/// One `[[gates]]` entry.
///
/// A threshold gate sets `min` and/or `max`; a regression gate sets
/// `baseline` (a baseline file or run folder) or `baseline_variant` (another
/// variant of the same run), with an optional `margin` and `confidence`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GateSpec {
    /// Shown in reports and as the JUnit test case name (the variant is appended in brackets).
    /// Type: string. Default: made from the metric and bounds. Example: `name = "accuracy floor"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A metric's `name` from `[[metrics]]`.
    /// Type: string. Required. Example: `metric = "exact_match"`.
    pub metric: String,
    /// The variant checked, one result each. With `baseline_variant`, every *other* variant.
    /// Type: string. Default: every variant. Example: `variant = "candidate"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Threshold gates: the figure compared. `ci_low`/`ci_high` are the bounds of the mean's 95%
    /// interval ("at least 80%, and we are sure of it": `stat = "ci_low"`, `min = 0.8`). `pNN` are
    /// percentiles of the per-sample values (latency SLOs).
    /// Type: `"mean"`, `"ci_low"`, `"ci_high"`, `"median"`, `"p50"`, `"p90"`, `"p95"`, `"p99"`.
    /// Default: `"mean"`. Example: `stat = "p95"`.
    #[serde(default)]
    pub stat: GateStat,
    /// Threshold: the figure must be at least this. Rates are fractions (`0.8` = 80%), latency
    /// seconds, cost dollars.
    /// Type: float. Default: none. Example: `min = 0.8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Threshold: the figure must be at most this. `min` must not exceed `max`.
    /// Type: float. Default: none. Example: `max = 2.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Regression: a baseline file written by `evalkit baseline update`, or a run folder, relative
    /// to the suite file. Samples pair by id; variants by name (a single-variant baseline pairs
    /// with any variant).
    /// Type: string. Default: none. Example: `baseline = "ci/baselines/main.json"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// Regression: compare with this variant of the same run instead.
    /// Type: string. Default: none. Example: `baseline_variant = "prompt-v1"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_variant: Option<String>,
    /// Regression: the largest tolerated worsening, in the metric's units (`0.02` = 2 points of
    /// accuracy, `0.1` = 100 ms).
    /// Type: float ≥ 0. Default: `0`. Example: `margin = 0.02`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin: Option<f64>,
    /// Regression: the level of the interval the margin is checked against.
    /// Type: float in (0, 1). Default: `0.95`. Example: `confidence = 0.9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
}

impl GateSpec {
    /// Whether this is a regression gate.
    pub fn is_regression(&self) -> bool {
        self.baseline.is_some() || self.baseline_variant.is_some()
    }

    /// The name shown for this gate on `variant`.
    pub fn display_name(&self, variant: &str) -> String {
        let base = match &self.name {
            Some(name) => name.clone(),
            None if self.is_regression() => {
                let margin = self.margin.unwrap_or(0.0);
                format!("{} no worse than baseline (margin {margin})", self.metric)
            }
            None => {
                let mut bounds = Vec::new();
                if let Some(min) = self.min {
                    bounds.push(format!(">= {min}"));
                }
                if let Some(max) = self.max {
                    bounds.push(format!("<= {max}"));
                }
                format!("{} {} {}", self.metric, self.stat.name(), bounds.join(" and "))
            }
        };
        format!("{base} [{variant}]")
    }
}

/// The figure a threshold gate checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateStat {
    /// Mean of the per-sample means.
    #[default]
    Mean,
    /// Lower bound of the 95% interval of the mean: "at least x, and we are
    /// sure of it".
    CiLow,
    /// Upper bound of the 95% interval of the mean.
    CiHigh,
    /// Median of the per-sample means.
    Median,
    /// 50th percentile of the per-sample values.
    P50,
    /// 90th percentile.
    P90,
    /// 95th percentile (latency SLOs).
    P95,
    /// 99th percentile.
    P99,
}

impl GateStat {
    /// The name as written in the suite.
    pub fn name(self) -> &'static str {
        match self {
            GateStat::Mean => "mean",
            GateStat::CiLow => "ci_low",
            GateStat::CiHigh => "ci_high",
            GateStat::Median => "median",
            GateStat::P50 => "p50",
            GateStat::P90 => "p90",
            GateStat::P95 => "p95",
            GateStat::P99 => "p99",
        }
    }

    /// The percentile this statistic is, if it is one.
    pub fn percentile(self) -> Option<f64> {
        match self {
            GateStat::P50 => Some(50.0),
            GateStat::P90 => Some(90.0),
            GateStat::P95 => Some(95.0),
            GateStat::P99 => Some(99.0),
            _ => None,
        }
    }
}
