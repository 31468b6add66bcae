//! The exactly causal spectral convolution of the FNO decoder (design.md §6, construction B).
//!
//! Each channel d is convolved causally with its own long kernel
//! `k_d[j] = irfft_L(w_d)[j]` for lags `0 ≤ j < L` (L = `max_sequence_length`), where `w_d` holds
//! M complex Fourier coefficients over the window — the kernel of a circular spectral
//! convolution of period L, cut to non-negative lags. Then
//! `y_d[t] = Σ_{0 ≤ j ≤ t} k_d[j] · x_d[t − j]`: output t depends on inputs ≤ t only, exactly.
//! The convolution runs through FFTs of a zero-padded length P ≥ N + min(N, L) − 1 (no wrap
//! around), O(B·D·N log N). Channel mixing is left to the block's pointwise convolution.
//!
//! The kernel does not depend on the sequence length N, so a prefix of a sequence gives the same
//! outputs as the whole sequence: incremental generation can reuse it.
//!
//! The FFTs run in f64 whatever the model's precision: FFT round-off is relative to the whole
//! signal, so in f32 it would let later inputs move earlier outputs by ~1e-7 relative; in f64 the
//! movement stays below one f32 ulp of the result. The convolution is a few percent of a block's
//! work, so this costs little.
//!
//! The `expect`s on the FFT calls are invariants: every buffer passed to a plan was sized by that
//! plan, and the edge imaginary parts of every inverse input are zeroed just before the call.

use num_complex::Complex;
use rayon::prelude::*;
use spectrans_tensor::{Backward, Result, Tensor, TensorError};

use crate::spectral::lanes::{gather_tile_as, scatter_tile_as, Layout, SharedMut, Tile, TILE};
use spectrans_transforms::plan::{real_fft, real_ifft};
use spectrans_transforms::FftFloat;

/// The smallest 5-smooth number ≥ n (fast FFT sizes).
pub(crate) fn fast_len(n: usize) -> usize {
    let mut m = n.max(1);
    loop {
        let mut r = m;
        for p in [2, 3, 5] {
            while r.is_multiple_of(p) {
                r /= p;
            }
        }
        if r == 1 {
            return m;
        }
        m += 1;
    }
}

/// The kernels `k_d[0..taps)` (D × taps, in f64) from weights (D, M_w, 2) with period `period`.
pub(crate) fn kernels<T: FftFloat>(w: &[T], channels: usize, m_w: usize, period: usize, taps: usize) -> Vec<f64> {
    let modes = m_w.min(period / 2 + 1);
    let plan = real_ifft::<f64>(period);
    let scale = 1.0 / period as f64;
    let mut out = vec![0.0; channels * taps];
    out.par_chunks_mut(taps.max(1)).enumerate().for_each_init(
        || (plan.make_input_vec(), vec![0.0; period], plan.make_scratch_vec()),
        |(spec, row, scratch), (d, k)| {
            spec.iter_mut().for_each(|z| *z = Complex::new(0.0, 0.0));
            for (m, z) in spec.iter_mut().enumerate().take(modes) {
                let s = (d * m_w + m) * 2;
                let im = if m == 0 || 2 * m == period { 0.0 } else { w[s + 1].as_f64() };
                *z = Complex::new(w[s].as_f64(), im);
            }
            plan.process_with_scratch(spec, row, scratch).expect("sizes come from the plan");
            for (kj, &r) in k.iter_mut().zip(row.iter()) {
                *kj = r * scale;
            }
        },
    );
    out
}

/// Spectra (D × (P/2+1)) of the kernels zero-padded to `p`.
fn kernel_spectra(k: &[f64], channels: usize, taps: usize, p: usize) -> Vec<Complex<f64>> {
    let plan = real_fft::<f64>(p);
    let bins = p / 2 + 1;
    let mut out = vec![Complex::new(0.0, 0.0); channels * bins];
    out.par_chunks_mut(bins).enumerate().for_each_init(
        || (vec![0.0; p], plan.make_scratch_vec()),
        |(row, scratch), (d, spec)| {
            row[..taps].copy_from_slice(&k[d * taps..(d + 1) * taps]);
            row[taps..].iter_mut().for_each(|v| *v = 0.0);
            plan.process_with_scratch(row, spec, scratch).expect("sizes come from the plan");
        },
    );
    out
}

/// Geometry of one causal convolution.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    lay: Layout,
    /// Kernel length used: min(N, L).
    taps: usize,
    /// Padded FFT length.
    p: usize,
    period: usize,
    m_w: usize,
}

/// `y = causal_conv(x, k(w))` for channels-last `x` (B, N, D) and weights (D, M, 2) of period `period`.
///
/// # Shapes
/// `x` (B, N, D), `weights` (D, M, 2) → (B, N, D).
pub(crate) fn causal_conv<T: FftFloat>(x: &Tensor<T>, weights: &Tensor<T>, period: usize) -> Result<Tensor<T>> {
    let (xs, ws) = (x.shape(), weights.shape());
    if xs.len() != 3 || ws.len() != 3 || ws[2] != 2 || ws[0] != xs[2] {
        return Err(TensorError::mismatch("causal_conv", xs, ws, "expected x (B, N, D) and weights (D, modes, 2)"));
    }
    if period == 0 {
        return Err(TensorError::invalid("causal_conv", "the kernel period (max_sequence_length) must be at least 1"));
    }
    let lay = Layout::channels_last(xs[0], xs[1], xs[2]);
    if lay.batch == 0 || lay.len == 0 || lay.channels == 0 {
        return Ok(Tensor::zeros(xs));
    }
    let taps = lay.len.min(period);
    let g = Geometry { lay, taps, p: fast_len(lay.len + taps - 1), period, m_w: ws[1] };
    let k = kernels(weights.data(), lay.channels, g.m_w, period, taps);
    let kf = kernel_spectra(&k, lay.channels, taps, g.p);
    let y = convolve(x.data(), &kf, &g, false);
    let value = Tensor::from_vec(y, xs)?;
    if !Tensor::any_tracked(&[x, weights]) {
        return Ok(value);
    }
    Tensor::from_op(value, &[x, weights], CausalBackward { x: x.detach(), kf, g })
}

/// Per lane: `c2r(r2c(pad(x)) · K_d (or conj K_d)) / P`, first N samples (computed in f64).
fn convolve<T: FftFloat>(x: &[T], kf: &[Complex<f64>], g: &Geometry, conjugate: bool) -> Vec<T> {
    let (lay, p) = (g.lay, g.p);
    let bins = p / 2 + 1;
    let fwd = real_fft::<f64>(p);
    let inv = real_ifft::<f64>(p);
    // every element is written by exactly one task before the length is set
    let len = x.len();
    let mut y: Vec<T> = Vec::with_capacity(len);
    let dst = SharedMut(y.as_mut_ptr());
    let scale = 1.0 / p as f64;
    lay.par_tiles(
        || (vec![0.0; TILE * p], fwd.make_output_vec(), fwd.make_scratch_vec(), inv.make_scratch_vec()),
        |(tile, spec, s_fwd, s_inv), Tile { b, c0, width }| {
            gather_tile_as(x, &lay, b, c0, width, tile, p, |v: T| v.as_f64());
            for l in 0..width {
                let row = &mut tile[l * p..(l + 1) * p];
                fwd.process_with_scratch(row, spec, s_fwd).expect("sizes come from the plan");
                let kd = &kf[(c0 + l) * bins..(c0 + l + 1) * bins];
                for (z, k) in spec.iter_mut().zip(kd) {
                    *z *= if conjugate { k.conj() } else { *k };
                }
                spec[0].im = 0.0;
                if p % 2 == 0 {
                    spec[bins - 1].im = 0.0;
                }
                inv.process_with_scratch(spec, row, s_inv).expect("edge imaginary parts are zero");
            }
            // SAFETY: each (b, ·, c) lane is written by exactly one task.
            unsafe { scatter_tile_as(&dst, &lay, b, c0, width, tile, p, |v| T::of(v * scale)) };
        },
    );
    // SAFETY: the tasks above wrote all `len` elements (each lane once).
    unsafe { y.set_len(len) };
    y
}

struct CausalBackward<T: FftFloat> {
    x: Tensor<T>,
    kf: Vec<Complex<f64>>,
    g: Geometry,
}

impl<T: FftFloat> Backward<T> for CausalBackward<T> {
    fn name(&self) -> &'static str {
        "causal_conv"
    }

    fn backward(&self, grad: &Tensor<T>, needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let g = &self.g;
        // dx[s] = Σ_{t ≥ s} k[t − s]·g[t]: a correlation, conj(K)·G without wrap-around (P is long enough)
        let gx = if needs[0] {
            Some(Tensor::from_vec(convolve(grad.data(), &self.kf, g, true), &g.lay.shape())?)
        } else {
            None
        };
        let gw = if needs[1] { Some(self.weight_grad(grad.data())?) } else { None };
        Ok(vec![gx, gw])
    }
}

impl<T: FftFloat> CausalBackward<T> {
    /// dk_d[j] = Σ_b Σ_t g[t]·x[t − j] (correlation, j < taps), then the adjoint of the kernel
    /// synthesis: dw_m = (c_m / L)·rfft_L(dk)_m, c = 1 at DC and Nyquist, 2 elsewhere.
    fn weight_grad(&self, grad: &[T]) -> Result<Tensor<T>> {
        let g = &self.g;
        let (lay, p) = (g.lay, g.p);
        let bins = p / 2 + 1;
        let fwd = real_fft::<f64>(p);
        let inv = real_ifft::<f64>(p);
        let zero = Complex::new(0.0, 0.0);
        let mut dk = vec![0.0f64; lay.channels * g.taps];
        let dst = SharedMut(dk.as_mut_ptr());
        let x = self.x.data();
        let wide = |v: T| v.as_f64();
        lay.par_channel_tiles(
            || {
                (
                    vec![0.0; TILE * p],
                    vec![0.0; TILE * p],
                    fwd.make_output_vec(),
                    fwd.make_output_vec(),
                    vec![zero; TILE * bins],
                    fwd.make_scratch_vec(),
                    inv.make_scratch_vec(),
                )
            },
            |(xt, gt, xs, gs, acc, s_fwd, s_inv), c0, width| {
                acc.iter_mut().for_each(|a| *a = zero);
                for b in 0..lay.batch {
                    gather_tile_as(x, &lay, b, c0, width, xt, p, wide);
                    gather_tile_as(grad, &lay, b, c0, width, gt, p, wide);
                    for l in 0..width {
                        fwd.process_with_scratch(&mut xt[l * p..(l + 1) * p], xs, s_fwd).expect("plan sizes");
                        fwd.process_with_scratch(&mut gt[l * p..(l + 1) * p], gs, s_fwd).expect("plan sizes");
                        for ((a, xv), gv) in acc[l * bins..(l + 1) * bins].iter_mut().zip(xs.iter()).zip(gs.iter()) {
                            *a += xv.conj() * gv;
                        }
                    }
                }
                let scale = 1.0 / p as f64;
                for l in 0..width {
                    let spec = &mut acc[l * bins..(l + 1) * bins];
                    spec[0].im = 0.0;
                    if p % 2 == 0 {
                        spec[bins - 1].im = 0.0;
                    }
                    let row = &mut xt[l * p..(l + 1) * p];
                    inv.process_with_scratch(spec, row, s_inv).expect("edge imaginary parts are zero");
                    for (j, r) in row.iter().take(g.taps).enumerate() {
                        // SAFETY: channel c0 + l belongs to this task only.
                        unsafe { *dst.at((c0 + l) * g.taps + j) = r * scale };
                    }
                }
            },
        );
        // adjoint of k = irfft_L(w)[0..taps) / L
        let (period, m_w) = (g.period, g.m_w);
        let modes = m_w.min(period / 2 + 1);
        let plan = real_fft::<f64>(period);
        let mut dw = vec![T::zero(); lay.channels * m_w * 2];
        dw.par_chunks_mut(m_w * 2).enumerate().for_each_init(
            || (vec![0.0; period], plan.make_output_vec(), plan.make_scratch_vec()),
            |(row, spec, scratch), (d, out)| {
                row[..g.taps].copy_from_slice(&dk[d * g.taps..(d + 1) * g.taps]);
                row[g.taps..].iter_mut().for_each(|v| *v = 0.0);
                plan.process_with_scratch(row, spec, scratch).expect("plan sizes");
                for m in 0..modes {
                    let edge = m == 0 || 2 * m == period;
                    let c = if edge { 1.0 } else { 2.0 } / period as f64;
                    out[2 * m] = T::of(spec[m].re * c);
                    out[2 * m + 1] = if edge { T::zero() } else { T::of(spec[m].im * c) };
                }
            },
        );
        Tensor::from_vec(dw, &[lay.channels, m_w, 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use spectrans_tensor::gradcheck::{adjoint_error, assert_gradients, tensor_from};

    /// Direct O(N²) evaluation of the definition.
    fn naive(x: &Tensor<f64>, w: &Tensor<f64>, period: usize) -> Vec<f64> {
        let (b_n, n, d_n) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let m_w = w.shape()[1];
        let modes = m_w.min(period / 2 + 1);
        let k = |d: usize, j: usize| -> f64 {
            if j >= period {
                return 0.0;
            }
            let mut acc = 0.0;
            for m in 0..modes {
                let (re, im) = (w.data()[(d * m_w + m) * 2], w.data()[(d * m_w + m) * 2 + 1]);
                let a = 2.0 * std::f64::consts::PI * (m * j) as f64 / period as f64;
                acc += if m == 0 || 2 * m == period { re * a.cos() } else { 2.0 * (re * a.cos() - im * a.sin()) };
            }
            acc / period as f64
        };
        let mut y = vec![0.0; x.numel()];
        for b in 0..b_n {
            for t in 0..n {
                for d in 0..d_n {
                    y[(b * n + t) * d_n + d] = (0..=t).map(|j| k(d, j) * x.data()[(b * n + t - j) * d_n + d]).sum();
                }
            }
        }
        y
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn equals_direct_causal_convolution(b in 1usize..3, n in 1usize..24, d in 1usize..5, m in 1usize..10,
                                            period in 1usize..30, seed in 0u64..1000) {
            let x = tensor_from::<f64>(&[b, n, d], seed, -1.0, 1.0);
            let w = tensor_from::<f64>(&[d, m, 2], seed + 1, -1.0, 1.0);
            let got = causal_conv(&x, &w, period).unwrap();
            for (g, e) in got.data().iter().zip(naive(&x, &w, period)) {
                prop_assert!((g - e).abs() < 1e-12, "{g} vs {e}");
            }
        }

        #[test]
        fn gradients_match_finite_differences(b in 1usize..3, n in 1usize..12, d in 1usize..3, m in 1usize..6,
                                              period in 1usize..16, seed in 0u64..1000) {
            let x = tensor_from::<f64>(&[b, n, d], seed, -1.0, 1.0);
            let w = tensor_from::<f64>(&[d, m, 2], seed + 1, -1.0, 1.0);
            assert_gradients(&[x, w], |v| causal_conv(&v[0], &v[1], period));
        }

        #[test]
        fn adjoint_in_f32(b in 1usize..3, n in 1usize..40, d in 1usize..20, m in 1usize..12, period in 1usize..50,
                          seed in 0u64..1000) {
            let x = tensor_from::<f32>(&[b, n, d], seed, -1.0, 1.0);
            let w = tensor_from::<f32>(&[d, m, 2], seed + 1, -1.0, 1.0);
            prop_assert!(adjoint_error(&x, |v| causal_conv(v, &w, period)).unwrap() < 1e-5);
            prop_assert!(adjoint_error(&w, |v| causal_conv(&x, v, period)).unwrap() < 1e-5);
        }

        #[test]
        fn future_inputs_never_change_past_outputs(n in 2usize..64, t in 0usize..63, d in 1usize..20, m in 1usize..16,
                                                   seed in 0u64..1000) {
            let t = t % (n - 1);
            prop_assert!(causality_error::<f32>(n, t, d, m, seed) <= 1e-6);
            prop_assert!(causality_error::<f64>(n, t, d, m, seed) <= 1e-12);
        }
    }

    /// Max change of outputs ≤ t when every input after t is redrawn, relative to the largest
    /// output magnitude.
    fn causality_error<T: FftFloat>(n: usize, t: usize, d: usize, m: usize, seed: u64) -> f64 {
        let x = tensor_from::<T>(&[2, n, d], seed, -1.0, 1.0);
        let w = tensor_from::<T>(&[d, m, 2], seed + 1, -3.0, 3.0);
        let other = tensor_from::<T>(&[2, n, d], seed + 2, -1.0, 1.0);
        let mut v = x.to_vec();
        for b in 0..2 {
            let r = (b * n + t + 1) * d..(b + 1) * n * d;
            v[r.clone()].copy_from_slice(&other.data()[r]);
        }
        let x2 = Tensor::from_vec(v, &[2, n, d]).unwrap();
        let (y1, y2) = (causal_conv(&x, &w, 64).unwrap(), causal_conv(&x2, &w, 64).unwrap());
        let scale = y1.data().iter().chain(y2.data()).fold(0f64, |s, v| s.max(v.as_f64().abs()));
        let mut diff = 0f64;
        for b in 0..2 {
            for i in b * n * d..(b * n + t + 1) * d {
                diff = diff.max((y1.data()[i].as_f64() - y2.data()[i].as_f64()).abs());
            }
        }
        diff / scale
    }

    #[test]
    fn a_prefix_gives_the_same_outputs() {
        let x = tensor_from::<f64>(&[1, 20, 3], 4, -1.0, 1.0);
        let w = tensor_from::<f64>(&[3, 5, 2], 5, -1.0, 1.0);
        let full = causal_conv(&x, &w, 32).unwrap();
        let prefix = causal_conv(&x.narrow(1, 0, 7).unwrap(), &w, 32).unwrap();
        for (a, b) in prefix.data().iter().zip(full.data()) {
            assert!((a - b).abs() < 1e-13);
        }
    }

    #[test]
    fn fast_lengths() {
        assert_eq!(fast_len(7), 8);
        assert_eq!(fast_len(33), 36);
        assert_eq!(fast_len(1023), 1024);
        assert_eq!(fast_len(1), 1);
    }
}
