//! The counting and averaging rules of [`super::analyze`].

use super::*;
use crate::test_support::{binary, failure, metric, response, results, variant};
use evalkit_record::results::{CiMethod, Comparison, Direction, Scale};

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-12)
}

fn assert_counts_add_up(results: &RunResults) {
    for a in &results.aggregates {
        assert_eq!(a.valid + a.invalid + a.errors + a.missing, a.total, "{a:?}");
    }
}

#[test]
fn repeats_are_averaged_per_sample_first() {
    let records = [
        response("a", "s1", 0, &[("em", Some(1.0))]),
        response("a", "s1", 1, &[("em", Some(1.0))]),
        response("a", "s2", 0, &[("em", Some(1.0))]),
        response("a", "s2", 1, &[("em", Some(0.0))]),
        response("a", "s3", 0, &[("em", Some(0.0))]),
        response("a", "s3", 1, &[("em", Some(0.0))]),
    ];
    let r = results(vec![variant("a", 6)], vec![binary("em")], &records);
    let agg = r.aggregate("a", "em").unwrap();
    assert_eq!((agg.n_samples, agg.valid, agg.total), (3, 6, 6));
    // Per-sample means 1, 0.5, 0.
    assert!(close(agg.mean, 0.5));
    assert!(close(agg.std_dev, 0.5));
    assert!(close(agg.std_error, 0.5 / 3f64.sqrt()));
    let ci = agg.ci.unwrap();
    assert_eq!(ci.method, CiMethod::T, "fractional per-sample means are not counts");
    let expected = stats::t_interval(&[1.0, 0.5, 0.0], CI_LEVEL).unwrap();
    assert_eq!((ci.low, ci.high), (expected.low, expected.high));
}

#[test]
fn a_sample_with_fewer_valid_repeats_weighs_the_same() {
    let records = [
        response("a", "s1", 0, &[("em", Some(1.0))]),
        response("a", "s1", 1, &[("em", Some(1.0))]),
        response("a", "s1", 2, &[("em", Some(1.0))]),
        response("a", "s2", 0, &[("em", Some(0.0))]),
        failure("a", "s2", 1),
        failure("a", "s2", 2),
    ];
    let r = results(vec![variant("a", 6)], vec![binary("em")], &records);
    let agg = r.aggregate("a", "em").unwrap();
    // Task-level mean would be 0.75; per-sample it is (1 + 0) / 2.
    assert!(close(agg.mean, 0.5));
    assert_eq!((agg.valid, agg.errors, agg.n_samples), (4, 2, 2));
}

#[test]
fn every_task_is_counted_exactly_once() {
    let records = [
        response("a", "s1", 0, &[("em", Some(1.0))]),
        response("a", "s2", 0, &[("em", Some(0.0))]),
        response("a", "s3", 0, &[("em", None)]),
        response("a", "s4", 0, &[("other", Some(1.0))]),
        failure("a", "s5", 0),
    ];
    let r = results(vec![variant("a", 6)], vec![binary("em")], &records);
    let agg = r.aggregate("a", "em").unwrap();
    assert_eq!(
        (agg.valid, agg.invalid, agg.errors, agg.missing, agg.total),
        (2, 2, 1, 1, 6),
        "a null score and an absent score are both invalid"
    );
    assert!(!r.run.complete);
    assert_counts_add_up(&r);
}

#[test]
fn non_finite_scores_are_invalid() {
    let records =
        [response("a", "s1", 0, &[("x", Some(f64::NAN))]), response("a", "s2", 0, &[("x", Some(f64::INFINITY))])];
    let m = metric("x", Scale::Continuous, Direction::HigherIsBetter, None);
    let r = results(vec![variant("a", 2)], vec![m], &records);
    let agg = r.aggregate("a", "x").unwrap();
    assert_eq!((agg.valid, agg.invalid, agg.mean), (0, 2, None));
}

#[test]
fn binary_with_one_repeat_uses_wilson() {
    let records: Vec<_> =
        (0..10).map(|i| response("a", &format!("s{i}"), 0, &[("em", Some(if i < 7 { 1.0 } else { 0.0 }))])).collect();
    let r = results(vec![variant("a", 10)], vec![binary("em")], &records);
    let ci = r.aggregate("a", "em").unwrap().ci.unwrap();
    assert_eq!(ci.method, CiMethod::Wilson);
    assert_eq!(ci.level, 0.95);
    let expected = stats::wilson_interval(7, 10, 0.95).unwrap();
    assert_eq!((ci.low, ci.high), (expected.low, expected.high));
    assert!(r.run.complete);
}

#[test]
fn continuous_and_odd_binary_values_use_t() {
    let records = [
        response("a", "s1", 0, &[("f1", Some(0.25)), ("em", Some(1.0))]),
        response("a", "s2", 0, &[("f1", Some(0.75)), ("em", Some(0.5))]),
        response("a", "s3", 0, &[("f1", Some(1.0)), ("em", Some(0.0))]),
    ];
    let f1 = metric("f1", Scale::Continuous, Direction::HigherIsBetter, None);
    let r = results(vec![variant("a", 3)], vec![f1, binary("em")], &records);
    assert_eq!(r.aggregate("a", "f1").unwrap().ci.unwrap().method, CiMethod::T);
    // A "binary" metric that produced 0.5 is not a count; don't pretend it is.
    assert_eq!(r.aggregate("a", "em").unwrap().ci.unwrap().method, CiMethod::T);
}

#[test]
fn one_sample_has_a_mean_but_no_interval() {
    let records = [response("a", "s1", 0, &[("em", Some(1.0))]), response("a", "s1", 1, &[("em", Some(0.0))])];
    let r = results(vec![variant("a", 2)], vec![binary("em")], &records);
    let agg = r.aggregate("a", "em").unwrap();
    assert_eq!((agg.n_samples, agg.mean), (1, Some(0.5)));
    assert_eq!((agg.std_dev, agg.std_error, agg.ci), (None, None, None));
}

#[test]
fn no_records_at_all() {
    let r = results(vec![variant("a", 4), variant("b", 4)], vec![binary("em")], &[]);
    assert_eq!(r.aggregates.len(), 2);
    for agg in &r.aggregates {
        assert_eq!((agg.n_samples, agg.missing, agg.total, agg.mean), (0, 4, 4, None));
    }
    assert_eq!(r.usage[0].latency_p50_seconds, None);
    assert!(!r.run.complete);
    assert_counts_add_up(&r);
}

#[test]
fn lower_is_better_metrics_are_summarised_the_same_way() {
    let records = [
        response("a", "s1", 0, &[("latency", Some(2.0)), ("refused", Some(1.0))]),
        response("a", "s2", 0, &[("latency", Some(4.0)), ("refused", Some(0.0))]),
        response("a", "s3", 0, &[("latency", Some(9.0)), ("refused", Some(0.0))]),
    ];
    let latency = metric("latency", Scale::Continuous, Direction::LowerIsBetter, Some("s"));
    let refused = metric("refused", Scale::Binary, Direction::LowerIsBetter, None);
    let r = results(vec![variant("a", 3)], vec![latency, refused], &records);
    assert_eq!(r.metric("latency").unwrap().direction, Direction::LowerIsBetter);
    let lat = r.aggregate("a", "latency").unwrap();
    assert!(close(lat.mean, 5.0));
    let ci = lat.ci.unwrap();
    assert!(ci.low < 5.0 && ci.high > 5.0 && ci.method == CiMethod::T);
    // Direction does not flip what is counted: the rate is still of 1s.
    let refused = r.aggregate("a", "refused").unwrap();
    assert!(close(refused.mean, 1.0 / 3.0));
    let expected = stats::wilson_interval(1, 3, CI_LEVEL).unwrap();
    assert_eq!(refused.ci.map(|c| (c.low, c.method)), Some((expected.low, CiMethod::Wilson)));
}

#[test]
fn the_last_record_of_a_task_wins() {
    let records = [failure("a", "s1", 0), response("a", "s1", 0, &[("em", Some(1.0))])];
    let r = results(vec![variant("a", 1)], vec![binary("em")], &records);
    let agg = r.aggregate("a", "em").unwrap();
    assert_eq!((agg.valid, agg.errors, agg.total), (1, 0, 1));
    assert_eq!(r.usage[0].tasks, 1);
    assert!(r.run.complete);
}

#[test]
fn more_records_than_planned_widen_the_total() {
    let records = [response("a", "s1", 0, &[("em", Some(1.0))]), response("a", "s2", 0, &[("em", Some(1.0))])];
    let r = results(vec![variant("a", 1)], vec![binary("em")], &records);
    let agg = r.aggregate("a", "em").unwrap();
    assert_eq!((agg.valid, agg.total, agg.missing), (2, 2, 0));
}

#[test]
fn records_outside_the_plan_are_not_reported() {
    let records = [response("a", "s1", 0, &[("em", Some(1.0))]), response("zzz", "s1", 0, &[("em", Some(0.0))])];
    let r = results(vec![variant("a", 1)], vec![binary("em")], &records);
    assert_eq!(r.aggregates.len(), 1);
    assert_eq!(r.usage.len(), 1);
}

#[test]
fn usage_totals() {
    let mut cached = response("a", "s2", 1, &[("cost", Some(0.25))]);
    cached.cached = true;
    let records = [
        response("a", "s1", 0, &[("cost", Some(0.5))]),
        response("a", "s1", 1, &[("cost", None)]),
        cached,
        failure("a", "s2", 0),
    ];
    let cost = metric("cost", Scale::Continuous, Direction::LowerIsBetter, Some("USD"));
    let r = results(vec![variant("a", 4)], vec![cost], &records);
    let u = r.usage("a").unwrap();
    assert_eq!((u.tasks, u.responses, u.errors, u.cached), (4, 3, 1, 1));
    assert_eq!((u.input_tokens, u.output_tokens), (300, 30));
    // Latencies (test_support: 1 + repeat) are 1, 2, 2.
    assert!(close(u.latency_p50_seconds, 2.0));
    assert!(close(u.latency_p90_seconds, 2.0));
    assert!(close(u.cost_usd, 0.75));

    let r = results(vec![variant("a", 4)], vec![binary("em")], &records);
    assert_eq!(r.usage("a").unwrap().cost_usd, None, "no cost metric, no cost");
}

#[test]
fn results_round_trip_through_json() {
    let records = [response("a", "s1", 0, &[("em", Some(1.0))]), response("a", "s2", 0, &[("em", Some(0.0))])];
    let r = results(vec![variant("a", 2)], vec![binary("em")], &records);
    assert_eq!(r.schema_version, RESULTS_SCHEMA_VERSION);
    let json = serde_json::to_string_pretty(&r).unwrap();
    assert_eq!(serde_json::from_str::<RunResults>(&json).unwrap(), r);
}

#[test]
fn overflowing_scores_give_no_statistic_rather_than_infinity() {
    let records = [response("a", "s1", 0, &[("x", Some(f64::MAX))]), response("a", "s2", 0, &[("x", Some(f64::MAX))])];
    let m = metric("x", Scale::Continuous, Direction::HigherIsBetter, None);
    let r = results(vec![variant("a", 2)], vec![m], &records);
    let agg = r.aggregate("a", "x").unwrap();
    assert_eq!((agg.valid, agg.mean, agg.ci), (2, None, None));
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<RunResults>(&json).unwrap(), r);
}

#[test]
fn arbitrary_journals_keep_the_invariants() {
    // A small deterministic generator (no extra dependency): journals with
    // duplicates, unknown variants, odd scores and stale plans.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    for _ in 0..50 {
        let records: Vec<_> = (0..next(60))
            .map(|_| {
                let variant = ["a", "b", "unknown"][next(3) as usize];
                let sample = format!("s{}", next(8));
                let repeat = next(3) as u32;
                let score = [None, Some(0.0), Some(1.0), Some(0.5), Some(f64::NAN), Some(-3.0)][next(6) as usize];
                match next(4) {
                    0 => failure(variant, &sample, repeat),
                    1 => response(variant, &sample, repeat, &[]),
                    _ => response(variant, &sample, repeat, &[("em", score), ("cost", score)]),
                }
            })
            .collect();
        let cost = metric("cost", Scale::Continuous, Direction::LowerIsBetter, Some("USD"));
        let plan = vec![variant("a", next(30)), variant("b", next(30))];
        let r = results(plan, vec![binary("em"), cost], &records);
        assert_counts_add_up(&r);
        for a in &r.aggregates {
            assert!(a.n_samples <= a.valid);
            if let Some(ci) = a.ci {
                assert!(ci.low <= ci.high && ci.low.is_finite() && ci.high.is_finite(), "{a:?}");
            }
        }
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<RunResults>(&json).unwrap(), r);
        assert!(!crate::summary_table(&r).is_empty());
        assert!(crate::render_html(&r, &records).is_ok());
    }
}

/// Pairs of (baseline, candidate) scores of one binary metric `em`.
fn paired_binary(pairs: &[(f64, f64)]) -> RunResults {
    let mut records = Vec::new();
    for (i, (a, b)) in pairs.iter().enumerate() {
        records.push(response("a", &format!("s{i:03}"), 0, &[("em", Some(*a))]));
        records.push(response("b", &format!("s{i:03}"), 0, &[("em", Some(*b))]));
    }
    let n = pairs.len() as u64;
    results(vec![variant("a", n), variant("b", n)], vec![binary("em")], &records)
}

#[test]
fn identical_variants_show_no_difference() {
    let pairs: Vec<(f64, f64)> = (0..50).map(|i| (f64::from(i % 3 == 0), f64::from(i % 3 == 0))).collect();
    let r = paired_binary(&pairs);
    let c = r.comparison("b", "em").unwrap();
    assert_eq!((c.pairs, c.difference, c.p_value), (50, Some(0.0), Some(1.0)));
    assert_eq!(c.verdict, evalkit_record::results::Verdict::NoSignificantChange);
    assert_eq!(c.test, evalkit_record::results::TestKind::McnemarExact);
}

#[test]
fn a_known_difference_is_found_and_named() {
    // b fixes 12 of a's failures and breaks 1: McNemar exact p = 2 · P(X ≤ 1 | 13, ½).
    let mut pairs = vec![(0.0, 1.0); 12];
    pairs.push((1.0, 0.0));
    pairs.extend(vec![(1.0, 1.0); 30]);
    let r = paired_binary(&pairs);
    let c = r.comparison("b", "em").unwrap();
    let discordant = c.discordant.unwrap();
    assert_eq!((discordant.baseline_only, discordant.candidate_only), (1, 12));
    let exact = 2.0 * 14.0 / 8192.0;
    assert!((c.p_value.unwrap() - exact).abs() < 1e-12, "{c:?}");
    assert!((c.difference.unwrap() - 11.0 / 43.0).abs() < 1e-12);
    assert_eq!(c.verdict, evalkit_record::results::Verdict::Improved);
    assert!(c.minimum_detectable_difference.unwrap() > 0.0);
}

#[test]
fn holm_adjusts_over_every_comparison() {
    let mut records = Vec::new();
    for i in 0..20 {
        let s = format!("s{i}");
        let x = f64::from(i) / 10.0;
        records.push(response("a", &s, 0, &[("x", Some(x)), ("y", Some(x))]));
        records.push(response("b", &s, 0, &[("x", Some(x + 0.3 + f64::from(i % 2) * 0.1)), ("y", Some(x))]));
    }
    let m = |name: &str| metric(name, Scale::Continuous, Direction::HigherIsBetter, None);
    let r = results(vec![variant("a", 20), variant("b", 20)], vec![m("x"), m("y")], &records);
    let x = r.comparison("b", "x").unwrap();
    // Differences of 0.3 and 0.4, multiples of 0.1 up to rounding: the exact
    // test, every one of the 2^20 sign patterns counted.
    assert_eq!(x.test, evalkit_record::results::TestKind::SignFlipExact);
    assert_eq!((x.p_value, x.p_value_mc_se), (Some(2.0 / f64::from(1 << 20)), None));
    assert_eq!(x.p_adjusted, Some(4.0 / f64::from(1 << 20)), "Holm over two comparisons");
    assert_eq!(x.verdict, evalkit_record::results::Verdict::Improved);
    assert_eq!(r.comparison("b", "y").unwrap().verdict, evalkit_record::results::Verdict::NoSignificantChange);
}

#[test]
fn continuous_differences_get_a_monte_carlo_p_value_with_its_standard_error() {
    let mut records = Vec::new();
    for i in 0..40 {
        let s = format!("s{i}");
        // Irrational steps: on no lattice, too many pairs to enumerate.
        let x = (f64::from(i) * 0.7).sin();
        records.push(response("a", &s, 0, &[("x", Some(x))]));
        records.push(response("b", &s, 0, &[("x", Some(x + 0.05 + (f64::from(i) * 1.3).cos() / 3.0))]));
    }
    let m = metric("x", Scale::Continuous, Direction::HigherIsBetter, None);
    let r = results(vec![variant("a", 40), variant("b", 40)], vec![m], &records);
    let x = r.comparison("b", "x").unwrap();
    assert_eq!(x.test, evalkit_record::results::TestKind::SignFlipMonteCarlo);
    let (p, se) = (x.p_value.unwrap(), x.p_value_mc_se.unwrap());
    // 40 pairs: the most resamples, 100,000.
    assert_eq!(se, (p * (1.0 - p) / 100_000.0).sqrt());
    let json = serde_json::to_value(x).unwrap();
    assert_eq!(json["p_value_mc_se"], serde_json::json!(se));
    // Exact tests leave the field out of results.json.
    let exact = serde_json::to_value(Comparison { p_value_mc_se: None, ..x.clone() }).unwrap();
    assert!(exact.get("p_value_mc_se").is_none());
}

#[test]
fn clusters_make_the_interval_cluster_robust() {
    let mut records = Vec::new();
    for i in 0..12 {
        let mut record = response("a", &format!("s{i}"), 0, &[("em", Some(f64::from(i % 4 < 2)))]);
        record.cluster = Some(format!("doc{}", i / 4));
        records.push(record);
    }
    let r = results(vec![variant("a", 12)], vec![binary("em")], &records);
    let agg = r.aggregate("a", "em").unwrap();
    assert_eq!(agg.clusters, Some(3));
    assert_eq!(agg.ci.unwrap().method, CiMethod::ClusteredT);
}

#[test]
fn repeats_give_flakiness_and_pass_at_k() {
    // s1 passes 1 of 2, s2 2 of 2, s3 0 of 2.
    let records = [
        response("a", "s1", 0, &[("em", Some(1.0))]),
        response("a", "s1", 1, &[("em", Some(0.0))]),
        response("a", "s2", 0, &[("em", Some(1.0))]),
        response("a", "s2", 1, &[("em", Some(1.0))]),
        response("a", "s3", 0, &[("em", Some(0.0))]),
        response("a", "s3", 1, &[("em", Some(0.0))]),
    ];
    let mut input_run = crate::test_support::run_info();
    input_run.repeats = 2;
    let r = analyze(AnalysisInput {
        run: input_run,
        suite: serde_json::json!({}),
        variants: vec![variant("a", 6)],
        metrics: vec![binary("em")],
        records: &records,
        baseline: None,
        paired_test: Default::default(),
    });
    let repeats = r.aggregate("a", "em").unwrap().repeats.clone().unwrap();
    assert_eq!((repeats.samples, repeats.flaky_samples), (3, 1));
    // pass@1 = mean(1/2, 1, 0); pass@2 = mean(1, 1, 0); pass^2 = mean(0, 1, 0).
    assert!(close(Some(repeats.pass_at_k[0].value), 0.5));
    assert!(close(Some(repeats.pass_at_k[1].value), 2.0 / 3.0));
    assert!(close(Some(repeats.pass_hat_k[1].value), 1.0 / 3.0));
}

#[test]
fn invalid_scores_are_counted_by_cause() {
    let records =
        [response("a", "s1", 0, &[("em", None)]), response("a", "s2", 0, &[("em", None)]), response("a", "s3", 0, &[])];
    let r = results(vec![variant("a", 3)], vec![binary("em")], &records);
    let causes = &r.aggregate("a", "em").unwrap().invalid_causes;
    assert_eq!(causes.get("no answer found"), Some(&2));
    assert_eq!(causes.get("not scored"), Some(&1));
}

/// Variants `a` and `b` scored on a pass/fail metric `em` and a continuous
/// `score` whose per-sample difference b − a is `differences[i]`, compared
/// with `test`.
fn compared_with(test: PairedTest, differences: &[f64]) -> RunResults {
    let mut records = Vec::new();
    for (i, d) in differences.iter().enumerate() {
        let s = format!("s{i:03}");
        let base = (f64::from(i as u32) * 0.61).sin();
        records.push(response("a", &s, 0, &[("score", Some(base)), ("em", Some(f64::from(i % 2 == 0)))]));
        records.push(response("b", &s, 0, &[("score", Some(base + d)), ("em", Some(f64::from(i % 3 != 0)))]));
    }
    let n = differences.len() as u64;
    analyze(AnalysisInput {
        run: crate::test_support::run_info(),
        suite: serde_json::json!({}),
        variants: vec![variant("a", n), variant("b", n)],
        metrics: vec![binary("em"), metric("score", Scale::Continuous, Direction::HigherIsBetter, None)],
        records: &records,
        baseline: None,
        paired_test: test,
    })
}

#[test]
fn the_suites_paired_test_decides_for_continuous_metrics_only() {
    use evalkit_record::results::TestKind;
    let differences: Vec<f64> = (0..30).map(|i| 0.1 + (f64::from(i) * 1.7).cos() / 4.0).collect();
    let observed = |r: &RunResults| {
        let c = r.comparison("b", "score").unwrap();
        (c.test, c.p_value.unwrap(), c.p_value_mc_se)
    };
    let by_t = compared_with(PairedTest::T, &differences);
    let (kind, p, se) = observed(&by_t);
    let pairs = by_t.comparison("b", "score").unwrap().pairs;
    assert_eq!((kind, se, pairs), (TestKind::PairedT, None, 30));
    // The analysis subtracts scores, so its differences carry rounding.
    let expected = stats::paired_t_test(&differences).unwrap().p_value;
    assert!((p - expected).abs() <= 1e-9 * expected, "{p} vs {expected}");

    let by_wilcoxon = compared_with(PairedTest::Wilcoxon, &differences);
    let (kind, p, se) = observed(&by_wilcoxon);
    // 30 distinct differences: scipy's rule makes it exact.
    assert_eq!((kind, se), (TestKind::WilcoxonExact, None));
    assert_eq!(p, stats::wilcoxon_signed_rank(&differences).unwrap().p_value);
    let many: Vec<f64> = (0..80).map(|i| (f64::from(i) * 0.9).sin() + 0.2).collect();
    assert_eq!(observed(&compared_with(PairedTest::Wilcoxon, &many)).0, TestKind::WilcoxonNormal);

    // The default is the permutation test; pass/fail metrics keep McNemar's.
    assert_eq!(observed(&compared_with(PairedTest::default(), &differences)).0, TestKind::SignFlipMonteCarlo);
    for r in [&by_t, &by_wilcoxon] {
        assert_eq!(r.comparison("b", "em").unwrap().test, TestKind::McnemarExact);
    }
}

#[test]
fn sampled_sign_flip_tests_spread_a_fixed_budget_over_the_pairs() {
    use compare::sign_flip_resamples;
    assert_eq!(sign_flip_resamples(0), 100_000);
    assert_eq!(sign_flip_resamples(40), 100_000);
    assert_eq!(sign_flip_resamples(10_000), (1 << 25) / 10_000);
    assert_eq!(sign_flip_resamples(1_000_000), 1_000);
}

#[test]
fn paired_test_names_read_as_the_suite_writes_them() {
    for (name, test) in
        [("permutation", PairedTest::Permutation), ("t", PairedTest::T), ("wilcoxon", PairedTest::Wilcoxon)]
    {
        assert_eq!(serde_json::from_value::<PairedTest>(serde_json::json!(name)).unwrap(), test);
        assert_eq!(serde_json::to_value(test).unwrap(), serde_json::json!(name));
    }
    assert!(serde_json::from_value::<PairedTest>(serde_json::json!("sign-flip")).is_err());
}
