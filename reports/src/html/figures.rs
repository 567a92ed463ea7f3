//! The report's figures: the run's numbers turned into the plain chart data of
//! [`super::charts`], drawn, and handed to the template as safe markup.
//!
//! The SVG strings are the only markup the page takes from Rust. They are
//! marked safe here and nowhere else; [`super::charts`] escapes every label
//! inside them.

use std::collections::BTreeMap;

use minijinja::Value;
use serde::Serialize;

use super::charts::{self, IntervalPanel, IntervalRow, PercentileRow, ScatterAxes, ScatterPoint, Series};
use super::view::{
    color_of, cost_per_sample, direction_label, main_metric, style_of, variant_color, verdict_color, verdict_label,
};
use crate::analyze::latest_tasks;
use crate::format::Style;
use evalkit_record::journal::Record;
use evalkit_record::results::{RunResults, Verdict};

const WIDE: u32 = 1320;
const NARROW: u32 = 640;

#[derive(Serialize)]
pub(super) struct Figures {
    /// One figure per metric: each variant's mean and interval.
    means: Vec<Figure>,
    /// Paired differences with the baseline, one panel per metric.
    forest: Option<Figure>,
    latency_percentiles: Option<Figure>,
    latency_distribution: Option<Figure>,
    cost_quality: Option<Figure>,
    /// Why there is no cost chart, when there is none.
    cost_note: Option<&'static str>,
    /// Variant colours, for the legends under the figures.
    legend: Vec<LegendEntry>,
    /// Verdict colours, for the forest plot's legend.
    verdicts: Vec<LegendEntry>,
}

#[derive(Serialize)]
struct Figure {
    title: String,
    /// The SVG, marked safe.
    svg: Value,
}

#[derive(Serialize)]
struct LegendEntry {
    name: String,
    color: String,
}

impl Figure {
    fn new(title: String, svg: String) -> Self {
        Figure { title, svg: Value::from_safe_string(svg) }
    }
}

pub(super) fn figures(results: &RunResults, records: &[Record]) -> Figures {
    let (cost_quality, cost_note) = match cost_quality(results) {
        Some(figure) => (Some(figure), None),
        None => (None, Some("No variant has both a cost and a mean of the main metric, so there is no cost chart.")),
    };
    Figures {
        means: means(results),
        forest: forest(results),
        latency_percentiles: latency_percentiles(results),
        latency_distribution: latency_distribution(results, records),
        cost_quality,
        cost_note,
        legend: results
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| LegendEntry { name: v.name.clone(), color: variant_color(i).hex() })
            .collect(),
        verdicts: [Verdict::Improved, Verdict::Regressed, Verdict::NoSignificantChange, Verdict::NotEnoughData]
            .into_iter()
            .map(|v| LegendEntry { name: verdict_label(v).0.to_owned(), color: verdict_color(v).hex() })
            .collect(),
    }
}

fn means(results: &RunResults) -> Vec<Figure> {
    results
        .metrics
        .iter()
        .map(|metric| {
            let rows = results
                .aggregates
                .iter()
                .filter(|a| a.metric == metric.name)
                .map(|a| IntervalRow {
                    label: a.variant.clone(),
                    value: a.mean,
                    low: a.ci.map(|ci| ci.low),
                    high: a.ci.map(|ci| ci.high),
                    color: color_of(results, &a.variant),
                })
                .collect();
            let direction = direction_label(Some(metric));
            let title = format!("{} ({direction})", metric.name);
            let panel = IntervalPanel { title: String::new(), rows, format: Style::of(metric), differences: false };
            let description = format!("Mean of {} per variant with its 95% confidence interval", metric.name);
            Figure::new(title, charts::interval_chart(&description, &[panel], NARROW))
        })
        .collect()
}

/// The forest plot: one row per comparison, grouped by metric because each
/// metric has its own units.
fn forest(results: &RunResults) -> Option<Figure> {
    if results.comparisons.is_empty() {
        return None;
    }
    let mut panels: Vec<IntervalPanel> = Vec::new();
    for c in &results.comparisons {
        let row = IntervalRow {
            label: format!("{} − {}", c.candidate, c.baseline),
            value: c.difference,
            low: c.ci.map(|ci| ci.low),
            high: c.ci.map(|ci| ci.high),
            color: verdict_color(c.verdict),
        };
        match panels.iter_mut().find(|p| p.title == c.metric) {
            Some(panel) => panel.rows.push(row),
            None => panels.push(IntervalPanel {
                title: c.metric.clone(),
                rows: vec![row],
                format: style_of(results, &c.metric),
                differences: true,
            }),
        }
    }
    let description = "Paired differences candidate minus baseline with 95% confidence intervals, by metric";
    Some(Figure::new(
        "Paired differences, candidate − baseline (95% CI)".to_owned(),
        charts::interval_chart(description, &panels, WIDE),
    ))
}

fn latency_percentiles(results: &RunResults) -> Option<Figure> {
    let rows: Vec<PercentileRow> = results
        .usage
        .iter()
        .map(|u| PercentileRow {
            label: u.variant.clone(),
            p50: u.latency_p50_seconds,
            p90: u.latency_p90_seconds,
            p99: u.latency_p99_seconds,
            color: color_of(results, &u.variant),
        })
        .collect();
    if rows.iter().all(|r| r.p50.is_none()) {
        return None;
    }
    let description = "End-to-end latency percentiles p50, p90 and p99 per variant";
    Some(Figure::new(
        "Latency percentiles".to_owned(),
        charts::percentile_chart(description, &rows, &Style::Seconds, NARROW),
    ))
}

/// The ECDF of every response's end-to-end latency, per variant (the last
/// record of each task, as everywhere else).
fn latency_distribution(results: &RunResults, records: &[Record]) -> Option<Figure> {
    let mut by_variant: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for record in latest_tasks(records).into_values() {
        if let Some(response) = record.outcome.response() {
            by_variant.entry(record.variant.as_str()).or_default().push(response.timing.e2e_seconds);
        }
    }
    if by_variant.is_empty() {
        return None;
    }
    // Suite order, then any variant the suite does not list.
    let mut names: Vec<&str> = results.variants.iter().map(|v| v.name.as_str()).collect();
    names.extend(by_variant.keys().filter(|k| !results.variants.iter().any(|v| v.name == **k)));
    let series: Vec<Series> = names
        .into_iter()
        .map(|name| Series {
            label: name.to_owned(),
            values: by_variant.remove(name).unwrap_or_default(),
            color: color_of(results, name),
        })
        .collect();
    let description = "Cumulative distribution of end-to-end latency per variant";
    Some(Figure::new(
        "Latency distribution (share of responses at or below each latency)".to_owned(),
        charts::ecdf_chart(description, &series, &Style::Seconds, NARROW),
    ))
}

fn cost_quality(results: &RunResults) -> Option<Figure> {
    let metric = main_metric(results)?;
    let points: Vec<ScatterPoint> = results
        .variants
        .iter()
        .filter_map(|v| {
            let x = cost_per_sample(results, &v.name)?;
            let a = results.aggregate(&v.name, &metric.name)?;
            Some(ScatterPoint {
                label: v.name.clone(),
                x: Some(x),
                y: a.mean,
                y_low: a.ci.map(|ci| ci.low),
                y_high: a.ci.map(|ci| ci.high),
                color: color_of(results, &v.name),
            })
        })
        .filter(|p| p.y.is_some_and(f64::is_finite))
        .collect();
    if points.is_empty() {
        return None;
    }
    let axes = ScatterAxes {
        x_title: "cost per sample (USD)".to_owned(),
        x_format: Style::Usd,
        y_title: format!("{} (mean, 95% CI)", metric.name),
        y_format: Style::of(metric),
    };
    let description = format!("Cost per sample against the mean of {} per variant", metric.name);
    Some(Figure::new(
        format!("Cost against quality ({})", metric.name),
        charts::scatter_chart(&description, &points, &axes, NARROW),
    ))
}
