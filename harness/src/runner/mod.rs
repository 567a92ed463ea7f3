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
        /// The most recent failure, as a clue.
        last_error: String,
    },
    /// Ctrl-C.
    Interrupted,
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
pub async fn execute(
    shared: Arc<Shared>,
    pending: impl IntoIterator<Item = Task>,
    journal: &mut Journal,
    limits: Limits,
    progress: &mut Progress,
    mut paired: Option<PairedStage>,
) -> std::io::Result<Execution> {
    let mut queue = pending.into_iter();
    let mut recorded = 0;
    let mut running: JoinSet<(usize, u32, Option<Record>)> = JoinSet::new();
    let mut failed = limits.failed_before;
    let allowed_failures = limits.error_budget * limits.total_tasks as f64;
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    loop {
        while running.len() < limits.concurrency.max(1) {
            match queue.next() {
                Some(task) => {
                    let shared = Arc::clone(&shared);
                    let (sample, repeat) = (task.sample, task.repeat);
                    running.spawn(async move {
                        // A panic inside a task is a bug in evalkit; caught here so that its
                        // sample's other records are not held forever by the paired stage.
                        let record = AssertUnwindSafe(task::run(shared, task)).catch_unwind().await.ok();
                        (sample, repeat, record)
                    });
                }
                None => break,
            }
        }
        let joined = tokio::select! {
            joined = running.join_next() => joined,
            _ = &mut interrupt => {
                running.abort_all();
                return Ok(Execution { end: RunEnd::Interrupted, recorded });
            }
        };
        let Some(joined) = joined else { return Ok(Execution { end: RunEnd::Completed, recorded }) };
        let (sample, repeat, record) = match joined {
            Ok(finished) => finished,
            Err(error) => {
                eprintln!("warning: a task failed inside evalkit ({error}); it will run again on --resume");
                continue;
            }
        };
        if record.is_none() {
            eprintln!("warning: a task failed inside evalkit; it will run again on --resume");
        }
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
                if failed as f64 > allowed_failures {
                    running.abort_all();
                    let end =
                        RunEnd::BudgetExceeded { failed, total: limits.total_tasks, last_error: error.message.clone() };
                    return Ok(Execution { end, recorded });
                }
            }
        }
    }
}
