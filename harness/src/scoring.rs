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

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use evalkit_metrics::{BoxFuture, Fields, Metric, PairContext, Score, ScoreContext};
use evalkit_model_api::{ModelCaller, Response};
use evalkit_record::journal::{Record, ScoreEntry, Scores};
use futures_util::FutureExt;

/// Score `response` with every metric that needs no other variant's answer.
pub async fn score_response(
    metrics: &[Arc<dyn Metric>],
    fields: &Fields,
    response: &Response,
    model: &str,
    caller: &dyn ModelCaller,
) -> Scores {
    let mut scores = Scores::default();
    for metric in metrics.iter().filter(|m| m.paired().is_none()) {
        let context = ScoreContext::new(fields, response, model, caller);
        let score = guarded(|| metric.score(&context)).await;
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
                    guarded(|| paired.score_pair(&context)).await
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

/// Run a metric's scoring future, turning a panic (when the future is made
/// or while it runs) into an error the entry reports.
async fn guarded<'a>(score: impl FnOnce() -> BoxFuture<'a, Score>) -> std::thread::Result<Score> {
    match std::panic::catch_unwind(AssertUnwindSafe(score)) {
        Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
        Err(panic) => Err(panic),
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use evalkit_metrics::{Direction, Scale};
    use evalkit_model_api::{
        Backend, BackendError, BackendIdentity, Capabilities, GenParams, GenRequest, Prompt, Response,
    };
    use tokio::sync::Semaphore;

    use super::*;
    use crate::cache::ResponseCache;
    use crate::caller::{CallTarget, Caller};
    use crate::runner::retry::RetryPolicy;

    /// A judge that fails its first request, then answers "7".
    struct FlakyJudge {
        requests: AtomicU32,
    }

    impl Backend for FlakyJudge {
        fn identity(&self) -> BackendIdentity {
            BackendIdentity {
                kind: "test".into(),
                endpoint: "judge".into(),
                model: "judge-model".into(),
                settings: Default::default(),
            }
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::default()
        }
        fn generate<'a>(&'a self, _request: &'a GenRequest) -> BoxFuture<'a, Result<Response, BackendError>> {
            let n = self.requests.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if n == 0 {
                    Err(BackendError::Transient { message: "busy".into() })
                } else {
                    Ok(Response { text: "7".into(), ..Response::default() })
                }
            })
        }
    }

    /// A metric that asks the `judge` backend for a score out of 10.
    struct JudgeMetric;

    impl Metric for JudgeMetric {
        fn name(&self) -> &str {
            "judged"
        }
        fn scale(&self) -> Scale {
            Scale::Continuous
        }
        fn direction(&self) -> Direction {
            Direction::HigherIsBetter
        }
        fn score<'a>(&'a self, context: &'a ScoreContext<'a>) -> BoxFuture<'a, Score> {
            Box::pin(async move {
                let prompt = Prompt::Completion(format!("Rate: {}", context.response.text));
                let call =
                    context.call("judge", GenRequest { prompt, params: GenParams::default(), score: None }).await;
                match call.response().and_then(|r| r.text.parse::<f64>().ok()) {
                    Some(value) => Score::value(value / 10.0),
                    None => Score::invalid("the judge gave no number"),
                }
            })
        }
    }

    /// A metric that panics.
    struct Broken;

    impl Metric for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn scale(&self) -> Scale {
            Scale::Binary
        }
        fn direction(&self) -> Direction {
            Direction::HigherIsBetter
        }
        fn score<'a>(&'a self, _context: &'a ScoreContext<'a>) -> BoxFuture<'a, Score> {
            panic!("index out of bounds")
        }
    }

    fn caller(judge: Arc<FlakyJudge>, cache: &std::path::Path) -> Caller {
        let target = CallTarget { identity: judge.identity(), backend: judge, limit: Arc::new(Semaphore::new(1)) };
        let retry = RetryPolicy {
            retries: 2,
            initial: Duration::from_millis(1),
            max: Duration::from_millis(2),
            max_retry_after: Duration::from_secs(1),
        };
        Caller::new(BTreeMap::from([("judge".to_owned(), target)]), Some(ResponseCache::new(cache)), retry)
    }

    #[tokio::test]
    async fn a_metrics_model_calls_are_retried_cached_counted_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let judge = Arc::new(FlakyJudge { requests: AtomicU32::new(0) });
        let caller = caller(Arc::clone(&judge), dir.path());
        let metrics: Vec<Arc<dyn Metric>> = vec![Arc::new(JudgeMetric), Arc::new(Broken)];
        let fields = evalkit_metrics::Fields::new();
        let answer = Response { text: "Paris".into(), ..Response::default() };

        let scores = score_response(&metrics, &fields, &answer, "m", &caller).await;
        let judged = &scores["judged"];
        assert_eq!(judged.value, Some(0.7));
        assert_eq!(judged.calls.len(), 1, "the call is kept with the score");
        let call = &judged.calls[0];
        assert_eq!((call.backend.as_str(), call.attempts, call.cached), ("judge", 2, false), "retried once");
        assert_eq!(call.response().map(|r| r.text.as_str()), Some("7"));
        let broken = &scores["broken"];
        assert_eq!(broken.value, None);
        assert!(broken.cause.as_deref().unwrap().contains("index out of bounds"), "{broken:?}");

        // The same judge prompt again: answered from the cache, no request sent.
        let again = score_response(&metrics, &fields, &answer, "m", &caller).await;
        assert!(again["judged"].calls[0].cached, "the second call came from the cache");
        assert_eq!(again["judged"].value, Some(0.7));
        assert_eq!(judge.requests.load(Ordering::SeqCst), 2);
        let usage = caller.usage()["judge"];
        assert_eq!((usage.calls, usage.cached, usage.attempts, usage.failed), (2, 1, 2, 0));
    }
}
