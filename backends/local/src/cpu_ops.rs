//! Fused CPU kernels for the element-wise steps around the matrix products.
//!
//! candle runs `gelu(gate) * up` or a log-softmax over a 262k vocabulary as a
//! chain of generic ops, each one a full pass over memory with its own
//! allocation. On two cores those passes cost as much as the matrix products
//! they sit between, so the hot ones are written here as single passes over
//! slices, split across threads with rayon. Each op has a candle-op fallback
//! for tensors that do not live on the CPU (CUDA builds).

use std::sync::OnceLock;

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Shape, Tensor, D};
use half::f16;
use rayon::prelude::*;

use super::act_quant::round_ties_even;
use super::config::Activation;

/// Elements per rayon task: big enough that scheduling is noise.
const PARALLEL_CHUNK: usize = 1 << 14;

fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> candle_core::Result<&'a [f32]> {
    let data = storage.as_slice::<f32>()?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{op} needs a contiguous f32 tensor"),
    }
}

/// `activation(gate) * up` in one pass.
///
/// With `like_llama_cpp`, GELU is llama.cpp's: the input rounded to f16 and
/// looked up in a table of f16 results (`ggml_vec_geglu_f32` with
/// `GGML_GELU_FP16`, the CPU default), so "stored" weights reproduce its
/// numbers. Otherwise it is the exact tanh approximation.
pub fn gated_activation(
    gate: &Tensor,
    up: &Tensor,
    activation: Activation,
    like_llama_cpp: bool,
) -> candle_core::Result<Tensor> {
    if !gate.device().is_cpu() || gate.dtype() != DType::F32 {
        let gate = match activation {
            Activation::GeluTanh if like_llama_cpp => gate.to_dtype(DType::F16)?.to_dtype(gate.dtype())?.gelu()?,
            Activation::GeluTanh => gate.gelu()?,
            Activation::Silu => candle_nn::ops::silu(gate)?,
        };
        return gate * up;
    }
    gate.contiguous()?.apply_op2_no_bwd(&up.contiguous()?, &GatedActivation { activation, like_llama_cpp })
}

struct GatedActivation {
    activation: Activation,
    like_llama_cpp: bool,
}

impl CustomOp2 for GatedActivation {
    fn name(&self) -> &'static str {
        "gated-activation"
    }

    fn cpu_fwd(
        &self,
        gate_storage: &CpuStorage,
        gate_layout: &Layout,
        up_storage: &CpuStorage,
        up_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let gate = contiguous_f32(gate_storage, gate_layout, self.name())?;
        let up = contiguous_f32(up_storage, up_layout, self.name())?;
        if gate_layout.shape() != up_layout.shape() {
            candle_core::bail!("gate {:?} and up {:?} differ in shape", gate_layout.shape(), up_layout.shape());
        }
        let mut out = vec![0f32; gate.len()];
        let chunks =
            out.par_chunks_mut(PARALLEL_CHUNK).zip(gate.par_chunks(PARALLEL_CHUNK).zip(up.par_chunks(PARALLEL_CHUNK)));
        match (self.activation, self.like_llama_cpp) {
            (Activation::GeluTanh, true) => {
                let table = gelu_f16_table();
                chunks.for_each(|(out, (gate, up))| {
                    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
                        *o = gelu_like_llama_cpp(table, g) * u;
                    }
                });
            }
            (Activation::GeluTanh, false) => chunks.for_each(|(out, (gate, up))| {
                for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
                    *o = gelu_tanh(g) * u;
                }
            }),
            (Activation::Silu, _) => chunks.for_each(|(out, (gate, up))| {
                for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
                    *o = g / (1.0 + (-g).exp()) * u;
                }
            }),
        }
        Ok((CpuStorage::F32(out), gate_layout.shape().clone()))
    }
}

/// GELU, tanh approximation, in llama.cpp's f32 arithmetic (`ggml_gelu_f32`).
fn gelu_tanh(x: f32) -> f32 {
    // Written as in ggml so the f32 constant rounds identically.
    #[allow(clippy::excessive_precision)]
    const SQRT_2_OVER_PI: f32 = 0.797_884_560_802_865_4;
    const COEF_A: f32 = 0.044_715;
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * x * (1.0 + COEF_A * x * x)).tanh())
}

/// `ggml_table_gelu_f16`: GELU of every f16 value, rounded to f16.
fn gelu_f16_table() -> &'static [f16] {
    static TABLE: OnceLock<Vec<f16>> = OnceLock::new();
    TABLE.get_or_init(|| (0..=u16::MAX).map(|bits| f16::from_f32(gelu_tanh(f16::from_bits(bits).to_f32()))).collect())
}

fn gelu_like_llama_cpp(table: &[f16], x: f32) -> f32 {
    if x <= -10.0 {
        0.0
    } else if x >= 10.0 {
        x
    } else {
        table[usize::from(f16::from_f32(x).to_bits())].to_f32()
    }
}

/// For each row `r` of `logits` (`rows × vocab`), the log-probability of
/// `targets[r]` under the row's softmax, in f64 like llama.cpp's perplexity
/// tool, and whether the target is the row's most likely token.
pub fn target_logprobs(logits: &Tensor, targets: &[u32]) -> candle_core::Result<Vec<(f64, bool)>> {
    let (rows, vocab) = logits.dims2()?;
    if rows != targets.len() {
        candle_core::bail!("{rows} logit rows for {} targets", targets.len());
    }
    if let Some(&bad) = targets.iter().find(|&&t| t as usize >= vocab) {
        candle_core::bail!("target token {bad} is outside the vocabulary of {vocab}");
    }
    if !logits.device().is_cpu() {
        return target_logprobs_candle(logits, targets);
    }
    let logits = logits.to_dtype(DType::F32)?.contiguous()?;
    let (storage, layout) = logits.storage_and_layout();
    let candle_core::Storage::Cpu(cpu) = &*storage else { unreachable!("checked: the tensor is on the CPU") };
    let data = contiguous_f32(cpu, layout, "target_logprobs")?;
    Ok(data
        .par_chunks(vocab)
        .zip(targets.par_iter())
        .map(|(row, &target)| {
            let (max, argmax) = row_max(row);
            let sum = sum_exp(row, max);
            let logit = row[target as usize];
            (f64::from(logit - max) - sum.ln(), argmax == target as usize)
        })
        .collect())
}

/// `Σ e^(v − max)` over a row: f32 sums of 1024 values, added in f64.
fn sum_exp(row: &[f32], max: f32) -> f64 {
    // Plain loops, no iterator adapters: `Iterator::sum` and friends are
    // separate functions that would be compiled without AVX2 even when called
    // from the vectorized copy below.
    #[inline(always)]
    fn sum(row: &[f32], max: f32) -> f64 {
        let mut total = 0f64;
        for c in row.chunks(1024) {
            // Eight running sums, not one: a single f32 sum is a chain the
            // compiler may not reorder, which keeps the exp scalar too.
            let mut lanes = [0f32; 8];
            let mut blocks = c.chunks_exact(8);
            for block in &mut blocks {
                for (lane, &v) in lanes.iter_mut().zip(block) {
                    *lane += exp_approx(v - max);
                }
            }
            let mut tail = 0f32;
            for &v in blocks.remainder() {
                tail += exp_approx(v - max);
            }
            let mut chunk = 0f32;
            for lane in lanes {
                chunk += lane;
            }
            total += f64::from(chunk + tail);
        }
        total
    }
    // Compiled again with AVX2 and FMA where the CPU has them: twice the lanes of the baseline SSE2.
    vectorized(|| sum(row, max))
}

/// Runs `f` compiled for AVX2 and FMA where the CPU has them. Everything `f`
/// does must be inlined into it (`#[inline(always)]`, plain loops) to benefit:
/// a function it calls is compiled for the baseline.
#[inline(always)]
pub(super) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return pulp::Simd::vectorize(simd, f);
    }
    f()
}

/// The largest value and the first index holding it.
fn row_max(row: &[f32]) -> (f32, usize) {
    // Lane-wise maxima first so the loop vectorizes; the index is found after.
    let mut lanes = [f32::NEG_INFINITY; 8];
    let mut blocks = row.chunks_exact(8);
    for block in &mut blocks {
        for (lane, &v) in lanes.iter_mut().zip(block) {
            *lane = lane.max(v);
        }
    }
    let max = blocks.remainder().iter().chain(&lanes).fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    (max, row.iter().position(|&v| v == max).unwrap_or(0))
}

#[inline(always)]
/// `e^x` for `x <= 0` to within 2 ulp, in straight-line arithmetic that the
/// compiler vectorizes (libm's `expf` is a call per element). Cephes' method:
/// `x = n ln2 + r`, a degree-6 polynomial for `e^r`, then `2^n` by exponent bits.
fn exp_approx(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Below this, e^x is under f32's smallest normal: flush to zero.
    let x = x.max(-87.0);
    // Nearest integer without an SSE4.1 round instruction.
    let n = round_ties_even(x * LOG2E);
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5e-1;
    let e = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    e * scale
}

/// The same computation with candle ops, for tensors on other devices.
fn target_logprobs_candle(logits: &Tensor, targets: &[u32]) -> candle_core::Result<Vec<(f64, bool)>> {
    let rows = logits.dim(0)?;
    let logits = logits.to_dtype(DType::F32)?;
    let max = logits.max_keepdim(D::Minus1)?;
    let shifted = logits.broadcast_sub(&max)?;
    let sum_exp = shifted.exp()?.sum_keepdim(D::Minus1)?.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let ids = Tensor::from_slice(targets, (rows, 1), logits.device())?;
    let target = shifted.gather(&ids, 1)?.flatten_all()?.to_vec1::<f32>()?;
    let best = logits.argmax(D::Minus1)?.to_vec1::<u32>()?;
    Ok((0..rows).map(|r| (f64::from(target[r]) - sum_exp[r].ln(), best[r] == targets[r])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn exp_approx_is_within_two_ulp_of_libm() {
        let mut x = -87.0f32;
        while x <= 0.0 {
            let (ours, libm) = (exp_approx(x), x.exp());
            assert!((ours - libm).abs() <= 2.0 * f32::EPSILON * libm, "e^{x}: {ours} vs {libm}");
            x += 0.013;
        }
        assert_eq!(exp_approx(0.0), 1.0);
        assert_eq!(exp_approx(-200.0), exp_approx(-87.0));
    }

    #[test]
    fn target_logprobs_match_the_candle_computation() {
        let (rows, vocab) = (5, 3001);
        let values: Vec<f32> = (0..rows * vocab).map(|i| ((i * 7919) % 1000) as f32 / 37.0 - 13.0).collect();
        let logits = Tensor::from_vec(values, (rows, vocab), &Device::Cpu).unwrap();
        let targets = [0u32, 17, 3000, 999, 42];
        let fast = target_logprobs(&logits, &targets).unwrap();
        let reference = target_logprobs_candle(&logits, &targets).unwrap();
        for ((a, greedy_a), (b, greedy_b)) in fast.iter().zip(&reference) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            assert_eq!(greedy_a, greedy_b);
        }
        assert!(target_logprobs(&logits, &[0, 0, 0, 0, 3001]).is_err());
    }

    #[test]
    fn gelu_table_matches_llama_cpp_cutoffs_and_rounding() {
        let table = gelu_f16_table();
        assert_eq!(gelu_like_llama_cpp(table, -12.0), 0.0);
        assert_eq!(gelu_like_llama_cpp(table, 11.0), 11.0);
        let x = 0.123_456_f32;
        let expected = f16::from_f32(gelu_tanh(f16::from_f32(x).to_f32())).to_f32();
        assert_eq!(gelu_like_llama_cpp(table, x), expected);
    }

    #[test]
    fn fused_gated_activation_matches_candle_ops() {
        let gate = Tensor::from_vec((0..4096).map(|i| (i as f32 - 2048.0) / 300.0).collect(), (4, 1024), &Device::Cpu)
            .unwrap();
        let up = (gate.clone() * 0.5).unwrap().cos().unwrap();
        for activation in [Activation::GeluTanh, Activation::Silu] {
            let fused = gated_activation(&gate, &up, activation, false).unwrap();
            let reference = match activation {
                Activation::GeluTanh => gate.gelu().unwrap(),
                Activation::Silu => candle_nn::ops::silu(&gate).unwrap(),
            };
            let reference = (reference * &up).unwrap();
            let gap = (fused - reference).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(gap < 1e-5, "{activation:?}: {gap}");
        }
    }
}
