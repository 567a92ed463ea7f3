//! The plain-text summary printed at the end of a run: one row per
//! (variant, metric) with the mean, its 95% confidence interval and the task
//! counts, then one row per variant with tokens, latency and cost.
//!
//! No colour codes, so it reads the same in a terminal, a CI log or a file.

use std::fmt::Write;

use crate::format::{self, Style, NONE};
use evalkit_record::results::RunResults;

/// Render the summary tables of `results`, followed by a note when the run is
/// incomplete.
pub fn summary_table(results: &RunResults) -> String {
    let header = ["variant", "metric", "mean", "95% CI", "valid/total", "invalid", "errors"];
    let mut scores = Table::new(&header, 2);
    for agg in &results.aggregates {
        let style = results.metric(&agg.metric).map_or(Style::Plain(None), Style::of);
        scores.row(vec![
            agg.variant.clone(),
            agg.metric.clone(),
            style.option(agg.mean),
            style.interval(agg.ci.as_ref()),
            format!("{}/{}", agg.valid, agg.total),
            agg.invalid.to_string(),
            agg.errors.to_string(),
        ]);
    }

    let mut usage = Table::new(&format::USAGE_HEADER, 1);
    for u in &results.usage {
        usage.row(format::usage_cells(u));
    }

    let mut out = scores.render();
    out.push('\n');
    out.push_str(&usage.render());
    let comparisons = comparison_table(&results.comparisons, &results.metrics);
    if !comparisons.is_empty() {
        out.push('\n');
        out.push_str(&comparisons);
    }
    if !results.run.complete {
        let _ = writeln!(out, "\nincomplete run: {} planned task(s) have no record yet", results.missing_tasks());
    }
    out
}

/// The paired comparisons as a table: difference with its interval, the test,
/// its p-value (with the Monte Carlo standard error when it was sampled), the
/// Holm-adjusted p-value and the verdict. `metrics` gives each metric's
/// display style. Empty when there are none.
pub fn comparison_table(
    comparisons: &[evalkit_record::results::Comparison],
    metrics: &[evalkit_record::results::MetricInfo],
) -> String {
    if comparisons.is_empty() {
        return String::new();
    }
    let header =
        ["candidate", "baseline", "metric", "test", "pairs", "difference", "95% CI", "p", "p (Holm)", "verdict"];
    let mut table = Table::new(&header, 4);
    for c in comparisons {
        let style = metrics.iter().find(|m| m.name == c.metric).map_or(Style::Plain(None), Style::of);
        let interval =
            c.ci.map_or_else(|| NONE.to_owned(), |ci| format!("[{}, {}]", style.signed(ci.low), style.signed(ci.high)));
        table.row(vec![
            c.candidate.clone(),
            c.baseline.clone(),
            c.metric.clone(),
            format::test_label(c.test).to_owned(),
            c.pairs.to_string(),
            c.difference.map_or_else(|| NONE.to_owned(), |d| style.signed(d)),
            interval,
            format::comparison_p(c),
            c.p_adjusted.map_or_else(|| NONE.to_owned(), format::p_value),
            c.verdict.label().to_owned(),
        ]);
    }
    table.render()
}

/// One line per gate (`PASS`/`FAIL`, name, message), warnings indented below
/// it, and a closing count. Empty when the suite has no gates.
pub fn gate_report(results: &RunResults) -> String {
    use evalkit_record::results::GateStatus;
    if results.gates.is_empty() {
        return String::new();
    }
    let mut out = String::from("gates:\n");
    for gate in &results.gates {
        let status = if gate.status == GateStatus::Passed { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "  {status}  {}: {}", printable(&gate.name), printable(&gate.message));
        for warning in &gate.warnings {
            let _ = writeln!(out, "        warning: {}", printable(warning));
        }
    }
    let failed = results.gates.iter().filter(|g| g.status == GateStatus::Failed).count();
    let _ = if failed == 0 {
        writeln!(out, "all {} gate(s) passed", results.gates.len())
    } else {
        writeln!(out, "{failed} of {} gate(s) failed", results.gates.len())
    };
    out
}

/// Columns padded to their widest cell: the leading name columns
/// left-aligned, the numbers right-aligned so their digits line up.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    left_aligned: usize,
}

impl Table {
    fn new(header: &[&str], left_aligned: usize) -> Table {
        let header = header.iter().map(|h| (*h).to_owned()).collect();
        Table { header, rows: Vec::new(), left_aligned }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| printable(c)).collect());
    }

    fn render(&self) -> String {
        let lines = || std::iter::once(&self.header).chain(&self.rows);
        let mut widths = vec![0; self.header.len()];
        for line in lines() {
            for (width, cell) in widths.iter_mut().zip(line) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for line in lines() {
            let mut text = String::new();
            for (i, (cell, width)) in line.iter().zip(&widths).enumerate() {
                let gap = if i == 0 { "" } else { "  " };
                let _ = if i < self.left_aligned {
                    write!(text, "{gap}{cell:<width$}")
                } else {
                    write!(text, "{gap}{cell:>width$}")
                };
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Control characters (newlines, escape sequences) in names would break the
/// layout or drive the terminal; show them as `?`.
fn printable(cell: &str) -> String {
    cell.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// Text for the terminal that may quote a server or a dataset (an error
/// message, a row's value): every control character except newline and tab
/// is shown escaped (`\u{1b}`), so a hostile message cannot move the
/// cursor, recolour the screen or rewrite the window title.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{binary, failure, metric, response, results, variant, with_latency};
    use evalkit_record::results::{Direction, Scale};

    fn two_variants() -> RunResults {
        let mut records = Vec::new();
        for i in 0..6 {
            let sample = format!("s{i}");
            let latency = 0.5 + f64::from(i) * 0.25;
            let scores = [
                ("exact_match", Some(f64::from(u8::from(i != 2)))),
                ("latency", Some(latency)),
                ("cost", Some(0.000205)),
            ];
            records.push(with_latency(response("baseline", &sample, 0, &scores), latency));
            if i == 5 {
                records.push(failure("candidate-long-name", &sample, 0));
            } else {
                let scores = [
                    ("exact_match", if i == 4 { None } else { Some(1.0) }),
                    ("latency", Some(2.0 * latency)),
                    ("cost", Some(0.0123)),
                ];
                records.push(with_latency(response("candidate-long-name", &sample, 0, &scores), 2.0 * latency));
            }
        }
        let metrics = vec![
            binary("exact_match"),
            metric("latency", Scale::Continuous, Direction::LowerIsBetter, Some("s")),
            metric("cost", Scale::Continuous, Direction::LowerIsBetter, Some("USD")),
        ];
        results(vec![variant("baseline", 6), variant("candidate-long-name", 6)], metrics, &records)
    }

    #[test]
    fn summary_of_a_complete_run() {
        let expected = "\
variant              metric            mean                  95% CI  valid/total  invalid  errors
baseline             exact_match      83.3%          [43.6%, 97.0%]          6/6        0       0
baseline             latency          1.12s         [0.634s, 1.62s]          6/6        0       0
baseline             cost         $0.000205  [$0.000205, $0.000205]          6/6        0       0
candidate-long-name  exact_match     100.0%         [51.0%, 100.0%]          4/6        1       1
candidate-long-name  latency          2.00s          [1.02s, 2.98s]          5/6        0       1
candidate-long-name  cost           $0.0123      [$0.0123, $0.0123]          5/6        0       1

variant              tokens in  tokens out  latency p50  latency p90      cost
baseline                   600          60        1.12s        1.62s  $0.00123
candidate-long-name        500          50        2.00s        2.80s   $0.0615

candidate            baseline  metric       test              pairs  difference                   95% CI      p  p (Holm)                verdict
candidate-long-name  baseline  exact_match  McNemar exact         4   +25.0 pts  [-54.6 pts, +104.6 pts]    1.0       1.0  no significant change
candidate-long-name  baseline  latency      sign-flip, exact      5      +1.00s        [+0.509s, +1.49s]  0.062      0.19  no significant change
candidate-long-name  baseline  cost         sign-flip, exact      5    +$0.0121     [+$0.0121, +$0.0121]  0.062      0.19  no significant change
";
        let text = summary_table(&two_variants());
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn incomplete_runs_say_so() {
        let records = [response("a", "s1", 0, &[("em", None)]), response("a", "s2", 0, &[("em", Some(1.0))])];
        let text = summary_table(&results(vec![variant("a", 3)], vec![binary("em")], &records));
        let expected = "\
variant  metric    mean  95% CI  valid/total  invalid  errors
a        em      100.0%       -          1/3        1       0

variant  tokens in  tokens out  latency p50  latency p90  cost
a              200          20        1.00s        1.00s     -

incomplete run: 1 planned task(s) have no record yet
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn escape_sequences_in_messages_are_shown_not_obeyed() {
        let hostile = "HTTP 500: \u{1b}]0;pwned\u{7}\u{1b}[2J\rboom\nnext line\tok";
        let shown = escape_controls(hostile);
        assert_eq!(shown, "HTTP 500: \\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{d}boom\nnext line\tok");
        assert!(matches!(escape_controls("plain\ntext"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        let records = [response("a\u{1b}[31m\nb", "s1", 0, &[("em", Some(1.0))])];
        let text = summary_table(&results(vec![variant("a\u{1b}[31m\nb", 1)], vec![binary("em")], &records));
        assert!(!text.contains('\u{1b}'));
        assert!(text.contains("a?[31m?b"));
        assert!(text.lines().all(|line| !line.starts_with('b')));
    }
}
