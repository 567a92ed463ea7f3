//! evalkit's HTTP model backends.
//!
//! Each wire format is a module; what every HTTP backend needs is shared:
//! server-sent-event framing ([`sse`]), turning transport failures, status
//! codes, error bodies and `Retry-After` into [`BackendError`] classes
//! ([`classify`]). A backend makes one attempt per call; retrying is the model
//! caller's job (evalkit's `caller` module), so every backend gets the same policy.
//!
//! - [`openai`]: any OpenAI-compatible `/v1/chat/completions` endpoint
//!   (OpenAI, vLLM, llama.cpp's server, Ollama, LiteLLM), streamed or not.
//!
//! [`BackendError`]: evalkit_model_api::BackendError

#![deny(missing_docs)]

pub(crate) mod classify;
pub mod openai;
pub(crate) mod sse;
