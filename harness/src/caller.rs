//! The model caller: the one way evalkit calls a model.
//!
//! ```text
//! request ─▶ cache? ──hit──────────────────────────────────────────▶ response
//!              │ miss
//!              ▼
//!           concurrency permit ─▶ Backend::generate (one attempt) ─▶ ok: cache it ─▶ response
//!              ▲                                │ error
//!              └──── backoff (Retry-After) ◀── retry policy ── give up ─▶ error
//! ```
//!
//! The runner calls it for each variant's answer; metrics call it, through
//! [`evalkit_metrics::ScoreContext::call`], for their own model calls (a judge),
//! so both get the same cache, retries, per-backend concurrency limit and
//! usage accounting. A backend's permit is held only while a request is in
//! flight, never during backoff.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use evalkit_model_api::{
    Backend, BackendError, BackendIdentity, BoxFuture, CallError, Capabilities, GenRequest, ModelCall, ModelCaller,
    Outcome, Response,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::{watch, Semaphore};

use crate::cache::ResponseCache;
use crate::redact::Redactor;
use crate::runner::retry::{Jitter, Retry, RetryPolicy};

/// One connected backend as the caller holds it.
pub struct CallTarget {
    /// The backend.
    pub backend: Arc<dyn Backend>,
    /// Its `max_concurrency` requests in flight, shared by everyone calling it.
    pub limit: Arc<Semaphore>,
    /// What identifies it, for cache keys.
    pub identity: BackendIdentity,
}

/// What one call came to.
#[derive(Debug)]
pub struct Answer {
    /// The response, or the last error.
    pub result: Result<Response, BackendError>,
    /// Requests sent; 0 when the cache answered.
    pub attempts: u32,
    /// Whether the cache answered.
    pub cached: bool,
    /// Whether the call gave up before asking because the run is stopping
    /// ([`Caller::stop`]): nothing to record, the task runs again on resume.
    pub stopped: bool,
}

/// Requests, attempts and tokens per backend, over this session.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Calls made.
    pub calls: u64,
    /// Calls the cache answered.
    pub cached: u64,
    /// Requests sent (retries included).
    pub attempts: u64,
    /// Calls whose every attempt failed.
    pub failed: u64,
    /// Prompt tokens of uncached answers.
    pub input_tokens: u64,
    /// Generated tokens of uncached answers.
    pub output_tokens: u64,
}

/// The model caller of one run.
pub struct Caller {
    targets: BTreeMap<String, CallTarget>,
    cache: Option<ResponseCache>,
    retry: RetryPolicy,
    redactor: Redactor,
    usage: Mutex<BTreeMap<String, Usage>>,
    stop: watch::Sender<bool>,
    cache_warned: AtomicBool,
}

impl Caller {
    /// A caller over the connected backends, by suite name.
    pub fn new(targets: BTreeMap<String, CallTarget>, cache: Option<ResponseCache>, retry: RetryPolicy) -> Self {
        Caller {
            targets,
            cache,
            retry,
            redactor: Redactor::default(),
            usage: Mutex::new(BTreeMap::new()),
            stop: watch::Sender::new(false),
            cache_warned: AtomicBool::new(false),
        }
    }

    /// Remove these secrets from every answer and error message before
    /// anyone (cache, journal, terminal) sees it.
    pub fn with_redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// The backend named `name`, if connected.
    pub fn target(&self, name: &str) -> Option<&CallTarget> {
        self.targets.get(name)
    }

    /// Every connected backend, by name.
    pub fn targets(&self) -> &BTreeMap<String, CallTarget> {
        &self.targets
    }

    /// What each backend was asked this session.
    pub fn usage(&self) -> BTreeMap<String, Usage> {
        self.usage.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// A variant's answer: call backend `name` with `request`, whose cache
    /// key is `request_hash`. Gives up unasked once the run is stopping.
    pub async fn answer(&self, name: &str, request: &GenRequest, request_hash: &str) -> Answer {
        self.answer_unless_stopped(name, request, request_hash, true).await
    }

    async fn answer_unless_stopped(
        &self,
        name: &str,
        request: &GenRequest,
        request_hash: &str,
        stoppable: bool,
    ) -> Answer {
        let Some(target) = self.targets.get(name) else {
            let message = format!("the suite defines no backend `{name}`");
            return Answer { result: Err(BackendError::Fatal { message }), attempts: 0, cached: false, stopped: false };
        };
        let answer = self.answer_from(target, request, request_hash, stoppable).await;
        if !answer.stopped {
            self.count(name, &answer);
        }
        answer
    }

    async fn answer_from(
        &self,
        target: &CallTarget,
        request: &GenRequest,
        request_hash: &str,
        stoppable: bool,
    ) -> Answer {
        if let Some(response) = self.cache.as_ref().and_then(|cache| cache.get(request_hash)) {
            return Answer { result: Ok(response), attempts: 0, cached: true, stopped: false };
        }
        let stopped = |attempts| Answer {
            result: Err(BackendError::Transient { message: "the run is stopping".to_owned() }),
            attempts,
            cached: false,
            stopped: true,
        };
        let mut jitter = Jitter::new(request_hash);
        let mut attempts = 0;
        loop {
            let result = {
                // Held only while the request is in flight, not while backing off.
                let _permit = tokio::select! {
                    biased;
                    () = self.stopping(), if stoppable => return stopped(attempts),
                    permit = target.limit.acquire() => permit,
                };
                attempts += 1;
                target.backend.generate(request).await
            };
            let error = match result {
                Ok(mut response) => {
                    response.text = self.redactor.redact_owned(response.text);
                    self.store(request_hash, &response);
                    return Answer { result: Ok(response), attempts, cached: false, stopped: false };
                }
                Err(error) => error.map_message(|m| self.redactor.redact_owned(m)),
            };
            let error = match self.retry.next(attempts, &error, jitter.next_unit()) {
                Retry::After(delay) => {
                    tokio::select! {
                        () = tokio::time::sleep(delay) => continue,
                        () = self.stopping(), if stoppable => return stopped(attempts),
                    }
                }
                Retry::GiveUp => error,
                Retry::WaitTooLong { asked } => error.map_message(|m| {
                    format!(
                        "{m}; the server asked to retry after {:.0}s, longer than `max_retry_after` ({:.0}s), so \
                         evalkit did not wait: raise `[run] max_retry_after`, or `--resume` later",
                        asked.as_secs_f64(),
                        self.retry.max_retry_after.as_secs_f64()
                    )
                }),
            };
            return Answer { result: Err(error), attempts, cached: false, stopped: false };
        }
    }

    /// Cache a response. A cache that cannot be written (a full disk, a
    /// read-only folder) costs speed on the next run, not this run's
    /// results: it is said once, not once per task.
    fn store(&self, request_hash: &str, response: &Response) {
        let Some(cache) = &self.cache else { return };
        if let Err(error) = cache.put(request_hash, response) {
            if !self.cache_warned.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "warning: cannot write the response cache ({error}); the run goes on without caching new answers"
                );
            }
        }
    }

    /// Ask every answer not yet sent to give up: requests in flight finish,
    /// backoffs and waits for a concurrency permit end at once.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Resolves once [`Caller::stop`] was called.
    async fn stopping(&self) {
        let mut stop = self.stop.subscribe();
        // The sender lives as long as `self`, so this cannot fail while awaited.
        let _ = stop.wait_for(|stopping| *stopping).await;
    }

    fn count(&self, name: &str, answer: &Answer) {
        let mut usage = self.usage.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = usage.entry(name.to_owned()).or_default();
        entry.calls += 1;
        entry.attempts += u64::from(answer.attempts);
        match &answer.result {
            Ok(_) if answer.cached => entry.cached += 1,
            Ok(response) => {
                entry.input_tokens += response.usage.input_tokens;
                entry.output_tokens += response.usage.output_tokens;
            }
            Err(_) => entry.failed += 1,
        }
    }
}

impl ModelCaller for Caller {
    fn call<'a>(&'a self, backend: &'a str, request: GenRequest) -> BoxFuture<'a, ModelCall> {
        Box::pin(async move {
            let Some(target) = self.targets.get(backend) else {
                return ModelCall {
                    backend: backend.to_owned(),
                    request,
                    request_hash: String::new(),
                    attempts: 0,
                    cached: false,
                    outcome: Outcome::Error(CallError {
                        kind: "unknown_backend".to_owned(),
                        message: format!("the suite defines no backend `{backend}`"),
                    }),
                };
            };
            // A metric's calls are keyed like a first repeat: the same judge
            // prompt to the same backend is answered once, then from the cache.
            let request_hash = request_hash(&target.identity, &request, 0);
            // A metric scores an answer already paid for: its calls finish
            // even while the run stops, so the record is complete.
            let answer = self.answer_unless_stopped(backend, &request, &request_hash, false).await;
            ModelCall {
                backend: backend.to_owned(),
                request,
                request_hash,
                attempts: answer.attempts,
                cached: answer.cached,
                outcome: match answer.result {
                    Ok(response) => Outcome::Response(response),
                    Err(error) => Outcome::Error(CallError::from(&error)),
                },
            }
        })
    }

    fn capabilities(&self, backend: &str) -> Option<Capabilities> {
        self.targets.get(backend).map(|target| target.backend.capabilities())
    }
}

/// The response-cache key: sha256 over the backend identity, the full request
/// and the repeat index.
///
/// Streaming is left out on purpose: it changes how an answer is delivered,
/// not what it is.
pub fn request_hash(identity: &BackendIdentity, request: &GenRequest, repeat: u32) -> String {
    let key = json!({ "v": 1, "backend": identity, "request": request, "repeat": repeat });
    hex::encode(Sha256::digest(key.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use evalkit_model_api::{GenParams, Message, Prompt};

    use super::*;

    #[test]
    fn hash_changes_with_anything_that_changes_the_answer() {
        let identity = BackendIdentity {
            kind: "openai".into(),
            endpoint: "http://a/v1".into(),
            model: "m".into(),
            settings: Default::default(),
        };
        let request = GenRequest {
            prompt: Prompt::Chat(vec![Message { role: "user".into(), content: "hi".into() }]),
            params: GenParams::default(),
            score: None,
        };
        let base = request_hash(&identity, &request, 0);
        assert_eq!(base, request_hash(&identity, &request, 0));
        assert_ne!(base, request_hash(&identity, &request, 1));
        let mut other = request.clone();
        other.params.temperature = Some(0.5);
        assert_ne!(base, request_hash(&identity, &other, 0));
        let moved = BackendIdentity { endpoint: "http://b/v1".into(), ..identity.clone() };
        assert_ne!(base, request_hash(&moved, &request, 0));
        let mut other_device = identity.clone();
        other_device.settings.insert("device".into(), "cuda:0".into());
        assert_ne!(base, request_hash(&other_device, &request, 0));
    }
}
