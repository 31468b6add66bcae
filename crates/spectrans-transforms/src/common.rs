//! Validation helpers and the backward pass shared by the linear transforms.

use spectrans_tensor::shape::normalize_axis;
use spectrans_tensor::{Backward, Float, Tensor, TensorError};

use crate::error::{Result, TransformError};
use crate::plan::{run_kernel, Kernel};

/// The complex shape (without the trailing 2) of a complex tensor, or `NotComplex`.
pub(crate) fn complex_shape(op: &'static str, x: &[usize]) -> Result<Vec<usize>> {
    match x.split_last() {
        Some((2, rest)) if !rest.is_empty() => Ok(rest.to_vec()),
        _ => Err(TransformError::NotComplex { op, shape: x.to_vec() }),
    }
}

/// Resolves `axis` against `shape`, reporting the full tensor shape `full` on error.
pub(crate) fn resolve_axis(op: &'static str, axis: isize, shape: &[usize], full: &[usize]) -> Result<usize> {
    normalize_axis(op, axis, shape).map_err(|e| match e {
        TensorError::BadAxis { op, axis, rank, .. } => {
            TransformError::Tensor(TensorError::BadAxis { op, axis, rank, shape: full.to_vec() })
        }
        other => TransformError::Tensor(other),
    })
}

/// The transform length: `n` if given (must be ≥ 1), else `default` (must be ≥ 1).
pub(crate) fn resolve_len(
    op: &'static str,
    axis: isize,
    n: Option<usize>,
    default: isize,
    shape: &[usize],
) -> Result<usize> {
    let (value, reason) = match n {
        Some(0) => (0, "n must be at least 1"),
        Some(v) => return Ok(v),
        None if default >= 1 => return Ok(default as usize),
        None => (default, "the length implied by the input is not positive; pass n ≥ 1 or a longer axis"),
    };
    Err(TransformError::BadLength { op, axis, n: value, shape: shape.to_vec(), reason: reason.into() })
}

/// Backward of a linear transform: applies the adjoint kernel to the output gradient.
pub(crate) struct LinearBackward<K> {
    pub(crate) name: &'static str,
    pub(crate) adjoint: K,
    pub(crate) input_shape: Vec<usize>,
}

impl<T: Float, K: Kernel + Send + 'static> Backward<T> for LinearBackward<K> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> spectrans_tensor::Result<Vec<Option<Tensor<T>>>> {
        if !needs[0] {
            return Ok(vec![None]);
        }
        let data = run_kernel(self.name, &self.adjoint, g.data())?;
        Ok(vec![Some(Tensor::from_vec(data, &self.input_shape)?)])
    }
}

/// Records a linear transform: `value` computed by a kernel whose adjoint is `adjoint`.
pub(crate) fn record_linear<T: Float, K: Kernel + Send + 'static>(
    name: &'static str,
    x: &Tensor<T>,
    value: Tensor<T>,
    adjoint: impl FnOnce() -> K,
) -> Result<Tensor<T>> {
    if !x.is_tracked() {
        return Ok(value);
    }
    let backward = LinearBackward { name, adjoint: adjoint(), input_shape: x.shape().to_vec() };
    Ok(Tensor::from_op(value, &[x], backward)?)
}
