//! The report's tables as view structs: every number already formatted, every
//! piece of text borrowed as-is for the template to escape.
//!
//! Also the few judgements the whole page shares: which variant is the
//! baseline, which metric is the "main" one, what a sample costs, and each
//! variant's colour, so the headline, the charts and the tables agree.

use serde::Serialize;

use super::charts::Rgb;
use crate::format::{self, Style, NONE};
use evalkit_record::results::{
    Aggregate, CiMethod, Comparison, ConfidenceInterval, Direction, GateResult, GateStatus, MetricInfo, RunResults,
    Scale, VariantInfo, VariantUsage, Verdict,
};

/// Variant colours: Tableau 10, in variant order, repeating after ten.
const PALETTE: [Rgb; 10] = [
    Rgb(0x4e, 0x79, 0xa7),
    Rgb(0xf2, 0x8e, 0x2b),
    Rgb(0x59, 0xa1, 0x4f),
    Rgb(0xb0, 0x7a, 0xa1),
    Rgb(0xe1, 0x57, 0x59),
    Rgb(0x76, 0xb7, 0xb2),
    Rgb(0xed, 0xc9, 0x48),
    Rgb(0xff, 0x9d, 0xa7),
    Rgb(0x9c, 0x75, 0x5f),
    Rgb(0xba, 0xb0, 0xac),
];

/// The colour of the variant at `index` (suite order).
pub(super) fn variant_color(index: usize) -> Rgb {
    PALETTE[index % PALETTE.len()]
}

/// The colour of a variant by name; grey for one the suite does not list.
pub(super) fn color_of(results: &RunResults, variant: &str) -> Rgb {
    results.variants.iter().position(|v| v.name == variant).map_or(Rgb(0x8c, 0x95, 0x9f), variant_color)
}

/// The colour of a verdict (matches the badge colours of the page's CSS).
pub(super) fn verdict_color(verdict: Verdict) -> Rgb {
    match verdict {
        Verdict::Improved => Rgb(0x1a, 0x7f, 0x37),
        Verdict::Regressed => Rgb(0xcf, 0x22, 0x2e),
        Verdict::NoSignificantChange => Rgb(0x6e, 0x77, 0x81),
        Verdict::NotEnoughData => Rgb(0xbf, 0x87, 0x00),
    }
}

/// How a verdict reads, and its badge class.
pub(super) fn verdict_label(verdict: Verdict) -> (&'static str, &'static str) {
    let class = match verdict {
        Verdict::Improved => "ok",
        Verdict::Regressed => "bad",
        Verdict::NoSignificantChange => "neutral",
        Verdict::NotEnoughData => "warn",
    };
    (verdict.label(), class)
}

/// The variant the others are compared with: the one the comparisons name,
/// else the first in the suite.
pub(super) fn baseline(results: &RunResults) -> Option<&str> {
    results
        .comparisons
        .first()
        .map(|c| c.baseline.as_str())
        .or_else(|| results.variants.first().map(|v| v.name.as_str()))
}

/// Latency and cost describe what a variant spends, not how good it is.
pub(super) fn is_resource_metric(metric: &MetricInfo) -> bool {
    matches!(metric.unit.as_deref(), Some("s" | "USD")) || matches!(metric.kind.as_str(), "latency" | "cost")
}

/// The metric a one-line summary talks about: the suite's first quality
/// metric, else its first metric.
pub(super) fn main_metric(results: &RunResults) -> Option<&MetricInfo> {
    results.metrics.iter().find(|m| !is_resource_metric(m)).or_else(|| results.metrics.first())
}

/// The metric whose values are dollars (as `analyze` picks it for usage).
fn cost_metric(results: &RunResults) -> Option<&MetricInfo> {
    let by_kind = results.metrics.iter().find(|m| m.kind == "cost");
    by_kind.or_else(|| results.metrics.iter().find(|m| m.name == "cost"))
}

/// What one sample costs a variant: the cost metric's mean, else the total
/// cost over the responses.
pub(super) fn cost_per_sample(results: &RunResults, variant: &str) -> Option<f64> {
    let from_metric = cost_metric(results).and_then(|m| results.aggregate(variant, &m.name)).and_then(|a| a.mean);
    let from_usage = || {
        let usage = results.usage(variant)?;
        let cost = usage.cost_usd?;
        (usage.responses > 0).then(|| cost / usage.responses as f64)
    };
    from_metric.or_else(from_usage).filter(|c| c.is_finite())
}

/// How a metric's values are written (plain numbers when the suite does not
/// know the metric).
pub(super) fn style_of(results: &RunResults, metric: &str) -> Style {
    results.metric(metric).map_or(Style::Plain(None), Style::of)
}

pub(super) fn direction_label(metric: Option<&MetricInfo>) -> &'static str {
    match metric.map(|m| m.direction) {
        Some(Direction::LowerIsBetter) => "lower is better",
        _ => "higher is better",
    }
}

fn ci_method(ci: Option<&ConfidenceInterval>) -> &'static str {
    ci.map_or("no interval (fewer than two samples)", |ci| match ci.method {
        CiMethod::Wilson => "Wilson score",
        CiMethod::T => "Student t",
        CiMethod::ClusteredT => "t, cluster-robust",
        CiMethod::Bootstrap => "bootstrap",
    })
}

/// A variant's identity: what was run.
#[derive(Serialize)]
pub(super) struct VariantView<'a> {
    name: &'a str,
    color: String,
    is_baseline: bool,
    backend: &'a str,
    backend_kind: &'a str,
    model: &'a str,
    endpoint: Option<&'a str>,
    prompt: &'a str,
    prompt_version: Option<&'a str>,
    params: String,
    planned_tasks: u64,
    /// The local-model `runtime` block as (key, value) pairs.
    runtime: Vec<(String, String)>,
}

pub(super) fn variants<'a>(results: &'a RunResults, baseline: Option<&str>) -> Vec<VariantView<'a>> {
    let view = |(index, v): (usize, &'a VariantInfo)| VariantView {
        name: &v.name,
        color: variant_color(index).hex(),
        is_baseline: baseline == Some(v.name.as_str()),
        backend: &v.backend,
        backend_kind: &v.backend_kind,
        model: &v.model,
        endpoint: v.endpoint.as_deref(),
        prompt: &v.prompt,
        prompt_version: v.prompt_version.as_deref(),
        params: compact_json(&v.params),
        planned_tasks: v.planned_tasks,
        runtime: v.runtime.as_ref().map(runtime_entries).unwrap_or_default(),
    };
    results.variants.iter().enumerate().map(view).collect()
}

fn compact_json(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) if map.is_empty() => NONE.to_owned(),
        serde_json::Value::Null => NONE.to_owned(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// A `runtime` object as rows; numbers with separators, byte counts also in
/// MiB/GiB, nested values as compact JSON.
fn runtime_entries(runtime: &serde_json::Value) -> Vec<(String, String)> {
    let Some(map) = runtime.as_object() else {
        return vec![("runtime".to_owned(), compact_json(runtime))];
    };
    map.iter()
        .map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => match (n.as_u64(), n.as_f64()) {
                    (Some(u), _) if key.contains("bytes") => format!("{} ({})", format::count(u), bytes(u)),
                    (Some(u), _) => format::count(u),
                    (None, Some(f)) if key.ends_with("seconds") => format::seconds(f),
                    (None, Some(f)) => format::significant(f, 4),
                    _ => n.to_string(),
                },
                other => compact_json(other),
            };
            (key.clone(), text)
        })
        .collect()
}

fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1024.0 * 1024.0 * 1024.0 {
        format!("{} GiB", format::significant(n / (1024.0 * 1024.0 * 1024.0), 3))
    } else {
        format!("{} MiB", format::significant(n / (1024.0 * 1024.0), 3))
    }
}

/// One metric's results across variants.
#[derive(Serialize)]
pub(super) struct MetricTable<'a> {
    name: &'a str,
    kind: &'a str,
    direction: &'static str,
    scale: &'static str,
    unit: Option<&'a str>,
    rows: Vec<MetricRow<'a>>,
}

#[derive(Serialize)]
struct MetricRow<'a> {
    variant: &'a str,
    color: String,
    mean: String,
    ci: String,
    ci_method: &'static str,
    median: String,
    median_ci: String,
    n_samples: u64,
    clusters: Option<u64>,
    valid: u64,
    total: u64,
    invalid: u64,
    errors: u64,
    missing: u64,
    invalid_causes: Vec<(&'a str, u64)>,
}

pub(super) fn metric_tables(results: &RunResults) -> Vec<MetricTable<'_>> {
    results
        .metrics
        .iter()
        .map(|metric| {
            let style = Style::of(metric);
            let rows = results
                .aggregates
                .iter()
                .filter(|a| a.metric == metric.name)
                .map(|a| MetricRow {
                    variant: &a.variant,
                    color: color_of(results, &a.variant).hex(),
                    mean: style.option(a.mean),
                    ci: style.interval(a.ci.as_ref()),
                    ci_method: ci_method(a.ci.as_ref()),
                    median: style.option(a.median),
                    median_ci: style.interval(a.median_ci.as_ref()),
                    n_samples: a.n_samples,
                    clusters: a.clusters,
                    valid: a.valid,
                    total: a.total,
                    invalid: a.invalid,
                    errors: a.errors,
                    missing: a.missing,
                    invalid_causes: a.invalid_causes.iter().map(|(cause, n)| (cause.as_str(), *n)).collect(),
                })
                .collect();
            MetricTable {
                name: &metric.name,
                kind: &metric.kind,
                direction: direction_label(Some(metric)),
                scale: match metric.scale {
                    Scale::Binary => "pass/fail",
                    Scale::Continuous => "continuous",
                },
                unit: metric.unit.as_deref(),
                rows,
            }
        })
        .collect()
}

/// How a metric behaved across repeats.
#[derive(Serialize)]
pub(super) struct RepeatRow<'a> {
    variant: &'a str,
    metric: &'a str,
    repeats: u32,
    samples: u64,
    flaky_samples: u64,
    flakiness: String,
    pass_at_k: Vec<(u32, String)>,
    pass_hat_k: Vec<(u32, String)>,
}

pub(super) fn repeat_rows(results: &RunResults) -> Vec<RepeatRow<'_>> {
    let percent = |v: f64| Style::Percent.value(v);
    results
        .aggregates
        .iter()
        .filter_map(|a| {
            let r = a.repeats.as_ref()?;
            Some(RepeatRow {
                variant: &a.variant,
                metric: &a.metric,
                repeats: r.repeats,
                samples: r.samples,
                flaky_samples: r.flaky_samples,
                flakiness: r.flakiness.map_or_else(|| NONE.to_owned(), percent),
                pass_at_k: r.pass_at_k.iter().map(|kv| (kv.k, percent(kv.value))).collect(),
                pass_hat_k: r.pass_hat_k.iter().map(|kv| (kv.k, percent(kv.value))).collect(),
            })
        })
        .collect()
}

/// Perplexity pooled over the corpus.
#[derive(Serialize)]
pub(super) struct CorpusRow<'a> {
    variant: &'a str,
    metric: &'a str,
    perplexity: String,
    ci: String,
    std_error: String,
    mean_nll: String,
    bits_per_byte: String,
    word_perplexity: String,
    top1_accuracy: String,
    tokens: String,
}

pub(super) fn corpus_rows(results: &RunResults) -> Vec<CorpusRow<'_>> {
    let plain = Style::Plain(None);
    results
        .aggregates
        .iter()
        .filter_map(|a: &Aggregate| {
            let c = a.corpus.as_ref()?;
            Some(CorpusRow {
                variant: &a.variant,
                metric: &a.metric,
                perplexity: plain.value(c.perplexity),
                ci: plain.interval(c.ci.as_ref()),
                std_error: plain.option(c.std_error),
                mean_nll: plain.value(c.mean_nll),
                bits_per_byte: plain.option(c.bits_per_byte),
                word_perplexity: plain.option(c.word_perplexity),
                top1_accuracy: Style::Percent.value(c.top1_accuracy),
                tokens: format::count(c.tokens),
            })
        })
        .collect()
}

/// Every variant's resource use; the speed columns only when some backend
/// measured them (local models, streaming).
#[derive(Serialize)]
pub(super) struct Usage<'a> {
    rows: Vec<UsageRow<'a>>,
    speeds: bool,
}

/// A variant's resource use.
#[derive(Serialize)]
struct UsageRow<'a> {
    variant: &'a str,
    color: String,
    tasks: u64,
    responses: u64,
    errors: u64,
    cached: u64,
    input_tokens: String,
    output_tokens: String,
    p50: String,
    p90: String,
    p99: String,
    cost: String,
    cost_per_sample: String,
    prompt_tokens_per_second: String,
    generation_tokens_per_second: String,
}

pub(super) fn usage(results: &RunResults) -> Usage<'_> {
    let speeds =
        results.usage.iter().any(|u| u.prompt_tokens_per_second.is_some() || u.generation_tokens_per_second.is_some());
    Usage { rows: usage_rows(results), speeds }
}

fn usage_rows(results: &RunResults) -> Vec<UsageRow<'_>> {
    let per_second =
        |v: Option<f64>| v.map_or_else(|| NONE.to_owned(), |v| format!("{} tok/s", format::significant(v, 3)));
    results
        .usage
        .iter()
        .map(|u: &VariantUsage| {
            let seconds = |v: Option<f64>| v.map_or_else(|| NONE.to_owned(), format::seconds);
            UsageRow {
                variant: &u.variant,
                color: color_of(results, &u.variant).hex(),
                tasks: u.tasks,
                responses: u.responses,
                errors: u.errors,
                cached: u.cached,
                input_tokens: format::count(u.input_tokens),
                output_tokens: format::count(u.output_tokens),
                p50: seconds(u.latency_p50_seconds),
                p90: seconds(u.latency_p90_seconds),
                p99: seconds(u.latency_p99_seconds),
                cost: u.cost_usd.map_or_else(|| NONE.to_owned(), format::usd),
                cost_per_sample: cost_per_sample(results, &u.variant).map_or_else(|| NONE.to_owned(), format::usd),
                prompt_tokens_per_second: per_second(u.prompt_tokens_per_second),
                generation_tokens_per_second: per_second(u.generation_tokens_per_second),
            }
        })
        .collect()
}

/// One paired comparison.
#[derive(Serialize)]
pub(super) struct ComparisonRow<'a> {
    candidate: &'a str,
    baseline: &'a str,
    metric: &'a str,
    pairs: u64,
    baseline_mean: String,
    candidate_mean: String,
    difference: String,
    ci: String,
    test: &'static str,
    p_value: String,
    p_adjusted: String,
    effect_size: String,
    discordant: String,
    mde: String,
    verdict: &'static str,
    verdict_class: &'static str,
}

pub(super) fn comparison_rows(results: &RunResults) -> Vec<ComparisonRow<'_>> {
    results
        .comparisons
        .iter()
        .map(|c: &Comparison| {
            let style = style_of(results, &c.metric);
            let signed =
                |v: Option<f64>| v.filter(|v| v.is_finite()).map_or_else(|| NONE.to_owned(), |v| style.signed(v));
            let p = |v: Option<f64>| v.map_or_else(|| NONE.to_owned(), format::p_value);
            let (verdict, verdict_class) = verdict_label(c.verdict);
            ComparisonRow {
                candidate: &c.candidate,
                baseline: &c.baseline,
                metric: &c.metric,
                pairs: c.pairs,
                baseline_mean: style.option(c.baseline_mean),
                candidate_mean: style.option(c.candidate_mean),
                difference: signed(c.difference),
                ci: c.ci.map_or_else(
                    || NONE.to_owned(),
                    |ci| format!("[{}, {}]", style.signed(ci.low), style.signed(ci.high)),
                ),
                test: format::test_label(c.test),
                p_value: format::comparison_p(c),
                p_adjusted: p(c.p_adjusted),
                effect_size: c.effect_size.map_or_else(|| NONE.to_owned(), |d| format::significant(d, 2)),
                discordant: c
                    .discordant
                    .map_or_else(|| NONE.to_owned(), |d| format!("{} / {}", d.baseline_only, d.candidate_only)),
                mde: c
                    .minimum_detectable_difference
                    .filter(|v| v.is_finite())
                    .map_or_else(|| NONE.to_owned(), |v| format!("±{}", style.signed(v.abs()).trim_start_matches('+'))),
                verdict,
                verdict_class,
            }
        })
        .collect()
}

/// One gate.
#[derive(Serialize)]
pub(super) struct GateRow<'a> {
    name: &'a str,
    variant: &'a str,
    metric: &'a str,
    passed: bool,
    verdict: Option<&'static str>,
    observed: String,
    message: &'a str,
    warnings: &'a [String],
}

pub(super) fn gate_rows(results: &RunResults) -> Vec<GateRow<'_>> {
    results
        .gates
        .iter()
        .map(|g: &GateResult| {
            let style = style_of(results, &g.metric);
            // A regression gate observes a difference; other gates a level.
            let observed = g.observed.filter(|v| v.is_finite()).map_or_else(
                || NONE.to_owned(),
                |v| if g.verdict.is_some() { style.signed(v) } else { style.value(v) },
            );
            GateRow {
                name: &g.name,
                variant: &g.variant,
                metric: &g.metric,
                passed: g.status == GateStatus::Passed,
                verdict: g.verdict.map(|v| verdict_label(v).0),
                observed,
                message: &g.message,
                warnings: &g.warnings,
            }
        })
        .collect()
}
