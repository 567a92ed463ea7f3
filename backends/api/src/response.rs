use serde::{Deserialize, Serialize};

/// A model's answer with what it cost and how long it took.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// Log-likelihoods, when the request asked for scoring instead of text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scored: Option<Scored>,
    /// The log-probability of each generated token, when the backend returned them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<TokenLogprob>>,
}

/// One generated token and its log-probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    /// The token's text.
    pub token: String,
    /// ln p(token | everything before it).
    pub logprob: f64,
}

/// What scoring a prompt produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scored {
    /// Totals over the scored tokens of a text.
    Tokens(TokenScores),
    /// One entry per choice, in the request's order.
    Choices(Vec<ChoiceScore>),
}

/// Negative log-likelihood totals over the scored tokens of a text. Sums,
/// not means, so texts and runs combine exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenScores {
    /// Tokens scored.
    pub tokens: u64,
    /// Sum of -ln p(token | context), in nats.
    pub nll_sum: f64,
    /// Sum of the squares of those values (for llama.cpp's standard error).
    pub nll_sq_sum: f64,
    /// Scored tokens that were the model's most likely token.
    pub greedy_hits: u64,
    /// UTF-8 bytes of the scored tokens' text.
    pub bytes: u64,
    /// Whitespace-separated words in the scored tokens' text.
    pub words: u64,
    /// Tokens in the whole text, scored or not.
    pub text_tokens: u64,
}

/// The log-likelihood of one choice given the prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceScore {
    /// Sum of ln p(token | prompt, earlier tokens) over the choice's tokens.
    pub loglik: f64,
    /// Tokens in the choice.
    pub tokens: u64,
    /// UTF-8 bytes of the choice as scored, any leading space included.
    pub bytes: u64,
    /// Whether every token of the choice was the most likely one.
    pub greedy: bool,
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
