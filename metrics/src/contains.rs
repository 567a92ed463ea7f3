//! `contains`: the output contains a reference answer (or a fixed text).

use serde::{Deserialize, Serialize};

use crate::normalize::Normalize;
use crate::reference::{references, DEFAULT_FIELD};
use crate::{ready, BoxFuture, ConfigError, Direction, Metric, Scale, Score, ScoreContext};

/// Settings for `kind = "contains"`: 1 when the output contains a reference
/// answer (or the fixed `value`) after normalisation, else 0.
///
/// The test is a plain substring search: `"cat"` is found in `"concatenate"`.
///
/// ```toml
/// [[metrics]]
/// kind = "contains"
/// name = "refuses"
/// value = "I can't help with that"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContainsConfig {
    /// Name the results are reported under, unique within the suite.
    /// Type: string. Default: `"contains"`. Example: `name = "mentions_answer"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Dataset field holding the text to look for: a string, a number, or an array of acceptable
    /// answers (finding any one scores 1). References that normalise to the empty string are
    /// skipped, since every output contains them; if all of them do, the score is invalid.
    /// Type: string. Default: `"answer"` unless `value` is set. Example: `reference = "keyword"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// A fixed text to look for in every output, instead of a dataset field. Set `reference` or
    /// `value`, not both. It must not be empty after normalisation.
    /// Type: string. Default: none. Example: `value = "As an AI"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Normalisation applied to the output and the text looked for. See [`normalize`](#normalize).
    /// Type: table. Default:
    /// `{ case = true, whitespace = true, punctuation = false, articles = false }`. Example:
    /// `normalize = { case = false }` for a case-sensitive search.
    pub normalize: Normalize,
}

/// What to look for.
#[derive(Debug, Clone)]
enum Needle {
    /// References read from this dataset field.
    Field(String),
    /// This fixed text, as written and normalised.
    Fixed {
        /// As written in the suite.
        value: String,
        /// After normalisation.
        normalized: String,
    },
}

/// The `contains` metric. Details: `reference` (the text found, or the first
/// one looked for when none was found).
#[derive(Debug, Clone)]
pub struct Contains {
    name: String,
    needle: Needle,
    normalize: Normalize,
}

impl Contains {
    /// A `contains` metric with these settings. Fails when both `reference`
    /// and `value` are set, or `value` normalises to nothing.
    pub fn new(config: ContainsConfig) -> Result<Self, ConfigError> {
        let name = config.name.unwrap_or_else(|| "contains".to_owned());
        let needle = match (config.reference, config.value) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Conflict { metric: name, first: "reference", second: "value" });
            }
            (Some(field), None) => Needle::Field(field),
            (None, None) => Needle::Field(DEFAULT_FIELD.to_owned()),
            (None, Some(value)) => {
                let normalized = config.normalize.apply(&value);
                if normalized.is_empty() {
                    return Err(ConfigError::InvalidSetting {
                        metric: name,
                        setting: "value",
                        problem: format!("{value:?} is empty after normalisation, so every output would contain it"),
                    });
                }
                Needle::Fixed { value, normalized }
            }
        };
        Ok(Contains { name, needle, normalize: config.normalize })
    }
}

impl Metric for Contains {
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

impl Contains {
    /// Score from the sample and the response alone (no model calls).
    fn score_sample(&self, input: &ScoreContext<'_>) -> Score {
        // (as written, normalised) pairs: the search uses the second, details show the first.
        let wanted: Vec<(String, String)> = match &self.needle {
            Needle::Fixed { value, normalized } => vec![(value.clone(), normalized.clone())],
            Needle::Field(field) => {
                let refs = match references(input.fields, field) {
                    Ok(refs) => refs,
                    Err(cause) => return Score::invalid(cause),
                };
                let wanted: Vec<(String, String)> = refs
                    .into_iter()
                    .map(|r| {
                        let normalized = self.normalize.apply(&r);
                        (r, normalized)
                    })
                    .filter(|(_, normalized)| !normalized.is_empty())
                    .collect();
                if wanted.is_empty() {
                    return Score::invalid(format!(
                        "field \"{field}\" holds only empty answers, which every output contains: fix the sample or use exact_match"
                    ));
                }
                wanted
            }
        };
        let output = self.normalize.apply(&input.response.text);
        let found = wanted.iter().find(|(_, normalized)| output.contains(normalized.as_str()));
        let mut score = Score::pass(found.is_some());
        if let Some((reference, _)) = found.or(wanted.first()) {
            score = score.with_text_detail("reference", reference);
        }
        score
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{fields, score};

    fn from_field() -> Contains {
        Contains::new(ContainsConfig::default()).unwrap()
    }

    #[test]
    fn finds_the_reference_ignoring_case_by_default() {
        let f = fields(json!({"answer": "Paris"}));
        let s = score(&from_field(), &f, "I think it is PARIS, France.");
        assert_eq!(s.value, 1.0);
        assert_eq!(s.details["reference"], "Paris");
        assert_eq!(score(&from_field(), &f, "London").value, 0.0);
        assert_eq!(score(&from_field(), &f, "").value, 0.0);
    }

    #[test]
    fn any_of_an_array_and_numbers() {
        let f = fields(json!({"answer": ["Big Apple", 1624]}));
        assert_eq!(score(&from_field(), &f, "founded in 1624").value, 1.0);
        assert_eq!(score(&from_field(), &f, "the big  apple").value, 1.0);
        assert_eq!(score(&from_field(), &f, "Gotham").value, 0.0);
    }

    #[test]
    fn fixed_value() {
        let config = ContainsConfig { value: Some("I can't".into()), ..ContainsConfig::default() };
        let m = Contains::new(config).unwrap();
        let f = fields(json!({}));
        assert_eq!(score(&m, &f, "Sorry, i can't do that").value, 1.0);
        assert_eq!(score(&m, &f, "Sure!").value, 0.0);
    }

    #[test]
    fn unicode_substrings() {
        let f = fields(json!({"answer": "Straße"}));
        assert_eq!(score(&from_field(), &f, "Die STRAßE ist lang").value, 1.0);
        let f = fields(json!({"answer": "東京"}));
        assert_eq!(score(&from_field(), &f, "答えは東京です").value, 1.0);
    }

    #[test]
    fn empty_references_are_skipped_and_all_empty_is_invalid() {
        let f = fields(json!({"answer": ["", "cat"]}));
        assert_eq!(score(&from_field(), &f, "dog").value, 0.0);
        let f = fields(json!({"answer": ["", "  "]}));
        let s = score(&from_field(), &f, "dog");
        assert!(s.value.is_nan());
        assert!(s.cause.unwrap().contains("only empty answers"));
    }

    #[test]
    fn missing_field_is_invalid() {
        let s = score(&from_field(), &fields(json!({"gold": "x"})), "x");
        assert!(s.value.is_nan());
        assert!(s.cause.unwrap().contains("no field \"answer\""));
    }

    #[test]
    fn config_errors() {
        let both = ContainsConfig { reference: Some("a".into()), value: Some("b".into()), ..Default::default() };
        let err = Contains::new(both).unwrap_err().to_string();
        assert!(err.contains("either `reference` or `value`"), "{err}");
        let blank = ContainsConfig { value: Some("  ".into()), ..Default::default() };
        let err = Contains::new(blank).unwrap_err().to_string();
        assert!(err.contains("empty after normalisation"), "{err}");
    }
}
