//! Gradient checking, a product feature: verify the hand-written backward of your own operation
//! against finite differences and the dot-product (adjoint) identity, the same checks every op of
//! the spectrans stack passes in its tests.
//!
//! - [`gradient_error`] / [`check_gradients`] / [`assert_gradients`]: analytic gradients (the
//!   tape) of `⟨f(inputs), r⟩` for a fixed random cotangent `r`, against central finite
//!   differences, all in `f64`.
//! - [`adjoint_error`] / [`check_adjoint`]: for a *linear* op, ⟨A x, y⟩ = ⟨x, Aᵀ y⟩ with Aᵀ y
//!   from the tape; round-off only when the backward is right, in `f32` or `f64`.
//! - [`tensor_from`]: deterministic random inputs.
//! - With the `proptest` feature: [`strategies`], proptest strategies for shapes (small shapes,
//!   pairs that broadcast), to run the checks over many shapes.
//!
//! A custom op joins the tape through [`Tensor::from_op`] with a hand-written
//! [`Backward`](crate::Backward); check it like this:
//!
//! ```
//! use spectrans_tensor::gradcheck::{check_adjoint, check_gradients, tensor_from};
//! use spectrans_tensor::{Backward, Float, Result, Tensor};
//!
//! /// y = x³ with a hand-written backward dy/dx = 3x².
//! struct CubeBackward<T: Float> { x: Tensor<T> }
//! impl<T: Float> Backward<T> for CubeBackward<T> {
//!     fn name(&self) -> &'static str { "cube" }
//!     fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
//!         Ok(vec![Some(g.mul(&self.x.mul(&self.x)?.mul_scalar(T::of(3.0))?)?)])
//!     }
//! }
//! fn cube<T: Float>(x: &Tensor<T>) -> Result<Tensor<T>> {
//!     let value = x.mul(x)?.mul(x)?.detach();
//!     Tensor::from_op(value, &[x], CubeBackward { x: x.detach() })
//! }
//!
//! let x = tensor_from::<f64>(&[3, 4], 0, -1.0, 1.0);
//! let err = check_gradients(&[x.clone()], |v| cube(&v[0]), 1e-6)?; // Err beyond the tolerance
//! assert!(err <= 1e-6);
//! // a linear op (here y = 2x through `mul_scalar`) also passes the adjoint test
//! assert!(check_adjoint(&x.cast::<f32>(), |v| v.mul_scalar(2.0), 1e-5)? <= 1e-5);
//! # Ok::<(), spectrans_tensor::TensorError>(())
//! ```
//!
//! The cotangent `r`, and so every check, is deterministic: a failure reproduces exactly.

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::rng::Rng;
use crate::tensor::tape::{Parameter, Tape};
use crate::tensor::Tensor;

/// A deterministic tensor with entries uniform in `[low, high)`, drawn from `seed`.
///
/// # Shapes
/// → `shape`.
pub fn tensor_from<T: Float>(shape: &[usize], seed: u64, low: f64, high: f64) -> Tensor<T> {
    Tensor::rand_uniform(shape, low, high, &mut Rng::seed(seed))
}

/// Analytic gradients of `⟨f(inputs), r⟩` for a fixed random cotangent `r` (drawn from `seed`),
/// through the tape. Returns the output, the cotangent and one gradient per input.
///
/// # Shapes
/// The output and `r` have the shape of `f(inputs)`; gradient i has the shape of input i.
#[allow(clippy::type_complexity)]
pub fn analytic_gradients<T: Float>(
    inputs: &[Tensor<T>],
    f: impl Fn(&[Tensor<T>]) -> Result<Tensor<T>>,
    seed: u64,
) -> Result<(Tensor<T>, Tensor<T>, Vec<Tensor<T>>)> {
    let params: Vec<Parameter<T>> = inputs.iter().map(|x| Parameter::new(x.clone())).collect();
    let tape = Tape::new();
    let watched: Vec<Tensor<T>> = params.iter().map(|p| tape.watch(p)).collect();
    let out = f(&watched)?;
    let r = tensor_from::<T>(out.shape(), seed, -1.0, 1.0);
    if out.is_tracked() {
        out.backward_with(&r)?;
    }
    let grads = params.iter().zip(inputs).map(|(p, x)| p.grad().unwrap_or_else(|| Tensor::zeros(x.shape()))).collect();
    Ok((out.detach(), r, grads))
}

fn dot<T: Float>(a: &Tensor<T>, b: &Tensor<T>) -> f64 {
    a.data().iter().zip(b.data()).map(|(x, y)| x.as_f64() * y.as_f64()).sum()
}

/// Largest relative difference between analytic gradients (tape) and central finite differences
/// (step `h`) of `⟨f(inputs), r⟩`, over every element of every input. The difference is relative to
/// the largest gradient magnitude of the same input (absolute when that is below 1).
pub fn gradient_error(
    inputs: &[Tensor<f64>],
    f: impl Fn(&[Tensor<f64>]) -> Result<Tensor<f64>>,
    h: f64,
) -> Result<f64> {
    let (_, r, grads) = analytic_gradients(inputs, &f, 12345)?;
    let mut worst = 0.0f64;
    for (i, x) in inputs.iter().enumerate() {
        let mut numeric = vec![0.0; x.numel()];
        for (j, num) in numeric.iter_mut().enumerate() {
            let eval = |delta: f64| -> Result<f64> {
                let mut v = x.to_vec();
                v[j] += delta;
                let mut xs = inputs.to_vec();
                xs[i] = Tensor::from_vec(v, x.shape())?;
                Ok(dot(&f(&xs)?, &r))
            };
            *num = (eval(h)? - eval(-h)?) / (2.0 * h);
        }
        let scale = numeric.iter().chain(grads[i].data()).fold(1.0f64, |m, v| m.max(v.abs()));
        for (a, n) in grads[i].data().iter().zip(&numeric) {
            worst = worst.max((a - n).abs() / scale);
        }
    }
    Ok(worst)
}

/// [`gradient_error`] with step 1e-6, as an error (naming the input shapes and the error) when
/// it exceeds `tolerance`; otherwise the error itself. Use it in your own tests and checks.
pub fn check_gradients(
    inputs: &[Tensor<f64>],
    f: impl Fn(&[Tensor<f64>]) -> Result<Tensor<f64>>,
    tolerance: f64,
) -> Result<f64> {
    let err = gradient_error(inputs, f, 1e-6)?;
    if err <= tolerance {
        return Ok(err);
    }
    let shapes: Vec<&[usize]> = inputs.iter().map(|x| x.shape()).collect();
    Err(TensorError::invalid(
        "gradcheck",
        format!("finite-difference gradient check failed: relative error {err:.3e} > {tolerance:.1e} for input shapes {shapes:?}"),
    ))
}

/// [`adjoint_error`] as an error (naming the shape and the mismatch) when it exceeds
/// `tolerance`; otherwise the mismatch itself.
pub fn check_adjoint<T: Float>(
    x: &Tensor<T>,
    f: impl Fn(&Tensor<T>) -> Result<Tensor<T>>,
    tolerance: f64,
) -> Result<f64> {
    let err = adjoint_error(x, f)?;
    if err <= tolerance {
        return Ok(err);
    }
    Err(TensorError::invalid(
        "gradcheck",
        format!(
            "dot-product (adjoint) test failed: mismatch {err:.3e} > {tolerance:.1e} for input shape {:?}",
            x.shape()
        ),
    ))
}

/// Panics unless [`gradient_error`] (step 1e-6) is at most 1e-6: for `#[test]`s (use
/// [`check_gradients`] where a panic is not wanted).
pub fn assert_gradients(inputs: &[Tensor<f64>], f: impl Fn(&[Tensor<f64>]) -> Result<Tensor<f64>>) {
    let err = gradient_error(inputs, f, 1e-6).expect("the function under test failed");
    let shapes: Vec<&[usize]> = inputs.iter().map(|x| x.shape()).collect();
    assert!(
        err <= 1e-6,
        "finite-difference gradient check failed: relative error {err:.3e} for input shapes {shapes:?}"
    );
}

/// Relative mismatch of the dot-product test ⟨A x, y⟩ = ⟨x, Aᵀ y⟩ for a linear map `f`, where Aᵀ y
/// is computed by the tape (backward with cotangent `y`). For a linear op with a correct
/// backward this is round-off only.
pub fn adjoint_error<T: Float>(x: &Tensor<T>, f: impl Fn(&Tensor<T>) -> Result<Tensor<T>>) -> Result<f64> {
    let (ax, y, g) = analytic_gradients(std::slice::from_ref(x), |v| f(&v[0]), 777)?;
    let lhs = dot(&ax, &y);
    let rhs = dot(x, &g[0]);
    // Round-off scales with the sums of absolute terms on both sides (a sum that cancels, such as
    // Σx for the adjoint of `sum`, says nothing about the size of the error).
    let abs_dot = |a: &Tensor<T>, b: &Tensor<T>| -> f64 {
        a.data().iter().zip(b.data()).map(|(p, q)| (p.as_f64() * q.as_f64()).abs()).sum()
    };
    let scale = abs_dot(&ax, &y).max(abs_dot(x, &g[0]));
    Ok((lhs - rhs).abs() / scale.max(f64::MIN_POSITIVE))
}

/// The bins whose imaginary part no inverse real FFT of length `n` reads: DC (bin 0) and, for
/// even `n`, Nyquist (bin n/2), among the first `bins`.
///
/// ```
/// use spectrans_tensor::gradcheck::dead_imaginary_bins;
/// assert_eq!(dead_imaginary_bins(8, 5), vec![0, 4]);
/// assert_eq!(dead_imaginary_bins(9, 5), vec![0]);
/// assert_eq!(dead_imaginary_bins(8, 3), vec![0]);
/// ```
pub fn dead_imaginary_bins(n: usize, bins: usize) -> Vec<usize> {
    let mut dead = Vec::new();
    if bins > 0 {
        dead.push(0);
    }
    if n.is_multiple_of(2) && n / 2 > 0 && n / 2 < bins {
        dead.push(n / 2);
    }
    dead
}

/// The "DC/Nyquist" check of a spectral op: in `grad`, gradients of packed real-signal spectra
/// laid out (…, bins, 2) (re, im), the imaginary part of every [`dead_imaginary_bins`] entry
/// of every lane is exactly zero (it never reaches the output, so any other value is a wrong
/// backward). An error names the first lane and bin that is not.
///
/// # Shapes
/// `grad` holds a whole number of lanes of `2 · bins` values.
///
/// ```
/// use spectrans_tensor::gradcheck::check_dead_imaginary_gradients;
/// let mut g = vec![1.0f64; 2 * 5 * 2]; // two lanes of 5 bins (n = 8)
/// g[1] = 0.0; g[4 * 2 + 1] = 0.0; g[10 + 1] = 0.0; g[10 + 4 * 2 + 1] = 0.0;
/// check_dead_imaginary_gradients(&g, 8, 5)?;
/// g[10 + 4 * 2 + 1] = 1e-17;
/// assert!(check_dead_imaginary_gradients(&g, 8, 5).unwrap_err().to_string().contains("lane 1, bin 4"));
/// # Ok::<(), spectrans_tensor::TensorError>(())
/// ```
pub fn check_dead_imaginary_gradients<T: Float>(grad: &[T], n: usize, bins: usize) -> Result<()> {
    let lane = 2 * bins;
    if lane == 0 || !grad.len().is_multiple_of(lane) {
        return Err(TensorError::invalid(
            "gradcheck",
            format!("{} gradient values are not whole lanes of {bins} complex bins", grad.len()),
        ));
    }
    let dead = dead_imaginary_bins(n, bins);
    for (l, row) in grad.chunks(lane).enumerate() {
        for &k in &dead {
            let v = row[2 * k + 1];
            if v != T::zero() {
                return Err(TensorError::invalid(
                    "gradcheck",
                    format!("lane {l}, bin {k}: d/d Im = {:e}, expected exactly 0 (n = {n})", v.as_f64()),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(any(test, feature = "proptest"))]
pub use strategies::{shapes_broadcasting_with, small_shape};

/// Proptest strategies for shapes (feature `proptest`), to run the checks over many shapes:
///
/// ```
/// # #[cfg(feature = "proptest")] {
/// use proptest::prelude::*;
/// use spectrans_tensor::gradcheck::{check_gradients, small_shape, tensor_from};
/// proptest!(ProptestConfig::with_cases(8), |(shape in small_shape(3), seed in 0u64..100)| {
///     let x = tensor_from::<f64>(&shape, seed, -1.0, 1.0);
///     prop_assert!(check_gradients(&[x], |v| v[0].tanh(), 1e-6).is_ok());
/// });
/// # }
/// ```
#[cfg(any(test, feature = "proptest"))]
pub mod strategies {
    use proptest::prelude::*;

    /// A shape of rank 1..=max_rank with small dimensions.
    pub fn small_shape(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
        prop::collection::vec(1usize..5, 1..=max_rank)
    }

    /// A shape and a second shape that broadcasts against it (some axes 1, some dropped).
    pub fn shapes_broadcasting_with(max_rank: usize) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
        small_shape(max_rank)
            .prop_flat_map(|s| {
                let n = s.len();
                (Just(s), prop::collection::vec(any::<bool>(), n), 0..=n, any::<bool>())
            })
            .prop_map(|(s, ones, drop, swap)| {
                let b: Vec<usize> = s.iter().zip(&ones).map(|(&d, &one)| if one { 1 } else { d }).skip(drop).collect();
                if swap {
                    (b, s)
                } else {
                    (s, b)
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_report_errors_instead_of_panicking() {
        let x = tensor_from::<f64>(&[2, 3], 4, -1.0, 1.0);
        assert!(check_gradients(std::slice::from_ref(&x), |v| v[0].tanh(), 1e-6).unwrap() <= 1e-6);
        let e = check_gradients(std::slice::from_ref(&x), |v| v[0].tanh(), -1.0).unwrap_err().to_string();
        assert!(e.starts_with("gradcheck: ") && e.contains("[2, 3]"), "{e}");
        assert!(check_adjoint(&x, |v| v.mul_scalar(3.0), 1e-12).unwrap() <= 1e-12);
        assert!(check_adjoint(&x, |v| v.mul_scalar(3.0), -1.0).unwrap_err().to_string().contains("adjoint"));
        // an error of the op under test is passed through
        let e = check_gradients(&[x], |v| v[0].reshape(&[7]), 1.0).unwrap_err();
        assert!(matches!(e, TensorError::ShapeMismatch { .. } | TensorError::InvalidArgument { .. }), "{e}");
    }

    #[test]
    fn gradient_check_detects_a_wrong_backward() {
        use crate::tensor::tape::Backward;
        struct Wrong;
        impl Backward<f64> for Wrong {
            fn name(&self) -> &'static str {
                "wrong"
            }
            fn backward(&self, g: &Tensor<f64>, _: &[bool]) -> Result<Vec<Option<Tensor<f64>>>> {
                Ok(vec![Some(g.mul_scalar(2.1)?)]) // true derivative of 2x is 2
            }
        }
        let x = tensor_from::<f64>(&[3], 1, -1.0, 1.0);
        let err = gradient_error(
            std::slice::from_ref(&x),
            |v| Tensor::from_op(v[0].mul_scalar(2.0)?.detach(), &[&v[0]], Wrong),
            1e-6,
        )
        .unwrap();
        assert!(err > 1e-3, "a wrong gradient must be detected, got {err}");
        let err = adjoint_error(&x, |v| Tensor::from_op(v.mul_scalar(2.0)?.detach(), &[v], Wrong)).unwrap();
        assert!(err > 1e-3);
    }
}
