//! Derived outputs: journal records → `results.json`, `report.html`,
//! `summary.md`, `junit.xml`, `results.csv`, `samples.csv`, terminal summary.
//!
//! Everything here is a pure function of the suite, the journal and the
//! baseline files the gates name, which is what lets `evalkit report` and
//! `evalkit gate` rebuild a run's outputs at any time.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use evalkit_record::atomic::write_atomic_with;
use evalkit_record::journal::Record;
use evalkit_record::journal_file::{for_each, read_latest, LatestRecords};
use evalkit_record::results::{MetricInfo, RunInfo, RunResults, VariantInfo};
use evalkit_reports::gates::{self, Baseline, GateInputs};
use evalkit_reports::SamplesCsv;
use evalkit_reports::{analyze, AnalysisInput};

use crate::exit::Failure;
use crate::rundir::RunDir;
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
    latest: &LatestRecords,
    samples: usize,
    complete: bool,
    baseline: BaselineSource<'_>,
) -> Result<RunResults> {
    let results = derive(run, suite, &latest.records, samples, complete, baseline)?;
    export(run, suite, &results, latest)?;
    Ok(results)
}

/// The last record of each task in the run's journal that the plan still
/// counts (not of `stale_samples`), as analysis reads them
/// ([`evalkit_record::journal_file::read_latest`]); unreadable lines are
/// reported as warnings.
pub fn read_records(run: &RunDir) -> Result<LatestRecords> {
    Ok(without_stale(read_journal(run)?, &run.manifest.stale_samples))
}

/// [`read_records`] before stale samples are left out: what a resume
/// decides the plan's state from.
pub fn read_journal(run: &RunDir) -> Result<LatestRecords> {
    let path = run.records();
    if !path.exists() {
        return Ok(LatestRecords { records: Vec::new(), lines: Vec::new(), skipped: Vec::new() });
    }
    // junit.xml quotes this much of a failing answer, and marks a longer one.
    let latest = read_latest(&path, evalkit_reports::junit::OUTPUT_CHARS + 1)
        .with_context(|| format!("cannot read the journal `{}`", path.display()))?;
    for (line, why) in &latest.skipped {
        let why = evalkit_reports::terminal::escape_controls(why);
        eprintln!("warning: {}:{line}: skipped an unreadable record ({why})", path.display());
    }
    Ok(latest)
}

/// The records of samples the plan still has: the plan, not the journal,
/// decides what counts.
fn without_stale(latest: LatestRecords, stale: &[String]) -> LatestRecords {
    if stale.is_empty() {
        return latest;
    }
    let stale: std::collections::HashSet<&str> = stale.iter().map(String::as_str).collect();
    let (records, lines) = latest
        .records
        .into_iter()
        .zip(latest.lines)
        .filter(|(record, _)| !stale.contains(record.sample.as_str()))
        .unzip();
    LatestRecords { records, lines, skipped: latest.skipped }
}

/// One output file of a run.
struct Exporter {
    /// File name in the run folder.
    file: &'static str,
    /// Writes the file's contents.
    write: fn(&ExportInput<'_>, &mut dyn Write) -> Result<()>,
}

/// What every exporter reads: the results, the latest record of each task
/// (answers cut short), and the journal, for the exporters that show whole
/// answers and read them again a line at a time.
struct ExportInput<'a> {
    results: &'a RunResults,
    latest: &'a LatestRecords,
    suite: &'a Suite,
    journal: PathBuf,
    /// The journal lines of `latest`, to find them again.
    latest_lines: HashSet<usize>,
}

impl ExportInput<'_> {
    /// Visit the whole latest record of each task whose sample `wanted`
    /// accepts, in journal order.
    fn whole_records(&self, wanted: impl Fn(&str) -> bool, mut visit: impl FnMut(Record) -> Result<()>) -> Result<()> {
        let mut failure = Ok(());
        for_each(&self.journal, |line, record| {
            if failure.is_ok() && self.latest_lines.contains(&line) && wanted(&record.sample) {
                failure = visit(record);
            }
        })
        .with_context(|| format!("cannot read the journal `{}`", self.journal.display()))?;
        failure
    }
}

/// The files a run's outputs are, in the order they are written.
const EXPORTERS: &[Exporter] = &[
    Exporter { file: "results.json", write: |i, out| Ok(serde_json::to_writer_pretty(out, i.results)?) },
    Exporter { file: "report.html", write: write_report_html },
    Exporter {
        file: "summary.md",
        write: |i, out| Ok(out.write_all(evalkit_reports::summary_markdown(i.results).as_bytes())?),
    },
    Exporter {
        file: "junit.xml",
        write: |i, out| {
            let records = i.suite.file.report.junit_samples.then_some(i.latest.records.as_slice());
            Ok(out.write_all(evalkit_reports::junit_xml(i.results, records).as_bytes())?)
        },
    },
    Exporter {
        file: "results.csv",
        write: |i, out| {
            Ok(out.write_all(evalkit_reports::results_csv(i.results, i.suite.file.report.csv_formulas).as_bytes())?)
        },
    },
    Exporter { file: "samples.csv", write: write_samples_csv },
];

/// `report.html`: figures from every task; the explorer with the whole
/// records of at most `[report] explorer_samples` samples.
fn write_report_html(input: &ExportInput<'_>, out: &mut dyn Write) -> Result<()> {
    let records = &input.latest.records;
    let chosen = evalkit_reports::explorer_samples(input.results, records, input.suite.file.report.explorer_samples);
    let mut shown = Vec::new();
    input.whole_records(
        |sample| chosen.as_ref().is_none_or(|c| c.contains(sample)),
        |record| {
            shown.push(record);
            Ok(())
        },
    )?;
    let html = evalkit_reports::render_html_sampled(input.results, records, &shown)
        .context("cannot render the HTML report")?;
    Ok(out.write_all(html.as_bytes())?)
}

/// `samples.csv`: every task with its whole answer, a row at a time.
fn write_samples_csv(input: &ExportInput<'_>, out: &mut dyn Write) -> Result<()> {
    let mut csv = SamplesCsv::new(input.results, out, input.suite.file.report.csv_formulas)?;
    input.whole_records(|_| true, |record| Ok(csv.row(&record)?))?;
    csv.finish()?;
    Ok(())
}

/// Write every exporter's file into the run folder, each atomically.
pub fn export(run: &RunDir, suite: &Suite, results: &RunResults, latest: &LatestRecords) -> Result<()> {
    let latest_lines = latest.lines.iter().copied().collect();
    let input = ExportInput { results, latest, suite, journal: run.records(), latest_lines };
    for exporter in EXPORTERS {
        let path = run.output(exporter.file);
        let mut failure = None;
        write_atomic_with(&path, |out| {
            (exporter.write)(&input, out).map_err(|error| {
                let io = std::io::Error::other(format!("{error:#}"));
                failure = Some(error);
                io
            })
        })
        .map_err(|io| failure.take().unwrap_or_else(|| io.into()))
        .with_context(|| format!("cannot write `{}`", path.display()))?;
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
        paired_test: suite.file.report.paired_test,
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
    /// The last record of each task, answers cut short ([`read_records`]).
    pub latest: LatestRecords,
    /// Samples in the evaluated dataset, from the manifest.
    pub samples: usize,
}

impl RunContents {
    /// The last record of each task.
    pub fn records(&self) -> &[Record] {
        &self.latest.records
    }
}

/// Read a run folder's suite copy and journal.
pub fn read_run(path: &Path) -> Result<RunContents, Failure> {
    let run = RunDir::open(path)?;
    let suite = crate::suite::load(&run.suite_toml())?;
    let latest = read_records(&run)?;
    let samples = run.manifest.datasets.get(&suite.dataset).map_or(0, |d| d.samples);
    Ok(RunContents { run, suite, latest, samples })
}

/// A baseline file, or the baseline of a run folder (its records, re-analysed).
pub fn load_baseline(path: &Path) -> Result<Baseline> {
    if path.is_dir() {
        let contents = read_run(path).map_err(|failure| match failure {
            Failure::Incomplete(error) => error,
            Failure::Invalid(diagnostics) => anyhow::anyhow!("{}", diagnostics.to_string().trim_end()),
        })?;
        let input = AnalysisInput {
            run: run_info(&contents.run, &contents.suite, contents.records(), true),
            suite: serde_json::Value::Null,
            variants: variant_infos(&contents.suite, contents.samples, &contents.run.manifest.backends),
            metrics: metric_infos(&contents.suite),
            records: contents.records(),
            baseline: contents.suite.file.suite.baseline.clone(),
            paired_test: contents.suite.file.report.paired_test,
        };
        return Ok(gates::baseline_of_run(&analyze(input), contents.records()));
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
