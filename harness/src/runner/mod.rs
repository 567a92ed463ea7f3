//! The async runner: pending tasks in, journal records out.
//!
//! Concurrency is bounded twice: `[run] concurrency` tasks at once overall,
//! and each backend's `max_concurrency` requests in flight. Every finished task
//! is appended to the journal before the next is counted, so an interrupted
//! run loses at most the tasks that were in flight.

mod progress;
pub mod retry;
pub mod task;

use std::sync::Arc;

use evalkit_reports::record::{Outcome, Record};
use tokio::task::JoinSet;

use crate::journal::Journal;
use crate::plan::Task;
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
pub async fn execute(
    shared: Arc<Shared>,
    pending: Vec<Task>,
    journal: &mut Journal,
    limits: Limits,
    progress: &mut Progress,
) -> std::io::Result<RunEnd> {
    let mut queue = pending.into_iter();
    let mut running: JoinSet<Record> = JoinSet::new();
    let mut failed = limits.failed_before;
    let allowed_failures = limits.error_budget * limits.total_tasks as f64;
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    loop {
        while running.len() < limits.concurrency.max(1) {
            match queue.next() {
                Some(task) => {
                    running.spawn(task::run(Arc::clone(&shared), task));
                }
                None => break,
            }
        }
        let joined = tokio::select! {
            joined = running.join_next() => joined,
            _ = &mut interrupt => {
                running.abort_all();
                return Ok(RunEnd::Interrupted);
            }
        };
        let Some(joined) = joined else { return Ok(RunEnd::Completed) };
        let record = match joined {
            Ok(record) => record,
            // A panicking task is a bug in evalkit; say so and keep the run going.
            Err(error) => {
                eprintln!("warning: a task failed inside evalkit ({error}); it will be retried on --resume");
                continue;
            }
        };
        journal.append(&record)?;
        progress.finished(&record);
        if let Outcome::Error(error) = &record.outcome {
            failed += 1;
            if failed as f64 > allowed_failures {
                running.abort_all();
                return Ok(RunEnd::BudgetExceeded {
                    failed,
                    total: limits.total_tasks,
                    last_error: error.message.clone(),
                });
            }
        }
    }
}
