//! `multiple_choice`: pick the choice the model finds most likely, as
//! lm-evaluation-harness does (`acc`; `acc_norm` per character and `acc_bytes`
//! per UTF-8 byte of the choice).

use evalkit_model_api::{ScoreSpec, Scored};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ready, BoxFuture, Direction, Fields, Metric, Scale, Score, ScoreContext};

/// Settings for `kind = "multiple_choice"`. The rendered prompt is the
/// context; each choice is scored as its continuation by log-likelihood;
/// the sample passes when the most likely choice is the right one.
///
/// ```toml
/// [[metrics]]
/// kind = "multiple_choice"
/// choices = "choices"
/// answer = "label"
///
/// [[metrics]]
/// kind = "multiple_choice"
/// normalize = "chars"   # acc_norm
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultipleChoiceConfig {
    /// Name the results are reported under, unique within the suite.
    /// Type: string. Default: lm-evaluation-harness's name, `"acc"` (`"acc_norm"` with
    /// `normalize = "chars"`, `"acc_bytes"` with `normalize = "bytes"`). Example: `name = "acc"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Sample field holding the choices: an array of at least two strings, each scored as written
    /// after the prompt (include a leading space if the prompt needs one).
    /// Type: string. Default: `"choices"`. Example: `choices = "endings"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choices: Option<String>,
    /// Sample field holding the right choice: its 0-based index (number or digits), or its text.
    /// Type: string. Default: `"answer"`. Example: `answer = "label"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// `none` compares total log-likelihoods (`acc`); `chars` divides each by the choice's length
    /// in Unicode code points, Python's `len` (lm-evaluation-harness's `acc_norm`); `bytes` by its
    /// UTF-8 length (`acc_bytes`). Both lengths leave out a leading `target_delimiter`, as lm-evaluation-harness
    /// counts its choice without the delimiter it puts before it.
    /// Type: `"none"`, `"chars"` or `"bytes"`. Default: `"none"`. Example: `normalize = "chars"`.
    pub normalize: ChoiceNormalize,
    /// lm-evaluation-harness's `target_delimiter`: the text that task puts between the prompt and
    /// each choice. evalkit adds nothing (each choice is scored as written, delimiter included), but
    /// a choice that starts with this text is counted without it by `chars` and `bytes`, so
    /// `" Paris"` counts 5 characters, as lm-evaluation-harness counts `"Paris"` after its default
    /// `" "`. Set it to the task's own when porting one that changes it (`""` when the choices carry
    /// their own leading space, `"\n"`); unused with `normalize = "none"`.
    /// Type: string. Default: `" "`. Example: `target_delimiter = ""`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_delimiter: Option<String>,
}

/// How choice log-likelihoods are compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChoiceNormalize {
    /// Total log-likelihood.
    #[default]
    None,
    /// Log-likelihood per Unicode code point of the choice.
    Chars,
    /// Log-likelihood per UTF-8 byte of the choice.
    Bytes,
}

impl ChoiceNormalize {
    /// lm-evaluation-harness's name for the metric, the default `name`.
    pub fn default_name(self) -> &'static str {
        match self {
            ChoiceNormalize::None => "acc",
            ChoiceNormalize::Chars => "acc_norm",
            ChoiceNormalize::Bytes => "acc_bytes",
        }
    }
}

/// lm-evaluation-harness's default `target_delimiter`.
const DEFAULT_TARGET_DELIMITER: &str = " ";

/// The `multiple_choice` metric. Details: `chosen`, `answer`, `logliks`.
#[derive(Debug, Clone)]
pub struct MultipleChoice {
    name: String,
    choices_field: String,
    answer_field: String,
    normalize: ChoiceNormalize,
    target_delimiter: String,
}

impl MultipleChoice {
    /// From its settings.
    pub fn new(config: MultipleChoiceConfig) -> Self {
        MultipleChoice {
            name: config.name.unwrap_or_else(|| config.normalize.default_name().to_owned()),
            choices_field: config.choices.unwrap_or_else(|| "choices".to_owned()),
            answer_field: config.answer.unwrap_or_else(|| "answer".to_owned()),
            normalize: config.normalize,
            target_delimiter: config.target_delimiter.unwrap_or_else(|| DEFAULT_TARGET_DELIMITER.to_owned()),
        }
    }

    /// What `chars` and `bytes` divide by: the length of the choice as lm-evaluation-harness
    /// holds it, before it prepends `target_delimiter` to score it (`len(choice)` and
    /// `len(choice.encode("utf-8"))` in `ConfigurableTask.process_results`). `None` with
    /// `normalize = "none"`, which divides by nothing.
    fn length(&self, choice: &str) -> Option<usize> {
        let counted = choice.strip_prefix(self.target_delimiter.as_str()).unwrap_or(choice);
        match self.normalize {
            ChoiceNormalize::None => None,
            ChoiceNormalize::Chars => Some(counted.chars().count()),
            ChoiceNormalize::Bytes => Some(counted.len()),
        }
    }

    fn choices(&self, fields: &Fields) -> Result<Vec<String>, String> {
        let value = fields
            .get(&self.choices_field)
            .ok_or_else(|| format!("the sample has no `{}` field", self.choices_field))?;
        let list = value.as_array().ok_or_else(|| format!("`{}` must be an array of strings", self.choices_field))?;
        let choices: Option<Vec<String>> = list.iter().map(|v| v.as_str().map(str::to_owned)).collect();
        match choices {
            Some(c) if c.len() >= 2 => Ok(c),
            Some(_) => Err(format!("`{}` needs at least two choices", self.choices_field)),
            None => Err(format!("`{}` must be an array of strings", self.choices_field)),
        }
    }

    fn answer_index(&self, fields: &Fields, choices: &[String]) -> Result<usize, String> {
        let value =
            fields.get(&self.answer_field).ok_or_else(|| format!("the sample has no `{}` field", self.answer_field))?;
        let index = match value {
            Value::Number(n) => n.as_u64().map(|n| n as usize),
            Value::String(s) => s.trim().parse::<usize>().ok().or_else(|| choices.iter().position(|c| c == s)),
            _ => None,
        };
        index.filter(|&i| i < choices.len()).ok_or_else(|| {
            format!("`{}` = {value} is neither a choice index below {} nor a choice", self.answer_field, choices.len())
        })
    }
}

impl Metric for MultipleChoice {
    fn name(&self) -> &str {
        &self.name
    }

    fn scale(&self) -> Scale {
        Scale::Binary
    }

    fn direction(&self) -> Direction {
        Direction::HigherIsBetter
    }

    fn scoring(&self, fields: &Fields) -> Option<Result<ScoreSpec, String>> {
        Some(self.choices(fields).map(|choices| ScoreSpec::Choices { choices }))
    }

    fn score<'a>(&'a self, input: &'a ScoreContext<'a>) -> BoxFuture<'a, Score> {
        ready(self.score_sample(input))
    }
}

impl MultipleChoice {
    /// Score from the sample and the response alone (no model calls).
    fn score_sample(&self, input: &ScoreContext<'_>) -> Score {
        let choices = match self.choices(input.fields) {
            Ok(c) => c,
            Err(cause) => return Score::invalid(cause),
        };
        let answer = match self.answer_index(input.fields, &choices) {
            Ok(i) => i,
            Err(cause) => return Score::invalid(cause),
        };
        let Some(Scored::Choices(scores)) = &input.response.scored else {
            return Score::invalid("the backend returned no choice log-likelihoods");
        };
        if scores.len() != choices.len() {
            return Score::invalid(format!("{} choices but {} log-likelihoods", choices.len(), scores.len()));
        }
        let mut keys = Vec::with_capacity(scores.len());
        for (i, (choice, score)) in choices.iter().zip(scores).enumerate() {
            keys.push(match self.length(choice) {
                None => score.loglik,
                // lm-evaluation-harness would divide by zero here (numpy gives -inf, or NaN,
                // which argmax then picks); a choice with nothing to count is a suite mistake.
                Some(0) => {
                    return Score::invalid(format!(
                        "choice {i} ({choice:?}) has no characters besides the target delimiter {:?} to divide by",
                        self.target_delimiter
                    ))
                }
                // As numpy's `lls / completion_len`: one f64 division, so ties come out equal.
                Some(length) => score.loglik / length as f64,
            });
        }
        // The first of equally likely choices wins, as in lm-evaluation-harness (numpy argmax).
        let chosen = (0..keys.len()).fold(0, |best, i| if keys[i] > keys[best] { i } else { best });
        Score::pass(chosen == answer)
            .with_detail("chosen", chosen)
            .with_detail("answer", answer)
            .with_detail("logliks", scores.iter().map(|s| s.loglik).collect::<Vec<_>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fields;
    use evalkit_model_api::ChoiceScore;

    /// A response with these choice log-likelihoods. `bytes` is left 0: the metric counts the
    /// choices' own text, not what the backend reports.
    fn scored(logliks: &[f64]) -> evalkit_model_api::Response {
        let mut response = crate::testing::response("");
        response.scored = Some(Scored::Choices(
            logliks.iter().map(|&loglik| ChoiceScore { loglik, tokens: 1, bytes: 0, greedy: false }).collect(),
        ));
        response
    }

    fn metric(normalize: ChoiceNormalize, target_delimiter: Option<&str>) -> MultipleChoice {
        MultipleChoice::new(MultipleChoiceConfig {
            normalize,
            target_delimiter: target_delimiter.map(str::to_owned),
            ..Default::default()
        })
    }

    fn chosen(metric: &MultipleChoice, sample: &Fields, response: &evalkit_model_api::Response) -> Value {
        let score = crate::score_without_models(metric, sample, response, "m");
        assert!(score.cause.is_none(), "{:?}", score.cause);
        score.details["chosen"].clone()
    }

    #[test]
    fn acc_acc_norm_and_acc_bytes_can_each_pick_a_different_choice() {
        // Lengths after the delimiter: 1, 2, 2 characters; 1, 4, 6 bytes.
        let sample = fields(serde_json::json!({"choices": [" a", " éé", " 日本"], "answer": 1}));
        // Totals: -1 wins; per character: -0.9 wins; per byte: -2.4/6 = -0.4 wins.
        let response = scored(&[-1.0, -1.8, -2.4]);
        for (normalize, name, pick) in [
            (ChoiceNormalize::None, "acc", 0),
            (ChoiceNormalize::Chars, "acc_norm", 1),
            (ChoiceNormalize::Bytes, "acc_bytes", 2),
        ] {
            let metric = metric(normalize, None);
            assert_eq!(metric.name(), name);
            assert_eq!(chosen(&metric, &sample, &response), pick, "{name}");
            let passed = crate::score_without_models(&metric, &sample, &response, "m").value;
            assert_eq!(passed, f64::from(u8::from(pick == 1)), "{name}");
        }
    }

    #[test]
    fn the_target_delimiter_is_not_counted() {
        // Counting the leading space: -2.1/2 beats -6/4; lm-evaluation-harness does not count it
        // with its default delimiter " ", so -6/3 beats -2.1/1.
        let sample = fields(serde_json::json!({"choices": [" a", " bcd"], "answer": 1}));
        let response = scored(&[-2.1, -6.0]);
        assert_eq!(chosen(&metric(ChoiceNormalize::Chars, None), &sample, &response), 1);
        assert_eq!(chosen(&metric(ChoiceNormalize::Bytes, None), &sample, &response), 1);
        // A task whose delimiter is "" counts the space the choices carry.
        assert_eq!(chosen(&metric(ChoiceNormalize::Chars, Some("")), &sample, &response), 0);
        // A choice that does not start with the delimiter is counted whole.
        let no_space = fields(serde_json::json!({"choices": ["a", "bcd"], "answer": 1}));
        assert_eq!(chosen(&metric(ChoiceNormalize::Chars, None), &no_space, &response), 1);
        // Only one delimiter is removed: lm-evaluation-harness's " ab" and " c" count 3 and 2
        // (-3/3 loses to -1.9/2), where stripping every space would count 2 and 1 (-1.5 wins).
        let doubled = fields(serde_json::json!({"choices": ["  ab", "  c"], "answer": 1}));
        let response = scored(&[-3.0, -1.9]);
        assert_eq!(chosen(&metric(ChoiceNormalize::Chars, None), &doubled, &response), 1);
    }

    #[test]
    fn a_choice_with_nothing_to_count_is_invalid() {
        let sample = fields(serde_json::json!({"choices": [" ", " b"], "answer": 1}));
        let response = scored(&[-1.0, -2.0]);
        let score = crate::score_without_models(&metric(ChoiceNormalize::Chars, None), &sample, &response, "m");
        assert!(score.value.is_nan() && score.cause.unwrap().contains("no characters besides"));
        // Without normalisation there is nothing to divide, and the choice is fine.
        assert_eq!(chosen(&metric(ChoiceNormalize::None, None), &sample, &response), 0);
    }

    #[test]
    fn normalize_reads_none_chars_and_bytes() {
        for (text, normalize) in
            [("none", ChoiceNormalize::None), ("chars", ChoiceNormalize::Chars), ("bytes", ChoiceNormalize::Bytes)]
        {
            let config: MultipleChoiceConfig = toml::from_str(&format!("normalize = \"{text}\"")).unwrap();
            assert_eq!(config.normalize, normalize);
        }
    }

    #[test]
    fn answers_may_be_indices_or_choice_texts() {
        let metric = MultipleChoice::new(MultipleChoiceConfig::default());
        let response = scored(&[-1.0, -3.0]);
        for answer in [serde_json::json!(0), serde_json::json!("0"), serde_json::json!("x")] {
            let sample = fields(serde_json::json!({"choices": ["x", "y"], "answer": answer}));
            assert_eq!(crate::score_without_models(&metric, &sample, &response, "m").value, 1.0);
        }
        let sample = fields(serde_json::json!({"choices": ["x", "y"], "answer": 5}));
        let score = crate::score_without_models(&metric, &sample, &response, "m");
        assert!(score.value.is_nan() && score.cause.unwrap().contains("neither"));
    }

    #[test]
    fn the_request_carries_the_choices() {
        let metric = MultipleChoice::new(MultipleChoiceConfig::default());
        let sample = fields(serde_json::json!({"choices": [" yes", " no"], "answer": 0}));
        assert_eq!(
            metric.scoring(&sample).unwrap().unwrap(),
            ScoreSpec::Choices { choices: vec![" yes".into(), " no".into()] }
        );
        let bad = fields(serde_json::json!({"choices": "yes", "answer": 0}));
        assert!(metric.scoring(&bad).unwrap().unwrap_err().contains("array of strings"));
    }
}
