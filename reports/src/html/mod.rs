//! The HTML report: one self-contained file (inline CSS, inline SVG charts and
//! a little vanilla JS; no network requests) that answers, top to bottom:
//! which variant wins and how sure we are (headline, comparisons, gates),
//! what the numbers look like (charts), every figure in full (tables), and
//! why (the per-sample explorer with outputs side by side).
//!
//! * `mod.rs`: the entry point and the template context.
//! * [`headline`]: the summary at the top.
//! * [`view`]: the tables, and the choices every part shares (baseline,
//!   main metric, colours).
//! * [`figures`] → [`charts`]: chart data, drawn as SVG with plotters.
//! * [`explorer`] → [`diff`]: the per-sample explorer and its word diffs.
//! * `templates/report.{html,css,js}`: the page.
//!
//! Safety: model outputs, prompts and dataset fields are untrusted text. The
//! template is rendered by minijinja with HTML auto-escaping (the template
//! name ends in `.html`), and every value reaches it as plain data through a
//! private context struct. The one exception is the charts' SVG, generated
//! here and marked safe in [`figures`], inside which [`charts`] escapes every
//! label. The script reads `data-*` attributes and toggles `hidden` and
//! classes; it never builds markup. A Content-Security-Policy meta tag also
//! forbids any network fetch.

use serde::Serialize;

use evalkit_record::journal::Record;
use evalkit_record::results::{RunInfo, RunResults};

mod charts;
mod diff;
mod explorer;
mod figures;
mod headline;
mod view;

pub use explorer::explorer_samples;

const TEMPLATES: [(&str, &str); 3] = [
    ("report.html", include_str!("../../templates/report.html")),
    // Included into the page's <style> and <script>; they have no variables
    // and wrap themselves in `raw` so their braces are never template syntax.
    ("report.css", include_str!("../../templates/report.css")),
    ("report.js", include_str!("../../templates/report.js")),
];

/// Why the report could not be rendered (a bug in the template, not in the data).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The template failed to parse or render.
    #[error("rendering the HTML report: {0}")]
    Template(#[from] minijinja::Error),
}

/// Render the report for `results`, with `records` (the run's journal) in the
/// per-sample explorer.
pub fn render_html(results: &RunResults, records: &[Record]) -> Result<String, RenderError> {
    render_html_sampled(results, records, records)
}

/// Render the report for `results` from the run's latest `records` (their
/// texts may be cut: the figures read only numbers), with the per-sample
/// explorer showing `explorer` (whole records of the samples chosen by
/// [`explorer_samples`]) out of every sample in `records`.
pub fn render_html_sampled(
    results: &RunResults,
    records: &[Record],
    explorer: &[Record],
) -> Result<String, RenderError> {
    let mut env = minijinja::Environment::new();
    // Strict: a misspelt field in the template is an error in the tests, not
    // an empty cell in a report.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    let context = Context::new(results, records, explorer, explorer::samples_in(records));
    Ok(env.get_template(TEMPLATES[0].0)?.render(minijinja::value::Serde(&context))?)
}

/// Everything the template shows, already formatted.
#[derive(Serialize)]
struct Context<'a> {
    run: &'a RunInfo,
    evalkit_version: &'a str,
    schema_version: u32,
    missing: u64,
    baseline: Option<&'a str>,
    headline: headline::Headline<'a>,
    figures: figures::Figures,
    variants: Vec<view::VariantView<'a>>,
    metrics: Vec<view::MetricTable<'a>>,
    repeats: Vec<view::RepeatRow<'a>>,
    corpus: Vec<view::CorpusRow<'a>>,
    usage: view::Usage<'a>,
    comparisons: Vec<view::ComparisonRow<'a>>,
    gates: Vec<view::GateRow<'a>>,
    explorer: explorer::Explorer<'a>,
}

impl<'a> Context<'a> {
    fn new(results: &'a RunResults, records: &'a [Record], explorer: &'a [Record], samples_in_run: usize) -> Self {
        let baseline = view::baseline(results);
        Context {
            run: &results.run,
            evalkit_version: &results.evalkit_version,
            schema_version: results.schema_version,
            missing: results.missing_tasks(),
            baseline,
            headline: headline::headline(results),
            figures: figures::figures(results, records),
            variants: view::variants(results, baseline),
            metrics: view::metric_tables(results),
            repeats: view::repeat_rows(results),
            corpus: view::corpus_rows(results),
            usage: view::usage(results),
            comparisons: view::comparison_rows(results),
            gates: view::gate_rows(results),
            explorer: explorer::explorer(results, explorer, baseline, samples_in_run),
        }
    }
}

#[cfg(test)]
mod tests;
