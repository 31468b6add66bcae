//! Reshaping (zero-copy) and explicit broadcasting.

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::ops::sum_to_shape;
use crate::shape::{broadcast_shapes, broadcast_strides, for_each_broadcast, numel};
use crate::tensor::tape::Backward;
use crate::tensor::Tensor;

/// The same buffer viewed with another shape (no copy).
fn view<T: Float>(x: &Tensor<T>, shape: &[usize]) -> Tensor<T> {
    Tensor { data: x.data.clone(), shape: shape.to_vec(), node: None }
}

struct ReshapeBackward {
    input_shape: Vec<usize>,
}

impl<T: Float> Backward<T> for ReshapeBackward {
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![Some(view(g, &self.input_shape))])
    }
}

struct BroadcastBackward {
    input_shape: Vec<usize>,
}

impl<T: Float> Backward<T> for BroadcastBackward {
    fn name(&self) -> &'static str {
        "broadcast_to"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![Some(sum_to_shape(g, &self.input_shape))])
    }
}

/// Copies `x` repeated over the broadcast shape `shape` (already validated).
fn broadcast_kernel<T: Float>(x: &Tensor<T>, shape: &[usize]) -> Tensor<T> {
    let n = numel(shape);
    let src = x.data();
    if src.len() == 1 {
        return Tensor::from_parts(vec![src[0]; n], shape.to_vec());
    }
    // A trailing block repeated over leading rows (bias-like): whole-row copies.
    if !src.is_empty() && shape.ends_with(&x.shape) {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            out.extend_from_slice(src);
        }
        return Tensor::from_parts(out, shape.to_vec());
    }
    let mut out = vec![T::zero(); n];
    let xs = broadcast_strides(&x.shape, shape);
    let zero = vec![0; shape.len()];
    for_each_broadcast(shape, &xs, &zero, |o, i, _| out[o] = src[i]);
    Tensor::from_parts(out, shape.to_vec())
}

impl<T: Float> Tensor<T> {
    /// The same elements, in the same row-major order, with another shape. Shares the buffer
    /// (no copy).
    ///
    /// # Shapes
    /// `shape` must have the same number of elements as `self`.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f32>::arange(6);
    /// let y = x.reshape(&[2, 3])?;
    /// assert_eq!(y.shape(), &[2, 3]);
    /// assert_eq!(y.to_vec(), x.to_vec());
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor<T>> {
        if numel(shape) != self.numel() {
            return Err(TensorError::mismatch(
                "reshape",
                &self.shape,
                shape,
                format!("element counts differ: {} vs {}", self.numel(), numel(shape)),
            ));
        }
        let value = view(self, shape);
        if !self.is_tracked() {
            return Ok(value);
        }
        Tensor::from_op(value, &[self], ReshapeBackward { input_shape: self.shape.clone() })
    }

    /// `self` repeated along size-1 (or missing leading) axes to fill `shape`, by numpy rules.
    ///
    /// # Shapes
    /// `self`'s shape, aligned from the right, must broadcast to exactly `shape` (each axis equal
    /// or 1; `shape` may have more leading axes). The result has shape `shape`.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let col = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2, 1])?;
    /// let y = col.broadcast_to(&[2, 3])?;
    /// assert_eq!(y.to_vec(), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor<T>> {
        let fits = shape.len() >= self.rank()
            && broadcast_shapes("broadcast_to", &self.shape, shape).is_ok_and(|s| s == shape);
        if !fits {
            return Err(TensorError::mismatch(
                "broadcast_to",
                &self.shape,
                shape,
                "each axis of the tensor (aligned from the right) must equal the target's or be 1",
            ));
        }
        if shape == self.shape.as_slice() {
            return self.reshape(shape);
        }
        let value = broadcast_kernel(self, shape);
        if !self.is_tracked() {
            return Ok(value);
        }
        Tensor::from_op(value, &[self], BroadcastBackward { input_shape: self.shape.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{adjoint_error, assert_gradients, shapes_broadcasting_with, small_shape, tensor_from};
    use proptest::prelude::*;
    use std::sync::Arc;

    /// A shape with the same element count: the dims of `shape` regrouped by a random split.
    fn regrouped(shape: &[usize], split: usize) -> Vec<usize> {
        let n = numel(shape);
        let first = shape.iter().take(split.min(shape.len())).product::<usize>();
        vec![first, n / first, 1]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn grad_reshape(shape in small_shape(4), split in 0usize..4, seed in 0u64..1000) {
            let target = regrouped(&shape, split);
            let x = tensor_from(&shape, seed, -1.0, 1.0);
            // multiply after reshaping so the check sees the element order, not just a sum
            let w = tensor_from::<f64>(&target, seed + 1, -1.0, 1.0);
            assert_gradients(&[x], |v| v[0].reshape(&target)?.mul(&w));
        }

        #[test]
        fn grad_broadcast_to((big, small) in shapes_broadcasting_with(3), seed in 0u64..1000) {
            let (small, big) = if small.len() <= big.len() && broadcast_shapes("t", &small, &big).is_ok_and(|s| s == big) {
                (small, big)
            } else {
                (big, small)
            };
            prop_assume!(broadcast_shapes("t", &small, &big).is_ok_and(|s| s == big));
            let x = tensor_from(&small, seed, -1.0, 1.0);
            let w = tensor_from::<f64>(&big, seed + 1, -1.0, 1.0);
            assert_gradients(&[x], |v| v[0].broadcast_to(&big)?.mul(&w));
        }

        #[test]
        fn adjoint_reshape_broadcast_f32((a, b) in shapes_broadcasting_with(3), split in 0usize..4, seed in 0u64..1000) {
            let x = tensor_from::<f32>(&a, seed, -1.0, 1.0);
            let target = regrouped(&a, split);
            prop_assert!(adjoint_error(&x, |v| v.reshape(&target)).unwrap() < 1e-5);
            let big = broadcast_shapes("t", &a, &b).unwrap();
            prop_assert!(adjoint_error(&x, |v| v.broadcast_to(&big)).unwrap() < 1e-5);
        }

        #[test]
        fn broadcast_values_match_naive((a, b) in shapes_broadcasting_with(3), seed in 0u64..1000) {
            let big = broadcast_shapes("t", &a, &b).unwrap();
            let x = tensor_from::<f64>(&a, seed, -1.0, 1.0);
            let y = x.broadcast_to(&big).unwrap();
            let xa = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&a), x.to_vec()).unwrap();
            let expected = xa.broadcast(ndarray::IxDyn(&big)).unwrap();
            prop_assert_eq!(y.to_vec(), expected.iter().copied().collect::<Vec<_>>());
        }
    }

    #[test]
    fn reshape_shares_the_buffer() {
        let x = Tensor::<f32>::arange(12);
        let y = x.reshape(&[3, 4]).unwrap();
        assert!(Arc::ptr_eq(&x.data, &y.data));
        assert_eq!(y.reshape(&[12]).unwrap().to_vec(), x.to_vec());
        assert_eq!(Tensor::<f32>::scalar(3.0).reshape(&[1, 1]).unwrap().shape(), &[1, 1]);
    }

    #[test]
    fn bias_broadcast_values() {
        let b = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap();
        assert_eq!(b.broadcast_to(&[2, 3]).unwrap().to_vec(), vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
        assert_eq!(b.broadcast_to(&[0, 3]).unwrap().numel(), 0);
    }

    #[test]
    fn shape_errors() {
        let x = Tensor::<f32>::zeros(&[2, 3]);
        let e = x.reshape(&[4, 2]).unwrap_err();
        assert!(matches!(e, TensorError::ShapeMismatch { op: "reshape", .. }));
        assert_eq!(e.to_string(), "reshape: incompatible shapes [2, 3] and [4, 2]: element counts differ: 6 vs 8");
        let e = x.broadcast_to(&[3, 3]).unwrap_err();
        assert!(matches!(e, TensorError::ShapeMismatch { op: "broadcast_to", .. }));
        assert!(e.to_string().starts_with("broadcast_to: incompatible shapes [2, 3] and [3, 3]"), "{e}");
        // fewer axes than the tensor, and a shape the tensor would only broadcast *with*
        assert!(x.broadcast_to(&[3]).is_err());
        assert!(Tensor::<f32>::zeros(&[2, 1]).broadcast_to(&[1, 4]).is_err());
    }
}
