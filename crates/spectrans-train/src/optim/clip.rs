//! Gradient clipping by global L2 norm, as `torch.nn.utils.clip_grad_norm_`.

use spectrans_tensor::{Float, Parameter};

use crate::error::{Result, TrainError};

/// The global L2 norm of all gradients (parameters without a gradient count as zero), accumulated
/// in `f64` in parameter order.
///
/// ```
/// use spectrans_tensor::{Parameter, Tensor};
/// use spectrans_train::optim::grad_norm;
/// let p = Parameter::new(Tensor::<f32>::zeros(&[2]));
/// assert_eq!(grad_norm(&[p]), 0.0);
/// ```
pub fn grad_norm<T: Float>(params: &[Parameter<T>]) -> f64 {
    let sum: f64 = params
        .iter()
        .filter_map(|p| p.grad())
        .map(|g| g.data().iter().map(|v| v.as_f64() * v.as_f64()).sum::<f64>())
        .sum();
    sum.sqrt()
}

/// Scales all gradients so that their global L2 norm is at most `max_norm`, as
/// `torch.nn.utils.clip_grad_norm_`: with the norm `n` computed in `f64`, every gradient is
/// multiplied by `max_norm / (n + 1e-6)` when that is below 1. Returns `n`, the norm before clipping.
///
/// Unlike torch (which would spread NaN into every gradient), non-finite gradients are an
/// [`TrainError::NonFiniteGradient`] error and are left untouched; `max_norm` must be finite and ≥ 0.
///
/// # Shapes
/// Any parameters; the gradients keep their shapes.
///
/// ```
/// use spectrans_tensor::{Parameter, Tape, Tensor};
/// use spectrans_train::optim::{clip_grad_norm, grad_norm};
/// let w = Parameter::new(Tensor::<f64>::from_vec(vec![3.0, 4.0], &[2])?);
/// let tape = Tape::new();
/// tape.watch(&w).mul_scalar(1.0)?.sum(&[], false)?.backward()?; // gradient (1, 1)
/// let w2 = Parameter::new(Tensor::<f64>::zeros(&[1]));
/// let norm = clip_grad_norm(&[w.clone(), w2], 1.0)?;
/// assert!((norm - 2f64.sqrt()).abs() < 1e-15);
/// assert!((grad_norm(&[w]) - 1.0).abs() < 1e-5);
/// # Ok::<(), spectrans_train::TrainError>(())
/// ```
pub fn clip_grad_norm<T: Float>(params: &[Parameter<T>], max_norm: f64) -> Result<f64> {
    if !max_norm.is_finite() || max_norm < 0.0 {
        return Err(TrainError::config(
            "clip_grad_norm",
            "max_norm",
            format!("must be finite and >= 0, got {max_norm}"),
        ));
    }
    let norm = grad_norm(params);
    if !norm.is_finite() {
        return Err(TrainError::NonFiniteGradient { op: "clip_grad_norm", norm });
    }
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        let c = T::of(coef);
        for p in params {
            p.scale_grad(c);
        }
    }
    Ok(norm)
}
