//! Progress on stderr: a live bar on a terminal, periodic plain lines in CI.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use evalkit_record::journal::{Outcome, Record};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Tracks finished tasks and shows rate, errors and spend.
pub struct Progress {
    total: u64,
    done: u64,
    errors: u64,
    cached: u64,
    spend_usd: f64,
    cost_metrics: Vec<String>,
    started: Instant,
    last_line: Instant,
    interval: Duration,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// `total` pending tasks; `cost_metrics` are metric names whose values are USD.
    /// `quiet` shows nothing.
    pub fn new(total: u64, cost_metrics: Vec<String>, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} tasks  {per_sec}  ETA {eta}  {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        let now = Instant::now();
        Progress {
            total,
            done: 0,
            errors: 0,
            cached: 0,
            spend_usd: 0.0,
            cost_metrics,
            started: now,
            last_line: now,
            interval: if quiet { Duration::MAX } else { Duration::from_secs(10) },
            bar,
        }
    }

    /// Count one finished task.
    pub fn finished(&mut self, record: &Record) {
        self.done += 1;
        if matches!(record.outcome, Outcome::Error(_)) {
            self.errors += 1;
        }
        if record.cached {
            self.cached += 1;
        }
        // Cached answers cost nothing this time.
        for name in self.cost_metrics.iter().filter(|_| !record.cached) {
            if let Some(value) = record.scores.get(name).and_then(|s| s.value) {
                self.spend_usd += value;
            }
        }
        let status = self.status();
        if let Some(bar) = &self.bar {
            bar.set_message(status);
            bar.inc(1);
        } else if self.last_line.elapsed() >= self.interval {
            self.last_line = Instant::now();
            let elapsed = self.started.elapsed().as_secs_f64();
            let rate = self.done as f64 / elapsed.max(1e-9);
            let eta = (self.total - self.done) as f64 / rate.max(1e-9);
            eprintln!(
                "progress: {}/{} tasks ({:.0}%), {rate:.1} tasks/s, ETA {}, {status}",
                self.done,
                self.total,
                100.0 * self.done as f64 / self.total.max(1) as f64,
                format_duration(eta)
            );
        }
    }

    fn status(&self) -> String {
        let mut status = format!("{} errors", self.errors);
        if self.cached > 0 {
            status.push_str(&format!(", {} cached", self.cached));
        }
        if !self.cost_metrics.is_empty() {
            status.push_str(&format!(", ${:.4} spent", self.spend_usd));
        }
        status
    }

    /// Clear the bar and say how long it took.
    pub fn finish(&self) -> Duration {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.started.elapsed()
    }
}

/// `1h02m`, `3m05s`, `12s`.
pub fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "?".to_owned();
    }
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}
