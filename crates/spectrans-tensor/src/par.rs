//! Element-wise loops, split across rayon's threads when the work is large enough to pay for it.
//! Every split is by fixed contiguous chunks, so results never depend on thread timing.

use std::mem::MaybeUninit;

use rayon::prelude::*;

/// Below this many elements a loop runs on the calling thread.
pub const PAR_THRESHOLD: usize = 1 << 15;
const CHUNK: usize = 1 << 13;

/// Runs `body` on a thread of the current rayon pool — inline when already on one — and returns
/// its result.
///
/// A forward or backward pass makes hundreds of parallel calls. Made from a thread outside the
/// pool, each call hands its work over to the pool and wakes a worker (tens of microseconds: at
/// one thread, more than many small kernels take); made from a worker, the calls fork onto the
/// pool's own queues, or run inline when the pool has one thread. The models' forward passes and
/// [`crate::Tensor::backward`] run through this; wrap your own loop in it too.
///
/// ```
/// let y = spectrans_tensor::on_pool(|| spectrans_tensor::Tensor::<f32>::ones(&[4]).exp());
/// assert_eq!(y?.shape(), &[4]);
/// # Ok::<(), spectrans_tensor::TensorError>(())
/// ```
pub fn on_pool<R: Send>(body: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| body())
}

/// A vector of `n` elements written by `fill(offset, chunk)` over fixed chunks (in parallel for
/// large `n`), without zero-initialising it first.
fn build<U: Send + Copy>(n: usize, fill: impl Fn(usize, &mut [MaybeUninit<U>]) + Sync) -> Vec<U> {
    let mut out: Vec<U> = Vec::with_capacity(n);
    let spare = &mut out.spare_capacity_mut()[..n];
    if n < PAR_THRESHOLD {
        fill(0, spare);
    } else {
        spare.par_chunks_mut(CHUNK).enumerate().for_each(|(i, c)| fill(i * CHUNK, c));
    }
    // SAFETY: `fill` wrote every element of each chunk it was given, and the chunks cover 0..n.
    unsafe { out.set_len(n) };
    out
}

/// Runs `body` compiled for the process's SIMD level ([`crate::simd::level`]): the element-wise
/// closures are inlined into a copy built with AVX2 + FMA, so their loops use 256-bit vectors (the
/// baseline x86-64 target has only SSE2); at the AVX-512 level they run the same AVX2 copy (one
/// extra copy per closure keeps the build time in check). Results are the same at every level:
/// Rust never contracts `a * b + c` into an FMA, and `mul_add` is fused everywhere.
#[inline(always)]
fn multiversioned(body: impl FnOnce()) {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::simd::{level, SimdLevel};
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(body: impl FnOnce()) {
            body()
        }
        if level() >= SimdLevel::Avx2 {
            // SAFETY: the level is at most the CPU's (`simd::level`), so AVX2 and FMA are there.
            return unsafe { avx2(body) };
        }
    }
    body()
}

/// `out[i] = f(a[i])`.
pub fn map<T: Copy + Send + Sync, U: Send + Copy>(a: &[T], f: impl Fn(T) -> U + Sync) -> Vec<U> {
    build(a.len(), |off, out| {
        multiversioned(|| {
            let n = out.len();
            for (o, &x) in out.iter_mut().zip(&a[off..off + n]) {
                o.write(f(x));
            }
        })
    })
}

/// `out[i] = f(a[i], b[i])` for equal-length slices.
pub fn zip<T: Copy + Send + Sync, U: Send + Copy>(a: &[T], b: &[T], f: impl Fn(T, T) -> U + Sync) -> Vec<U> {
    debug_assert_eq!(a.len(), b.len());
    build(a.len(), |off, out| {
        multiversioned(|| {
            let n = out.len();
            for ((o, &x), &y) in out.iter_mut().zip(&a[off..off + n]).zip(&b[off..off + n]) {
                o.write(f(x, y));
            }
        })
    })
}

/// `out[i] = f(a[i], b[i], c[i])` for equal-length slices.
pub fn zip3<T: Copy + Send + Sync, U: Send + Copy>(
    a: &[T],
    b: &[T],
    c: &[T],
    f: impl Fn(T, T, T) -> U + Sync,
) -> Vec<U> {
    debug_assert!(a.len() == b.len() && a.len() == c.len());
    build(a.len(), |off, out| {
        multiversioned(|| {
            let n = out.len();
            for (((o, &x), &y), &z) in out.iter_mut().zip(&a[off..off + n]).zip(&b[off..off + n]).zip(&c[off..off + n])
            {
                o.write(f(x, y, z));
            }
        })
    })
}

/// Runs `f(row_index, row)` over the rows of length `row_len` of `data`, in parallel when large.
pub fn rows_mut<T: Send>(data: &mut [T], row_len: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    if row_len == 0 {
        return;
    }
    if data.len() < PAR_THRESHOLD {
        data.chunks_mut(row_len).enumerate().for_each(|(i, r)| f(i, r));
    } else {
        data.par_chunks_mut(row_len).enumerate().for_each(|(i, r)| f(i, r));
    }
}

/// Column sums of `data` viewed as rows of length `row_len`: `out[j] = Σ_r data[r·row_len + j]`.
/// Rows are split into at most 64 fixed groups whose partial sums are added in group order, so the
/// result does not depend on the thread count.
pub fn sum_rows<T: Copy + Send + Sync + Default + std::ops::AddAssign>(data: &[T], row_len: usize) -> Vec<T> {
    if row_len == 0 {
        return Vec::new();
    }
    let rows = data.len() / row_len;
    let groups = if data.len() < PAR_THRESHOLD { 1 } else { rows.clamp(1, 64) };
    let per = rows.div_ceil(groups);
    let partial = |g: usize| {
        let mut acc = vec![T::default(); row_len];
        for r in g * per..((g + 1) * per).min(rows) {
            for (a, &v) in acc.iter_mut().zip(&data[r * row_len..(r + 1) * row_len]) {
                *a += v;
            }
        }
        acc
    };
    let parts: Vec<Vec<T>> =
        if groups == 1 { vec![partial(0)] } else { (0..groups).into_par_iter().map(partial).collect() };
    let mut out = vec![T::default(); row_len];
    for p in &parts {
        for (o, &v) in out.iter_mut().zip(p) {
            *o += v;
        }
    }
    out
}
