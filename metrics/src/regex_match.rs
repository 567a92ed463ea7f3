//! `regex`: extract an answer with a regular expression, then check it.

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::normalize::Normalize;
use crate::reference::references;
use crate::regex_group::available_groups;
use crate::{ready, BoxFuture, ConfigError, Direction, Group, Metric, Occurrence, Scale, Score, ScoreContext};

/// Settings for `kind = "regex"`.
///
/// With `reference` set, the answer the pattern extracts must equal a
/// reference answer after normalisation; without it, the score is whether the
/// pattern matches at all. An output the pattern does not match scores 0.
///
/// ```toml
/// [[metrics]]
/// kind = "regex"
/// name = "final_answer"
/// pattern = '(?i)answer:\s*(-?\d+)'
/// occurrence = "last"
/// reference = "answer"
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegexConfig {
    /// Name the results are reported under, unique within the suite.
    /// Type: string. Default: `"regex"`. Example: `name = "final_answer"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Regular expression searched for anywhere in the output, in the Rust
    /// `regex` crate's syntax (no look-around or backreferences). Use inline
    /// flags for options: `(?i)` case-insensitive, `(?s)` `.` matches newlines,
    /// `(?m)` `^`/`$` match at line breaks. TOML literal strings (`'...'`) avoid
    /// doubling backslashes.
    /// Type: string. Required. Example: `pattern = '####\s*(\S+)'`.
    pub pattern: String,
    /// Capture group holding the answer: an index (0 is the whole match) or a name.
    /// Type: integer or string. Default: `1` if the pattern has a capture group, else `0`. Example:
    /// `group = "answer"` with `pattern = '(?<answer>\d+)'`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    /// Which match to use when the pattern matches more than once. `last` helps when a model
    /// restates the question before answering.
    /// Type: `"first"` or `"last"`. Default: `"first"`. Example: `occurrence = "last"`.
    #[serde(default)]
    pub occurrence: Occurrence,
    /// Dataset field holding the reference: a string, a number, or an array of
    /// acceptable answers. Unlike other metrics there is no default: leave it
    /// out to score whether the pattern matches.
    /// Type: string. Default: none. Example: `reference = "answer"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Normalisation applied to the extracted answer and each reference before comparing; unused
    /// without `reference`. See [`normalize`](#normalize).
    /// Type: table. Default:
    /// `{ case = true, whitespace = true, punctuation = false, articles = false }`. Example:
    /// `normalize = { punctuation = true }`.
    #[serde(default)]
    pub normalize: Normalize,
}

impl RegexConfig {
    /// Settings with this pattern and every other setting at its default.
    pub fn new(pattern: impl Into<String>) -> Self {
        RegexConfig {
            name: None,
            pattern: pattern.into(),
            group: None,
            occurrence: Occurrence::First,
            reference: None,
            normalize: Normalize::default(),
        }
    }
}

/// The `regex` metric. Details: `matched` (whether the pattern matched),
/// `answer` (the extracted text), `reference` (the reference matched, or the
/// first one) and `reason` when the score is 0 for want of an answer.
#[derive(Debug, Clone)]
pub struct RegexMatch {
    name: String,
    regex: Regex,
    group: Group,
    occurrence: Occurrence,
    reference: Option<String>,
    normalize: Normalize,
}

impl RegexMatch {
    /// A `regex` metric with these settings. Fails when the pattern does not
    /// compile or has no such capture group.
    pub fn new(config: RegexConfig) -> Result<Self, ConfigError> {
        let name = config.name.unwrap_or_else(|| "regex".to_owned());
        let regex = Regex::new(&config.pattern).map_err(|err| ConfigError::InvalidRegex {
            metric: name.clone(),
            pattern: config.pattern.clone(),
            message: one_line_regex_error(&err),
        })?;
        let group = config.group.unwrap_or_else(|| Group::default_for(&regex));
        if !group.exists_in(&regex) {
            return Err(ConfigError::UnknownGroup {
                metric: name,
                pattern: config.pattern,
                group: group.to_string(),
                available: available_groups(&regex),
            });
        }
        Ok(RegexMatch {
            name,
            regex,
            group,
            occurrence: config.occurrence,
            reference: config.reference,
            normalize: config.normalize,
        })
    }

    /// The text of the configured group in the chosen match: `None` when the
    /// pattern does not match, `Some(None)` when it matches but the group
    /// (an optional one) took no part.
    fn extract<'t>(&self, text: &'t str) -> Option<Option<&'t str>> {
        let captures = match self.occurrence {
            Occurrence::First => self.regex.captures(text),
            Occurrence::Last => self.regex.captures_iter(text).last(),
        }?;
        Some(self.group.get(&captures).map(|m| m.as_str()))
    }
}

impl Metric for RegexMatch {
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

impl RegexMatch {
    /// Score from the sample and the response alone (no model calls).
    fn score_sample(&self, input: &ScoreContext<'_>) -> Score {
        // References first: a sample without one is invalid whatever the output.
        let references = match &self.reference {
            Some(field) => match references(input.fields, field) {
                Ok(references) => Some(references),
                Err(cause) => return Score::invalid(cause),
            },
            None => None,
        };
        let answer = match self.extract(&input.response.text) {
            None => {
                return Score::pass(false)
                    .with_detail("matched", false)
                    .with_detail("reason", "the pattern did not match the output");
            }
            Some(answer) => answer,
        };
        let Some(references) = references else {
            let score = Score::pass(true).with_detail("matched", true);
            return match answer {
                Some(answer) => score.with_text_detail("answer", answer),
                None => score,
            };
        };
        let Some(answer) = answer else {
            return Score::pass(false)
                .with_detail("matched", true)
                .with_detail("reason", format!("capture group {} took no part in the match", self.group));
        };
        let normalized = self.normalize.apply(answer);
        let matched = references.iter().find(|r| self.normalize.apply(r) == normalized);
        let mut score = Score::pass(matched.is_some()).with_detail("matched", true).with_text_detail("answer", answer);
        if let Some(reference) = matched.or(references.first()) {
            score = score.with_text_detail("reference", reference);
        }
        score
    }
}

/// The regex crate explains a syntax error over several lines (the pattern,
/// a caret, then `error: <what>`); a diagnostic is one line with the
/// pattern already quoted, so keep the explanation and where it points.
fn one_line_regex_error(error: &regex::Error) -> String {
    let text = error.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let what = lines.iter().rev().find_map(|l| l.trim().strip_prefix("error: ")).unwrap_or(text.trim());
    // The caret line's offset, relative to the pattern line above it.
    let caret =
        lines.iter().position(|l| l.trim_start().starts_with('^') && l.trim().chars().all(|c| c == '^' || c == '~'));
    match caret {
        Some(at) if at > 0 => {
            let column =
                lines[at].find('^').unwrap_or(0).saturating_sub(lines[at - 1].len() - lines[at - 1].trim_start().len());
            format!("{what} (at character {})", column + 1)
        }
        _ => what.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{fields, score};

    fn metric(pattern: &str, reference: Option<&str>) -> RegexMatch {
        let config = RegexConfig { reference: reference.map(str::to_owned), ..RegexConfig::new(pattern) };
        RegexMatch::new(config).unwrap()
    }

    #[test]
    fn without_reference_scores_whether_it_matches() {
        let m = metric(r"\d+", None);
        let s = score(&m, &fields(json!({})), "it is 42");
        assert_eq!(s.value, 1.0);
        assert_eq!(s.details["answer"], "42");
        let s = score(&m, &fields(json!({})), "no digits");
        assert_eq!(s.value, 0.0);
        assert_eq!(s.details["matched"], false);
        assert!(s.details["reason"].as_str().unwrap().contains("did not match"));
    }

    #[test]
    fn group_one_by_default_compared_with_reference() {
        let m = metric(r"answer is (\w+)", Some("answer"));
        let f = fields(json!({"answer": "Paris"}));
        let s = score(&m, &f, "The answer is paris.");
        assert_eq!(s.value, 1.0);
        assert_eq!(s.details["answer"], "paris");
        assert_eq!(s.details["reference"], "Paris");
        assert_eq!(score(&m, &f, "The answer is Rome").value, 0.0);
        let s = score(&m, &f, "I don't know");
        assert_eq!((s.value, s.cause), (0.0, None));
    }

    #[test]
    fn numbers_and_arrays_of_references() {
        let m = metric(r"####\s*(-?\d+)", Some("answer"));
        assert_eq!(score(&m, &fields(json!({"answer": 18})), "so #### 18").value, 1.0);
        assert_eq!(score(&m, &fields(json!({"answer": ["17", 18]})), "#### 18").value, 1.0);
    }

    #[test]
    fn named_groups_and_last_occurrence() {
        let config = RegexConfig {
            group: Some(Group::Name("n".into())),
            occurrence: Occurrence::Last,
            reference: Some("answer".into()),
            ..RegexConfig::new(r"=\s*(?<n>\d+)")
        };
        let m = RegexMatch::new(config).unwrap();
        let f = fields(json!({"answer": "12"}));
        assert_eq!(score(&m, &f, "3*3 = 9, 9+3 = 12").value, 1.0);
    }

    #[test]
    fn optional_group_that_took_no_part_scores_zero() {
        let config = RegexConfig { group: Some(Group::Index(2)), ..RegexConfig::new(r"(a)|(b)") };
        let m = RegexMatch::new(RegexConfig { reference: Some("answer".into()), ..config }).unwrap();
        let s = score(&m, &fields(json!({"answer": "b"})), "a");
        assert_eq!(s.value, 0.0);
        assert!(s.details["reason"].as_str().unwrap().contains("group 2 took no part"));
    }

    #[test]
    fn unicode_output() {
        let m = metric(r"答え[:：]\s*(\S+)", Some("answer"));
        assert_eq!(score(&m, &fields(json!({"answer": "東京"})), "答え：東京").value, 1.0);
        assert_eq!(score(&m, &fields(json!({"answer": "東京"})), "").value, 0.0);
    }

    #[test]
    fn missing_reference_is_invalid_even_without_a_match() {
        let s = score(&metric(r"(\d+)", Some("gold")), &fields(json!({})), "none");
        assert!(s.value.is_nan());
        assert!(s.cause.unwrap().contains("no field \"gold\""));
    }

    #[test]
    fn config_errors_explain_themselves() {
        let err = RegexMatch::new(RegexConfig::new("(unclosed")).unwrap_err().to_string();
        assert!(err.starts_with("metric \"regex\": invalid regex \"(unclosed\":"), "{err}");
        let config = RegexConfig { group: Some(Group::Index(3)), ..RegexConfig::new(r"(a)(?<x>b)") };
        let err = RegexMatch::new(config).unwrap_err().to_string();
        assert!(err.contains("no capture group 3; it has groups 0 (the whole match), 1 and 2 (\"x\")"), "{err}");
        let config = RegexConfig { group: Some(Group::Name("y".into())), ..RegexConfig::new("a") };
        let err = RegexMatch::new(config).unwrap_err().to_string();
        assert!(err.contains("no capture group \"y\"; it has only group 0 (the whole match)"), "{err}");
    }
}
