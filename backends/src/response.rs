use serde::{Deserialize, Serialize};

/// A model's answer with what it cost and how long it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The generated text.
    pub text: String,
    /// Token counts, as reported by the endpoint.
    pub usage: Usage,
    /// Wall-clock measurements taken by the client.
    pub timing: Timing,
    /// Why generation stopped (`stop`, `length`, ...), when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// The model that actually answered, when the endpoint says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// Token counts for one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens, cached ones included.
    pub input_tokens: u64,
    /// Generated tokens, reasoning ones included.
    pub output_tokens: u64,
    /// Prompt tokens served from the provider's prompt cache, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_tokens: Option<u64>,
    /// Hidden reasoning tokens, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
}

/// Client-side timings, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// From sending the request to the last byte of the answer.
    pub e2e_seconds: f64,
    /// From sending the request to the first generated text (streaming only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_seconds: Option<f64>,
    /// Mean gap between consecutive text chunks (streaming only, two or more chunks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inter_token_seconds: Option<f64>,
}
