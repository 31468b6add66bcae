//! Real-input FFT (`rfft`) and its inverse (`irfft`) along one axis.

use num_complex::Complex;
use spectrans_tensor::{Float, Tensor};

use crate::columns::{self, Geometry, Spectrum};
use crate::common::{complex_shape, record_linear, resolve_axis, resolve_len};
use crate::error::Result;
use crate::lanes::{as_complex, complex_into_interleaved, map_lanes, split_at_axis};
use crate::norm::Norm;
use crate::plan::{self, FftFloat, Kernel};

/// Whether bin `k` of a length-`n` real spectrum is its own mirror image (DC, or Nyquist for
/// even `n`): such bins are real for a real signal and count once in the inverse.
#[inline]
fn is_edge_bin(k: usize, n: usize) -> bool {
    k == 0 || (n.is_multiple_of(2) && k == n / 2)
}

/// The lanes of a real transform of length `n` along an axis: the source (outer, len_in, inner),
/// the output (outer, len_out, inner), either side complex, and the scaling (see [`R2c`], [`C2r`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RealLanes {
    pub(crate) outer: usize,
    pub(crate) inner: usize,
    pub(crate) len_in: usize,
    pub(crate) n: usize,
    pub(crate) len_out: usize,
    pub(crate) scale: f64,
    pub(crate) interior: f64,
}

impl RealLanes {
    /// The same lanes for the lane-vectorised path, interleaved complex side.
    fn geometry<F: FftFloat>(&self) -> Geometry<F> {
        let RealLanes { outer, inner, len_in, len_out, .. } = *self;
        let (scale, interior) = (F::of(self.scale), F::of(self.interior));
        Geometry { outer, inner, len_in, len_out, scale, interior, spectrum: Spectrum::Interleaved }
    }
}

/// Real lanes of length `len_in`, padded/truncated to `n`, real-to-complex transformed, scaled
/// by `scale` (edge bins) or `scale · interior` (other bins), imaginary parts of edge bins set to
/// exactly 0, padded/truncated to `len_out` bins.
#[derive(Clone, Copy, Debug)]
pub(crate) struct R2c(pub(crate) RealLanes);

/// Complex lanes of `len_in` bins, padded/truncated to the n/2+1 bins of a length-`n` signal,
/// imaginary parts of edge bins dropped, interior bins multiplied by `interior`, inverse
/// transformed to `n` real samples, scaled, padded/truncated to `len_out`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct C2r(pub(crate) RealLanes);

impl Kernel for R2c {
    fn run<F: FftFloat>(&self, src: &[F]) -> Vec<F> {
        let RealLanes { outer, inner, len_in, n, len_out, scale, interior } = self.0;
        if let Some(out) = columns::try_r2c(n, src, self.0.geometry()) {
            return out;
        }
        let fft = plan::real_fft::<F>(n);
        let bins = n / 2 + 1;
        let zero = Complex::new(F::zero(), F::zero());
        let (edge, mid) = (F::of(scale), F::of(scale * interior));
        let keep_in = len_in.min(n);
        let keep_out = len_out.min(bins);
        let out = map_lanes(
            src,
            outer,
            inner,
            len_in,
            len_out,
            || {
                let padded = if len_in == n { Vec::new() } else { vec![F::zero(); n] };
                (padded, vec![zero; bins], vec![zero; fft.get_scratch_len()])
            },
            |(padded, spectrum, scratch), lane, out| {
                let signal: &mut [F] = if len_in == n {
                    lane
                } else {
                    padded[..keep_in].copy_from_slice(&lane[..keep_in]);
                    padded[keep_in..].fill(F::zero());
                    padded
                };
                if len_out == bins {
                    // straight into the output lane, then edge fix-up and scaling in place
                    let done = fft.process_with_scratch(signal, out, scratch);
                    debug_assert!(done.is_ok(), "buffer lengths are set up for this plan");
                    out[0] = Complex::new(out[0].re * edge, F::zero());
                    let interior_end = if n % 2 == 0 {
                        out[bins - 1] = Complex::new(out[bins - 1].re * edge, F::zero());
                        bins - 1
                    } else {
                        bins
                    };
                    if mid != F::one() {
                        out[1..interior_end].iter_mut().for_each(|v| *v = *v * mid);
                    }
                    return;
                }
                let done = fft.process_with_scratch(signal, spectrum, scratch);
                debug_assert!(done.is_ok(), "buffer lengths are set up for this plan");
                for (k, (o, &v)) in out[..keep_out].iter_mut().zip(spectrum.iter()).enumerate() {
                    *o = if is_edge_bin(k, n) { Complex::new(v.re * edge, F::zero()) } else { v * mid };
                }
                out[keep_out..].fill(zero);
            },
        );
        complex_into_interleaved(out)
    }
}

impl Kernel for C2r {
    fn run<F: FftFloat>(&self, src: &[F]) -> Vec<F> {
        let RealLanes { outer, inner, len_in, n, len_out, scale, interior } = self.0;
        if let Some(out) = columns::try_c2r(n, src, self.0.geometry()) {
            return out;
        }
        let fft = plan::real_ifft::<F>(n);
        let bins = n / 2 + 1;
        let zero = Complex::new(F::zero(), F::zero());
        let (scale, interior) = (F::of(scale), F::of(interior));
        let keep_in = len_in.min(bins);
        let keep_out = len_out.min(n);
        map_lanes(
            as_complex(src),
            outer,
            inner,
            len_in,
            len_out,
            || {
                let spectrum = if len_in == bins { Vec::new() } else { vec![zero; bins] };
                let signal = if len_out == n { Vec::new() } else { vec![F::zero(); n] };
                (spectrum, signal, vec![zero; fft.get_scratch_len()])
            },
            |(padded, signal, scratch), lane, out| {
                let spectrum: &mut [Complex<F>] = if len_in == bins {
                    lane
                } else {
                    padded[..keep_in].copy_from_slice(&lane[..keep_in]);
                    padded[keep_in..].fill(zero);
                    padded
                };
                // realfft rejects non-zero Im(DC) / Im(Nyquist); they do not contribute anyway.
                spectrum[0].im = F::zero();
                if n % 2 == 0 {
                    spectrum[bins - 1].im = F::zero();
                }
                if interior != F::one() {
                    let last = if n % 2 == 0 { bins - 1 } else { bins };
                    for v in &mut spectrum[1..last] {
                        *v = *v * interior;
                    }
                }
                if len_out == n {
                    let done = fft.process_with_scratch(spectrum, out, scratch);
                    debug_assert!(done.is_ok(), "buffer lengths and edge bins are set up for this plan");
                    if scale != F::one() {
                        out.iter_mut().for_each(|v| *v *= scale);
                    }
                } else {
                    let done = fft.process_with_scratch(spectrum, signal, scratch);
                    debug_assert!(done.is_ok(), "buffer lengths and edge bins are set up for this plan");
                    for (o, &v) in out[..keep_out].iter_mut().zip(signal.iter()) {
                        *o = v * scale;
                    }
                    out[keep_out..].fill(F::zero());
                }
            },
        )
    }
}

/// The FFT of a real tensor along `axis`, keeping the n/2+1 non-negative frequencies, as
/// `torch.fft.rfft`: X_k = s · Σ_j x_j e^{−2πi jk/n}, k = 0..n/2, s = [`Norm::forward_scale`].
///
/// `n` zero-pads or truncates the input along `axis` first (default: its length). Differentiable;
/// the input gradient is the real adjoint s · Σ_{k ≤ n/2} Re(g_k e^{2πi jk/n}), computed as
/// s · irfft_unnormalised(w ⊙ g) with w = 1 on DC/Nyquist and ½ elsewhere (so Im g of the DC and
/// Nyquist bins, which no input can move, contributes nothing), then truncated/padded back.
///
/// # Shapes
/// `x`: real (…, L, …). Result: complex (…, n/2+1, …, 2).
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::{rfft, Norm};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 1.0, 1.0, 1.0], &[4])?;
/// let y = rfft(&x, 0, None, Norm::Backward)?;
/// assert_eq!(y.shape(), &[3, 2]);
/// assert_eq!(y.to_vec(), vec![4.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn rfft<T: Float>(x: &Tensor<T>, axis: isize, n: Option<usize>, norm: Norm) -> Result<Tensor<T>> {
    const OP: &str = "rfft";
    let ax = resolve_axis(OP, axis, x.shape(), x.shape())?;
    let (outer, len, inner) = split_at_axis(x.shape(), ax);
    let n = resolve_len(OP, axis, n, len as isize, x.shape())?;
    let bins = n / 2 + 1;
    let scale = norm.forward_scale(n);
    let kernel = R2c(RealLanes { outer, inner, len_in: len, n, len_out: bins, scale, interior: 1.0 });
    let data = plan::run_kernel(OP, &kernel, x.data())?;
    let mut shape = x.shape().to_vec();
    shape[ax] = bins;
    shape.push(2);
    let value = Tensor::from_vec(data, &shape)?;
    record_linear(OP, x, value, || C2r(RealLanes { outer, inner, len_in: bins, n, len_out: len, scale, interior: 0.5 }))
}

/// The inverse of [`rfft`]: the real signal of length `n` whose non-negative-frequency spectrum
/// is `x`, along `axis`, as `torch.fft.irfft`:
/// y_j = s · (Re X_0 + 2 Σ_{0<k<n/2} Re(X_k e^{2πi jk/n}) + [n even] Re X_{n/2} (−1)^j),
/// s = [`Norm::inverse_scale`].
///
/// `n` defaults to 2(m−1) for m input bins. Input bins beyond n/2+1 are dropped, missing ones are
/// zero. Im(X_0) and, for even n, Im(X_{n/2}) are ignored, and their gradient is exactly 0. The
/// gradient of the other bins is s · c_k · rfft(g)_k with c_0 = c_{n/2} = 1, c_k = 2 otherwise.
///
/// # Shapes
/// `x`: complex (…, m, …, 2). Result: real (…, n, …).
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::{irfft, Norm};
/// // DC bin 4 (its imaginary part 9 is ignored): a constant signal of 1s
/// let x = Tensor::<f64>::from_vec(vec![4.0, 9.0, 0.0, 0.0, 0.0, 0.0], &[3, 2])?;
/// let y = irfft(&x, 0, None, Norm::Backward)?;
/// assert_eq!(y.to_vec(), vec![1.0, 1.0, 1.0, 1.0]);
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn irfft<T: Float>(x: &Tensor<T>, axis: isize, n: Option<usize>, norm: Norm) -> Result<Tensor<T>> {
    const OP: &str = "irfft";
    let cshape = complex_shape(OP, x.shape())?;
    let ax = resolve_axis(OP, axis, &cshape, x.shape())?;
    let (outer, bins_in, inner) = split_at_axis(&cshape, ax);
    let n = resolve_len(OP, axis, n, 2 * (bins_in as isize - 1), x.shape())?;
    let scale = norm.inverse_scale(n);
    let kernel = C2r(RealLanes { outer, inner, len_in: bins_in, n, len_out: n, scale, interior: 1.0 });
    let data = plan::run_kernel(OP, &kernel, x.data())?;
    let mut shape = cshape;
    shape[ax] = n;
    let value = Tensor::from_vec(data, &shape)?;
    record_linear(OP, x, value, || {
        R2c(RealLanes { outer, inner, len_in: n, n, len_out: bins_in, scale, interior: 2.0 })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fft::fft;
    use crate::testutil::*;
    use crate::TransformError;
    use proptest::prelude::*;
    use spectrans_tensor::gradcheck::{adjoint_error, assert_gradients};
    use spectrans_tensor::{Parameter, Tape};

    /// Naive irfft by the definition (Hermitian extension; Im of DC/Nyquist ignored).
    fn naive_irfft(x: &[C64], n: usize, scale: f64) -> Vec<f64> {
        let bins = pad_to(x, n / 2 + 1);
        (0..n)
            .map(|j| {
                let s: f64 = bins
                    .iter()
                    .enumerate()
                    .map(|(k, v)| {
                        let w = Complex::from_polar(1.0, 2.0 * std::f64::consts::PI * ((j * k) % n) as f64 / n as f64);
                        let c = if is_edge_bin(k, n) { 1.0 } else { 2.0 };
                        let v = if is_edge_bin(k, n) { Complex::new(v.re, 0.0) } else { *v };
                        c * (v * w).re
                    })
                    .sum();
                s * scale
            })
            .collect()
    }

    fn to_c(x: &[f64]) -> Vec<C64> {
        x.iter().map(|&v| Complex::new(v, 0.0)).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn matches_naive(len in 1usize..300, extra in 1usize..3, pad in -3isize..4, norm in norms(), axis_first in any::<bool>(), seed in 0u64..1000) {
            let n = (len as isize + pad).max(1) as usize;
            let (shape, axis, ax) = if axis_first { (vec![len, extra], 0, 0) } else { (vec![extra, len], -1, 1) };
            let x = rand_tensor(&shape, seed);
            let y = rfft(&x, axis, Some(n), norm).unwrap();
            let want = naive_real_to_complex(&x, ax, |lane| {
                naive_dft(&to_c(&pad_to(lane, n)), false, norm.forward_scale(n))[..n / 2 + 1].to_vec()
            });
            prop_assert_eq!(y.shape(), want.shape());
            assert_close(y.data(), want.data(), 1e-9 * (n as f64).sqrt());
            // irfft of arbitrary bins (non-zero Im at DC/Nyquist, more or fewer bins than n/2+1)
            let bins = len / 2 + 1;
            let mut cs = shape.clone();
            cs[ax] = bins;
            cs.push(2);
            let spec = rand_tensor(&cs, seed + 3);
            let z = irfft(&spec, axis, Some(n), norm).unwrap();
            let want = naive_complex_to_real(&spec, ax, |lane| naive_irfft(lane, n, norm.inverse_scale(n)));
            prop_assert_eq!(z.shape(), want.shape());
            assert_close(z.data(), want.data(), 1e-9 * (n as f64).sqrt());
        }

        #[test]
        fn round_trip_hermitian_parseval_convolution(len in 1usize..40, extra in 1usize..4, norm in norms(), seed in 0u64..1000) {
            let x = rand_tensor(&[extra, len], seed);
            let y = rfft(&x, 1, None, norm).unwrap();
            // round trip
            assert_close(irfft(&y, 1, Some(len), norm).unwrap().data(), x.data(), 1e-12);
            // Hermitian symmetry: the full FFT satisfies X_{n−k} = conj(X_k), and rfft is its first half
            let full = fft(&crate::complex::complex_from_parts(&x, &Tensor::zeros(x.shape())).unwrap(), 1, None, norm).unwrap();
            let f = full.data();
            for b in 0..extra {
                for k in 0..len {
                    let (i, m) = ((b * len + k) * 2, (b * len + (len - k) % len) * 2);
                    prop_assert!((f[i] - f[m]).abs() < 1e-12 && (f[i + 1] + f[m + 1]).abs() < 1e-12);
                    if k <= len / 2 {
                        let r = (b * (len / 2 + 1) + k) * 2;
                        prop_assert!((y.data()[r] - f[i]).abs() < 1e-12 && (y.data()[r + 1] - f[i + 1]).abs() < 1e-12);
                    }
                }
            }
            // Parseval on the half spectrum: Σ x² = (Σ_k c_k |X_k|²) / (n s²)
            let s = norm.forward_scale(len);
            let ex: f64 = x.data().iter().map(|v| v * v).sum();
            let ey: f64 = y.data().chunks(2).enumerate()
                .map(|(i, c)| (if is_edge_bin(i % (len / 2 + 1), len) { 1.0 } else { 2.0 }) * (c[0] * c[0] + c[1] * c[1])).sum();
            prop_assert!((ex - ey / (len as f64 * s * s)).abs() < 1e-10 * ex.max(1.0));
            // convolution theorem: irfft(rfft(a) ⊙ rfft(b)) = a ⊛ b (circular), with norm=backward
            let a = rand_tensor(&[len], seed + 1);
            let b = rand_tensor(&[len], seed + 2);
            let prod = crate::complex::complex_mul(&rfft(&a, 0, None, Norm::Backward).unwrap(), &rfft(&b, 0, None, Norm::Backward).unwrap()).unwrap();
            let conv = irfft(&prod, 0, Some(len), Norm::Backward).unwrap();
            let want: Vec<f64> = (0..len).map(|t| (0..len).map(|j| a.data()[j] * b.data()[(t + len - j) % len]).sum()).collect();
            assert_close(conv.data(), &want, 1e-12);
        }

        #[test]
        fn adjoint_identity(shape in real_shape_strategy(3), norm in norms(), n in 1usize..10, seed in 0u64..1000) {
            let axis = (seed % shape.len() as u64) as isize;
            let x = rand_tensor(&shape, seed);
            prop_assert!(adjoint_error(&x, |v| rfft(v, axis, Some(n), norm).map_err(Into::into)).unwrap() < 1e-12);
            prop_assert!(adjoint_error(&x.cast::<f32>(), |v| rfft(v, axis, Some(n), norm).map_err(Into::into)).unwrap() < 1e-5);
            let mut cs = shape.clone();
            cs.push(2);
            let z = rand_tensor(&cs, seed + 1);
            prop_assert!(adjoint_error(&z, |v| irfft(v, axis, Some(n), norm).map_err(Into::into)).unwrap() < 1e-12);
            prop_assert!(adjoint_error(&z.cast::<f32>(), |v| irfft(v, axis, Some(n), norm).map_err(Into::into)).unwrap() < 1e-5);
        }

        #[test]
        fn finite_difference_gradients(shape in real_shape_strategy(2), norm in norms(), n in 1usize..8, seed in 0u64..1000) {
            let x = rand_tensor(&shape, seed);
            assert_gradients(&[x], |v| rfft(&v[0], -1, Some(n), norm).map_err(Into::into));
            let mut cs = shape.clone();
            cs.push(2);
            let z = rand_tensor(&cs, seed + 1);
            assert_gradients(&[z], |v| irfft(&v[0], 0, Some(n), norm).map_err(Into::into));
        }
    }

    #[test]
    fn dc_and_nyquist_imaginary_parts_get_exactly_zero_gradient() {
        for (bins, n) in [(5usize, 8usize), (5, 9), (4, 6), (3, 8), (6, 8)] {
            let spec = Parameter::new(rand_tensor(&[2, bins, 2], 11));
            let tape = Tape::new();
            let y = irfft(&tape.watch(&spec), 1, Some(n), Norm::Backward).unwrap();
            y.backward_with(&rand_tensor(y.shape(), 4)).unwrap();
            let g = spec.grad().unwrap();
            spectrans_tensor::gradcheck::check_dead_imaginary_gradients(g.data(), n, bins)
                .unwrap_or_else(|e| panic!("bins {bins} n {n}: {e}"));
            for b in 0..2 {
                for k in (n / 2 + 1)..bins {
                    assert_eq!(&g.data()[(b * bins + k) * 2..][..2], &[0.0, 0.0], "dropped bin {k} gradient");
                }
            }
            // and the ignored parts do not change the output
            let mut moved = spec.value().to_vec();
            moved[1] += 3.0;
            let y2 = irfft(&Tensor::from_vec(moved, &[2, bins, 2]).unwrap(), 1, Some(n), Norm::Backward).unwrap();
            assert_eq!(y2.to_vec(), y.to_vec());
        }
    }

    #[test]
    fn fno_layout_middle_axis_matches_last_axis() {
        // (B, N, D) along N equals the transposed (B, D, N) along the last axis
        let (b, n, d) = (2usize, 24usize, 40usize);
        let x = rand_tensor(&[b, n, d], 9);
        let xt: Vec<f64> = (0..b * d * n)
            .map(|i| {
                let (bb, dd, nn) = (i / (d * n), (i / n) % d, i % n);
                x.data()[(bb * n + nn) * d + dd]
            })
            .collect();
        let xt = Tensor::from_vec(xt, &[b, d, n]).unwrap();
        let y = rfft(&x.cast::<f32>(), 1, None, Norm::Backward).unwrap().cast::<f64>();
        let yt = rfft(&xt, -1, None, Norm::Backward).unwrap();
        let bins = n / 2 + 1;
        for bb in 0..b {
            for k in 0..bins {
                for dd in 0..d {
                    for c in 0..2 {
                        let u = y.data()[((bb * bins + k) * d + dd) * 2 + c];
                        let v = yt.data()[((bb * d + dd) * bins + k) * 2 + c];
                        assert!((u - v).abs() < 1e-4, "{u} vs {v}");
                    }
                }
            }
        }
        let back = irfft(&y.cast::<f32>(), 1, Some(n), Norm::Backward).unwrap().cast::<f64>();
        assert_close(back.data(), x.data(), 1e-5);
    }

    #[test]
    fn errors() {
        let x = Tensor::<f32>::zeros(&[3, 4]);
        let e = rfft(&x, 2, None, Norm::Backward).unwrap_err();
        assert!(e.to_string().starts_with("rfft: axis 2 is out of range for a tensor of rank 2"), "{e}");
        let e = rfft(&x, 1, Some(0), Norm::Backward).unwrap_err();
        assert_eq!(e.to_string(), "rfft: transform length n = 0 along axis 1 of shape [3, 4]: n must be at least 1");
        let e = irfft(&x, 0, None, Norm::Backward).unwrap_err();
        assert!(matches!(e, TransformError::NotComplex { op: "irfft", .. }));
        // one bin implies n = 0
        let e = irfft(&Tensor::<f32>::zeros(&[1, 2]), 0, None, Norm::Backward).unwrap_err();
        assert!(matches!(e, TransformError::BadLength { op: "irfft", n: 0, .. }), "{e:?}");
        let e = irfft(&Tensor::<f32>::zeros(&[0, 2]), 0, None, Norm::Backward).unwrap_err();
        assert!(matches!(e, TransformError::BadLength { op: "irfft", n: -2, .. }), "{e:?}");
        assert_eq!(irfft(&Tensor::<f32>::zeros(&[1, 2]), 0, Some(1), Norm::Backward).unwrap().shape(), &[1]);
    }
}
