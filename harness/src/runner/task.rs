//! One task from request to [`Record`]: the variant's answer through the model
//! caller, then the scoring stage.

use std::sync::Arc;

use evalkit_metrics::Metric;
use evalkit_model_api::CallError;
use evalkit_record::journal::{Outcome, Record, RECORD_VERSION};

use crate::caller::Caller;
use crate::dataset::Dataset;
use crate::plan::Task;
use crate::scoring::score_response;

/// Everything tasks share, built once per run.
pub struct Shared {
    /// The evaluated dataset.
    pub dataset: Arc<Dataset>,
    /// Per variant: name, backend name, model name.
    pub variants: Vec<VariantRuntime>,
    /// Scoring functions, in suite order.
    pub metrics: Vec<Arc<dyn Metric>>,
    /// The one way to call a model, for answers and for metrics alike.
    pub caller: Arc<Caller>,
    /// Field holding the reference answer.
    pub reference_field: String,
    /// Field naming the sample's cluster.
    pub cluster_field: Option<String>,
}

/// A variant ready to run.
pub struct VariantRuntime {
    /// Variant name.
    pub name: String,
    /// The suite name of its backend.
    pub backend: String,
    /// Model name, for prices.
    pub model: String,
}

/// Run one task to its record. Never fails: errors become error records.
pub async fn run(shared: Arc<Shared>, task: Task) -> Record {
    let variant = &shared.variants[task.variant];
    let sample = &shared.dataset.samples[task.sample];
    let answer = shared.caller.answer(&variant.backend, &task.request, &task.request_hash).await;
    let (outcome, scores) = match answer.result {
        Ok(response) => {
            let scores =
                score_response(&shared.metrics, &sample.fields, &response, &variant.model, shared.caller.as_ref())
                    .await;
            (Outcome::Response(response), scores)
        }
        Err(error) => (Outcome::Error(CallError::from(&error)), Default::default()),
    };
    Record {
        v: RECORD_VERSION,
        variant: variant.name.clone(),
        sample: sample.id.clone(),
        repeat: task.repeat,
        request_hash: task.request_hash.clone(),
        prompt: task.request.prompt.clone(),
        reference: sample.fields.get(&shared.reference_field).cloned(),
        cluster: shared.cluster_field.as_ref().and_then(|f| sample.fields.get(f)).map(crate::dataset::value_text),
        outcome,
        scores,
        attempts: answer.attempts,
        cached: answer.cached,
        finished_at: crate::clock::now_rfc3339(),
    }
}
