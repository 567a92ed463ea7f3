//! `agreement`: whether a variant gives the same answer as a reference
//! variant to the same sample. For a quantized model or a LoRA adapter compared
//! with its full-precision base, the share of answers that *flip* can be large
//! even when accuracy barely moves (Dutta et al., "Accuracy is Not All You
//! Need", 2024); this metric counts them, sample by sample.

use serde::{Deserialize, Serialize};

use crate::normalize::Normalize;
use crate::{ready, BoxFuture, Direction, Metric, PairContext, PairedMetric, Scale, Score, ScoreContext};

/// Settings for `kind = "agreement"`: 1 when a variant's output equals the
/// reference variant's output to the same sample and repeat, after
/// normalisation; else 0. The reference variant itself is not scored.
///
/// ```toml
/// [[metrics]]
/// kind = "agreement"
/// reference_variant = "f16"
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementConfig {
    /// Name the results are reported under, unique within the suite.
    /// Type: string. Default: `"agreement"`. Example: `name = "same_as_f16"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The `name` of the `[[variants]]` entry every other variant's answers are compared with. That
    /// variant itself gets no score.
    /// Type: string. Required. Example: `reference_variant = "f16"`.
    pub reference_variant: String,
    /// Normalisation applied to both outputs before comparing. See [`normalize`](#normalize).
    /// Type: table. Default:
    /// `{ case = true, whitespace = true, punctuation = false, articles = false }`. Example:
    /// `normalize = { punctuation = true }`.
    #[serde(default)]
    pub normalize: Normalize,
}

/// The `agreement` metric. Details: `answer` and `reference_answer`, both normalised.
#[derive(Debug, Clone)]
pub struct Agreement {
    name: String,
    reference_variant: String,
    normalize: Normalize,
}

impl Agreement {
    /// An `agreement` metric with these settings.
    pub fn new(config: AgreementConfig) -> Self {
        Agreement {
            name: config.name.unwrap_or_else(|| "agreement".to_owned()),
            reference_variant: config.reference_variant,
            normalize: config.normalize,
        }
    }
}

impl Metric for Agreement {
    fn name(&self) -> &str {
        &self.name
    }

    fn scale(&self) -> Scale {
        Scale::Binary
    }

    fn direction(&self) -> Direction {
        Direction::HigherIsBetter
    }

    fn score<'a>(&'a self, _context: &'a ScoreContext<'a>) -> BoxFuture<'a, Score> {
        // Reached only if a harness forgot the paired stage; say so rather than score 0.
        ready(Score::invalid(format!(
            "`{}` compares with variant `{}` and is scored in the paired stage",
            self.name, self.reference_variant
        )))
    }

    fn paired(&self) -> Option<&dyn PairedMetric> {
        Some(self)
    }
}

impl PairedMetric for Agreement {
    fn reference_variant(&self) -> &str {
        &self.reference_variant
    }

    fn score_pair<'a>(&'a self, context: &'a PairContext<'a>) -> BoxFuture<'a, Score> {
        let answer = self.normalize.apply(&context.response.text);
        let reference = self.normalize.apply(&context.reference.text);
        ready(
            Score::pass(answer == reference)
                .with_text_detail("answer", &answer)
                .with_text_detail("reference_answer", &reference),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::testing::{fields, response};

    fn agree(metric: &Agreement, answer: &str, reference: &str) -> Score {
        let sample = fields(serde_json::json!({}));
        let (response, reference) = (response(answer), response(reference));
        let context = PairContext { fields: &sample, response: &response, reference: &reference };
        let mut future = metric.score_pair(&context);
        match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(score) => score,
            Poll::Pending => panic!("agreement never waits"),
        }
    }

    #[test]
    fn equal_answers_after_normalisation_agree() {
        let metric = Agreement::new(AgreementConfig {
            name: None,
            reference_variant: "f16".into(),
            normalize: Normalize::default(),
        });
        assert_eq!(agree(&metric, " Paris ", "paris").value, 1.0);
        let flipped = agree(&metric, "Lyon", "Paris");
        assert_eq!(flipped.value, 0.0);
        assert_eq!(flipped.details["reference_answer"], "paris");
        assert_eq!(metric.paired().map(PairedMetric::reference_variant), Some("f16"));
    }
}
