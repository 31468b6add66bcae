//! Test helpers shared by every crate of the stack: finite-difference gradient checks and
//! dot-product (adjoint) tests, driven through the public autodiff API.

use crate::error::Result;
use crate::float::Float;
use crate::rng::Rng;
use crate::tape::{Parameter, Tape};
use crate::tensor::Tensor;

/// A deterministic tensor with entries uniform in `[low, high)`, drawn from `seed`.
pub fn tensor_from<T: Float>(shape: &[usize], seed: u64, low: f64, high: f64) -> Tensor<T> {
    Tensor::rand_uniform(shape, low, high, &mut Rng::seed(seed))
}

/// Analytic gradients of `⟨f(inputs), r⟩` for a fixed random cotangent `r`, through the tape.
/// Returns the output, the cotangent and one gradient per input.
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

/// Panics unless [`gradient_error`] (step 1e-6) is at most 1e-6.
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

/// Proptest strategies for shapes.
#[cfg(test)]
pub(crate) use strategies::*;

#[cfg(test)]
mod strategies {
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
    fn gradient_check_detects_a_wrong_backward() {
        use crate::tape::Backward;
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
