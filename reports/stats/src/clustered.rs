//! The mean of scores that are not independent, with a cluster-robust
//! standard error: several scores per document, per conversation, or per
//! prompt template (Miller, "Adding Error Bars to Evals", 2024, section 2.2).
//!
//! Matches statsmodels' `OLS(y, np.ones(n)).fit(cov_type="cluster",
//! cov_kwds={"groups": g})`, the regression of the scores on a constant with
//! the default small-sample correction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::interval::{t_interval_from_summary, Interval};

/// A mean with its cluster-robust standard error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClusteredMean {
    /// Arithmetic mean of all values (every value weighs the same, whatever
    /// the size of its cluster).
    pub mean: f64,
    /// Cluster-robust standard error of the mean: statsmodels' `bse[0]`.
    pub std_error: f64,
    /// Number of distinct clusters.
    pub clusters: usize,
    /// Degrees of freedom for a t interval: `clusters - 1` (statsmodels'
    /// `df_resid_inference`).
    pub df: f64,
}

impl ClusteredMean {
    /// The t interval `mean ± t(clusters - 1) · std_error` at `level`; the
    /// same as statsmodels' `conf_int(1 - level)` of the fit with
    /// `use_t=True`. `None` when `level` is not in `(0, 1)`.
    pub fn interval(&self, level: f64) -> Option<Interval> {
        t_interval_from_summary(self.mean, self.std_error, self.df, level)
    }
}

/// Mean of `values` with a cluster-robust standard error, `clusters[i]`
/// naming the cluster of `values[i]`.
///
/// With `G` clusters, `N` values, mean `m` and `S_g` the sum of `values[i] - m`
/// over cluster `g`, the variance of the mean is
/// `G / (G - 1) · Σ_g S_g² / N²`: statsmodels'
/// `OLS(y, np.ones(n)).fit(cov_type="cluster", cov_kwds={"groups": g})`
/// (`bse[0]`; its correction factor `G / (G - 1) · (N - 1) / (N - k)` with
/// `k = 1` parameter). With one value per cluster this is
/// `sqrt(Σ e² / (N (N - 1)))`, exactly the plain standard error `sd / sqrt(N)`.
///
/// `None` when `values` is empty, the lengths differ, there are fewer than 2
/// distinct clusters, or the result is not finite (e.g. `NaN` in `values`).
pub fn clustered_mean(values: &[f64], clusters: &[&str]) -> Option<ClusteredMean> {
    if values.is_empty() || values.len() != clusters.len() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
    for (value, cluster) in values.iter().zip(clusters) {
        *sums.entry(cluster).or_insert(0.0) += value - mean;
    }
    let g = sums.len();
    if g < 2 {
        return None;
    }
    let g_f = g as f64;
    let scores: f64 = sums.values().map(|s| s * s).sum();
    let variance = g_f / (g_f - 1.0) * scores / (n * n);
    let std_error = variance.sqrt();
    (mean.is_finite() && std_error.is_finite()).then_some(ClusteredMean { mean, std_error, clusters: g, df: g_f - 1.0 })
}

#[cfg(test)]
mod tests {
    use super::super::rng::SplitMix64;
    use super::super::summary::std_error;
    use super::*;

    #[test]
    fn one_value_per_cluster_is_the_plain_standard_error() {
        let mut rng = SplitMix64::new(8);
        for _ in 0..20 {
            let n = 2 + rng.below(40);
            let values: Vec<f64> = (0..n).map(|_| rng.next_f64()).collect();
            let names: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
            let ids: Vec<&str> = names.iter().map(String::as_str).collect();
            let c = clustered_mean(&values, &ids).unwrap();
            let plain = std_error(&values).unwrap();
            assert!((c.std_error - plain).abs() <= 1e-12 * plain.max(1.0), "{} vs {plain}", c.std_error);
            assert_eq!(c.clusters, n);
            assert_eq!(c.df, (n - 1) as f64);
        }
    }

    #[test]
    fn small_example_by_hand() {
        // y = [1, 0, 1, 1, 0, 1, 0.5, 0.2], clusters a a b b b c d d.
        // statsmodels: bse = 0.10029254084925757, conf_int (use_t) low 0.268324373926765.
        let values = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.5, 0.2];
        let ids = ["a", "a", "b", "b", "b", "c", "d", "d"];
        let c = clustered_mean(&values, &ids).unwrap();
        assert!((c.mean - 0.5875).abs() < 1e-15);
        assert!((c.std_error - 0.10029254084925757).abs() < 1e-15);
        assert_eq!((c.clusters, c.df), (4, 3.0));
        let ci = c.interval(0.95).unwrap();
        assert!((ci.low - 0.268324373926765).abs() < 1e-12, "{ci:?}");
    }

    #[test]
    fn order_and_cluster_names_do_not_matter() {
        let values = [0.1, 0.9, 0.4, 0.4, 0.7, 0.0];
        let a = clustered_mean(&values, &["x", "y", "x", "z", "y", "z"]).unwrap();
        let b = clustered_mean(&[0.4, 0.0, 0.9, 0.7, 0.1, 0.4], &["3", "3", "2", "2", "1", "1"]).unwrap();
        assert!((a.mean - b.mean).abs() < 1e-15 && (a.std_error - b.std_error).abs() < 1e-15);
        assert_eq!(a.clusters, 3);
    }

    #[test]
    fn identical_clusters_have_no_error() {
        // Every cluster has the same mean: the cluster sums of residuals are 0.
        let values = [0.0, 1.0, 1.0, 0.0, 0.5, 0.5];
        let c = clustered_mean(&values, &["a", "a", "b", "b", "c", "c"]).unwrap();
        assert_eq!(c.std_error, 0.0);
        assert_eq!(c.interval(0.95), Some(Interval { low: 0.5, high: 0.5 }));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(clustered_mean(&[], &[]), None);
        assert_eq!(clustered_mean(&[1.0, 2.0], &["a"]), None);
        assert_eq!(clustered_mean(&[1.0, 2.0, 3.0], &["a", "a", "a"]), None, "one cluster");
        assert_eq!(clustered_mean(&[1.0, f64::NAN], &["a", "b"]), None);
        assert_eq!(clustered_mean(&[f64::MAX, -f64::MAX, f64::MAX], &["a", "b", "c"]), None);
    }
}
