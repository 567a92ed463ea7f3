//! Gate evaluation: [`GateSpec`]s + results + baselines → [`GateResult`]s.

use std::collections::BTreeMap;

use super::{Baseline, GateSpec, GateStat};
use crate::analyze::compare::{Pairs, POWER};
use crate::analyze::sample_means;
use crate::format::Style;
use evalkit_record::journal::Record;
use evalkit_record::results::{Direction, GateResult, GateStatus, MetricInfo, RunResults, Verdict};
use evalkit_stats as stats;

/// Default confidence of regression gates.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;

/// Everything gates are checked against.
#[derive(Debug, Clone, Copy)]
pub struct GateInputs<'a> {
    /// The analysed run.
    pub results: &'a RunResults,
    /// Its journal (percentiles and paired differences need per-sample values).
    pub records: &'a [Record],
    /// The suite's gates.
    pub gates: &'a [GateSpec],
    /// Each regression gate's `baseline`, as written in the suite, loaded;
    /// `Err` says why it could not be (the gate then fails with that reason).
    pub baselines: &'a BTreeMap<String, Result<Baseline, String>>,
}

/// Check every gate on every variant it names, in suite order.
pub fn evaluate(inputs: GateInputs<'_>) -> Vec<GateResult> {
    let mut out = Vec::new();
    for spec in inputs.gates {
        let Some(metric) = inputs.results.metric(&spec.metric) else {
            out.push(failed(
                spec,
                spec.variant.as_deref().unwrap_or("*"),
                &format!("no metric named `{}`", spec.metric),
            ));
            continue;
        };
        for variant in variants(inputs.results, spec) {
            out.push(if spec.is_regression() {
                regression(inputs, spec, metric, variant)
            } else {
                threshold(inputs, spec, metric, variant)
            });
        }
    }
    out
}

/// The variants a gate applies to.
fn variants<'a>(results: &'a RunResults, spec: &'a GateSpec) -> Vec<&'a str> {
    match &spec.variant {
        Some(variant) => vec![variant.as_str()],
        None => results
            .variants
            .iter()
            .map(|v| v.name.as_str())
            .filter(|name| spec.baseline_variant.as_deref() != Some(*name))
            .collect(),
    }
}

fn failed(spec: &GateSpec, variant: &str, message: &str) -> GateResult {
    GateResult {
        name: spec.display_name(variant),
        metric: spec.metric.clone(),
        variant: variant.to_owned(),
        status: GateStatus::Failed,
        verdict: None,
        observed: None,
        message: message.to_owned(),
        warnings: Vec::new(),
    }
}

fn threshold(inputs: GateInputs<'_>, spec: &GateSpec, metric: &MetricInfo, variant: &str) -> GateResult {
    let style = Style::of(metric);
    let what = format!("{} of `{}` for `{variant}`", spec.stat.name(), metric.name);
    let Some(aggregate) = inputs.results.aggregate(variant, &metric.name) else {
        return failed(spec, variant, &format!("no variant named `{variant}`"));
    };
    let percentile = |p: f64| {
        let mut values: Vec<f64> = sample_means(inputs.records, variant, &metric.name).into_values().collect();
        values.sort_by(f64::total_cmp);
        stats::percentile(&values, p)
    };
    let observed = match spec.stat {
        GateStat::Mean => aggregate.mean,
        GateStat::CiLow => aggregate.ci.map(|ci| ci.low),
        GateStat::CiHigh => aggregate.ci.map(|ci| ci.high),
        GateStat::Median => aggregate.median,
        GateStat::P50 | GateStat::P90 | GateStat::P95 | GateStat::P99 => spec.stat.percentile().and_then(percentile),
    };
    let Some(observed) = observed else {
        let why = if aggregate.n_samples < 2 && spec.stat != GateStat::Mean {
            format!("{what}: not computable from {} valid sample(s)", aggregate.n_samples)
        } else {
            format!("{what}: no valid scores")
        };
        return failed(spec, variant, &why);
    };
    let mut broken = Vec::new();
    if let Some(min) = spec.min.filter(|min| observed < *min) {
        broken.push(format!("below the minimum {}", style.value(min)));
    }
    if let Some(max) = spec.max.filter(|max| observed > *max) {
        broken.push(format!("above the maximum {}", style.value(max)));
    }
    let mut required = Vec::new();
    if let Some(min) = spec.min {
        required.push(format!("at least {}", style.value(min)));
    }
    if let Some(max) = spec.max {
        required.push(format!("at most {}", style.value(max)));
    }
    let (status, message) = if broken.is_empty() {
        (GateStatus::Passed, format!("{what} is {} ({} required)", style.value(observed), required.join(" and ")))
    } else {
        (GateStatus::Failed, format!("{what} is {}, {}", style.value(observed), broken.join(" and ")))
    };
    let mut warnings = Vec::new();
    let bad = aggregate.invalid + aggregate.errors + aggregate.missing;
    if bad > 0 {
        warnings.push(format!(
            "{bad} of {} task(s) had no valid score ({} invalid, {} errors, {} missing) and are not in the figure",
            aggregate.total, aggregate.invalid, aggregate.errors, aggregate.missing
        ));
    }
    GateResult {
        name: spec.display_name(variant),
        metric: metric.name.clone(),
        variant: variant.to_owned(),
        status,
        verdict: None,
        observed: Some(observed),
        message,
        warnings,
    }
}

fn regression(inputs: GateInputs<'_>, spec: &GateSpec, metric: &MetricInfo, variant: &str) -> GateResult {
    let style = Style::of(metric);
    let margin = spec.margin.unwrap_or(0.0);
    let confidence = spec.confidence.unwrap_or(DEFAULT_CONFIDENCE);
    let candidate = sample_means(inputs.records, variant, &metric.name);
    let (baseline, against) = match (&spec.baseline, &spec.baseline_variant) {
        (Some(path), _) => match inputs.baselines.get(path) {
            Some(Ok(file)) => match file.scores(variant, &metric.name) {
                Some(scores) => (scores.clone(), format!("baseline `{path}` (run {})", file.run_id)),
                None => {
                    let why = format!("baseline `{path}` has no scores of `{}` for `{variant}`", metric.name);
                    return failed(spec, variant, &why);
                }
            },
            Some(Err(why)) => return failed(spec, variant, &format!("cannot use baseline `{path}`: {why}")),
            None => return failed(spec, variant, &format!("baseline `{path}` was not loaded")),
        },
        (None, Some(other)) => (sample_means(inputs.records, other, &metric.name), format!("variant `{other}`")),
        (None, None) => return failed(spec, variant, "not a regression gate"),
    };
    let pairs = Pairs::from_means(metric, &baseline, &candidate, |zero_one| zero_one);
    let differences = pairs.differences();
    // Gains point the way the metric improves, so one rule serves both directions.
    let sign = if metric.direction == Direction::LowerIsBetter { -1.0 } else { 1.0 };
    let gains: Vec<f64> = differences.iter().map(|d| d * sign).collect();
    let what = format!("`{}` of `{variant}` against {against}", metric.name);
    let n = gains.len();
    let (Some(difference), Some(ci)) = (stats::mean(&differences), stats::t_interval(&gains, confidence)) else {
        let mut result = failed(
            spec,
            variant,
            &format!("{what}: {n} paired sample(s), at least 2 are needed (do the sample ids match?)"),
        );
        result.verdict = Some(Verdict::NotEnoughData);
        return result;
    };
    let level = format!("{:.0}%", confidence * 100.0);
    // The interval is of gains; people read differences (candidate − baseline).
    let (low, high) = if sign > 0.0 { (ci.low, ci.high) } else { (-ci.high, -ci.low) };
    let interval = format!("[{}, {}]", style.signed(low), style.signed(high));
    let (verdict, status, message) = if ci.high < -margin {
        let message = format!(
            "{what}: regressed by {} ({level} CI {interval}, {n} pairs), beyond the tolerated {}",
            style.signed(difference),
            style.magnitude(margin)
        );
        (Verdict::Regressed, GateStatus::Failed, message)
    } else if ci.low > 0.0 {
        let message = format!("{what}: improved by {} ({level} CI {interval}, {n} pairs)", style.signed(difference));
        (Verdict::Improved, GateStatus::Passed, message)
    } else {
        let message = format!(
            "{what}: no significant change, {} ({level} CI {interval}, {n} pairs; tolerated worsening {})",
            style.signed(difference),
            style.magnitude(margin)
        );
        (Verdict::NoSignificantChange, GateStatus::Passed, message)
    };
    let mut warnings = Vec::new();
    let sd = stats::std_dev(&gains).unwrap_or(0.0);
    if let Some(mde) = stats::minimum_detectable_difference(sd, n as u64, 1.0 - confidence, POWER) {
        if mde > margin && verdict != Verdict::Regressed {
            // A zero margin cannot be "detected"; half the detectable change is
            // then a useful target to size the sample for.
            let needed = stats::required_samples(sd, margin.max(mde / 2.0), 1.0 - confidence, POWER);
            warnings.push(format!(
                "too few samples to see a worsening of {}: {n} pairs detect only changes beyond about {} (80% power){}",
                style.magnitude(margin),
                style.magnitude(mde),
                needed.map_or(String::new(), |m| format!(
                    "; about {m} samples would detect {}",
                    style.magnitude(margin.max(mde / 2.0))
                ))
            ));
        }
    }
    GateResult {
        name: spec.display_name(variant),
        metric: metric.name.clone(),
        variant: variant.to_owned(),
        status,
        verdict: Some(verdict),
        observed: Some(difference),
        message,
        warnings,
    }
}
