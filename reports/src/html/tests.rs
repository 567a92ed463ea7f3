//! The HTML report: content, escaping of untrusted text, self-containment.

use super::*;
use crate::test_support::{binary, failure, metric, response, results, variant, with_latency};
use evalkit_record::journal::{Outcome, ScoreEntry};
use evalkit_record::results::{
    CiMethod, Comparison, ConfidenceInterval, CorpusPerplexity, Direction, Discordant, GateResult, GateStatus, KValue,
    RepeatStats, Scale, TestKind, Verdict,
};

const EVIL: &str = "<script>alert(1)</script>";
const EVIL_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;";
const IMG: &str = "<img src=x onerror=alert(2)>";

fn sample_report() -> (RunResults, Vec<Record>) {
    let mut records = vec![
        response("base", "q1", 0, &[("em", Some(1.0)), ("latency", Some(0.25))]),
        response("base", "q2", 0, &[("em", None), ("latency", Some(0.5))]),
        failure("base", "q3", 0),
        response("other", "q1", 0, &[("em", Some(0.0)), ("latency", Some(1.5))]),
    ];
    records[0].scores.get_mut("em").map(|s| s.details.insert("extracted".into(), "42".into()));
    let latency = metric("latency", Scale::Continuous, Direction::LowerIsBetter, Some("s"));
    let results = results(vec![variant("base", 3), variant("other", 3)], vec![binary("em"), latency], &records);
    (results, records)
}

fn ci(low: f64, high: f64) -> Option<ConfidenceInterval> {
    Some(ConfidenceInterval { level: 0.95, low, high, method: CiMethod::T })
}

fn comparison(metric: &str, difference: f64, p: f64, verdict: Verdict) -> Comparison {
    Comparison {
        metric: metric.into(),
        baseline: "base".into(),
        candidate: "other".into(),
        pairs: 30,
        baseline_mean: Some(0.5),
        candidate_mean: Some(0.5 + difference),
        difference: Some(difference),
        ci: ci(difference - 0.05, difference + 0.05),
        test: TestKind::McnemarExact,
        p_value: Some(p / 2.0),
        p_value_mc_se: None,
        p_adjusted: Some(p),
        effect_size: Some(0.61),
        discordant: Some(Discordant { baseline_only: 2, candidate_only: 9 }),
        minimum_detectable_difference: Some(0.08),
        verdict,
    }
}

fn gate(name: &str, status: GateStatus, message: &str) -> GateResult {
    GateResult {
        name: name.into(),
        metric: "em".into(),
        variant: "other".into(),
        status,
        verdict: None,
        observed: Some(0.62),
        message: message.into(),
        warnings: vec!["only 30 samples".into()],
    }
}

/// Two variants with costs, comparisons and gates filled by hand (as
/// `analyze` will once comparisons land).
fn compared_report() -> (RunResults, Vec<Record>) {
    let mut records = Vec::new();
    for i in 0..6 {
        let sample = format!("s{i}");
        let base_em = f64::from(u8::from(i % 2 == 0));
        records.push(with_latency(
            response("base", &sample, 0, &[("em", Some(base_em)), ("cost", Some(0.001))]),
            0.5 + f64::from(i) / 100.0,
        ));
        records.push(with_latency(
            response("other", &sample, 0, &[("em", Some(1.0)), ("cost", Some(0.0021))]),
            0.8 + f64::from(i) / 100.0,
        ));
    }
    let cost = metric("cost", Scale::Continuous, Direction::LowerIsBetter, Some("USD"));
    let mut results = results(vec![variant("base", 6), variant("other", 6)], vec![binary("em"), cost], &records);
    results.comparisons = vec![
        comparison("em", 0.12, 0.003, Verdict::Improved),
        Comparison {
            test: TestKind::SignFlipMonteCarlo,
            p_value_mc_se: Some(0.00126),
            discordant: None,
            ..comparison("cost", 0.0011, 0.4, Verdict::NoSignificantChange)
        },
    ];
    results.gates = vec![
        gate("em floor", GateStatus::Passed, "em 62.0% ≥ 50.0%"),
        gate("no regression", GateStatus::Failed, "em fell by more than the margin"),
    ];
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
        "Student t",
        "lower is better",
        "<strong>ERROR</strong> (timeout, 3 attempt(s)): <span class=\"text\">timed out after 30s</span>",
        "data-state=\"invalid\" data-value=\"\" data-quality=\"1\"><span class=\"name\">em</span> <span class=\"val\">invalid</span> <span class=\"cause\">no answer found</span>",
        "&quot;extracted&quot;: &quot;42&quot;",
        "<span id=\"shown\">3</span> of 3 samples",
        // Latency is a resource metric: not compared by "verdict changed" unless picked.
        "data-metric=\"latency\" data-state=\"value\" data-value=\"0.25\" data-quality=\"0\"",
        "Incomplete run: 2 planned task(s) have no record",
        "Holm p adjusts for every comparison in the report",
    ] {
        assert!(html.contains(expected), "missing {expected:?} in\n{html}");
    }
    // One row per sample, in journal order; each has a cell per variant.
    let order: Vec<_> = ["data-sample=\"q1\"", "data-sample=\"q2\"", "data-sample=\"q3\""]
        .iter()
        .map(|key| html.find(key).unwrap_or_else(|| panic!("{key} missing")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert_eq!(html.matches("<td class=\"cell\" data-variant=\"base\">").count(), 3);
    assert_eq!(html.matches("<td class=\"cell\" data-variant=\"other\">").count(), 3);
    assert_eq!(html.matches("<span class=\"muted\">no record</span>").count(), 2, "other did not answer q2 and q3");
    // The other variant's answer is diffed against the baseline's: identical here.
    assert!(html.contains("identical to the baseline"));
}

#[test]
fn headline_states_verdicts_costs_and_gates() {
    let (results, records) = compared_report();
    let html = render_html(&results, &records).unwrap();
    for expected in [
        "<strong>other</strong> <span class=\"claim ok\">beats base on em by +12.0 pts (p=0.0030, Holm-adjusted)</span>; \
         <span class=\"claim neutral\">shows no significant change on cost (+$0.00110, p=0.40, Holm-adjusted; could detect about ±$0.0800)</span>.",
        "2.1× the cost per sample ($0.00210 vs $0.00100); p50 latency 0.825s vs 0.525s.",
        "<span class=\"badge bad\">1 failed</span> <span class=\"badge ok\">1 passed</span>",
        "<div class=\"failure\"><strong>no regression</strong>: em fell by more than the margin</div>",
        // The ranking of the main metric, best first.
        "<strong>em</strong> <span class=\"muted\">(higher is better, best first)</span>",
        // Comparisons table.
        "<td class=\"num\">+12.0 pts</td><td class=\"num\">[+7.0 pts, +17.0 pts]</td><td class=\"nowrap\">McNemar exact</td><td class=\"num\">0.0015</td><td class=\"num\">0.0030</td><td class=\"num\">0.61</td><td class=\"num\">2 &#x2f; 9</td><td class=\"num\">±8.0 pts</td><td><span class=\"badge ok\">improved</span></td>",
        "<span class=\"badge neutral\">no significant change</span>",
        // A sampled p-value comes with its standard error.
        "<td class=\"nowrap\">sign-flip, Monte Carlo</td><td class=\"num\">0.20 ±0.0013</td><td class=\"num\">0.40</td>",
        // Gates table.
        "<span class=\"badge bad\">failed</span></td><td>no regression</td>",
        "<div class=\"warning small\">only 30 samples</div>",
        "<td class=\"num\">62.0%</td>",
        // Usage: cost per sample.
        "<td class=\"num\">$0.00210</td>",
    ] {
        assert!(html.contains(expected), "missing {expected:?} in\n{html}");
    }
    assert!(!html.contains("Generation speed"), "no speed columns when nothing measured them");
    let better = html.find("class=\"claim ok\"").unwrap();
    assert!(html.find("class=\"claim neutral\"").unwrap() > better, "significant results first");
}

#[test]
fn charts_are_inline_svg() {
    let (results, records) = compared_report();
    let html = render_html(&results, &records).unwrap();
    // Forest, a mean chart per metric, cost/quality, latency percentiles and distribution.
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 6, "{html}");
    for id in ["fig-forest", "fig-cost", "fig-latency-percentiles", "fig-latency-distribution"] {
        assert!(
            html.contains(&format!("<figure class=\"wide\" id=\"{id}\"")) || html.contains(&format!("id=\"{id}\""))
        );
    }
    assert!(html.contains("<circle") && html.contains("<polyline"), "SVG is markup, not escaped text");
    assert!(!html.contains("&lt;svg"));
    assert!(html.contains("other − base"), "forest rows name the comparison");
}

#[test]
fn untrusted_text_is_always_escaped() {
    let mut record = response(EVIL, EVIL, 0, &[("em", None)]);
    record.prompt = evalkit_model_api::Prompt::Completion(format!("Say {EVIL}"));
    record.reference = Some(serde_json::json!(EVIL));
    record.cluster = Some(EVIL.into());
    if let Outcome::Response(r) = &mut record.outcome {
        r.text = format!("{EVIL} {IMG}");
    }
    record.scores.insert(
        "em".into(),
        ScoreEntry {
            value: None,
            cause: Some(EVIL.into()),
            details: [("x".to_owned(), EVIL.into()), ("reasoning".to_owned(), IMG.into())].into(),
            calls: Vec::new(),
        },
    );
    let mut failed = failure(EVIL, "q2", 0);
    if let Outcome::Error(e) = &mut failed.outcome {
        e.message = EVIL.to_owned();
    }
    let mut other = response("other", EVIL, 0, &[("em", Some(1.0))]);
    if let Outcome::Response(r) = &mut other.outcome {
        r.text = format!("{IMG} and {EVIL}");
    }
    let records = vec![record, failed, other];
    let mut evil_variant = variant(EVIL, 2);
    evil_variant.runtime = Some(serde_json::json!({ EVIL: EVIL }));
    evil_variant.params = serde_json::json!({ "stop": EVIL });
    let mut results = results(vec![evil_variant, variant("other", 2)], vec![binary("em")], &records);
    results.run.suite_name = EVIL.into();
    results.run.suite_description = Some(EVIL.into());
    results.comparisons = vec![Comparison {
        baseline: EVIL.into(),
        metric: EVIL.into(),
        ..comparison("em", 0.1, 0.01, Verdict::Improved)
    }];
    results.gates = vec![GateResult { name: EVIL.into(), message: EVIL.into(), ..gate("g", GateStatus::Failed, "") }];

    let html = render_html(&results, &records).unwrap();
    assert!(!html.contains("alert(1)</script>"), "unescaped payload in\n{html}");
    assert!(!html.contains("<img"), "unescaped image in\n{html}");
    assert_eq!(html.matches("<script").count(), 1, "only the report's own script");
    // Suite name, description, variant (headers, cells, selects, legends),
    // sample, prompt, preview, output, diff, reference, cause, error message,
    // runtime, params, comparisons, gates...
    assert!(html.matches(EVIL_ESCAPED).count() >= 20, "{html}");
    // The judge's reasoning is shown, as text.
    assert!(html.contains("<strong>Judge reasoning</strong>&lt;img src=x onerror=alert(2)&gt;"), "{html}");
    // Inside the charts, plotters escapes the variant name as XML.
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;</text>")
            || html.contains("&lt;script&gt;alert(1)&lt;/scr")
    );
    let charts: Vec<&str> =
        html.split("<svg class=\"chart\"").skip(1).map(|s| &s[..s.find("</svg>").unwrap()]).collect();
    assert!(!charts.is_empty());
    for svg in charts {
        assert!(!svg.contains("<script") && !svg.contains("<img"), "{svg}");
    }
}

#[test]
fn report_is_self_contained() {
    for (results, records) in [sample_report(), compared_report()] {
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
        // The script never writes markup.
        assert!(!html.contains("innerHTML") && !html.contains("outerHTML") && !html.contains("document.write"));
    }
}

#[test]
fn an_empty_run_renders() {
    let results = results(vec![variant("a", 2)], vec![binary("em")], &[]);
    let html = render_html(&results, &[]).unwrap();
    assert!(html.contains("<td colspan=\"2\" class=\"muted\">No records yet.</td>"), "{html}");
    assert!(html.contains("One variant: nothing to compare."));
    assert!(html.contains("No values to plot."), "the mean chart says it has nothing");
    assert!(html.contains("no cost chart"));

    // No variants and no metrics at all.
    let nothing = crate::test_support::results(vec![], vec![], &[]);
    let html = render_html(&nothing, &[]).unwrap();
    assert!(html.contains("No metrics."));
}

#[test]
fn missing_values_render_as_dashes() {
    let (mut results, records) = compared_report();
    for a in &mut results.aggregates {
        (a.mean, a.ci, a.median) = (None, None, None);
    }
    for u in &mut results.usage {
        (u.latency_p50_seconds, u.latency_p90_seconds, u.latency_p99_seconds, u.cost_usd) = (None, None, None, None);
    }
    for c in &mut results.comparisons {
        *c = Comparison {
            difference: None,
            ci: None,
            p_value: None,
            p_value_mc_se: None,
            p_adjusted: None,
            effect_size: None,
            minimum_detectable_difference: None,
            baseline_mean: Some(f64::NAN),
            test: TestKind::None,
            verdict: Verdict::NotEnoughData,
            ..c.clone()
        };
    }
    let html = render_html(&results, &records).unwrap();
    assert!(html.contains("has too little data on em to tell (30 pairs)"), "{html}");
    assert!(html.contains("<span class=\"badge warn\">not enough data</span>"));
    // Difference, interval, test of the comparisons table.
    assert!(html.contains("<td class=\"num\">-</td><td class=\"num\">-</td><td class=\"nowrap\">none</td>"), "{html}");
    assert!(html.contains("<td class=\"num\">NaN</td>"), "a NaN is shown, not hidden");
}

#[test]
fn explorer_diffs_answers_and_shows_judge_reasoning() {
    let mut base = response("base", "q1", 0, &[("judge", Some(0.0))]);
    let mut other = response("other", "q1", 0, &[("judge", Some(1.0))]);
    if let Outcome::Response(r) = &mut base.outcome {
        r.text = "The capital is Lyon.".into();
    }
    if let Outcome::Response(r) = &mut other.outcome {
        r.text = "The capital is Paris.".into();
    }
    other.scores.get_mut("judge").unwrap().details.insert("explanation".into(), "Paris is right.".into());
    other.prompt = evalkit_model_api::Prompt::Completion("Another prompt".into());
    let records = vec![base, other];
    let results = results(vec![variant("base", 1), variant("other", 1)], vec![binary("judge")], &records);
    let html = render_html(&results, &records).unwrap();
    for expected in [
        "<pre class=\"text output\">The capital is <del>Lyon.</del><ins>Paris.</ins></pre>",
        "<pre class=\"text output\">The capital is Lyon.</pre>",
        "<div class=\"reasoning\"><strong>Judge reasoning</strong>Paris is right.</div>",
        "data-metric=\"judge\" data-state=\"fail\" data-value=\"0\"",
        "data-metric=\"judge\" data-state=\"pass\" data-value=\"1\"",
        // Prompts differ between the variants: each cell shows its own.
        "<summary>Another prompt</summary>",
        "Word diff against base",
    ] {
        assert!(html.contains(expected), "missing {expected:?} in\n{html}");
    }
}

#[test]
fn repeats_corpus_and_runtime_blocks_appear_when_present() {
    let (mut results, records) = compared_report();
    results.aggregates[0].repeats = Some(RepeatStats {
        repeats: 3,
        samples: 6,
        flaky_samples: 2,
        flakiness: Some(1.0 / 3.0),
        pass_at_k: vec![KValue { k: 1, value: 0.5 }, KValue { k: 3, value: 0.8 }],
        pass_hat_k: vec![KValue { k: 3, value: 0.25 }],
    });
    results.aggregates[0].invalid_causes = [("no number in the answer".to_owned(), 3)].into();
    results.aggregates[0].clusters = Some(4);
    results.aggregates[1].corpus = Some(CorpusPerplexity {
        perplexity: 12.345,
        std_error: Some(0.2),
        mean_nll: 2.5,
        bits_per_byte: Some(0.9),
        word_perplexity: Some(30.0),
        top1_accuracy: 0.4,
        tokens: 12345,
        bytes: 50000,
        words: 9000,
        ci: ci(12.0, 12.7),
    });
    results.variants[0].runtime =
        Some(serde_json::json!({ "device": "cpu", "weight_bytes": 268_435_456u64, "load_seconds": 1.25 }));
    results.usage[0].generation_tokens_per_second = Some(123.4);
    let html = render_html(&results, &records).unwrap();
    for expected in [
        "<th class=\"num\">Generation speed</th>",
        "<td class=\"num\">123 tok&#x2f;s</td>",
        "<td class=\"num\">33.3%</td>",
        "@1 50.0%",
        "^3 25.0%",
        "no number in the answer <span class=\"muted\">× 3</span>",
        "4 clusters",
        "<td class=\"num\">12.35</td><td class=\"num\">[12.00, 12.70]</td>",
        "<td class=\"num\">12,345</td>",
        "<dt>device</dt><dd>cpu</dd>",
        "<dt>weight_bytes</dt><dd>268,435,456 (256 MiB)</dd>",
        "<dt>load_seconds</dt><dd>1.25s</dd>",
    ] {
        assert!(html.contains(expected), "missing {expected:?} in\n{html}");
    }
}

/// A run of 1000 samples × 3 variants renders to a page of reasonable weight
/// (no timing: the explorer is linear in the records and diffs are bounded).
#[test]
fn a_large_run_stays_light() {
    let mut records = Vec::new();
    for i in 0..1000 {
        let sample = format!("sample-{i}");
        for (v, name) in ["a", "b", "c"].into_iter().enumerate() {
            let mut record = response(name, &sample, 0, &[("em", Some(if (i + v) % 3 == 0 { 1.0 } else { 0.0 }))]);
            if let Outcome::Response(r) = &mut record.outcome {
                r.text = format!("Answer {i}: the result is {} because of reason number {}.", i * v, i % 7);
            }
            records.push(with_latency(record, 0.1 + (i % 50) as f64 / 100.0));
        }
    }
    let results =
        results(vec![variant("a", 1000), variant("b", 1000), variant("c", 1000)], vec![binary("em")], &records);
    let html = render_html(&results, &records).unwrap();
    assert_eq!(html.matches("<tr class=\"sample\"").count(), 1000);
    // About 1.6 MB: some 500 bytes of markup per answer beyond its text.
    assert!(html.len() < 2_500_000, "{} bytes", html.len());
}

#[test]
fn prompt_preview_is_cut_on_a_char_boundary() {
    use super::explorer::{preview, PREVIEW_CHARS};
    assert_eq!(preview("short"), "short");
    assert_eq!(preview("\n\n  first\nsecond"), "first…");
    let long = "é".repeat(100);
    assert_eq!(preview(&long).chars().count(), PREVIEW_CHARS + 1);
    assert_eq!(preview(""), "");
}

#[test]
fn a_large_run_shows_the_samples_where_something_happened_first() {
    // q1..q6 answered by two variants: q2 differs, q4 failed for one, q5 has an invalid score,
    // q6 fails for both; latency differs everywhere and does not count.
    let mut records = Vec::new();
    for (i, sample) in ["q1", "q2", "q3", "q4", "q5", "q6"].into_iter().enumerate() {
        let latency = ("latency", Some(0.1 * i as f64));
        let em = if sample == "q6" { 0.0 } else { 1.0 };
        let base = response("base", sample, 0, &[("em", Some(em)), ("latency", Some(1.0))]);
        let other = match sample {
            "q2" => response("other", sample, 0, &[("em", Some(0.0)), latency]),
            "q4" => failure("other", sample, 0),
            "q5" => response("other", sample, 0, &[("em", None), latency]),
            _ => response("other", sample, 0, &[("em", Some(em)), latency]),
        };
        records.extend([base, other]);
    }
    let latency = metric("latency", Scale::Continuous, Direction::LowerIsBetter, Some("s"));
    let results = results(vec![variant("base", 6), variant("other", 6)], vec![binary("em"), latency], &records);
    assert_eq!(explorer_samples(&results, &records, 6), None, "every sample fits");
    let chosen = explorer_samples(&results, &records, 5).expect("a selection");
    let expected: std::collections::HashSet<String> = ["q2", "q4", "q5", "q6", "q1"].map(String::from).into();
    assert_eq!(chosen, expected, "the four where something happened, then the first other");

    let shown: Vec<Record> = records.iter().filter(|r| chosen.contains(&r.sample)).cloned().collect();
    let html = render_html_sampled(&results, &records, &shown).unwrap();
    assert!(html.contains("The explorer holds 5 of the run's 6 samples"), "the page says it shows a selection");
    assert!(!html.contains("answer to q3"), "samples left out have no row");
    let all = render_html(&results, &records).unwrap();
    assert!(!all.contains("The explorer holds"), "no note when every sample is shown");
}

#[test]
fn a_huge_answer_is_shown_in_part_with_the_way_to_the_whole() {
    let (results, mut records) = sample_report();
    let huge = "word ".repeat(200_000);
    if let Outcome::Response(response) = &mut records[0].outcome {
        response.text = huge.clone();
    }
    let html = render_html(&results, &records).unwrap();
    assert!(
        html.len() < 200_000,
        "the report holds the start of the answer, not all {} bytes: {}",
        huge.len(),
        html.len()
    );
    let shown = explorer::TEXT_CHARS;
    assert!(
        html.contains(&format!("showing the first {shown} of 1000000 characters: the whole answer is in <a href=\"samples.csv\">samples.csv</a>")),
        "the cut is said, with where the whole answer is"
    );
}
