//! Our dense matrix product `C (+)= A · B` for the AVX2 and scalar SIMD levels (Goto/BLIS
//! blocking: B packed in depth blocks of `KC` into the panels the micro-kernels of [`kernels`]
//! stream, or read in place when it is row-major and A has only a few tiles of rows; A read in
//! place, in blocks of `MC` rows, packed only for a partial last tile of rows or when its rows
//! lie far apart), threaded over row blocks with rayon. When that costs less around the kernel (few
//! rows: packing B would cost more than the product) it computes Cᵀ = Bᵀ·Aᵀ instead; a small
//! output over a long depth is computed in shares of the depth added in a fixed order. It runs at
//! the AVX2 and scalar SIMD levels, and at the AVX-512 level for a column-major right-hand side
//! with few rows; elsewhere at AVX-512, `Float::gemm` uses the `gemm` crate's AVX-512 kernels
//! (the choice and its measurements: `docs/gemm.md`).
//!
//! Packing buffers are per thread and kept between calls, so a steady-state training step
//! allocates nothing here and touches no fresh pages.

mod kernels;
mod pack;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::ops::Add;

use rayon::prelude::*;

use crate::simd::SimdLevel;
use kernels::{MicroKernel, MAX_TILE};
pub(crate) use pack::View;

/// Element types with micro-kernels.
pub(crate) trait GemmElement: Copy + Default + Send + Sync + Add<Output = Self> + 'static {
    /// Depth of a packed block.
    const KC: usize;
    /// Rows of a packed A block (rounded down to the kernel's `mr`).
    const MC: usize;
    /// The micro-kernel for `level` (at most the CPU's).
    fn kernel(level: SimdLevel) -> MicroKernel<Self>;
    /// Runs `f` on this thread's two packing buffers (0: A, 1: B).
    fn with_buffers<R>(f: impl FnOnce(&[Cell<Vec<Self>>; 2]) -> R) -> R;

    /// Takes this thread's packing buffer `slot`, leaving an empty one.
    fn take_buffer(slot: usize) -> Vec<Self> {
        Self::with_buffers(|b| b[slot].take())
    }
    /// Gives a packing buffer back to this thread's `slot`.
    fn return_buffer(slot: usize, buf: Vec<Self>) {
        Self::with_buffers(|b| b[slot].set(buf))
    }
}

macro_rules! element {
    ($t:ty, $kc:expr, $mc:expr, $scalar:path, $avx2:path) => {
        impl GemmElement for $t {
            const KC: usize = $kc;
            const MC: usize = $mc;
            fn kernel(level: SimdLevel) -> MicroKernel<Self> {
                #[cfg(target_arch = "x86_64")]
                if level >= SimdLevel::Avx2 {
                    return $avx2;
                }
                let _ = level;
                $scalar
            }
            fn with_buffers<R>(f: impl FnOnce(&[Cell<Vec<Self>>; 2]) -> R) -> R {
                thread_local! {
                    static BUFFERS: [Cell<Vec<$t>>; 2] = const { [Cell::new(Vec::new()), Cell::new(Vec::new())] };
                }
                BUFFERS.with(f)
            }
        }
    };
}

element!(f32, 256, 192, kernels::SCALAR_F32, kernels::AVX2_F32);
element!(f64, 128, 192, kernels::SCALAR_F64, kernels::AVX2_F64);

/// Strides of A from which a reused block is packed rather than read in place.
const FAR_APART_BYTES: usize = 1024;

/// Panels of B over which a block of far-apart A is reused before it is worth packing.
const PACK_A_PANELS: usize = 4;

/// Columns of B packed at a time.
const NC: usize = 4096;

/// A destination pointer shared by the tasks of one product (they write disjoint tiles).
#[derive(Clone, Copy)]
struct Dst<T>(*mut T);
// SAFETY: tasks write disjoint tiles of the destination, which outlives the parallel loop.
unsafe impl<T: Send> Send for Dst<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Dst<T> {}

impl<T> Dst<T> {
    /// The pointer (a method, so closures capture the whole `Dst`, not its non-`Sync` field).
    fn ptr(self) -> *mut T {
        self.0
    }
}

/// Whether A's rows or columns lie so far apart that a reused block of it is packed.
fn far_apart<T>(a: View<T>) -> bool {
    a.rs.unsigned_abs().max(a.cs.unsigned_abs()) * std::mem::size_of::<T>() >= FAR_APART_BYTES
}

/// Most row tiles over which B is read in place rather than packed, when its rows are contiguous:
/// a B panel used by so few tiles is cheaper to stream from its rows (one cache line per depth
/// step) than to copy first — the per-mode products of the spectral mixing (2B rows, the weights
/// read once).
const IN_PLACE_B_TILES: usize = 4;

/// Whether `blocked` reads the full panels of B in place (row-major B, few rows of A).
fn reads_b_in_place<T>(m: usize, rhs: View<T>, mr: usize) -> bool {
    rhs.cs == 1 && rhs.rs > 0 && m <= IN_PLACE_B_TILES * mr
}

/// The work around the kernel of `dst (m × n, column stride dst_cs) = lhs · rhs` (rhs k × n), in
/// element moves: B is packed whole (but for its partial panel when it is read in place), A when
/// its rows lie far apart and a block of it is reused over many panels of `nr` columns, and a
/// destination whose rows are not contiguous is written element by element (counted four times,
/// a scattered read-modify-write against a streamed copy).
fn overhead<T>(
    (m, n, k): (usize, usize, usize),
    lhs: View<T>,
    rhs: View<T>,
    dst_cs: isize,
    (mr, nr): (usize, usize),
) -> usize {
    let pack_b = if reads_b_in_place(m, rhs, mr) { k * (n % nr) } else { k * n };
    let pack_a = if far_apart(lhs) && n >= PACK_A_PANELS * nr { k * m } else { 0 };
    let scatter = if dst_cs == 1 { 0 } else { 4 * m * n };
    pack_b + pack_a + scatter
}

/// A packing buffer of at least `len` elements from this thread's `slot` (grown, never shrunk).
fn buffer<T: GemmElement>(slot: usize, len: usize) -> Vec<T> {
    let mut buf = T::take_buffer(slot);
    if buf.len() < len {
        buf.resize(len, T::default());
    }
    buf
}

/// `dst (+)= lhs · rhs` with `lhs` m × k and `rhs` k × n, element (i, j) of `dst` at
/// `i·dst_rs + j·dst_cs`; `accumulate == false` overwrites `dst` without reading it. Runs on up to
/// `threads` threads of the current rayon pool, with the micro-kernel of `level`.
///
/// # Safety
/// Both views must be valid for every element of their matrices, `dst` for every element of the
/// m × n result, and `dst` must not overlap either operand; `level` at most the CPU's.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm<T: GemmElement>(
    level: SimdLevel,
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_rs: isize,
    dst_cs: isize,
    accumulate: bool,
    lhs: View<T>,
    rhs: View<T>,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    // SAFETY: inside the destination.
                    unsafe { *dst.offset(i as isize * dst_rs + j as isize * dst_cs) = T::default() };
                }
            }
        }
        return;
    }
    let shares = depth_shares::<T>(m, n, k);
    if shares > 1 {
        // SAFETY: the caller's contract.
        return unsafe { depth_split(level, (m, n, k), shares, dst, (dst_rs, dst_cs), accumulate, lhs, rhs, threads) };
    }
    // SAFETY: the caller's contract.
    unsafe { blocked(level, m, n, k, dst, dst_rs, dst_cs, accumulate, lhs, rhs, threads) }
}

/// Outputs of at most this many elements are computed in depth shares when the depth is long.
const DEPTH_SPLIT_MAX_OUTPUT: usize = 256 * 256;

/// Depth blocks (`KC`) per share of a depth split, at least.
const DEPTH_BLOCKS_PER_SHARE: usize = 4;

/// Most shares of a depth split.
const MAX_DEPTH_SHARES: usize = 4;

/// Into how many contiguous shares of the depth an m × n × k product is cut: more than one for a
/// small output over a long depth (the weight gradients xᵀ·dy), where splitting the output leaves
/// each thread a sliver of work and a barrier per depth block. A function of the shape only,
/// never of the thread count, so results do not depend on it.
fn depth_shares<T: GemmElement>(m: usize, n: usize, k: usize) -> usize {
    if m * n > DEPTH_SPLIT_MAX_OUTPUT {
        return 1;
    }
    (k / (DEPTH_BLOCKS_PER_SHARE * T::KC)).clamp(1, MAX_DEPTH_SHARES)
}

/// `dst (+)= lhs · rhs` as `shares` products over contiguous shares of the depth, run in
/// parallel: the first into `dst`, the others into buffers added to it in share order (a fixed
/// order, so the result is the same on any number of threads).
///
/// # Safety
/// As [`gemm`].
#[allow(clippy::too_many_arguments)]
unsafe fn depth_split<T: GemmElement>(
    level: SimdLevel,
    (m, n, k): (usize, usize, usize),
    shares: usize,
    dst: *mut T,
    (dst_rs, dst_cs): (isize, isize),
    accumulate: bool,
    lhs: View<T>,
    rhs: View<T>,
    threads: usize,
) {
    // share boundaries on whole depth blocks where possible
    let step = k.div_ceil(shares).div_ceil(T::KC) * T::KC;
    let operands: Vec<(View<T>, View<T>, usize)> = (0..shares)
        .map(|s| {
            let (p0, p1) = ((s * step).min(k), ((s + 1) * step).min(k));
            let a = View { ptr: lhs.ptr.wrapping_offset(p0 as isize * lhs.cs), ..lhs };
            let b = View { ptr: rhs.ptr.wrapping_offset(p0 as isize * rhs.rs), ..rhs };
            (a, b, p1 - p0)
        })
        .collect();
    let mut partial = vec![T::default(); (shares - 1) * m * n];
    let dst = Dst(dst);
    let share = |(s, out): (usize, &mut [T])| {
        let (a, b, depth) = operands[s];
        // SAFETY: each share's depth range lies inside both operands; share 0 writes `dst`, the
        // others their own buffer of m × n.
        unsafe {
            if s == 0 {
                blocked(level, m, n, depth, dst.ptr(), dst_rs, dst_cs, accumulate, a, b, 1);
            } else {
                blocked(level, m, n, depth, out.as_mut_ptr(), n as isize, 1, false, a, b, 1);
            }
        }
    };
    let outs: Vec<(usize, &mut [T])> =
        std::iter::once(&mut [][..]).chain(partial.chunks_mut(m * n)).enumerate().collect();
    if threads > 1 {
        outs.into_par_iter().with_max_len(1).for_each(share);
    } else {
        outs.into_iter().for_each(share);
    }
    for i in 0..m {
        for j in 0..n {
            // SAFETY: inside the destination.
            let e = unsafe { &mut *dst.ptr().offset(i as isize * dst_rs + j as isize * dst_cs) };
            for s in 1..shares {
                *e = *e + partial[(s - 1) * m * n + i * n + j];
            }
        }
    }
}

/// [`gemm`] with blocking over the output and threads over row blocks (no depth split).
///
/// # Safety
/// As [`gemm`].
#[allow(clippy::too_many_arguments)]
unsafe fn blocked<T: GemmElement>(
    level: SimdLevel,
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_rs: isize,
    dst_cs: isize,
    accumulate: bool,
    lhs: View<T>,
    rhs: View<T>,
    threads: usize,
) {
    let transpose = |v: View<T>| View { ptr: v.ptr, rs: v.cs, cs: v.rs };
    let tile_shape = (T::kernel(level).mr, T::kernel(level).nr);
    if overhead((m, n, k), lhs, rhs, dst_cs, tile_shape)
        > overhead((n, m, k), transpose(rhs), transpose(lhs), dst_rs, tile_shape)
    {
        // Cᵀ = Bᵀ·Aᵀ costs less around the kernel: with few rows, packing B would cost more
        // than the product itself (and a short m wastes tile rows)
        // SAFETY: the same product, seen transposed: the caller's contract carries over.
        return unsafe {
            blocked(level, n, m, k, dst, dst_cs, dst_rs, accumulate, transpose(rhs), transpose(lhs), threads)
        };
    }
    let kern = T::kernel(level);
    let (mr, nr) = (kern.mr, kern.nr);
    let threads = threads.max(1);
    // row blocks: a multiple of `threads` of them, each at most MC rows (a multiple of mr)
    let mc_max = (T::MC / mr).max(1) * mr;
    let row_blocks = threads * m.div_ceil(threads * mc_max);
    let mc = m.div_ceil(row_blocks).div_ceil(mr) * mr;
    let row_blocks = m.div_ceil(mc);
    let dst = Dst(dst);
    let far_apart = far_apart(lhs);
    let b_in_place = reads_b_in_place(m, rhs, mr);
    let mut packed_b = buffer::<T>(1, NC.min(n.div_ceil(nr) * nr) * T::KC.min(k));
    let mut jc = 0;
    while jc < n {
        let nc = NC.min(n - jc);
        let panels = nc.div_ceil(nr);
        // few row blocks: split the columns too, so every thread has work
        let col_splits = threads.div_ceil(row_blocks).min(panels);
        let panels_per_split = panels.div_ceil(col_splits);
        let mut pc = 0;
        while pc < k {
            let kc = T::KC.min(k - pc);
            let acc = accumulate || pc > 0;
            let bp = &mut packed_b[..panels * nr * kc];
            if b_in_place {
                // only a partial last panel is packed (zero-padded); the full ones are read in place
                let full = nc / nr;
                if full < panels {
                    // SAFETY: the partial panel lies inside rhs.
                    unsafe { pack::pack_b(rhs, pc, kc, jc + full * nr, nc - full * nr, nr, &mut bp[full * nr * kc..]) };
                }
            } else if threads > 1 && panels > 1 {
                bp.par_chunks_mut(nr * kc).enumerate().for_each(|(j, out)| {
                    // SAFETY: panel j of the block lies inside rhs.
                    unsafe { pack::pack_b(rhs, pc, kc, jc + j * nr, nr.min(nc - j * nr), nr, out) }
                });
            } else {
                // SAFETY: the block lies inside rhs.
                unsafe { pack::pack_b(rhs, pc, kc, jc, nc, nr, bp) };
            }
            let bp: &[T] = bp;
            let task = |t: usize| {
                let (ib, split) = (t / col_splits, t % col_splits);
                let ic = ib * mc;
                let rows = mc.min(m - ic);
                // A is read in place, but for a partial last tile of rows (packed, zero-padded)
                // and, when its rows or columns lie far apart and the block is reused over many
                // panels, the whole block (far-apart rows alias in the L1 sets and the TLB)
                let pack_all = far_apart && panels_per_split >= PACK_A_PANELS;
                let edge = if pack_all { 0 } else { rows % mr };
                let packed_rows = if pack_all { rows } else { edge };
                let mut ap = buffer::<T>(0, packed_rows.div_ceil(mr) * mr * kc);
                if packed_rows > 0 {
                    // SAFETY: the rows lie inside lhs.
                    unsafe { pack::pack_a(lhs, ic + rows - packed_rows, packed_rows, pc, kc, mr, &mut ap) };
                }
                let first = split * panels_per_split;
                for j in first..panels.min(first + panels_per_split) {
                    let cols = nr.min(nc - j * nr);
                    let (b_panel, b_ps) = if b_in_place && cols == nr {
                        (rhs.ptr_at(pc, jc + j * nr), rhs.rs as usize)
                    } else {
                        (bp[j * nr * kc..(j + 1) * nr * kc].as_ptr(), nr)
                    };
                    for ip in 0..rows.div_ceil(mr) {
                        let h = mr.min(rows - ip * mr);
                        let r = ic + ip * mr;
                        let (a, a_rs, a_ps) = if pack_all {
                            (ap[ip * mr * kc..].as_ptr(), 1, mr as isize)
                        } else if h == mr {
                            (lhs.ptr.wrapping_offset(r as isize * lhs.rs + pc as isize * lhs.cs), lhs.rs, lhs.cs)
                        } else {
                            (ap.as_ptr(), 1, mr as isize)
                        };
                        // SAFETY: the tile (r.., c..) of h × cols lies inside dst; tasks write
                        // disjoint tiles; A and the B panel hold the tile's operands.
                        unsafe {
                            let d = dst.ptr().offset(r as isize * dst_rs + (jc + j * nr) as isize * dst_cs);
                            if h == mr && cols == nr && dst_cs == 1 && dst_rs > 0 {
                                (kern.run)(kc, a, a_rs, a_ps, b_panel, b_ps, d, dst_rs as usize, acc);
                            } else {
                                let mut tile = [T::default(); MAX_TILE];
                                (kern.run)(kc, a, a_rs, a_ps, b_panel, b_ps, tile.as_mut_ptr(), nr, false);
                                // along the destination's contiguous direction
                                let store = |i: usize, jj: usize| {
                                    let e = d.offset(i as isize * dst_rs + jj as isize * dst_cs);
                                    let v = tile[i * nr + jj];
                                    *e = if acc { *e + v } else { v };
                                };
                                if dst_rs == 1 {
                                    (0..cols).for_each(|jj| (0..h).for_each(|i| store(i, jj)));
                                } else {
                                    (0..h).for_each(|i| (0..cols).for_each(|jj| store(i, jj)));
                                }
                            }
                        }
                    }
                }
                T::return_buffer(0, ap);
            };
            let tasks = row_blocks * col_splits;
            if threads > 1 && tasks > 1 {
                (0..tasks).into_par_iter().with_max_len(1).for_each(task);
            } else {
                (0..tasks).for_each(task);
            }
            pc += kc;
        }
        jc += nc;
    }
    T::return_buffer(1, packed_b);
}
