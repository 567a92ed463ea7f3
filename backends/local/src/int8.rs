//! Integer matrix products for weights stored as small integers with a scale
//! (and for some types a minimum) per 16 values: Q8_0, Q4_0, Q5_0, Q4_1, Q5_1,
//! Q2_K, Q3_K, Q4_K, Q5_K and Q6_K, read exactly by [`super::widen`].
//!
//! This is llama.cpp's arithmetic for these types: activations are rounded to
//! 8-bit blocks (`quantize_row_q8_0`, or `quantize_row_q8_1` for Q4_1/Q5_1,
//! for the 32-value types, `quantize_row_q8_K` for K-quants), each pair of 16-value pieces gives an exact integer sum, and
//! the sums are scaled by both sides' scales and added in f32. Only the order
//! and grouping of those f32 operations differ, so the results agree with
//! llama.cpp to float rounding, not just approximately.
//!
//! It is also what makes "stored" weights fast. On x86 with AVX2 a row is cut
//! into *groups* of 128 values, and each 32-byte load holds 4 values of each
//! of the group's 8 sixteen-value pieces, so that `maddubs`/`madd` yield 8 i32
//! lanes, lane `l` a partial sum of piece `l`. After the group's four loads
//! every lane holds its piece's whole sum, and a group costs one float
//! conversion and one fused multiply-add with the 8 pieces' scales.
//! A tile of 4 activation rows shares each weight load.
//!
//! ```text
//! group of 128 values: pieces p0..p7 of 16       physical layout (4 chunks × 32 bytes)
//! p0[0..16] p1[0..16] ... p7[0..16]           →  chunk t = p0[4t..4t+4] p1[4t..4t+4] ... p7[4t..4t+4]
//! scales per group: s0 s1 ... s7                 (lane l of an i32 sum belongs to piece l)
//! ```
//!
//! Weights and activations use the same layout, so the permutation inside a
//! group cancels out of every dot product.
//!
//! `maddubs` multiplies unsigned bytes by signed ones. Q8_0 weights are
//! signed, so its kernel multiplies `|w|` by `x` with `w`'s sign. The other
//! types are stored as non-negative `q + offset` ([`super::widen::Encoding`]);
//! their products need no sign step, and since the weights are small, two or
//! four chunks' 16-bit products are added before widening to 32 bits. The
//! offset's share, `offset × Σ x` per piece, is subtracted from the integer
//! sums, so they are exactly those of the signed values. Types with minimums
//! (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K) subtract `min × Σ activations` per piece,
//! as llama.cpp does with Q8_K's block sums and Q8_1's f16 block sum.

use candle_core::quantized::QTensor;
use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;

use super::act_quant::{int_sum, ActQuant};
use super::cpu_ops::vectorized;
use super::widen::{has_mins, unpack, unpacks, Encoding, SUB};

const GROUP: usize = 128;
/// Scale slots per group: one per 16-value piece, one per i32 lane.
const GROUP_SCALES: usize = GROUP / SUB;
/// Bytes per SIMD load: a group is four chunks.
const CHUNK: usize = 32;
/// Activation rows per kernel tile.
const TILE_ROWS: usize = 4;
/// Weight rows handled together, small enough to stay in L1 while every tile of activations passes.
const WEIGHT_CHUNK: usize = 16;
/// Weight bytes beyond which a matrix is split by weight rows even for many
/// activation rows: larger than the caches, it should be streamed once.
const STREAMED_WEIGHTS: usize = 16 << 20;

/// How a group's four chunks of products become 32-bit lane sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// Signed weights: `|w| × ±x` per chunk, each widened on its own.
    Signed = 0,
    /// Unsigned weights of up to 5 bits: four chunks added in 16 bits, then widened.
    Four = 1,
    /// Unsigned weights of up to 6 bits: two chunks added in 16 bits, twice.
    Two = 2,
}

/// Const-generic spellings of [`Kernel`] (const generics take integers, not enums).
const SIGNED: u8 = Kernel::Signed as u8;
const FOUR: u8 = Kernel::Four as u8;
const TWO: u8 = Kernel::Two as u8;

impl Kernel {
    fn for_encoding(encoding: Encoding) -> Self {
        // A `maddubs` lane is two products of at most `max × 128` and must
        // stay within i16, and so must the sum of the chunks added before widening.
        let lane = |max: u8, chunks: i32| chunks * 2 * 128 * i32::from(max) <= i32::from(i16::MAX);
        match encoding {
            Encoding::Unsigned { max, .. } if lane(max, 4) => Kernel::Four,
            Encoding::Unsigned { max, .. } if lane(max, 2) => Kernel::Two,
            Encoding::Unsigned { max, .. } => unreachable!("no block type stores {max}-valued integers"),
            Encoding::Signed => Kernel::Signed,
        }
    }
}

/// Rows of int8 values with a scale per 16-value piece, in the group layout.
#[derive(Debug, Clone)]
struct Packed {
    /// Row length after padding to whole groups.
    padded: usize,
    values: Vec<i8>,
    scales: Vec<f32>,
    /// Per piece: for weights, the minimum to subtract (times the activation
    /// sum); for activations, `scale × Σ values`. Empty when not needed.
    mins: Vec<f32>,
    /// Activations only, per piece: `offset × Σ values`, the share of the
    /// weights' offset in an integer sum. Empty when the weights have none.
    corrections: Vec<i32>,
}

/// One row of a [`Packed`], cut into groups. `mins` and `corrections` are
/// empty when the product does not need them.
#[derive(Clone, Copy)]
struct Row<'a> {
    values: &'a [[[i8; CHUNK]; GROUP / CHUNK]],
    scales: &'a [[f32; GROUP_SCALES]],
    mins: &'a [[f32; GROUP_SCALES]],
    corrections: &'a [[i32; GROUP_SCALES]],
}

impl Packed {
    fn with_rows(rows: usize, cols: usize, mins: bool, corrections: bool) -> Self {
        let padded = cols.div_ceil(GROUP) * GROUP;
        let slots = rows * padded / SUB;
        Packed {
            padded,
            values: vec![0; rows * padded],
            scales: vec![0.0; slots],
            mins: vec![0.0; slots * mins as usize],
            corrections: vec![0; slots * corrections as usize],
        }
    }

    fn slots(&self) -> usize {
        self.padded / SUB
    }

    fn row(&self, r: usize) -> Row<'_> {
        self.rows(r, 1)
    }

    /// Rows `r..r + count` as one [`Row`]: row `i`'s group `g` is group `i × groups + g`.
    fn rows(&self, r: usize, count: usize) -> Row<'_> {
        let slots = self.slots();
        Row {
            values: rows_of(&self.values, r, count, self.padded).as_chunks().0.as_chunks().0,
            scales: rows_of(&self.scales, r, count, slots).as_chunks().0,
            mins: rows_of(&self.mins, r, count, slots).as_chunks().0,
            corrections: rows_of(&self.corrections, r, count, slots).as_chunks().0,
        }
    }

    /// Each row's values, scales, mins and corrections (empty slices when
    /// there are none), in parallel.
    fn rows_mut(&mut self) -> impl IndexedParallelIterator<Item = RowMut<'_>> {
        let (padded, slots) = (self.padded, self.slots());
        let rows = self.values.len() / padded.max(1);
        fn split<T>(v: &mut [T], slots: usize, rows: usize) -> Vec<&mut [T]> {
            if v.is_empty() {
                (0..rows).map(|_| &mut [][..]).collect()
            } else {
                v.chunks_mut(slots).collect()
            }
        }
        let mins = split(&mut self.mins, slots, rows);
        let corrections = split(&mut self.corrections, slots, rows);
        self.values
            .par_chunks_mut(padded)
            .zip(self.scales.par_chunks_mut(slots))
            .zip(mins)
            .zip(corrections)
            .map(|(((values, scales), mins), corrections)| RowMut { values, scales, mins, corrections })
    }
}

/// Rows `first..first + count` of `v`, which holds `per_row` items a row; an
/// empty `v` (a part the product does not need) stays empty.
fn rows_of<T>(v: &[T], first: usize, count: usize, per_row: usize) -> &[T] {
    if v.is_empty() {
        v
    } else {
        &v[first * per_row..(first + count) * per_row]
    }
}

/// One row of a [`Packed`] being written.
struct RowMut<'a> {
    values: &'a mut [i8],
    scales: &'a mut [f32],
    mins: &'a mut [f32],
    corrections: &'a mut [i32],
}

/// Where value `i` of a row lives in the group layout.
fn position(i: usize) -> usize {
    let (group, j) = (i / GROUP, i % GROUP);
    group * GROUP + (j % SUB / 4) * 32 + (j / SUB) * 4 + j % 4
}

/// Copies `natural` (whole groups, values in order) into `out` in the group
/// layout, [`position`] four bytes at a time.
fn interleave(natural: &[i8], out: &mut [i8]) {
    for (src, dst) in natural.chunks_exact(GROUP).zip(out.chunks_exact_mut(GROUP)) {
        for piece in 0..GROUP_SCALES {
            for quad in 0..SUB / 4 {
                let from = piece * SUB + quad * 4;
                let to = position(from);
                dst[to..to + 4].copy_from_slice(&src[from..from + 4]);
            }
        }
    }
}

/// A weight matrix (`rows` outputs × `cols` inputs) multiplied with integer kernels.
#[derive(Debug, Clone)]
pub struct Int8Matrix {
    rows: usize,
    cols: usize,
    /// How activations are rounded for this matrix's block type.
    activations: ActQuant,
    encoding: Encoding,
    kernel: Kernel,
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
        let mut packed = Packed::with_rows(rows, cols, has_mins(dtype), false);
        let padded = packed.padded;
        packed.rows_mut().zip(data.par_chunks_exact(block_bytes * (cols / block))).for_each_init(
            // Buffers per rayon task, not per row (an output head has 262k rows):
            // the row in natural order, and minimums of types that have none.
            || (vec![0i8; padded], vec![0f32; block / SUB]),
            |(natural, no_mins), (out, row)| {
                for (b, bytes) in row.chunks_exact(block_bytes).enumerate() {
                    let slots = b * block / SUB..(b + 1) * block / SUB;
                    let mins = if out.mins.is_empty() { &mut no_mins[..] } else { &mut out.mins[slots.clone()] };
                    unpack(dtype, bytes, &mut natural[b * block..(b + 1) * block], &mut out.scales[slots], mins);
                }
                interleave(natural, out.values);
            },
        );
        let encoding = Encoding::of(dtype);
        Ok(Some(Int8Matrix { rows, cols, activations, encoding, kernel: Kernel::for_encoding(encoding), packed }))
    }

    /// Bytes held.
    pub fn size_in_bytes(&self) -> usize {
        self.packed.values.len() + 4 * (self.packed.scales.len() + self.packed.mins.len())
    }

    /// Row `r` as f32, exactly as stored (the embedding lookup).
    pub fn dequantize_row(&self, r: usize) -> Vec<f32> {
        let row = self.packed.row(r);
        let (values, scales, mins) =
            (row.values.as_flattened().as_flattened(), row.scales.as_flattened(), row.mins.as_flattened());
        let offset = self.encoding.offset();
        (0..self.cols)
            .map(|i| {
                let weight = (i32::from(values[position(i)]) - offset) as f32 * scales[i / SUB];
                if mins.is_empty() {
                    weight
                } else {
                    weight - mins[i / SUB]
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
        let mins = !self.packed.mins.is_empty();
        let activations = quantize_rows(x, m, self.cols, self.activations, mins, self.encoding.offset());
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
            let (offset, mins) = (!x.corrections.is_empty(), !x.mins.is_empty());
            // One feature check per band; everything below is inlined into AVX2
            // code, one copy per weight encoding in use (and one `vectorize`
            // each: a closure holding several copies would be too large to inline).
            match (self.kernel, offset, mins) {
                (Kernel::Signed, false, false) => {
                    return simd.vectorize(|| self.band_avx2::<SIGNED, false, false>(simd, x, first, column0, out))
                }
                (Kernel::Four, true, false) => {
                    return simd.vectorize(|| self.band_avx2::<FOUR, true, false>(simd, x, first, column0, out))
                }
                (Kernel::Four, false, true) => {
                    return simd.vectorize(|| self.band_avx2::<FOUR, false, true>(simd, x, first, column0, out))
                }
                (Kernel::Two, true, false) => {
                    return simd.vectorize(|| self.band_avx2::<TWO, true, false>(simd, x, first, column0, out))
                }
                // No block type reads this way today; the portable kernels handle any.
                _ => {}
            }
        }
        self.band_with(x, first, column0, out, kernels::portable, kernels::portable_1x1)
    }

    /// [`Self::band_with`] on the AVX2 kernels for one weight encoding.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn band_avx2<const KERNEL: u8, const OFFSET: bool, const MINS: bool>(
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
            |w, x| kernels::avx2::dot::<KERNEL, OFFSET, MINS>(simd, w, x),
            |w, x| kernels::avx2::dot_one::<KERNEL, OFFSET, MINS>(simd, w, x),
        )
    }

    #[inline(always)]
    fn band_with<K: Fn(&Row<'_>, &Row<'_>) -> [f32; TILE_ROWS], K1: Fn(&Row<'_>, &Row<'_>) -> f32>(
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
                let xs = x.rows(first + r, TILE_ROWS);
                let [o0, o1, o2, o3] = &mut out[r..r + TILE_ROWS] else { unreachable!("a tile is {TILE_ROWS} rows") };
                for c in chunk.clone() {
                    let [s0, s1, s2, s3] = dot(&self.packed.row(column0 + c), &xs);
                    (o0[c], o1[c], o2[c], o3[c]) = (s0, s1, s2, s3);
                }
                r += TILE_ROWS;
            }
            // The rows left over (all of them when decoding), one at a time.
            for (r, row) in out.iter_mut().enumerate().skip(r) {
                let xr = x.row(first + r);
                for c in chunk.clone() {
                    row[c] = dot_one(&self.packed.row(column0 + c), &xr);
                }
            }
        }
    }
}

/// Round `m` rows of `cols` activations to 8-bit blocks as llama.cpp does
/// for the weights' type, in the group layout; with what multiplies the
/// minimums when the weights have them ([`ActQuant::sums_for_minimums`]), and
/// `offset × Σ values` per piece when their integers are stored with an offset.
fn quantize_rows(x: &[f32], m: usize, cols: usize, rounding: ActQuant, mins: bool, offset: i32) -> Packed {
    let mut packed = Packed::with_rows(m, cols, mins, offset != 0);
    let block = rounding.block();
    let padded = packed.padded;
    let rows = packed.rows_mut().zip(x.par_chunks(cols));
    rows.for_each_init(
        || vec![0i8; padded],
        |natural, (out, row)| {
            // The rounding is elementwise and exact, so AVX2 gives the same integers.
            vectorized(|| {
                for (b, block_values) in row.chunks_exact(block).enumerate() {
                    let ints = &mut natural[b * block..(b + 1) * block];
                    let scale = rounding.quantize(block_values, ints);
                    let slots = b * block / SUB..(b + 1) * block / SUB;
                    out.scales[slots.clone()].fill(scale);
                    if !out.mins.is_empty() {
                        rounding.sums_for_minimums(block_values, ints, scale, &mut out.mins[slots.clone()]);
                    }
                    if !out.corrections.is_empty() {
                        for (correction, piece) in out.corrections[slots].iter_mut().zip(ints.chunks_exact(SUB)) {
                            *correction = offset * int_sum(piece);
                        }
                    }
                }
            });
            interleave(natural, out.values);
        },
    );
    packed
}

/// The dot products, with AVX2 paths and a portable one that computes the same sums.
mod kernels {
    use super::{rows_of, Row, GROUP_SCALES, TILE_ROWS};

    /// `TILE_ROWS` activation rows (one [`Row`] over all of them) against one weight row, without SIMD.
    pub fn portable(w: &Row<'_>, x: &Row<'_>) -> [f32; TILE_ROWS] {
        let n = w.values.len();
        std::array::from_fn(|r| {
            let row = Row {
                values: rows_of(x.values, r, 1, n),
                scales: rows_of(x.scales, r, 1, n),
                mins: rows_of(x.mins, r, 1, n),
                corrections: rows_of(x.corrections, r, 1, n),
            };
            portable_1x1(w, &row)
        })
    }

    /// One activation row against one weight row, without SIMD.
    pub fn portable_1x1(w: &Row<'_>, x: &Row<'_>) -> f32 {
        let mut lanes = [0f32; GROUP_SCALES];
        for g in 0..w.values.len() {
            let mut sums = [0i32; GROUP_SCALES];
            for (wc, xc) in w.values[g].iter().zip(&x.values[g]) {
                for (lane, sum) in sums.iter_mut().enumerate() {
                    *sum += (0..4).map(|i| i32::from(wc[4 * lane + i]) * i32::from(xc[4 * lane + i])).sum::<i32>();
                }
            }
            for lane in 0..GROUP_SCALES {
                if !x.corrections.is_empty() {
                    sums[lane] -= x.corrections[g][lane];
                }
                lanes[lane] += sums[lane] as f32 * (w.scales[g][lane] * x.scales[g][lane]);
                if !w.mins.is_empty() {
                    lanes[lane] -= w.mins[g][lane] * x.mins[g][lane];
                }
            }
        }
        lanes.iter().sum()
    }

    #[cfg(target_arch = "x86_64")]
    pub mod avx2 {
        use super::super::{FOUR, SIGNED};
        use super::{Row, TILE_ROWS};
        use pulp::bytemuck::cast;
        use pulp::x86::V3;
        use std::arch::x86_64::{__m256, __m256i};

        /// One group's four weight chunks, and for signed weights their magnitudes.
        struct Weights {
            chunks: [__m256i; 4],
            magnitudes: [__m256i; 4],
        }

        #[inline(always)]
        fn weights<const KERNEL: u8>(simd: V3, w: &Row<'_>, g: usize) -> Weights {
            // No closures or array maps here: code outside the AVX2 context
            // would take each vector through memory.
            let c = &w.values[g];
            let chunks: [__m256i; 4] = [cast(c[0]), cast(c[1]), cast(c[2]), cast(c[3])];
            let a = simd.avx2;
            let magnitudes = if KERNEL == SIGNED {
                [
                    a._mm256_sign_epi8(chunks[0], chunks[0]),
                    a._mm256_sign_epi8(chunks[1], chunks[1]),
                    a._mm256_sign_epi8(chunks[2], chunks[2]),
                    a._mm256_sign_epi8(chunks[3], chunks[3]),
                ]
            } else {
                chunks
            };
            Weights { chunks, magnitudes }
        }

        /// A group's 8 lane sums (one per 16-value piece) of weights times activations.
        #[inline(always)]
        fn lane_sums<const KERNEL: u8>(simd: V3, w: &Weights, x: &[[i8; 32]; 4]) -> __m256i {
            let a = simd.avx2;
            let ones = simd.avx._mm256_set1_epi16(1);
            let x: [__m256i; 4] = [cast(x[0]), cast(x[1]), cast(x[2]), cast(x[3])];
            if KERNEL == SIGNED {
                // maddubs takes |w| and x with w's sign; each chunk widens on its own.
                let p0 = a._mm256_maddubs_epi16(w.magnitudes[0], a._mm256_sign_epi8(x[0], w.chunks[0]));
                let p1 = a._mm256_maddubs_epi16(w.magnitudes[1], a._mm256_sign_epi8(x[1], w.chunks[1]));
                let p2 = a._mm256_maddubs_epi16(w.magnitudes[2], a._mm256_sign_epi8(x[2], w.chunks[2]));
                let p3 = a._mm256_maddubs_epi16(w.magnitudes[3], a._mm256_sign_epi8(x[3], w.chunks[3]));
                let (p0, p1) = (a._mm256_madd_epi16(p0, ones), a._mm256_madd_epi16(p1, ones));
                let (p2, p3) = (a._mm256_madd_epi16(p2, ones), a._mm256_madd_epi16(p3, ones));
                a._mm256_add_epi32(a._mm256_add_epi32(p0, p1), a._mm256_add_epi32(p2, p3))
            } else {
                let p0 = a._mm256_maddubs_epi16(w.chunks[0], x[0]);
                let p1 = a._mm256_maddubs_epi16(w.chunks[1], x[1]);
                let p2 = a._mm256_maddubs_epi16(w.chunks[2], x[2]);
                let p3 = a._mm256_maddubs_epi16(w.chunks[3], x[3]);
                let (low, high) = (a._mm256_add_epi16(p0, p1), a._mm256_add_epi16(p2, p3));
                if KERNEL == FOUR {
                    a._mm256_madd_epi16(a._mm256_add_epi16(low, high), ones)
                } else {
                    a._mm256_add_epi32(a._mm256_madd_epi16(low, ones), a._mm256_madd_epi16(high, ones))
                }
            }
        }

        /// Adds a group's lane sums, less the offset's share, scaled, to
        /// `total`, less the minimums' share.
        #[inline(always)]
        fn fold<const OFFSET: bool, const MINS: bool>(
            simd: V3,
            sums: __m256i,
            w: &Row<'_>,
            g: usize,
            x: &Row<'_>,
            xg: usize,
            total: __m256,
        ) -> __m256 {
            let sums = if OFFSET { simd.avx2._mm256_sub_epi32(sums, cast(x.corrections[xg])) } else { sums };
            let scale = simd.avx._mm256_mul_ps(cast(w.scales[g]), cast(x.scales[xg]));
            let total = simd.fma._mm256_fmadd_ps(simd.avx._mm256_cvtepi32_ps(sums), scale, total);
            if MINS {
                simd.fma._mm256_fnmadd_ps(cast(w.mins[g]), cast(x.mins[xg]), total)
            } else {
                total
            }
        }

        #[inline(always)]
        fn horizontal_sum(t: __m256) -> f32 {
            let l: [f32; 8] = cast(t);
            ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]))
        }

        /// Checks once that `x` has what the kernel reads, so the loops index without checks.
        #[inline(always)]
        fn check<const OFFSET: bool, const MINS: bool>(w: &Row<'_>, x: &Row<'_>) {
            let n = w.values.len();
            assert!(x.values.len() == n && w.scales.len() == n && x.scales.len() == n);
            assert!(!OFFSET || x.corrections.len() == n);
            assert!(!MINS || (w.mins.len() == n && x.mins.len() == n));
        }

        /// One activation row against one weight row (decoding).
        #[inline(always)]
        pub fn dot_one<const KERNEL: u8, const OFFSET: bool, const MINS: bool>(
            simd: V3,
            w: &Row<'_>,
            x: &Row<'_>,
        ) -> f32 {
            check::<OFFSET, MINS>(w, x);
            let mut total = simd.avx._mm256_setzero_ps();
            for g in 0..w.values.len() {
                let sums = lane_sums::<KERNEL>(simd, &weights::<KERNEL>(simd, w, g), &x.values[g]);
                total = fold::<OFFSET, MINS>(simd, sums, w, g, x, g, total);
            }
            horizontal_sum(total)
        }

        /// Four activation rows (one [`Row`] over all of them) against one
        /// weight row, a group at a time.
        #[inline(always)]
        pub fn dot<const KERNEL: u8, const OFFSET: bool, const MINS: bool>(
            simd: V3,
            w: &Row<'_>,
            x: &Row<'_>,
        ) -> [f32; TILE_ROWS] {
            let n = w.values.len();
            assert!(x.values.len() == TILE_ROWS * n && x.scales.len() == TILE_ROWS * n && w.scales.len() == n);
            assert!(!OFFSET || x.corrections.len() == TILE_ROWS * n);
            assert!(!MINS || (w.mins.len() == n && x.mins.len() == TILE_ROWS * n));
            let zero = simd.avx._mm256_setzero_ps();
            let (mut t0, mut t1, mut t2, mut t3) = (zero, zero, zero, zero);
            for g in 0..n {
                let wg = weights::<KERNEL>(simd, w, g);
                // Row by row, each folded at once: fewer vectors live at a time.
                let (g0, g1, g2, g3) = (g, n + g, 2 * n + g, 3 * n + g);
                t0 = fold::<OFFSET, MINS>(simd, lane_sums::<KERNEL>(simd, &wg, &x.values[g0]), w, g, x, g0, t0);
                t1 = fold::<OFFSET, MINS>(simd, lane_sums::<KERNEL>(simd, &wg, &x.values[g1]), w, g, x, g1, t1);
                t2 = fold::<OFFSET, MINS>(simd, lane_sums::<KERNEL>(simd, &wg, &x.values[g2]), w, g, x, g2, t2);
                t3 = fold::<OFFSET, MINS>(simd, lane_sums::<KERNEL>(simd, &wg, &x.values[g3]), w, g, x, g3, t3);
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
    /// exactly dequantized weights, in f64. For Q4_1/Q5_1 the minimum's share
    /// is llama.cpp's `m × s`, where `s` is the activation block's sum stored
    /// in f16 by `quantize_row_q8_1` (read here from the raw weight blocks and
    /// recomputed from the activations, not by the code under test).
    fn reference(w: &QTensor, x: &[f32], m: usize, k: usize) -> Vec<f32> {
        let rounding = ActQuant::for_weights(w.dtype()).unwrap();
        let mut rounded = x.to_vec();
        rounded.chunks_mut(rounding.block()).for_each(|b| rounding.round_block(b));
        let weights = w.dequantize(&Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
        let q8_1 = rounding == ActQuant::Q8_1;
        // Per weight row, each 32-value block's minimum `m` (bytes 2..4 of `block_q4_1`/`block_q5_1`).
        let minimums: Vec<Vec<f64>> = if q8_1 {
            let data = w.data().unwrap();
            let block_bytes = w.dtype().type_size();
            data.chunks_exact(block_bytes * k / 32)
                .map(|row| {
                    row.chunks_exact(block_bytes).map(|b| f64::from(half::f16::from_le_bytes([b[2], b[3]]))).collect()
                })
                .collect()
        } else {
            Vec::new()
        };
        (0..m)
            .flat_map(|r| {
                let row = &rounded[r * k..(r + 1) * k];
                // Per activation block: its rounded sum and `f16(amax / 127 × Σ q)`.
                let sums: Vec<(f64, f64)> = x[r * k..(r + 1) * k]
                    .chunks(32)
                    .zip(row.chunks(32))
                    .map(|(original, rounded)| {
                        let amax = original.iter().fold(0f32, |a, v| a.max(v.abs()));
                        let ints: i32 = original.iter().map(|v| (v * 127.0 / amax).round_ties_even() as i32).sum();
                        let stored = half::f16::from_f32(amax / 127.0 * ints as f32);
                        (rounded.iter().map(|&v| f64::from(v)).sum(), f64::from(stored))
                    })
                    .collect();
                weights
                    .iter()
                    .enumerate()
                    .map(|(c, wr)| {
                        let mut dot = wr.iter().zip(row).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum::<f64>();
                        if q8_1 {
                            dot +=
                                minimums[c].iter().zip(&sums).map(|(m, (rounded, s))| m * (s - rounded)).sum::<f64>();
                        }
                        dot as f32
                    })
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
        for dtype in [Q8_0, Q4_0, Q5_0, Q4_1, Q5_1, Q2K, Q3K, Q4K, Q5K, Q6K] {
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
                let mins = !matrix.packed.mins.is_empty();
                let packed_x = quantize_rows(&x, m, k, matrix.activations, mins, matrix.encoding.offset());
                let portable = (0..m)
                    .flat_map(|r| (0..n).map(move |c| (r, c)))
                    .map(|(r, c)| kernels::portable_1x1(&matrix.packed.row(c), &packed_x.row(r)));
                for (a, b) in ours.iter().zip(portable) {
                    assert!((a - b).abs() <= 1e-5 * scale, "{dtype:?} portable: {a} vs {b}");
                }
            }
        }
    }

    /// ggml's own blocks and products (`tests/fixtures/ggml_products`, made
    /// with llama.cpp b11434): quantized by `ggml_quantize_chunk` and
    /// multiplied by `ggml_mul_mat` on its CPU backend, which rounds the
    /// activations to Q8_0 / Q8_1 / Q8_K first. The integer sums are exact on
    /// both sides, so only the order of the float sums may differ.
    #[test]
    fn products_equal_ggml_on_its_own_blocks() {
        use candle_core::quantized::ggml_file::qtensor_from_ggml;
        use GgmlDType::*;
        // Read at run time, as the integration tests do: the compile-time value goes stale when
        // a shared target directory serves checkouts at different paths.
        let package = std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), std::path::PathBuf::from);
        let dir = package.join("tests/fixtures/ggml_products");
        let index: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("products.json")).unwrap()).unwrap();
        let blob = std::fs::read(dir.join("products.bin")).unwrap();
        let slice = |entry: &serde_json::Value| {
            let offset = entry["offset"].as_u64().unwrap() as usize;
            &blob[offset..offset + entry["bytes"].as_u64().unwrap() as usize]
        };
        let floats = |bytes: &[u8]| -> Vec<f32> {
            bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
        };
        let dim = |key: &str| index[key].as_u64().unwrap() as usize;
        let (k, n, m) = (dim("k"), dim("n"), dim("m"));
        let x = floats(slice(&index["activations"]));
        let mut checked = Vec::new();
        for entry in index["types"].as_array().unwrap() {
            let name = entry["type"].as_str().unwrap();
            let dtype = match name {
                "q4_0" => Q4_0,
                "q4_1" => Q4_1,
                "q5_0" => Q5_0,
                "q5_1" => Q5_1,
                "q8_0" => Q8_0,
                "q2_K" => Q2K,
                "q3_K" => Q3K,
                "q4_K" => Q4K,
                "q5_K" => Q5K,
                "q6_K" => Q6K,
                other => panic!("products.json: unknown type {other}"),
            };
            let w = qtensor_from_ggml(dtype, slice(&entry["blocks"]), vec![n, k], &Device::Cpu).unwrap();
            let matrix = Int8Matrix::from_qtensor(&w).unwrap().expect("an integer-kernel type");
            let ggml = floats(slice(&entry["products"]));
            let ours = matrix.matmul(&x, m);
            let worst = |ours: &[f32], ggml: &[f32]| {
                let scale = ggml.iter().fold(0f32, |a, b| a.max(b.abs()));
                ours.iter().zip(ggml).map(|(a, b)| (a - b).abs() / scale).fold(0f32, f32::max)
            };
            let tiled = worst(&ours, &ggml);
            // One row at a time: the decoding path.
            let single = (0..m)
                .map(|r| worst(&matrix.matmul(&x[r * k..(r + 1) * k], 1), &ggml[r * n..(r + 1) * n]))
                .fold(0f32, f32::max);
            assert!(tiled < 5e-6 && single < 5e-6, "{name}: relative gaps {tiled:e} (tiled), {single:e} (one row)");
            checked.push(name);
        }
        assert_eq!(checked.len(), 10, "every integer-kernel type is in products.json");
    }

    #[test]
    fn the_largest_stored_weights_against_full_scale_activations_do_not_overflow_16_bits() {
        use GgmlDType::*;
        // One strongly negative weight per 16 sets each block's scale, so the
        // rest land on the largest stored integer; activations of one sign
        // round to ±127. Every 16-bit partial sum is then as large as it gets.
        let (m, k, n) = (5, 512, 8);
        let w: Vec<f32> = (0..n * k).map(|i| if i % 16 == 0 { -1.0 } else { 0.97 }).collect();
        for dtype in [Q8_0, Q4_0, Q5_0, Q4_1, Q5_1, Q2K, Q3K, Q4K, Q5K, Q6K] {
            let w = QTensor::quantize(&Tensor::from_vec(w.clone(), (n, k), &Device::Cpu).unwrap(), dtype).unwrap();
            let matrix = Int8Matrix::from_qtensor(&w).unwrap().unwrap();
            if let Encoding::Unsigned { max, .. } = matrix.encoding {
                let largest = matrix.packed.values.iter().max().copied();
                assert_eq!(largest, Some(max as i8), "{dtype:?} does not reach its largest value");
            }
            for sign in [1.0, -1.0] {
                let x = vec![sign; m * k];
                let exact = reference(&w, &x, m, k);
                for (a, b) in matrix.matmul(&x, m).iter().zip(&exact) {
                    assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{dtype:?} x = {sign}: {a} vs {b}");
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
        use GgmlDType::*;
        for dtype in [Q8_0, Q4_1, Q2K, Q3K, Q4K, Q6K] {
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
        let q = QTensor::quantize(&w, GgmlDType::F16).unwrap();
        assert!(Int8Matrix::from_qtensor(&q).unwrap().is_none());
    }
}
