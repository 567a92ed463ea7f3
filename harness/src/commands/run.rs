//! `evalkit run suite.toml` and `evalkit run --resume <run dir>`.
//!
//! Stages: prepare (suite + data) → connect (backends) → plan (render every
//! prompt) → run folder → execute (journal as tasks finish) → outputs.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use evalkit_record::journal::Outcome;
use evalkit_record::journal_file::Journal;
use tokio::sync::Semaphore;

use crate::cache::ResponseCache;
use crate::caller::{CallTarget, Caller};
use crate::exit::{self, Failure};
use crate::plan::{self, Task, TaskKey};
use crate::prepare::{prepare, Prepared};
use crate::redact::Redactor;
use crate::rundir::{fingerprints, RunDir};
use crate::runner::retry::RetryPolicy;
use crate::runner::{self, earlier_answers, Limits, PairedStage, Progress, RunEnd, Shared, VariantRuntime};
use crate::signals::Signals;
use crate::{connect, open_files, outputs};

/// Options of `evalkit run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The suite file (new runs).
    pub suite: Option<PathBuf>,
    /// A run folder to finish.
    pub resume: Option<PathBuf>,
    /// Ignore and do not fill the response cache.
    pub no_cache: bool,
    /// Override `[run] output_dir`.
    pub output_dir: Option<PathBuf>,
    /// No progress output.
    pub quiet: bool,
}

/// Run (or resume) a suite; returns the exit code.
pub async fn run(options: RunOptions) -> Result<u8, Failure> {
    // Listening from the start: a stop request while the suite loads is
    // honoured as soon as the runner starts, instead of killing the process.
    let mut signals = Signals::listen().context("cannot listen for Ctrl-C and SIGTERM")?;
    let resumed = match &options.resume {
        // A folder that is not a run is a bad argument (exit 2), not a failed run.
        Some(path) => Some(RunDir::open(path).map_err(|e| {
            Failure::Invalid(
                crate::diagnostic::Diagnostic::new(format!("{e:#}"))
                    .with_hint("pass a folder that `evalkit run` printed as `run: <dir>`")
                    .into(),
            )
        })?),
        None => None,
    };
    let suite_path = match (&resumed, &options.suite) {
        (Some(run), _) => run.suite_toml(),
        (None, Some(path)) => path.clone(),
        (None, None) => {
            return Err(Failure::Invalid(
                crate::diagnostic::Diagnostic::new("nothing to run")
                    .with_hint("pass a suite file, or `--resume <run dir>`")
                    .into(),
            ))
        }
    };
    let prepared = Arc::new(prepare(&suite_path)?);
    let connected = connect::connect(&prepared.suite)?;
    ensure_open_files(&prepared.suite, &connected)?;
    let suite = &prepared.suite;
    let plan = plan::plan(suite, &prepared.datasets)?;

    let resuming = resumed.is_some();
    let mut run = match resumed {
        Some(run) => {
            warn_if_data_changed(&run, &prepared);
            run
        }
        None => {
            let output_dir = options.output_dir.clone().unwrap_or_else(|| PathBuf::from(&suite.file.run.output_dir));
            let backends = connected.iter().map(|(name, c)| (name.clone(), c.backend.identity())).collect();
            RunDir::create(&output_dir, suite, &prepared.datasets, backends, plan.tasks.len() as u64)?
        }
    };
    let _lock = run.lock()?;
    eprintln!("run: {}", run.path.display());
    // Read once: the replan and the finished work both come from it.
    let journal_records = outputs::read_journal(&run)?.records;
    if resuming {
        replan(&mut run, &prepared, plan.tasks.len(), &journal_records)?;
    }

    // Finished work is every task the journal holds an answer for (a stale
    // sample's tasks are in no plan, so they match nothing). Failed tasks are
    // tried again: a resume usually follows fixing their cause.
    let done: HashSet<TaskKey> = journal_records
        .into_iter()
        .filter(|r| matches!(r.outcome, Outcome::Response(_)))
        .map(|r| (r.variant, r.sample, r.repeat))
        .collect();
    let evaluated = prepared.evaluated();
    let key = |t: &Task| (suite.variants[t.variant].name.clone(), evaluated.samples[t.sample].id.clone(), t.repeat);
    let pending: Vec<Task> = plan.tasks.iter().filter(|t| !done.contains(&key(t))).copied().collect();
    drop(done);
    if pending.len() < plan.tasks.len() {
        eprintln!(
            "resume: {} of {} tasks already done, {} to go",
            plan.tasks.len() - pending.len(),
            plan.tasks.len(),
            pending.len()
        );
    }

    let shared = Arc::new(shared_state(Arc::clone(&prepared), &connected, options.no_cache));
    let reference_variants: Vec<&str> =
        suite.metrics.iter().filter_map(|m| Some(m.paired()?.reference_variant())).collect();
    let paired = match reference_variants.is_empty() {
        true => None,
        false => {
            let earlier = earlier_answers(&run.records(), &reference_variants)
                .with_context(|| format!("cannot read the journal `{}`", run.records().display()))?;
            Some(PairedStage::new(&pending, earlier))
        }
    };
    let cost_metrics = suite.metrics.iter().filter(|m| m.unit() == Some("USD")).map(|m| m.name().to_owned()).collect();
    let mut progress = Progress::new(pending.len() as u64, cost_metrics, options.quiet);
    let mut journal = Journal::open(&run.records())
        .with_context(|| format!("cannot open the journal `{}`", run.records().display()))?;
    let limits = Limits {
        concurrency: suite.file.run.concurrency,
        error_budget: suite.file.run.error_budget,
        total_tasks: plan.tasks.len(),
        failed_before: 0,
    };
    let pending_count = pending.len();
    let execution =
        runner::execute(Arc::clone(&shared), pending, &mut journal, limits, &mut progress, paired, &mut signals)
            .await
            .with_context(|| format!("cannot append to the journal `{}`", journal.path().display()))?;
    let end = execution.end;
    let elapsed = progress.finish();

    // Every planned task has a record once this session recorded all it was given.
    if end == RunEnd::Completed && execution.recorded == pending_count {
        run.mark_finished()?;
    }
    let runtime = connected.iter().filter_map(|(name, c)| Some((name.clone(), c.backend.runtime()?))).collect();
    run.record_runtime(runtime)?;
    report_metric_calls(&shared.caller, &shared.variants);
    // The datasets are no longer needed: the outputs are derived from the
    // journal. Letting them go first keeps the run's peak memory that of the larger stage.
    let samples = evaluated.samples.len();
    let planned_tasks = plan.tasks.len();
    drop((shared, plan));
    let mut prepared = prepared;
    if let Some(prepared) = Arc::get_mut(&mut prepared) {
        // Only a task cancelled by Ctrl-C could still hold it; then it stays.
        prepared.datasets.clear();
    }
    let suite = &prepared.suite;
    let latest = outputs::read_records(&run)?;
    let complete = run.is_complete(&latest.records, planned_tasks);
    let results = outputs::write(&run, suite, &latest, samples, complete, outputs::BaselineSource::Suite)?;
    if !options.quiet {
        println!("{}", evalkit_reports::terminal::summary_table(&results));
    }
    eprint!("{}", evalkit_reports::terminal::gate_report(&results));
    outputs::publish_step_summary(&results).map_err(Failure::Incomplete)?;
    eprintln!("finished in {} · report: {}", runner_duration(elapsed), run.report().display());

    match end {
        RunEnd::Completed if !results.gates_passed() => Ok(exit::GATE_FAILED),
        RunEnd::Completed => Ok(exit::SUCCESS),
        RunEnd::BudgetExceeded { failed, total, last_error } => Err(Failure::Incomplete(anyhow!(
            "run aborted: {failed} of {total} tasks failed, more than the error budget of {:.0}%\n  last error: {last_error}\n  finished work is saved; fix the cause, then `evalkit run --resume {}`",
            suite.file.run.error_budget * 100.0,
            run.path.display()
        ))),
        RunEnd::Interrupted(signal) => {
            eprintln!(
                "stopped by {}: finished work is saved; continue with `evalkit run --resume {}`",
                signal.name(),
                run.path.display()
            );
            Ok(signal.exit_code())
        }
    }
}

/// Enough open files for every request the run may keep in flight: `[run]
/// concurrency`, or less when the backends' `max_concurrency` add up to less.
fn ensure_open_files(
    suite: &crate::suite::Suite,
    connected: &BTreeMap<String, connect::Connected>,
) -> Result<(), Failure> {
    let backends: usize = connected.values().map(|c| c.max_concurrency).fold(0, usize::saturating_add);
    let in_flight = suite.file.run.concurrency.min(backends) as u64;
    open_files::ensure(open_files::needed_for(in_flight)).map_err(|short| {
        let path = crate::suite::source::key_path!["run", "concurrency"];
        let span = suite.source.span_of(&path).unwrap_or(0..0);
        let message = format!(
            "{in_flight} requests in flight need about {} open files, but this process may open only {} (hard limit {})",
            short.needed, short.soft, short.hard
        );
        let hint = format!(
            "lower `concurrency` (or the backends' `max_concurrency`) to at most {}, or raise the limit before running (`ulimit -n {}`)",
            short.soft.saturating_sub(open_files::RESERVED) / 2,
            short.needed
        );
        Failure::Invalid(crate::suite::parse::locate(&suite.source, message, &span, Some(hint)).into())
    })
}

fn runner_duration(elapsed: std::time::Duration) -> String {
    format!("{:.1}s", elapsed.as_secs_f64())
}

/// On `--resume`, the plan made from the dataset as it is now decides what
/// counts: samples the journal has but the dataset no longer does are
/// recorded as stale in the manifest (and so left out of every result), and
/// the manifest's fingerprints and planned tasks are brought up to date.
fn replan(
    run: &mut RunDir,
    prepared: &Prepared,
    planned_tasks: usize,
    journal: &[evalkit_record::journal::Record],
) -> anyhow::Result<()> {
    let evaluated = prepared.evaluated();
    let in_plan: HashSet<&str> = evaluated.samples.iter().map(|s| s.id.as_str()).collect();
    let stale: BTreeSet<&str> = journal.iter().map(|r| r.sample.as_str()).filter(|id| !in_plan.contains(id)).collect();
    if !stale.is_empty() {
        let listed: Vec<&str> = stale.iter().take(5).copied().collect();
        eprintln!(
            "warning: {} samples in the journal are no longer in `{}` ({}{}); their records are left out of the results",
            stale.len(),
            evaluated.path.display(),
            listed.join(", "),
            if stale.len() > listed.len() { ", …" } else { "" }
        );
    }
    run.replan(fingerprints(&prepared.datasets), planned_tasks as u64, stale.into_iter().map(str::to_owned).collect())
}

fn warn_if_data_changed(run: &RunDir, prepared: &Prepared) {
    let now = fingerprints(&prepared.datasets);
    for (name, before) in &run.manifest.datasets {
        match now.get(name) {
            Some(after) if after.sha256 != before.sha256 => eprintln!(
                "warning: dataset `{name}` ({}) changed since this run started; samples are paired by id, so results may mix old and new data",
                after.path
            ),
            _ => {}
        }
    }
}

fn shared_state(prepared: Arc<Prepared>, connected: &BTreeMap<String, connect::Connected>, no_cache: bool) -> Shared {
    let suite = &prepared.suite;
    let targets = connected
        .iter()
        .map(|(name, c)| {
            let target = CallTarget {
                backend: Arc::clone(&c.backend),
                limit: Arc::new(Semaphore::new(c.max_concurrency.max(1))),
                identity: c.backend.identity(),
            };
            (name.clone(), target)
        })
        .collect();
    let variants = suite
        .variants
        .iter()
        .map(|v| {
            let identity = connected[&v.backend].backend.identity();
            VariantRuntime { name: v.name.clone(), backend: v.backend.clone(), model: identity.model.clone(), identity }
        })
        .collect();
    let spec = &suite.file.datasets[&suite.dataset];
    let run = &suite.file.run;
    let retry = RetryPolicy {
        retries: run.retries,
        initial: std::time::Duration::from_secs_f64(run.backoff),
        max: std::time::Duration::from_secs_f64(run.max_backoff),
        max_retry_after: std::time::Duration::from_secs_f64(run.max_retry_after),
    };
    let cache = (!no_cache).then(|| ResponseCache::new(&run.cache_dir));
    let redactor = Redactor::new(connected.values().flat_map(|c| c.secrets.iter().cloned()));
    Shared {
        variants,
        metrics: suite.metrics.clone(),
        caller: Arc::new(Caller::new(targets, cache, retry).with_redactor(redactor)),
        reference_field: spec.reference_field.clone().unwrap_or_else(|| "answer".to_owned()),
        cluster_field: spec.cluster_field.clone(),
        prepared,
    }
}

/// What metrics asked of models this session: backends that no variant
/// uses are called only by metrics (judges), and their use is shown here.
fn report_metric_calls(caller: &Caller, variants: &[VariantRuntime]) {
    for (name, usage) in caller.usage() {
        if variants.iter().any(|v| v.backend == name) || usage.calls == 0 {
            continue;
        }
        eprintln!(
            "metric calls to `{name}`: {} ({} cached, {} failed), {} requests, {} input and {} output tokens",
            usage.calls, usage.cached, usage.failed, usage.attempts, usage.input_tokens, usage.output_tokens
        );
    }
}
