//! Derived outputs: journal records → `results.json`, `report.html`,
//! `summary.md`, `junit.xml`, `results.csv`, `samples.csv`, terminal summary.
//!
//! Everything here is a pure function of the suite, the journal and the
//! baseline files the gates name, which is what lets `evalkit report` and
//! `evalkit gate` rebuild a run's outputs at any time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use evalkit_record::journal::Record;
use evalkit_record::results::{MetricInfo, RunInfo, RunResults, VariantInfo};
use evalkit_reports::gates::{self, Baseline, GateInputs};
use evalkit_reports::{analyze, AnalysisInput};

use crate::exit::Failure;
use crate::rundir::{write_file, RunDir};
use crate::suite::Suite;

/// Where regression gates find their baseline.
#[derive(Debug, Clone, Copy, Default)]
pub enum BaselineSource<'a> {
    /// The `baseline` each gate names in the suite.
    #[default]
    Suite,
    /// This baseline file or run folder, for every regression gate that names
    /// a baseline (`evalkit gate --baseline`).
    Override(&'a Path),
}

/// Analyse the journal, check the gates, and write every output file.
pub fn write(
    run: &RunDir,
    suite: &Suite,
    records: &[Record],
    samples: usize,
    complete: bool,
    baseline: BaselineSource<'_>,
) -> Result<RunResults> {
    let results = derive(run, suite, records, samples, complete, baseline)?;
    export(run, suite, &results, records)?;
    Ok(results)
}

/// One output file of a run, rendered from the results and the journal.
struct Exporter {
    /// File name in the run folder.
    file: &'static str,
    /// What the file holds.
    render: fn(&ExportInput<'_>) -> Result<String>,
}

/// What every exporter reads.
struct ExportInput<'a> {
    results: &'a RunResults,
    records: &'a [Record],
    suite: &'a Suite,
}

/// The files a run's outputs are, in the order they are written.
const EXPORTERS: &[Exporter] = &[
    Exporter { file: "results.json", render: |i| Ok(serde_json::to_string_pretty(i.results)?) },
    Exporter {
        file: "report.html",
        render: |i| evalkit_reports::html::render_html(i.results, i.records).context("cannot render the HTML report"),
    },
    Exporter { file: "summary.md", render: |i| Ok(evalkit_reports::summary_markdown(i.results)) },
    Exporter {
        file: "junit.xml",
        render: |i| Ok(evalkit_reports::junit_xml(i.results, i.suite.file.report.junit_samples.then_some(i.records))),
    },
    Exporter { file: "results.csv", render: |i| Ok(evalkit_reports::results_csv(i.results)) },
    Exporter { file: "samples.csv", render: |i| Ok(evalkit_reports::samples_csv(i.results, i.records)) },
];

/// Write every exporter's file into the run folder.
pub fn export(run: &RunDir, suite: &Suite, results: &RunResults, records: &[Record]) -> Result<()> {
    let input = ExportInput { results, records, suite };
    for exporter in EXPORTERS {
        let text = (exporter.render)(&input)?;
        write_file(&run.output(exporter.file), text.as_bytes())?;
    }
    Ok(())
}

/// Analyse the journal and check the gates; writes nothing.
pub fn derive(
    run: &RunDir,
    suite: &Suite,
    records: &[Record],
    samples: usize,
    complete: bool,
    baseline: BaselineSource<'_>,
) -> Result<RunResults> {
    let input = AnalysisInput {
        run: run_info(run, suite, records, complete),
        suite: serde_json::to_value(&suite.file).context("cannot snapshot the suite")?,
        variants: with_runtime(variant_infos(suite, samples, &run.manifest.backends), suite, run),
        metrics: metric_infos(suite),
        records,
        baseline: suite.file.suite.baseline.clone(),
    };
    let mut results = analyze(input);
    let mut specs = suite.file.gates.clone();
    for spec in specs.iter_mut() {
        if let Some(named) = &spec.baseline {
            // Relative to the suite file, like every path in it.
            let path = match baseline {
                BaselineSource::Suite => PathBuf::from(named),
                BaselineSource::Override(path) => path.to_path_buf(),
            };
            spec.baseline = Some(path.display().to_string());
        }
    }
    let baselines: BTreeMap<String, Result<Baseline, String>> = specs
        .iter()
        .filter_map(|s| s.baseline.clone())
        .map(|path| {
            let loaded = load_baseline(Path::new(&path)).map_err(|e| format!("{e:#}"));
            (path, loaded)
        })
        .collect();
    results.gates = gates::evaluate(GateInputs { results: &results, records, gates: &specs, baselines: &baselines });

    Ok(results)
}

/// Append the run's summary.md to the GitHub Actions step summary, when
/// running there (`GITHUB_STEP_SUMMARY` names the file).
pub fn publish_step_summary(results: &RunResults) -> Result<()> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open `GITHUB_STEP_SUMMARY` file `{}`", Path::new(&path).display()))?;
    file.write_all(evalkit_reports::summary_markdown(results).as_bytes())
        .with_context(|| format!("cannot write `{}`", Path::new(&path).display()))
}

/// A run folder read back: its suite and the last record of each task.
pub struct RunContents {
    /// The folder.
    pub run: RunDir,
    /// The suite as it ran (the folder's copy).
    pub suite: Suite,
    /// The last record of each task.
    pub records: Vec<Record>,
    /// Samples in the evaluated dataset, from the manifest.
    pub samples: usize,
    /// Journal lines that could not be read: line number and why.
    pub skipped: Vec<(usize, String)>,
}

/// Read a run folder's suite copy and journal.
pub fn read_run(path: &Path) -> Result<RunContents, Failure> {
    let run = RunDir::open(path)?;
    let suite = crate::suite::load(&run.suite_toml())?;
    let journal = evalkit_record::journal_file::read(&run.records())
        .with_context(|| format!("cannot read `{}`", run.records().display()))?;
    let records = evalkit_record::journal::latest_per_task(journal.records);
    let samples = run.manifest.datasets.get(&suite.dataset).map_or(0, |d| d.samples);
    Ok(RunContents { run, suite, records, samples, skipped: journal.skipped })
}

/// A baseline file, or the baseline of a run folder (its records, re-analysed).
pub fn load_baseline(path: &Path) -> Result<Baseline> {
    if path.is_dir() {
        let contents = read_run(path).map_err(|failure| match failure {
            Failure::Incomplete(error) => error,
            Failure::Invalid(diagnostics) => anyhow::anyhow!("{}", diagnostics.to_string().trim_end()),
        })?;
        let input = AnalysisInput {
            run: run_info(&contents.run, &contents.suite, &contents.records, true),
            suite: serde_json::Value::Null,
            variants: variant_infos(&contents.suite, contents.samples, &contents.run.manifest.backends),
            metrics: metric_infos(&contents.suite),
            records: &contents.records,
            baseline: contents.suite.file.suite.baseline.clone(),
        };
        return Ok(gates::baseline_of_run(&analyze(input), &contents.records));
    }
    let text = std::fs::read_to_string(path).with_context(|| {
        format!("cannot read `{}` (write it from a good run with `evalkit baseline update <run dir>`)", path.display())
    })?;
    Baseline::parse(&text).with_context(|| format!("`{}`", path.display()))
}

/// The run as its manifest records it. A version-1 manifest has no finish
/// time: a complete run then finished when its last record did.
fn run_info(run: &RunDir, suite: &Suite, records: &[Record], complete: bool) -> RunInfo {
    let last_record = || records.iter().map(|r| r.finished_at.as_str()).max().map(str::to_owned);
    RunInfo {
        id: run.manifest.run_id.clone(),
        suite_name: suite.file.suite.name.clone(),
        suite_description: suite.file.suite.description.clone(),
        started_at: run.manifest.started_at.clone(),
        finished_at: run.manifest.finished_at.clone().or_else(|| complete.then(last_record).flatten()),
        complete,
        seed: suite.file.suite.seed,
        repeats: suite.file.run.repeats,
        git_commit: run.manifest.git_commit.clone(),
        host: run.manifest.host.clone().unwrap_or_else(|| "unknown".to_owned()),
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

/// What each variant is, as the report shows it. Backend identities come from
/// the run's manifest (`identities`), as they were when the run started; a
/// manifest of version 1 has none, and then they are read from the suite.
pub fn variant_infos(
    suite: &Suite,
    samples: usize,
    identities: &BTreeMap<String, evalkit_model_api::BackendIdentity>,
) -> Vec<VariantInfo> {
    suite
        .variants
        .iter()
        .map(|variant| {
            let identity =
                identities.get(&variant.backend).cloned().or_else(|| suite.backend_identity(&variant.backend));
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
            scale: metric.scale(),
            direction: metric.direction(),
            unit: metric.unit().map(str::to_owned),
            aggregate: metric.aggregate().map(str::to_owned),
        })
        .collect()
}
