//! The headline at the top of the report: what a reader deciding "ship it or
//! not" needs in a few lines. Each candidate against the baseline, metric by
//! metric, with the verdict and the (Holm-adjusted) p-value behind it; what
//! the candidate costs in money and latency; how the gates ended; and
//! warnings that change how every other number should be read.
//!
//! Only the comparisons decide "beats" or "is worse": a difference of means
//! without a test is shown as a ranking, never as a win.

use serde::Serialize;

use super::view::{self, cost_per_sample, main_metric, style_of, verdict_label};
use crate::format;
use evalkit_record::results::{Comparison, Direction, GateStatus, RunResults, Verdict};

#[derive(Serialize)]
pub(super) struct Headline<'a> {
    /// One line per candidate variant that has comparisons.
    candidates: Vec<CandidateLine<'a>>,
    /// The main metric, variants best first (shown whatever the comparisons).
    ranking: Option<Ranking<'a>>,
    gates: Option<GateSummary<'a>>,
    /// Things that qualify every number on the page.
    warnings: Vec<String>,
    /// Why there is no comparison, when there is none.
    no_comparison: Option<&'static str>,
}

#[derive(Serialize)]
struct CandidateLine<'a> {
    candidate: &'a str,
    baseline: &'a str,
    claims: Vec<Claim>,
    /// "2.1× the cost per sample", "p50 latency 0.8s vs 0.5s".
    resources: Vec<String>,
}

/// One metric's outcome, as a clause that follows the candidate's name.
#[derive(Serialize)]
struct Claim {
    class: &'static str,
    text: String,
    /// Latency or cost: said after the quality metrics.
    #[serde(skip)]
    resource: bool,
}

#[derive(Serialize)]
struct Ranking<'a> {
    metric: &'a str,
    direction: &'static str,
    entries: Vec<RankEntry<'a>>,
}

#[derive(Serialize)]
struct RankEntry<'a> {
    variant: &'a str,
    color: String,
    mean: String,
    ci: String,
}

#[derive(Serialize)]
struct GateSummary<'a> {
    passed: usize,
    failed: usize,
    /// (gate name, message) of each failed gate.
    failures: Vec<(&'a str, &'a str)>,
}

pub(super) fn headline(results: &RunResults) -> Headline<'_> {
    let mut candidates: Vec<CandidateLine<'_>> = Vec::new();
    for c in &results.comparisons {
        match candidates.last_mut() {
            Some(line) if line.candidate == c.candidate && line.baseline == c.baseline => {
                line.claims.push(claim(results, c))
            }
            _ => candidates.push(CandidateLine {
                candidate: &c.candidate,
                baseline: &c.baseline,
                claims: vec![claim(results, c)],
                resources: resources(results, &c.candidate, &c.baseline),
            }),
        }
    }
    // Quality before latency and cost; within each, regressions, then
    // improvements, then the rest, in the order of the comparisons.
    for line in &mut candidates {
        line.claims.sort_by_key(|c| {
            let rank = match c.class {
                "bad" => 0,
                "ok" => 1,
                "neutral" => 2,
                _ => 3,
            };
            (c.resource, rank)
        });
    }
    let no_comparison = match (results.variants.len(), candidates.is_empty()) {
        (0 | 1, _) => Some("One variant: nothing to compare."),
        (_, true) => Some("These results have no paired comparisons of the variants."),
        _ => None,
    };
    Headline {
        candidates,
        ranking: ranking(results),
        gates: gates(results),
        warnings: warnings(results),
        no_comparison,
    }
}

fn claim(results: &RunResults, c: &Comparison) -> Claim {
    let style = style_of(results, &c.metric);
    let difference = c.difference.filter(|d| d.is_finite()).map(|d| style.signed(d));
    let p = match (c.p_adjusted, c.p_value) {
        (Some(p), _) => Some(format!("{}, Holm-adjusted", format::p_equals(p))),
        (None, Some(p)) => Some(format::p_equals(p)),
        _ => None,
    };
    let evidence = [difference.clone(), p.clone()].into_iter().flatten().collect::<Vec<_>>().join(", ");
    let (_, class) = verdict_label(c.verdict);
    let text = match c.verdict {
        Verdict::Improved | Verdict::Regressed => {
            let verb = if c.verdict == Verdict::Improved { "beats" } else { "is worse than" };
            let by = difference.map(|d| format!(" by {d}")).unwrap_or_default();
            let p = p.map(|p| format!(" ({p})")).unwrap_or_default();
            format!("{verb} {} on {}{by}{p}", c.baseline, c.metric)
        }
        Verdict::NoSignificantChange => {
            let mde = c
                .minimum_detectable_difference
                .filter(|m| m.is_finite())
                .map(|m| format!("; could detect about ±{}", style.signed(m.abs()).trim_start_matches('+')))
                .unwrap_or_default();
            format!("shows no significant change on {} ({evidence}{mde})", c.metric)
        }
        Verdict::NotEnoughData => format!("has too little data on {} to tell ({} pairs)", c.metric, c.pairs),
    };
    Claim { class, text, resource: results.metric(&c.metric).is_some_and(view::is_resource_metric) }
}

/// Cost and latency of `candidate` next to `baseline`'s.
fn resources(results: &RunResults, candidate: &str, baseline: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(c), Some(b)) = (cost_per_sample(results, candidate), cost_per_sample(results, baseline)) {
        if b > 0.0 {
            out.push(format!(
                "{} the cost per sample ({} vs {})",
                format::ratio(c / b),
                format::usd(c),
                format::usd(b)
            ));
        }
    }
    let p50 = |v: &str| results.usage(v).and_then(|u| u.latency_p50_seconds).filter(|s| s.is_finite());
    if let (Some(c), Some(b)) = (p50(candidate), p50(baseline)) {
        out.push(format!("p50 latency {} vs {}", format::seconds(c), format::seconds(b)));
    }
    out
}

fn ranking(results: &RunResults) -> Option<Ranking<'_>> {
    let metric = main_metric(results)?;
    let style = format::Style::of(metric);
    let mut rows: Vec<_> = results.aggregates.iter().filter(|a| a.metric == metric.name).collect();
    let sign = if metric.direction == Direction::LowerIsBetter { 1.0 } else { -1.0 };
    // Best first; variants without a mean last.
    rows.sort_by(|a, b| {
        let key = |m: Option<f64>| m.filter(|v| v.is_finite()).map_or(f64::INFINITY, |v| sign * v);
        key(a.mean).total_cmp(&key(b.mean))
    });
    Some(Ranking {
        metric: &metric.name,
        direction: view::direction_label(Some(metric)),
        entries: rows
            .into_iter()
            .map(|a| RankEntry {
                variant: &a.variant,
                color: view::color_of(results, &a.variant).hex(),
                mean: style.option(a.mean),
                ci: style.interval(a.ci.as_ref()),
            })
            .collect(),
    })
}

fn gates(results: &RunResults) -> Option<GateSummary<'_>> {
    if results.gates.is_empty() {
        return None;
    }
    let failed: Vec<_> = results.gates.iter().filter(|g| g.status == GateStatus::Failed).collect();
    Some(GateSummary {
        passed: results.gates.len() - failed.len(),
        failed: failed.len(),
        failures: failed.iter().map(|g| (g.name.as_str(), g.message.as_str())).collect(),
    })
}

fn warnings(results: &RunResults) -> Vec<String> {
    let mut out = Vec::new();
    let missing = results.missing_tasks();
    if !results.run.complete || missing > 0 {
        out.push(format!(
            "Incomplete run: {missing} planned task(s) have no record; every figure covers only the tasks that finished."
        ));
    }
    let errors: u64 = results.usage.iter().map(|u| u.errors).sum();
    if errors > 0 {
        out.push(format!(
            "{errors} task(s) ended in an error; they are counted in each metric's errors, never averaged in."
        ));
    }
    let invalid: u64 = results.aggregates.iter().map(|a| a.invalid).sum();
    if invalid > 0 {
        out.push(format!("{invalid} score(s) could not be computed (invalid); see each metric's invalid causes."));
    }
    out
}
