// TEMPORARY: renders a demo report for a visual check; deleted afterwards.
use std::collections::BTreeMap;
use evalkit_reports::record::*;
use evalkit_reports::results::*;
use evalkit_reports::*;

fn rec(variant: &str, sample: &str, repeat: u32, text: &str, em: Option<f64>, lat: f64, ok: bool) -> Record {
    let outcome = if ok {
        Outcome::Response(ResponseEntry { text: text.into(), input_tokens: 120, output_tokens: 30, cached_input_tokens: None, reasoning_tokens: None, e2e_seconds: lat, ttft_seconds: None, inter_token_seconds: None, finish_reason: None })
    } else {
        Outcome::Error(ErrorEntry { kind: "timeout".into(), message: "request timed out after 30s".into() })
    };
    let mut scores = BTreeMap::new();
    if ok {
        let mut details = BTreeMap::new();
        details.insert("extracted".to_owned(), serde_json::json!(text.split_whitespace().last().unwrap_or("")));
        scores.insert("exact_match".into(), ScoreEntry { value: em, cause: em.is_none().then(|| "no number found in the answer".into()), details });
        scores.insert("latency".into(), ScoreEntry { value: Some(lat), cause: None, details: BTreeMap::new() });
        scores.insert("cost".into(), ScoreEntry { value: Some(0.00012), cause: None, details: BTreeMap::new() });
    }
    Record { variant: variant.into(), sample: sample.into(), repeat, request_hash: "h".into(), prompt: format!("You are a careful assistant. Answer with a number only.\n\nQuestion {sample}: what is 6 × 7? <b>bold?</b>\nThink step by step."), reference: Some(serde_json::json!("42")), cluster: None, outcome, scores, attempts: if ok {1} else {3}, cached: sample == "q2", finished_at: "2025-01-01T12:00:00Z".into() }
}

fn main() {
    let mut records = vec![];
    for i in 0..8 {
        let s = format!("q{i}");
        let long = "This is a long answer. ".repeat(if i == 1 { 60 } else { 1 });
        records.push(rec("baseline", &s, 0, &format!("{long} 42"), Some(if i % 3 == 0 { 0.0 } else { 1.0 }), 0.4 + i as f64 * 0.1, true));
        records.push(rec("<script>alert(1)</script>", &s, 0, "<script>alert(1)</script> 41", if i == 2 { None } else { Some(1.0) }, 1.2, i != 5));
    }
    let variant = |name: &str| VariantInfo { name: name.into(), backend: "local".into(), backend_kind: "openai".into(), model: "gpt-x".into(), endpoint: None, prompt: "qa".into(), prompt_version: Some("v2".into()), params: serde_json::json!({}), planned_tasks: 9 };
    let metrics = vec![
        MetricInfo { name: "exact_match".into(), kind: "exact_match".into(), scale: Scale::Binary, direction: Direction::HigherIsBetter, unit: None },
        MetricInfo { name: "latency".into(), kind: "latency".into(), scale: Scale::Continuous, direction: Direction::LowerIsBetter, unit: Some("s".into()) },
        MetricInfo { name: "cost".into(), kind: "cost".into(), scale: Scale::Continuous, direction: Direction::LowerIsBetter, unit: Some("USD".into()) },
    ];
    let run = RunInfo { id: "20250101-120000-demo".into(), suite_name: "arithmetic-smoke".into(), suite_description: Some("Checks that models can multiply.".into()), started_at: "2025-01-01T12:00:00Z".into(), finished_at: None, complete: false, seed: 1, repeats: 1, git_commit: Some("abc1234".into()), host: "devbox".into() };
    let results = analyze(AnalysisInput { run, suite: serde_json::json!({}), variants: vec![variant("baseline"), variant("<script>alert(1)</script>")], metrics, records: &records });
    print!("{}", summary_table(&results));
    std::fs::write("/tmp/demo_report.html", render_html(&results, &records).unwrap()).unwrap();
    std::fs::write("/tmp/demo_results.json", serde_json::to_string_pretty(&results).unwrap()).unwrap();
}
