//! `exact_match`: the output equals a reference answer after normalisation.

use serde::{Deserialize, Serialize};

use crate::normalize::{normalize_answer, Normalize};
use crate::reference::{references, DEFAULT_FIELD};
use crate::{ready, BoxFuture, Direction, Metric, Scale, Score, ScoreContext};

/// Settings for `kind = "exact_match"`: 1 when the whole output equals a
/// reference answer after normalisation, else 0.
///
/// ```toml
/// [[metrics]]
/// kind = "exact_match"
/// reference = "answer"
/// normalize = { punctuation = true, articles = true }  # SQuAD's EM
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExactMatchConfig {
    /// Name the results are reported under, unique within the suite.
    /// Type: string. Default: `"exact_match"`. Example: `name = "em_strict"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Dataset field holding the reference: a string, a number, or an array of
    /// acceptable answers (matching any one scores 1).
    /// Type: string. Default: `"answer"`. Example: `reference = "gold"`.
    pub reference: String,
    /// Normalisation applied to the output and each reference before comparing. See
    /// [`normalize`](#normalize).
    /// Type: table. Default:
    /// `{ case = true, whitespace = true, punctuation = false, articles = false }`. Example:
    /// `normalize = { case = false }` for a case-sensitive match.
    pub normalize: Normalize,
}

impl Default for ExactMatchConfig {
    fn default() -> Self {
        ExactMatchConfig { name: None, reference: DEFAULT_FIELD.to_owned(), normalize: Normalize::default() }
    }
}

/// The `exact_match` metric. Details: `answer` (the normalised output) and
/// `reference` (the reference matched, or the first one when none matched).
#[derive(Debug, Clone)]
pub struct ExactMatch {
    name: String,
    reference: String,
    normalize: Normalize,
}

impl ExactMatch {
    /// An `exact_match` metric with these settings.
    pub fn new(config: ExactMatchConfig) -> Self {
        ExactMatch {
            name: config.name.unwrap_or_else(|| "exact_match".to_owned()),
            reference: config.reference,
            normalize: config.normalize,
        }
    }
}

impl Metric for ExactMatch {
    fn name(&self) -> &str {
        &self.name
    }

    fn scale(&self) -> Scale {
        Scale::Binary
    }

    fn direction(&self) -> Direction {
        Direction::HigherIsBetter
    }

    fn score<'a>(&'a self, input: &'a ScoreContext<'a>) -> BoxFuture<'a, Score> {
        ready(self.score_sample(input))
    }
}

impl ExactMatch {
    /// Score from the sample and the response alone (no model calls).
    fn score_sample(&self, input: &ScoreContext<'_>) -> Score {
        let references = match references(input.fields, &self.reference) {
            Ok(references) => references,
            Err(cause) => return Score::invalid(cause),
        };
        let answer = self.normalize.apply(&input.response.text);
        let matched = references.iter().find(|r| self.normalize.apply(r) == answer);
        let mut score = Score::pass(matched.is_some());
        if let Some(reference) = matched.or(references.first()) {
            score = score.with_text_detail("reference", reference);
        }
        score.with_text_detail("answer", &answer)
    }
}

/// SQuAD's `compute_exact(a_gold, a_pred)`: whether the two are equal after
/// [`normalize_answer`].
pub fn compute_exact(gold: &str, prediction: &str) -> bool {
    normalize_answer(gold) == normalize_answer(prediction)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{fields, score};

    fn metric(normalize: Normalize) -> ExactMatch {
        ExactMatch::new(ExactMatchConfig { normalize, ..ExactMatchConfig::default() })
    }

    #[test]
    fn default_normalisation_ignores_case_and_whitespace_only() {
        let m = metric(Normalize::default());
        let f = fields(json!({"answer": "Paris"}));
        assert_eq!(score(&m, &f, "  paris\n").value, 1.0);
        assert_eq!(score(&m, &f, "Paris.").value, 0.0);
        assert_eq!(score(&m, &f, "The Paris").value, 0.0);
    }

    #[test]
    fn squad_normalisation() {
        let m = metric(Normalize::SQUAD);
        let f = fields(json!({"answer": "Eiffel Tower"}));
        let s = score(&m, &f, "The Eiffel tower!");
        assert_eq!(s.value, 1.0);
        assert_eq!(s.details["answer"], "eiffel tower");
        assert_eq!(s.details["reference"], "Eiffel Tower");
    }

    #[test]
    fn best_of_an_array_of_references() {
        let m = metric(Normalize::default());
        let f = fields(json!({"answer": ["NYC", "New York City", 42]}));
        let s = score(&m, &f, "new york city");
        assert_eq!(s.value, 1.0);
        assert_eq!(s.details["reference"], "New York City");
        assert_eq!(score(&m, &f, "42").value, 1.0);
        let s = score(&m, &f, "Boston");
        assert_eq!(s.value, 0.0);
        assert_eq!(s.details["reference"], "NYC");
    }

    #[test]
    fn unicode_and_empty_outputs() {
        let m = metric(Normalize::default());
        assert_eq!(score(&m, &fields(json!({"answer": "Zürich"})), "ZÜRICH").value, 1.0);
        assert_eq!(score(&m, &fields(json!({"answer": "Zürich"})), "").value, 0.0);
        // An empty reference means "no answer": only an empty output matches it.
        assert_eq!(score(&m, &fields(json!({"answer": ""})), " \n").value, 1.0);
    }

    #[test]
    fn case_sensitive_when_asked() {
        let m = metric(Normalize { case: false, ..Normalize::default() });
        assert_eq!(score(&m, &fields(json!({"answer": "Paris"})), "paris").value, 0.0);
    }

    #[test]
    fn missing_reference_is_invalid_and_names_the_field() {
        let m = ExactMatch::new(ExactMatchConfig { reference: "gold".into(), ..ExactMatchConfig::default() });
        let s = score(&m, &fields(json!({"answer": "x"})), "x");
        assert!(s.value.is_nan());
        assert!(s.cause.as_deref().unwrap_or_default().contains("no field \"gold\""), "{s:?}");
    }

    #[test]
    fn a_huge_answer_is_not_copied_into_the_details() {
        let m = ExactMatch::new(ExactMatchConfig::default());
        let huge = "ä".repeat(1_000_000);
        let s = score(&m, &fields(json!({"answer": "x"})), &huge);
        let detail = s.details["answer"].as_str().unwrap();
        assert!(detail.chars().count() < crate::DETAIL_TEXT_CHARS + 40, "{} chars", detail.chars().count());
        assert!(detail.ends_with("(1000000 characters)"), "{}", &detail[detail.len() - 40..]);
    }

    #[test]
    fn compute_exact_is_squads() {
        assert!(compute_exact("the Cat.", "cat"));
        assert!(!compute_exact("cat", "cats"));
        assert!(compute_exact("", "the"));
    }
}
