use serde::{Deserialize, Serialize};

/// One generation request: a prompt and the parameters to sample it with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenRequest {
    /// What the model is asked.
    pub prompt: Prompt,
    /// How it samples its answer.
    pub params: GenParams,
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
