//! Stored weight blocks read as small integers with a scale, and for some
//! types a minimum, per 16 values.
//!
//! Every block type here stores weights as `scale × q − min` with small
//! integers `q`:
//!
//! | type | block | `q` | scale per | min |
//! |---|---|---|---|---|
//! | Q8_0 | 32 | −127..127 | 32 values | none |
//! | Q4_0, Q5_0 | 32 | −8..7, −16..15 | 32 values | none |
//! | Q4_1, Q5_1 | 32 | 0..15, 0..31 | 32 values | `−m`, per 32 |
//! | Q2_K | 256 | 0..3 | 16 values (`d × 4-bit`) | `dmin × 4-bit`, per 16 |
//! | Q3_K | 256 | −4..3 | 16 values (`d × (6-bit − 32)`) | none |
//! | Q4_K, Q5_K | 256 | 0..15, 0..31 | 32 values (`d × 6-bit`) | `dmin × 6-bit`, per 32 |
//! | Q6_K | 256 | −32..31 | 16 values (`d × i8`) | none |
//!
//! All of them fit a byte and a scale per 16 values, so one family of integer
//! kernels ([`super::int8`]) multiplies them all. llama.cpp multiplies them
//! against activations rounded to 8-bit blocks with exact integer dot products
//! (Q8_0 activations for the 32-value types, Q8_K for the K-quants), so the
//! widened matrix gives the same integer sums as the original. The price is
//! memory: a byte a weight, where Q4_K holds 4.5 bits.
//!
//! Apart from Q8_0, the integers are stored shifted to be non-negative
//! (`q + offset`, see [`Encoding`]): an unsigned byte times a signed one is
//! the one product x86 multiplies directly, and small unsigned weights let
//! the kernels add several of them in 16 bits before widening. The offset
//! comes back out exactly, as `offset × Σ activations` per piece in integers.

use candle_core::quantized::GgmlDType;
use half::f16;

/// Values that share one scale slot (and one i32 lane in the kernels).
pub const SUB: usize = 16;

/// Whether [`unpack`] reads `dtype`.
pub fn unpacks(dtype: GgmlDType) -> bool {
    use GgmlDType::*;
    matches!(dtype, Q8_0 | Q4_0 | Q5_0 | Q4_1 | Q5_1 | Q2K | Q3K | Q4K | Q5K | Q6K)
}

/// How the kernels read a block type's stored integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Signed values in −127..=127, as stored (Q8_0).
    Signed,
    /// Values `q + offset` in `0..=max`: the weight is `scale × (value − offset) − min`.
    Unsigned { max: u8, offset: u8 },
}

impl Encoding {
    /// What [`unpack`] writes for `dtype`, one of the types it reads.
    pub fn of(dtype: GgmlDType) -> Encoding {
        use GgmlDType::*;
        match dtype {
            Q4_0 => Encoding::Unsigned { max: 15, offset: 8 },
            Q5_0 => Encoding::Unsigned { max: 31, offset: 16 },
            Q4_1 | Q4K => Encoding::Unsigned { max: 15, offset: 0 },
            Q5_1 | Q5K => Encoding::Unsigned { max: 31, offset: 0 },
            Q2K => Encoding::Unsigned { max: 3, offset: 0 },
            Q3K => Encoding::Unsigned { max: 7, offset: 4 },
            Q6K => Encoding::Unsigned { max: 63, offset: 32 },
            _ => Encoding::Signed,
        }
    }

    /// What is subtracted from a stored value to get `q`.
    pub fn offset(self) -> i32 {
        match self {
            Encoding::Signed => 0,
            Encoding::Unsigned { offset, .. } => i32::from(offset),
        }
    }
}

/// Whether `dtype`'s weights carry a minimum to subtract.
pub fn has_mins(dtype: GgmlDType) -> bool {
    use GgmlDType::*;
    matches!(dtype, Q4_1 | Q5_1 | Q2K | Q4K | Q5K)
}

/// One block of `dtype` (its raw bytes, `dtype.block_size()` values): writes
/// the integers to `values` as [`Encoding::of`] `dtype` says, and each 16
/// values' scale and minimum to `scales` and `mins` (the weights are
/// `scale × (value − offset) − min`). `dtype` must be one [`unpacks`] accepts.
pub fn unpack(dtype: GgmlDType, block: &[u8], values: &mut [i8], scales: &mut [f32], mins: &mut [f32]) {
    match dtype {
        GgmlDType::Q8_0 | GgmlDType::Q4_0 | GgmlDType::Q5_0 => {
            let (d, rest) = block.split_at(2);
            let values: &mut [i8; 32] = values.try_into().expect("32 values in a 32-value block");
            match dtype {
                GgmlDType::Q8_0 => values.iter_mut().zip(rest).for_each(|(v, &b)| *v = b as i8),
                GgmlDType::Q4_0 => unpack_q4_0(rest, values),
                _ => unpack_q5_0(rest, values),
            }
            scales.fill(half_at(d, 0));
            mins.fill(0.0);
        }
        GgmlDType::Q4_1 | GgmlDType::Q5_1 => {
            let (d_m, rest) = block.split_at(4);
            let values: &mut [i8; 32] = values.try_into().expect("32 values in a 32-value block");
            // Stored as `d × q + m`: the minimum to subtract is `−m`.
            match dtype {
                GgmlDType::Q4_1 => unpack_q4_0(rest, values),
                _ => unpack_q5_0(rest, values),
            }
            scales.fill(half_at(d_m, 0));
            mins.fill(-half_at(d_m, 2));
        }
        GgmlDType::Q2K => unpack_q2_k(block, values, scales, mins),
        GgmlDType::Q3K => unpack_q3_k(block, values, scales, mins),
        GgmlDType::Q4K | GgmlDType::Q5K => unpack_q4_k_q5_k(dtype == GgmlDType::Q5K, block, values, scales, mins),
        GgmlDType::Q6K => unpack_q6_k(block, values, scales, mins),
        other => unreachable!("{other:?} blocks are not unpacked; callers check `unpacks`"),
    }
}

fn half_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// `block_q4_0` after its scale (and `block_q4_1` after its scale and
/// minimum): 16 bytes, low nibbles are values 0..16, high nibbles 16..32;
/// as stored (`q + 8` for Q4_0).
fn unpack_q4_0(qs: &[u8], values: &mut [i8; 32]) {
    for (j, &byte) in qs.iter().enumerate() {
        values[j] = (byte & 0x0F) as i8;
        values[j + 16] = (byte >> 4) as i8;
    }
}

/// `block_q5_0` after its scale (and `block_q5_1` after its scale and
/// minimum): 4 bytes holding the fifth bit of each value, then nibbles as in
/// Q4_0; as stored (`q + 16` for Q5_0).
fn unpack_q5_0(rest: &[u8], values: &mut [i8; 32]) {
    let (high, qs) = rest.split_at(4);
    let high = u32::from_le_bytes([high[0], high[1], high[2], high[3]]);
    for (j, &byte) in qs.iter().enumerate() {
        let bit_low = ((high >> j) & 1) as u8;
        let bit_high = ((high >> (j + 16)) & 1) as u8;
        values[j] = ((byte & 0x0F) | (bit_low << 4)) as i8;
        values[j + 16] = ((byte >> 4) | (bit_high << 4)) as i8;
    }
}

/// Where the two bits of value `i` of a Q2_K/Q3_K block sit in its 64 bytes of
/// `qs`: each 128 values use 32 bytes, four 2-bit planes of 32 values each.
fn two_bits(qs: &[u8], i: usize) -> u8 {
    let (half, plane, l) = (i / 128, i % 128 / 32, i % 32);
    (qs[32 * half + l] >> (2 * plane)) & 3
}

/// `block_q2_K`: 16 bytes of 4-bit scale and min pairs (one per 16 values),
/// 64 bytes of 2-bit values, d, dmin. Weights are `d × scale × q − dmin × min`.
fn unpack_q2_k(block: &[u8], values: &mut [i8], scales: &mut [f32], mins: &mut [f32]) {
    let (packed_scales, rest) = block.split_at(16);
    let (qs, d_dmin) = rest.split_at(64);
    let (d, dmin) = (half_at(d_dmin, 0), half_at(d_dmin, 2));
    for (i, v) in values.iter_mut().enumerate() {
        *v = two_bits(qs, i) as i8;
    }
    for ((scale, min), &packed) in scales.iter_mut().zip(mins.iter_mut()).zip(packed_scales) {
        *scale = d * f32::from(packed & 0xF);
        *min = dmin * f32::from(packed >> 4);
    }
}

/// `block_q3_K`: 32 bytes of third bits (bit `j` of byte `l` belongs to
/// value `32j + l`; set means no −4), 64 bytes of low bit pairs as in Q2_K,
/// 12 bytes packing sixteen 6-bit scales (stored `+ 32`), d. Values are
/// written as `q + 4`.
fn unpack_q3_k(block: &[u8], values: &mut [i8], scales: &mut [f32], mins: &mut [f32]) {
    let (hmask, rest) = block.split_at(32);
    let (qs, rest) = rest.split_at(64);
    let (packed, d) = rest.split_at(12);
    let d = half_at(d, 0);
    for (i, v) in values.iter_mut().enumerate() {
        let high = (hmask[i % 32] >> (i / 32)) & 1;
        // `q + 4` is the two low bits plus 4 when the high bit is set.
        *v = (two_bits(qs, i) | (high << 2)) as i8;
    }
    for (j, scale) in scales.iter_mut().enumerate() {
        // Low nibbles: bytes 0..8 (scales 0..8 low, 8..16 high); top two bits: bytes 8..12.
        let low = if j < 8 { packed[j] & 0xF } else { packed[j - 8] >> 4 };
        let top = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
        *scale = d * f32::from(((low | (top << 4)) as i8) - 32);
    }
    mins.fill(0.0);
}

/// The 6-bit scale and min of 32-value sub-block `j` of a Q4_K/Q5_K block (`get_scale_min_k4`).
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// `block_q4_K`: d, dmin, 12 bytes of packed scales and mins, 128 bytes of nibbles.
/// `block_q5_K` adds 32 bytes of fifth bits between the scales and the nibbles.
fn unpack_q4_k_q5_k(five_bits: bool, block: &[u8], values: &mut [i8], scales: &mut [f32], mins: &mut [f32]) {
    let (d, dmin) = (half_at(block, 0), half_at(block, 2));
    let packed_scales = &block[4..16];
    let (high, qs) = if five_bits { block[16..].split_at(32) } else { (&[][..], &block[16..]) };
    for pair in 0..4 {
        let nibbles = &qs[32 * pair..32 * pair + 32];
        for half in 0..2 {
            let sub = 2 * pair + half;
            let (sc, m) = scale_min_k4(sub, packed_scales);
            scales[2 * sub..2 * sub + 2].fill(d * f32::from(sc));
            mins[2 * sub..2 * sub + 2].fill(dmin * f32::from(m));
            for (l, &byte) in nibbles.iter().enumerate() {
                let low = if half == 0 { byte & 0xF } else { byte >> 4 };
                let fifth = if five_bits { ((high[l] >> sub) & 1) << 4 } else { 0 };
                values[32 * sub + l] = (low | fifth) as i8;
            }
        }
    }
}

/// `block_q6_K`: 128 bytes of low nibbles, 64 bytes of high bit pairs, 16
/// signed scales, d; values `q + 32`, as stored.
fn unpack_q6_k(block: &[u8], values: &mut [i8], scales: &mut [f32], mins: &mut [f32]) {
    let (ql, rest) = block.split_at(128);
    let (qh, rest) = rest.split_at(64);
    let (sc, d) = rest.split_at(16);
    let d = half_at(d, 0);
    for half in 0..2 {
        let (ql, qh, out) = (&ql[64 * half..], &qh[32 * half..], &mut values[128 * half..]);
        for l in 0..32 {
            out[l] = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i8;
            out[l + 32] = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i8;
            out[l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i8;
            out[l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i8;
        }
    }
    for (scale, &s) in scales.iter_mut().zip(sc) {
        *scale = d * f32::from(s as i8);
    }
    mins.fill(0.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::QTensor;
    use candle_core::{Device, Tensor};

    #[test]
    fn unpacked_blocks_hold_exactly_the_same_weights() {
        let device = Device::Cpu;
        // Skewed so that the K-quants' minimums are not all zero.
        let values: Vec<f32> = (0..4 * 512).map(|i| ((i * 37 % 101) as f32 - 30.0) / 17.0).collect();
        let weights = Tensor::from_vec(values, (4, 512), &device).unwrap();
        use GgmlDType::*;
        for dtype in [Q4_0, Q5_0, Q4_1, Q5_1, Q8_0, Q2K, Q3K, Q4K, Q5K, Q6K] {
            let quantized = QTensor::quantize(&weights, dtype).unwrap();
            let exact = quantized.dequantize(&device).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let data = quantized.data().unwrap();
            let n = dtype.block_size();
            let (mut ints, mut scales, mut mins) = (vec![0i8; n], vec![0f32; n / SUB], vec![0f32; n / SUB]);
            let encoding = Encoding::of(dtype);
            let mut widened = Vec::new();
            for block in data.chunks_exact(dtype.type_size()) {
                unpack(dtype, block, &mut ints, &mut scales, &mut mins);
                if let Encoding::Unsigned { max, .. } = encoding {
                    assert!(ints.iter().all(|&v| (0..=max as i8).contains(&v)), "{dtype:?}");
                }
                let q = |v: i8| (i32::from(v) - encoding.offset()) as f32;
                widened.extend(ints.iter().enumerate().map(|(i, &v)| q(v) * scales[i / SUB] - mins[i / SUB]));
            }
            assert_eq!(widened, exact, "{dtype:?}");
            assert_eq!(has_mins(dtype), mins.iter().any(|&m| m != 0.0), "{dtype:?}");
        }
        assert!(!unpacks(Q8K) && !unpacks(F16));
    }
}
