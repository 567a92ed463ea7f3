//! One task from request to [`Record`]: cache, attempts, scoring.

use std::sync::Arc;

use evalkit_backends::{Backend, BackendError, Response};
use evalkit_metrics::{Metric, ScoreInput};
use evalkit_reports::record::{ErrorEntry, Outcome, Record, ResponseEntry, ScoreEntry};
use tokio::sync::Semaphore;

use super::retry::{Jitter, RetryPolicy};
use crate::cache::ResponseCache;
use crate::dataset::Dataset;
use crate::plan::Task;

/// Everything tasks share, built once per run.
pub struct Shared {
    /// The evaluated dataset.
    pub dataset: Arc<Dataset>,
    /// Per variant: name, backend, its concurrency limit, model name.
    pub variants: Vec<VariantRuntime>,
    /// Scoring functions.
    pub metrics: Vec<Arc<dyn Metric>>,
    /// Response cache, unless `--no-cache`.
    pub cache: Option<ResponseCache>,
    /// When to retry.
    pub retry: RetryPolicy,
    /// Field holding the reference answer.
    pub reference_field: String,
    /// Field naming the sample's cluster.
    pub cluster_field: Option<String>,
}

/// A variant ready to run.
pub struct VariantRuntime {
    /// Variant name.
    pub name: String,
    /// Its backend (shared by variants naming the same backend).
    pub backend: Arc<dyn Backend>,
    /// The backend's `max_concurrency` (shared likewise).
    pub limit: Arc<Semaphore>,
    /// Model name, for prices.
    pub model: String,
}

/// Run one task to its record. Never fails: errors become error records.
pub async fn run(shared: Arc<Shared>, task: Task) -> Record {
    let variant = &shared.variants[task.variant];
    let sample = &shared.dataset.samples[task.sample];
    let (outcome, attempts, cached) = answer(&shared, variant, &task).await;
    let scores = match &outcome {
        Ok(response) => score(&shared.metrics, &sample.fields, response, &variant.model),
        Err(_) => Default::default(),
    };
    Record {
        variant: variant.name.clone(),
        sample: sample.id.clone(),
        repeat: task.repeat,
        request_hash: task.request_hash.clone(),
        prompt: task.request.prompt.display_text(),
        reference: sample.fields.get(&shared.reference_field).cloned(),
        cluster: shared.cluster_field.as_ref().and_then(|f| sample.fields.get(f)).map(crate::dataset::value_text),
        outcome: match outcome {
            Ok(response) => Outcome::Response(response_entry(response)),
            Err(error) => Outcome::Error(ErrorEntry { kind: error.kind().to_owned(), message: error.to_string() }),
        },
        scores,
        attempts,
        cached,
        finished_at: crate::clock::now_rfc3339(),
    }
}

/// The response (from cache or backend), attempts made, and whether it was cached.
async fn answer(shared: &Shared, variant: &VariantRuntime, task: &Task) -> (Result<Response, BackendError>, u32, bool) {
    if let Some(cache) = &shared.cache {
        if let Some(response) = cache.get(&task.request_hash) {
            return (Ok(response), 0, true);
        }
    }
    let mut jitter = Jitter::new(&task.request_hash);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = {
            // Held only while the request is in flight, not while backing off.
            let _permit = variant.limit.acquire().await;
            variant.backend.generate(&task.request).await
        };
        match result {
            Ok(response) => {
                if let Some(cache) = &shared.cache {
                    if let Err(error) = cache.put(&task.request_hash, &response) {
                        eprintln!("warning: cannot write the response cache: {error}");
                    }
                }
                return (Ok(response), attempts, false);
            }
            Err(error) => match shared.retry.next_delay(attempts, &error, jitter.next()) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return (Err(error), attempts, false),
            },
        }
    }
}

fn score(
    metrics: &[Arc<dyn Metric>],
    fields: &evalkit_metrics::Fields,
    response: &Response,
    model: &str,
) -> std::collections::BTreeMap<String, ScoreEntry> {
    let input = ScoreInput { fields, response, model };
    metrics
        .iter()
        .map(|metric| {
            let score = metric.score(&input);
            let value = score.value.is_finite().then_some(score.value);
            let cause = match (value, score.cause) {
                (None, None) => Some("the metric returned a non-finite value".to_owned()),
                (_, cause) => cause,
            };
            (metric.name().to_owned(), ScoreEntry { value, cause, details: score.details })
        })
        .collect()
}

fn response_entry(response: Response) -> ResponseEntry {
    ResponseEntry {
        text: response.text,
        input_tokens: response.usage.input_tokens,
        output_tokens: response.usage.output_tokens,
        cached_input_tokens: response.usage.cached_input_tokens,
        reasoning_tokens: response.usage.reasoning_tokens,
        e2e_seconds: response.timing.e2e_seconds,
        ttft_seconds: response.timing.ttft_seconds,
        inter_token_seconds: response.timing.inter_token_seconds,
        finish_reason: response.finish_reason,
    }
}
