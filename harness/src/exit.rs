//! Exit codes and how failures are printed.
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | the command did what was asked (and every gate passed) |
//! | 1    | a gate failed |
//! | 2    | invalid input: suite, dataset or arguments |
//! | 3    | the run could not complete: error budget exceeded, backend unreachable, I/O failure |
//! | 130  | interrupted (Ctrl-C); resume with `--resume` |
//! | 143  | stopped by SIGTERM; resume with `--resume` |

use std::fmt;

use crate::diagnostic::Diagnostics;

/// Everything went as asked.
pub const SUCCESS: u8 = 0;
/// A gate failed.
pub const GATE_FAILED: u8 = 1;
/// Bad suite, dataset or arguments.
pub const INVALID_INPUT: u8 = 2;
/// The run could not complete.
pub const INCOMPLETE: u8 = 3;
/// Interrupted by the user (Ctrl-C, SIGINT).
pub const INTERRUPTED: u8 = 130;
/// Stopped by SIGTERM (a CI runner or Kubernetes ending the job).
pub const TERMINATED: u8 = 143;

/// A failure with its exit code.
pub enum Failure {
    /// Invalid input, with every problem found.
    Invalid(Diagnostics),
    /// The work could not be completed.
    Incomplete(anyhow::Error),
}

impl Failure {
    /// The process exit code.
    pub fn code(&self) -> u8 {
        match self {
            Failure::Invalid(_) => INVALID_INPUT,
            Failure::Incomplete(_) => INCOMPLETE,
        }
    }
}

impl From<Diagnostics> for Failure {
    fn from(diagnostics: Diagnostics) -> Self {
        Failure::Invalid(diagnostics)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::Incomplete(error)
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure::Incomplete(error.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Invalid(diagnostics) => write!(f, "{diagnostics}"),
            Failure::Incomplete(error) => {
                writeln!(f, "error: {error}")?;
                let mut chain = error.chain().skip(1).peekable();
                if chain.peek().is_some() {
                    writeln!(f, "\nCaused by:")?;
                    for cause in chain {
                        writeln!(f, "    {cause}")?;
                    }
                }
                Ok(())
            }
        }
    }
}
