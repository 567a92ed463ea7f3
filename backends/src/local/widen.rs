//! Symmetric 32-value blocks (Q8_0, Q4_0, Q5_0) read as a scale and 32 signed bytes.
//!
//! A Q4_0 or Q5_0 block is an f16 scale `d` and 32 small integers `q`, the
//! weights being `d × (q − 8)` or `d × (q − 16)`. Q8_0 is the same scale with
//! 32 signed bytes, so each block widens to a Q8_0 block holding exactly the
//! same weights. llama.cpp multiplies all three types against Q8_0 activations
//! with integer dot products, so the widened matrix gives the same integer
//! sums as the original, and all three run on evalkit's Q8_0 kernels
//! ([`super::int8`]) where candle has only scalar code for Q4_0/Q5_0. The price
//! is memory: a byte a weight instead of half or five eighths of one.

use candle_core::quantized::GgmlDType;
use half::f16;

/// Values per block.
pub const BLOCK: usize = 32;

/// Whether [`unpack_block`] reads `dtype` exactly.
pub fn widens_to_q8_0(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q8_0 | GgmlDType::Q4_0 | GgmlDType::Q5_0)
}

/// One block of `dtype` (its raw bytes): writes the 32 weights' integers to
/// `values` and returns the scale. `dtype` must be one [`widens_to_q8_0`] accepts.
pub fn unpack_block(dtype: GgmlDType, block: &[u8], values: &mut [i8; BLOCK]) -> f32 {
    let (scale, rest) = block.split_at(2);
    match dtype {
        GgmlDType::Q8_0 => values.iter_mut().zip(rest).for_each(|(v, &b)| *v = b as i8),
        GgmlDType::Q4_0 => unpack_q4_0(rest, values),
        GgmlDType::Q5_0 => unpack_q5_0(rest, values),
        other => unreachable!("{other:?} blocks do not widen to Q8_0; callers check widens_to_q8_0"),
    }
    f16::from_le_bytes([scale[0], scale[1]]).to_f32()
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
    use candle_core::quantized::QTensor;
    use candle_core::{Device, Tensor};

    #[test]
    fn widened_blocks_hold_exactly_the_same_weights() {
        let device = Device::Cpu;
        let values: Vec<f32> = (0..4 * 256).map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0).collect();
        let weights = Tensor::from_vec(values, (4, 256), &device).unwrap();
        for dtype in [GgmlDType::Q4_0, GgmlDType::Q5_0, GgmlDType::Q8_0] {
            let quantized = QTensor::quantize(&weights, dtype).unwrap();
            let exact = quantized.dequantize(&device).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let data = quantized.data().unwrap();
            let mut widened = Vec::new();
            let mut ints = [0i8; BLOCK];
            for block in data.chunks_exact(dtype.type_size()) {
                let scale = unpack_block(dtype, block, &mut ints);
                widened.extend(ints.iter().map(|&q| f32::from(q) * scale));
            }
            assert_eq!(widened, exact, "{dtype:?}");
        }
        assert!(!widens_to_q8_0(GgmlDType::Q4K));
    }
}
