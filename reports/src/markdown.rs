//! `summary.md`: the run's summary as GitHub-flavoured Markdown, for a CI step
//! summary (`$GITHUB_STEP_SUMMARY`) or a pull-request comment.
//!
//! It says what the terminal and HTML reports say, with the same number
//! formatting: the gate verdict first, then the comparisons that came out
//! significant (or could not be tested), then the tables.
//!
//! Names come from suites and backends and are not trusted: every piece of
//! text from the results is escaped so that it can neither break a table
//! (`|`, newlines) nor inject HTML (GitHub renders HTML inside Markdown).

use std::fmt::Write;

use crate::format::{self, Style, NONE};
use evalkit_record::results::{Comparison, GateStatus, RunResults, Verdict};

/// Render `results` as Markdown.
pub fn summary_markdown(results: &RunResults) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## evalkit: {} — run `{}`\n", text(&results.run.suite_name), code(&results.run.id));
    gates(&mut out, results);
    headlines(&mut out, results);
    metrics(&mut out, results);
    comparisons(&mut out, results);
    usage(&mut out, results);
    if !results.run.complete {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> Incomplete run: {} planned task(s) have no record yet; \
             the figures above cover only the tasks that finished.\n",
            results.missing_tasks()
        );
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// The one-line verdict and the table of gates.
fn gates(out: &mut String, results: &RunResults) {
    let total = results.gates.len();
    let failed = results.gates.iter().filter(|g| g.status == GateStatus::Failed).count();
    if total == 0 {
        out.push_str("No gates configured.\n\n");
        return;
    }
    let plural = if total == 1 { "gate" } else { "gates" };
    if failed == 0 {
        let _ = writeln!(out, "**✅ all {total} {plural} passed**\n");
    } else {
        let _ = writeln!(out, "**❌ {failed} of {total} {plural} failed**\n");
    }
    let mut table = Table::new(&[("status", false), ("gate", false), ("message", false), ("warnings", false)]);
    for g in &results.gates {
        let status = match g.status {
            GateStatus::Passed => "✅ passed",
            GateStatus::Failed => "❌ failed",
        };
        let warnings = if g.warnings.is_empty() {
            NONE.to_owned()
        } else {
            g.warnings.iter().map(|w| cell(w)).collect::<Vec<_>>().join("<br>")
        };
        // The warnings are escaped one by one; only the `<br>` between them is markup.
        table.raw_row(vec![status.to_owned(), cell(&g.name), cell(&g.message), warnings]);
    }
    table.render(out);
}

/// A sentence per comparison that came out significant or untestable, and a
/// count of the rest.
fn headlines(out: &mut String, results: &RunResults) {
    if results.comparisons.is_empty() {
        return;
    }
    let mut quiet = 0;
    for c in &results.comparisons {
        if c.verdict == Verdict::NoSignificantChange {
            quiet += 1;
        } else {
            let _ = writeln!(out, "- {}", headline(results, c));
        }
    }
    if quiet > 0 {
        let what = if quiet == 1 { "comparison shows" } else { "comparisons show" };
        let _ = writeln!(out, "- {quiet} other {what} no significant change.");
    }
    out.push('\n');
}

fn headline(results: &RunResults, c: &Comparison) -> String {
    let style = style_of(results, &c.metric);
    let (candidate, baseline, metric) = (text(&c.candidate), text(&c.baseline), text(&c.metric));
    match c.verdict {
        Verdict::Improved | Verdict::Regressed => {
            let (icon, verb) =
                if c.verdict == Verdict::Improved { ("🟢", "beats") } else { ("🔴", "is worse than") };
            let by = c.difference.filter(|d| d.is_finite()).map(|d| format!(" by {}", style.signed(d)));
            let p = match (c.p_adjusted, c.p_value) {
                (Some(p), _) => format!(" ({}, Holm-adjusted)", format::p_equals(p)),
                (None, Some(p)) => format!(" ({})", format::p_equals(p)),
                _ => String::new(),
            };
            format!("{icon} **{candidate}** {verb} **{baseline}** on {metric}{}{p}.", by.unwrap_or_default())
        }
        Verdict::NotEnoughData => {
            format!("⚪ **{candidate}** has too little data on {metric} to tell ({} pairs).", c.pairs)
        }
        Verdict::NoSignificantChange => {
            format!("**{candidate}** shows no significant change against **{baseline}** on {metric}.")
        }
    }
}

fn metrics(out: &mut String, results: &RunResults) {
    if results.aggregates.is_empty() {
        return;
    }
    out.push_str("### Metrics\n\n");
    let mut table = Table::new(&[
        ("variant", false),
        ("metric", false),
        ("mean", true),
        ("95% CI", true),
        ("n", true),
        ("invalid", true),
        ("errors", true),
    ]);
    for a in &results.aggregates {
        let style = style_of(results, &a.metric);
        table.row(vec![
            a.variant.clone(),
            a.metric.clone(),
            style.option(a.mean),
            style.interval(a.ci.as_ref()),
            format::count(a.n_samples),
            format::count(a.invalid),
            format::count(a.errors),
        ]);
    }
    table.render(out);
}

fn comparisons(out: &mut String, results: &RunResults) {
    if results.comparisons.is_empty() {
        return;
    }
    out.push_str("### Comparisons\n\n");
    let mut table = Table::new(&[
        ("candidate vs baseline", false),
        ("metric", false),
        ("difference", true),
        ("95% CI", true),
        ("test", false),
        ("p", true),
        ("Holm p", true),
        ("verdict", false),
    ]);
    for c in &results.comparisons {
        let style = style_of(results, &c.metric);
        let signed = |v: Option<f64>| v.filter(|v| v.is_finite()).map_or_else(|| NONE.to_owned(), |v| style.signed(v));
        let ci =
            c.ci.map_or_else(|| NONE.to_owned(), |ci| format!("[{}, {}]", style.signed(ci.low), style.signed(ci.high)));
        table.row(vec![
            format!("{} vs {}", c.candidate, c.baseline),
            c.metric.clone(),
            signed(c.difference),
            ci,
            format::test_label(c.test).to_owned(),
            format::comparison_p(c),
            c.p_adjusted.map_or_else(|| NONE.to_owned(), format::p_value),
            c.verdict.label().to_owned(),
        ]);
    }
    table.render(out);
}

fn usage(out: &mut String, results: &RunResults) {
    if results.usage.is_empty() {
        return;
    }
    out.push_str("### Usage\n\n");
    // The variant column is text; the figures are right-aligned.
    let columns: Vec<(&str, bool)> = format::USAGE_HEADER.iter().enumerate().map(|(i, name)| (*name, i > 0)).collect();
    let mut table = Table::new(&columns);
    for u in &results.usage {
        table.row(format::usage_cells(u));
    }
    table.render(out);
}

fn style_of(results: &RunResults, metric: &str) -> Style {
    results.metric(metric).map_or(Style::Plain(None), Style::of)
}

/// A GitHub table, cells escaped as they are added.
struct Table {
    header: Vec<(String, bool)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Column names and whether each is right-aligned (numbers).
    fn new(header: &[(&str, bool)]) -> Table {
        Table { header: header.iter().map(|(h, right)| ((*h).to_owned(), *right)).collect(), rows: Vec::new() }
    }

    /// A row of plain text, escaped here.
    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| cell(c)).collect());
    }

    /// A row whose cells the caller has already escaped.
    fn raw_row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self, out: &mut String) {
        let names: Vec<&str> = self.header.iter().map(|(h, _)| h.as_str()).collect();
        let _ = writeln!(out, "| {} |", names.join(" | "));
        let rules: Vec<&str> = self.header.iter().map(|(_, right)| if *right { "---:" } else { "---" }).collect();
        let _ = writeln!(out, "|{}|", rules.join("|"));
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out.push('\n');
    }
}

/// Text safe in Markdown prose: HTML special characters escaped, control
/// characters (newlines included) turned into spaces so a name cannot start
/// a new block.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text safe in a table cell: [`text`], with `|` escaped too.
fn cell(s: &str) -> String {
    text(s).replace('|', "\\|")
}

/// Text for inside a code span: no HTML there, so only line breaks and
/// backticks (which would end the span) are replaced.
fn code(s: &str) -> String {
    s.chars().map(|c| if c.is_control() || c == '`' { ' ' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{binary, response, results, variant};
    use evalkit_record::results::{Comparison, GateResult, TestKind};

    fn two_variants(candidate: &str) -> RunResults {
        let mut records = Vec::new();
        for i in 0..4 {
            let sample = format!("s{i}");
            records.push(response("base", &sample, 0, &[("em", Some(f64::from(u8::from(i != 0))))]));
            records.push(response(candidate, &sample, 0, &[("em", Some(1.0))]));
        }
        results(vec![variant("base", 4), variant(candidate, 4)], vec![binary("em")], &records)
    }

    fn comparison(candidate: &str, verdict: Verdict) -> Comparison {
        Comparison {
            metric: "em".into(),
            baseline: "base".into(),
            candidate: candidate.into(),
            pairs: 4,
            baseline_mean: Some(0.75),
            candidate_mean: Some(1.0),
            difference: Some(0.25),
            ci: None,
            test: TestKind::McnemarExact,
            p_value: Some(0.0004),
            p_value_mc_se: None,
            p_adjusted: Some(0.0312),
            effect_size: None,
            discordant: None,
            minimum_detectable_difference: None,
            verdict,
        }
    }

    fn gate(name: &str, status: GateStatus, message: &str, warnings: &[&str]) -> GateResult {
        GateResult {
            name: name.into(),
            metric: "em".into(),
            variant: "base".into(),
            status,
            verdict: None,
            observed: Some(0.75),
            message: message.into(),
            warnings: warnings.iter().map(|w| (*w).to_owned()).collect(),
        }
    }

    #[test]
    fn verdict_tables_and_headlines() {
        let mut r = two_variants("cand");
        r.gates = vec![
            gate("em floor", GateStatus::Passed, "mean 75.0% ≥ 70.0%", &[]),
            gate("em regression", GateStatus::Failed, "worse than baseline", &["only 4 pairs"]),
        ];
        r.comparisons = vec![comparison("cand", Verdict::Improved), comparison("cand", Verdict::NoSignificantChange)];
        let md = summary_markdown(&r);
        assert!(md.starts_with("## evalkit: smoke — run `20250101-120000-abcd`\n"), "{md}");
        assert!(md.contains("**❌ 1 of 2 gates failed**"), "{md}");
        assert!(md.contains("| ❌ failed | em regression | worse than baseline | only 4 pairs |"), "{md}");
        assert!(md.contains("| ✅ passed | em floor | mean 75.0% ≥ 70.0% | - |"), "{md}");
        assert!(md.contains("- 🟢 **cand** beats **base** on em by +25.0 pts (p=0.031, Holm-adjusted).\n"), "{md}");
        assert!(md.contains("- 1 other comparison shows no significant change.\n"), "{md}");
        assert!(
            md.contains("| cand vs base | em | +25.0 pts | - | McNemar exact | &lt;0.001 | 0.031 | improved |"),
            "{md}"
        );
        assert!(md.contains("| base | em | 75.0% | [30.1%, 95.4%] | 4 | 0 | 0 |"), "{md}");
        assert!(md.contains("| base | 400 | 40 | 1.00s | 1.00s | - |"), "{md}");
        assert!(!md.contains("Incomplete run"));
        // Every table line has the same number of unescaped pipes as its header.
        for block in md.split("\n\n").filter(|b| b.starts_with('|')) {
            let pipes = |l: &str| l.replace("\\|", "").matches('|').count();
            let first = pipes(block.lines().next().unwrap());
            assert!(block.lines().all(|l| pipes(l) == first), "{block}");
        }
    }

    #[test]
    fn all_gates_passed_and_no_gates() {
        let mut r = two_variants("cand");
        assert!(summary_markdown(&r).contains("No gates configured."));
        r.gates = vec![gate("g", GateStatus::Passed, "ok", &[])];
        assert!(summary_markdown(&r).contains("**✅ all 1 gate passed**"));
    }

    #[test]
    fn incomplete_runs_say_so() {
        let r = results(vec![variant("a", 3)], vec![binary("em")], &[response("a", "s1", 0, &[("em", Some(1.0))])]);
        let md = summary_markdown(&r);
        assert!(md.contains("Incomplete run: 2 planned task(s) have no record yet"), "{md}");
        assert!(md.ends_with("finished.\n"), "{md}");
    }

    #[test]
    fn untrusted_names_are_escaped() {
        let evil = "a|b<script>alert(1)</script>&\nc";
        let mut r = two_variants(evil);
        r.gates = vec![gate(evil, GateStatus::Failed, "x|y\n<b>", &["<i>w</i>"])];
        r.comparisons = vec![comparison(evil, Verdict::Regressed)];
        let md = summary_markdown(&r);
        assert!(!md.contains("<script>"), "{md}");
        assert!(!md.contains("<b>") && !md.contains("<i>"), "{md}");
        assert!(md.contains("a\\|b&lt;script&gt;alert(1)&lt;/script&gt;&amp; c"), "{md}");
        assert!(md.contains("x\\|y &lt;b&gt;"), "{md}");
        for block in md.split("\n\n").filter(|b| b.starts_with('|')) {
            let pipes = |l: &str| l.replace("\\|", "").matches('|').count();
            let first = pipes(block.lines().next().unwrap());
            assert!(block.lines().all(|l| pipes(l) == first), "{block}");
        }
        // The headline is prose: HTML-escaped, no line break.
        assert!(md.contains("🔴 **a|b&lt;script&gt;alert(1)&lt;/script&gt;&amp; c** is worse than **base**"), "{md}");
    }
}
