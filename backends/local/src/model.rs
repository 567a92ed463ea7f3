//! One decoder for every supported architecture, written on candle ops.
//!
//! [`Model::forward`] runs a batch of consecutive positions through the
//! layers, appending to a [`KvCache`], and returns the final hidden states of
//! every position. Logits are a separate step ([`Model::logits`]) so callers
//! ask only for the positions they need, a few at a time: with Gemma's 262k
//! vocabulary one position's logits are 1 MiB of f32.

use candle_core::{DType, Device, Tensor};

use super::config::{ModelConfig, RopeScaling, RopeStyle};
use super::cpu_ops::gated_activation;
use super::weights::{Embedding, Linear, LoadedBytes, Loader};
use super::LoadError;

/// Keys and values of every layer for the positions seen so far.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

struct Rope {
    cos: Tensor,
    sin: Tensor,
}

impl Rope {
    /// `freq_factors`: GGUF's `rope_freqs.weight`, divisors of each
    /// frequency (how llama.cpp's converter stores Llama 3.1's scaling).
    fn new(
        config: &ModelConfig,
        theta: f64,
        scaling: RopeScaling,
        freq_factors: Option<&[f32]>,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let (dims, half) = (config.head_dim, config.head_dim / 2);
        let mut inv_freq: Vec<f32> =
            (0..half).map(|i| (1.0 / theta.powf(2.0 * i as f64 / dims as f64)) as f32).collect();
        if let Some(factors) = freq_factors {
            for (f, factor) in inv_freq.iter_mut().zip(factors) {
                *f /= factor;
            }
        }
        let mut magnitude = 1.0;
        match scaling {
            RopeScaling::None => {}
            RopeScaling::Linear { factor } => inv_freq.iter_mut().for_each(|f| *f = (*f as f64 / factor) as f32),
            // Already applied when the file carries the scaled frequencies.
            RopeScaling::Llama3 { .. } if freq_factors.is_some() => {}
            RopeScaling::Llama3 { factor, low_freq_factor, high_freq_factor, original_context } => {
                llama3_scale(&mut inv_freq, factor, low_freq_factor, high_freq_factor, original_context)
            }
            RopeScaling::Yarn { factor, original_context, beta_fast, beta_slow, attention_factor } => {
                let (low, high) = yarn_ramp(dims, theta, original_context, beta_fast, beta_slow);
                yarn_scale(&mut inv_freq, factor, low, high);
                magnitude = attention_factor;
            }
        }
        let max = config.context_length.max(1);
        let positions: Vec<f32> = (0..max).map(|p| p as f32).collect();
        let positions = Tensor::from_vec(positions, (max, 1), device)?;
        let inv_freq = Tensor::from_vec(inv_freq, (1, half), device)?;
        let angles = positions.matmul(&inv_freq)?;
        let (cos, sin) = (angles.cos()?, angles.sin()?);
        if magnitude == 1.0 {
            return Ok(Rope { cos, sin });
        }
        Ok(Rope { cos: (cos * magnitude)?, sin: (sin * magnitude)? })
    }

    fn apply(&self, x: &Tensor, offset: usize, style: RopeStyle) -> candle_core::Result<Tensor> {
        let seq = x.dim(2)?;
        let cos = self.cos.narrow(0, offset, seq)?;
        let sin = self.sin.narrow(0, offset, seq)?;
        match style {
            RopeStyle::Halves => candle_nn::rotary_emb::rope(&x.contiguous()?, &cos, &sin),
            RopeStyle::Interleaved => candle_nn::rotary_emb::rope_i(&x.contiguous()?, &cos, &sin),
        }
    }
}

/// Llama 3.1's frequency-dependent RoPE scaling.
fn llama3_scale(inv_freq: &mut [f32], factor: f64, low: f64, high: f64, original: f64) {
    let low_wavelen = original / low;
    let high_wavelen = original / high;
    for f in inv_freq.iter_mut() {
        let freq = *f as f64;
        let wavelen = 2.0 * std::f64::consts::PI / freq;
        *f = if wavelen < high_wavelen {
            freq
        } else if wavelen > low_wavelen {
            freq / factor
        } else {
            let smooth = (original / wavelen - low) / (high - low);
            (1.0 - smooth) * freq / factor + smooth * freq
        } as f32;
    }
}

/// The dimension pairs YaRN blends between (`ggml_rope_yarn_corr_dims`, and
/// transformers' `find_correction_range` with `truncate`): pair `i` keeps
/// its frequency below `low`, is interpolated above `high`, and is mixed
/// linearly between. A pair that turns `n` times in `original_context`
/// positions sits at `dims × ln(original_context / (2πn)) / (2 ln θ)`.
fn yarn_ramp(dims: usize, theta: f64, original_context: f64, beta_fast: f64, beta_slow: f64) -> (f64, f64) {
    let pair =
        |turns: f64| dims as f64 * (original_context / (turns * 2.0 * std::f64::consts::PI)).ln() / (2.0 * theta.ln());
    (pair(beta_fast).floor().max(0.0), pair(beta_slow).ceil().min(dims as f64 - 1.0))
}

/// YaRN's frequencies: pair `i`'s is `f / factor` weighted by the ramp
/// `clamp((i − low) / (high − low), 0, 1)` plus `f` weighted by the rest.
fn yarn_scale(inv_freq: &mut [f32], factor: f64, low: f64, high: f64) {
    for (i, f) in inv_freq.iter_mut().enumerate() {
        let ramp = ((i as f64 - low) / (high - low).max(0.001)).clamp(0.0, 1.0);
        let freq = *f as f64;
        *f = (freq / factor * ramp + freq * (1.0 - ramp)) as f32;
    }
}

struct Layer {
    attn_norm: Tensor,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    q_norm: Option<Tensor>,
    k_norm: Option<Tensor>,
    post_attn_norm: Option<Tensor>,
    ffn_norm: Tensor,
    gate: Linear,
    up: Linear,
    down: Linear,
    post_ffn_norm: Option<Tensor>,
    sliding: bool,
}

/// A loaded decoder.
pub struct Model {
    config: ModelConfig,
    embed: Embedding,
    layers: Vec<Layer>,
    final_norm: Tensor,
    head: Linear,
    rope_global: Rope,
    rope_local: Rope,
    device: Device,
    round_like_llama_cpp: bool,
    /// What the weights take in memory.
    pub loaded: LoadedBytes,
}

impl Model {
    /// Build the decoder from its weights.
    pub fn load(
        config: ModelConfig,
        mut loader: Loader<'_>,
        device: &Device,
        round_like_llama_cpp: bool,
    ) -> Result<Self, LoadError> {
        let embed = loader.embedding("token_embd.weight")?;
        let head = if loader.contains("output.weight") { loader.linear("output.weight")? } else { embed.as_linear() };
        let final_norm = loader.dense("output_norm.weight")?;
        let mut layers = Vec::with_capacity(config.num_layers);
        for i in 0..config.num_layers {
            let name = |part: &str| format!("blk.{i}.{part}.weight");
            let optional = |loader: &mut Loader<'_>, part: &str| -> Result<Option<Tensor>, LoadError> {
                let n = name(part);
                if loader.contains(&n) {
                    loader.dense(&n).map(Some)
                } else {
                    Ok(None)
                }
            };
            let layer = Layer {
                attn_norm: loader.dense(&name("attn_norm"))?,
                q: loader.linear(&name("attn_q"))?,
                k: loader.linear(&name("attn_k"))?,
                v: loader.linear(&name("attn_v"))?,
                o: loader.linear(&name("attn_output"))?,
                q_norm: if config.qk_norm { optional(&mut loader, "attn_q_norm")? } else { None },
                k_norm: if config.qk_norm { optional(&mut loader, "attn_k_norm")? } else { None },
                post_attn_norm: if config.post_norms { optional(&mut loader, "post_attention_norm")? } else { None },
                ffn_norm: loader.dense(&name("ffn_norm"))?,
                gate: loader.linear(&name("ffn_gate"))?,
                up: loader.linear(&name("ffn_up"))?,
                down: loader.linear(&name("ffn_down"))?,
                post_ffn_norm: if config.post_norms { optional(&mut loader, "post_ffw_norm")? } else { None },
                sliding: config.is_sliding(i),
            };
            layers.push(layer);
        }
        // Llama 3 GGUFs carry their scaled RoPE frequencies as a tensor of divisors.
        let freq_factors = if loader.contains("rope_freqs.weight") {
            let t = loader.dense("rope_freqs.weight")?;
            Some(
                t.to_vec1::<f32>()
                    .map_err(|e| LoadError::Format(format!("rope_freqs.weight: {}", super::describe(&e))))?,
            )
        } else {
            None
        };
        let rope_err = |e: candle_core::Error| LoadError::Format(format!("rotary tables: {}", super::describe(&e)));
        let rope_global = Rope::new(&config, config.rope_theta, config.rope_scaling, freq_factors.as_deref(), device)
            .map_err(rope_err)?;
        // Sliding-window layers are never scaled (Gemma 3, as in llama.cpp and transformers).
        let rope_local =
            Rope::new(&config, config.rope_theta_local, RopeScaling::None, None, device).map_err(rope_err)?;
        Ok(Model {
            embed,
            layers,
            final_norm,
            head,
            rope_global,
            rope_local,
            device: device.clone(),
            round_like_llama_cpp,
            loaded: loader.loaded,
            config,
        })
    }

    /// The model's hyperparameters.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// A cache for a new sequence.
    pub fn new_cache(&self) -> KvCache {
        KvCache { layers: vec![None; self.config.num_layers], len: 0 }
    }

    /// Run `tokens` (the positions right after those in `cache`) through the
    /// decoder. Returns the final-normed hidden states, shape `(tokens, hidden)`.
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> candle_core::Result<Tensor> {
        let seq = tokens.len();
        let offset = cache.len;
        if offset + seq > self.config.context_length {
            candle_core::bail!(
                "{} positions exceed the model's context length of {}",
                offset + seq,
                self.config.context_length
            );
        }
        let ids = Tensor::from_slice(tokens, (1, seq), &self.device)?;
        let mut x = self.embed.forward(&ids)?;
        if self.config.scale_embeddings {
            x = (x * (self.config.hidden_size as f64).sqrt())?;
        }
        let global_mask = additive_mask(seq, offset, None, &self.device)?;
        let local_mask = match self.config.sliding_window {
            Some(window) => Some(additive_mask(seq, offset, Some(window), &self.device)?),
            None => None,
        };
        for (i, layer) in self.layers.iter().enumerate() {
            let mask = match (&local_mask, layer.sliding) {
                (Some(local), true) => local,
                _ => &global_mask,
            };
            let slot = &mut cache.layers[i];
            x = self.layer(layer, &x, offset, mask, slot)?;
        }
        cache.len += seq;
        let x = self.rms_norm(&x, &self.final_norm)?;
        x.squeeze(0)
    }

    /// Logits for hidden states of shape `(n, hidden)`: `(n, vocab)`.
    pub fn logits(&self, hidden: &Tensor) -> candle_core::Result<Tensor> {
        self.head.forward(hidden)?.to_dtype(DType::F32)
    }

    fn rms_norm(&self, x: &Tensor, weight: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::rms_norm(&x.contiguous()?, weight, self.config.rms_norm_eps as f32)
    }

    fn layer(
        &self,
        layer: &Layer,
        x: &Tensor,
        offset: usize,
        mask: &Tensor,
        slot: &mut Option<(Tensor, Tensor)>,
    ) -> candle_core::Result<Tensor> {
        let c = &self.config;
        let (b, seq, _) = x.dims3()?;
        let h = self.rms_norm(x, &layer.attn_norm)?;
        let q = layer.q.forward(&h)?.reshape((b, seq, c.num_heads, c.head_dim))?.transpose(1, 2)?;
        let k = layer.k.forward(&h)?.reshape((b, seq, c.num_kv_heads, c.head_dim))?.transpose(1, 2)?;
        let v = layer.v.forward(&h)?.reshape((b, seq, c.num_kv_heads, c.head_dim))?.transpose(1, 2)?;
        let q = match &layer.q_norm {
            Some(w) => self.rms_norm(&q, w)?,
            None => q,
        };
        let k = match &layer.k_norm {
            Some(w) => self.rms_norm(&k, w)?,
            None => k,
        };
        let rope = if layer.sliding { &self.rope_local } else { &self.rope_global };
        let q = (rope.apply(&q, offset, c.rope_style)? * c.attention_scale)?;
        let k = rope.apply(&k, offset, c.rope_style)?;
        let v = v.contiguous()?;
        let (q, k, v) =
            if self.round_like_llama_cpp { (round_f16(&q)?, round_f16(&k)?, round_f16(&v)?) } else { (q, k, v) };
        let (k, v) = match slot.take() {
            Some((past_k, past_v)) => (Tensor::cat(&[&past_k, &k], 2)?, Tensor::cat(&[&past_v, &v], 2)?),
            None => (k, v),
        };
        *slot = Some((k.clone(), v.clone()));
        let window = c.sliding_window.filter(|_| layer.sliding);
        let attended = attention(&q, &k, &v, Visible { mask, offset, window }, c.num_heads, c.num_kv_heads)?;
        let attended = attended.transpose(1, 2)?.reshape((b, seq, c.num_heads * c.head_dim))?;
        let mut out = layer.o.forward(&attended)?;
        if let Some(w) = &layer.post_attn_norm {
            out = self.rms_norm(&out, w)?;
        }
        let x = (x + out)?;
        let h = self.rms_norm(&x, &layer.ffn_norm)?;
        let gated = gated_activation(
            &layer.gate.forward(&h)?,
            &layer.up.forward(&h)?,
            c.activation,
            self.round_like_llama_cpp,
        )?;
        let mut out = layer.down.forward(&gated)?;
        if let Some(w) = &layer.post_ffn_norm {
            out = self.rms_norm(&out, w)?;
        }
        x + out
    }
}

/// Additive mask `(seq, offset + seq)` for queries at positions `offset..offset + seq`:
/// 0 where a query may attend (not the future, and within `window` if any), −∞ elsewhere.
fn additive_mask(seq: usize, offset: usize, window: Option<usize>, device: &Device) -> candle_core::Result<Tensor> {
    let total = offset + seq;
    let mut mask = vec![0f32; seq * total];
    for q in 0..seq {
        let q_pos = offset + q;
        for k_pos in 0..total {
            let future = k_pos > q_pos;
            let outside = window.is_some_and(|w| q_pos - k_pos.min(q_pos) >= w);
            if future || outside {
                mask[q * total + k_pos] = f32::NEG_INFINITY;
            }
        }
    }
    Tensor::from_vec(mask, (seq, total), device)
}

/// Round to the nearest f16 and back: llama.cpp keeps keys and values in an
/// f16 cache, multiplies f16 queries by them, and looks GELU up in an f16
/// table; doing the same makes "stored" weights reproduce its numbers.
fn round_f16(x: &Tensor) -> candle_core::Result<Tensor> {
    x.to_dtype(DType::F16)?.to_dtype(DType::F32)
}

/// Which keys each query may attend to: the additive `mask` `(seq, offset + seq)`
/// built by [`additive_mask`] for these queries, and what it was built from.
struct Visible<'a> {
    mask: &'a Tensor,
    offset: usize,
    window: Option<usize>,
}

/// Queries per block of causal attention: a block multiplies only the keys
/// it can see, which skips nearly half the work of a long prompt.
const QUERY_BLOCK: usize = 64;

/// Attention of the queries `q` `(b, heads, seq, head_dim)` over keys and
/// values `(b, kv_heads, offset + seq, head_dim)`, a block of queries at a time.
fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    visible: Visible<'_>,
    heads: usize,
    kv_heads: usize,
) -> candle_core::Result<Tensor> {
    let seq = q.dim(2)?;
    if seq <= QUERY_BLOCK {
        return attend(q, k, v, visible.mask, heads, kv_heads);
    }
    let mut blocks = Vec::with_capacity(seq.div_ceil(QUERY_BLOCK));
    for first in (0..seq).step_by(QUERY_BLOCK) {
        let len = QUERY_BLOCK.min(seq - first);
        // The block's last query sees up to its own position; its first one
        // no further back than the sliding window.
        let end = visible.offset + first + len;
        let start = visible.window.map_or(0, |w| (visible.offset + first + 1).saturating_sub(w));
        let keys = end - start;
        let mask = visible.mask.narrow(0, first, len)?.narrow(1, start, keys)?;
        let (k, v) = (k.narrow(2, start, keys)?, v.narrow(2, start, keys)?.contiguous()?);
        blocks.push(attend(&q.narrow(2, first, len)?, &k, &v, &mask, heads, kv_heads)?);
    }
    Tensor::cat(&blocks, 2)
}

/// Grouped-query attention without copying keys per query head: the query
/// heads that share a key head are stacked along the sequence axis instead.
fn attend(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &Tensor,
    heads: usize,
    kv_heads: usize,
) -> candle_core::Result<Tensor> {
    let (b, _, seq, head_dim) = q.dims4()?;
    let total = k.dim(2)?;
    let group = heads / kv_heads;
    let q = q.contiguous()?.reshape((b, kv_heads, group * seq, head_dim))?;
    let scores = q.matmul(&k.t()?.contiguous()?)?.reshape((b, heads, seq, total))?;
    let scores = scores.broadcast_add(mask)?;
    let probs = candle_nn::ops::softmax_last_dim(&scores)?;
    let probs = probs.reshape((b, kv_heads, group * seq, total))?;
    probs.matmul(v)?.reshape((b, heads, seq, head_dim))
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("config", &self.config).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_attention_equals_attention_over_every_key() {
        let device = Device::Cpu;
        let (heads, kv_heads, head_dim, offset) = (4, 2, 8, 10);
        let seq = 2 * QUERY_BLOCK + 22;
        let total = offset + seq;
        let q = Tensor::randn(0f32, 1.0, (1, heads, seq, head_dim), &device).unwrap();
        let k = Tensor::randn(0f32, 1.0, (1, kv_heads, total, head_dim), &device).unwrap();
        let v = Tensor::randn(0f32, 1.0, (1, kv_heads, total, head_dim), &device).unwrap();
        for window in [None, Some(40)] {
            let mask = additive_mask(seq, offset, window, &device).unwrap();
            let blocked = attention(&q, &k, &v, Visible { mask: &mask, offset, window }, heads, kv_heads).unwrap();
            let whole = attend(&q, &k, &v, &mask, heads, kv_heads).unwrap();
            let gap = (blocked - whole).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap();
            assert!(gap.to_scalar::<f32>().unwrap() < 1e-5, "window {window:?}");
        }
    }
}
