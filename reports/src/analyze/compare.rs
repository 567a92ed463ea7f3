//! Paired comparisons: each other variant against the baseline variant, on
//! every metric, over the samples both scored.
//!
//! Pairing removes the sample-to-sample variation that dwarfs most real
//! differences between two prompts or models (an easy question is easy for
//! both). Pass/fail metrics with one score per sample use McNemar's exact test
//! on the discordant pairs; everything else the suite's `[report]
//! paired_test` on the per-sample differences ([`PairedTest`]: a sign-flip
//! permutation test unless it says otherwise). Holm's correction runs over
//! every comparison of the report, so a suite with many metrics does not find
//! "wins" by chance.

use std::collections::BTreeMap;

use super::samples::SampleScores;
use super::CI_LEVEL;
use evalkit_record::journal::Record;
use evalkit_record::results::RunResults;
use evalkit_record::results::{
    CiMethod, Comparison, ConfidenceInterval, Direction, Discordant, MetricInfo, Scale, TestKind, Verdict,
};
use evalkit_stats as stats;

/// Significance level of the verdicts (`1 − CI_LEVEL`).
pub const ALPHA: f64 = 1.0 - CI_LEVEL;
/// Power at which the minimum detectable difference is stated.
pub const POWER: f64 = 0.8;
/// Sign flips (pairs × resamples) a Monte Carlo sign-flip test may spend: a
/// few tens of milliseconds.
pub const SIGN_FLIP_WORK: usize = 1 << 25;
/// Fewest random sign patterns drawn, however many pairs: the standard error
/// of a p-value near 0.05 is then 0.007 (and is reported). Beyond 33,554
/// pairs this floor spends more than [`SIGN_FLIP_WORK`]: about a second for a
/// million pairs, where the paired t-test is the quicker and as good a choice.
pub const SIGN_FLIP_MIN_RESAMPLES: usize = 1_000;
/// Most random sign patterns drawn: with few pairs they are cheap, and a
/// p-value near 0.05 then has a standard error of 0.0007.
pub const SIGN_FLIP_MAX_RESAMPLES: usize = 100_000;

/// The test of the per-sample differences of a metric that is not one
/// pass/fail score per sample (those always get McNemar's exact test):
/// `[report] paired_test` in the suite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairedTest {
    /// The sign-flip permutation test of the mean difference: assumes only
    /// that, without a difference, each pair's difference is as likely to have
    /// either sign. Exact when the differences lie on a lattice (pass/fail
    /// differences, means of repeats, scores with few decimals) or number 16
    /// or fewer; otherwise sampled, with the p-value's standard error.
    #[default]
    Permutation,
    /// The paired t-test: exact when the differences are normal, and close to
    /// it for large samples.
    T,
    /// The Wilcoxon signed-rank test: it ranks the sizes of the differences,
    /// so how far the largest go beyond the others does not matter; it tests
    /// whether the differences are centred on 0 (their pseudo-median), not
    /// their mean.
    Wilcoxon,
}

/// Random sign patterns to draw for `pairs` differences, when they can be
/// neither convolved nor enumerated: [`SIGN_FLIP_WORK`] spread over the
/// pairs, within [`SIGN_FLIP_MIN_RESAMPLES`]..=[`SIGN_FLIP_MAX_RESAMPLES`].
pub fn sign_flip_resamples(pairs: usize) -> usize {
    (SIGN_FLIP_WORK / pairs.max(1)).clamp(SIGN_FLIP_MIN_RESAMPLES, SIGN_FLIP_MAX_RESAMPLES)
}

/// The paired data of one (baseline, candidate, metric).
pub struct Pairs {
    /// Baseline per-sample means, in sample order.
    pub baseline: Vec<f64>,
    /// Candidate per-sample means, same samples.
    pub candidate: Vec<f64>,
    /// Whether both sides are one 0/1 score per sample.
    pub pass_fail: bool,
}

impl Pairs {
    /// Pair two variants' per-sample scores by sample id.
    fn new(metric: &MetricInfo, baseline: &SampleScores<'_>, candidate: &SampleScores<'_>) -> Pairs {
        Pairs::from_means(metric, &baseline.means(), &candidate.means(), |s| {
            baseline.is_single_pass_fail() && candidate.is_single_pass_fail() && s
        })
    }

    /// Pair per-sample means by id; `pass_fail` decides, given whether every
    /// paired value is 0 or 1, whether McNemar's test applies.
    pub fn from_means<K: Ord>(
        metric: &MetricInfo,
        baseline: &BTreeMap<K, f64>,
        candidate: &BTreeMap<K, f64>,
        pass_fail: impl FnOnce(bool) -> bool,
    ) -> Pairs {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (id, base) in baseline {
            if let Some(cand) = candidate.get(id) {
                a.push(*base);
                b.push(*cand);
            }
        }
        let zero_one = a.iter().chain(&b).all(|v| *v == 0.0 || *v == 1.0);
        Pairs { pass_fail: metric.scale == Scale::Binary && pass_fail(zero_one), baseline: a, candidate: b }
    }

    /// Candidate − baseline, per pair.
    pub fn differences(&self) -> Vec<f64> {
        self.candidate.iter().zip(&self.baseline).map(|(c, b)| c - b).collect()
    }
}

/// Every comparison of `candidates` with `baseline`, p-values Holm-adjusted
/// together and verdicts given.
pub(crate) fn comparisons(
    metrics: &[MetricInfo],
    baseline: &str,
    candidates: &[&str],
    tasks_by_variant: &BTreeMap<&str, Vec<&Record>>,
    test: PairedTest,
    seed: u64,
) -> Vec<Comparison> {
    let tasks_of = |name: &str| tasks_by_variant.get(name).map_or(&[][..], Vec::as_slice);
    // The baseline's scores serve every candidate: collect them once per metric.
    let baseline_scores: Vec<SampleScores<'_>> =
        metrics.iter().map(|m| SampleScores::collect(tasks_of(baseline), &m.name)).collect();
    let mut out = Vec::new();
    for candidate in candidates {
        let candidate_tasks = tasks_of(candidate);
        for (metric, a) in metrics.iter().zip(&baseline_scores) {
            let b = SampleScores::collect(candidate_tasks, &metric.name);
            out.push(compare(metric, baseline, candidate, &Pairs::new(metric, a, &b), test, seed));
        }
    }
    let adjusted = stats::holm(&out.iter().map(|c| c.p_value.unwrap_or(f64::NAN)).collect::<Vec<_>>());
    for (comparison, p) in out.iter_mut().zip(adjusted) {
        comparison.p_adjusted = p.is_finite().then_some(p);
        let direction = metrics.iter().find(|m| m.name == comparison.metric).map(|m| m.direction);
        comparison.verdict = verdict(comparison, direction.unwrap_or(Direction::HigherIsBetter));
    }
    out
}

/// One comparison, before Holm's correction (`p_adjusted` unset, verdict
/// `NotEnoughData` until [`comparisons`] fills them). `test` is the test for
/// metrics that are not pass/fail; `seed` seeds a sampled sign-flip test.
pub fn compare(
    metric: &MetricInfo,
    baseline: &str,
    candidate: &str,
    pairs: &Pairs,
    test: PairedTest,
    seed: u64,
) -> Comparison {
    let differences = pairs.differences();
    let n = differences.len();
    let mut p_value_mc_se = None;
    let mut discordant = None;
    let (test, p_value) = if n == 0 {
        (TestKind::None, None)
    } else if pairs.pass_fail {
        let baseline_only = differences.iter().filter(|d| **d < 0.0).count() as u64;
        let candidate_only = differences.iter().filter(|d| **d > 0.0).count() as u64;
        discordant = Some(Discordant { baseline_only, candidate_only });
        (TestKind::McnemarExact, Some(stats::mcnemar(baseline_only, candidate_only).p_value))
    } else {
        let (kind, p, se) = difference_test(&differences, test, seed);
        p_value_mc_se = se;
        (kind, p)
    };
    let ci = stats::t_interval(&differences, CI_LEVEL).map(|b| ConfidenceInterval {
        level: CI_LEVEL,
        low: b.low,
        high: b.high,
        method: CiMethod::T,
    });
    let mde =
        stats::std_dev(&differences).and_then(|sd| stats::minimum_detectable_difference(sd, n as u64, ALPHA, POWER));
    Comparison {
        metric: metric.name.clone(),
        baseline: baseline.to_owned(),
        candidate: candidate.to_owned(),
        pairs: n as u64,
        baseline_mean: stats::mean(&pairs.baseline),
        candidate_mean: stats::mean(&pairs.candidate),
        difference: stats::mean(&differences),
        ci,
        test,
        p_value,
        p_value_mc_se,
        p_adjusted: None,
        effect_size: stats::cohens_dz(&differences),
        discordant,
        minimum_detectable_difference: mde,
        verdict: Verdict::NotEnoughData,
    }
}

/// The chosen test of a metric's paired differences: which test ran, its
/// p-value, and the p-value's Monte Carlo standard error when it was sampled.
/// No p-value where the test needs more pairs (the t-test two) or a
/// difference is not finite (the analysis drops those before).
fn difference_test(differences: &[f64], test: PairedTest, seed: u64) -> (TestKind, Option<f64>, Option<f64>) {
    let none = (TestKind::None, None, None);
    match test {
        PairedTest::Permutation => {
            let Some(t) = stats::sign_flip_test(differences, sign_flip_resamples(differences.len()), seed) else {
                return none;
            };
            match t.monte_carlo_std_error() {
                None => (TestKind::SignFlipExact, Some(t.p_value), None),
                Some(se) => (TestKind::SignFlipMonteCarlo, Some(t.p_value), se.is_finite().then_some(se)),
            }
        }
        PairedTest::T => stats::paired_t_test(differences).map_or(none, |t| (TestKind::PairedT, Some(t.p_value), None)),
        PairedTest::Wilcoxon => stats::wilcoxon_signed_rank(differences).map_or(none, |t| {
            let kind = match t.method {
                stats::SignedRankMethod::Exact => TestKind::WilcoxonExact,
                stats::SignedRankMethod::Normal => TestKind::WilcoxonNormal,
            };
            (kind, Some(t.p_value), None)
        }),
    }
}

/// Improved or regressed when the Holm-adjusted p-value is below [`ALPHA`],
/// read through the metric's direction; fewer than two pairs say nothing.
fn verdict(comparison: &Comparison, direction: Direction) -> Verdict {
    let (Some(p), Some(difference)) = (comparison.p_adjusted, comparison.difference) else {
        return Verdict::NotEnoughData;
    };
    if comparison.pairs < 2 {
        return Verdict::NotEnoughData;
    }
    if p >= ALPHA || difference == 0.0 {
        return Verdict::NoSignificantChange;
    }
    let better = match direction {
        Direction::HigherIsBetter => difference > 0.0,
        Direction::LowerIsBetter => difference < 0.0,
    };
    if better {
        Verdict::Improved
    } else {
        Verdict::Regressed
    }
}

/// Two runs of a suite compared: run B (say a branch) against run A (main).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunComparison {
    /// Run A's id.
    pub baseline_run: String,
    /// Run B's id.
    pub candidate_run: String,
    /// One per (variant present in both runs, metric present in both), with
    /// `baseline`/`candidate` naming the variant as `A:<name>` and `B:<name>`.
    pub comparisons: Vec<Comparison>,
    /// Sample ids only run B has.
    pub added_samples: Vec<String>,
    /// Sample ids only run A has.
    pub removed_samples: Vec<String>,
}

/// Compare run B with run A, pairing samples by their stable id. Variants
/// pair by name; two single-variant runs pair whatever their names. `test`
/// and `seed` as for [`compare`].
pub fn compare_runs(
    a: (&RunResults, &[Record]),
    b: (&RunResults, &[Record]),
    test: PairedTest,
    seed: u64,
) -> RunComparison {
    let (results_a, records_a) = a;
    let (results_b, records_b) = b;
    let mut pairs: Vec<(&str, &str)> = results_a
        .variants
        .iter()
        .filter(|v| results_b.variants.iter().any(|w| w.name == v.name))
        .map(|v| (v.name.as_str(), v.name.as_str()))
        .collect();
    if pairs.is_empty() && results_a.variants.len() == 1 && results_b.variants.len() == 1 {
        pairs.push((&results_a.variants[0].name, &results_b.variants[0].name));
    }
    let mut comparisons = Vec::new();
    for (variant_a, variant_b) in pairs {
        for metric in results_b.metrics.iter().filter(|m| results_a.metric(&m.name).is_some()) {
            let before = super::sample_means(records_a, variant_a, &metric.name);
            let after = super::sample_means(records_b, variant_b, &metric.name);
            let paired = Pairs::from_means(metric, &before, &after, |zero_one| zero_one);
            let label_a = format!("A:{variant_a}");
            let label_b = format!("B:{variant_b}");
            comparisons.push(compare(metric, &label_a, &label_b, &paired, test, seed));
        }
    }
    let adjusted = stats::holm(&comparisons.iter().map(|c| c.p_value.unwrap_or(f64::NAN)).collect::<Vec<_>>());
    for (comparison, p) in comparisons.iter_mut().zip(adjusted) {
        comparison.p_adjusted = p.is_finite().then_some(p);
        let direction = results_b.metric(&comparison.metric).map(|m| m.direction);
        comparison.verdict = verdict(comparison, direction.unwrap_or(Direction::HigherIsBetter));
    }
    let ids = |records: &[Record]| records.iter().map(|r| r.sample.clone()).collect::<std::collections::BTreeSet<_>>();
    let (ids_a, ids_b) = (ids(records_a), ids(records_b));
    RunComparison {
        baseline_run: results_a.run.id.clone(),
        candidate_run: results_b.run.id.clone(),
        comparisons,
        added_samples: ids_b.difference(&ids_a).cloned().collect(),
        removed_samples: ids_a.difference(&ids_b).cloned().collect(),
    }
}
