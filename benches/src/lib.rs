//! criterion benchmarks for evalkit; see `benches/`.
//!
//! Run with `cargo bench -p evalkit-benches`. The library part only holds
//! shared fixtures.

#![deny(missing_docs)]

use evalkit_reports::record::{Outcome, Record, ResponseEntry, ScoreEntry};

/// A realistic journal record for sample `index`.
pub fn sample_record(index: usize) -> Record {
    let mut scores = std::collections::BTreeMap::new();
    scores.insert(
        "exact_match".to_owned(),
        ScoreEntry { value: Some((index % 2) as f64), cause: None, details: Default::default() },
    );
    Record {
        variant: "qa-v2".to_owned(),
        sample: format!("sample-{index}"),
        repeat: 0,
        request_hash: format!("{index:064x}"),
        prompt: "[system]\nAnswer with one word.\n\n[user]\nWhat is the capital of France?".to_owned(),
        reference: Some(serde_json::json!("Paris")),
        cluster: None,
        outcome: Outcome::Response(ResponseEntry {
            text: "Paris".to_owned(),
            input_tokens: 24,
            output_tokens: 2,
            cached_input_tokens: None,
            reasoning_tokens: None,
            e2e_seconds: 0.31,
            ttft_seconds: Some(0.12),
            inter_token_seconds: Some(0.02),
            finish_reason: Some("stop".to_owned()),
        }),
        scores,
        attempts: 1,
        cached: false,
        finished_at: "2026-11-23T08:40:00Z".to_owned(),
    }
}
