//! Model hyperparameters, read from GGUF metadata or a Hugging Face `config.json`.
//!
//! The four supported architectures share one decoder ([`super::model`]); what
//! tells them apart is captured here as plain flags, so the forward pass has
//! no per-architecture branches beyond "does this layer have X".

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use serde_json::Value as Json;

use super::LoadError;
use crate::gguf_metadata::Metadata;

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

/// How the global-attention layers stretch RoPE past the context the model was
/// first trained for. Sliding-window layers are never scaled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RopeScaling {
    /// Plain RoPE. Hugging Face's `dynamic` scaling reads as this: it changes
    /// nothing within `max_position_embeddings`, and evalkit never runs past it.
    None,
    /// Positions divided by a factor (Gemma 3 4B, 12B and 27B use 8).
    Linear {
        /// The divisor.
        factor: f64,
    },
    /// Llama 3.1's frequency-dependent scaling, from config.json. GGUF files
    /// carry the scaled frequencies as the `rope_freqs.weight` tensor instead.
    Llama3 {
        /// Divisor of the low frequencies.
        factor: f64,
        /// Wavelengths longer than `original_context / low_freq_factor` are divided by `factor`.
        low_freq_factor: f64,
        /// Wavelengths shorter than `original_context / high_freq_factor` are kept.
        high_freq_factor: f64,
        /// The context of the original training.
        original_context: f64,
    },
    /// YaRN (Qwen2.5 and Qwen3 long-context configs, for instance): a ramp
    /// between keeping a dimension pair's frequency and dividing it by `factor`.
    Yarn {
        /// Divisor of the low frequencies.
        factor: f64,
        /// The context of the original training, in which the turns below are counted.
        original_context: f64,
        /// Pairs that turn more often than this keep their frequency.
        beta_fast: f64,
        /// Pairs that turn less often than this are divided by `factor`.
        beta_slow: f64,
        /// Multiplies cos and sin (so attention logits by its square).
        attention_factor: f64,
    },
}

/// YaRN's magnitude for a scaling factor: transformers' `get_mscale(factor,
/// mscale)`. With `mscale = 1` it is the default attention factor, and the
/// magnitude llama.cpp's `rope_yarn` applies.
fn yarn_magnitude(factor: f64, mscale: f64) -> f64 {
    if factor <= 1.0 {
        1.0
    } else {
        0.1 * mscale * factor.ln() + 1.0
    }
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
    /// RoPE scaling of the global-attention layers.
    pub rope_scaling: RopeScaling,
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
    /// The shape must make sense before anything divides by it: a file
    /// with zero attention heads would otherwise panic deep in loading.
    fn checked(self) -> Result<Self, LoadError> {
        let sizes = [
            ("attention heads", self.num_heads),
            ("key/value heads", self.num_kv_heads),
            ("head dimension", self.head_dim),
            ("hidden size", self.hidden_size),
            ("layers", self.num_layers),
            ("feed-forward size", self.intermediate_size),
        ];
        if let Some((what, _)) = sizes.iter().find(|(_, n)| *n == 0) {
            return Err(LoadError::Format(format!(
                "the model's configuration says it has 0 {what}; the file is damaged or not a model evalkit can run"
            )));
        }
        if !self.num_heads.is_multiple_of(self.num_kv_heads) {
            return Err(LoadError::Format(format!(
                "the model's configuration has {} attention heads and {} key/value heads, which do not divide; \
                 the file is damaged",
                self.num_heads, self.num_kv_heads
            )));
        }
        Ok(self)
    }

    /// Whether layer `layer` uses the sliding window.
    pub fn is_sliding(&self, layer: usize) -> bool {
        match (self.sliding_window, self.sliding_window_pattern) {
            (Some(_), Some(pattern)) if pattern > 0 => !(layer + 1).is_multiple_of(pattern),
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// Read from GGUF metadata (`general.architecture` and `<arch>.*` keys).
    pub fn from_gguf(metadata: &HashMap<String, Value>) -> Result<Self, LoadError> {
        let metadata = Metadata(metadata);
        let arch_name = metadata
            .str("general.architecture")?
            .ok_or_else(|| LoadError::Format("GGUF metadata has no `general.architecture`".into()))?
            .to_owned();
        let architecture =
            Architecture::from_name(&arch_name).ok_or_else(|| LoadError::Unsupported(arch_name.clone()))?;
        let key = |k: &str| format!("{arch_name}.{k}");
        let opt_u = |k: &str| -> Result<Option<usize>, LoadError> {
            Ok(metadata.u64(&key(k))?.map(|v| usize::try_from(v).unwrap_or(usize::MAX)))
        };
        let get_u = |k: &str| -> Result<usize, LoadError> {
            opt_u(k)?.ok_or_else(|| LoadError::Format(format!("GGUF metadata has no `{}`", key(k))))
        };
        let opt_f = |k: &str| -> Result<Option<f64>, LoadError> { Ok(metadata.f64(&key(k))?) };

        let hidden_size = get_u("embedding_length")?;
        let num_heads = get_u("attention.head_count")?;
        let num_kv_heads = opt_u("attention.head_count_kv")?.unwrap_or(num_heads);
        // Zero heads is checked with the rest of the shape below; no division by it here.
        let head_dim = opt_u("attention.key_length")?.unwrap_or(hidden_size.checked_div(num_heads).unwrap_or(0));
        let defaults = Defaults::of(architecture, head_dim, hidden_size, num_heads);
        let context_length = opt_u("context_length")?.unwrap_or(4096);
        // As llama.cpp reads it: a factor (or the older `rope.scale_linear`), linear unless the
        // type says otherwise.
        let scaling_type = metadata.str(&key("rope.scaling.type"))?;
        let factor = match opt_f("rope.scaling.factor")? {
            Some(factor) => Some(factor),
            None => opt_f("rope.scale_linear")?,
        }
        .filter(|f| *f > 0.0);
        let rope_scaling = match (scaling_type, factor) {
            (Some("none"), _) | (_, None) => RopeScaling::None,
            (None | Some("linear"), Some(factor)) => RopeScaling::Linear { factor },
            // llama.cpp reads neither the `yarn_beta_*` keys nor `yarn_attn_factor` for these
            // architectures: beta 32 and 1, and `rope.scaling.attn_factor` times the default magnitude.
            (Some("yarn"), Some(factor)) => RopeScaling::Yarn {
                factor,
                original_context: opt_u("rope.scaling.original_context_length")?.unwrap_or(context_length) as f64,
                beta_fast: 32.0,
                beta_slow: 1.0,
                attention_factor: opt_f("rope.scaling.attn_factor")?.unwrap_or(1.0) * yarn_magnitude(factor, 1.0),
            },
            (Some(other), Some(_)) => return Err(unsupported_scaling(other)),
        };
        ModelConfig {
            architecture,
            hidden_size,
            intermediate_size: get_u("feed_forward_length")?,
            num_layers: get_u("block_count")?,
            num_heads,
            num_kv_heads,
            head_dim,
            rms_norm_eps: opt_f("attention.layer_norm_rms_epsilon")?.unwrap_or(1e-6),
            // llama.cpp's default when the key is absent, whatever the architecture.
            rope_theta: opt_f("rope.freq_base")?.unwrap_or(10_000.0),
            rope_theta_local: opt_f("rope.freq_base_swa")?.unwrap_or(defaults.rope_theta_local),
            rope_scaling,
            rope_style: match architecture {
                Architecture::Llama => RopeStyle::Interleaved,
                _ => RopeStyle::Halves,
            },
            sliding_window: opt_u("attention.sliding_window")?,
            sliding_window_pattern: defaults.sliding_window_pattern,
            context_length,
            activation: defaults.activation,
            qk_norm: defaults.qk_norm,
            post_norms: defaults.post_norms,
            scale_embeddings: defaults.scale_embeddings,
            attention_scale: defaults.attention_scale,
        }
        .checked()
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
        // transformers' Gemma3TextConfig defaults: the text configs nested in Gemma 3 4B, 12B and
        // 27B checkpoints (Gemma3ForConditionalGeneration) leave out the values that match them.
        let gemma = architecture == Architecture::Gemma3;
        let hidden_size = get_u("hidden_size")?;
        let num_heads = if gemma { opt_u("num_attention_heads").unwrap_or(8) } else { get_u("num_attention_heads")? };
        let head_dim =
            opt_u("head_dim").unwrap_or(if gemma { 256 } else { hidden_size.checked_div(num_heads).unwrap_or(0) });
        let defaults = Defaults::of(architecture, head_dim, hidden_size, num_heads);
        let attention_scale = match (architecture, opt_f("query_pre_attn_scalar")) {
            (Architecture::Gemma3, Some(scalar)) => 1.0 / scalar.sqrt(),
            _ => defaults.attention_scale,
        };
        // transformers 5 writes `rope_parameters` (for Gemma 3 one per attention type) where
        // earlier versions wrote `rope_theta`, `rope_local_base_freq` and `rope_scaling`.
        let rope_parameters = config.get("rope_parameters").filter(|p| p.is_object());
        let global_rope = rope_parameters.map(|p| p.get("full_attention").unwrap_or(p));
        let local_rope = rope_parameters.and_then(|p| p.get("sliding_attention"));
        let rope_f = |params: Option<&Json>, k: &str| params.and_then(|p| p.get(k)).and_then(Json::as_f64);
        let rope_theta = opt_f("rope_theta").or(rope_f(global_rope, "rope_theta")).unwrap_or(defaults.rope_theta);
        let rope_theta_local =
            opt_f("rope_local_base_freq").or(rope_f(local_rope, "rope_theta")).unwrap_or(defaults.rope_theta_local);
        let context_length = opt_u("max_position_embeddings").unwrap_or(if gemma { 131_072 } else { 4096 });
        let scaling = config.get("rope_scaling").filter(|s| s.is_object()).or(global_rope);
        let rope_scaling = match scaling {
            Some(s) => hf_rope_scaling(s, context_length)?,
            None => RopeScaling::None,
        };
        let sliding_window = match architecture {
            // Qwen configs carry a window that is only used when `use_sliding_window` is true.
            Architecture::Qwen2 | Architecture::Qwen3 => {
                if config.get("use_sliding_window").and_then(Json::as_bool).unwrap_or(false) {
                    opt_u("sliding_window")
                } else {
                    None
                }
            }
            Architecture::Gemma3 => opt_u("sliding_window").or(Some(4096)),
            Architecture::Llama => opt_u("sliding_window"),
        };
        ModelConfig {
            architecture,
            hidden_size,
            intermediate_size: get_u("intermediate_size")?,
            num_layers: get_u("num_hidden_layers")?,
            num_heads,
            num_kv_heads: opt_u("num_key_value_heads").unwrap_or(if gemma { 4 } else { num_heads }),
            head_dim,
            rms_norm_eps: opt_f("rms_norm_eps").unwrap_or(1e-6),
            rope_theta,
            rope_theta_local,
            rope_scaling,
            rope_style: RopeStyle::Halves,
            sliding_window,
            sliding_window_pattern: opt_u("sliding_window_pattern").or(defaults.sliding_window_pattern),
            context_length,
            activation: defaults.activation,
            qk_norm: defaults.qk_norm,
            post_norms: defaults.post_norms,
            scale_embeddings: defaults.scale_embeddings,
            attention_scale,
        }
        .checked()
    }
}

/// `rope_scaling` (or `rope_parameters`) of a config.json, as transformers reads it.
fn hf_rope_scaling(s: &Json, context_length: usize) -> Result<RopeScaling, LoadError> {
    let f = |k: &str| s.get(k).and_then(Json::as_f64);
    let rope_type = s.get("rope_type").or(s.get("type")).and_then(Json::as_str).unwrap_or("default");
    Ok(match rope_type {
        "default" | "dynamic" => RopeScaling::None,
        "linear" => RopeScaling::Linear { factor: f("factor").unwrap_or(1.0) },
        "llama3" => RopeScaling::Llama3 {
            factor: f("factor").unwrap_or(8.0),
            low_freq_factor: f("low_freq_factor").unwrap_or(1.0),
            high_freq_factor: f("high_freq_factor").unwrap_or(4.0),
            original_context: f("original_max_position_embeddings").unwrap_or(8192.0),
        },
        "yarn" => {
            let original_context = f("original_max_position_embeddings").unwrap_or(context_length as f64);
            // Without a factor, transformers takes the ratio of the two context lengths.
            let factor = f("factor").unwrap_or(context_length as f64 / original_context);
            let attention_factor = match (f("attention_factor"), f("mscale"), f("mscale_all_dim")) {
                (Some(a), _, _) => a,
                // DeepSeek-style configs.
                (None, Some(m), Some(all)) if m != 0.0 && all != 0.0 => {
                    yarn_magnitude(factor, m) / yarn_magnitude(factor, all)
                }
                _ => yarn_magnitude(factor, 1.0),
            };
            RopeScaling::Yarn {
                factor,
                original_context,
                beta_fast: f("beta_fast").filter(|b| *b != 0.0).unwrap_or(32.0),
                beta_slow: f("beta_slow").filter(|b| *b != 0.0).unwrap_or(1.0),
                attention_factor,
            }
        }
        other => return Err(unsupported_scaling(other)),
    })
}

fn unsupported_scaling(name: &str) -> LoadError {
    LoadError::Format(format!(
        "RoPE scaling type `{name}` is not supported; evalkit runs linear, llama3 and yarn scaling \
         (and dynamic, which changes nothing within the trained context)"
    ))
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
                attention_scale: if hidden_size.checked_div(num_heads).is_some_and(|w| w != head_dim)
                    && hidden_size == 5376
                {
                    1.0 / ((hidden_size / num_heads) as f64).sqrt()
                } else {
                    plain
                },
            },
            Architecture::Llama | Architecture::Qwen2 | Architecture::Qwen3 => Defaults {
                // transformers' LlamaConfig, Qwen2Config and Qwen3Config all default to 10 000
                // (the released Qwen configs set 1 000 000).
                rope_theta: 10_000.0,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn llama_json(extra: Json) -> Json {
        let mut config = serde_json::json!({
            "model_type": "llama",
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
        });
        config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        config
    }

    #[test]
    fn a_shape_with_zero_heads_is_an_error_not_a_panic() {
        for (key, value) in [
            ("num_attention_heads", 0),
            ("num_key_value_heads", 0),
            ("num_hidden_layers", 0),
            ("num_key_value_heads", 3),
        ] {
            let config = llama_json(serde_json::json!({ key: value }));
            let error = ModelConfig::from_hf(&config).unwrap_err().to_string();
            assert!(error.contains("damaged"), "{key} = {value}: {error}");
        }
    }

    #[test]
    fn hf_rope_settings_in_either_format() {
        // transformers 4: top-level rope_theta and rope_scaling.
        let old = ModelConfig::from_hf(&llama_json(serde_json::json!({
            "rope_theta": 500000.0,
            "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
        })))
        .unwrap();
        // transformers 5: both inside rope_parameters.
        let new = ModelConfig::from_hf(&llama_json(serde_json::json!({
            "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
        })))
        .unwrap();
        for c in [&old, &new] {
            assert_eq!(c.rope_theta, 500000.0);
            let llama3 = RopeScaling::Llama3 {
                factor: 32.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_context: 8192.0,
            };
            assert_eq!(c.rope_scaling, llama3);
        }
        let plain = ModelConfig::from_hf(&llama_json(serde_json::json!({
            "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
        })))
        .unwrap();
        assert_eq!((plain.rope_theta, plain.rope_scaling), (1_000_000.0, RopeScaling::None));
        // Neither: transformers' default.
        let bare = ModelConfig::from_hf(&llama_json(serde_json::json!({"model_type": "qwen2"}))).unwrap();
        assert_eq!(bare.rope_theta, 10_000.0);
    }

    #[test]
    fn hf_gemma3_rope_parameters_per_attention_type() {
        let config = serde_json::json!({
            "model_type": "gemma3_text",
            "hidden_size": 640,
            "intermediate_size": 2048,
            "num_hidden_layers": 18,
            "num_attention_heads": 4,
            "num_key_value_heads": 1,
            "head_dim": 256,
            "rope_parameters": {
                "full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
                "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
            },
        });
        let c = ModelConfig::from_hf(&config).unwrap();
        assert_eq!((c.rope_theta, c.rope_theta_local), (1_000_000.0, 10_000.0));
        assert_eq!(c.rope_scaling, RopeScaling::None);
    }

    #[test]
    fn hf_linear_rope_scaling() {
        // Gemma 3 4B's config (transformers 4 format).
        let config = serde_json::json!({
            "model_type": "gemma3_text",
            "hidden_size": 2560,
            "intermediate_size": 10240,
            "num_hidden_layers": 34,
            "num_attention_heads": 8,
            "num_key_value_heads": 4,
            "head_dim": 256,
            "rope_theta": 1000000.0,
            "rope_local_base_freq": 10000.0,
            "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
        });
        let c = ModelConfig::from_hf(&config).unwrap();
        assert_eq!(c.rope_scaling, RopeScaling::Linear { factor: 8.0 });
    }

    #[test]
    fn hf_gemma3_multimodal_config_with_sparse_text_config() {
        // Gemma 3 4B's config.json: the text config holds only what differs from the defaults.
        let config = serde_json::json!({
            "architectures": ["Gemma3ForConditionalGeneration"],
            "model_type": "gemma3",
            "text_config": {
                "hidden_size": 2560,
                "intermediate_size": 10240,
                "model_type": "gemma3_text",
                "num_hidden_layers": 34,
                "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                "sliding_window": 1024,
            },
            "vision_config": {"hidden_size": 1152, "model_type": "siglip_vision_model"},
        });
        let c = ModelConfig::from_hf(&config).unwrap();
        assert_eq!(c.architecture, Architecture::Gemma3);
        assert_eq!((c.hidden_size, c.intermediate_size, c.num_layers), (2560, 10240, 34));
        assert_eq!((c.num_heads, c.num_kv_heads, c.head_dim), (8, 4, 256));
        assert_eq!((c.rope_theta, c.rope_theta_local), (1_000_000.0, 10_000.0));
        assert_eq!(c.rope_scaling, RopeScaling::Linear { factor: 8.0 });
        assert_eq!((c.sliding_window, c.sliding_window_pattern, c.context_length), (Some(1024), Some(6), 131_072));
        assert_eq!((c.attention_scale, c.rms_norm_eps), (1.0 / 16.0, 1e-6));
    }

    #[test]
    fn gguf_rope_settings() {
        let mut metadata: HashMap<String, Value> = [
            ("general.architecture", Value::String("gemma3".into())),
            ("gemma3.embedding_length", Value::U32(2560)),
            ("gemma3.feed_forward_length", Value::U32(10240)),
            ("gemma3.block_count", Value::U32(34)),
            ("gemma3.attention.head_count", Value::U32(8)),
            ("gemma3.attention.key_length", Value::U32(256)),
            ("gemma3.rope.scaling.type", Value::String("linear".into())),
            ("gemma3.rope.scaling.factor", Value::F32(8.0)),
            ("gemma3.rope.freq_base_swa", Value::F32(20000.0)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let c = ModelConfig::from_gguf(&metadata).unwrap();
        assert_eq!((c.rope_scaling, c.rope_theta_local), (RopeScaling::Linear { factor: 8.0 }, 20_000.0));
        // No freq_base: llama.cpp's 10 000, not the architecture's usual value.
        assert_eq!(c.rope_theta, 10_000.0);
        // YaRN as llama.cpp reads it: the original context, else the trained one; beta 32 and 1.
        metadata.insert("gemma3.rope.scaling.type".into(), Value::String("yarn".into()));
        metadata.insert("gemma3.context_length".into(), Value::U32(131_072));
        let yarn = |original: f64| RopeScaling::Yarn {
            factor: 8.0,
            original_context: original,
            beta_fast: 32.0,
            beta_slow: 1.0,
            attention_factor: 0.1 * 8f64.ln() + 1.0,
        };
        assert_eq!(ModelConfig::from_gguf(&metadata).unwrap().rope_scaling, yarn(131_072.0));
        metadata.insert("gemma3.rope.scaling.original_context_length".into(), Value::U32(32_768));
        assert_eq!(ModelConfig::from_gguf(&metadata).unwrap().rope_scaling, yarn(32_768.0));
        metadata.insert("gemma3.rope.scaling.type".into(), Value::String("longrope".into()));
        let error = ModelConfig::from_gguf(&metadata).unwrap_err().to_string();
        assert!(error.contains("`longrope` is not supported") && error.contains("yarn"), "{error}");
        metadata.retain(|k, _| !k.contains("scaling") && !k.contains("swa"));
        let c = ModelConfig::from_gguf(&metadata).unwrap();
        assert_eq!((c.rope_scaling, c.rope_theta_local), (RopeScaling::None, 10_000.0));
    }

    #[test]
    fn hf_yarn_and_dynamic_rope_scaling() {
        // Qwen2.5's long-context recipe.
        let c = ModelConfig::from_hf(&llama_json(serde_json::json!({
            "max_position_embeddings": 131072,
            "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768},
        })))
        .unwrap();
        let expected = RopeScaling::Yarn {
            factor: 4.0,
            original_context: 32768.0,
            beta_fast: 32.0,
            beta_slow: 1.0,
            attention_factor: 0.1 * 4f64.ln() + 1.0,
        };
        assert_eq!(c.rope_scaling, expected);
        // Explicit settings win; without a factor, the ratio of the two contexts.
        let c = ModelConfig::from_hf(&llama_json(serde_json::json!({
            "max_position_embeddings": 65536,
            "rope_parameters": {"rope_type": "yarn", "rope_theta": 1e6, "original_max_position_embeddings": 16384,
                                "beta_fast": 16.0, "beta_slow": 2.0, "attention_factor": 1.25},
        })))
        .unwrap();
        let expected = RopeScaling::Yarn {
            factor: 4.0,
            original_context: 16384.0,
            beta_fast: 16.0,
            beta_slow: 2.0,
            attention_factor: 1.25,
        };
        assert_eq!((c.rope_theta, c.rope_scaling), (1e6, expected));
        let dynamic = ModelConfig::from_hf(&llama_json(serde_json::json!({
            "rope_scaling": {"type": "dynamic", "factor": 2.0},
        })))
        .unwrap();
        assert_eq!(dynamic.rope_scaling, RopeScaling::None);
        let error = ModelConfig::from_hf(&llama_json(serde_json::json!({
            "rope_scaling": {"rope_type": "longrope", "factor": 2.0},
        })))
        .unwrap_err();
        assert!(error.to_string().contains("`longrope` is not supported"), "{error}");
    }
}
