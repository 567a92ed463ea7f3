//! `multiple_choice`: pick the choice the model finds most likely, as
//! lm-evaluation-harness does (`acc`, and `acc_norm` with length normalisation).

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
/// name = "acc_norm"
/// normalize = "bytes"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultipleChoiceConfig {
    /// Name the results are reported under, unique within the suite.
    /// Type: string. Default: `"acc"` (`"acc_norm"` with `normalize = "bytes"`). Example:
    /// `name = "acc"`.
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
    /// `none` compares total log-likelihoods (`acc`); `bytes` divides each by the choice's UTF-8
    /// length (`acc_norm`).
    /// Type: `"none"` or `"bytes"`. Default: `"none"`. Example: `normalize = "bytes"`.
    pub normalize: ChoiceNormalize,
}

/// How choice log-likelihoods are compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChoiceNormalize {
    /// Total log-likelihood.
    #[default]
    None,
    /// Log-likelihood per byte of the choice.
    Bytes,
}

/// The `multiple_choice` metric. Details: `chosen`, `answer`, `logliks`.
#[derive(Debug, Clone)]
pub struct MultipleChoice {
    name: String,
    choices_field: String,
    answer_field: String,
    normalize: ChoiceNormalize,
}

impl MultipleChoice {
    /// From its settings.
    pub fn new(config: MultipleChoiceConfig) -> Self {
        let default_name = match config.normalize {
            ChoiceNormalize::None => "acc",
            ChoiceNormalize::Bytes => "acc_norm",
        };
        MultipleChoice {
            name: config.name.unwrap_or_else(|| default_name.to_owned()),
            choices_field: config.choices.unwrap_or_else(|| "choices".to_owned()),
            answer_field: config.answer.unwrap_or_else(|| "answer".to_owned()),
            normalize: config.normalize,
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
        let key = |i: usize| match self.normalize {
            ChoiceNormalize::None => scores[i].loglik,
            ChoiceNormalize::Bytes => scores[i].loglik / scores[i].bytes.max(1) as f64,
        };
        // The first of equally likely choices wins, as in lm-evaluation-harness (numpy argmax).
        let chosen = (0..scores.len()).fold(0, |best, i| if key(i) > key(best) { i } else { best });
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

    fn scored(logliks: &[(f64, u64)]) -> evalkit_model_api::Response {
        let mut response = crate::testing::response("");
        response.scored = Some(Scored::Choices(
            logliks.iter().map(|&(loglik, bytes)| ChoiceScore { loglik, tokens: 1, bytes, greedy: false }).collect(),
        ));
        response
    }

    #[test]
    fn acc_and_acc_norm_can_disagree() {
        let sample = fields(serde_json::json!({"choices": [" a", " a much longer one"], "answer": 1}));
        // Total: -2 beats -6; per byte: -6/18 beats -2/2.
        let response = scored(&[(-2.0, 2), (-6.0, 18)]);
        let acc = MultipleChoice::new(MultipleChoiceConfig::default());
        let acc_norm =
            MultipleChoice::new(MultipleChoiceConfig { normalize: ChoiceNormalize::Bytes, ..Default::default() });
        assert_eq!(crate::score_without_models(&acc, &sample, &response, "m").value, 0.0);
        assert_eq!(crate::score_without_models(&acc_norm, &sample, &response, "m").value, 1.0);
        assert_eq!(acc_norm.name(), "acc_norm");
    }

    #[test]
    fn answers_may_be_indices_or_choice_texts() {
        let metric = MultipleChoice::new(MultipleChoiceConfig::default());
        let response = scored(&[(-1.0, 1), (-3.0, 1)]);
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
