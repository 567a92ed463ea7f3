//! The async runner: pending tasks in, journal records out.
//!
//! Concurrency is bounded twice: `[run] concurrency` tasks at once overall,
//! and each backend's `max_concurrency` requests in flight (in the model
//! caller). Every finished task is appended to the journal before the next is
//! counted, so an interrupted run loses at most the tasks that were in flight.
//!
//! When the suite has paired metrics, a task's record waits until every
//! variant has answered the same sample and repeat; the paired stage then
//! scores the group and its records are journaled together. Tasks are laid
//! out sample by sample, so a group completes soon after it starts; one still
//! waiting when a run stops runs again on `--resume` (usually from the cache).

mod paired;
mod progress;
pub mod retry;
pub mod task;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use evalkit_record::journal::{Outcome, Record};
use evalkit_record::journal_file::Journal;
use futures_util::FutureExt;
use tokio::task::JoinSet;

use crate::plan::Task;
use crate::signals::{Signals, StopSignal};
pub use paired::{earlier_answers, PairedStage};
pub use progress::Progress;
pub use task::{Shared, VariantRuntime};

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    /// Every pending task finished (successfully or as a recorded error).
    Completed,
    /// Too many tasks failed: `failed` of `total` exceeds the error budget.
    BudgetExceeded {
        /// Failed tasks so far (this run and earlier ones being resumed).
        failed: usize,
        /// Planned tasks.
        total: usize,
        /// The failure that went over the budget, as a clue.
        last_error: String,
    },
    /// Ctrl-C or SIGTERM.
    Interrupted(StopSignal),
}

/// What an execution did.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// How it ended.
    pub end: RunEnd,
    /// Records appended to the journal.
    pub recorded: usize,
}

/// Limits for one execution.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Tasks in flight at once.
    pub concurrency: usize,
    /// Abort when failed tasks exceed this share of `total_tasks`.
    pub error_budget: f64,
    /// Tasks in the whole plan (finished earlier or pending).
    pub total_tasks: usize,
    /// Failed tasks already in the journal (when resuming).
    pub failed_before: usize,
}

/// Run `pending` tasks, appending each record to `journal` as it finishes.
/// `paired` holds records back for the paired stage when the suite has paired metrics.
///
/// A stop request (the first signal, or failures beyond the error budget)
/// starts no new task and asks the caller to give up on answers not yet
/// sent; the tasks whose request is in flight finish and are journaled, since
/// they are paid for. A second signal stops at once.
pub async fn execute(
    shared: Arc<Shared>,
    pending: impl IntoIterator<Item = Task>,
    journal: &mut Journal,
    limits: Limits,
    progress: &mut Progress,
    mut paired: Option<PairedStage>,
    signals: &mut Signals,
) -> std::io::Result<Execution> {
    let mut queue = pending.into_iter();
    let mut recorded = 0;
    let mut running: JoinSet<(usize, u32, TaskEnd)> = JoinSet::new();
    let mut failed = limits.failed_before;
    let allowed_failures = limits.error_budget * limits.total_tasks as f64;
    // Set once the run is stopping: how it will end.
    let mut stopping: Option<RunEnd> = None;
    loop {
        while stopping.is_none() && running.len() < limits.concurrency.max(1) {
            match queue.next() {
                Some(task) => {
                    let shared = Arc::clone(&shared);
                    let (sample, repeat) = (task.sample, task.repeat);
                    running.spawn(async move {
                        // A panic inside a task is a bug in evalkit; caught here so that its
                        // sample's other records are not held forever by the paired stage.
                        let end = match AssertUnwindSafe(task::run(shared, task)).catch_unwind().await {
                            Ok(Some(record)) => TaskEnd::Recorded(Box::new(record)),
                            Ok(None) => TaskEnd::Stopped,
                            Err(_) => TaskEnd::Panicked,
                        };
                        (sample, repeat, end)
                    });
                }
                None => break,
            }
        }
        let joined = tokio::select! {
            joined = running.join_next() => joined,
            signal = signals.next() => {
                if stopping.is_some() || running.is_empty() {
                    running.abort_all();
                    if !running.is_empty() {
                        eprintln!("{}: stopping now; {} tasks in flight will run again on --resume", signal.name(), running.len());
                    }
                    return Ok(Execution { end: RunEnd::Interrupted(signal), recorded });
                }
                eprintln!(
                    "{}: stopping; finishing the {} tasks in flight (press Ctrl-C again to stop at once)",
                    signal.name(),
                    running.len()
                );
                shared.caller.stop();
                stopping = Some(RunEnd::Interrupted(signal));
                continue;
            }
        };
        let Some(joined) = joined else {
            return Ok(Execution { end: stopping.unwrap_or(RunEnd::Completed), recorded });
        };
        let (sample, repeat, end) = match joined {
            Ok(finished) => finished,
            Err(error) => {
                eprintln!("warning: a task failed inside evalkit ({error}); it will run again on --resume");
                continue;
            }
        };
        let record = match end {
            TaskEnd::Recorded(record) => Some(*record),
            TaskEnd::Stopped => None,
            TaskEnd::Panicked => {
                eprintln!("warning: a task failed inside evalkit; it will run again on --resume");
                None
            }
        };
        let ready = match paired.as_mut() {
            Some(stage) => stage.finished(&shared, sample, repeat, record).await,
            None => record.into_iter().collect(),
        };
        for record in ready {
            journal.append(&record)?;
            recorded += 1;
            progress.finished(&record);
            if let Outcome::Error(error) = &record.outcome {
                failed += 1;
                if failed as f64 > allowed_failures && stopping.is_none() {
                    if !running.is_empty() {
                        eprintln!(
                            "error budget exceeded: starting no new task; finishing the {} in flight",
                            running.len()
                        );
                    }
                    shared.caller.stop();
                    stopping = Some(RunEnd::BudgetExceeded {
                        failed,
                        total: limits.total_tasks,
                        last_error: error.message.clone(),
                    });
                }
            }
        }
        if let Some(RunEnd::BudgetExceeded { failed: counted, .. }) = &mut stopping {
            *counted = failed;
        }
    }
}

/// How one task ended.
enum TaskEnd {
    /// With a record to journal.
    Recorded(Box<Record>),
    /// Without asking, because the run is stopping; it runs again on resume.
    Stopped,
    /// In a panic (a bug); it runs again on resume.
    Panicked,
}
