//! The fused spectral mixing op of the 1-D spectral convolution:
//! `y = irfft_N( W ⊙ trunc_M( rfft_N(x) ) )` with a complex channel contraction per kept mode,
//! working directly on strided (channels-last or channels-first) layouts, with a hand-written
//! backward.
//!
//! Per kept mode k the complex product `Y_k = X_k · W_k` (B × I by I × O) runs as one real GEMM
//! `P_k = [X_re; X_im] · W_k` of (2B × I) by (I × 2O), the weights' (re, im) pairs interleaved
//! along the columns: the real and imaginary parts of Y are sums of two entries of P. Every
//! weight is read once per mode (a (2I × 2O) block form [[Re, Im], [−Im, Re]] would store and
//! read each twice). The backward is two more real GEMMs per mode on the same layouts. All M
//! products run in parallel. The forward saves only the truncated input spectrum and the
//! mode-major weights (M·2B·I + M·2IO numbers), not the input.
//!
//! The `expect`s on the FFT calls are invariants: every buffer passed to a plan was sized by that
//! plan, and the edge imaginary parts of every inverse input are zeroed just before the call.

use std::sync::Arc;

use num_complex::Complex;
use rayon::prelude::*;

use spectrans_tensor::{Backward, DerivedCache, Float, Result, Tensor, TensorError};

use crate::spectral::lanes::{gather_tile, scatter_tile, Layout, SharedMut, Tile, TILE};
use spectrans_transforms::plan::{irfft_lanes_bin_major, real_fft, real_ifft, rfft_lanes_bin_major};
use spectrans_transforms::FftFloat;

/// Forward real FFTs of every lane of `x` (laid out as `lay`), keeping bins `0..modes`, times
/// `scale` on DC/Nyquist (imaginary parts set to exactly 0) and `scale · interior` on the other
/// bins, written as `out[k][b][c]` (re) and `out[k][b][C + c]` (im). Channels-last signals run on
/// the lane-vectorised real FFT of `spectrans-transforms` when it supports the length; otherwise
/// tiles of channels are gathered and transformed lane by lane.
fn lanes_rfft<T: FftFloat>(x: &[T], lay: Layout, modes: usize, scale: T, interior: T) -> Vec<T> {
    let (b_n, n, c_n) = (lay.batch, lay.len, lay.channels);
    if lay.channel_stride == 1 {
        if let Some(spec) = rfft_lanes_bin_major(x, (b_n, n, c_n), modes, scale, interior) {
            return spec;
        }
    }
    let factor = |k: usize| if k == 0 || 2 * k == n { scale } else { scale * interior };
    let row = 2 * c_n;
    let mut out = vec![T::zero(); modes * b_n * row];
    let plan = real_fft::<T>(n);
    let dst = SharedMut(out.as_mut_ptr());
    lay.par_tiles(
        || (vec![T::zero(); TILE * n], plan.make_output_vec(), plan.make_scratch_vec()),
        |(tile, spec, scratch), Tile { b, c0, width }| {
            gather_tile(x, &lay, b, c0, width, tile, n);
            for l in 0..width {
                plan.process_with_scratch(&mut tile[l * n..(l + 1) * n], spec, scratch)
                    .expect("buffer sizes come from the plan");
                let c = c0 + l;
                for (k, z) in spec.iter().take(modes).enumerate() {
                    let o = (k * b_n + b) * row;
                    let im = if k == 0 || 2 * k == n { T::zero() } else { z.im * factor(k) };
                    // SAFETY: (k, b, c) is written by exactly one task, inside `out`.
                    unsafe {
                        *dst.at(o + c) = z.re * factor(k);
                        *dst.at(o + c_n + c) = im;
                    }
                }
            }
        },
    );
    out
}

/// Inverse of the lane layout above: spectra `spec[k][b][c | C + c]` for `k < modes` (higher bins
/// zero), the bins other than DC/Nyquist times `interior` → real signals of length `lay.len`, times
/// `scale`, written into `y` laid out as `lay`. Im(DC) and Im(Nyquist) are ignored, as every c2r
/// inverse does. Same two paths as [`lanes_rfft`].
fn lanes_irfft<T: FftFloat>(spec: &[T], lay: Layout, modes: usize, scale: T, interior: T) -> Vec<T> {
    let (b_n, n, c_n) = (lay.batch, lay.len, lay.channels);
    if lay.channel_stride == 1 {
        if let Some(y) = irfft_lanes_bin_major(spec, (b_n, n, c_n), modes, scale, interior) {
            return y;
        }
    }
    let row = 2 * c_n;
    // every element is written by exactly one task before the length is set
    let len = b_n * n * c_n;
    let mut y: Vec<T> = Vec::with_capacity(len);
    let plan = real_ifft::<T>(n);
    let dst = SharedMut(y.as_mut_ptr());
    lay.par_tiles(
        || (vec![T::zero(); TILE * n], plan.make_input_vec(), plan.make_scratch_vec()),
        |(tile, z, scratch), Tile { b, c0, width }| {
            for l in 0..width {
                let c = c0 + l;
                z.iter_mut().for_each(|v| *v = Complex::new(T::zero(), T::zero()));
                for (k, zk) in z.iter_mut().enumerate().take(modes) {
                    let o = (k * b_n + b) * row;
                    *zk = if k == 0 || 2 * k == n {
                        Complex::new(spec[o + c], T::zero())
                    } else {
                        Complex::new(spec[o + c] * interior, spec[o + c_n + c] * interior)
                    };
                }
                plan.process_with_scratch(z, &mut tile[l * n..(l + 1) * n], scratch)
                    .expect("buffer sizes come from the plan and edge imaginary parts are zero");
            }
            // SAFETY: each (b, ·, c) lane is written by exactly one task, inside `y`.
            unsafe { scatter_tile(&dst, &lay, b, c0, width, tile, n, scale) };
        },
    );
    // SAFETY: the tasks above wrote all `len` elements (each lane once).
    unsafe { y.set_len(len) };
    y
}

/// Weights (I, O, M_w, 2) re-laid-out mode-major as (modes, I, O, 2): per kept mode k the real
/// (I × 2O) matrix whose row i holds `W_k[i, o]` as interleaved (re, im) pairs.
///
/// Parallel over input channels i: task i reads its slice of the weights (O·M_w pairs, small
/// enough to stay in cache) once per mode and writes row i of that mode's block contiguously.
fn modes_major<T: Float>(w: &[T], i_n: usize, o_n: usize, m_w: usize, modes: usize) -> Vec<T> {
    let row = 2 * o_n;
    let len = modes * i_n * row;
    let mut out: Vec<T> = Vec::with_capacity(len);
    let dst = SharedMut(out.as_mut_ptr());
    (0..i_n).into_par_iter().for_each(|i| {
        let src = &w[i * o_n * m_w * 2..][..o_n * m_w * 2];
        for k in 0..modes {
            let at = (k * i_n + i) * row;
            for o in 0..o_n {
                let z = &src[(o * m_w + k) * 2..];
                // SAFETY: row i of every block is written by task i only, inside `len`.
                unsafe {
                    dst.at(at + 2 * o).write(z[0]);
                    dst.at(at + 2 * o + 1).write(z[1]);
                }
            }
        }
    });
    // SAFETY: the tasks wrote all I·2O entries of each of the `modes` blocks.
    unsafe { out.set_len(len) };
    out
}

/// Per-mode products `P_k = [X_re; X_im] · W_k` (rows 2b and 2b + 1 hold batch b's real and
/// imaginary parts, columns (o, re/im) interleaved) → the complex products `Y_k = X_k W_k` in the
/// spectrum layout `[k][b][re 0..O | im 0..O]`:
/// `Re Y = P[2b][2o] − P[2b+1][2o+1]`, `Im Y = P[2b][2o+1] + P[2b+1][2o]`.
fn complex_from_products<T: Float>(p: &[T], o_n: usize) -> Vec<T> {
    let row = 2 * o_n;
    let mut y = vec![T::zero(); p.len() / 2];
    y.par_chunks_mut(row).zip(p.par_chunks(2 * row)).for_each(|(y, p)| {
        let (re, im) = p.split_at(row);
        let (y_re, y_im) = y.split_at_mut(o_n);
        for o in 0..o_n {
            y_re[o] = re[2 * o] - im[2 * o + 1];
            y_im[o] = re[2 * o + 1] + im[2 * o];
        }
    });
    y
}

/// Output-spectrum gradients `[k][b][re 0..O | im 0..O]` → per mode the (2B × 2O) matrix `H_k`
/// with row 2b = (dRe, dIm) and row 2b + 1 = (dIm, −dRe), interleaved per o, so that
/// `dX_k = H_k · W_kᵀ` and `dW_k = [X_re; X_im]ᵀ · H_k` are single real products.
fn gradient_pairs<T: Float>(gy: &[T], o_n: usize) -> Vec<T> {
    let row = 2 * o_n;
    let mut h = vec![T::zero(); 2 * gy.len()];
    h.par_chunks_mut(2 * row).zip(gy.par_chunks(row)).for_each(|(h, g)| {
        let (g_re, g_im) = g.split_at(o_n);
        let (first, second) = h.split_at_mut(row);
        for o in 0..o_n {
            first[2 * o] = g_re[o];
            first[2 * o + 1] = g_im[o];
            second[2 * o] = g_im[o];
            second[2 * o + 1] = -g_re[o];
        }
    });
    h
}

/// For every mode k: `out_k (rows × n) = a_k · b_k` with per-mode strides, modes in parallel.
#[allow(clippy::too_many_arguments)]
fn per_mode_gemm<T: Float>(
    modes: usize,
    (m, n, k): (usize, usize, usize),
    a: &[T],
    (a_rs, a_cs): (isize, isize),
    b: &[T],
    (b_rs, b_cs): (isize, isize),
    out: &mut [T],
) {
    let (a_len, b_len, o_len) = (a.len() / modes.max(1), b.len() / modes.max(1), m * n);
    let threads_inner = if modes >= rayon::current_num_threads() { 1 } else { rayon::current_num_threads() };
    out.par_chunks_mut(o_len).enumerate().for_each(|(q, o)| {
        // SAFETY: each mode reads its own slices of `a` and `b`, with strides inside them.
        unsafe {
            T::gemm(
                m,
                n,
                k,
                o.as_mut_ptr(),
                n as isize,
                1,
                false,
                a[q * a_len..].as_ptr(),
                a_rs,
                a_cs,
                b[q * b_len..].as_ptr(),
                b_rs,
                b_cs,
                threads_inner,
            );
        }
    });
}

/// Weights re-laid-out by [`modes_major`] for all stored modes, cached by a layer between calls
/// with unchanged weights (see [`spectral_mixing`]).
pub(crate) type ModesMajorCache<T> = DerivedCache<T, Vec<T>>;

/// Output of the fused spectral convolution, recorded on the tape when inputs are tracked.
///
/// `x` is laid out as `lay` with I channels, `weights` is (I, O, M_w, 2); the result has O
/// channels in the same layout. Uses `min(M_w, N/2+1)` modes. With a `cache` and untracked
/// weights (inference), the re-laid-out weights are kept in it and reused while the weights are
/// unchanged; with tracked weights the cache is emptied (training changes them every step).
pub(crate) fn spectral_mixing<T: FftFloat>(
    x: &Tensor<T>,
    weights: &Tensor<T>,
    lay: Layout,
    cache: Option<&ModesMajorCache<T>>,
) -> Result<Tensor<T>> {
    let ws = weights.shape();
    if ws.len() != 4 || ws[3] != 2 || ws[0] != lay.channels {
        return Err(TensorError::mismatch(
            "spectral_conv1d",
            x.shape(),
            ws,
            format!("weights must be (in={}, out, modes, 2)", lay.channels),
        ));
    }
    let (i_n, o_n, m_w) = (ws[0], ws[1], ws[2]);
    let n = lay.len;
    let modes = m_w.min(n / 2 + 1);
    let out_lay = lay.with_channels(o_n);
    if lay.batch == 0 || n == 0 || modes == 0 || o_n == 0 {
        return Ok(Tensor::zeros(&out_lay.shape()));
    }
    let weights_tracked = Tensor::any_tracked(&[weights]);
    let wt = match cache {
        Some(c) if !weights_tracked => c.get_or_compute(weights, |w| modes_major(w, i_n, o_n, m_w, m_w)),
        _ => {
            if let Some(c) = cache {
                c.clear();
            }
            Arc::new(modes_major(weights.data(), i_n, o_n, m_w, modes))
        }
    };
    let xs = lanes_rfft(x.data(), lay, modes, T::one(), T::one());
    let (r_b, r_o) = (2 * lay.batch, 2 * o_n);
    let mut p = vec![T::zero(); modes * r_b * r_o];
    let w_k = &wt[..modes * i_n * r_o];
    per_mode_gemm(modes, (r_b, r_o, i_n), &xs, (i_n as isize, 1), w_k, (r_o as isize, 1), &mut p);
    let ys = complex_from_products(&p, o_n);
    drop(p);
    let y = lanes_irfft(&ys, out_lay, modes, T::one() / T::of(n as f64), T::one());
    let value = Tensor::from_vec(y, &out_lay.shape())?;
    if !Tensor::any_tracked(&[x, weights]) {
        return Ok(value);
    }
    let saved = MixingBackward { xs, wt, lay, out_lay, i_n, o_n, m_w, modes };
    Tensor::from_op(value, &[x, weights], saved)
}

struct MixingBackward<T> {
    /// The truncated input spectra, per mode a (2B × I) matrix of rows (re, im) per batch.
    xs: Vec<T>,
    /// The weights re-laid-out mode-major (at least `modes` blocks).
    wt: Arc<Vec<T>>,
    lay: Layout,
    out_lay: Layout,
    i_n: usize,
    o_n: usize,
    m_w: usize,
    modes: usize,
}

impl<T: FftFloat> Backward<T> for MixingBackward<T> {
    fn name(&self) -> &'static str {
        "spectral_conv1d"
    }

    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let (n, b_n, modes, i_n, o_n) = (self.lay.len, self.lay.batch, self.modes, self.i_n, self.o_n);
        // adjoint of y = c2r(Y)/N: dY_k = (c_k / N)·rfft(g)_k, c = 1 at DC and Nyquist, 2 elsewhere,
        // with Im(DC), Im(Nyquist) exactly 0 (they never influence y).
        let gy = lanes_rfft(g.data(), self.out_lay, modes, T::one() / T::of(n as f64), T::of(2.0));
        let h = gradient_pairs(&gy, o_n);
        drop(gy);
        let (r_b, r_o) = (2 * b_n, 2 * o_n);
        let w_k = &self.wt[..modes * i_n * r_o];
        let gx = if needs[0] {
            // dX_k = H_k · W_kᵀ   (2B × 2O)·(2O × I), rows (re, im) per batch as the forward's spectra
            let mut gxs = vec![T::zero(); modes * r_b * i_n];
            per_mode_gemm(modes, (r_b, i_n, r_o), &h, (r_o as isize, 1), w_k, (1, r_o as isize), &mut gxs);
            // adjoint of the truncated rfft: dx = c2r(Z), Z_0 = dX_0, Z_k = dX_k / 2, Z_{N/2} = dX_{N/2}
            let gx = lanes_irfft(&gxs, self.lay, modes, T::one(), T::of(0.5));
            Some(Tensor::from_vec(gx, &self.lay.shape())?)
        } else {
            None
        };
        let gw = if needs[1] {
            // dW_k = [X_re; X_im]ᵀ · H_k   (I × 2B)·(2B × 2O), folded back into (I, O, M_w, 2)
            let mut gwt = vec![T::zero(); modes * i_n * r_o];
            per_mode_gemm(modes, (i_n, r_o, r_b), &self.xs, (1, i_n as isize), &h, (r_o as isize, 1), &mut gwt);
            let m_w = self.m_w;
            let mut w = vec![T::zero(); i_n * o_n * m_w * 2];
            // task i writes its (cache-sized) slice of the weights, reading row i of each mode's block
            w.par_chunks_mut(o_n * m_w * 2).enumerate().for_each(|(i, wi)| {
                for k in 0..modes {
                    let src = &gwt[(k * i_n + i) * r_o..][..r_o];
                    for (o, z) in src.chunks_exact(2).enumerate() {
                        wi[(o * m_w + k) * 2] = z[0];
                        wi[(o * m_w + k) * 2 + 1] = z[1];
                    }
                }
            });
            Some(Tensor::from_vec(w, &[i_n, o_n, m_w, 2])?)
        } else {
            None
        };
        Ok(vec![gx, gw])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spectral::lanes::Layout;
    use proptest::prelude::*;
    use spectrans_tensor::gradcheck::{adjoint_error, assert_gradients, tensor_from};

    /// The reference closed form (reference.md §5.1), by direct O(N²) sums, channels-last.
    fn naive(x: &Tensor<f64>, w: &Tensor<f64>, lay: Layout) -> Vec<f64> {
        let (b_n, n, i_n) = (lay.batch, lay.len, lay.channels);
        let (o_n, m_w) = (w.shape()[1], w.shape()[2]);
        let modes = m_w.min(n / 2 + 1);
        let at =
            |b: usize, j: usize, i: usize| x.data()[b * lay.batch_stride + j * lay.len_stride + i * lay.channel_stride];
        let out_lay = lay.with_channels(o_n);
        let mut y = vec![0.0; b_n * n * o_n];
        for b in 0..b_n {
            for o in 0..o_n {
                for t in 0..n {
                    let mut acc = 0.0;
                    for k in 0..modes {
                        let (mut yr, mut yi) = (0.0, 0.0);
                        for i in 0..i_n {
                            let (mut xr, mut xi) = (0.0, 0.0);
                            for j in 0..n {
                                let a = -2.0 * std::f64::consts::PI * (k * j) as f64 / n as f64;
                                xr += at(b, j, i) * a.cos();
                                xi += at(b, j, i) * a.sin();
                            }
                            let s = ((i * o_n + o) * m_w + k) * 2;
                            let (wr, wi) = (w.data()[s], w.data()[s + 1]);
                            yr += xr * wr - xi * wi;
                            yi += xr * wi + xi * wr;
                        }
                        let a = 2.0 * std::f64::consts::PI * (k * t) as f64 / n as f64;
                        let re = yr * a.cos() - yi * a.sin();
                        acc += if k == 0 || 2 * k == n { yr * a.cos() } else { 2.0 * re };
                    }
                    y[b * out_lay.batch_stride + t * out_lay.len_stride + o * out_lay.channel_stride] = acc / n as f64;
                }
            }
        }
        y
    }

    fn case(
        b: usize,
        n: usize,
        i: usize,
        o: usize,
        m: usize,
        last: bool,
        seed: u64,
    ) -> (Tensor<f64>, Tensor<f64>, Layout) {
        let lay = if last { Layout::channels_last(b, n, i) } else { Layout::channels_first(b, i, n) };
        let x = tensor_from::<f64>(&lay.shape(), seed, -1.0, 1.0);
        let w = tensor_from::<f64>(&[i, o, m, 2], seed + 1, -1.0, 1.0);
        (x, w, lay)
    }

    // Channel counts reach 4 and more, where channels-last signals of a supported even length take
    // the lane-vectorised FFT of `spectrans-transforms` (fewer channels and channels-first take
    // the per-lane path): both paths are checked by every property.
    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn matches_direct_dft(b in 1usize..3, n in 1usize..20, i in 1usize..7, o in 1usize..7, m in 1usize..12,
                              last: bool, seed in 0u64..1000) {
            let (x, w, lay) = case(b, n, i, o, m, last, seed);
            let got = spectral_mixing(&x, &w, lay, None).unwrap();
            let want = naive(&x, &w, lay);
            for (g, e) in got.data().iter().zip(&want) {
                prop_assert!((g - e).abs() < 1e-12, "{g} vs {e}");
            }
        }

        #[test]
        fn gradients_match_finite_differences(b in 1usize..3, n in 1usize..12, i in 1usize..6, o in 1usize..6,
                                              m in 1usize..8, last: bool, seed in 0u64..1000) {
            let (x, w, lay) = case(b, n, i, o, m, last, seed);
            assert_gradients(&[x, w], |v| spectral_mixing(&v[0], &v[1], lay, None));
        }

        #[test]
        fn adjoint_in_f32(b in 1usize..3, n in 1usize..40, i in 1usize..7, o in 1usize..7, m in 1usize..24,
                          last: bool, seed in 0u64..1000) {
            let (x, w, lay) = case(b, n, i, o, m, last, seed);
            let (xf, wf) = (x.cast::<f32>(), w.cast::<f32>());
            prop_assert!(adjoint_error(&xf, |v| spectral_mixing(v, &wf, lay, None)).unwrap() < 1e-5);
            prop_assert!(adjoint_error(&wf, |v| spectral_mixing(&xf, v, lay, None)).unwrap() < 1e-5);
        }
    }

    /// The two FFT paths agree: channels-last (lane-vectorised where supported) against
    /// channels-first (per-lane), on the same signals, values and gradients.
    #[test]
    fn both_fft_paths_agree() {
        for &(b, n, i, o, m) in &[(2, 16, 8, 5, 6), (3, 100, 6, 9, 32), (1, 30, 20, 4, 16), (2, 12, 4, 4, 7)] {
            let (x, w, last) = case(b, n, i, o, m, true, 5);
            let first = Layout::channels_first(b, i, n);
            let modes = m.min(n / 2 + 1);
            assert!(rfft_lanes_bin_major(x.data(), (b, n, i), modes, 1.0, 1.0).is_some(), "column path not taken");
            let xt = x.permute(&[0, 2, 1]).unwrap();
            let tape = spectrans_tensor::Tape::new();
            let (px, pw) = (spectrans_tensor::Parameter::new(x.clone()), spectrans_tensor::Parameter::new(w.clone()));
            let y = spectral_mixing(&tape.watch(&px), &tape.watch(&pw), last, None).unwrap();
            let yt = spectral_mixing(&xt, &w, first, None).unwrap().permute(&[0, 2, 1]).unwrap();
            for (a, e) in y.data().iter().zip(yt.data()) {
                assert!((a - e).abs() < 1e-12, "n={n}: {a} vs {e}");
            }
            let g = tensor_from::<f64>(y.shape(), 9, -1.0, 1.0);
            y.backward_with(&g).unwrap();
            let tape2 = spectrans_tensor::Tape::new();
            let (qx, qw) = (spectrans_tensor::Parameter::new(xt), spectrans_tensor::Parameter::new(w));
            let y2 = spectral_mixing(&tape2.watch(&qx), &tape2.watch(&qw), first, None).unwrap();
            y2.backward_with(&g.permute(&[0, 2, 1]).unwrap()).unwrap();
            let gx2 = qx.grad().unwrap().permute(&[0, 2, 1]).unwrap();
            for (a, e) in px.grad().unwrap().data().iter().zip(gx2.data()) {
                assert!((a - e).abs() < 1e-12, "n={n} dx: {a} vs {e}");
            }
            for (a, e) in pw.grad().unwrap().data().iter().zip(qw.grad().unwrap().data()) {
                assert!((a - e).abs() < 1e-10, "n={n} dw: {a} vs {e}");
            }
        }
    }

    #[test]
    fn dead_imaginary_weights_get_exactly_zero_gradient() {
        use spectrans_tensor::gradcheck::analytic_gradients;
        for n in [8usize, 9] {
            let m = n / 2 + 1; // keeps the Nyquist bin when n is even
            let (x, w, lay) = case(2, n, 3, 2, m, true, 5);
            let (_, _, g) = analytic_gradients(&[x, w], |v| spectral_mixing(&v[0], &v[1], lay, None), 3).unwrap();
            let gw = g[1].data();
            spectrans_tensor::gradcheck::check_dead_imaginary_gradients(gw, n, m).unwrap();
            if n % 2 == 1 {
                for io in 0..3 * 2 {
                    assert_ne!(gw[(io * m + n / 2) * 2 + 1], 0.0, "odd N has no Nyquist bin");
                }
            }
        }
    }

    #[test]
    fn modes_beyond_nyquist_equal_nyquist_modes() {
        let (x, w, lay) = case(2, 10, 3, 2, 9, true, 11);
        let clamped = Tensor::from_vec(
            (0..3 * 2).flat_map(|io| w.data()[io * 18..io * 18 + 12].to_vec()).collect(),
            &[3, 2, 6, 2],
        )
        .unwrap();
        assert_eq!(
            spectral_mixing(&x, &w, lay, None).unwrap().to_vec(),
            spectral_mixing(&x, &clamped, lay, None).unwrap().to_vec()
        );
    }

    /// With a cache, inference reuses the re-laid-out weights (all stored modes, so shorter
    /// sequences keeping fewer modes share them) and gives the same numbers; a weight update
    /// invalidates them; a tracked call empties the cache.
    #[test]
    fn cached_weights_give_identical_results_and_follow_updates() {
        let cache = ModesMajorCache::new();
        let (x, w, lay) = case(2, 16, 5, 3, 6, true, 21);
        let param = spectrans_tensor::Parameter::new(w);
        let direct = |x: &Tensor<f64>, lay| spectral_mixing(x, &param.value(), lay, None).unwrap().to_vec();
        let cached = |x: &Tensor<f64>, lay| spectral_mixing(x, &param.value(), lay, Some(&cache)).unwrap().to_vec();
        assert_eq!(cached(&x, lay), direct(&x, lay));
        let (short, _, short_lay) = case(2, 6, 5, 3, 6, true, 22); // 4 of the 6 modes
        assert_eq!(cached(&short, short_lay), direct(&short, short_lay));
        param.update(|v, _| v.iter_mut().for_each(|w| *w = 0.5 - *w));
        assert_eq!(cached(&x, lay), direct(&x, lay));
        assert!(cache.is_filled());
        let tape = spectrans_tensor::Tape::new();
        let tracked = spectral_mixing(&x, &tape.watch(&param), lay, Some(&cache)).unwrap();
        assert!(!cache.is_filled());
        assert_eq!(tracked.to_vec(), direct(&x, lay));
    }

    #[test]
    fn wrong_weight_shape_is_an_error() {
        let (x, _, lay) = case(1, 8, 3, 2, 4, true, 1);
        let e = spectral_mixing(&x, &Tensor::zeros(&[2, 2, 4, 2]), lay, None).unwrap_err();
        assert!(e.to_string().contains("spectral_conv1d") && e.to_string().contains("in=3"), "{e}");
    }
}
