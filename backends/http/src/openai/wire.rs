//! The OpenAI wire format: request bodies and response parsing.

use serde_json::{json, Map, Value};

use evalkit_model_api::{BackendError, GenRequest, Prompt, Response, Timing, TokenLogprob, Usage};

use crate::classify::{error_message, snippet};

/// The JSON body for a request. Unset parameters are left out so the
/// endpoint's own defaults apply.
pub(crate) fn request_body(model: &str, request: &GenRequest, stream: bool) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    match &request.prompt {
        Prompt::Chat(messages) => {
            body.insert("messages".into(), json!(messages));
        }
        Prompt::Completion(text) => {
            body.insert("prompt".into(), json!(text));
        }
    }
    let params = &request.params;
    if let Some(t) = params.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = params.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if let Some(n) = params.max_tokens {
        body.insert("max_tokens".into(), json!(n));
    }
    if let Some(k) = params.top_k {
        body.insert("top_k".into(), json!(k));
    }
    if let Some(penalty) = params.repetition_penalty {
        body.insert("repetition_penalty".into(), json!(penalty));
    }
    if let Some(seed) = params.seed {
        body.insert("seed".into(), json!(seed));
    }
    if !params.stop.is_empty() {
        body.insert("stop".into(), json!(params.stop));
    }
    body.insert("stream".into(), json!(stream));
    if stream {
        // Without this, streamed answers carry no token counts.
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    Value::Object(body)
}

/// Parse a non-streamed completion body.
pub(crate) fn parse_completion(bytes: &[u8]) -> Result<Response, BackendError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| invalid_body(bytes, &e))?;
    if let Some(error) = value.get("error") {
        return Err(BackendError::Transient {
            message: format!("endpoint returned an error: {}", error_message(error)),
        });
    }
    let choice = value.pointer("/choices/0").ok_or_else(|| BackendError::Transient {
        message: format!("response has no `choices[0]`: {}", snippet(bytes)),
    })?;
    let text = choice
        .pointer("/message/content")
        .or_else(|| choice.get("text"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(Response {
        text,
        usage: value.get("usage").map(parse_usage).unwrap_or_default(),
        timing: Timing::default(),
        finish_reason: choice.get("finish_reason").and_then(Value::as_str).map(str::to_owned),
        model: value.get("model").and_then(Value::as_str).map(str::to_owned),
        logprobs: token_logprobs(choice),
        scored: None,
    })
}

/// The generated tokens' log-probabilities in a choice, when the server sent
/// them: chat's `logprobs.content[].{token, logprob}`, or the completions
/// API's `logprobs.tokens[]` with `logprobs.token_logprobs[]`.
fn token_logprobs(choice: &Value) -> Option<Vec<TokenLogprob>> {
    let logprobs = choice.get("logprobs")?;
    if let Some(content) = logprobs.get("content").and_then(Value::as_array) {
        return content
            .iter()
            .map(|entry| {
                Some(TokenLogprob {
                    token: entry.get("token")?.as_str()?.to_owned(),
                    logprob: entry.get("logprob")?.as_f64()?,
                })
            })
            .collect();
    }
    let tokens = logprobs.get("tokens")?.as_array()?;
    let values = logprobs.get("token_logprobs")?.as_array()?;
    tokens
        .iter()
        .zip(values)
        .map(|(token, logprob)| Some(TokenLogprob { token: token.as_str()?.to_owned(), logprob: logprob.as_f64()? }))
        .collect()
}

/// Builds a response from streamed chunks.
#[derive(Default)]
pub(crate) struct StreamAccumulator {
    text: String,
    usage: Option<Usage>,
    pub(crate) finish_reason: Option<String>,
    model: Option<String>,
    logprobs: Option<Vec<TokenLogprob>>,
    pub(crate) done: bool,
}

impl StreamAccumulator {
    /// Add one event's JSON. Returns whether it carried generated text.
    pub(crate) fn push(&mut self, data: &str) -> Result<bool, BackendError> {
        let value: Value = serde_json::from_str(data).map_err(|e| invalid_body(data.as_bytes(), &e))?;
        if let Some(error) = value.get("error") {
            return Err(BackendError::Transient {
                message: format!("endpoint sent an error mid-stream: {}", error_message(error)),
            });
        }
        if self.model.is_none() {
            self.model = value.get("model").and_then(Value::as_str).map(str::to_owned);
        }
        if let Some(usage) = value.get("usage").filter(|u| !u.is_null()) {
            self.usage = Some(parse_usage(usage));
        }
        let mut had_text = false;
        if let Some(choice) = value.pointer("/choices/0") {
            let piece = choice.pointer("/delta/content").or_else(|| choice.get("text")).and_then(Value::as_str);
            if let Some(piece) = piece.filter(|p| !p.is_empty()) {
                self.text.push_str(piece);
                had_text = true;
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish_reason = Some(reason.to_owned());
            }
            if let Some(logprobs) = token_logprobs(choice) {
                self.logprobs.get_or_insert_with(Vec::new).extend(logprobs);
            }
        }
        Ok(had_text)
    }

    pub(crate) fn finish(self, timing: Timing) -> Response {
        Response {
            text: self.text,
            usage: self.usage.unwrap_or_default(),
            timing,
            finish_reason: self.finish_reason,
            model: self.model,
            logprobs: self.logprobs,
            scored: None,
        }
    }
}

fn parse_usage(usage: &Value) -> Usage {
    let count = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64);
    Usage {
        input_tokens: count("/prompt_tokens").unwrap_or(0),
        output_tokens: count("/completion_tokens").unwrap_or(0),
        cached_input_tokens: count("/prompt_tokens_details/cached_tokens"),
        reasoning_tokens: count("/completion_tokens_details/reasoning_tokens"),
    }
}

fn invalid_body(bytes: &[u8], error: &serde_json::Error) -> BackendError {
    BackendError::Transient { message: format!("invalid JSON in response ({error}): {}", snippet(bytes)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evalkit_model_api::{GenParams, Message};

    #[test]
    fn body_leaves_out_unset_parameters() {
        let request = GenRequest {
            prompt: Prompt::Chat(vec![Message { role: "user".into(), content: "hi".into() }]),
            params: GenParams { temperature: Some(0.0), max_tokens: Some(5), ..GenParams::default() },
            score: None,
        };
        let body = request_body("m", &request, false);
        assert_eq!(
            body,
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.0, "max_tokens": 5, "stream": false})
        );
    }

    #[test]
    fn parses_usage_details() {
        let body = br#"{"model":"m","choices":[{"message":{"content":"Paris"},"finish_reason":"stop"}],
            "usage":{"prompt_tokens":10,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":1}}}"#;
        let response = parse_completion(body).unwrap();
        assert_eq!(response.text, "Paris");
        assert_eq!(
            response.usage,
            Usage { input_tokens: 10, output_tokens: 2, cached_input_tokens: Some(4), reasoning_tokens: Some(1) }
        );
        assert_eq!(response.finish_reason.as_deref(), Some("stop"));
    }

    #[test]
    fn invalid_json_is_transient_and_quotes_the_body() {
        let error = parse_completion(b"<html>bad gateway</html>").unwrap_err();
        assert_eq!(error.kind(), "transient");
        assert!(error.to_string().contains("<html>bad gateway"), "{error}");
    }

    #[test]
    fn accumulates_stream_chunks() {
        let mut acc = StreamAccumulator::default();
        assert!(!acc.push(r#"{"choices":[{"delta":{"role":"assistant"}}]}"#).unwrap());
        assert!(acc.push(r#"{"choices":[{"delta":{"content":"Pa"}}]}"#).unwrap());
        assert!(acc.push(r#"{"choices":[{"delta":{"content":"ris"},"finish_reason":"stop"}]}"#).unwrap());
        assert!(!acc.push(r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#).unwrap());
        let response = acc.finish(Timing::default());
        assert_eq!(response.text, "Paris");
        assert_eq!(response.usage.output_tokens, 2);
        assert_eq!(response.logprobs, None, "no logprobs were sent");
    }

    #[test]
    fn reads_token_logprobs_of_both_apis() {
        let chat =
            br#"{"choices":[{"message":{"content":"Hi"},"logprobs":{"content":[{"token":"Hi","logprob":-0.25}]}}]}"#;
        let response = parse_completion(chat).unwrap();
        assert_eq!(response.logprobs, Some(vec![TokenLogprob { token: "Hi".into(), logprob: -0.25 }]));
        let completion =
            br#"{"choices":[{"text":"a b","logprobs":{"tokens":["a"," b"],"token_logprobs":[-1.5,-0.5]}}]}"#;
        let logprobs = parse_completion(completion).unwrap().logprobs.unwrap();
        assert_eq!(logprobs.iter().map(|t| t.logprob).collect::<Vec<_>>(), [-1.5, -0.5]);
        let mut acc = StreamAccumulator::default();
        acc.push(r#"{"choices":[{"delta":{"content":"a"},"logprobs":{"content":[{"token":"a","logprob":-1.0}]}}]}"#)
            .unwrap();
        acc.push(r#"{"choices":[{"delta":{"content":"b"},"logprobs":{"content":[{"token":"b","logprob":-2.0}]}}]}"#)
            .unwrap();
        assert_eq!(acc.finish(Timing::default()).logprobs.map(|l| l.len()), Some(2));
    }
}
