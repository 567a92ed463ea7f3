//! `token_f1`: SQuAD's token-overlap F1 between the output and a reference.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::normalize::{is_python_whitespace, normalize_answer};
use crate::reference::{references, DEFAULT_FIELD};
use crate::{ready, BoxFuture, Direction, Metric, Scale, Score, ScoreContext};

/// Settings for `kind = "token_f1"`: the harmonic mean of token precision and
/// recall between the output and the reference, both normalised as SQuAD does
/// (lowercase, no ASCII punctuation, no articles, whitespace-separated tokens).
/// The best F1 over the acceptable answers counts.
///
/// When either side has no tokens the score is 1 if both have none, else 0
/// (the official SQuAD v2.0 script's rule, where an empty reference means "no
/// answer"; v1.1 would give 0 for two empty texts).
///
/// ```toml
/// [[metrics]]
/// kind = "token_f1"
/// reference = "answers"
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenF1Config {
    /// Name the results are reported under, unique within the suite.
    /// Type: string. Default: `"token_f1"`. Example: `name = "f1"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Dataset field holding the reference: a string, a number, or an array of
    /// acceptable answers (the highest F1 counts).
    /// Type: string. Default: `"answer"`. Example: `reference = "answers"`.
    pub reference: String,
}

impl Default for TokenF1Config {
    fn default() -> Self {
        TokenF1Config { name: None, reference: DEFAULT_FIELD.to_owned() }
    }
}

/// The `token_f1` metric. Details: `answer` (the normalised output),
/// `reference` (the best-scoring reference), `precision` and `recall`.
#[derive(Debug, Clone)]
pub struct TokenF1 {
    name: String,
    reference: String,
}

impl TokenF1 {
    /// A `token_f1` metric with these settings.
    pub fn new(config: TokenF1Config) -> Self {
        TokenF1 { name: config.name.unwrap_or_else(|| "token_f1".to_owned()), reference: config.reference }
    }
}

impl Metric for TokenF1 {
    fn name(&self) -> &str {
        &self.name
    }

    fn scale(&self) -> Scale {
        Scale::Continuous
    }

    fn direction(&self) -> Direction {
        Direction::HigherIsBetter
    }

    fn score<'a>(&'a self, input: &'a ScoreContext<'a>) -> BoxFuture<'a, Score> {
        ready(self.score_sample(input))
    }
}

impl TokenF1 {
    /// Score from the sample and the response alone (no model calls).
    fn score_sample(&self, input: &ScoreContext<'_>) -> Score {
        let references = match references(input.fields, &self.reference) {
            Ok(references) => references,
            Err(cause) => return Score::invalid(cause),
        };
        let answer = normalize_answer(&input.response.text);
        let prediction = tokens(&answer);
        // Keep the first reference on ties, so details are stable.
        let mut best: Option<(&String, Overlap)> = None;
        for reference in &references {
            let overlap = overlap(&tokens(&normalize_answer(reference)), &prediction);
            if best.as_ref().is_none_or(|(_, b)| overlap.f1 > b.f1) {
                best = Some((reference, overlap));
            }
        }
        let Some((reference, overlap)) = best else {
            // `references` never returns an empty list; this keeps `score` panic-free regardless.
            return Score::invalid(format!("field \"{}\" holds no answers", self.reference));
        };
        Score::value(overlap.f1)
            .with_detail("answer", answer)
            .with_detail("reference", reference.as_str())
            .with_detail("precision", overlap.precision)
            .with_detail("recall", overlap.recall)
    }
}

/// Precision, recall and F1 of a prediction's tokens against a reference's.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Overlap {
    precision: f64,
    recall: f64,
    f1: f64,
}

/// Tokens of already-normalised text (Python's `str.split()`).
fn tokens(normalized: &str) -> Vec<&str> {
    normalized.split(is_python_whitespace).filter(|t| !t.is_empty()).collect()
}

/// SQuAD v2.0's `compute_f1` arithmetic, operation for operation so the
/// floating-point results are identical.
fn overlap(gold: &[&str], prediction: &[&str]) -> Overlap {
    if gold.is_empty() || prediction.is_empty() {
        // "If either is no-answer, then F1 is 1 if they agree, 0 otherwise."
        let agree = if gold.is_empty() && prediction.is_empty() { 1.0 } else { 0.0 };
        return Overlap { precision: agree, recall: agree, f1: agree };
    }
    // Counter(gold) & Counter(prediction): the multiset intersection.
    let mut gold_counts: HashMap<&str, usize> = HashMap::new();
    for token in gold {
        *gold_counts.entry(token).or_default() += 1;
    }
    let mut num_same = 0_usize;
    for token in prediction {
        if let Some(count) = gold_counts.get_mut(token).filter(|c| **c > 0) {
            *count -= 1;
            num_same += 1;
        }
    }
    if num_same == 0 {
        return Overlap { precision: 0.0, recall: 0.0, f1: 0.0 };
    }
    let precision = num_same as f64 / prediction.len() as f64;
    let recall = num_same as f64 / gold.len() as f64;
    let f1 = (2.0 * precision * recall) / (precision + recall);
    Overlap { precision, recall, f1 }
}

/// SQuAD v2.0's `compute_f1(a_gold, a_pred)`: token F1 after [`normalize_answer`],
/// 1 when both are empty and 0 when only one is.
pub fn compute_f1(gold: &str, prediction: &str) -> f64 {
    overlap(&tokens(&normalize_answer(gold)), &tokens(&normalize_answer(prediction))).f1
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{fields, score};

    fn metric() -> TokenF1 {
        TokenF1::new(TokenF1Config::default())
    }

    #[test]
    fn partial_overlap() {
        let s = score(&metric(), &fields(json!({"answer": "big dog"})), "The big red dog");
        assert!((s.value - 0.8).abs() < 1e-12);
        assert_eq!(s.details["answer"], "big red dog");
        assert!((s.details["precision"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.details["recall"], 1.0);
    }

    #[test]
    fn repeated_tokens_count_at_most_as_often_as_in_both() {
        assert!((compute_f1("red", "red red red") - 0.5).abs() < 1e-12);
        assert!((compute_f1("red red red", "red") - 0.5).abs() < 1e-12);
    }

    #[test]
    fn empty_handling_follows_squad_v2() {
        assert_eq!(compute_f1("", ""), 1.0);
        assert_eq!(compute_f1("the", "..."), 1.0);
        assert_eq!(compute_f1("", "Paris"), 0.0);
        assert_eq!(compute_f1("Paris", ""), 0.0);
        assert_eq!(compute_f1("one two", "three four"), 0.0);
        assert_eq!(score(&metric(), &fields(json!({"answer": "x"})), "").value, 0.0);
    }

    #[test]
    fn best_over_references_first_on_ties() {
        let f = fields(json!({"answer": ["red car", "a big red car", "blue car", 7]}));
        let s = score(&metric(), &f, "big red car");
        assert_eq!(s.value, 1.0);
        assert_eq!(s.details["reference"], "a big red car");
        let s = score(&metric(), &f, "car");
        assert_eq!(s.details["reference"], "red car");
        assert_eq!(score(&metric(), &f, "7 apples").value, compute_f1("7", "7 apples"));
    }

    #[test]
    fn unicode_tokens() {
        assert_eq!(compute_f1("Zürich Straße", "zürich\u{3000}STRAßE"), 1.0);
        assert!((compute_f1("東京 タワー", "東京") - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn missing_reference_is_invalid() {
        let s = score(&metric(), &fields(json!({"answers": ["x"]})), "x");
        assert!(s.value.is_nan());
        assert!(s.cause.unwrap().contains("no field \"answer\""));
    }
}
