//! Threshold and regression gates, and baseline files.

use std::collections::BTreeMap;

use super::*;
use crate::test_support::{binary, metric, response, results, variant};
use evalkit_record::journal::Record;
use evalkit_record::results::{Direction, GateStatus, RunResults, Scale, Verdict};

/// `n` samples; `a` passes all of them, `b` passes those `passes_b` says.
fn two_variants(n: usize, passes_b: impl Fn(usize) -> bool) -> (RunResults, Vec<Record>) {
    let mut records = Vec::new();
    for i in 0..n {
        let sample = format!("s{i:03}");
        let latency = 0.1 + (i % 10) as f64 * 0.1;
        records.push(response("a", &sample, 0, &[("em", Some(1.0)), ("latency", Some(latency))]));
        let b = if passes_b(i) { 1.0 } else { 0.0 };
        records.push(response("b", &sample, 0, &[("em", Some(b)), ("latency", Some(latency))]));
    }
    let latency = metric("latency", Scale::Continuous, Direction::LowerIsBetter, Some("s"));
    let r = results(vec![variant("a", n as u64), variant("b", n as u64)], vec![binary("em"), latency], &records);
    (r, records)
}

fn spec(toml_text: &str) -> GateSpec {
    toml::from_str(toml_text).unwrap()
}

fn run(results: &RunResults, records: &[Record], gates: &[GateSpec]) -> Vec<evalkit_record::results::GateResult> {
    run_with(results, records, gates, &BTreeMap::new())
}

fn run_with(
    results: &RunResults,
    records: &[Record],
    gates: &[GateSpec],
    baselines: &BTreeMap<String, Result<Baseline, String>>,
) -> Vec<evalkit_record::results::GateResult> {
    evaluate(GateInputs { results, records, gates, baselines })
}

#[test]
fn thresholds_check_each_variant() {
    let (r, records) = two_variants(40, |i| i % 4 != 0);
    let out = run(&r, &records, &[spec("metric = \"em\"\nmin = 0.8")]);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].status, GateStatus::Passed, "{:?}", out[0]);
    assert_eq!(out[1].status, GateStatus::Failed, "{:?}", out[1]);
    assert_eq!(out[1].observed, Some(0.75));
    assert!(out[1].message.contains("below the minimum 80.0%"), "{}", out[1].message);
}

#[test]
fn ci_bounds_and_percentiles() {
    let (r, records) = two_variants(40, |i| i % 4 != 0);
    // b's mean is 0.75 but the Wilson lower bound is below 0.7.
    let out = run(&r, &records, &[spec("metric = \"em\"\nvariant = \"b\"\nstat = \"ci_low\"\nmin = 0.7")]);
    assert_eq!(out[0].status, GateStatus::Failed, "{:?}", out[0]);
    // Latencies 0.1..1.0 s: p95 of 40 values is 1.0 s.
    let out = run(&r, &records, &[spec("metric = \"latency\"\nvariant = \"a\"\nstat = \"p95\"\nmax = 0.9")]);
    assert_eq!(out[0].status, GateStatus::Failed);
    assert!((out[0].observed.unwrap() - 1.0).abs() < 1e-12);
    let out = run(&r, &records, &[spec("metric = \"latency\"\nvariant = \"a\"\nstat = \"p50\"\nmax = 0.9")]);
    assert_eq!(out[0].status, GateStatus::Passed);
}

#[test]
fn unknown_names_fail_with_a_reason() {
    let (r, records) = two_variants(5, |_| true);
    let out = run(
        &r,
        &records,
        &[spec("metric = \"nope\"\nmin = 0.1"), spec("metric = \"em\"\nvariant = \"zz\"\nmin = 0.1")],
    );
    assert!(out.iter().all(|g| g.status == GateStatus::Failed));
    assert!(out[0].message.contains("no metric named `nope`"));
    assert!(out[1].message.contains("no variant named `zz`"));
}

#[test]
fn identical_variants_never_regress() {
    let (r, records) = two_variants(60, |_| true);
    let out = run(&r, &records, &[spec("metric = \"em\"\nbaseline_variant = \"a\"")]);
    assert_eq!(out.len(), 1, "the baseline variant is not gated against itself");
    assert_eq!(out[0].status, GateStatus::Passed);
    assert_eq!(out[0].verdict, Some(Verdict::NoSignificantChange));
    assert_eq!(out[0].observed, Some(0.0));
}

#[test]
fn a_real_drop_beyond_the_margin_fails() {
    // b fails half of the samples: a 50-point drop, far beyond 2 points.
    let (r, records) = two_variants(60, |i| i % 2 == 0);
    let out = run(&r, &records, &[spec("metric = \"em\"\nbaseline_variant = \"a\"\nmargin = 0.02")]);
    assert_eq!(out[0].status, GateStatus::Failed, "{:?}", out[0]);
    assert_eq!(out[0].verdict, Some(Verdict::Regressed));
    assert!(out[0].message.contains("regressed by -50.0 pts"), "{}", out[0].message);
}

#[test]
fn a_drop_within_noise_passes_with_a_warning() {
    // Two failures in 20: the interval reaches well past the 1-point margin
    // on both sides, so the drop is not established, and the sample is too
    // small to see a 1-point drop at all.
    let (r, records) = two_variants(20, |i| i >= 2);
    let out = run(&r, &records, &[spec("metric = \"em\"\nbaseline_variant = \"a\"\nmargin = 0.01")]);
    assert_eq!(out[0].status, GateStatus::Passed, "{:?}", out[0]);
    assert_eq!(out[0].verdict, Some(Verdict::NoSignificantChange));
    assert!(out[0].warnings.iter().any(|w| w.contains("too few samples")), "{:?}", out[0].warnings);
}

#[test]
fn lower_is_better_metrics_regress_upwards() {
    let mut records = Vec::new();
    for i in 0..30 {
        let sample = format!("s{i}");
        let latency = 1.0 + i as f64 * 0.01;
        records.push(response("a", &sample, 0, &[("latency", Some(latency))]));
        records.push(response("b", &sample, 0, &[("latency", Some(latency + 0.5))]));
    }
    let latency = metric("latency", Scale::Continuous, Direction::LowerIsBetter, Some("s"));
    let r = results(vec![variant("a", 30), variant("b", 30)], vec![latency], &records);
    let out = run(&r, &records, &[spec("metric = \"latency\"\nbaseline_variant = \"a\"\nmargin = 0.1")]);
    assert_eq!(out[0].verdict, Some(Verdict::Regressed), "{:?}", out[0]);
    let out = run(&r, &records, &[spec("metric = \"latency\"\nvariant = \"a\"\nbaseline_variant = \"b\"")]);
    assert_eq!(out[0].verdict, Some(Verdict::Improved), "{:?}", out[0]);
}

#[test]
fn baseline_files_round_trip_and_pair_by_sample_id() {
    let (r, records) = two_variants(40, |i| i % 2 == 0);
    let baseline = super::baseline_of_run(&r, &records);
    let text = serde_json::to_string_pretty(&baseline).unwrap();
    let read = Baseline::parse(&text).unwrap();
    assert_eq!(read, baseline);
    assert_eq!(read.scores("b", "em").unwrap().len(), 40);

    // Against itself: no change for either variant.
    let baselines = BTreeMap::from([("base.json".to_owned(), Ok(read.clone()))]);
    let gate = spec("metric = \"em\"\nbaseline = \"base.json\"");
    let out = run_with(&r, &records, std::slice::from_ref(&gate), &baselines);
    assert!(out.iter().all(|g| g.verdict == Some(Verdict::NoSignificantChange)), "{out:?}");

    // A new run where b fixed its failures improves on the baseline.
    let (fixed, fixed_records) = two_variants(40, |_| true);
    let out = run_with(&fixed, &fixed_records, std::slice::from_ref(&gate), &baselines);
    assert_eq!(out[1].verdict, Some(Verdict::Improved), "{:?}", out[1]);

    // And the old run regresses against the fixed one as a baseline.
    let newer = BTreeMap::from([("base.json".to_owned(), Ok(super::baseline_of_run(&fixed, &fixed_records)))]);
    let out = run_with(&r, &records, std::slice::from_ref(&gate), &newer);
    assert_eq!(out[1].verdict, Some(Verdict::Regressed));
    assert_eq!(out[1].status, GateStatus::Failed);
}

#[test]
fn unusable_baselines_fail_the_gate() {
    let (r, records) = two_variants(5, |_| true);
    let baselines = BTreeMap::from([("gone.json".to_owned(), Err("cannot read `gone.json`: not found".to_owned()))]);
    let out = run_with(&r, &records, &[spec("metric = \"em\"\nbaseline = \"gone.json\"")], &baselines);
    assert!(out.iter().all(|g| g.status == GateStatus::Failed && g.message.contains("not found")));
    assert!(matches!(Baseline::parse("{\"schema_version\": 9}"), Err(BaselineError::Version { found: 9 })));
    assert!(Baseline::parse("[]").is_err());
}
