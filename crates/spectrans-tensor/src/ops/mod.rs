//! Differentiable operations, one family per module, each with its forward kernel, its
//! [`Backward`](crate::Backward) and its tests beside it.

pub mod affine;
pub mod binary;
pub mod dropout;
pub mod index;
pub mod layer_norm;
pub mod loss;
pub mod matmul;
pub mod permute;
pub mod reduce;
pub mod reshape;
pub mod select;
pub mod slice;
pub mod softmax;
pub mod unary;

use crate::error::Result;
use crate::float::Float;
use crate::shape::{numel, strides};
use crate::tensor::Tensor;

/// Sums a gradient shaped like a broadcast result back down to `shape` (the shape of the operand
/// that was broadcast): the adjoint of broadcasting.
pub(crate) fn sum_to_shape<T: Float>(g: &Tensor<T>, shape: &[usize]) -> Tensor<T> {
    if g.shape == shape {
        return g.detach();
    }
    // Fast path (bias gradients): `shape` is the trailing block of `g`, summed over leading rows.
    let inner = numel(shape);
    if inner > 0 && g.shape.ends_with(shape) && shape.first() != Some(&1) {
        return Tensor::from_parts(crate::par::sum_rows(g.data(), inner), shape.to_vec());
    }
    let out_shape = &g.shape;
    let rank = out_shape.len();
    let off = rank - shape.len();
    // target strides laid over the broadcast shape, 0 where broadcast
    let ts = strides(shape);
    let tstr: Vec<usize> = (0..rank).map(|i| if i < off || shape[i - off] == 1 { 0 } else { ts[i - off] }).collect();
    let mut out = vec![T::zero(); numel(shape)];
    let zero = vec![0; rank];
    let gd = g.data();
    crate::shape::for_each_broadcast(out_shape, &tstr, &zero, |o, t, _| out[t] += gd[o]);
    Tensor::from_parts(out, shape.to_vec())
}

/// Convenience for backward implementations: `Some(f())` when the input needs a gradient.
pub(crate) fn when<T: Float>(need: bool, f: impl FnOnce() -> Result<Tensor<T>>) -> Result<Option<Tensor<T>>> {
    if need {
        f().map(Some)
    } else {
        Ok(None)
    }
}
