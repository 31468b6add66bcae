//! Reductions over chosen axes: sum and mean.

use crate::error::Result;
use crate::float::Float;
use crate::ops::sum_to_shape;
use crate::shape::{broadcast_strides, for_each_broadcast, normalize_axes, numel};
use crate::tape::Backward;
use crate::tensor::Tensor;

/// The shape with reduced axes set to 1, and the result shape (`keepdim` or not).
pub(crate) fn reduced_shapes(shape: &[usize], axes: &[usize], keepdim: bool) -> (Vec<usize>, Vec<usize>) {
    let kept: Vec<usize> = shape.iter().enumerate().map(|(i, &d)| if axes.contains(&i) { 1 } else { d }).collect();
    let out = if keepdim {
        kept.clone()
    } else {
        shape.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect()
    };
    (kept, out)
}

/// Repeats `g` (shaped like `kept`, size-1 on reduced axes) over `shape`: the adjoint of a sum.
pub(crate) fn expand<T: Float>(g: &[T], kept: &[usize], shape: &[usize]) -> Tensor<T> {
    let mut out = vec![T::zero(); numel(shape)];
    let gs = broadcast_strides(kept, shape);
    let zero = vec![0; shape.len()];
    for_each_broadcast(shape, &gs, &zero, |o, i, _| out[o] = g[i]);
    Tensor::from_parts(out, shape.to_vec())
}

struct SumBackward {
    kept: Vec<usize>,
    shape: Vec<usize>,
    scale: f64,
}

impl<T: Float> Backward<T> for SumBackward {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let s = T::of(self.scale);
        let e = expand(g.data(), &self.kept, &self.shape);
        Ok(vec![Some(if self.scale == 1.0 { e } else { e.map(|v| v * s) })])
    }
}

fn sum_scaled<T: Float>(op: &'static str, x: &Tensor<T>, axes: &[isize], keepdim: bool, mean: bool) -> Result<Tensor<T>> {
    let axes = normalize_axes(op, axes, &x.shape)?;
    let (kept, out_shape) = reduced_shapes(&x.shape, &axes, keepdim);
    let count: usize = axes.iter().map(|&a| x.shape[a]).product();
    let scale = if mean { 1.0 / count as f64 } else { 1.0 };
    let mut summed = sum_to_shape(x, &kept);
    if mean {
        let s = T::of(scale);
        summed.data_mut().iter_mut().for_each(|v| *v *= s);
    }
    let value = Tensor { shape: out_shape, ..summed };
    if !x.is_tracked() {
        return Ok(value);
    }
    Tensor::from_op(value, &[x], SumBackward { kept, shape: x.shape.clone(), scale })
}

impl<T: Float> Tensor<T> {
    /// Sum over `axes` (all axes when empty; negative axes count from the end).
    ///
    /// # Shapes
    /// Each reduced axis becomes 1 (`keepdim`) or disappears; summing every axis without
    /// `keepdim` gives a rank-0 scalar.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// assert_eq!(x.sum(&[1], false)?.to_vec(), vec![6.0, 15.0]);
    /// assert_eq!(x.sum(&[0], true)?.shape(), &[1, 3]);
    /// assert_eq!(x.sum(&[], false)?.item()?, 21.0);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<Tensor<T>> {
        sum_scaled("sum", self, axes, keepdim, false)
    }

    /// Mean over `axes` (all axes when empty).
    ///
    /// # Shapes
    /// As [`Tensor::sum`].
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(x.mean(&[-1], false)?.to_vec(), vec![1.5, 3.5]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<Tensor<T>> {
        sum_scaled("mean", self, axes, keepdim, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{adjoint_error, assert_gradients, small_shape, tensor_from};
    use proptest::prelude::*;

    fn axes_for(rank: usize, mask: u8) -> Vec<isize> {
        (0..rank).filter(|i| mask & (1 << i) != 0).map(|i| i as isize).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn grad_sum_mean(shape in small_shape(4), mask in any::<u8>(), keep in any::<bool>(), seed in 0u64..1000) {
            let axes = axes_for(shape.len(), mask);
            let x = tensor_from(&shape, seed, -1.0, 1.0);
            assert_gradients(std::slice::from_ref(&x), |v| v[0].sum(&axes, keep));
            assert_gradients(&[x], |v| v[0].mean(&axes, keep));
        }

        #[test]
        fn adjoint_sum_f32(shape in small_shape(4), mask in any::<u8>(), seed in 0u64..1000) {
            let axes = axes_for(shape.len(), mask);
            let x = tensor_from::<f32>(&shape, seed, -1.0, 1.0);
            prop_assert!(adjoint_error(&x, |v| v.sum(&axes, false)).unwrap() < 1e-5);
        }
    }

    #[test]
    fn bad_axes_are_errors() {
        let x = Tensor::<f32>::zeros(&[2, 3]);
        let e = x.sum(&[2], false).unwrap_err();
        assert_eq!(e.to_string(), "sum: axis 2 is out of range for a tensor of rank 2 (shape [2, 3])");
        assert!(x.mean(&[0, -2], false).unwrap_err().to_string().contains("listed twice"));
    }
}
