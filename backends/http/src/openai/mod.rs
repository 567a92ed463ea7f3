//! A client for OpenAI-compatible chat-completions endpoints.
//!
//! Works with anything that speaks `POST {base_url}/chat/completions` (and
//! `/completions` for plain-text prompts): OpenAI, vLLM, llama.cpp's server,
//! Ollama, LiteLLM. Streaming (server-sent events) is the default because it is
//! the only way to measure time to first token and inter-token latency.

mod wire;

use std::time::{Duration, Instant};

use evalkit_model_api::{
    Backend, BackendError, BackendIdentity, BoxFuture, Capabilities, GenRequest, Prompt, Response, Timing,
};
use futures_util::StreamExt;

use crate::{classify, sse};

/// How to reach one OpenAI-compatible endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Base URL including the API version, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Model name sent in every request.
    pub model: String,
    /// Bearer token, read by the caller from the environment. Never logged.
    pub api_key: Option<String>,
    /// Extra request headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Limit for one whole request, from sending to the last byte.
    pub timeout: Duration,
    /// Stream the answer (measures time to first token); otherwise one JSON body.
    pub stream: bool,
}

/// An OpenAI-compatible backend. Cheap to share: one connection pool per backend.
pub struct OpenAiBackend {
    client: reqwest::Client,
    config: OpenAiConfig,
}

impl OpenAiBackend {
    /// Build a backend. Fails only if a header name or value is invalid.
    pub fn new(config: OpenAiConfig) -> Result<Self, BackendError> {
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &config.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| BackendError::Fatal { message: format!("invalid header name `{name}`: {e}") })?;
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| BackendError::Fatal { message: format!("invalid value for header `{name}`") })?;
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(classify::same_origin_redirects())
            .connect_timeout(config.timeout.min(Duration::from_secs(30)))
            .build()
            .map_err(|e| BackendError::Fatal { message: format!("cannot build HTTP client: {e}") })?;
        Ok(OpenAiBackend { client, config })
    }

    fn url(&self, prompt: &Prompt) -> String {
        let base = self.config.base_url.trim_end_matches('/');
        match prompt {
            Prompt::Chat(_) => format!("{base}/chat/completions"),
            Prompt::Completion(_) => format!("{base}/completions"),
        }
    }

    async fn send(&self, request: &GenRequest) -> Result<Response, BackendError> {
        let url = self.url(&request.prompt);
        let body = wire::request_body(&self.config.model, request, self.config.stream);
        let mut builder = self.client.post(&url).json(&body);
        if let Some(key) = &self.config.api_key {
            builder = builder.bearer_auth(key);
        }
        let started = Instant::now();
        let response = builder.send().await.map_err(|e| classify::transport_error(&url, &e))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = classify::retry_after(response.headers());
            let text = response.text().await.unwrap_or_default();
            return Err(classify::status_error(&url, status, retry_after, &text));
        }
        if self.config.stream {
            self.read_stream(response, started).await
        } else {
            let bytes = response.bytes().await.map_err(|e| classify::transport_error(&url, &e))?;
            let e2e = started.elapsed();
            let mut parsed = wire::parse_completion(&bytes)?;
            parsed.timing = Timing { e2e_seconds: e2e.as_secs_f64(), ..Timing::default() };
            Ok(parsed)
        }
    }

    async fn read_stream(&self, response: reqwest::Response, started: Instant) -> Result<Response, BackendError> {
        let mut body = response.bytes_stream();
        let mut events = sse::EventBuffer::default();
        let mut answer = wire::StreamAccumulator::default();
        let mut first_text: Option<Instant> = None;
        let mut last_text: Option<Instant> = None;
        let mut text_chunks: u32 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| BackendError::Transient {
                message: format!("connection failed mid-stream after {text_chunks} chunks: {e}"),
            })?;
            for data in events.push(&chunk) {
                if data == "[DONE]" {
                    answer.done = true;
                    continue;
                }
                if answer.push(&data)? {
                    let now = Instant::now();
                    first_text.get_or_insert(now);
                    last_text = Some(now);
                    text_chunks += 1;
                }
            }
        }
        let e2e = started.elapsed();
        if !answer.done && answer.finish_reason.is_none() {
            return Err(BackendError::Transient {
                message: format!(
                    "stream ended before the answer was complete (after {text_chunks} chunks, no `[DONE]`)"
                ),
            });
        }
        let ttft = first_text.map(|t| t.duration_since(started).as_secs_f64());
        let inter_token = match (first_text, last_text) {
            (Some(first), Some(last)) if text_chunks >= 2 => {
                Some(last.duration_since(first).as_secs_f64() / f64::from(text_chunks - 1))
            }
            _ => None,
        };
        let timing = Timing { e2e_seconds: e2e.as_secs_f64(), ttft_seconds: ttft, inter_token_seconds: inter_token };
        Ok(answer.finish(timing))
    }
}

impl Backend for OpenAiBackend {
    fn identity(&self) -> BackendIdentity {
        BackendIdentity {
            kind: "openai".to_owned(),
            endpoint: self.config.base_url.trim_end_matches('/').to_owned(),
            model: self.config.model.clone(),
            settings: Default::default(),
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { streaming: self.config.stream, ..Capabilities::default() }
    }

    fn generate<'a>(&'a self, request: &'a GenRequest) -> BoxFuture<'a, Result<Response, BackendError>> {
        Box::pin(async move {
            // One deadline for the whole exchange: a server that trickles a
            // stream forever must not hold a task past the timeout.
            match tokio::time::timeout(self.config.timeout, self.send(request)).await {
                Ok(result) => result,
                Err(_) => Err(BackendError::Timeout { after: self.config.timeout }),
            }
        })
    }
}
