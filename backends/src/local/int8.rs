//! Integer matrix products for weights in 32-value blocks with one scale each
//! (Q8_0, and Q4_0/Q5_0 widened to it exactly; see [`super::widen`]).
//!
//! This is llama.cpp's arithmetic for these types: activations are rounded to
//! Q8_0 blocks (`quantize_row_q8_0`), each block pair's dot product is an exact
//! integer sum, and the sums are scaled by both blocks' f16 scales and added
//! in f32. Only the order of those f32 additions differs, so the results agree
//! with llama.cpp to float rounding, not just approximately.
//!
//! It is also what makes "stored" weights fast. On x86 with AVX2 each 32-byte
//! load covers 8 bytes of each of 4 consecutive blocks (a *group*, below), so
//! one `maddubs`/`madd` pair yields 8 lanes holding partial sums of 4 blocks,
//! and a group costs one float conversion and one fused multiply-add instead
//! of one per block. A tile of 4 activation rows shares each weight load.
//!
//! ```text
//! logical group (4 blocks × 32 values)       physical layout (4 chunks × 32 bytes)
//! b0[0..32] b1[0..32] b2[0..32] b3[0..32] →  chunk t = b0[8t..8t+8] b1[8t..8t+8] b2[..] b3[..]
//! scales per group: s0 s0 s1 s1 s2 s2 s3 s3  (lane l of an i32 sum belongs to block l / 2)
//! ```
//!
//! Weights and activations use the same layout, so the permutation inside a
//! group cancels out of every dot product.

use candle_core::quantized::QTensor;
use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;

use super::act_quant::quantize_q8_0;
use super::widen::{unpack_block, widens_to_q8_0, BLOCK};

const GROUP_BLOCKS: usize = 4;
const GROUP: usize = BLOCK * GROUP_BLOCKS;
/// Scale slots per group: each block's scale twice, one per f32 lane it owns.
const GROUP_SCALES: usize = 2 * GROUP_BLOCKS;
/// Activation rows per kernel tile.
const TILE_ROWS: usize = 4;
/// Weight rows handled together, small enough to stay in L1 while every tile of activations passes.
const WEIGHT_CHUNK: usize = 16;

/// Rows of int8 values with a scale per 32-value block, in the group layout.
#[derive(Debug, Clone, Default)]
struct Packed {
    /// Row length after padding to whole groups.
    padded: usize,
    values: Vec<i8>,
    scales: Vec<f32>,
}

impl Packed {
    fn with_rows(rows: usize, cols: usize) -> Self {
        let padded = cols.div_ceil(GROUP) * GROUP;
        Packed { padded, values: vec![0; rows * padded], scales: vec![0.0; rows * padded / GROUP * GROUP_SCALES] }
    }

    fn groups(&self) -> usize {
        self.padded / GROUP
    }

    fn row(&self, r: usize) -> (&[i8], &[f32]) {
        let scales = self.groups() * GROUP_SCALES;
        (&self.values[r * self.padded..(r + 1) * self.padded], &self.scales[r * scales..(r + 1) * scales])
    }

    fn row_mut(&mut self, r: usize) -> (&mut [i8], &mut [f32]) {
        let scales = self.groups() * GROUP_SCALES;
        (&mut self.values[r * self.padded..(r + 1) * self.padded], &mut self.scales[r * scales..(r + 1) * scales])
    }
}

/// Where value `i` of a row's block `b` lives in the group layout.
fn position(b: usize, i: usize) -> usize {
    let (group, j) = (b / GROUP_BLOCKS, b % GROUP_BLOCKS);
    group * GROUP + (i / 8) * BLOCK + j * 8 + i % 8
}

fn set_block(values: &mut [i8], scales: &mut [f32], b: usize, scale: f32, block: impl Iterator<Item = i8>) {
    for (i, v) in block.enumerate() {
        values[position(b, i)] = v;
    }
    let slot = (b / GROUP_BLOCKS) * GROUP_SCALES + 2 * (b % GROUP_BLOCKS);
    scales[slot] = scale;
    scales[slot + 1] = scale;
}

/// A weight matrix (`rows` outputs × `cols` inputs) multiplied with integer kernels.
#[derive(Debug, Clone)]
pub struct Int8Matrix {
    rows: usize,
    cols: usize,
    packed: Packed,
}

impl Int8Matrix {
    /// From a Q8_0, Q4_0 or Q5_0 tensor of shape `(rows, cols)` (the latter two
    /// widened exactly, see [`super::widen`]); `None` for other block types.
    pub fn from_qtensor(tensor: &QTensor) -> candle_core::Result<Option<Self>> {
        let (rows, cols) = tensor.shape().dims2()?;
        let dtype = tensor.dtype();
        if !widens_to_q8_0(dtype) || cols % BLOCK != 0 {
            return Ok(None);
        }
        let data = tensor.data()?;
        let block_bytes = dtype.type_size();
        let mut packed = Packed::with_rows(rows, cols);
        let mut block_values = [0i8; BLOCK];
        for (r, row) in data.chunks_exact(block_bytes * (cols / BLOCK)).enumerate() {
            let (values, scales) = packed.row_mut(r);
            for (b, block) in row.chunks_exact(block_bytes).enumerate() {
                let scale = unpack_block(dtype, block, &mut block_values);
                set_block(values, scales, b, scale, block_values.iter().copied());
            }
        }
        Ok(Some(Int8Matrix { rows, cols, packed }))
    }

    /// Bytes held.
    pub fn size_in_bytes(&self) -> usize {
        self.packed.values.len() + 4 * self.packed.scales.len()
    }

    /// Row `r` as f32, exactly as stored (the embedding lookup).
    pub fn dequantize_row(&self, r: usize) -> Vec<f32> {
        let (values, scales) = self.packed.row(r);
        (0..self.cols)
            .map(|i| {
                let b = i / BLOCK;
                let scale = scales[(b / GROUP_BLOCKS) * GROUP_SCALES + 2 * (b % GROUP_BLOCKS)];
                f32::from(values[position(b, i % BLOCK)]) * scale
            })
            .collect()
    }

    /// Rows looked up by id: `(ids..., cols)`.
    pub fn embedding(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let mut shape = ids.dims().to_vec();
        let ids = ids.flatten_all()?.to_vec1::<u32>()?;
        let mut out = Vec::with_capacity(ids.len() * self.cols);
        for id in ids {
            if id as usize >= self.rows {
                candle_core::bail!("token id {id} is outside the embedding table of {} rows", self.rows);
            }
            out.extend(self.dequantize_row(id as usize));
        }
        shape.push(self.cols);
        Tensor::from_vec(out, shape, &Device::Cpu)
    }

    /// `x @ Wᵀ` for `x` of shape `(..., cols)` on the CPU.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut shape = x.dims().to_vec();
        let cols = shape.pop().unwrap_or(0);
        if cols != self.cols {
            candle_core::bail!("input width {cols} does not match the matrix's {}", self.cols);
        }
        let m = shape.iter().product::<usize>();
        let x = x.to_dtype(DType::F32)?.flatten_all()?;
        let (storage, layout) = x.storage_and_layout();
        let candle_core::Storage::Cpu(cpu) = &*storage else { candle_core::bail!("int8 matmul runs on the CPU") };
        let data = cpu.as_slice::<f32>()?;
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("int8 matmul needs a contiguous input")
        };
        let out = self.matmul(&data[start..end], m);
        shape.push(self.rows);
        Tensor::from_vec(out, shape, &Device::Cpu)
    }

    /// `x @ Wᵀ` for `m` rows of `cols` values; row-major `m × rows`.
    pub fn matmul(&self, x: &[f32], m: usize) -> Vec<f32> {
        let activations = quantize_rows(x, m, self.cols);
        let n = self.rows;
        let mut out = vec![0f32; m * n];
        if m == 0 || n == 0 {
            return out;
        }
        let threads = rayon::current_num_threads().max(1);
        if m >= TILE_ROWS * threads {
            // Enough rows: each task owns a band of output rows and passes over
            // every weight row once, a chunk at a time.
            let band = m.div_ceil(2 * threads).next_multiple_of(TILE_ROWS);
            out.par_chunks_mut(band * n).enumerate().for_each(|(task, out)| {
                let first = task * band;
                let rows = out.len() / n;
                self.band(&activations, first, rows, 0, out, n);
            });
        } else {
            // One or a few rows (decoding): split the weight rows instead.
            for (r, out) in out.chunks_mut(n).enumerate() {
                out.par_chunks_mut(WEIGHT_CHUNK * 8).enumerate().for_each(|(chunk, out)| {
                    self.band(&activations, r, 1, chunk * WEIGHT_CHUNK * 8, out, out.len());
                });
            }
        }
        out
    }

    /// Output rows `first..first + rows` (activation rows), columns
    /// `column0..column0 + width` (weight rows), into `out` with row stride `width`.
    fn band(&self, x: &Packed, first: usize, rows: usize, column0: usize, out: &mut [f32], width: usize) {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = pulp::x86::V3::try_new() {
            // One feature check per band; everything below is inlined into AVX2 code.
            return pulp::Simd::vectorize(simd, || {
                self.band_with(
                    x,
                    first,
                    rows,
                    column0,
                    out,
                    width,
                    |w, x| kernels::avx2::dot(simd, w, x),
                    |w, x| kernels::avx2::dot_one(simd, w, x),
                )
            });
        }
        self.band_with(x, first, rows, column0, out, width, kernels::portable, kernels::portable_1x1)
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn band_with<
        K: Fn(kernels::Row<'_>, [kernels::Row<'_>; TILE_ROWS]) -> [f32; TILE_ROWS],
        K1: Fn(kernels::Row<'_>, kernels::Row<'_>) -> f32,
    >(
        &self,
        x: &Packed,
        first: usize,
        rows: usize,
        column0: usize,
        out: &mut [f32],
        width: usize,
        dot: K,
        dot_one: K1,
    ) {
        for chunk_start in (0..width).step_by(WEIGHT_CHUNK) {
            let chunk = chunk_start..(chunk_start + WEIGHT_CHUNK).min(width);
            let mut r = 0;
            while r + TILE_ROWS <= rows {
                let xs: [kernels::Row<'_>; TILE_ROWS] = std::array::from_fn(|i| x.row(first + r + i));
                for c in chunk.clone() {
                    let sums = dot(self.packed.row(column0 + c), xs);
                    for (i, s) in sums.into_iter().enumerate() {
                        out[(r + i) * width + c] = s;
                    }
                }
                r += TILE_ROWS;
            }
            // The rows left over (all of them when decoding), one at a time.
            for r in r..rows {
                let xr = x.row(first + r);
                for c in chunk.clone() {
                    out[r * width + c] = dot_one(self.packed.row(column0 + c), xr);
                }
            }
        }
    }
}

/// Round `m` rows of `cols` activations to Q8_0 blocks as llama.cpp does
/// ([`quantize_q8_0`]), in the group layout.
fn quantize_rows(x: &[f32], m: usize, cols: usize) -> Packed {
    let mut packed = Packed::with_rows(m, cols);
    let (padded, scales_per_row) = (packed.padded, packed.groups() * GROUP_SCALES);
    let rows =
        x.par_chunks(cols).zip(packed.values.par_chunks_mut(padded).zip(packed.scales.par_chunks_mut(scales_per_row)));
    rows.for_each(|(row, (values, scales))| {
        let mut block_values = [0i8; BLOCK];
        for (b, block) in row.chunks_exact(BLOCK).enumerate() {
            let scale = quantize_q8_0(block, &mut block_values);
            set_block(values, scales, b, scale, block_values.iter().copied());
        }
    });
    packed
}

/// The dot products, with an AVX2 path and a portable one that computes the same sums.
mod kernels {
    use super::{GROUP, GROUP_SCALES, TILE_ROWS};

    /// A row's values and scales.
    pub type Row<'a> = (&'a [i8], &'a [f32]);

    /// `TILE_ROWS` activation rows against one weight row, without SIMD.
    pub fn portable(w: Row<'_>, x: [Row<'_>; TILE_ROWS]) -> [f32; TILE_ROWS] {
        x.map(|x| portable_1x1(w, x))
    }

    /// One activation row against one weight row, without SIMD.
    pub fn portable_1x1((w, ws): Row<'_>, (x, xs): Row<'_>) -> f32 {
        let mut lanes = [0f32; GROUP_SCALES];
        for ((wg, xg), (wsg, xsg)) in w
            .chunks_exact(GROUP)
            .zip(x.chunks_exact(GROUP))
            .zip(ws.chunks_exact(GROUP_SCALES).zip(xs.chunks_exact(GROUP_SCALES)))
        {
            let mut sums = [0i32; GROUP_SCALES];
            for (wc, xc) in wg.chunks_exact(32).zip(xg.chunks_exact(32)) {
                for (lane, sum) in sums.iter_mut().enumerate() {
                    *sum += (0..4).map(|i| i32::from(wc[4 * lane + i]) * i32::from(xc[4 * lane + i])).sum::<i32>();
                }
            }
            for lane in 0..GROUP_SCALES {
                lanes[lane] += sums[lane] as f32 * (wsg[lane] * xsg[lane]);
            }
        }
        lanes.iter().sum()
    }

    #[cfg(target_arch = "x86_64")]
    pub mod avx2 {
        use super::{Row, GROUP, GROUP_SCALES, TILE_ROWS};
        use pulp::bytemuck::cast;
        use pulp::x86::V3;
        use std::arch::x86_64::{__m256, __m256i};

        /// The partial sums of one 32-byte chunk: `maddubs` multiplies unsigned by
        /// signed bytes, so it gets |w| and x with w's sign; `madd` adds pairs into i32 lanes.
        #[inline(always)]
        fn chunk(simd: V3, magnitude: __m256i, w: __m256i, x: &[i8; 32], ones: __m256i) -> __m256i {
            let signed = simd.avx2._mm256_sign_epi8(cast(*x), w);
            simd.avx2._mm256_madd_epi16(simd.avx2._mm256_maddubs_epi16(magnitude, signed), ones)
        }

        #[inline(always)]
        fn fold(simd: V3, sums: __m256i, wscale: __m256, xscale: &[f32; GROUP_SCALES], total: __m256) -> __m256 {
            let scale = simd.avx._mm256_mul_ps(wscale, cast(*xscale));
            simd.fma._mm256_fmadd_ps(simd.avx._mm256_cvtepi32_ps(sums), scale, total)
        }

        #[inline(always)]
        fn horizontal_sum(t: __m256) -> f32 {
            let l: [f32; 8] = cast(t);
            ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]))
        }

        /// One activation row against one weight row (decoding).
        #[inline(always)]
        pub fn dot_one(simd: V3, (w, ws): Row<'_>, (x, xs): Row<'_>) -> f32 {
            let (w, ws) = (w.as_chunks::<GROUP>().0, ws.as_chunks::<GROUP_SCALES>().0);
            let (x, xs) = (x.as_chunks::<GROUP>().0, xs.as_chunks::<GROUP_SCALES>().0);
            let groups = w.len();
            assert!(ws.len() == groups && x.len() == groups && xs.len() == groups);
            let ones = simd.avx._mm256_set1_epi16(1);
            let mut total = simd.avx._mm256_setzero_ps();
            for g in 0..groups {
                let (wc, xc) = (w[g].as_chunks::<32>().0, x[g].as_chunks::<32>().0);
                let mut sum = simd.avx._mm256_setzero_si256();
                for t in 0..4 {
                    let wv: __m256i = cast(wc[t]);
                    let magnitude = simd.avx2._mm256_sign_epi8(wv, wv);
                    sum = simd.avx2._mm256_add_epi32(sum, chunk(simd, magnitude, wv, &xc[t], ones));
                }
                total = fold(simd, sum, cast(ws[g]), &xs[g], total);
            }
            horizontal_sum(total)
        }

        /// Four activation rows against one weight row, a group at a time.
        #[inline(always)]
        pub fn dot(simd: V3, (w, ws): Row<'_>, x: [Row<'_>; TILE_ROWS]) -> [f32; TILE_ROWS] {
            let [(x0, s0), (x1, s1), (x2, s2), (x3, s3)] = x;
            let (w, ws) = (w.as_chunks::<GROUP>().0, ws.as_chunks::<GROUP_SCALES>().0);
            let (x0, x1, x2, x3) = (
                x0.as_chunks::<GROUP>().0,
                x1.as_chunks::<GROUP>().0,
                x2.as_chunks::<GROUP>().0,
                x3.as_chunks::<GROUP>().0,
            );
            let (s0, s1, s2, s3) = (
                s0.as_chunks::<GROUP_SCALES>().0,
                s1.as_chunks::<GROUP_SCALES>().0,
                s2.as_chunks::<GROUP_SCALES>().0,
                s3.as_chunks::<GROUP_SCALES>().0,
            );
            let groups = w.len();
            assert!(ws.len() == groups && x0.len() == groups && x1.len() == groups && x2.len() == groups);
            assert!(x3.len() == groups && s0.len() == groups && s1.len() == groups && s2.len() == groups);
            assert!(s3.len() == groups);
            let ones = simd.avx._mm256_set1_epi16(1);
            let zero = simd.avx._mm256_setzero_ps();
            let (mut t0, mut t1, mut t2, mut t3) = (zero, zero, zero, zero);
            for g in 0..groups {
                let izero = simd.avx._mm256_setzero_si256();
                let (mut a0, mut a1, mut a2, mut a3) = (izero, izero, izero, izero);
                let (wc, c0, c1, c2, c3) = (
                    w[g].as_chunks::<32>().0,
                    x0[g].as_chunks::<32>().0,
                    x1[g].as_chunks::<32>().0,
                    x2[g].as_chunks::<32>().0,
                    x3[g].as_chunks::<32>().0,
                );
                for t in 0..4 {
                    let wv: __m256i = cast(wc[t]);
                    let magnitude = simd.avx2._mm256_sign_epi8(wv, wv);
                    a0 = simd.avx2._mm256_add_epi32(a0, chunk(simd, magnitude, wv, &c0[t], ones));
                    a1 = simd.avx2._mm256_add_epi32(a1, chunk(simd, magnitude, wv, &c1[t], ones));
                    a2 = simd.avx2._mm256_add_epi32(a2, chunk(simd, magnitude, wv, &c2[t], ones));
                    a3 = simd.avx2._mm256_add_epi32(a3, chunk(simd, magnitude, wv, &c3[t], ones));
                }
                let wscale: __m256 = cast(ws[g]);
                t0 = fold(simd, a0, wscale, &s0[g], t0);
                t1 = fold(simd, a1, wscale, &s1[g], t1);
                t2 = fold(simd, a2, wscale, &s2[g], t2);
                t3 = fold(simd, a3, wscale, &s3[g], t3);
            }
            [horizontal_sum(t0), horizontal_sum(t1), horizontal_sum(t2), horizontal_sum(t3)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::GgmlDType;

    fn reference(w: &QTensor, x: &[f32], m: usize, k: usize) -> Vec<f32> {
        // Round activations the same way, then multiply the exact dequantized weights in f64.
        let a = quantize_rows(x, m, k);
        let x_rounded: Vec<f64> = (0..m)
            .flat_map(|r| {
                let (values, scales) = a.row(r);
                (0..k)
                    .map(|i| {
                        let b = i / BLOCK;
                        f64::from(values[position(b, i % BLOCK)])
                            * f64::from(scales[(b / GROUP_BLOCKS) * GROUP_SCALES + 2 * (b % GROUP_BLOCKS)])
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let weights = w.dequantize(&Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
        (0..m)
            .flat_map(|r| {
                let row = &x_rounded[r * k..(r + 1) * k];
                weights
                    .iter()
                    .map(|wr| wr.iter().zip(row).map(|(&a, &b)| f64::from(a) * b).sum::<f64>() as f32)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn int8_products_equal_the_exact_products_of_the_rounded_values() {
        // 96 columns: one whole group plus a padded partial one.
        for (m, k, n) in [(1, 96, 70), (5, 96, 33), (9, 256, 8), (13, 64, 300)] {
            let w: Vec<f32> = (0..n * k).map(|i| ((i * 7919 % 255) as f32 - 127.0) / 50.0).collect();
            let w = QTensor::quantize(&Tensor::from_vec(w, (n, k), &Device::Cpu).unwrap(), GgmlDType::Q8_0).unwrap();
            let x: Vec<f32> = (0..m * k).map(|i| ((i * 104_729 % 1000) as f32 - 500.0) / 77.0).collect();
            let matrix = Int8Matrix::from_qtensor(&w).unwrap().expect("Q8_0");
            let ours = matrix.matmul(&x, m);
            let exact = reference(&w, &x, m, k);
            for (a, b) in ours.iter().zip(&exact) {
                assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "({m},{k},{n}): {a} vs {b}");
            }
            let packed_x = quantize_rows(&x, m, k);
            let portable = (0..m)
                .flat_map(|r| (0..n).map(move |c| (r, c)))
                .map(|(r, c)| kernels::portable(matrix.packed.row(c), [packed_x.row(r); TILE_ROWS])[0]);
            for (a, b) in ours.iter().zip(portable) {
                assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "portable: {a} vs {b}");
            }
        }
    }

    #[test]
    fn rows_dequantize_exactly() {
        let w: Vec<f32> = (0..3 * 64).map(|i| (i as f32 - 90.0) / 13.0).collect();
        let q = QTensor::quantize(&Tensor::from_vec(w, (3, 64), &Device::Cpu).unwrap(), GgmlDType::Q8_0).unwrap();
        let matrix = Int8Matrix::from_qtensor(&q).unwrap().unwrap();
        let exact = q.dequantize(&Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
        for (r, row) in exact.iter().enumerate() {
            assert_eq!(&matrix.dequantize_row(r), row);
        }
    }
}
