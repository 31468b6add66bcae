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

/// An element function of one argument for [`map_with`], whose `apply` the vectorised loop
/// inlines when it is `#[inline(always)]` — a closure given to [`map`] is inlined at LLVM's
/// discretion, which can leave a large one out of line, called per element and not vectorised.
pub(crate) trait Map1<T, U>: Sync {
    /// The value at one element.
    fn apply(&self, a: T) -> U;
}

/// An element function of two arguments, the loop of [`zip`] (see [`Map1`]).
pub(crate) trait Map2<T, U>: Sync {
    /// The value at one element.
    fn apply(&self, a: T, b: T) -> U;
}

/// An element function of three arguments for [`zip3_with`] (see [`Map1`]).
pub(crate) trait Map3<T, U>: Sync {
    /// The value at one element.
    fn apply(&self, a: T, b: T, c: T) -> U;
}

/// A closure as a [`Map1`] / [`Map2`] / [`Map3`].
struct Closure<F>(F);

impl<T, U, F: Fn(T) -> U + Sync> Map1<T, U> for Closure<F> {
    #[inline(always)]
    fn apply(&self, a: T) -> U {
        (self.0)(a)
    }
}

impl<T, U, F: Fn(T, T) -> U + Sync> Map2<T, U> for Closure<F> {
    #[inline(always)]
    fn apply(&self, a: T, b: T) -> U {
        (self.0)(a, b)
    }
}

impl<T, U, F: Fn(T, T, T) -> U + Sync> Map3<T, U> for Closure<F> {
    #[inline(always)]
    fn apply(&self, a: T, b: T, c: T) -> U {
        (self.0)(a, b, c)
    }
}

/// Defines an element-wise loop `$name(out, inputs…, f)` writing `out[i] = f(inputs[i]…)`, in two
/// copies: one compiled with AVX2 + FMA (used at the AVX2 and AVX-512 levels of
/// [`crate::simd::level`], one copy per function keeping the build time in check) and one for the
/// baseline target. The loop is the body of each copy itself — not a closure handed to it — so
/// an element function inlined into it is compiled with AVX2 and vectorises with 256-bit vectors
/// (a loop closure called from both copies stayed one out-of-line function compiled for SSE2).
/// Results are the same at every level: Rust never contracts `a * b + c` into an FMA, and
/// `mul_add` is fused everywhere.
macro_rules! element_loop {
    ($name:ident, $map:ident, $($x:ident),+) => {
        #[inline(always)]
        fn $name<T: Copy, U>(out: &mut [MaybeUninit<U>], $($x: &[T],)+ f: &impl $map<T, U>) {
            #[inline(always)]
            fn body<T: Copy, U>(out: &mut [MaybeUninit<U>], $($x: &[T],)+ f: &impl $map<T, U>) {
                let n = out.len();
                $(let $x = &$x[..n];)+
                for i in 0..n {
                    out[i].write(f.apply($($x[i]),+));
                }
            }
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2<T: Copy, U>(out: &mut [MaybeUninit<U>], $($x: &[T],)+ f: &impl $map<T, U>) {
                    body(out, $($x,)+ f)
                }
                if crate::simd::level() >= crate::simd::SimdLevel::Avx2 {
                    // SAFETY: the level is at most the CPU's (`simd::level`), so AVX2 and FMA are there.
                    return unsafe { avx2(out, $($x,)+ f) };
                }
            }
            body(out, $($x,)+ f)
        }
    };
}

/// Defines `fn $name<T: Float>(args…) -> R` whose body runs compiled with AVX2 + FMA when the
/// process's SIMD level allows, else for the baseline (as the loops of [`element_loop`]): for row
/// kernels called from rayon tasks, whose closures are compiled for the baseline. Helpers called
/// from the body should be `#[inline(always)]`, so they are compiled into each copy.
macro_rules! vectorised {
    ($(#[$m:meta])* fn $name:ident<T: Float>($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        fn $name<T: Float>($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body<T: Float>($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2<T: Float>($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if crate::simd::level() >= crate::simd::SimdLevel::Avx2 {
                    // SAFETY: the level is at most the CPU's (`simd::level`), so AVX2 and FMA are there.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use vectorised;

element_loop!(map_loop, Map1, a);
element_loop!(zip_loop, Map2, a, b);
element_loop!(zip3_loop, Map3, a, b, c);

/// `out[i] = f(a[i])`.
pub fn map<T: Copy + Send + Sync, U: Send + Copy>(a: &[T], f: impl Fn(T) -> U + Sync) -> Vec<U> {
    map_with(a, &Closure(f))
}

/// `out[i] = f.apply(a[i])`, with `f`'s `apply` inlined into the vectorised loop (see [`Map1`]).
pub(crate) fn map_with<T: Copy + Send + Sync, U: Send + Copy>(a: &[T], f: &impl Map1<T, U>) -> Vec<U> {
    build(a.len(), |off, out| map_loop(out, &a[off..], f))
}

/// `out[i] = f(a[i], b[i])` for equal-length slices.
pub fn zip<T: Copy + Send + Sync, U: Send + Copy>(a: &[T], b: &[T], f: impl Fn(T, T) -> U + Sync) -> Vec<U> {
    debug_assert_eq!(a.len(), b.len());
    let f = Closure(f);
    build(a.len(), |off, out| zip_loop(out, &a[off..], &b[off..], &f))
}

/// `out[i] = f(a[i], b[i], c[i])` for equal-length slices.
pub fn zip3<T: Copy + Send + Sync, U: Send + Copy>(
    a: &[T],
    b: &[T],
    c: &[T],
    f: impl Fn(T, T, T) -> U + Sync,
) -> Vec<U> {
    zip3_with(a, b, c, &Closure(f))
}

/// `out[i] = f.apply(a[i], b[i], c[i])` for equal-length slices, with `f`'s `apply` inlined into
/// the vectorised loop (see [`Map1`]).
pub(crate) fn zip3_with<T: Copy + Send + Sync, U: Send + Copy>(
    a: &[T],
    b: &[T],
    c: &[T],
    f: &impl Map3<T, U>,
) -> Vec<U> {
    debug_assert!(a.len() == b.len() && a.len() == c.len());
    build(a.len(), |off, out| zip3_loop(out, &a[off..], &b[off..], &c[off..], f))
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
