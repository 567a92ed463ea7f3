//! llama.cpp quantizes activations before every quantized matrix product
//! (to Q8_0 blocks for Q4_0/Q5_0/Q8_0 weights, Q8_1 for Q4_1/Q5_1, Q8_K
//! blocks for K-quants) and multiplies integers; before a product with f16 or
//! bf16 weights it rounds them to f16 or bf16. Rounding activations the same
//! way before an f32 product with the exactly converted weights gives the same
//! numbers, up to summation order.

use candle_core::quantized::GgmlDType;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::cpu_ops::vectorized;

/// What llama.cpp turns activations into before a product with weights of a
/// given type (its `vec_dot_type`), kept as the f32 values that stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// 8-bit blocks with a scale (quantized weights).
    Blocks(ActQuant),
    /// Every value to f16, to nearest even (F16 weights).
    F16,
    /// Every value to bf16, to nearest even (BF16 weights).
    Bf16,
}

impl Rounding {
    /// For weights stored as `dtype`; `None` for f32 weights (no rounding).
    pub fn for_weights(dtype: GgmlDType) -> Option<Self> {
        match dtype {
            GgmlDType::F16 => Some(Rounding::F16),
            GgmlDType::BF16 => Some(Rounding::Bf16),
            other => ActQuant::for_weights(other).map(Rounding::Blocks),
        }
    }

    /// Values rounded together.
    fn block(self) -> usize {
        match self {
            Rounding::Blocks(q) => q.block(),
            Rounding::F16 | Rounding::Bf16 => 1,
        }
    }

    /// Whole blocks of values, in place.
    #[inline(always)]
    fn round(self, values: &mut [f32]) {
        match self {
            Rounding::Blocks(q) => {
                for block in values.chunks_mut(q.block()) {
                    q.round_block(block);
                }
            }
            Rounding::F16 => values.iter_mut().for_each(|v| *v = half::f16::from_f32(*v).to_f32()),
            Rounding::Bf16 => values.iter_mut().for_each(|v| *v = half::bf16::from_f32(*v).to_f32()),
        }
    }

    /// Round `x` (any shape) as llama.cpp would; a tensor whose last dimension
    /// is not a whole number of blocks is returned as it is.
    pub fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        let shape = x.shape().clone();
        if shape.dims().last().is_none_or(|&k| k % self.block() != 0) {
            return Ok(x.clone());
        }
        if x.device().is_cpu() && x.dtype() == DType::F32 {
            // One parallel pass over the storage, no round trip through a Vec.
            return x.contiguous()?.apply_op1_no_bwd(&RoundActivations(self));
        }
        let mut data = x.flatten_all()?.to_vec1::<f32>()?;
        self.round(&mut data);
        Tensor::from_vec(data, shape, x.device())
    }
}

/// The 8-bit activation block format llama.cpp pairs with a weight block type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActQuant {
    /// 32 values, scale `amax / 127` stored as f16.
    Q8_0,
    /// Q8_0's values and scale, plus the block's sum `d × Σ q` stored as f16,
    /// which multiplies the weights' minimum.
    Q8_1,
    /// 256 values, scale `-max / 127` stored as f32 (max: the value of largest magnitude).
    Q8K,
}

impl ActQuant {
    /// For weights stored as `dtype`; `None` for float weights.
    pub fn for_weights(dtype: GgmlDType) -> Option<Self> {
        use GgmlDType::*;
        match dtype {
            Q4_0 | Q5_0 | Q8_0 => Some(ActQuant::Q8_0),
            Q4_1 | Q5_1 | Q8_1 => Some(ActQuant::Q8_1),
            Q2K | Q3K | Q4K | Q5K | Q6K | Q8K => Some(ActQuant::Q8K),
            _ => None,
        }
    }

    /// Values per block.
    pub fn block(self) -> usize {
        match self {
            ActQuant::Q8_0 | ActQuant::Q8_1 => 32,
            ActQuant::Q8K => 256,
        }
    }

    /// One block (`self.block()` values) as llama.cpp stores it: writes the
    /// integers to `values` and returns the scale.
    #[inline(always)]
    pub fn quantize(self, block: &[f32], values: &mut [i8]) -> f32 {
        match self {
            ActQuant::Q8_0 | ActQuant::Q8_1 => quantize_q8_0(block, values),
            ActQuant::Q8K => quantize_q8_k(block, values),
        }
    }

    /// What multiplies the weights' minimums, per piece of `block.len() /
    /// out.len()` values, for a block [`Self::quantize`] turned into `values`
    /// and `scale`: `scale × Σ values` per piece (Q8_K's `bsums`), or for
    /// Q8_1 the whole block's f16 sum in the first piece and zeros after it
    /// (Q4_1/Q5_1 have one minimum per block).
    #[inline(always)]
    pub fn sums_for_minimums(self, block: &[f32], values: &[i8], scale: f32, out: &mut [f32]) {
        let piece = values.len() / out.len().max(1);
        match self {
            ActQuant::Q8_1 => {
                // `quantize_row_q8_1` multiplies by the unrounded `amax / 127`.
                out.fill(0.0);
                out[0] = half::f16::from_f32(abs_max(block) / 127.0 * int_sum(values) as f32).to_f32();
            }
            ActQuant::Q8_0 | ActQuant::Q8K => {
                for (o, p) in out.iter_mut().zip(values.chunks_exact(piece)) {
                    *o = scale * int_sum(p) as f32;
                }
            }
        }
    }

    /// Round one block in place: the values llama.cpp's integers and scale stand for.
    #[inline(always)]
    pub fn round_block(self, block: &mut [f32]) {
        let mut values = [0i8; 256];
        let values = &mut values[..block.len()];
        let scale = self.quantize(block, values);
        for (v, &q) in block.iter_mut().zip(values.iter()) {
            *v = f32::from(q) * scale;
        }
    }
}

struct RoundActivations(Rounding);

impl CustomOp1 for RoundActivations {
    fn name(&self) -> &'static str {
        "round-activations"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("{} needs a contiguous tensor", self.name())
        };
        let mut data = storage.as_slice::<f32>()?[start..end].to_vec();
        let block = self.0.block();
        // A few thousand values per task, whole blocks each.
        data.par_chunks_mut(block * (16_384 / block).max(1)).for_each(|chunk| vectorized(|| self.0.round(chunk)));
        Ok((CpuStorage::F32(data), layout.shape().clone()))
    }
}

/// One block as llama.cpp's AVX2 `quantize_row_q8_0` stores it: writes the
/// integers to `values` and returns the scale (f16, as f32). The multiplier is
/// `127 / amax` (not `1 / d`) and rounding is to nearest even.
#[inline(always)]
fn quantize_q8_0(block: &[f32], values: &mut [i8]) -> f32 {
    let amax = abs_max(block);
    let inverse = if amax != 0.0 { 127.0 / amax } else { 0.0 };
    for (q, &v) in values.iter_mut().zip(block) {
        *q = round_ties_even(v * inverse) as i8;
    }
    half::f16::from_f32(amax / 127.0).to_f32()
}

/// One block as llama.cpp's `quantize_row_q8_K` stores it: writes the
/// integers to `values` and returns the scale. The multiplier is `-127 / max`
/// where `max` is the value of largest magnitude, sign included.
#[inline(always)]
fn quantize_q8_k(block: &[f32], values: &mut [i8]) -> f32 {
    let amax = abs_max(block);
    if amax == 0.0 {
        values.fill(0);
        return 0.0;
    }
    // The first value of that magnitude, sign included (ggml keeps the first on ties).
    let max = block.iter().copied().find(|v| v.abs() == amax).unwrap_or(amax);
    let iscale = -127.0 / max;
    for (q, &v) in values.iter_mut().zip(block) {
        // ggml's nearest_int rounds halves to even.
        *q = round_ties_even(iscale * v).min(127.0) as i8;
    }
    1.0 / iscale
}

/// The sum of `values`, exactly.
#[inline(always)]
pub(super) fn int_sum(values: &[i8]) -> i32 {
    let mut sum = 0i32;
    for &v in values {
        sum += i32::from(v);
    }
    sum
}

/// The largest magnitude in `block` (0 for an empty block; NaNs are skipped).
/// Eight running maxima, so the loop vectorizes; the order cannot change a maximum.
#[inline(always)]
fn abs_max(block: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let mut chunks = block.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = lane.max(v.abs());
        }
    }
    let mut amax = 0f32;
    for &v in chunks.remainder().iter().chain(&lanes) {
        amax = amax.max(v.abs());
    }
    amax
}

/// Nearest integer, ties to even, for `|x| < 2^22` (these blocks hold at
/// most 127): adding and subtracting 1.5 × 2^23 rounds in the FPU's default
/// mode and stays inline, where `f32::round_ties_even` is a libm call without SSE4.1.
#[inline(always)]
pub(super) fn round_ties_even(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (x + MAGIC) - MAGIC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_0_rounding_keeps_the_largest_value_and_snaps_the_rest() {
        let mut block: Vec<f32> = (0..32).map(|i| i as f32 / 10.0).collect();
        ActQuant::Q8_0.round_block(&mut block);
        let d = half::f16::from_f32(3.1 / 127.0).to_f32();
        assert!((block[31] - 127.0 * d).abs() < 1e-6);
        assert!(block.iter().all(|v| ((v / d) - (v / d).round()).abs() < 1e-3));
    }

    #[test]
    fn q8_k_rounding_uses_the_signed_maximum() {
        let mut block = vec![0.5f32; 256];
        block[7] = -2.0;
        ActQuant::Q8K.round_block(&mut block);
        assert!((block[7] + 2.0).abs() < 1e-6);
        // 0.5 × 63.5 = 31.75 → 32 steps of 2/127.
        assert!((block[0] - 32.0 * 2.0 / 127.0).abs() < 1e-6);
        // Equal magnitudes: the first one's sign sets the scale's, as in ggml.
        let mut block = vec![0.5f32; 256];
        (block[3], block[200]) = (2.0, -2.0);
        let mut values = [0i8; 256];
        assert_eq!(ActQuant::Q8K.quantize(&block, &mut values), -2.0 / 127.0);
        assert_eq!((values[3], values[200], values[0]), (-127, 127, -32));
    }

    #[test]
    fn half_precision_weights_round_each_activation_to_their_type() {
        use candle_core::Device;
        // 1 + 2^-11 is halfway between two f16 values and rounds to the even one, 1.0;
        // 1 + 3 × 2^-11 rounds up. bf16 keeps 8 bits: 1 + 2^-8 is halfway and goes to 1.0.
        let x = [1.0 + 2f32.powi(-11), 1.0 + 3.0 * 2f32.powi(-11), 1.0 + 2f32.powi(-8), -3.3e-3];
        let x = Tensor::from_slice(&x, (2, 2), &Device::Cpu).unwrap();
        let round = |r: Rounding| r.apply(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let f16 = |v: f32| half::f16::from_f32(v).to_f32();
        assert_eq!(round(Rounding::F16), [1.0, 1.0 + 4.0 * 2f32.powi(-11), f16(1.0 + 2f32.powi(-8)), f16(-3.3e-3)]);
        assert_eq!(round(Rounding::Bf16)[..3], [1.0, 1.0, 1.0]);
        assert_eq!(Rounding::for_weights(GgmlDType::F16), Some(Rounding::F16));
        assert_eq!(Rounding::for_weights(GgmlDType::BF16), Some(Rounding::Bf16));
        assert_eq!(Rounding::for_weights(GgmlDType::F32), None);
        assert_eq!(Rounding::for_weights(GgmlDType::Q4_1), Some(Rounding::Blocks(ActQuant::Q8_1)));
    }

    #[test]
    fn magic_rounding_is_round_ties_even() {
        for i in -2540..=2540 {
            let x = i as f32 / 20.0;
            assert_eq!(round_ties_even(x), x.round_ties_even(), "{x}");
        }
    }
}
