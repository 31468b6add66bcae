//! Real FFTs along a middle axis, vectorised across lanes.
//!
//! In a (outer, N, inner) buffer transformed along N — the sequence axis of an FNO activation
//! (B, N, D) — neighbouring lanes d, d+1, … are neighbours in memory. Instead of gathering each
//! lane into a contiguous buffer for a per-lane FFT (a transpose), this module transforms a tile of
//! W lanes at once: every butterfly works on whole rows of W lanes, so the inner loops are
//! unit-stride and vectorise (AVX-512 or AVX2 with FMA, chosen at run time on x86-64).
//!
//! A real signal of even length N = 2m is packed as z_j = x_{2j} + i·x_{2j+1} — rows 2j and 2j+1
//! of the input become the real and imaginary planes of row j, with no shuffle — transformed by
//! a self-sorting (Stockham) complex FFT of length m with radices 4, 2, 3 and 5, and split:
//!
//! X_k = ½(Z_k + conj Z_{m−k}) − ½i·e^{−2πik/N}(Z_k − conj Z_{m−k}),  k = 0..m  (Z_m ≡ Z_0).
//!
//! The inverse runs the same steps backwards: Z_k = (X_k + conj X_{m−k}) + i·e^{2πik/N}(X_k −
//! conj X_{m−k}), an inverse FFT of length m, and x_{2j} = Re z_j, x_{2j+1} = Im z_j. Lengths that
//! are odd, or whose half has a prime factor above 5, take the per-lane path of `lanes.rs`.

mod butterflies;
pub(crate) mod pruned;
mod split;
#[cfg(test)]
mod tests;

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use spectrans_tensor::Float;

use crate::lanes::{group_size, SharedOut};
use butterflies::{radix2, radix3, radix4, radix5, Input, PlaneInput, Planes, RowInput, V};

/// The smallest `inner` (lanes per row) for which the column path is used.
pub(crate) const MIN_INNER: usize = 4;
/// Values of one plane per tile (`m · W`) above which tiles narrow.
const TILE_VALUES: usize = 1 << 19;

/// One Stockham pass: radix, number of butterfly groups, stride (rows per block) and the
/// twiddles ω_L^{jk} (j < `sub`, 1 ≤ k < radix) as split planes, index j·(radix−1) + k−1.
struct Pass<F> {
    radix: usize,
    sub: usize,
    stride: usize,
    tw_re: Vec<F>,
    tw_im: Vec<F>,
}

/// A planned real FFT (or inverse) of even length `n` over tiles of lanes.
pub(crate) struct ColumnPlan<F> {
    n: usize,
    m: usize,
    inverse: bool,
    passes: Vec<Pass<F>>,
    /// cos(2πk/n) and ∓sin(2πk/n) (− forward, + inverse) for k = 0..=m: the split twiddles.
    split_re: Vec<F>,
    split_im: Vec<F>,
}

/// The radices of `m` (4s first, then 2, 3, 5), or `None` if another prime divides it.
fn factorize(mut m: usize) -> Option<Vec<usize>> {
    let mut radices = Vec::new();
    for p in [4, 2, 3, 5] {
        while m.is_multiple_of(p) {
            radices.push(p);
            m /= p;
        }
    }
    (m == 1).then_some(radices)
}

impl<F: Float> ColumnPlan<F> {
    fn new(n: usize, inverse: bool) -> Option<Self> {
        if n < 2 || n % 2 == 1 {
            return None;
        }
        let m = n / 2;
        let sign = if inverse { 1.0 } else { -1.0 };
        let tau = std::f64::consts::TAU;
        let mut passes = Vec::new();
        let (mut len, mut stride) = (m, 1);
        for radix in factorize(m)? {
            let sub = len / radix;
            let (mut tw_re, mut tw_im) = (Vec::new(), Vec::new());
            for j in 0..sub {
                for k in 1..radix {
                    let angle = sign * tau * ((j * k) % len) as f64 / len as f64;
                    tw_re.push(F::of(angle.cos()));
                    tw_im.push(F::of(angle.sin()));
                }
            }
            passes.push(Pass { radix, sub, stride, tw_re, tw_im });
            len = sub;
            stride *= radix;
        }
        let split = |k: usize| sign * tau * k as f64 / n as f64;
        let split_re = (0..=m).map(|k| F::of(split(k).cos())).collect();
        let split_im = (0..=m).map(|k| F::of(split(k).sin())).collect();
        Some(ColumnPlan { n, m, inverse, passes, split_re, split_im })
    }

    /// Lanes per tile: 64 (wide rows keep the per-group overhead of the early passes small;
    /// measured faster than narrower, more cache-friendly tiles up to m = 8192), fewer for longer
    /// transforms, for narrow inputs, and when there would be fewer tiles than threads.
    fn tile_width(&self, outer: usize, inner: usize) -> usize {
        let mut w = (TILE_VALUES / self.m).clamp(V, 64) / V * V;
        let threads = rayon::current_num_threads();
        if outer * inner.div_ceil(w) < threads && self.m * inner * outer >= crate::lanes::PAR_MIN_ELEMENTS {
            w = inner.div_ceil(threads.div_ceil(outer)).next_multiple_of(V).min(w);
        }
        w.min(inner.next_multiple_of(V))
    }

    /// Runs the complex FFT of length m on a tile held in `a` (planes of m rows of `w` lanes) —
    /// or, when `first` is given, read by the first pass from there (`a` is then not read) —
    /// using `b` as the other half of the ping-pong; returns whether the result ended up in `b`.
    #[inline(always)]
    fn complex_tile(&self, first: Option<&RowInput<'_, F>>, a: &mut Tile<F>, b: &mut Tile<F>, w: usize) -> bool {
        let rows = self.m * w;
        let mut in_b = false;
        for (i, pass) in self.passes.iter().enumerate() {
            let (src, dst) = if in_b { (&*b, &mut *a) } else { (&*a, &mut *b) };
            let (yr, yi) = (&mut dst.re[..rows], &mut dst.im[..rows]);
            let (blk, sub) = (pass.stride * w, pass.sub);
            let tw = (&pass.tw_re[..], &pass.tw_im[..]);
            match first {
                Some(rows_in) if i == 0 => self.pass(pass.radix, Planes { x: rows_in, yr, yi }, sub, blk, tw),
                _ => {
                    let x = PlaneInput { re: &src.re[..rows], im: &src.im[..rows], blk };
                    self.pass(pass.radix, Planes { x: &x, yr, yi }, sub, blk, tw)
                }
            }
            in_b = !in_b;
        }
        in_b
    }

    /// One pass of radix `radix` in this plan's direction.
    #[inline(always)]
    fn pass<I: Input<F>>(&self, radix: usize, planes: Planes<'_, F, I>, sub: usize, blk: usize, tw: (&[F], &[F])) {
        match (radix, self.inverse) {
            (2, _) => radix2(planes, sub, blk, tw),
            (4, false) => radix4::<F, I, false>(planes, sub, blk, tw),
            (4, true) => radix4::<F, I, true>(planes, sub, blk, tw),
            (3, false) => radix3::<F, I, false>(planes, sub, blk, tw),
            (3, true) => radix3::<F, I, true>(planes, sub, blk, tw),
            (5, false) => radix5::<F, I, false>(planes, sub, blk, tw),
            _ => radix5::<F, I, true>(planes, sub, blk, tw),
        }
    }
}

/// Split (re, im) planes of one tile: rows of `w` lanes.
struct Tile<F> {
    re: Vec<F>,
    im: Vec<F>,
}

/// Runs `f` on two tiles of at least `len` values per plane, reusing this thread's tiles from the
/// previous call (a long transform's tiles are megabytes: allocating them per call would cost
/// page faults every time). Tile contents are unspecified on entry.
fn with_scratch<F: Float, R>(len: usize, f: impl FnOnce(&mut Tile<F>, &mut Tile<F>) -> R) -> R {
    thread_local! {
        static SCRATCH: std::cell::Cell<Option<Box<dyn Any>>> = const { std::cell::Cell::new(None) };
    }
    let kept = SCRATCH.take().and_then(|b| b.downcast::<[Tile<F>; 2]>().ok());
    let mut tiles = kept.unwrap_or_else(|| {
        Box::new([Tile { re: Vec::new(), im: Vec::new() }, Tile { re: Vec::new(), im: Vec::new() }])
    });
    for tile in tiles.iter_mut() {
        tile.re.resize(len, F::zero());
        tile.im.resize(len, F::zero());
    }
    let [a, b] = &mut *tiles;
    let result = f(a, b);
    SCRATCH.set(Some(tiles));
    result
}

/// The real-to-complex transform of length `n` of every lane of `src` on this module's path, or
/// `None` when the path does not apply (fewer than [`MIN_INNER`] lanes per row, or a length
/// [`column_plan`] rejects): the caller then uses the per-lane kernels.
pub(crate) fn try_r2c<F: Float>(n: usize, src: &[F], g: Geometry<F>) -> Option<Vec<F>> {
    let plan = (g.inner >= MIN_INNER).then(|| column_plan::<F>(n, false)).flatten()?;
    Some(plan.r2c(src, g))
}

/// The complex-to-real inverse of length `n` on this module's path, or `None` (see [`try_r2c`]).
pub(crate) fn try_c2r<F: Float>(n: usize, src: &[F], g: Geometry<F>) -> Option<Vec<F>> {
    let plan = (g.inner >= MIN_INNER).then(|| column_plan::<F>(n, true)).flatten()?;
    Some(plan.c2r(src, g))
}

type PlanCache = Mutex<HashMap<(std::any::TypeId, usize, bool), Arc<dyn Any + Send + Sync>>>;

/// The cached column plan of length `n` and direction, or `None` when `n` is odd or n/2 has a
/// prime factor above 5.
pub(crate) fn column_plan<F: Float>(n: usize, inverse: bool) -> Option<Arc<ColumnPlan<F>>> {
    static CACHE: OnceLock<PlanCache> = OnceLock::new();
    let key = (std::any::TypeId::of::<F>(), n, inverse);
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(plan) = cache.get(&key) {
        return plan.clone().downcast::<ColumnPlan<F>>().ok();
    }
    let plan = Arc::new(ColumnPlan::<F>::new(n, inverse)?);
    cache.insert(key, plan.clone());
    Some(plan)
}

/// The lanes of a transform: the source (outer, len_in, inner), the output (outer, len_out, inner),
/// either being complex (interleaved), and the scaling, as the per-lane kernels `R2c`/`C2r`:
/// the forward multiplies DC/Nyquist by `scale` (and sets their imaginary parts to exactly 0)
/// and the other bins by `scale · interior`; the inverse multiplies the interior bins by
/// `interior` (ignoring Im of DC/Nyquist) and the output by `scale`.
#[derive(Clone, Copy)]
pub(crate) struct Geometry<F> {
    pub(crate) outer: usize,
    pub(crate) inner: usize,
    pub(crate) len_in: usize,
    pub(crate) len_out: usize,
    pub(crate) scale: F,
    pub(crate) interior: F,
    pub(crate) spectrum: Spectrum,
}

/// How the complex side of a transform is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Spectrum {
    /// (outer, bins, inner, 2): the complex tensors of this crate.
    Interleaved,
    /// bin-major [k][outer][re: inner | im: inner]: the layout of the fused spectral mixing of
    /// `spectrans-layers`, where each bin is one GEMM operand.
    BinMajor,
}

/// One tile's work: lanes d0..d0+t of outer index o, in a tile of width w, reading `src` and
/// writing the rows of those lanes in `out` (the whole output of `g`).
struct TileJob<'a, F> {
    src: &'a [F],
    out: SharedOut<F>,
    g: &'a Geometry<F>,
    o: usize,
    d0: usize,
    t: usize,
    w: usize,
}

/// Runs `tile(o, d0, t, scratch)` on every tile of `outer` × ⌈inner / w⌉, in parallel groups.
fn for_each_tile<F: Float>(
    geometry: &Geometry<F>,
    w: usize,
    rows: usize,
    elements: usize,
    tile: impl Fn(usize, usize, usize, &mut Tile<F>, &mut Tile<F>) + Sync,
) {
    let tiles = geometry.inner.div_ceil(w);
    let tasks = geometry.outer * tiles;
    let per = group_size(tasks, elements);
    let body = |g: usize| {
        with_scratch(rows * w, |a, b| {
            for task in g * per..((g + 1) * per).min(tasks) {
                let (o, d0) = (task / tiles, (task % tiles) * w);
                tile(o, d0, w.min(geometry.inner - d0), a, b);
            }
        })
    };
    let groups = tasks.div_ceil(per);
    if groups <= 1 {
        (0..groups).for_each(body);
    } else {
        (0..groups).into_par_iter().for_each(body);
    }
}

impl<F: Float> ColumnPlan<F> {
    /// The real-to-complex transform (`!self.inverse`) of every lane of `src`, written as
    /// interleaved complex values to a new (outer, len_out, inner, 2) buffer.
    pub(crate) fn r2c(&self, src: &[F], g: Geometry<F>) -> Vec<F> {
        self.r2c_on(isa(), src, g)
    }

    /// [`Self::r2c`] with the kernels compiled for `isa` (which must be available, see [`isa`]).
    fn r2c_on(&self, isa: Isa, src: &[F], g: Geometry<F>) -> Vec<F> {
        debug_assert!(!self.inverse && src.len() == g.outer * g.len_in * g.inner);
        let mut dst = vec![F::zero(); g.outer * g.len_out * g.inner * 2];
        let out = SharedOut(dst.as_mut_ptr());
        let w = self.tile_width(g.outer, g.inner);
        let elements = src.len() + dst.len();
        for_each_tile(&g, w, self.m + 1, elements, |o, d0, t, a, b| {
            let job = TileJob { src, out, g: &g, o, d0, t, w };
            // SAFETY: rows (o, ·, d0..d0+t) of `dst` belong to this tile only.
            unsafe { r2c_tile(isa, self, &job, a, b) }
        });
        dst
    }

    /// The complex-to-real inverse (`self.inverse`) of every lane of `src` (outer, len_in, inner, 2),
    /// written to a new (outer, len_out, inner) buffer.
    pub(crate) fn c2r(&self, src: &[F], g: Geometry<F>) -> Vec<F> {
        self.c2r_on(isa(), src, g)
    }

    /// [`Self::c2r`] with the kernels compiled for `isa` (which must be available, see [`isa`]).
    fn c2r_on(&self, isa: Isa, src: &[F], g: Geometry<F>) -> Vec<F> {
        debug_assert!(self.inverse && src.len() == g.outer * g.len_in * g.inner * 2);
        let mut dst = vec![F::zero(); g.outer * g.len_out * g.inner];
        let out = SharedOut(dst.as_mut_ptr());
        let w = self.tile_width(g.outer, g.inner);
        let elements = src.len() / 2 + dst.len();
        for_each_tile(&g, w, self.m + 1, elements, |o, d0, t, a, b| {
            let job = TileJob { src, out, g: &g, o, d0, t, w };
            // SAFETY: rows (o, ·, d0..d0+t) of `dst` belong to this tile only.
            unsafe { c2r_tile(isa, self, &job, a, b) }
        });
        dst
    }

    /// One tile of [`Self::r2c`]: lanes d0..d0+t of outer index o, tile width w.
    ///
    /// # Safety
    /// No other thread may write rows (o, ·, d0..d0+t) of the output while this runs.
    #[inline(always)]
    unsafe fn r2c_tile(&self, job: &TileJob<'_, F>, a: &mut Tile<F>, b: &mut Tile<F>) {
        let &TileJob { src, out, g, o, d0, t, w } = job;
        let (m, keep_in) = (self.m, g.len_in.min(self.n));
        // a full tile without padding is read in place by the first pass; otherwise it is
        // packed into `a` (rows 2j and 2j+1 as the planes of row j, zero beyond the input)
        let in_place = t == w && keep_in == self.n && !self.passes.is_empty();
        let base = o * g.len_in * g.inner + d0;
        let rows_in = RowInput { src, base, row_stride: g.inner, w };
        if !in_place {
            for j in 0..m {
                for (plane, r) in [(&mut a.re, 2 * j), (&mut a.im, 2 * j + 1)] {
                    let row = &mut plane[j * w..(j + 1) * w];
                    if r < keep_in {
                        split::copy_lanes(&src[base + r * g.inner..][..t], row, t);
                        row[t..].fill(F::zero());
                    } else {
                        row.fill(F::zero());
                    }
                }
            }
        }
        let z = if self.complex_tile(in_place.then_some(&rows_in), a, b, w) { &*b } else { &*a };
        for k in 0..g.len_out {
            // SAFETY: row k of lanes (o, d0..d0+t) of the output, this tile's own.
            let mut row = unsafe { spectrum_row(out, g, o, k, d0, t) };
            if k == 0 || k == m {
                // X_0 = Re Z_0 + Im Z_0 and X_m = Re Z_0 − Im Z_0 are real
                let sign = if k == 0 { F::one() } else { -F::one() };
                split::edge_row((&z.re[..w], &z.im[..w]), sign, g.scale, &mut row, t);
            } else if k < m {
                let (zk, zc) = (k * w, (m - k) * w);
                let at = (&z.re[zk..zk + w], &z.im[zk..zk + w]);
                let mirror = (&z.re[zc..zc + w], &z.im[zc..zc + w]);
                let twiddle = (self.split_re[k], self.split_im[k]);
                split::forward_row(at, mirror, twiddle, g.scale * g.interior, &mut row, t);
            } else {
                row.fill_zero();
            }
        }
    }

    /// One tile of [`Self::c2r`].
    ///
    /// # Safety
    /// No other thread may write rows (o, ·, d0..d0+t) of the output while this runs.
    #[inline(always)]
    unsafe fn c2r_tile(&self, job: &TileJob<'_, F>, a: &mut Tile<F>, b: &mut Tile<F>) {
        let &TileJob { src, out, g, o, d0, t, w } = job;
        let (m, keep_in) = (self.m, g.len_in.min(self.m + 1));
        // the spectrum X_0..X_m into b (rows of w lanes): edges real, interior bins scaled
        for k in 0..=m {
            let (re, im) = (&mut b.re[k * w..(k + 1) * w], &mut b.im[k * w..(k + 1) * w]);
            if k >= keep_in {
                re.fill(F::zero());
                im.fill(F::zero());
                continue;
            }
            let edge = k == 0 || k == m;
            let scale = if edge { F::one() } else { g.interior };
            match g.spectrum {
                Spectrum::Interleaved => {
                    let row = &src[((o * g.len_in + k) * g.inner + d0) * 2..][..2 * t];
                    split::deinterleave(row, scale, !edge, re, im, t);
                }
                Spectrum::BinMajor => {
                    let at = (k * g.outer + o) * 2 * g.inner + d0;
                    split::copy_split(
                        (&src[at..at + t], &src[at + g.inner..at + g.inner + t]),
                        scale,
                        !edge,
                        re,
                        im,
                        t,
                    );
                }
            }
            re[t..].fill(F::zero());
            im[t..].fill(F::zero());
        }
        // Z_k = (X_k + conj X_{m−k}) + i·e^{2πik/n}(X_k − conj X_{m−k}) into a
        for k in 0..m {
            let (xk, xc) = (k * w, (m - k) * w);
            let row = (&b.re[xk..xk + w], &b.im[xk..xk + w]);
            let mirror = (&b.re[xc..xc + w], &b.im[xc..xc + w]);
            let twiddle = (self.split_re[k], self.split_im[k]);
            split::inverse_row(row, mirror, twiddle, (&mut a.re[xk..xk + w], &mut a.im[xk..xk + w]), w);
        }
        let z = if self.complex_tile(None, a, b, w) { &*b } else { &*a };
        for r in 0..g.len_out {
            // SAFETY: row (o, r, d0..d0+t) of the (outer, len_out, inner) output, this tile's own.
            let row = unsafe { std::slice::from_raw_parts_mut(out.get().add((o * g.len_out + r) * g.inner + d0), t) };
            if r >= self.n {
                row.fill(F::zero());
                continue;
            }
            let plane = if r % 2 == 0 { &z.re } else { &z.im };
            for (v, &x) in row.iter_mut().zip(&plane[r / 2 * w..]) {
                *v = x * g.scale;
            }
        }
    }
}

/// Row k of lanes (o, d0..d0+t) of the forward transform's output buffer `out`.
///
/// # Safety
/// `out` must hold the whole output of `g`, and no other thread may write this row.
unsafe fn spectrum_row<'a, F: Copy>(
    out: SharedOut<F>,
    g: &Geometry<F>,
    o: usize,
    k: usize,
    d0: usize,
    t: usize,
) -> split::RowSink<'a, F> {
    match g.spectrum {
        Spectrum::Interleaved => {
            // SAFETY: inside the (outer, len_out, inner, 2) output, per the caller.
            split::RowSink::Pairs(unsafe {
                std::slice::from_raw_parts_mut(out.get().add(((o * g.len_out + k) * g.inner + d0) * 2), 2 * t)
            })
        }
        Spectrum::BinMajor => {
            let at = (k * g.outer + o) * 2 * g.inner + d0;
            // SAFETY: inside the (len_out, outer, 2, inner) output, per the caller; the two rows
            // are disjoint (re at `at`, im `inner` later).
            unsafe {
                split::RowSink::Split(
                    std::slice::from_raw_parts_mut(out.get().add(at), t),
                    std::slice::from_raw_parts_mut(out.get().add(at + g.inner), t),
                )
            }
        }
    }
}

/// A vector extension the tile kernels are compiled for, widest first (a CPU with one has all
/// the later ones).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Isa {
    Avx512,
    Avx2,
    Baseline,
}

/// The widest vector extension the kernels are compiled for within the process's SIMD level
/// ([`spectrans_tensor::simd::level`]: the CPU's, capped by `SPECTRANS_SIMD`).
fn isa() -> Isa {
    use spectrans_tensor::simd::{level, SimdLevel};
    match level() {
        SimdLevel::Avx512 => Isa::Avx512,
        SimdLevel::Avx2 => Isa::Avx2,
        SimdLevel::Scalar => Isa::Baseline,
    }
}

/// Defines `$variant`, the `#[inline(always)]` tile method `$method` of [`ColumnPlan`] compiled
/// with the target features `$features`.
#[cfg(target_arch = "x86_64")]
macro_rules! compiled_with {
    ($features:literal, $variant:ident, $method:ident) => {
        #[target_feature(enable = $features)]
        unsafe fn $variant<F: Float>(plan: &ColumnPlan<F>, job: &TileJob<'_, F>, a: &mut Tile<F>, b: &mut Tile<F>) {
            // SAFETY: forwarded from the caller.
            unsafe { plan.$method(job, a, b) }
        }
    };
}

/// Defines `$name`, which runs the `#[inline(always)]` tile method `$method` of [`ColumnPlan`]
/// compiled for a given vector extension (AVX-512 or AVX2 + FMA on x86-64, else the baseline).
macro_rules! multiversioned {
    ($name:ident, $method:ident) => {
        /// The tile kernel compiled for `isa`.
        ///
        /// # Safety
        /// As the method it runs, and `isa` must be available on this CPU (at most [`isa()`]).
        unsafe fn $name<F: Float>(
            isa: Isa,
            plan: &ColumnPlan<F>,
            job: &TileJob<'_, F>,
            a: &mut Tile<F>,
            b: &mut Tile<F>,
        ) {
            #[cfg(target_arch = "x86_64")]
            {
                compiled_with!("avx512f,avx512vl,avx2,fma", avx512, $method);
                compiled_with!("avx2,fma", avx2, $method);
                match isa {
                    // SAFETY: the caller guarantees the features; the rest is the caller's too.
                    Isa::Avx512 => return unsafe { avx512(plan, job, a, b) },
                    // SAFETY: as above.
                    Isa::Avx2 => return unsafe { avx2(plan, job, a, b) },
                    Isa::Baseline => {}
                }
            }
            // SAFETY: forwarded from the caller.
            unsafe { plan.$method(job, a, b) }
        }
    };
}

multiversioned!(r2c_tile, r2c_tile);
multiversioned!(c2r_tile, c2r_tile);
