//! The scoring stages: a response in, one [`ScoreEntry`] per metric out.
//!
//! - [`score_response`]: every metric that scores a response on its own.
//!   Async, because a metric may call a model (a judge) through the caller
//!   in its [`ScoreContext`]; those calls are kept in the entry.
//! - [`score_pairs`]: per sample and repeat, once every variant has answered,
//!   the metrics that compare a variant's response with their reference
//!   variant's ([`evalkit_metrics::PairedMetric`]).
//!
//! A metric never loses a task: a score it cannot compute, a non-finite
//! value and even a panic inside the metric become an invalid score with
//! its cause.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use evalkit_metrics::{Fields, Metric, PairContext, Score, ScoreContext};
use evalkit_model_api::{ModelCaller, Response};
use evalkit_record::journal::{Record, ScoreEntry};
use futures_util::FutureExt;

/// Score `response` with every metric that needs no other variant's answer.
pub async fn score_response(
    metrics: &[Arc<dyn Metric>],
    fields: &Fields,
    response: &Response,
    model: &str,
    caller: &dyn ModelCaller,
) -> BTreeMap<String, ScoreEntry> {
    let mut scores = BTreeMap::new();
    for metric in metrics.iter().filter(|m| m.paired().is_none()) {
        let context = ScoreContext::new(fields, response, model, caller);
        let score = AssertUnwindSafe(metric.score(&context)).catch_unwind().await;
        let calls = context.into_calls();
        let mut entry = entry(metric.as_ref(), score);
        entry.calls = calls;
        scores.insert(metric.name().to_owned(), entry);
    }
    scores
}

/// The paired metrics' scores for the records of one sample and repeat, added
/// to each record that is not its metric's reference variant.
///
/// `reference_of(variant)` finds the reference variant's response among the
/// records of this group or, when resuming, those already in the journal.
pub async fn score_pairs<'r>(
    metrics: &[Arc<dyn Metric>],
    fields: &Fields,
    records: &mut [Record],
    reference_of: impl Fn(&str) -> Option<&'r Response>,
) {
    for metric in metrics {
        let Some(paired) = metric.paired() else { continue };
        let reference_variant = paired.reference_variant();
        let in_group = records.iter().find(|r| r.variant == reference_variant).and_then(|r| r.response().cloned());
        let reference = in_group.or_else(|| reference_of(reference_variant).cloned());
        for record in records.iter_mut().filter(|r| r.variant != reference_variant) {
            let Some(response) = record.response() else { continue };
            let score = match &reference {
                Some(reference) => {
                    let context = PairContext { fields, response, reference };
                    AssertUnwindSafe(paired.score_pair(&context)).catch_unwind().await
                }
                None => Ok(Score::invalid(format!(
                    "reference variant `{reference_variant}` has no answer to this sample (its request failed)"
                ))),
            };
            let entry = entry(metric.as_ref(), score);
            record.scores.insert(metric.name().to_owned(), entry);
        }
    }
}

/// A metric's result as a journal entry: a non-finite value or a panic
/// becomes an invalid score that says why.
fn entry(metric: &dyn Metric, score: std::thread::Result<Score>) -> ScoreEntry {
    let score = score.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        Score::invalid(format!("metric `{}` failed inside evalkit: {what}", metric.name()))
    });
    let value = score.value.is_finite().then_some(score.value);
    let cause = match (value, score.cause) {
        (None, None) => Some("the metric returned a non-finite value".to_owned()),
        (_, cause) => cause,
    };
    ScoreEntry { value, cause, details: score.details, calls: Vec::new() }
}
