//! criterion benchmarks for evalkit; see `benches/`.
//!
//! Run with `cargo bench -p evalkit-benches`. The library part only holds
//! shared fixtures.

#![deny(missing_docs)]

use evalkit_model_api::{Message, Prompt, Response, Timing, Usage};
use evalkit_record::journal::{Outcome, Record, ScoreEntry, Scores, RECORD_VERSION};

/// A realistic journal record for sample `index`.
pub fn sample_record(index: usize) -> Record {
    let mut scores = Scores::default();
    scores.insert("exact_match".to_owned(), ScoreEntry { value: Some((index % 2) as f64), ..ScoreEntry::default() });
    Record {
        v: RECORD_VERSION,
        variant: "qa-v2".to_owned(),
        sample: format!("sample-{index}"),
        repeat: 0,
        request_hash: format!("{index:064x}"),
        prompt: Prompt::Chat(vec![
            Message { role: "system".to_owned(), content: "Answer with one word.".to_owned() },
            Message { role: "user".to_owned(), content: "What is the capital of France?".to_owned() },
        ]),
        reference: Some(serde_json::json!("Paris")),
        cluster: None,
        outcome: Outcome::Response(Response {
            text: "Paris".to_owned(),
            usage: Usage { input_tokens: 24, output_tokens: 2, ..Usage::default() },
            timing: Timing { e2e_seconds: 0.31, ttft_seconds: Some(0.12), inter_token_seconds: Some(0.02) },
            finish_reason: Some("stop".to_owned()),
            model: Some("gpt-4o-mini-2024-07-18".to_owned()),
            ..Response::default()
        }),
        scores,
        attempts: 1,
        cached: false,
        finished_at: "2026-11-23T08:40:00Z".to_owned(),
    }
}
