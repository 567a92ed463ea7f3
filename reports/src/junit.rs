//! JUnit XML, the test-report format CI systems (GitHub Actions reporters,
//! GitLab, Jenkins, Buildkite) display natively.
//!
//! Each gate is a test case of the `gates` suite; a failed gate is a
//! `<failure>` carrying the gate's message, and its warnings go to
//! `<system-out>`. With the journal, each variant also gets a
//! `samples.{variant}` suite with one test case per task: an `<error>` when
//! the request failed, a `<failure>` when any pass/fail metric scored 0.
//!
//! All text is escaped, and characters XML 1.0 cannot carry at all (most
//! control characters) are dropped, so a model's output cannot break the
//! document.

use std::fmt::Write;

use crate::csv_export::latest_records;
use crate::format;
use evalkit_record::journal::{Outcome, Record};
use evalkit_record::results::{GateStatus, RunResults, Scale};

/// How much of a model's output a failing test case quotes.
pub const OUTPUT_CHARS: usize = 2000;

/// Render the gates (and, given the journal, every task) as JUnit XML.
pub fn junit_xml(results: &RunResults, per_sample: Option<&[Record]>) -> String {
    let mut suites = vec![gates_suite(results)];
    if let Some(records) = per_sample {
        suites.extend(sample_suites(results, records));
    }
    let tests: usize = suites.iter().map(|s| s.tests).sum();
    let failures: usize = suites.iter().map(|s| s.failures).sum();
    let errors: usize = suites.iter().map(|s| s.errors).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ =
        writeln!(out, "<testsuites name=\"evalkit\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">");
    for suite in &suites {
        out.push_str(&suite.body);
    }
    out.push_str("</testsuites>\n");
    out
}

/// One `<testsuite>` element and its counts.
struct Suite {
    tests: usize,
    failures: usize,
    errors: usize,
    body: String,
}

impl Suite {
    fn new() -> Suite {
        Suite { tests: 0, failures: 0, errors: 0, body: String::new() }
    }

    /// Wrap the test cases collected in `body` in their `<testsuite>` element.
    fn close(mut self, name: &str, results: &RunResults) -> Suite {
        let cases = std::mem::take(&mut self.body);
        let _ = writeln!(
            self.body,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" timestamp=\"{}\">",
            attr(name),
            self.tests,
            self.failures,
            self.errors,
            attr(&results.run.started_at)
        );
        self.body.push_str(&cases);
        self.body.push_str("  </testsuite>\n");
        self
    }
}

fn gates_suite(results: &RunResults) -> Suite {
    let mut suite = Suite::new();
    for g in &results.gates {
        suite.tests += 1;
        let _ = write!(suite.body, "    <testcase classname=\"evalkit.gates\" name=\"{}\"", attr(&g.name));
        let failed = g.status == GateStatus::Failed;
        if !failed && g.warnings.is_empty() {
            suite.body.push_str("/>\n");
            continue;
        }
        suite.body.push_str(">\n");
        if failed {
            suite.failures += 1;
            let _ = writeln!(
                suite.body,
                "      <failure message=\"{}\" type=\"gate\">{}</failure>",
                attr(&g.message),
                gate_details(results, g)
            );
        }
        if !g.warnings.is_empty() {
            let warnings: Vec<String> = g.warnings.iter().map(|w| format!("warning: {w}")).collect();
            let _ = writeln!(suite.body, "      <system-out>{}</system-out>", text(&warnings.join("\n")));
        }
        suite.body.push_str("    </testcase>\n");
    }
    suite.close("gates", results)
}

/// The body of a failed gate: what it checked and the figure it saw.
fn gate_details(results: &RunResults, g: &evalkit_record::results::GateResult) -> String {
    let mut lines = vec![g.message.clone(), format!("variant: {}", g.variant), format!("metric: {}", g.metric)];
    if let Some(observed) = g.observed {
        let style = results.metric(&g.metric).map_or(format::Style::Plain(None), format::Style::of);
        let shown = if g.verdict.is_some() { style.signed(observed) } else { style.value(observed) };
        lines.push(format!("observed: {shown}"));
    }
    text(&lines.join("\n"))
}

/// One suite per variant: the suite's variants first, in suite order, then
/// any the journal has that the results do not.
fn sample_suites(results: &RunResults, records: &[Record]) -> Vec<Suite> {
    let latest: Vec<&Record> = latest_records(records).collect();
    let mut names: Vec<&str> = results.variants.iter().map(|v| v.name.as_str()).collect();
    for r in &latest {
        if !names.contains(&r.variant.as_str()) {
            names.push(&r.variant);
        }
    }
    let binary: Vec<&str> =
        results.metrics.iter().filter(|m| m.scale == Scale::Binary).map(|m| m.name.as_str()).collect();
    let mut suites = Vec::new();
    for name in names {
        let mut suite = Suite::new();
        let classname = attr(&format!("evalkit.samples.{name}"));
        for r in latest.iter().filter(|r| r.variant == name) {
            suite.tests += 1;
            let case = attr(&format!("{}#{}", r.sample, r.repeat));
            let time =
                r.outcome.response().map(|resp| format!(" time=\"{}\"", resp.timing.e2e_seconds)).unwrap_or_default();
            let _ = write!(suite.body, "    <testcase classname=\"{classname}\" name=\"{case}\"{time}");
            match &r.outcome {
                Outcome::Error(error) => {
                    suite.errors += 1;
                    let _ = writeln!(
                        suite.body,
                        ">\n      <error message=\"{}\" type=\"{}\">{}</error>\n    </testcase>",
                        attr(&error.message),
                        attr(&error.kind),
                        text(&format!("{}: {}\nattempts: {}", error.kind, error.message, r.attempts))
                    );
                }
                Outcome::Response(response) => {
                    let failing: Vec<&str> =
                        binary.iter().copied().filter(|m| r.scores.get(m).and_then(|s| s.value) == Some(0.0)).collect();
                    if failing.is_empty() {
                        suite.body.push_str("/>\n");
                        continue;
                    }
                    suite.failures += 1;
                    let mut body = format!("failed: {}\n", failing.join(", "));
                    if let Some(reference) = &r.reference {
                        let _ = writeln!(body, "reference: {reference}");
                    }
                    let output: String = response.text.chars().take(OUTPUT_CHARS).collect();
                    let more = if response.text.chars().count() > OUTPUT_CHARS { " […]" } else { "" };
                    let _ = write!(body, "output: {output}{more}");
                    let _ = writeln!(
                        suite.body,
                        ">\n      <failure message=\"{}\" type=\"metric\">{}</failure>\n    </testcase>",
                        attr(&format!("failed: {}", failing.join(", "))),
                        text(&body)
                    );
                }
            }
        }
        suites.push(suite.close(&format!("samples.{name}"), results));
    }
    suites
}

/// Whether XML 1.0 allows the character at all (even escaped).
fn legal(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Character data: markup characters escaped, illegal characters dropped.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|c| legal(*c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// An attribute value: as [`text`], with whitespace characters as references
/// so attribute-value normalisation keeps line breaks.
fn attr(s: &str) -> String {
    text(s).replace('\t', "&#9;").replace('\n', "&#10;").replace('\r', "&#13;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{binary, failure, metric, response, results, variant};
    use evalkit_record::journal::Outcome;
    use evalkit_record::results::{Direction, GateResult, MetricInfo};

    /// A minimal well-formedness check: tags balance, no stray `<`/`&`, and
    /// the elements' names in document order.
    fn elements(xml: &str) -> Vec<String> {
        let body = xml.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n").expect("declaration");
        let mut stack: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut rest = body;
        while let Some(start) = rest.find('<') {
            check_text(&rest[..start]);
            let end = rest[start..].find('>').expect("tag closed") + start;
            let tag = &rest[start + 1..end];
            assert!(!tag.contains('<'), "{tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name), "unbalanced </{name}>");
            } else {
                let name = tag.split_whitespace().next().unwrap().trim_end_matches('/').to_owned();
                check_attributes(tag);
                names.push(name.clone());
                if !tag.ends_with('/') {
                    stack.push(name);
                }
            }
            rest = &rest[end + 1..];
        }
        assert!(rest.trim().is_empty());
        assert!(stack.is_empty(), "unclosed {stack:?}");
        names
    }

    fn check_text(s: &str) {
        for (i, _) in s.match_indices('&') {
            let entity = &s[i..s[i..].find(';').expect("entity ends") + i + 1];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#9;", "&#10;", "&#13;"].contains(&entity),
                "{entity}"
            );
        }
        assert!(s.chars().all(legal));
    }

    fn check_attributes(tag: &str) {
        // Every attribute value is a double-quoted string without quotes inside.
        assert_eq!(tag.matches('"').count() % 2, 0, "{tag}");
        for (i, value) in tag.split('"').enumerate() {
            if i % 2 == 1 {
                check_text(value);
                assert!(!value.contains('\n'), "{tag}");
            }
        }
    }

    fn attribute<'a>(xml: &'a str, element: &str, name: &str) -> &'a str {
        let start = xml.find(&format!("<{element} ")).unwrap();
        let tag = &xml[start..start + xml[start..].find('>').unwrap()];
        let key = format!(" {name}=\"");
        let at = tag.find(&key).unwrap() + key.len();
        &tag[at..at + tag[at..].find('"').unwrap()]
    }

    fn gate(name: &str, passed: bool, message: &str, warnings: &[&str]) -> GateResult {
        GateResult {
            name: name.into(),
            metric: "em".into(),
            variant: "a".into(),
            status: if passed { GateStatus::Passed } else { GateStatus::Failed },
            verdict: None,
            observed: Some(0.5),
            message: message.into(),
            warnings: warnings.iter().map(|w| (*w).to_owned()).collect(),
        }
    }

    fn metrics() -> Vec<MetricInfo> {
        vec![binary("em"), binary("contains"), metric("score", Scale::Continuous, Direction::HigherIsBetter, None)]
    }

    #[test]
    fn no_gates_is_still_a_valid_document() {
        let r = results(vec![variant("a", 1)], metrics(), &[response("a", "s1", 0, &[("em", Some(1.0))])]);
        let xml = junit_xml(&r, None);
        assert_eq!(elements(&xml), ["testsuites", "testsuite"]);
        assert_eq!(attribute(&xml, "testsuites", "tests"), "0");
        assert_eq!(attribute(&xml, "testsuite", "name"), "gates");
        assert_eq!(attribute(&xml, "testsuite", "tests"), "0");
    }

    #[test]
    fn gates_and_samples() {
        let records = [
            response("a", "s1", 0, &[("em", Some(1.0)), ("contains", Some(1.0)), ("score", Some(0.0))]),
            response("a", "s2", 0, &[("em", Some(0.0)), ("contains", Some(0.0)), ("score", Some(1.0))]),
            failure("a", "s3", 0),
            response("a", "s4", 0, &[("em", None)]),
            // Superseded by the retry below.
            failure("b", "s1", 0),
            response("b", "s1", 0, &[("em", Some(1.0))]),
        ];
        let mut r = results(vec![variant("a", 4), variant("b", 1)], metrics(), &records);
        r.gates =
            vec![gate("em floor", false, "mean 50.0% < 80.0%", &["only 4 samples"]), gate("ok", true, "fine", &[])];
        let xml = junit_xml(&r, Some(&records));
        let names = elements(&xml);
        assert_eq!(names.iter().filter(|n| *n == "testsuite").count(), 3, "{xml}");
        assert_eq!(names.iter().filter(|n| *n == "testcase").count(), 2 + 4 + 1, "{xml}");
        assert_eq!(names.iter().filter(|n| *n == "failure").count(), 2, "{xml}");
        assert_eq!(names.iter().filter(|n| *n == "error").count(), 1, "{xml}");
        assert_eq!(attribute(&xml, "testsuites", "tests"), "7");
        assert_eq!(attribute(&xml, "testsuites", "failures"), "2");
        assert_eq!(attribute(&xml, "testsuites", "errors"), "1");
        assert!(xml.contains("<testsuite name=\"gates\" tests=\"2\" failures=\"1\" errors=\"0\""), "{xml}");
        assert!(xml.contains("<testsuite name=\"samples.a\" tests=\"4\" failures=\"1\" errors=\"1\""), "{xml}");
        assert!(xml.contains("<testsuite name=\"samples.b\" tests=\"1\" failures=\"0\" errors=\"0\""), "{xml}");
        assert!(xml.contains("<testcase classname=\"evalkit.gates\" name=\"em floor\">"), "{xml}");
        assert!(xml.contains("<failure message=\"mean 50.0% &lt; 80.0%\" type=\"gate\">"), "{xml}");
        assert!(xml.contains("<system-out>warning: only 4 samples</system-out>"), "{xml}");
        assert!(xml.contains("<testcase classname=\"evalkit.gates\" name=\"ok\"/>"), "{xml}");
        assert!(xml.contains("<failure message=\"failed: em, contains\" type=\"metric\">"), "{xml}");
        assert!(
            xml.contains("name=\"s3#0\">\n      <error message=\"timed out after 30s\" type=\"timeout\">"),
            "{xml}"
        );
        assert!(xml.contains("name=\"s1#0\" time=\"1\"/>"), "{xml}");
    }

    #[test]
    fn everything_is_escaped() {
        let evil = "<script>alert(\"x\" & 'y')</script>\u{0}\u{1b}\n";
        let mut record = response(evil, evil, 0, &[("em", Some(0.0))]);
        if let Outcome::Response(response) = &mut record.outcome {
            response.text = evil.to_owned();
        }
        let records = [record];
        let mut r = results(vec![variant(evil, 1)], metrics(), &records);
        r.gates = vec![gate(evil, false, evil, &[evil])];
        let xml = junit_xml(&r, Some(&records));
        let names = elements(&xml);
        assert!(!names.contains(&"script".to_owned()));
        assert!(!xml.contains("<script>") && !xml.contains('\u{0}') && !xml.contains('\u{1b}'));
        let escaped = "&lt;script&gt;alert(&quot;x&quot; &amp; &apos;y&apos;)&lt;/script&gt;";
        assert!(xml.contains(&format!("name=\"{escaped}&#10;\"")), "{xml}");
        assert!(xml.contains(&format!("<testsuite name=\"samples.{escaped}&#10;\"")), "{xml}");
        assert!(xml.contains(&format!("output: {escaped}\n</failure>")), "{xml}");
    }
}
