//! The fused spectral mixing op of the 1-D spectral convolution:
//! `y = irfft_N( W ⊙ trunc_M( rfft_N(x) ) )` with a complex channel contraction per kept mode,
//! working directly on strided (channels-last or channels-first) layouts, with a hand-written
//! backward.
//!
//! Per kept mode k the complex product `Y_k = X_k · W_k` (B × I by I × O) runs as one real GEMM
//! `[Re X | Im X] · [[Re W, Im W], [−Im W, Re W]]`, so the whole contraction is M small GEMMs that
//! run in parallel. The forward saves only the truncated input spectrum and the packed weights
//! (M·B·2I + M·4IO numbers), not the input.
//!
//! The `expect`s on the FFT calls are invariants: every buffer passed to a plan was sized by that
//! plan, and the edge imaginary parts of every inverse input are zeroed just before the call.

use num_complex::Complex;
use rayon::prelude::*;
use spectrans_tensor::{Backward, Float, Result, Tensor, TensorError};

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

/// Packs weights (I, O, M_w, 2) into per-mode real blocks [[Re, Im], [−Im, Re]] of shape (2I, 2O).
///
/// Parallel over input channels i, reading the weights in storage order (modes innermost): each
/// task fills rows i and I + i of every block, whose lines it completes over consecutive o, so
/// both the reads and the writes stream (parallel over modes, every cache line of the weights was
/// fetched once per mode it holds).
fn pack_weights<T: Float>(w: &[T], i_n: usize, o_n: usize, m_w: usize, modes: usize) -> Vec<T> {
    let (r, c) = (2 * i_n, 2 * o_n);
    let len = modes * r * c;
    let mut packed: Vec<T> = Vec::with_capacity(len);
    let out = SharedMut(packed.as_mut_ptr());
    (0..i_n).into_par_iter().for_each(|i| {
        for o in 0..o_n {
            let src = &w[(i * o_n + o) * m_w * 2..][..modes * 2];
            for (k, z) in src.chunks_exact(2).enumerate() {
                let (re, im) = (z[0], z[1]);
                let blk = k * r * c;
                // SAFETY: rows i and i_n + i of block k are written by task i only, inside `len`.
                unsafe {
                    out.at(blk + i * c + o).write(re);
                    out.at(blk + i * c + o_n + o).write(im);
                    out.at(blk + (i_n + i) * c + o).write(-im);
                    out.at(blk + (i_n + i) * c + o_n + o).write(re);
                }
            }
        }
    });
    // SAFETY: the tasks wrote all 4·I·O entries of each of the `modes` blocks.
    unsafe { packed.set_len(len) };
    packed
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

/// Output of the fused spectral convolution, recorded on the tape when inputs are tracked.
///
/// `x` is laid out as `lay` with I channels, `weights` is (I, O, M_w, 2); the result has O
/// channels in the same layout. Uses `min(M_w, N/2+1)` modes.
pub(crate) fn spectral_mixing<T: FftFloat>(x: &Tensor<T>, weights: &Tensor<T>, lay: Layout) -> Result<Tensor<T>> {
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
    let xs = lanes_rfft(x.data(), lay, modes, T::one(), T::one());
    let packed = pack_weights(weights.data(), i_n, o_n, m_w, modes);
    let b_n = lay.batch;
    let mut ys = vec![T::zero(); modes * b_n * 2 * o_n];
    per_mode_gemm(modes, (b_n, 2 * o_n, 2 * i_n), &xs, (2 * i_n as isize, 1), &packed, (2 * o_n as isize, 1), &mut ys);
    let y = lanes_irfft(&ys, out_lay, modes, T::one() / T::of(n as f64), T::one());
    let value = Tensor::from_vec(y, &out_lay.shape())?;
    if !Tensor::any_tracked(&[x, weights]) {
        return Ok(value);
    }
    let saved = MixingBackward { xs, packed, lay, out_lay, i_n, o_n, m_w, modes };
    Tensor::from_op(value, &[x, weights], saved)
}

struct MixingBackward<T> {
    xs: Vec<T>,
    packed: Vec<T>,
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
        let (r_in, r_out) = (2 * i_n, 2 * o_n);
        let gx = if needs[0] {
            // dX_k = dY_k · P_kᵀ   (B × 2O)·(2O × 2I)
            let mut gxs = vec![T::zero(); modes * b_n * r_in];
            per_mode_gemm(
                modes,
                (b_n, r_in, r_out),
                &gy,
                (r_out as isize, 1),
                &self.packed,
                (1, r_out as isize),
                &mut gxs,
            );
            // adjoint of the truncated rfft: dx = c2r(Z), Z_0 = dX_0, Z_k = dX_k / 2, Z_{N/2} = dX_{N/2}
            let gx = lanes_irfft(&gxs, self.lay, modes, T::one(), T::of(0.5));
            Some(Tensor::from_vec(gx, &self.lay.shape())?)
        } else {
            None
        };
        let gw = if needs[1] {
            // dP_k = X_kᵀ · dY_k   (2I × B)·(B × 2O), folded back into (I, O, M_w, 2)
            let mut gp = vec![T::zero(); modes * r_in * r_out];
            per_mode_gemm(modes, (r_in, r_out, b_n), &self.xs, (1, r_in as isize), &gy, (r_out as isize, 1), &mut gp);
            let m_w = self.m_w;
            let mut w = vec![T::zero(); i_n * o_n * m_w * 2];
            // in the weights' storage order (modes innermost), so the writes stream
            w.par_chunks_mut(o_n * m_w * 2).enumerate().for_each(|(i, wi)| {
                for o in 0..o_n {
                    for k in 0..modes {
                        let blk = &gp[k * r_in * r_out..];
                        let re = blk[i * r_out + o] + blk[(i_n + i) * r_out + o_n + o];
                        let im = blk[i * r_out + o_n + o] - blk[(i_n + i) * r_out + o];
                        wi[(o * m_w + k) * 2] = re;
                        wi[(o * m_w + k) * 2 + 1] = im;
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
            let got = spectral_mixing(&x, &w, lay).unwrap();
            let want = naive(&x, &w, lay);
            for (g, e) in got.data().iter().zip(&want) {
                prop_assert!((g - e).abs() < 1e-12, "{g} vs {e}");
            }
        }

        #[test]
        fn gradients_match_finite_differences(b in 1usize..3, n in 1usize..12, i in 1usize..6, o in 1usize..6,
                                              m in 1usize..8, last: bool, seed in 0u64..1000) {
            let (x, w, lay) = case(b, n, i, o, m, last, seed);
            assert_gradients(&[x, w], |v| spectral_mixing(&v[0], &v[1], lay));
        }

        #[test]
        fn adjoint_in_f32(b in 1usize..3, n in 1usize..40, i in 1usize..7, o in 1usize..7, m in 1usize..24,
                          last: bool, seed in 0u64..1000) {
            let (x, w, lay) = case(b, n, i, o, m, last, seed);
            let (xf, wf) = (x.cast::<f32>(), w.cast::<f32>());
            prop_assert!(adjoint_error(&xf, |v| spectral_mixing(v, &wf, lay)).unwrap() < 1e-5);
            prop_assert!(adjoint_error(&wf, |v| spectral_mixing(&xf, v, lay)).unwrap() < 1e-5);
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
            let y = spectral_mixing(&tape.watch(&px), &tape.watch(&pw), last).unwrap();
            let yt = spectral_mixing(&xt, &w, first).unwrap().permute(&[0, 2, 1]).unwrap();
            for (a, e) in y.data().iter().zip(yt.data()) {
                assert!((a - e).abs() < 1e-12, "n={n}: {a} vs {e}");
            }
            let g = tensor_from::<f64>(y.shape(), 9, -1.0, 1.0);
            y.backward_with(&g).unwrap();
            let tape2 = spectrans_tensor::Tape::new();
            let (qx, qw) = (spectrans_tensor::Parameter::new(xt), spectrans_tensor::Parameter::new(w));
            let y2 = spectral_mixing(&tape2.watch(&qx), &tape2.watch(&qw), first).unwrap();
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
            let (_, _, g) = analytic_gradients(&[x, w], |v| spectral_mixing(&v[0], &v[1], lay), 3).unwrap();
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
            spectral_mixing(&x, &w, lay).unwrap().to_vec(),
            spectral_mixing(&x, &clamped, lay).unwrap().to_vec()
        );
    }

    #[test]
    fn wrong_weight_shape_is_an_error() {
        let (x, _, lay) = case(1, 8, 3, 2, 4, true, 1);
        let e = spectral_mixing(&x, &Tensor::zeros(&[2, 2, 4, 2]), lay).unwrap_err();
        assert!(e.to_string().contains("spectral_conv1d") && e.to_string().contains("in=3"), "{e}");
    }
}
