//! Pruned real FFTs of long lanes of which only the first bins are kept (the spectral convolution
//! at long sequences: 64 of 131 073 bins at N = 262 144).
//!
//! A full transform of length n streams its whole tile (n × W lanes) through every Stockham
//! pass; at large n the tile no longer fits in any cache and each pass goes to DRAM. With
//! n = n₁·n₂ and j = j₂·n₁ + j₁ (so a lane seen as an n₂ × n₁ matrix is row-major in j),
//!
//! X_k = Σ_{j₁<n₁} e^{−2πi j₁k/n} · Y_{j₁}[k],  Y_{j₁} = DFT_{n₂}(x[j₁ + n₁·j₂], j₂ < n₂)
//!
//! for k < n₂: the inner transforms are the column FFTs of length n₂ of a (n₂, n₁·D) buffer — the
//! same memory, read as is — small enough to stay in cache, and the outer sum costs n₁ complex
//! multiply-adds per kept bin and lane. The inverse runs the same steps backwards: for bins
//! X_0..X_{M−1} (M ≤ n₂/2), x[j₂·n₁ + j₁] = irfft_{n₂}(Z_{j₁})[j₂] with Z_{j₁}[k] =
//! X_k·e^{2πi j₁k/n}. Both cost O(n·D·log n₂) with cache-resident passes, instead of
//! O(n·D·log n) streamed from memory.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use spectrans_tensor::Float;

use super::{column_plan, isa, try_c2r, try_r2c, Geometry, Isa, Spectrum};

/// Shortest lane length transformed by the pruned path (shorter tiles fit in cache anyway).
pub(crate) const MIN_LEN: usize = 8192;
/// Kept bins at most n / `MAX_BIN_FRACTION` (more bins: the full transform is as cheap).
const MAX_BIN_FRACTION: usize = 16;
/// Longest inner transform: a (n₂ × lanes) tile of this length stays in the L2 cache.
const MAX_INNER_LEN: usize = 1024;
/// Terms of the outer sum added into a partial sum before it joins the total (a two-level sum
/// keeps the f32 round-off near that of the FFT it replaces).
const BLOCK: usize = 16;

/// n = n₁·n₂ for keeping `bins` bins of lanes of length n, or `None` when the pruned path does
/// not apply: n₂ is a divisor of n with a column plan, at least 2·bins (so the kept bins lie below
/// the inner Nyquist bin), near 2√n but at most [`MAX_INNER_LEN`] when possible.
pub(crate) fn split(n: usize, bins: usize) -> Option<(usize, usize)> {
    if n < MIN_LEN || bins == 0 || bins * MAX_BIN_FRACTION > n {
        return None;
    }
    let target = ((2.0 * (n as f64).sqrt()) as usize).clamp(2 * bins, MAX_INNER_LEN.max(2 * bins));
    let distance = |d: usize| (d as f64 / target as f64).ln().abs();
    (2 * bins..=n / 4)
        .filter(|&d| n.is_multiple_of(d) && column_plan::<f64>(d, false).is_some())
        .min_by(|&a, &b| distance(a).total_cmp(&distance(b)))
        .map(|n2| (n / n2, n2))
}

/// e^{∓2πi·j₁k/n} for k < bins, j₁ < n₁ as split planes (index k·n₁ + j₁), − for the forward
/// transform, + for the inverse; computed in f64 and cached.
struct Twiddles<F> {
    re: Vec<F>,
    im: Vec<F>,
}

type TwiddleCache = Mutex<HashMap<(std::any::TypeId, usize, usize, usize, bool), Arc<dyn Any + Send + Sync>>>;

fn twiddles<F: Float>(n: usize, n1: usize, bins: usize, inverse: bool) -> Arc<Twiddles<F>> {
    static CACHE: OnceLock<TwiddleCache> = OnceLock::new();
    let key = (std::any::TypeId::of::<F>(), n, n1, bins, inverse);
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = cache.get(&key).and_then(|t| t.clone().downcast::<Twiddles<F>>().ok()) {
        return t;
    }
    let sign = if inverse { 1.0 } else { -1.0 };
    let (mut re, mut im) = (Vec::with_capacity(bins * n1), Vec::with_capacity(bins * n1));
    for k in 0..bins {
        for j in 0..n1 {
            // j·k < n (k < n₂), so the angle is reduced exactly
            let angle = sign * std::f64::consts::TAU * (j * k) as f64 / n as f64;
            re.push(F::of(angle.cos()));
            im.push(F::of(angle.sin()));
        }
    }
    let t = Arc::new(Twiddles { re, im });
    cache.insert(key, t.clone());
    t
}

/// The forward transform of [`crate::plan::rfft_lanes_bin_major`] on the pruned path, or `None`
/// when it does not apply ([`split`]).
pub(crate) fn r2c<F: Float>(
    x: &[F],
    (outer, n, inner): (usize, usize, usize),
    bins: usize,
    scale: F,
    interior: F,
) -> Option<Vec<F>> {
    let (n1, n2) = split(n, bins)?;
    let lanes = n1 * inner;
    let unit = Geometry {
        outer,
        inner: lanes,
        len_in: n2,
        len_out: bins,
        scale: F::one(),
        interior: F::one(),
        spectrum: Spectrum::BinMajor,
    };
    // Y: (bins, outer, [re: lanes | im: lanes]), lane j₁·inner + d
    let y = try_r2c(n2, x, unit)?;
    let tw = twiddles::<F>(n, n1, bins, false);
    let isa = isa();
    let mut out = vec![F::zero(); bins * outer * 2 * inner];
    out.par_chunks_mut(2 * inner).enumerate().for_each(|(row, dst)| {
        let k = row / outer;
        let src = &y[row * 2 * lanes..(row + 1) * 2 * lanes];
        let w = (&tw.re[k * n1..(k + 1) * n1], &tw.im[k * n1..(k + 1) * n1]);
        let s = if k == 0 { scale } else { scale * interior };
        // SAFETY: `isa` is at most the CPU's (`isa()`).
        unsafe { combine(isa, w, src.split_at(lanes), inner, dst.split_at_mut(inner), s) };
        if k == 0 {
            dst[inner..].fill(F::zero());
        }
    });
    Some(out)
}

/// The inverse transform of [`crate::plan::irfft_lanes_bin_major`] on the pruned path, or `None`
/// when it does not apply ([`split`]).
pub(crate) fn c2r<F: Float>(
    spec: &[F],
    (outer, n, inner): (usize, usize, usize),
    bins: usize,
    scale: F,
    interior: F,
) -> Option<Vec<F>> {
    let (n1, n2) = split(n, bins)?;
    let lanes = n1 * inner;
    let tw = twiddles::<F>(n, n1, bins, true);
    let isa = isa();
    // Z: (bins, outer, [re: lanes | im: lanes]), Z_{j₁}[k] = X'_k·e^{2πi j₁k/n}
    let mut z = vec![F::zero(); bins * outer * 2 * lanes];
    z.par_chunks_mut(2 * lanes).enumerate().for_each(|(row, dst)| {
        let k = row / outer;
        let (re, im) = spec[row * 2 * inner..(row + 1) * 2 * inner].split_at(inner);
        let w = (&tw.re[k * n1..(k + 1) * n1], &tw.im[k * n1..(k + 1) * n1]);
        // DC: the real part only; interior bins scaled
        let (s, im_scale) = if k == 0 { (F::one(), F::zero()) } else { (interior, interior) };
        // SAFETY: `isa` is at most the CPU's (`isa()`).
        unsafe { expand(isa, w, (re, im), (s, im_scale), dst.split_at_mut(lanes), inner) };
    });
    let unit = Geometry {
        outer,
        inner: lanes,
        len_in: bins,
        len_out: n2,
        scale,
        interior: F::one(),
        spectrum: Spectrum::BinMajor,
    };
    try_c2r(n2, &z, unit)
}

/// `dst = s · Σ_j w_j · y_j` for the rows y_j (j < n₁) of `inner` complex values, split planes;
/// summed in blocks of [`BLOCK`] terms.
#[inline(always)]
fn combine_on<F: Float>(
    (wr, wi): (&[F], &[F]),
    (yr, yi): (&[F], &[F]),
    inner: usize,
    (dr, di): (&mut [F], &mut [F]),
    s: F,
) {
    let mut part = vec![F::zero(); 2 * inner];
    let (pr, pi) = part.split_at_mut(inner);
    dr.fill(F::zero());
    di.fill(F::zero());
    for j0 in (0..wr.len()).step_by(BLOCK) {
        pr.fill(F::zero());
        pi.fill(F::zero());
        for j in j0..(j0 + BLOCK).min(wr.len()) {
            let (a, b) = (wr[j], wi[j]);
            let (rr, ri) = (&yr[j * inner..(j + 1) * inner], &yi[j * inner..(j + 1) * inner]);
            for d in 0..inner {
                pr[d] += a * rr[d] - b * ri[d];
                pi[d] += a * ri[d] + b * rr[d];
            }
        }
        for d in 0..inner {
            dr[d] += pr[d];
            di[d] += pi[d];
        }
    }
    for d in 0..inner {
        dr[d] *= s;
        di[d] *= s;
    }
}

/// Row j (j < n₁) of `dst` = w_j · (s_re·x_re + i·s_im·x_im) for one bin's `inner` complex values.
#[inline(always)]
fn expand_on<F: Float>(
    (wr, wi): (&[F], &[F]),
    (xr, xi): (&[F], &[F]),
    (s_re, s_im): (F, F),
    (dr, di): (&mut [F], &mut [F]),
    inner: usize,
) {
    for (j, (&a, &b)) in wr.iter().zip(wi).enumerate() {
        let (rr, ri) = (&mut dr[j * inner..(j + 1) * inner], &mut di[j * inner..(j + 1) * inner]);
        for d in 0..inner {
            let (u, v) = (s_re * xr[d], s_im * xi[d]);
            rr[d] = a * u - b * v;
            ri[d] = a * v + b * u;
        }
    }
}

/// Defines `$name(isa, args…)`, which runs `$body(args…)` compiled for `isa` (AVX-512 or AVX2 +
/// FMA on x86-64, else the baseline). Safety: `isa` at most the CPU's.
macro_rules! dispatched {
    ($name:ident, $body:ident, ($($arg:ident: $ty:ty),*)) => {
        unsafe fn $name<F: Float>(isa: Isa, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                unsafe fn avx512<F: Float>($($arg: $ty),*) {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2<F: Float>($($arg: $ty),*) {
                    $body($($arg),*)
                }
                match isa {
                    // SAFETY: the caller guarantees the features.
                    Isa::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    Isa::Avx2 => return unsafe { avx2($($arg),*) },
                    Isa::Baseline => {}
                }
            }
            $body($($arg),*)
        }
    };
}

dispatched!(combine, combine_on, (w: (&[F], &[F]), y: (&[F], &[F]), inner: usize, dst: (&mut [F], &mut [F]), s: F));
dispatched!(expand, expand_on, (w: (&[F], &[F]), x: (&[F], &[F]), s: (F, F), dst: (&mut [F], &mut [F]), inner: usize));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::{try_c2r, try_r2c};

    fn random(len: usize, seed: u64) -> Vec<f64> {
        let mut rng = spectrans_tensor::Rng::seed(seed);
        (0..len).map(|_| rng.uniform() * 2.0 - 1.0).collect()
    }

    #[test]
    fn splits_keep_the_bins_below_the_inner_nyquist() {
        assert_eq!(split(4096, 64), None, "short lanes take the full transform");
        assert_eq!(split(16384, 2048), None, "many bins take the full transform");
        for (n, bins) in [(8192, 16), (16384, 64), (262_144, 64), (24_000, 100), (65_536, 1)] {
            let (n1, n2) = split(n, bins).unwrap();
            assert_eq!(n1 * n2, n);
            assert!(n2 >= 2 * bins && column_plan::<f64>(n2, false).is_some(), "{n} {bins}: {n2}");
        }
    }

    /// Largest |got − want| relative to the largest |want|.
    fn relative_error<F: Float>(got: &[F], want: &[f64]) -> f64 {
        let norm = want.iter().fold(0f64, |m, v| m.max(v.abs()));
        got.iter().zip(want).fold(0f64, |m, (a, b)| m.max((a.as_f64() - b).abs())) / norm
    }

    /// The forward or inverse (per `spec`) on the pruned path, in f32 and f64, against the full
    /// transform in f64: equal to 1e-12 in f64, and in f32 with the round-off of an FFT (≈ 1.5e-7),
    /// not of an n₁-term sum.
    fn check(input: &[f64], (outer, n, inner): (usize, usize, usize), bins: usize, inverse: bool) {
        let (scale, interior) = if inverse { (0.25, 0.5) } else { (0.5, 2.0) };
        let (len_in, len_out) = if inverse { (bins, n) } else { (n, bins) };
        let g = Geometry { outer, inner, len_in, len_out, scale, interior, spectrum: Spectrum::BinMajor };
        let want = if inverse { try_c2r(n, input, g) } else { try_r2c(n, input, g) }.unwrap();
        /// The pruned transform of `x` in the precision of `F`.
        fn run<F: Float>(x: &[F], dims: (usize, usize, usize), bins: usize, s: (f64, f64), inverse: bool) -> Vec<F> {
            let (scale, interior) = (F::of(s.0), F::of(s.1));
            if inverse { c2r(x, dims, bins, scale, interior) } else { r2c(x, dims, bins, scale, interior) }.unwrap()
        }
        let dims = (outer, n, inner);
        let err = relative_error(&run(input, dims, bins, (scale, interior), inverse), &want);
        assert!(err <= 1e-12, "inverse={inverse} {outer}x{n}x{inner} bins {bins}: {err:e}");
        let x32: Vec<f32> = input.iter().map(|&v| v as f32).collect();
        let err = relative_error(&run(&x32, dims, bins, (scale, interior), inverse), &want);
        assert!(err <= 5e-7, "f32 inverse={inverse} {outer}x{n}x{inner} bins {bins}: {err:e}");
    }

    #[test]
    fn pruned_transforms_match_the_full_ones() {
        for &(outer, n, inner, bins) in &[(2, 8192, 4, 16), (1, 16384, 5, 64), (1, 24_000, 8, 100)] {
            check(&random(outer * n * inner, n as u64), (outer, n, inner), bins, false);
            // the inverse, from bins with non-zero imaginary parts at DC (ignored)
            check(&random(bins * outer * 2 * inner, 1 + n as u64), (outer, n, inner), bins, true);
        }
    }
}
