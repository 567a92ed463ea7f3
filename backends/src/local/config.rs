//! Model hyperparameters, read from GGUF metadata or a Hugging Face `config.json`.
//!
//! The four supported architectures share one decoder ([`super::model`]); what
//! tells them apart is captured here as plain flags, so the forward pass has
//! no per-architecture branches beyond "does this layer have X".

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use serde_json::Value as Json;

use super::LoadError;

/// A decoder family evalkit can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// Gemma 3 (text): GELU MLP, QK-norm, pre and post norms, sliding-window layers.
    Gemma3,
    /// Llama 2/3, Mistral, TinyLlama, SmolLM: SiLU MLP, plain RMSNorm.
    Llama,
    /// Qwen 2 / 2.5: Llama plus biases on the q, k and v projections.
    Qwen2,
    /// Qwen 3 (dense): Llama plus QK-norm.
    Qwen3,
}

/// Architecture names evalkit accepts, for error messages.
pub const SUPPORTED: &str = "gemma3, llama (Llama 2/3, Mistral, TinyLlama, SmolLM), qwen2, qwen3";

impl Architecture {
    /// From GGUF `general.architecture` or a config.json `model_type`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "gemma3" | "gemma3_text" => Some(Self::Gemma3),
            "llama" | "mistral" => Some(Self::Llama),
            "qwen2" => Some(Self::Qwen2),
            "qwen3" => Some(Self::Qwen3),
            _ => None,
        }
    }

    /// The name used in results.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gemma3 => "gemma3",
            Self::Llama => "llama",
            Self::Qwen2 => "qwen2",
            Self::Qwen3 => "qwen3",
        }
    }
}

/// How rotary embeddings pair up the dimensions of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Dimension i with i + d/2 (GPT-NeoX, Hugging Face checkpoints).
    Halves,
    /// Dimension 2i with 2i + 1: llama.cpp's GGUF conversion permutes Llama's
    /// q and k weights into this layout.
    Interleaved,
}

/// The MLP's gate activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// GELU, tanh approximation (Gemma).
    GeluTanh,
    /// SiLU (Llama, Qwen).
    Silu,
}

/// Everything the forward pass needs to know about the model's shape.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// Decoder family.
    pub architecture: Architecture,
    /// Embedding width.
    pub hidden_size: usize,
    /// MLP inner width.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_layers: usize,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads (grouped-query attention when fewer than `num_heads`).
    pub num_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base of global-attention layers.
    pub rope_theta: f64,
    /// RoPE base of sliding-window layers (Gemma 3 uses 10 000 there).
    pub rope_theta_local: f64,
    /// Llama 3 style frequency scaling: (factor, low_freq_factor, high_freq_factor, original context).
    pub rope_llama3_scaling: Option<(f64, f64, f64, f64)>,
    /// Pairing of rotary dimensions.
    pub rope_style: RopeStyle,
    /// Attention window of sliding-window layers.
    pub sliding_window: Option<usize>,
    /// Every `n`-th layer (the last of each group) attends globally; the others use the window.
    pub sliding_window_pattern: Option<usize>,
    /// Longest context the model was trained for.
    pub context_length: usize,
    /// MLP gate activation.
    pub activation: Activation,
    /// Per-head RMSNorm on queries and keys.
    pub qk_norm: bool,
    /// Norms after attention and after the MLP (Gemma).
    pub post_norms: bool,
    /// Multiply embeddings by sqrt(hidden_size) (Gemma).
    pub scale_embeddings: bool,
    /// Query scale before attention.
    pub attention_scale: f64,
}

impl ModelConfig {
    /// Whether layer `layer` uses the sliding window.
    pub fn is_sliding(&self, layer: usize) -> bool {
        match (self.sliding_window, self.sliding_window_pattern) {
            (Some(_), Some(pattern)) if pattern > 0 => (layer + 1) % pattern != 0,
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// Read from GGUF metadata (`general.architecture` and `<arch>.*` keys).
    pub fn from_gguf(metadata: &HashMap<String, Value>) -> Result<Self, LoadError> {
        let arch_name = metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .ok_or_else(|| LoadError::Format("GGUF metadata has no `general.architecture`".into()))?
            .clone();
        let architecture =
            Architecture::from_name(&arch_name).ok_or_else(|| LoadError::Unsupported(arch_name.clone()))?;
        let key = |k: &str| format!("{arch_name}.{k}");
        let get_u = |k: &str| -> Result<usize, LoadError> {
            let value =
                metadata.get(&key(k)).ok_or_else(|| LoadError::Format(format!("GGUF metadata has no `{}`", key(k))))?;
            value
                .to_u64()
                .or_else(|_| value.to_u32().map(u64::from))
                .map(|v| v as usize)
                .map_err(|e| LoadError::Format(format!("GGUF metadata `{}` is not an integer: {e}", key(k))))
        };
        let opt_u = |k: &str| metadata.get(&key(k)).and_then(|v| v.to_u32().ok().map(u64::from).or(v.to_u64().ok()));
        let opt_f = |k: &str| metadata.get(&key(k)).and_then(|v| v.to_f32().ok().map(f64::from).or(v.to_f64().ok()));

        let hidden_size = get_u("embedding_length")?;
        let num_heads = get_u("attention.head_count")?;
        let num_kv_heads = opt_u("attention.head_count_kv").map(|v| v as usize).unwrap_or(num_heads);
        let head_dim = opt_u("attention.key_length").map(|v| v as usize).unwrap_or(hidden_size / num_heads);
        let defaults = Defaults::of(architecture, head_dim, hidden_size, num_heads);
        Ok(ModelConfig {
            architecture,
            hidden_size,
            intermediate_size: get_u("feed_forward_length")?,
            num_layers: get_u("block_count")?,
            num_heads,
            num_kv_heads,
            head_dim,
            rms_norm_eps: opt_f("attention.layer_norm_rms_epsilon").unwrap_or(1e-6),
            rope_theta: opt_f("rope.freq_base").unwrap_or(defaults.rope_theta),
            rope_theta_local: defaults.rope_theta_local,
            // GGUF carries Llama 3's scaled frequencies as the `rope_freqs.weight` tensor instead.
            rope_llama3_scaling: None,
            rope_style: match architecture {
                Architecture::Llama => RopeStyle::Interleaved,
                _ => RopeStyle::Halves,
            },
            sliding_window: opt_u("attention.sliding_window").map(|v| v as usize),
            sliding_window_pattern: defaults.sliding_window_pattern,
            context_length: opt_u("context_length").map(|v| v as usize).unwrap_or(4096),
            activation: defaults.activation,
            qk_norm: defaults.qk_norm,
            post_norms: defaults.post_norms,
            scale_embeddings: defaults.scale_embeddings,
            attention_scale: defaults.attention_scale,
        })
    }

    /// Read from a Hugging Face `config.json` (text configs nested under `text_config` too).
    pub fn from_hf(config: &Json) -> Result<Self, LoadError> {
        let config = config.get("text_config").filter(|c| c.get("hidden_size").is_some()).unwrap_or(config);
        let model_type = config
            .get("model_type")
            .and_then(Json::as_str)
            .ok_or_else(|| LoadError::Format("config.json has no `model_type`".into()))?;
        let architecture =
            Architecture::from_name(model_type).ok_or_else(|| LoadError::Unsupported(model_type.to_owned()))?;
        let get_u = |k: &str| -> Result<usize, LoadError> {
            config
                .get(k)
                .and_then(Json::as_u64)
                .map(|v| v as usize)
                .ok_or_else(|| LoadError::Format(format!("config.json has no integer `{k}`")))
        };
        let opt_u = |k: &str| config.get(k).and_then(Json::as_u64).map(|v| v as usize);
        let opt_f = |k: &str| config.get(k).and_then(Json::as_f64);
        let hidden_size = get_u("hidden_size")?;
        let num_heads = get_u("num_attention_heads")?;
        let head_dim = opt_u("head_dim").unwrap_or(hidden_size / num_heads);
        let defaults = Defaults::of(architecture, head_dim, hidden_size, num_heads);
        let attention_scale = match (architecture, opt_f("query_pre_attn_scalar")) {
            (Architecture::Gemma3, Some(scalar)) => 1.0 / scalar.sqrt(),
            _ => defaults.attention_scale,
        };
        let rope_llama3_scaling = config
            .get("rope_scaling")
            .filter(|s| s.get("rope_type").or(s.get("type")).and_then(Json::as_str) == Some("llama3"));
        let rope_llama3_scaling = rope_llama3_scaling.map(|s| {
            let f = |k: &str, d: f64| s.get(k).and_then(Json::as_f64).unwrap_or(d);
            (
                f("factor", 8.0),
                f("low_freq_factor", 1.0),
                f("high_freq_factor", 4.0),
                f("original_max_position_embeddings", 8192.0),
            )
        });
        let sliding_window = match architecture {
            // Qwen configs carry a window that is only used when `use_sliding_window` is true.
            Architecture::Qwen2 | Architecture::Qwen3 => {
                if config.get("use_sliding_window").and_then(Json::as_bool).unwrap_or(false) {
                    opt_u("sliding_window")
                } else {
                    None
                }
            }
            _ => opt_u("sliding_window"),
        };
        Ok(ModelConfig {
            architecture,
            hidden_size,
            intermediate_size: get_u("intermediate_size")?,
            num_layers: get_u("num_hidden_layers")?,
            num_heads,
            num_kv_heads: opt_u("num_key_value_heads").unwrap_or(num_heads),
            head_dim,
            rms_norm_eps: opt_f("rms_norm_eps").unwrap_or(1e-6),
            rope_theta: opt_f("rope_theta").unwrap_or(defaults.rope_theta),
            rope_theta_local: opt_f("rope_local_base_freq").unwrap_or(defaults.rope_theta_local),
            rope_llama3_scaling,
            rope_style: RopeStyle::Halves,
            sliding_window,
            sliding_window_pattern: opt_u("sliding_window_pattern").or(defaults.sliding_window_pattern),
            context_length: opt_u("max_position_embeddings").unwrap_or(4096),
            activation: defaults.activation,
            qk_norm: defaults.qk_norm,
            post_norms: defaults.post_norms,
            scale_embeddings: defaults.scale_embeddings,
            attention_scale,
        })
    }
}

/// What an architecture implies when the file does not say.
struct Defaults {
    rope_theta: f64,
    rope_theta_local: f64,
    sliding_window_pattern: Option<usize>,
    activation: Activation,
    qk_norm: bool,
    post_norms: bool,
    scale_embeddings: bool,
    attention_scale: f64,
}

impl Defaults {
    fn of(architecture: Architecture, head_dim: usize, hidden_size: usize, num_heads: usize) -> Self {
        let plain = 1.0 / (head_dim as f64).sqrt();
        match architecture {
            Architecture::Gemma3 => Defaults {
                rope_theta: 1_000_000.0,
                rope_theta_local: 10_000.0,
                // llama.cpp and transformers: five local layers, then one global.
                sliding_window_pattern: Some(6),
                activation: Activation::GeluTanh,
                qk_norm: true,
                post_norms: true,
                scale_embeddings: true,
                // Gemma 3 27B scales by hidden/heads; every other size by the head width.
                attention_scale: if hidden_size / num_heads != head_dim && hidden_size == 5376 {
                    1.0 / ((hidden_size / num_heads) as f64).sqrt()
                } else {
                    plain
                },
            },
            Architecture::Llama | Architecture::Qwen2 | Architecture::Qwen3 => Defaults {
                rope_theta: if architecture == Architecture::Llama { 10_000.0 } else { 1_000_000.0 },
                rope_theta_local: 10_000.0,
                sliding_window_pattern: None,
                activation: Activation::Silu,
                qk_norm: architecture == Architecture::Qwen3,
                post_norms: false,
                scale_embeddings: false,
                attention_scale: plain,
            },
        }
    }
}
