//! 2-D transforms over two axes, composed from the 1-D ones (torch.fft's `fft2`, `ifft2`,
//! `rfft2`, `irfft2`). The per-axis norms multiply to the 2-D norm of torch (scale by the product
//! of the two lengths), and each 1-D step records its own adjoint, so gradients compose.

use spectrans_tensor::{Float, Tensor};

use crate::common::{complex_shape, resolve_axis, resolve_len};
use crate::error::{Result, TransformError};
use crate::fft::{fft, ifft};
use crate::norm::Norm;
use crate::rfft::{irfft, rfft};

/// Validates two distinct axes of `shape` and the lengths `s` (or the defaults).
fn check_axes(
    op: &'static str,
    axes: [isize; 2],
    s: Option<[usize; 2]>,
    default: [isize; 2],
    shape: &[usize],
    full: &[usize],
) -> Result<()> {
    let a0 = resolve_axis(op, axes[0], shape, full)?;
    let a1 = resolve_axis(op, axes[1], shape, full)?;
    if a0 == a1 {
        return Err(TransformError::Invalid {
            op,
            shape: full.to_vec(),
            reason: format!("axes {axes:?} name the same axis twice"),
        });
    }
    for i in 0..2 {
        resolve_len(op, axes[i], s.map(|s| s[i]), default[i], full)?;
    }
    Ok(())
}

fn complex_defaults(op: &'static str, x: &[usize], axes: [isize; 2]) -> Result<(Vec<usize>, [isize; 2])> {
    let cs = complex_shape(op, x)?;
    let d0 = resolve_axis(op, axes[0], &cs, x)?;
    let d1 = resolve_axis(op, axes[1], &cs, x)?;
    Ok((cs.clone(), [cs[d0] as isize, cs[d1] as isize]))
}

/// The 2-D FFT of a complex tensor over `axes`, as `torch.fft.fft2(x, s, dim=axes, norm)`.
///
/// `s` pads/truncates each of the two axes first (default: their lengths). Differentiable.
///
/// # Shapes
/// `x`: complex (…, 2) with `axes` counting the complex shape; result: the same with the two
/// axes of lengths `s`.
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::{fft2, Norm};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0], &[2, 2, 2])?;
/// let y = fft2(&x, [0, 1], None, Norm::Backward)?;
/// assert_eq!(y.to_vec(), vec![4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn fft2<T: Float>(x: &Tensor<T>, axes: [isize; 2], s: Option<[usize; 2]>, norm: Norm) -> Result<Tensor<T>> {
    let (cs, default) = complex_defaults("fft2", x.shape(), axes)?;
    check_axes("fft2", axes, s, default, &cs, x.shape())?;
    let y = fft(x, axes[1], s.map(|s| s[1]), norm)?;
    fft(&y, axes[0], s.map(|s| s[0]), norm)
}

/// The 2-D inverse FFT of a complex tensor over `axes`, as `torch.fft.ifft2`.
///
/// # Shapes
/// As [`fft2`].
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::{fft2, ifft2, Norm};
/// let x = Tensor::<f64>::from_vec((0..12).map(f64::from).collect(), &[2, 3, 2])?;
/// let back = ifft2(&fft2(&x, [0, 1], None, Norm::Forward)?, [0, 1], None, Norm::Forward)?;
/// assert!(back.data().iter().zip(x.data()).all(|(a, b)| (a - b).abs() < 1e-12));
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn ifft2<T: Float>(x: &Tensor<T>, axes: [isize; 2], s: Option<[usize; 2]>, norm: Norm) -> Result<Tensor<T>> {
    let (cs, default) = complex_defaults("ifft2", x.shape(), axes)?;
    check_axes("ifft2", axes, s, default, &cs, x.shape())?;
    let y = ifft(x, axes[1], s.map(|s| s[1]), norm)?;
    ifft(&y, axes[0], s.map(|s| s[0]), norm)
}

/// The 2-D FFT of a real tensor, keeping the non-negative frequencies of the last of the two
/// axes, as `torch.fft.rfft2`: [`rfft`] along `axes[1]`, then [`fft`] along `axes[0]`.
///
/// # Shapes
/// `x`: real (…); result: complex (…, 2) with `axes[0]` of length s₀ and `axes[1]` of s₁/2+1.
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::{rfft2, Norm};
/// let x = Tensor::<f32>::ones(&[3, 4]);
/// let y = rfft2(&x, [0, 1], None, Norm::Ortho)?;
/// assert_eq!(y.shape(), &[3, 3, 2]);
/// assert!((y.data()[0] - 12.0f32.sqrt()).abs() < 1e-5);
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn rfft2<T: Float>(x: &Tensor<T>, axes: [isize; 2], s: Option<[usize; 2]>, norm: Norm) -> Result<Tensor<T>> {
    let d0 = resolve_axis("rfft2", axes[0], x.shape(), x.shape())?;
    let d1 = resolve_axis("rfft2", axes[1], x.shape(), x.shape())?;
    let default = [x.shape()[d0] as isize, x.shape()[d1] as isize];
    check_axes("rfft2", axes, s, default, x.shape(), x.shape())?;
    let y = rfft(x, axes[1], s.map(|s| s[1]), norm)?;
    fft(&y, axes[0], s.map(|s| s[0]), norm)
}

/// The inverse of [`rfft2`], as `torch.fft.irfft2`: [`ifft`] along `axes[0]`, then [`irfft`]
/// along `axes[1]`. `s` defaults to (m₀, 2(m₁−1)) for input lengths (m₀, m₁).
///
/// # Shapes
/// `x`: complex (…, 2); result: real (…) with the two axes of lengths `s`.
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::{irfft2, rfft2, Norm};
/// let x = Tensor::<f64>::from_vec((0..15).map(f64::from).collect(), &[3, 5])?;
/// let back = irfft2(&rfft2(&x, [0, 1], None, Norm::Backward)?, [0, 1], Some([3, 5]), Norm::Backward)?;
/// assert!(back.data().iter().zip(x.data()).all(|(a, b)| (a - b).abs() < 1e-12));
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn irfft2<T: Float>(x: &Tensor<T>, axes: [isize; 2], s: Option<[usize; 2]>, norm: Norm) -> Result<Tensor<T>> {
    let (cs, default) = complex_defaults("irfft2", x.shape(), axes)?;
    check_axes("irfft2", axes, s, [default[0], 2 * (default[1] - 1)], &cs, x.shape())?;
    let y = ifft(x, axes[0], s.map(|s| s[0]), norm)?;
    irfft(&y, axes[1], s.map(|s| s[1]), norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use proptest::prelude::*;
    use spectrans_tensor::gradcheck::{adjoint_error, assert_gradients};

    /// Naive 2-D DFT over axes (0, 1) of a (H, W, 2) complex tensor.
    fn naive_2d(x: &Tensor<f64>, inverse: bool, scale: f64) -> Tensor<f64> {
        let y = naive_along(x, 1, |lane| naive_dft(lane, inverse, 1.0));
        naive_along(&y, 0, |lane| naive_dft(lane, inverse, scale))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        #[test]
        fn values_round_trips_and_adjoints(h in 1usize..9, w in 1usize..9, s0 in 1usize..9, s1 in 1usize..9, norm in norms(), seed in 0u64..1000) {
            let x = rand_tensor(&[h, w, 2], seed);
            let y = fft2(&x, [0, 1], None, norm).unwrap();
            let nn = h * w;
            assert_close(y.data(), naive_2d(&x, false, norm.forward_scale(nn)).data(), 1e-12);
            assert_close(ifft2(&x, [-2, -1], None, norm).unwrap().data(), naive_2d(&x, true, norm.inverse_scale(nn)).data(), 1e-12);
            assert_close(ifft2(&y, [0, 1], None, norm).unwrap().data(), x.data(), 1e-12);
            let r = rand_tensor(&[h, w], seed + 1);
            let ry = rfft2(&r, [0, 1], None, norm).unwrap();
            prop_assert_eq!(ry.shape(), &[h, w / 2 + 1, 2][..]);
            let full = fft2(&crate::complex::complex_from_parts(&r, &Tensor::zeros(&[h, w])).unwrap(), [0, 1], None, norm).unwrap();
            for i in 0..h { for k in 0..w / 2 + 1 { for c in 0..2 {
                prop_assert!((ry.data()[(i * (w / 2 + 1) + k) * 2 + c] - full.data()[(i * w + k) * 2 + c]).abs() < 1e-12);
            }}}
            assert_close(irfft2(&ry, [0, 1], Some([h, w]), norm).unwrap().data(), r.data(), 1e-12);
            let s = Some([s0, s1]);
            type Op<T> = fn(&Tensor<T>, [isize; 2], Option<[usize; 2]>, Norm) -> crate::Result<Tensor<T>>;
            let ops: [(Op<f64>, Op<f32>); 2] = [(fft2::<f64>, fft2::<f32>), (ifft2::<f64>, ifft2::<f32>)];
            for (f, f32_op) in ops {
                prop_assert!(adjoint_error(&x, |v| f(v, [0, 1], s, norm).map_err(Into::into)).unwrap() < 1e-12);
                prop_assert!(adjoint_error(&x.cast::<f32>(), |v| f32_op(v, [1, 0], s, norm).map_err(Into::into)).unwrap() < 1e-5);
            }
            prop_assert!(adjoint_error(&r, |v| rfft2(v, [0, 1], s, norm).map_err(Into::into)).unwrap() < 1e-12);
            prop_assert!(adjoint_error(&r.cast::<f32>(), |v| rfft2(v, [0, 1], s, norm).map_err(Into::into)).unwrap() < 1e-5);
            prop_assert!(adjoint_error(&x, |v| irfft2(v, [0, 1], s, norm).map_err(Into::into)).unwrap() < 1e-12);
            prop_assert!(adjoint_error(&x.cast::<f32>(), |v| irfft2(v, [0, 1], s, norm).map_err(Into::into)).unwrap() < 1e-5);
        }
    }

    #[test]
    fn finite_difference_gradients() {
        let x = rand_tensor(&[3, 4, 2], 3);
        let r = rand_tensor(&[2, 3, 5], 4);
        for norm in [Norm::Backward, Norm::Ortho, Norm::Forward] {
            assert_gradients(std::slice::from_ref(&x), |v| fft2(&v[0], [0, 1], Some([4, 3]), norm).map_err(Into::into));
            assert_gradients(std::slice::from_ref(&x), |v| ifft2(&v[0], [1, 0], None, norm).map_err(Into::into));
            assert_gradients(std::slice::from_ref(&r), |v| rfft2(&v[0], [0, 2], None, norm).map_err(Into::into));
            assert_gradients(std::slice::from_ref(&x), |v| {
                irfft2(&v[0], [0, 1], Some([3, 6]), norm).map_err(Into::into)
            });
        }
    }

    #[test]
    fn errors() {
        let x = Tensor::<f32>::zeros(&[3, 4, 2]);
        let e = fft2(&x, [0, -2], None, Norm::Backward).unwrap_err();
        assert_eq!(e.to_string(), "fft2: axes [0, -2] name the same axis twice (shape [3, 4, 2])");
        let e = ifft2(&x, [0, 2], None, Norm::Backward).unwrap_err();
        assert!(e.to_string().starts_with("ifft2: axis 2 is out of range for a tensor of rank 2"), "{e}");
        let e = rfft2(&x, [0, 1], Some([3, 0]), Norm::Backward).unwrap_err();
        assert!(matches!(e, TransformError::BadLength { op: "rfft2", axis: 1, n: 0, .. }), "{e:?}");
        let e = irfft2(&Tensor::<f32>::zeros(&[3, 1, 2]), [0, 1], None, Norm::Backward).unwrap_err();
        assert!(matches!(e, TransformError::BadLength { op: "irfft2", n: 0, .. }), "{e:?}");
        assert!(matches!(
            fft2(&Tensor::<f32>::zeros(&[3, 4]), [0, 1], None, Norm::Backward),
            Err(TransformError::NotComplex { op: "fft2", .. })
        ));
    }
}
