use serde::{Deserialize, Serialize};

/// One generation request: a prompt and the parameters to sample it with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenRequest {
    /// What the model is asked.
    pub prompt: Prompt,
    /// How it samples its answer.
    pub params: GenParams,
    /// Score the prompt's tokens instead of generating (perplexity, multiple
    /// choice). Only backends that expose log-probabilities support it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<ScoreSpec>,
}

/// What to score, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
pub enum ScoreSpec {
    /// llama.cpp's `llama-perplexity`: the text (with BOS first) is cut into
    /// windows of `n_ctx` tokens, each window's first token is replaced by
    /// BOS, and only the second half of each window is scored.
    #[serde(rename = "llama.cpp")]
    LlamaCpp {
        /// Window length in tokens.
        n_ctx: usize,
        /// Positions run through the model at once.
        n_batch: usize,
        /// Score only the first this many windows (llama.cpp's `--chunks`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chunks: Option<usize>,
    },
    /// Sliding windows as Hugging Face describes: windows of `window`
    /// tokens every `stride` tokens, each scoring only the tokens the previous
    /// window did not, so every token is scored once with up to
    /// `window - stride` tokens of context.
    Strided {
        /// Window length in tokens.
        window: usize,
        /// Step between windows.
        stride: usize,
    },
    /// The log-likelihood of each choice as a continuation of the prompt.
    Choices {
        /// The candidate continuations.
        choices: Vec<String>,
    },
}

/// A prompt, either as chat messages or as raw completion text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// Chat messages (`system`, `user`, `assistant`, ...), in order.
    Chat(Vec<Message>),
    /// Plain text the model continues (base models, completion endpoints).
    Completion(String),
}

impl Prompt {
    /// The prompt as one readable string, for reports.
    pub fn display_text(&self) -> String {
        match self {
            Prompt::Completion(text) => text.clone(),
            Prompt::Chat(messages) => {
                messages.iter().map(|m| format!("[{}]\n{}", m.role, m.content)).collect::<Vec<_>>().join("\n\n")
            }
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user`, `assistant`, or anything the endpoint accepts.
    pub role: String,
    /// The message text.
    pub content: String,
}

/// Generation parameters. `None` means "the endpoint's default" and is not sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenParams {
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Sample among the `top_k` most likely tokens (local models; sent as is to servers that accept it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Penalise tokens already present in the prompt or answer (local models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    /// Upper bound on generated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling seed, where the endpoint supports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
}
