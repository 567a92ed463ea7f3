//! One task from request to [`Record`]: the request rendered, the variant's
//! answer through the model caller, then the scoring stage.

use std::sync::Arc;

use evalkit_metrics::Metric;
use evalkit_model_api::{BackendIdentity, CallError, Prompt};
use evalkit_record::journal::{Outcome, Record, RECORD_VERSION};

use crate::caller::{request_hash, Caller};
use crate::dataset::Dataset;
use crate::plan::{self, Task};
use crate::prepare::Prepared;
use crate::scoring::score_response;

/// Everything tasks share, built once per run.
pub struct Shared {
    /// The suite and every dataset it names.
    pub prepared: Arc<Prepared>,
    /// Per variant: name, backend name, model name, backend identity.
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

impl Shared {
    /// The evaluated dataset.
    pub fn dataset(&self) -> &Dataset {
        self.prepared.evaluated()
    }
}

/// A variant ready to run.
pub struct VariantRuntime {
    /// Variant name.
    pub name: String,
    /// The suite name of its backend.
    pub backend: String,
    /// Model name, for prices.
    pub model: String,
    /// What identifies its backend, for cache keys.
    pub identity: BackendIdentity,
}

/// Run one task to its record. Never fails: errors become error records.
/// `None` when the run stopped before the task asked its model.
pub async fn run(shared: Arc<Shared>, task: Task) -> Option<Record> {
    let variant = &shared.variants[task.variant];
    let sample = &shared.dataset().samples[task.sample];
    let record = |prompt, request_hash, outcome, scores, attempts, cached| Record {
        v: RECORD_VERSION,
        variant: variant.name.clone(),
        sample: sample.id.clone(),
        repeat: task.repeat,
        request_hash,
        prompt,
        reference: sample.fields.get(&shared.reference_field).cloned(),
        cluster: shared.cluster_field.as_ref().and_then(|f| sample.fields.get(f)).map(crate::dataset::value_text),
        outcome,
        scores,
        attempts,
        cached,
        finished_at: crate::clock::now_rfc3339(),
    };
    // Planning rendered every prompt once already; a failure here would be a
    // bug, and it becomes an error record rather than a lost task.
    let request = match plan::request(&shared.prepared.suite, &shared.prepared.datasets, &task) {
        Ok(request) => request,
        Err(message) => {
            let outcome = Outcome::Error(CallError { kind: "prompt".to_owned(), message });
            return Some(record(
                Prompt::Completion(String::new()),
                String::new(),
                outcome,
                Default::default(),
                0,
                false,
            ));
        }
    };
    let hash = request_hash(&variant.identity, &request, task.repeat);
    let answer = shared.caller.answer(&variant.backend, &request, &hash).await;
    if answer.stopped {
        return None;
    }
    let (outcome, scores) = match answer.result {
        Ok(response) => {
            let scores =
                score_response(&shared.metrics, &sample.fields, &response, &variant.model, shared.caller.as_ref())
                    .await;
            (Outcome::Response(response), scores)
        }
        Err(error) => (Outcome::Error(CallError::from(&error)), Default::default()),
    };
    Some(record(request.prompt, hash, outcome, scores, answer.attempts, answer.cached))
}
