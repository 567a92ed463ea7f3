//! Derived outputs: journal records → `results.json`, `report.html`, terminal summary.
//!
//! Everything here is a pure function of the suite and the journal, which is
//! what lets `evalkit report` rebuild a run's outputs at any time.

use anyhow::{Context, Result};
use evalkit_reports::record::Record;
use evalkit_reports::results::{Direction, MetricInfo, RunInfo, RunResults, Scale, VariantInfo};
use evalkit_reports::{analyze, AnalysisInput};

use crate::rundir::{write_file, RunDir};
use crate::suite::Suite;

/// Analyse the journal and write `results.json` and `report.html`.
pub fn write(run: &RunDir, suite: &Suite, records: &[Record], samples: usize, complete: bool) -> Result<RunResults> {
    let input = AnalysisInput {
        run: run_info(run, suite, complete),
        suite: serde_json::to_value(&suite.file).context("cannot snapshot the suite")?,
        variants: with_runtime(variant_infos(suite, samples), suite, run),
        metrics: metric_infos(suite),
        records,
    };
    let results = analyze(input);
    write_file(&run.results(), serde_json::to_string_pretty(&results)?.as_bytes())?;
    let html = evalkit_reports::html::render_html(&results, records).context("cannot render the HTML report")?;
    write_file(&run.report(), html.as_bytes())?;
    Ok(results)
}

fn run_info(run: &RunDir, suite: &Suite, complete: bool) -> RunInfo {
    RunInfo {
        id: run.manifest.run_id.clone(),
        suite_name: suite.file.suite.name.clone(),
        suite_description: suite.file.suite.description.clone(),
        started_at: run.manifest.started_at.clone(),
        finished_at: complete.then(crate::clock::now_rfc3339),
        complete,
        seed: suite.file.suite.seed,
        repeats: suite.file.run.repeats,
        git_commit: run.manifest.git_commit.clone(),
        host: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned()),
    }
}

/// Attach what `runtime.json` recorded about each variant's backend.
fn with_runtime(mut variants: Vec<VariantInfo>, suite: &Suite, run: &RunDir) -> Vec<VariantInfo> {
    let runtime = run.runtime();
    for (info, variant) in variants.iter_mut().zip(&suite.variants) {
        info.runtime = runtime.get(&variant.backend).and_then(|r| serde_json::to_value(r).ok());
    }
    variants
}

/// What each variant is, as the report shows it.
pub fn variant_infos(suite: &Suite, samples: usize) -> Vec<VariantInfo> {
    suite
        .variants
        .iter()
        .map(|variant| {
            let identity = suite.backend_identity(&variant.backend);
            let (kind, model, endpoint) = match identity {
                Some(identity) => (identity.kind, identity.model, Some(identity.endpoint)),
                None => ("unknown".to_owned(), String::new(), None),
            };
            VariantInfo {
                name: variant.name.clone(),
                backend: variant.backend.clone(),
                backend_kind: kind,
                model,
                endpoint,
                prompt: variant.prompt.clone(),
                prompt_version: suite.prompt(&variant.prompt).and_then(|p| p.version.clone()),
                params: serde_json::to_value(&variant.params).unwrap_or_default(),
                planned_tasks: (samples * suite.file.run.repeats as usize) as u64,
                runtime: None,
            }
        })
        .collect()
}

fn metric_infos(suite: &Suite) -> Vec<MetricInfo> {
    suite
        .metrics
        .iter()
        .zip(&suite.file.metrics)
        .map(|(metric, config)| MetricInfo {
            name: metric.name().to_owned(),
            kind: config.kind_name().to_owned(),
            scale: match metric.scale() {
                evalkit_metrics::Scale::Binary => Scale::Binary,
                evalkit_metrics::Scale::Continuous => Scale::Continuous,
            },
            direction: match metric.direction() {
                evalkit_metrics::Direction::HigherIsBetter => Direction::HigherIsBetter,
                evalkit_metrics::Direction::LowerIsBetter => Direction::LowerIsBetter,
            },
            unit: metric.unit().map(str::to_owned),
            aggregate: metric.aggregate().map(str::to_owned),
        })
        .collect()
}
