//! The HTML report: content, escaping of untrusted text, self-containment.

use super::*;
use crate::record::ScoreEntry;
use crate::results::Scale;
use crate::test_support::{binary, failure, metric, response, results, variant};

const EVIL: &str = "<script>alert(1)</script>";
const EVIL_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;";

fn sample_report() -> (RunResults, Vec<Record>) {
    let mut records = vec![
        response("base", "q1", 0, &[("em", Some(1.0)), ("latency", Some(0.25))]),
        response("base", "q2", 0, &[("em", None), ("latency", Some(0.5))]),
        failure("base", "q3", 0),
        response("other", "q1", 0, &[("em", Some(0.0)), ("latency", Some(1.5))]),
    ];
    records[0].scores.get_mut("em").map(|s| s.details.insert("extracted".into(), "42".into()));
    let latency = metric("latency", Scale::Continuous, crate::results::Direction::LowerIsBetter, Some("s"));
    let results = results(vec![variant("base", 3), variant("other", 3)], vec![binary("em"), latency], &records);
    (results, records)
}

#[test]
fn report_shows_header_tables_and_samples() {
    let (results, records) = sample_report();
    let html = render_html(&results, &records).unwrap();
    for expected in [
        "<title>smoke · 20250101-120000-abcd · evalkit</title>",
        "A small smoke test.",
        "<code>0123456789abcdef</code>",
        "incomplete</span>",
        "2 planned task(s) have no record",
        // base/em: one valid (1.0) of three tasks, one invalid, one error.
        "<td class=\"num\">100.0%</td>",
        "<td class=\"num\">1 / 3</td>",
        // base/latency: mean of 0.25 and 0.5, with a t interval.
        "<td class=\"num\">0.375s</td>",
        "lower is better",
        "<strong>ERROR</strong> (timeout, 3 attempt(s)): <span class=\"text\">timed out after 30s</span>",
        "<span class=\"invalid\">invalid</span><div class=\"cause\">no answer found</div>",
        "&quot;extracted&quot;: &quot;42&quot;",
        "<span id=\"shown\">4</span> of 4 rows",
    ] {
        assert!(html.contains(expected), "missing {expected:?} in\n{html}");
    }
    // A sample's variants sit together: q1/base, q1/other, then q2.
    let order: Vec<_> =
        ["data-key=\"q1 base\"", "data-key=\"q1 other\"", "data-key=\"q2 base\"", "data-key=\"q3 base\""]
            .iter()
            .map(|key| html.find(key).unwrap_or_else(|| panic!("{key} missing")))
            .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
}

#[test]
fn untrusted_text_is_always_escaped() {
    let mut record = response(EVIL, EVIL, 0, &[("em", None)]);
    record.prompt = format!("Say {EVIL}");
    record.reference = Some(serde_json::json!(EVIL));
    if let Outcome::Response(r) = &mut record.outcome {
        r.text = EVIL.to_owned();
    }
    record.scores.insert(
        "em".into(),
        ScoreEntry { value: None, cause: Some(EVIL.into()), details: [("x".to_owned(), EVIL.into())].into() },
    );
    let mut failed = failure(EVIL, "q2", 0);
    if let Outcome::Error(e) = &mut failed.outcome {
        e.message = EVIL.to_owned();
    }
    let records = vec![record, failed];
    let mut results = results(vec![variant(EVIL, 2)], vec![binary("em")], &records);
    results.run.suite_name = EVIL.into();
    results.run.suite_description = Some(EVIL.into());

    let html = render_html(&results, &records).unwrap();
    assert!(!html.contains("alert(1)</script>"), "unescaped payload in\n{html}");
    assert_eq!(html.matches("<script").count(), 1, "only the report's own script");
    // Suite name, description, variant (header, row, filter key), sample, prompt,
    // preview, output, reference, cause, error message, ...
    assert!(html.matches(EVIL_ESCAPED).count() >= 10, "{html}");
}

#[test]
fn report_is_self_contained() {
    let (results, records) = sample_report();
    let html = render_html(&results, &records).unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"));
    for attribute in ["src=", "href="] {
        for (at, _) in html.match_indices(attribute) {
            let value = &html[at + attribute.len()..];
            assert!(value.starts_with("\"#"), "{attribute} leaves the document: {}", &html[at..at + 60]);
        }
    }
    assert!(!html.contains("@import") && !html.contains("url("));
    assert!(html.contains("Content-Security-Policy"));
}

#[test]
fn an_empty_run_renders() {
    let results = results(vec![variant("a", 2)], vec![binary("em")], &[]);
    let html = render_html(&results, &[]).unwrap();
    assert!(html.contains("No records yet."));
    assert!(html.contains("<td colspan=\"7\" class=\"muted\">No records yet.</td>"));
}

#[test]
fn prompt_preview_is_cut_on_a_char_boundary() {
    assert_eq!(preview("short"), "short");
    assert_eq!(preview("\n\n  first\nsecond"), "first…");
    let long = "é".repeat(100);
    assert_eq!(preview(&long).chars().count(), PREVIEW_CHARS + 1);
    assert_eq!(preview(""), "");
}
