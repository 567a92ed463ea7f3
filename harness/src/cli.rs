//! Command-line definitions. Each subcommand's work lives in [`crate::commands`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::exit;

/// Evaluate and benchmark LLMs: run a suite, score every answer, report with honest statistics.
#[derive(Debug, Parser)]
#[command(name = "evalkit", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 ok · 1 a gate failed · 2 invalid suite, dataset or arguments · 3 the run could not complete · 130 interrupted";

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every variant on every sample, score, and write results and a report.
    Run {
        /// The suite file.
        #[arg(required_unless_present = "resume")]
        suite: Option<PathBuf>,
        /// Finish an interrupted run in this folder without repeating finished work.
        #[arg(long, value_name = "RUN_DIR", conflicts_with = "suite")]
        resume: Option<PathBuf>,
        /// Neither read nor write the response cache.
        #[arg(long)]
        no_cache: bool,
        /// Put the run folder here instead of `[run] output_dir`.
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
        /// No progress and no summary table (errors and the report path still print).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Check a suite without calling any model: schema, data files, templates.
    Validate {
        /// The suite file.
        suite: PathBuf,
    },
    /// Rebuild results.json, report.html and the other outputs of a run from its records.jsonl.
    Report {
        /// The run folder.
        run_dir: PathBuf,
    },
    /// Check a run's gates (exit 1 when one fails), optionally against another baseline.
    Gate {
        /// The run folder.
        run_dir: PathBuf,
        /// Use this baseline file or run folder for every regression gate that names a baseline.
        #[arg(long, value_name = "FILE_OR_RUN_DIR")]
        baseline: Option<PathBuf>,
    },
    /// Compare run B with run A sample by sample (e.g. a branch against main).
    Compare {
        /// Run A, the reference.
        run_a: PathBuf,
        /// Run B, the candidate.
        run_b: PathBuf,
        /// Also write the comparison as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Manage baseline files for regression gates.
    Baseline {
        #[command(subcommand)]
        command: BaselineCommand,
    },
}

#[derive(Debug, Subcommand)]
enum BaselineCommand {
    /// Write a run's per-sample scores as the baseline later runs are gated against.
    Update {
        /// The run folder (a complete run).
        run_dir: PathBuf,
        /// Where to write it. Default: the baseline file the suite's gates name.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// Parse arguments, run the command, print failures, return the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { exit::INVALID_INPUT } else { exit::SUCCESS });
        }
    };
    let result = match cli.command {
        Command::Run { suite, resume, no_cache, output_dir, quiet } => {
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("error: cannot start the async runtime: {error}");
                    return ExitCode::from(exit::INCOMPLETE);
                }
            };
            let options = commands::run::RunOptions { suite, resume, no_cache, output_dir, quiet };
            let result = runtime.block_on(commands::run::run(options));
            // A local model's computation cannot be cancelled; after a second
            // Ctrl-C the outputs are written, and the process must not wait for it.
            runtime.shutdown_background();
            result
        }
        Command::Validate { suite } => commands::validate::validate(&suite).map(|()| exit::SUCCESS),
        Command::Report { run_dir } => commands::report::report(&run_dir).map(|()| exit::SUCCESS),
        Command::Gate { run_dir, baseline } => commands::gate::gate(&run_dir, baseline.as_deref()),
        Command::Compare { run_a, run_b, json } => commands::compare::compare(&run_a, &run_b, json.as_deref()),
        Command::Baseline { command: BaselineCommand::Update { run_dir, output } } => {
            commands::baseline::update(&run_dir, output.as_deref()).map(|()| exit::SUCCESS)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            // Failures quote servers and datasets: no escape sequence gets through.
            eprint!("{}", evalkit_reports::terminal::escape_controls(&failure.to_string()));
            ExitCode::from(failure.code())
        }
    }
}
