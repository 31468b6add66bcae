//! Complex-to-complex FFT and inverse FFT along one axis.

use num_complex::Complex;
use spectrans_tensor::{Float, Tensor};

use crate::common::{complex_shape, record_linear, resolve_axis, resolve_len};
use crate::error::Result;
use crate::lanes::{as_complex, complex_into_interleaved, map_lanes, split_at_axis};
use crate::norm::Norm;
use crate::plan::{self, FftFloat, Kernel};

/// Complex lanes of length `len_in`, zero-padded/truncated to `n`, transformed (forward or
/// inverse, unnormalised), scaled, then padded/truncated to `len_out`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct C2c {
    pub(crate) outer: usize,
    pub(crate) inner: usize,
    pub(crate) len_in: usize,
    pub(crate) n: usize,
    pub(crate) len_out: usize,
    pub(crate) inverse: bool,
    pub(crate) scale: f64,
}

impl C2c {
    /// The adjoint map: the opposite direction, the same scale, the lengths swapped.
    fn adjoint(self) -> C2c {
        C2c { len_in: self.len_out, len_out: self.len_in, inverse: !self.inverse, ..self }
    }
}

impl Kernel for C2c {
    fn run<F: FftFloat>(&self, src: &[F]) -> Vec<F> {
        let C2c { outer, inner, len_in, n, len_out, inverse, scale } = *self;
        let fft = if inverse { plan::ifft::<F>(n) } else { plan::fft::<F>(n) };
        let scale = F::of(scale);
        let zero = Complex::new(F::zero(), F::zero());
        let keep_in = len_in.min(n);
        let keep_out = len_out.min(n);
        let out = map_lanes(
            as_complex(src),
            outer,
            inner,
            len_in,
            len_out,
            || {
                let padded = if len_in == n { Vec::new() } else { vec![zero; n] };
                (padded, vec![zero; fft.get_inplace_scratch_len()])
            },
            |(padded, scratch), lane, out| {
                let buf: &mut [Complex<F>] = if len_in == n {
                    lane
                } else {
                    padded[..keep_in].copy_from_slice(&lane[..keep_in]);
                    padded[keep_in..].fill(zero);
                    padded
                };
                fft.process_with_scratch(buf, scratch);
                for (o, &v) in out[..keep_out].iter_mut().zip(buf.iter()) {
                    *o = v * scale;
                }
                out[keep_out..].fill(zero);
            },
        );
        complex_into_interleaved(out)
    }
}

fn c2c<T: Float>(
    op: &'static str,
    x: &Tensor<T>,
    axis: isize,
    n: Option<usize>,
    norm: Norm,
    inverse: bool,
) -> Result<Tensor<T>> {
    let cshape = complex_shape(op, x.shape())?;
    let ax = resolve_axis(op, axis, &cshape, x.shape())?;
    let (outer, len, inner) = split_at_axis(&cshape, ax);
    let n = resolve_len(op, axis, n, len as isize, x.shape())?;
    let scale = if inverse { norm.inverse_scale(n) } else { norm.forward_scale(n) };
    let kernel = C2c { outer, inner, len_in: len, n, len_out: n, inverse, scale };
    let data = plan::run_kernel(op, &kernel, x.data())?;
    let mut shape = x.shape().to_vec();
    shape[ax] = n;
    let value = Tensor::from_vec(data, &shape)?;
    record_linear(op, x, value, || kernel.adjoint())
}

/// The discrete Fourier transform of a complex tensor along `axis`, as `torch.fft.fft`:
/// X_k = s · Σ_j x_j e^{−2πi jk/n}, with s from `norm` ([`Norm::forward_scale`]).
///
/// `n` zero-pads or truncates the input along `axis` before the transform (default: its
/// length). Any length works (odd, prime, 1). Differentiable: the input gradient is
/// s · Σ_k g_k e^{+2πi jk/n}, truncated/padded back to the input length.
///
/// # Shapes
/// `x`: (…, L, …, 2), complex (re, im) pairs in the last axis; `axis` counts axes of the complex
/// shape (…, L, …). Result: (…, n, …, 2).
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::{fft, Norm};
/// // the impulse δ₀ has a flat spectrum
/// let x = Tensor::<f64>::from_vec(vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0], &[3, 2])?;
/// let y = fft(&x, -1, None, Norm::Backward)?;
/// assert_eq!(y.shape(), &[3, 2]);
/// assert_eq!(y.to_vec(), vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn fft<T: Float>(x: &Tensor<T>, axis: isize, n: Option<usize>, norm: Norm) -> Result<Tensor<T>> {
    c2c("fft", x, axis, n, norm, false)
}

/// The inverse discrete Fourier transform of a complex tensor along `axis`, as
/// `torch.fft.ifft`: x_j = s · Σ_k X_k e^{+2πi jk/n}, with s from `norm`
/// ([`Norm::inverse_scale`]: 1/n by default).
///
/// `n` zero-pads or truncates the input along `axis` first. Differentiable (input gradient
/// s · Σ_j g_j e^{−2πi jk/n}, truncated/padded back).
///
/// # Shapes
/// `x`: (…, L, …, 2) complex; result (…, n, …, 2).
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::{fft, ifft, Norm};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, -3.0, 0.5, 0.25, 4.0], &[3, 2])?;
/// let back = ifft(&fft(&x, 0, None, Norm::Ortho)?, 0, None, Norm::Ortho)?;
/// for (a, b) in back.data().iter().zip(x.data()) {
///     assert!((a - b).abs() < 1e-12);
/// }
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn ifft<T: Float>(x: &Tensor<T>, axis: isize, n: Option<usize>, norm: Norm) -> Result<Tensor<T>> {
    c2c("ifft", x, axis, n, norm, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::TransformError;
    use proptest::prelude::*;
    use spectrans_tensor::gradcheck::{adjoint_error, assert_gradients};
    use spectrans_tensor::TensorError;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn matches_naive_dft(len in 1usize..300, extra in 0usize..3, pad in -3isize..4, inverse in any::<bool>(),
                             norm in norms(), axis_first in any::<bool>(), seed in 0u64..1000) {
            let n = (len as isize + pad).max(1) as usize;
            let shape: Vec<usize> = if axis_first { vec![len, extra + 1, 2] } else { vec![extra + 1, len, 2] };
            let axis = if axis_first { 0 } else { -1 };
            let x = rand_tensor(&shape, seed);
            let f = if inverse { ifft::<f64> } else { fft::<f64> };
            let y = f(&x, axis, Some(n), norm).unwrap();
            let scale = if inverse { norm.inverse_scale(n) } else { norm.forward_scale(n) };
            let ax = if axis_first { 0 } else { 1 };
            let want = naive_along(&x, ax, |lane| naive_dft(&pad_to(lane, n), inverse, scale));
            assert_close(y.data(), want.data(), 1e-9 * (n as f64).sqrt().max(1.0));
            prop_assert_eq!(y.shape(), want.shape());
        }

        #[test]
        fn round_trip_linearity_parseval_shift(shape in complex_shape_strategy(3), norm in norms(), shift in 0usize..7, seed in 0u64..1000) {
            let x = rand_tensor(&shape, seed);
            let axis = (seed % (shape.len() as u64 - 1)) as isize;
            let n = shape[axis as usize];
            let y = fft(&x, axis, None, norm).unwrap();
            // round trip
            assert_close(ifft(&y, axis, None, norm).unwrap().data(), x.data(), 1e-12);
            // Parseval: Σ|x|² = n·s² Σ|X|² (s the forward scale)
            let s = norm.forward_scale(n);
            let ex: f64 = x.data().iter().map(|v| v * v).sum();
            let ey: f64 = y.data().iter().map(|v| v * v).sum();
            prop_assert!((ex - ey / (n as f64 * s * s)).abs() <= 1e-10 * ex.max(1.0));
            // linearity
            let z = rand_tensor(&shape, seed + 7);
            let lhs = fft(&x.mul_scalar(2.5).unwrap().add(&z.mul_scalar(-0.75).unwrap()).unwrap(), axis, None, norm).unwrap();
            let rhs = y.mul_scalar(2.5).unwrap().add(&fft(&z, axis, None, norm).unwrap().mul_scalar(-0.75).unwrap()).unwrap();
            assert_close(lhs.data(), rhs.data(), 1e-12);
            // shift theorem: fft(roll(x, s))_k = e^{−2πi ks/n} fft(x)_k
            let rolled = naive_along(&x, axis as usize, |lane| (0..lane.len()).map(|j| lane[(j + lane.len() - shift % n) % n]).collect());
            let yr = fft(&rolled, axis, None, norm).unwrap();
            let want = naive_along(&y, axis as usize, |lane| lane.iter().enumerate()
                .map(|(k, v)| v * Complex::from_polar(1.0, -2.0 * std::f64::consts::PI * (k * shift) as f64 / n as f64)).collect());
            assert_close(yr.data(), want.data(), 1e-11);
        }

        #[test]
        fn adjoint_identity(shape in complex_shape_strategy(3), norm in norms(), n in 1usize..9, inverse in any::<bool>(), seed in 0u64..1000) {
            let axis = (seed % (shape.len() as u64 - 1)) as isize;
            let f = if inverse { ifft::<f64> } else { fft::<f64> };
            let x = rand_tensor(&shape, seed);
            prop_assert!(adjoint_error(&x, |v| f(v, axis, Some(n), norm).map_err(Into::into)).unwrap() < 1e-12);
            let f = if inverse { ifft::<f32> } else { fft::<f32> };
            let x32 = x.cast::<f32>();
            prop_assert!(adjoint_error(&x32, |v| f(v, axis, Some(n), norm).map_err(Into::into)).unwrap() < 1e-5);
        }

        #[test]
        fn finite_difference_gradients(shape in complex_shape_strategy(2), norm in norms(), n in 1usize..7, seed in 0u64..1000) {
            let x = rand_tensor(&shape, seed);
            assert_gradients(std::slice::from_ref(&x), |v| fft(&v[0], 0, Some(n), norm).map_err(Into::into));
            assert_gradients(&[x], |v| ifft(&v[0], -1, Some(n), norm).map_err(Into::into));
        }
    }

    #[test]
    fn large_middle_axis_uses_tiles_and_matches_naive() {
        // (B, N, D) with D > TILE and enough work to run in parallel groups
        let x = rand_tensor(&[4, 31, 67, 2], 5);
        assert!(2 * x.numel() >= crate::lanes::PAR_MIN_ELEMENTS, "input + output must reach the parallel path");
        let y = fft(&x, 1, None, Norm::Ortho).unwrap();
        let want = naive_along(&x, 1, |lane| naive_dft(lane, false, Norm::Ortho.forward_scale(31)));
        assert_close(y.data(), want.data(), 1e-10);
        let y32 = fft(&x.cast::<f32>(), 1, None, Norm::Ortho).unwrap();
        assert_close(&y32.cast::<f64>().to_vec(), want.data(), 1e-4);
    }

    #[test]
    fn errors_name_the_op_axis_and_shape() {
        let x = Tensor::<f32>::zeros(&[4, 3]);
        let e = fft(&x, 0, None, Norm::Backward).unwrap_err();
        assert_eq!(e, TransformError::NotComplex { op: "fft", shape: vec![4, 3] });
        assert!(e.to_string().contains("last axis of size 2"), "{e}");
        assert!(matches!(
            fft(&Tensor::<f32>::zeros(&[2]), 0, None, Norm::Backward),
            Err(TransformError::NotComplex { .. })
        ));
        let x = Tensor::<f32>::zeros(&[4, 2]);
        let e = ifft(&x, 1, None, Norm::Backward).unwrap_err();
        assert!(
            matches!(e, TransformError::Tensor(TensorError::BadAxis { op: "ifft", axis: 1, rank: 1, .. })),
            "{e:?}"
        );
        assert!(e.to_string().contains("[4, 2]"), "{e}");
        let e = fft(&x, 0, Some(0), Norm::Backward).unwrap_err();
        assert!(matches!(e, TransformError::BadLength { op: "fft", n: 0, .. }));
        assert!(e.to_string().contains("n must be at least 1"), "{e}");
        let e = fft(&Tensor::<f64>::zeros(&[0, 2]), 0, None, Norm::Backward).unwrap_err();
        assert!(matches!(e, TransformError::BadLength { op: "fft", .. }));
        // an empty axis with an explicit n is zero-padded, as torch
        let y = fft(&Tensor::<f64>::zeros(&[0, 2]), 0, Some(3), Norm::Backward).unwrap();
        assert_eq!(y.to_vec(), vec![0.0; 6]);
    }
}
