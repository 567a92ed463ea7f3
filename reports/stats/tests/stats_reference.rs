//! Checks `evalkit_stats` against reference values computed by
//! statsmodels, scipy and numpy (`fixtures/make_stats_fixtures.py`; see
//! `fixtures/README.md`).

use evalkit_stats as stats;
use serde::Deserialize;

const REFERENCE: &str = include_str!("fixtures/stats_reference.json");

/// Agreement required: 1e-9, relative to the magnitude for values above 1
/// (the `large_offset` case is around 1e6).
fn assert_close(case: &str, what: &str, actual: f64, expected: f64) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!((actual - expected).abs() <= tolerance, "{case}: {what} = {actual:e}, reference {expected:e}");
}

/// Agreement required of p-values from exact (enumerated or exact binomial)
/// tests: both sides are a count divided by a power of two.
fn assert_exact_p(case: &str, actual: f64, expected: f64) {
    assert!((actual - expected).abs() <= 1e-12, "{case}: p-value = {actual:e}, reference {expected:e}");
}

/// Agreement required of p-values that span many orders of magnitude:
/// `tolerance` relative to the reference; a reference of exactly 0 (an
/// underflow) must be matched exactly.
fn assert_relative(case: &str, what: &str, actual: f64, expected: f64, tolerance: f64) {
    let ok = if expected == 0.0 { actual == 0.0 } else { ((actual - expected) / expected).abs() <= tolerance };
    assert!(ok, "{case}: {what} = {actual:e}, reference {expected:e} (relative {:e})", (actual - expected) / expected);
}

#[derive(Deserialize)]
struct Reference {
    wilson: Vec<WilsonCase>,
    t_interval: Vec<TCase>,
    percentile: Vec<PercentileCase>,
    clustered: Vec<ClusteredCase>,
    mcnemar: Vec<McNemarCase>,
    sign_flip_exact: Vec<SignFlipCase>,
    sign_flip_lattice: Vec<SignFlipLatticeCase>,
    paired_t: Vec<PairedTCase>,
    wilcoxon: Vec<WilcoxonCase>,
    holm: Vec<HolmCase>,
    cohens_dz: Vec<CohensDzCase>,
    power_mde: Vec<PowerMdeCase>,
    power_n: Vec<PowerNCase>,
    pass_at_k: Vec<PassAtKCase>,
}

#[derive(Deserialize)]
struct WilsonCase {
    name: String,
    successes: u64,
    n: u64,
    level: f64,
    low: f64,
    high: f64,
}

#[derive(Deserialize)]
struct TCase {
    name: String,
    values: Vec<f64>,
    level: f64,
    mean: f64,
    std_dev: f64,
    std_error: f64,
    low: f64,
    high: f64,
}

#[derive(Deserialize)]
struct PercentileCase {
    name: String,
    values: Vec<f64>,
    p: Vec<f64>,
    expected: Vec<f64>,
}

#[derive(Deserialize)]
struct ClusteredCase {
    name: String,
    values: Vec<f64>,
    clusters: Vec<String>,
    mean: f64,
    std_error: f64,
    n_clusters: usize,
    df: f64,
    level: f64,
    low: f64,
    high: f64,
}

#[derive(Deserialize)]
struct McNemarCase {
    name: String,
    baseline_only: u64,
    candidate_only: u64,
    statistic: f64,
    p_value: f64,
    /// The script's own high-precision value (see the README).
    p_value_exact: f64,
}

#[derive(Deserialize)]
struct SignFlipCase {
    name: String,
    differences: Vec<f64>,
    p_value: f64,
}

#[derive(Deserialize)]
struct SignFlipLatticeCase {
    name: String,
    differences: Vec<f64>,
    /// From the script's exact integer convolution.
    p_value: f64,
    /// scipy's exact enumeration, for the cases small enough for it.
    p_value_scipy: Option<f64>,
}

#[derive(Deserialize)]
struct PairedTCase {
    name: String,
    differences: Vec<f64>,
    statistic: f64,
    df: f64,
    p_value: f64,
}

#[derive(Deserialize)]
struct WilcoxonCase {
    name: String,
    differences: Vec<f64>,
    /// `exact` or `normal`: the way scipy's `method="auto"` went.
    method: String,
    statistic: f64,
    p_value: f64,
}

/// `null` in the JSON stands for `NaN`.
#[derive(Deserialize)]
struct HolmCase {
    name: String,
    p_values: Vec<Option<f64>>,
    adjusted: Vec<Option<f64>>,
}

#[derive(Deserialize)]
struct CohensDzCase {
    name: String,
    differences: Vec<f64>,
    d_z: f64,
}

#[derive(Deserialize)]
struct PowerMdeCase {
    name: String,
    sd: f64,
    n: u64,
    alpha: f64,
    power: f64,
    mde: f64,
    mde_statsmodels: f64,
}

#[derive(Deserialize)]
struct PowerNCase {
    name: String,
    sd: f64,
    difference: f64,
    alpha: f64,
    power: f64,
    required: u64,
}

#[derive(Deserialize)]
struct PassAtKCase {
    name: String,
    n: u64,
    c: u64,
    k: u64,
    pass_at_k: f64,
    pass_at_k_numpy: f64,
    pass_hat_k: f64,
}

fn reference() -> Reference {
    serde_json::from_str(REFERENCE).expect("stats_reference.json parses")
}

#[test]
fn wilson_matches_statsmodels() {
    let cases = reference().wilson;
    assert!(cases.len() >= 15);
    for case in cases {
        let ci = stats::wilson_interval(case.successes, case.n, case.level)
            .unwrap_or_else(|| panic!("{}: no interval", case.name));
        assert_close(&case.name, "low", ci.low, case.low);
        assert_close(&case.name, "high", ci.high, case.high);
    }
}

#[test]
fn t_interval_matches_scipy() {
    let cases = reference().t_interval;
    assert!(cases.len() >= 15);
    for case in cases {
        let name = &case.name;
        assert_close(name, "mean", stats::mean(&case.values).unwrap(), case.mean);
        assert_close(name, "std_dev", stats::std_dev(&case.values).unwrap(), case.std_dev);
        assert_close(name, "std_error", stats::std_error(&case.values).unwrap(), case.std_error);
        let ci = stats::t_interval(&case.values, case.level).unwrap_or_else(|| panic!("{name}: no interval"));
        assert_close(name, "low", ci.low, case.low);
        assert_close(name, "high", ci.high, case.high);
    }
}

#[test]
fn percentile_matches_numpy() {
    let cases = reference().percentile;
    assert!(cases.len() >= 8);
    for case in cases {
        assert_eq!(case.p.len(), case.expected.len(), "{}", case.name);
        for (p, expected) in case.p.iter().zip(&case.expected) {
            let actual = stats::percentile(&case.values, *p).unwrap_or_else(|| panic!("{}: p{p} is None", case.name));
            assert_close(&case.name, &format!("p{p}"), actual, *expected);
        }
    }
}

#[test]
fn clustered_mean_matches_statsmodels() {
    let cases = reference().clustered;
    assert!(cases.len() >= 10);
    assert!(cases.iter().any(|case| case.values.len() >= 1000), "a case with 1000+ values");
    for case in cases {
        let name = &case.name;
        let ids: Vec<&str> = case.clusters.iter().map(String::as_str).collect();
        let c = stats::clustered_mean(&case.values, &ids).unwrap_or_else(|| panic!("{name}: None"));
        assert_close(name, "mean", c.mean, case.mean);
        assert_close(name, "std_error", c.std_error, case.std_error);
        assert_eq!(c.clusters, case.n_clusters, "{name}");
        assert_eq!(c.df, case.df, "{name}");
        let ci = c.interval(case.level).unwrap_or_else(|| panic!("{name}: no interval"));
        assert_close(name, "low", ci.low, case.low);
        assert_close(name, "high", ci.high, case.high);
        let by_summary = stats::t_interval_from_summary(c.mean, c.std_error, c.df, case.level).unwrap();
        assert_eq!(ci, by_summary, "{name}");
    }
}

#[test]
fn mcnemar_matches_statsmodels() {
    let cases = reference().mcnemar;
    assert!(cases.len() >= 30);
    for case in cases {
        let name = &case.name;
        let t = stats::mcnemar(case.baseline_only, case.candidate_only);
        assert_eq!((t.baseline_only, t.candidate_only), (case.baseline_only, case.candidate_only), "{name}");
        assert_close(name, "statistic", t.statistic, case.statistic);
        assert_relative(name, "p_value (high precision)", t.p_value, case.p_value_exact, 1e-12);
        // scipy's binom.cdf, under statsmodels, loses digits as the number of
        // discordant pairs n grows (1e-10 relative at 2^40, 2e-7 at 2e18):
        // 1e-12 up to a million pairs, looser in step with sqrt(n) beyond.
        let n = (case.baseline_only as f64) + (case.candidate_only as f64);
        assert_relative(name, "p_value (statsmodels)", t.p_value, case.p_value, 1e-12 * (n.sqrt() / 1000.0).max(1.0));
    }
}

#[test]
fn sign_flip_test_matches_scipys_exact_permutation_test() {
    let cases = reference().sign_flip_exact;
    assert!(cases.len() >= 10);
    for case in cases {
        // Exact (on a lattice or enumerated): neither the resample count nor
        // the seed matter.
        for (resamples, seed) in [(0, 0), (1000, 99)] {
            let t = stats::sign_flip_test(&case.differences, resamples, seed)
                .unwrap_or_else(|| panic!("{}: None", case.name));
            assert!(t.is_exact(), "{}: {t:?}", case.name);
            assert_exact_p(&case.name, t.p_value, case.p_value);
        }
    }
}

#[test]
fn sign_flip_test_is_exact_on_lattices_of_any_size() {
    let cases = reference().sign_flip_lattice;
    assert!(cases.len() >= 10);
    assert!(cases.iter().any(|c| c.differences.len() >= 5000));
    for case in cases {
        let name = &case.name;
        assert!(case.differences.len() > stats::EXACT_SIGN_FLIP_MAX_N, "{name}: beyond enumeration");
        let t = stats::sign_flip_test(&case.differences, 10, 0).unwrap_or_else(|| panic!("{name}: None"));
        assert!(matches!(t.method, stats::SignFlipMethod::Lattice { .. }), "{name}: {t:?}");
        // A sum of probabilities each rounded at most n times.
        assert_relative(name, "p_value", t.p_value, case.p_value, 1e-12);
        if let Some(scipy) = case.p_value_scipy {
            assert_exact_p(name, t.p_value, scipy);
        }
    }
}

#[test]
fn paired_t_test_matches_scipy() {
    let cases = reference().paired_t;
    assert!(cases.len() >= 12);
    assert!(cases.iter().any(|c| c.differences.len() >= 20_000));
    for case in cases {
        let name = &case.name;
        let t = stats::paired_t_test(&case.differences).unwrap_or_else(|| panic!("{name}: None"));
        assert_eq!(t.df, case.df, "{name}");
        // numpy sums pairwise, the Rust mean in order: the statistics agree to
        // rounding, relative to the sum of |d| rather than to the mean.
        let scale = case.statistic.abs().max(1.0);
        assert!(
            (t.statistic - case.statistic).abs() <= 1e-11 * scale,
            "{name}: t = {:e}, scipy {:e}",
            t.statistic,
            case.statistic
        );
        // statrs' incomplete beta loses about 4e-15 · df relative.
        assert_relative(name, "p_value", t.p_value, case.p_value, 1e-10);
    }
}

#[test]
fn wilcoxon_signed_rank_matches_scipy() {
    let cases = reference().wilcoxon;
    assert!(cases.len() >= 15);
    for method in ["exact", "normal"] {
        assert!(cases.iter().filter(|c| c.method == method).count() >= 5, "{method}");
    }
    for case in cases {
        let name = &case.name;
        let t = stats::wilcoxon_signed_rank(&case.differences).unwrap_or_else(|| panic!("{name}: None"));
        let method = match t.method {
            stats::SignedRankMethod::Exact => "exact",
            stats::SignedRankMethod::Normal => "normal",
        };
        assert_eq!(method, case.method, "{name}");
        assert_eq!(t.statistic, case.statistic, "{name}: ranks are halves, exact in f64");
        if method == "exact" {
            assert_exact_p(name, t.p_value, case.p_value);
        } else {
            assert_relative(name, "p_value", t.p_value, case.p_value, 1e-12);
        }
    }
}

#[test]
fn holm_matches_statsmodels() {
    let cases = reference().holm;
    assert!(cases.len() >= 10);
    for case in cases {
        let name = &case.name;
        let p: Vec<f64> = case.p_values.iter().map(|p| p.unwrap_or(f64::NAN)).collect();
        let adjusted = stats::holm(&p);
        assert_eq!(adjusted.len(), case.adjusted.len(), "{name}");
        for (i, (actual, expected)) in adjusted.iter().zip(&case.adjusted).enumerate() {
            match expected {
                None => assert!(actual.is_nan(), "{name}: [{i}] = {actual}, reference NaN"),
                Some(expected) => assert_close(name, &format!("[{i}]"), *actual, *expected),
            }
        }
    }
}

#[test]
fn cohens_dz_matches_numpy() {
    let cases = reference().cohens_dz;
    assert!(cases.len() >= 8);
    for case in cases {
        let d_z = stats::cohens_dz(&case.differences).unwrap_or_else(|| panic!("{}: None", case.name));
        assert_close(&case.name, "d_z", d_z, case.d_z);
    }
}

#[test]
fn minimum_detectable_difference_matches_statsmodels() {
    let cases = reference().power_mde;
    assert!(cases.len() >= 10);
    for case in cases {
        let name = &case.name;
        let mde = stats::minimum_detectable_difference(case.sd, case.n, case.alpha, case.power)
            .unwrap_or_else(|| panic!("{name}: None"));
        // Against a tight root of statsmodels' own power function...
        assert_close(name, "mde", mde, case.mde);
        // ...and against solve_power itself, whose root finder stops within
        // about 3e-6 of the standardized effect size.
        let loose = 1e-5 * case.sd;
        assert!(
            (mde - case.mde_statsmodels).abs() <= loose,
            "{name}: mde = {mde:e}, statsmodels solve_power {:e}",
            case.mde_statsmodels
        );
    }
}

#[test]
fn required_samples_matches_statsmodels() {
    let cases = reference().power_n;
    assert!(cases.len() >= 10);
    for case in cases {
        let n = stats::required_samples(case.sd, case.difference, case.alpha, case.power)
            .unwrap_or_else(|| panic!("{}: None", case.name));
        assert_eq!(n, case.required, "{}", case.name);
    }
}

#[test]
fn pass_at_k_matches_the_exact_and_the_numpy_formulas() {
    let cases = reference().pass_at_k;
    assert!(cases.len() >= 12);
    for case in cases {
        let name = &case.name;
        let at = stats::pass_at_k(case.n, case.c, case.k).unwrap_or_else(|| panic!("{name}: None"));
        assert_close(name, "pass@k (math.comb)", at, case.pass_at_k);
        assert_close(name, "pass@k (numpy)", at, case.pass_at_k_numpy);
        let hat = stats::pass_hat_k(case.n, case.c, case.k).unwrap_or_else(|| panic!("{name}: None"));
        assert_close(name, "pass^k (math.comb)", hat, case.pass_hat_k);
    }
}
