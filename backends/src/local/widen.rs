//! Exact re-encoding of symmetric 4- and 5-bit blocks as Q8_0.
//!
//! A Q4_0 or Q5_0 block is an f16 scale `d` and 32 small integers `q`, the
//! weights being `d × (q − 8)` or `d × (q − 16)`. Q8_0 is the same scale with
//! 32 signed bytes, so each block maps to a Q8_0 block holding exactly the same
//! weights. llama.cpp multiplies all three types against Q8_0 activations with
//! integer dot products, so the re-encoded matrix gives the same integer sums
//! as the original, and it runs on candle's SIMD Q8_0 kernel where Q4_0/Q5_0
//! would run on scalar code. The price is memory: 34 bytes a block instead of
//! 18 (Q4_0) or 22 (Q5_0).

use candle_core::quantized::{ggml_file::qtensor_from_ggml, GgmlDType, QTensor};
use candle_core::Device;

const BLOCK: usize = 32;
const Q8_0_BYTES: usize = 2 + BLOCK;

/// Whether [`widen_to_q8_0`] can re-encode `dtype` exactly.
pub fn widens_to_q8_0(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_0 | GgmlDType::Q5_0)
}

/// The same weights as Q8_0 blocks; `None` for block types that do not widen exactly.
pub fn widen_to_q8_0(tensor: &QTensor, device: &Device) -> candle_core::Result<Option<QTensor>> {
    let dtype = tensor.dtype();
    if !widens_to_q8_0(dtype) {
        return Ok(None);
    }
    let data = tensor.data()?;
    let block_bytes = dtype.type_size();
    let mut out = Vec::with_capacity(data.len() / block_bytes * Q8_0_BYTES);
    let mut values = [0i8; BLOCK];
    for block in data.chunks_exact(block_bytes) {
        let (scale, rest) = block.split_at(2);
        match dtype {
            GgmlDType::Q4_0 => unpack_q4_0(rest, &mut values),
            GgmlDType::Q5_0 => unpack_q5_0(rest, &mut values),
            _ => unreachable!("checked by widens_to_q8_0"),
        }
        out.extend_from_slice(scale);
        out.extend(values.iter().map(|&v| v as u8));
    }
    qtensor_from_ggml(GgmlDType::Q8_0, &out, tensor.shape().dims().to_vec(), device).map(Some)
}

/// `block_q4_0` after its scale: 16 bytes, low nibbles are values 0..16, high nibbles 16..32.
fn unpack_q4_0(qs: &[u8], values: &mut [i8; BLOCK]) {
    for (j, &byte) in qs.iter().enumerate() {
        values[j] = (byte & 0x0F) as i8 - 8;
        values[j + BLOCK / 2] = (byte >> 4) as i8 - 8;
    }
}

/// `block_q5_0` after its scale: 4 bytes holding the fifth bit of each value, then nibbles as in Q4_0.
fn unpack_q5_0(rest: &[u8], values: &mut [i8; BLOCK]) {
    let (high, qs) = rest.split_at(4);
    let high = u32::from_le_bytes([high[0], high[1], high[2], high[3]]);
    for (j, &byte) in qs.iter().enumerate() {
        let bit_low = ((high >> j) & 1) as u8;
        let bit_high = ((high >> (j + 16)) & 1) as u8;
        values[j] = ((byte & 0x0F) | (bit_low << 4)) as i8 - 16;
        values[j + BLOCK / 2] = ((byte >> 4) | (bit_high << 4)) as i8 - 16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Tensor;

    #[test]
    fn widened_blocks_hold_exactly_the_same_weights() {
        let device = Device::Cpu;
        let values: Vec<f32> = (0..4 * 256).map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0).collect();
        let weights = Tensor::from_vec(values, (4, 256), &device).unwrap();
        for dtype in [GgmlDType::Q4_0, GgmlDType::Q5_0] {
            let quantized = QTensor::quantize(&weights, dtype).unwrap();
            let widened = widen_to_q8_0(&quantized, &device).unwrap().expect("widens");
            assert_eq!(widened.dtype(), GgmlDType::Q8_0);
            let a = quantized.dequantize(&device).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let b = widened.dequantize(&device).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(a, b, "{dtype:?}");
        }
        let k_quant = QTensor::quantize(&weights, GgmlDType::Q4K).unwrap();
        assert!(widen_to_q8_0(&k_quant, &device).unwrap().is_none());
    }
}
