//! Checks `evalkit_reports::stats` against reference values computed by
//! statsmodels, scipy and numpy (`fixtures/make_stats_fixtures.py`; see
//! `fixtures/README.md`).

use evalkit_reports::stats;
use serde::Deserialize;

const REFERENCE: &str = include_str!("fixtures/stats_reference.json");

/// Agreement required: 1e-9, relative to the magnitude for values above 1
/// (the `large_offset` case is around 1e6).
fn assert_close(case: &str, what: &str, actual: f64, expected: f64) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!((actual - expected).abs() <= tolerance, "{case}: {what} = {actual:e}, reference {expected:e}");
}

#[derive(Deserialize)]
struct Reference {
    wilson: Vec<WilsonCase>,
    t_interval: Vec<TCase>,
    percentile: Vec<PercentileCase>,
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
