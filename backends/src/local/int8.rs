//! Integer matrix products for weights stored as small integers with a scale
//! (and for some types a minimum) per 16 values: Q8_0, Q4_0, Q5_0, Q4_K, Q5_K
//! and Q6_K, read exactly by [`super::widen`].
//!
//! This is llama.cpp's arithmetic for these types: activations are rounded to
//! 8-bit blocks (`quantize_row_q8_0` for the 32-value types, `quantize_row_q8_K`
//! for K-quants), each pair of 16-value pieces gives an exact integer sum, and
//! the sums are scaled by both sides' scales and added in f32. Only the order
//! and grouping of those f32 operations differ, so the results agree with
//! llama.cpp to float rounding, not just approximately.
//!
//! It is also what makes "stored" weights fast. On x86 with AVX2 a row is cut
//! into *groups* of 128 values, and each 32-byte load holds 4 values of each
//! of the group's 8 sixteen-value pieces, so that one `maddubs`/`madd` pair
//! yields 8 i32 lanes, lane `l` a partial sum of piece `l`. After the group's
//! four loads every lane holds its piece's whole sum, and a group costs one
//! float conversion and one fused multiply-add with the 8 pieces' scales.
//! A tile of 4 activation rows shares each weight load.
//!
//! ```text
//! group of 128 values: pieces p0..p7 of 16       physical layout (4 chunks × 32 bytes)
//! p0[0..16] p1[0..16] ... p7[0..16]           →  chunk t = p0[4t..4t+4] p1[4t..4t+4] ... p7[4t..4t+4]
//! scales per group: s0 s1 ... s7                 (lane l of an i32 sum belongs to piece l)
//! ```
//!
//! Weights and activations use the same layout, so the permutation inside a
//! group cancels out of every dot product. Types with minimums (Q4_K, Q5_K)
//! subtract `min × Σ activations` per piece, from each activation row's piece
//! sums, as llama.cpp does with Q8_K's block sums.

use candle_core::quantized::QTensor;
use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;

use super::act_quant::{quantize_q8_0, quantize_q8_k, ActQuant};
use super::widen::{has_mins, unpack, unpacks, SUB};

const GROUP: usize = 128;
/// Scale slots per group: one per 16-value piece, one per i32 lane.
const GROUP_SCALES: usize = GROUP / SUB;
/// Activation rows per kernel tile.
const TILE_ROWS: usize = 4;
/// Weight rows handled together, small enough to stay in L1 while every tile of activations passes.
const WEIGHT_CHUNK: usize = 16;
/// Weight bytes beyond which a matrix is split by weight rows even for many
/// activation rows: larger than the caches, it should be streamed once.
const STREAMED_WEIGHTS: usize = 16 << 20;

/// Rows of int8 values with a scale per 16-value piece, in the group layout.
#[derive(Debug, Clone, Default)]
struct Packed {
    /// Row length after padding to whole groups.
    padded: usize,
    values: Vec<i8>,
    scales: Vec<f32>,
    /// Per piece: for weights, the minimum to subtract (times the activation
    /// sum); for activations, `scale × Σ values`. Empty when not needed.
    mins: Vec<f32>,
}

/// One row of a [`Packed`].
#[derive(Clone, Copy)]
struct Row<'a> {
    values: &'a [i8],
    scales: &'a [f32],
    /// Empty unless the product needs minimums.
    mins: &'a [f32],
}

impl Packed {
    fn with_rows(rows: usize, cols: usize, mins: bool) -> Self {
        let padded = cols.div_ceil(GROUP) * GROUP;
        let slots = rows * padded / SUB;
        Packed {
            padded,
            values: vec![0; rows * padded],
            scales: vec![0.0; slots],
            mins: vec![0.0; slots * mins as usize],
        }
    }

    fn slots(&self) -> usize {
        self.padded / SUB
    }

    fn row(&self, r: usize) -> Row<'_> {
        let slots = self.slots();
        let mins = if self.mins.is_empty() { &[][..] } else { &self.mins[r * slots..(r + 1) * slots] };
        Row {
            values: &self.values[r * self.padded..(r + 1) * self.padded],
            scales: &self.scales[r * slots..(r + 1) * slots],
            mins,
        }
    }

    /// Each row's values, scales and mins (empty slices when there are none), in parallel.
    fn rows_mut(&mut self) -> impl IndexedParallelIterator<Item = (&mut [i8], &mut [f32], &mut [f32])> {
        let (padded, slots) = (self.padded, self.slots());
        let rows = self.values.len() / padded.max(1);
        let mins: Vec<&mut [f32]> = if self.mins.is_empty() {
            (0..rows).map(|_| &mut [][..]).collect()
        } else {
            self.mins.chunks_mut(slots).collect()
        };
        self.values.par_chunks_mut(padded).zip(self.scales.par_chunks_mut(slots)).zip(mins).map(|((v, s), m)| (v, s, m))
    }
}

/// Where value `i` of a row lives in the group layout.
fn position(i: usize) -> usize {
    let (group, j) = (i / GROUP, i % GROUP);
    group * GROUP + (j % SUB / 4) * 32 + (j / SUB) * 4 + j % 4
}

/// A weight matrix (`rows` outputs × `cols` inputs) multiplied with integer kernels.
#[derive(Debug, Clone)]
pub struct Int8Matrix {
    rows: usize,
    cols: usize,
    /// How activations are rounded for this matrix's block type.
    activations: ActQuant,
    packed: Packed,
}

impl Int8Matrix {
    /// From a tensor of shape `(rows, cols)` in one of the block types
    /// [`super::widen`] reads; `None` for other types.
    pub fn from_qtensor(tensor: &QTensor) -> candle_core::Result<Option<Self>> {
        let (rows, cols) = tensor.shape().dims2()?;
        let dtype = tensor.dtype();
        let block = dtype.block_size();
        let Some(activations) = ActQuant::for_weights(dtype) else { return Ok(None) };
        if !unpacks(dtype) || cols % block != 0 || cols % activations.block() != 0 {
            return Ok(None);
        }
        let data = tensor.data()?;
        let block_bytes = dtype.type_size();
        let mut packed = Packed::with_rows(rows, cols, has_mins(dtype));
        packed.rows_mut().zip(data.par_chunks_exact(block_bytes * (cols / block))).for_each_init(
            // One set of block buffers per rayon task, not per row (an output head has 262k rows).
            || (vec![0i8; block], vec![0f32; block / SUB], vec![0f32; block / SUB]),
            |(ints, block_scales, block_mins), ((values, scales, mins), row)| {
                for (b, bytes) in row.chunks_exact(block_bytes).enumerate() {
                    unpack(dtype, bytes, ints, block_scales, block_mins);
                    for (i, &v) in ints.iter().enumerate() {
                        values[position(b * block + i)] = v;
                    }
                    let slots = b * block / SUB..(b + 1) * block / SUB;
                    scales[slots.clone()].copy_from_slice(block_scales);
                    if !mins.is_empty() {
                        mins[slots].copy_from_slice(block_mins);
                    }
                }
            },
        );
        Ok(Some(Int8Matrix { rows, cols, activations, packed }))
    }

    /// Bytes held.
    pub fn size_in_bytes(&self) -> usize {
        self.packed.values.len() + 4 * (self.packed.scales.len() + self.packed.mins.len())
    }

    /// Row `r` as f32, exactly as stored (the embedding lookup).
    pub fn dequantize_row(&self, r: usize) -> Vec<f32> {
        let row = self.packed.row(r);
        (0..self.cols)
            .map(|i| {
                let weight = f32::from(row.values[position(i)]) * row.scales[i / SUB];
                if row.mins.is_empty() {
                    weight
                } else {
                    weight - row.mins[i / SUB]
                }
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
        let activations = quantize_rows(x, m, self.cols, self.activations, !self.packed.mins.is_empty());
        let n = self.rows;
        let mut out = vec![0f32; m * n];
        if m == 0 || n == 0 {
            return out;
        }
        let threads = rayon::current_num_threads().max(1);
        if m >= TILE_ROWS * threads && self.packed.values.len() <= STREAMED_WEIGHTS {
            // Enough rows, and weights that stay in cache: each task owns a band
            // of output rows and passes over every weight row, a chunk at a time.
            let band = m.div_ceil(2 * threads).next_multiple_of(TILE_ROWS);
            out.par_chunks_mut(band * n).enumerate().for_each(|(task, out)| {
                let mut rows: Vec<&mut [f32]> = out.chunks_mut(n).collect();
                self.band(&activations, task * band, 0, &mut rows);
            });
        } else {
            // A few rows (decoding), or weights far larger than the caches (an
            // output head): each task owns a range of weight rows, so each one
            // is read from memory once and meets every activation row in cache.
            let width = WEIGHT_CHUNK * 8;
            let mut tasks: Vec<Vec<&mut [f32]>> = (0..n.div_ceil(width)).map(|_| Vec::with_capacity(m)).collect();
            for row in out.chunks_mut(n) {
                tasks.iter_mut().zip(row.chunks_mut(width)).for_each(|(task, part)| task.push(part));
            }
            tasks.into_par_iter().enumerate().for_each(|(task, mut rows)| {
                self.band(&activations, 0, task * width, &mut rows);
            });
        }
        out
    }

    /// Activation rows `first..first + out.len()` against weight rows
    /// `column0..column0 + out[0].len()`, into `out` (one slice per activation row).
    fn band(&self, x: &Packed, first: usize, column0: usize, out: &mut [&mut [f32]]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = pulp::x86::V3::try_new() {
            // One feature check per band; everything below is inlined into AVX2 code.
            return pulp::Simd::vectorize(simd, || {
                if self.packed.mins.is_empty() {
                    self.band_avx2::<false>(simd, x, first, column0, out)
                } else {
                    self.band_avx2::<true>(simd, x, first, column0, out)
                }
            });
        }
        self.band_with(x, first, column0, out, kernels::portable, kernels::portable_1x1)
    }

    /// [`Self::band_with`] on the AVX2 kernels, with or without minimums.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn band_avx2<const MINS: bool>(
        &self,
        simd: pulp::x86::V3,
        x: &Packed,
        first: usize,
        column0: usize,
        out: &mut [&mut [f32]],
    ) {
        self.band_with(
            x,
            first,
            column0,
            out,
            |w, x| kernels::avx2::dot::<MINS>(simd, w, x),
            |w, x| kernels::avx2::dot_one::<MINS>(simd, w, x),
        )
    }

    #[inline(always)]
    fn band_with<K: Fn(Row<'_>, [Row<'_>; TILE_ROWS]) -> [f32; TILE_ROWS], K1: Fn(Row<'_>, Row<'_>) -> f32>(
        &self,
        x: &Packed,
        first: usize,
        column0: usize,
        out: &mut [&mut [f32]],
        dot: K,
        dot_one: K1,
    ) {
        let (rows, width) = (out.len(), out.first().map_or(0, |row| row.len()));
        for chunk_start in (0..width).step_by(WEIGHT_CHUNK) {
            let chunk = chunk_start..(chunk_start + WEIGHT_CHUNK).min(width);
            let mut r = 0;
            while r + TILE_ROWS <= rows {
                let xs: [Row<'_>; TILE_ROWS] = std::array::from_fn(|i| x.row(first + r + i));
                for c in chunk.clone() {
                    let sums = dot(self.packed.row(column0 + c), xs);
                    for (i, s) in sums.into_iter().enumerate() {
                        out[r + i][c] = s;
                    }
                }
                r += TILE_ROWS;
            }
            // The rows left over (all of them when decoding), one at a time.
            for (r, row) in out.iter_mut().enumerate().skip(r) {
                let xr = x.row(first + r);
                for c in chunk.clone() {
                    row[c] = dot_one(self.packed.row(column0 + c), xr);
                }
            }
        }
    }
}

/// Round `m` rows of `cols` activations to 8-bit blocks as llama.cpp does
/// for the weights' type, in the group layout; with each piece's
/// `scale × Σ values` when the weights have minimums.
fn quantize_rows(x: &[f32], m: usize, cols: usize, rounding: ActQuant, sums: bool) -> Packed {
    let mut packed = Packed::with_rows(m, cols, sums);
    let block = rounding.block();
    let rows = packed.rows_mut().zip(x.par_chunks(cols));
    rows.for_each_init(
        || vec![0i8; block],
        |ints, ((values, scales, mins), row)| {
            for (b, block_values) in row.chunks_exact(block).enumerate() {
                let scale = match rounding {
                    ActQuant::Q8_0 => quantize_q8_0(block_values, ints),
                    ActQuant::Q8K => quantize_q8_k(block_values, ints),
                };
                for (i, &v) in ints.iter().enumerate() {
                    values[position(b * block + i)] = v;
                }
                scales[b * block / SUB..(b + 1) * block / SUB].fill(scale);
                if !mins.is_empty() {
                    for (p, piece) in ints.chunks_exact(SUB).enumerate() {
                        let sum: i32 = piece.iter().map(|&v| i32::from(v)).sum();
                        mins[b * block / SUB + p] = scale * sum as f32;
                    }
                }
            }
        },
    );
    packed
}

/// The dot products, with an AVX2 path and a portable one that computes the same sums.
mod kernels {
    use super::{Row, GROUP, GROUP_SCALES, TILE_ROWS};

    /// `TILE_ROWS` activation rows against one weight row, without SIMD.
    pub fn portable(w: Row<'_>, x: [Row<'_>; TILE_ROWS]) -> [f32; TILE_ROWS] {
        x.map(|x| portable_1x1(w, x))
    }

    /// One activation row against one weight row, without SIMD.
    pub fn portable_1x1(w: Row<'_>, x: Row<'_>) -> f32 {
        let mut lanes = [0f32; GROUP_SCALES];
        let groups = w.values.chunks_exact(GROUP).zip(x.values.chunks_exact(GROUP));
        let scales = w.scales.chunks_exact(GROUP_SCALES).zip(x.scales.chunks_exact(GROUP_SCALES));
        for (g, ((wg, xg), (wsg, xsg))) in groups.zip(scales).enumerate() {
            let mut sums = [0i32; GROUP_SCALES];
            for (wc, xc) in wg.chunks_exact(32).zip(xg.chunks_exact(32)) {
                for (lane, sum) in sums.iter_mut().enumerate() {
                    *sum += (0..4).map(|i| i32::from(wc[4 * lane + i]) * i32::from(xc[4 * lane + i])).sum::<i32>();
                }
            }
            for lane in 0..GROUP_SCALES {
                lanes[lane] += sums[lane] as f32 * (wsg[lane] * xsg[lane]);
                if !w.mins.is_empty() {
                    let slot = g * GROUP_SCALES + lane;
                    lanes[lane] -= w.mins[slot] * x.mins[slot];
                }
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

        /// A row cut into groups: values, scales, and mins (empty when `MINS` is false).
        struct Groups<'a> {
            values: &'a [[i8; GROUP]],
            scales: &'a [[f32; GROUP_SCALES]],
            mins: &'a [[f32; GROUP_SCALES]],
        }

        #[inline(always)]
        fn groups<const MINS: bool>(row: Row<'_>) -> Groups<'_> {
            let g = Groups {
                values: row.values.as_chunks::<GROUP>().0,
                scales: row.scales.as_chunks::<GROUP_SCALES>().0,
                mins: row.mins.as_chunks::<GROUP_SCALES>().0,
            };
            assert!(g.scales.len() == g.values.len() && (!MINS || g.mins.len() == g.values.len()));
            g
        }

        /// The partial sums of one 32-byte chunk: `maddubs` multiplies unsigned by
        /// signed bytes, so it gets |w| and x with w's sign; `madd` adds pairs into i32 lanes.
        #[inline(always)]
        fn chunk(simd: V3, magnitude: __m256i, w: __m256i, x: &[i8; 32], ones: __m256i) -> __m256i {
            let signed = simd.avx2._mm256_sign_epi8(cast(*x), w);
            simd.avx2._mm256_madd_epi16(simd.avx2._mm256_maddubs_epi16(magnitude, signed), ones)
        }

        /// Adds a group's lane sums, scaled, to `total`, less the minimums' share.
        #[inline(always)]
        fn fold<const MINS: bool>(
            simd: V3,
            sums: __m256i,
            w: &Groups<'_>,
            x: &Groups<'_>,
            g: usize,
            total: __m256,
        ) -> __m256 {
            let scale = simd.avx._mm256_mul_ps(cast(w.scales[g]), cast(x.scales[g]));
            let total = simd.fma._mm256_fmadd_ps(simd.avx._mm256_cvtepi32_ps(sums), scale, total);
            if MINS {
                simd.fma._mm256_fnmadd_ps(cast(w.mins[g]), cast(x.mins[g]), total)
            } else {
                total
            }
        }

        #[inline(always)]
        fn horizontal_sum(t: __m256) -> f32 {
            let l: [f32; 8] = cast(t);
            ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]))
        }

        /// One activation row against one weight row (decoding).
        #[inline(always)]
        pub fn dot_one<const MINS: bool>(simd: V3, w: Row<'_>, x: Row<'_>) -> f32 {
            let (w, x) = (groups::<MINS>(w), groups::<MINS>(x));
            assert!(x.values.len() == w.values.len());
            let ones = simd.avx._mm256_set1_epi16(1);
            let mut total = simd.avx._mm256_setzero_ps();
            for g in 0..w.values.len() {
                let (wc, xc) = (w.values[g].as_chunks::<32>().0, x.values[g].as_chunks::<32>().0);
                let mut sum = simd.avx._mm256_setzero_si256();
                for t in 0..4 {
                    let wv: __m256i = cast(wc[t]);
                    let magnitude = simd.avx2._mm256_sign_epi8(wv, wv);
                    sum = simd.avx2._mm256_add_epi32(sum, chunk(simd, magnitude, wv, &xc[t], ones));
                }
                total = fold::<MINS>(simd, sum, &w, &x, g, total);
            }
            horizontal_sum(total)
        }

        /// Four activation rows against one weight row, a group at a time.
        #[inline(always)]
        pub fn dot<const MINS: bool>(simd: V3, w: Row<'_>, x: [Row<'_>; TILE_ROWS]) -> [f32; TILE_ROWS] {
            let w = groups::<MINS>(w);
            let [x0, x1, x2, x3] = x.map(groups::<MINS>);
            let n = w.values.len();
            assert!(x0.values.len() == n && x1.values.len() == n && x2.values.len() == n && x3.values.len() == n);
            let ones = simd.avx._mm256_set1_epi16(1);
            let zero = simd.avx._mm256_setzero_ps();
            let (mut t0, mut t1, mut t2, mut t3) = (zero, zero, zero, zero);
            for g in 0..n {
                let izero = simd.avx._mm256_setzero_si256();
                let (mut a0, mut a1, mut a2, mut a3) = (izero, izero, izero, izero);
                let (wc, c0, c1, c2, c3) = (
                    w.values[g].as_chunks::<32>().0,
                    x0.values[g].as_chunks::<32>().0,
                    x1.values[g].as_chunks::<32>().0,
                    x2.values[g].as_chunks::<32>().0,
                    x3.values[g].as_chunks::<32>().0,
                );
                for t in 0..4 {
                    let wv: __m256i = cast(wc[t]);
                    let magnitude = simd.avx2._mm256_sign_epi8(wv, wv);
                    a0 = simd.avx2._mm256_add_epi32(a0, chunk(simd, magnitude, wv, &c0[t], ones));
                    a1 = simd.avx2._mm256_add_epi32(a1, chunk(simd, magnitude, wv, &c1[t], ones));
                    a2 = simd.avx2._mm256_add_epi32(a2, chunk(simd, magnitude, wv, &c2[t], ones));
                    a3 = simd.avx2._mm256_add_epi32(a3, chunk(simd, magnitude, wv, &c3[t], ones));
                }
                t0 = fold::<MINS>(simd, a0, &w, &x0, g, t0);
                t1 = fold::<MINS>(simd, a1, &w, &x1, g, t1);
                t2 = fold::<MINS>(simd, a2, &w, &x2, g, t2);
                t3 = fold::<MINS>(simd, a3, &w, &x3, g, t3);
            }
            [horizontal_sum(t0), horizontal_sum(t1), horizontal_sum(t2), horizontal_sum(t3)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::GgmlDType;

    /// Activations rounded by [`ActQuant`] (not the packing code), times the
    /// exactly dequantized weights, in f64.
    fn reference(w: &QTensor, x: &[f32], m: usize, k: usize) -> Vec<f32> {
        let rounding = ActQuant::for_weights(w.dtype()).unwrap();
        let mut rounded = x.to_vec();
        rounded.chunks_mut(rounding.block()).for_each(|b| rounding.round_block(b));
        let weights = w.dequantize(&Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
        (0..m)
            .flat_map(|r| {
                let row = &rounded[r * k..(r + 1) * k];
                weights
                    .iter()
                    .map(|wr| wr.iter().zip(row).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum::<f64>() as f32)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn int8_products_equal_the_exact_products_of_the_rounded_values() {
        use GgmlDType::*;
        // 96 columns: one whole group plus a padded partial one. Decoding-sized
        // (1 row) and tiled (5 or more rows, with leftovers) products both run.
        let shapes = [(1, 96, 70), (5, 96, 33), (9, 256, 8), (13, 64, 300), (1, 512, 40), (7, 768, 19)];
        for dtype in [Q8_0, Q4_0, Q5_0, Q4K, Q5K, Q6K] {
            for (m, k, n) in shapes {
                if k % dtype.block_size() != 0 {
                    continue;
                }
                // Offset so that K-quant minimums are in play.
                let w: Vec<f32> = (0..n * k).map(|i| ((i * 7919 % 255) as f32 - 90.0) / 50.0).collect();
                let w = QTensor::quantize(&Tensor::from_vec(w, (n, k), &Device::Cpu).unwrap(), dtype).unwrap();
                let x: Vec<f32> = (0..m * k).map(|i| ((i * 104_729 % 1000) as f32 - 500.0) / 77.0).collect();
                let matrix = Int8Matrix::from_qtensor(&w).unwrap().expect("an integer-kernel type");
                let ours = matrix.matmul(&x, m);
                let exact = reference(&w, &x, m, k);
                let scale = exact.iter().fold(1f32, |a, b| a.max(b.abs()));
                for (a, b) in ours.iter().zip(&exact) {
                    assert!((a - b).abs() <= 2e-5 * scale, "{dtype:?} ({m},{k},{n}): {a} vs {b}");
                }
                let packed_x = quantize_rows(&x, m, k, matrix.activations, !matrix.packed.mins.is_empty());
                let portable = (0..m)
                    .flat_map(|r| (0..n).map(move |c| (r, c)))
                    .map(|(r, c)| kernels::portable(matrix.packed.row(c), [packed_x.row(r); TILE_ROWS])[0]);
                for (a, b) in ours.iter().zip(portable) {
                    assert!((a - b).abs() <= 1e-5 * scale, "{dtype:?} portable: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn matrices_larger_than_the_caches_are_split_by_weight_rows_with_the_same_results() {
        // Over STREAMED_WEIGHTS: many activation rows take the weight-row split, like an output head.
        let (m, k, n) = (9, 1024, STREAMED_WEIGHTS / 1024 + 64);
        let w: Vec<f32> = (0..n * k).map(|i| ((i * 7919 % 255) as f32 - 127.0) / 50.0).collect();
        let w = QTensor::quantize(&Tensor::from_vec(w, (n, k), &Device::Cpu).unwrap(), GgmlDType::Q8_0).unwrap();
        let matrix = Int8Matrix::from_qtensor(&w).unwrap().unwrap();
        assert!(matrix.packed.values.len() > STREAMED_WEIGHTS);
        let x: Vec<f32> = (0..m * k).map(|i| ((i * 104_729 % 1000) as f32 - 500.0) / 77.0).collect();
        let all = matrix.matmul(&x, m);
        // Each row alone (the decoding path) gives the same values.
        for r in 0..m {
            let one = matrix.matmul(&x[r * k..(r + 1) * k], 1);
            assert_eq!(&all[r * n..(r + 1) * n], &one[..], "row {r}");
        }
    }

    #[test]
    fn rows_dequantize_exactly() {
        for dtype in [GgmlDType::Q8_0, GgmlDType::Q4K, GgmlDType::Q6K] {
            let w: Vec<f32> = (0..3 * 256).map(|i| (i as f32 - 90.0) / 13.0).collect();
            let q = QTensor::quantize(&Tensor::from_vec(w, (3, 256), &Device::Cpu).unwrap(), dtype).unwrap();
            let matrix = Int8Matrix::from_qtensor(&q).unwrap().unwrap();
            let exact = q.dequantize(&Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
            for (r, row) in exact.iter().enumerate() {
                assert_eq!(&matrix.dequantize_row(r), row, "{dtype:?}");
            }
        }
    }

    #[test]
    fn other_block_types_are_left_to_the_caller() {
        let w = Tensor::zeros((4, 256), DType::F32, &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, GgmlDType::Q3K).unwrap();
        assert!(Int8Matrix::from_qtensor(&q).unwrap().is_none());
    }
}
