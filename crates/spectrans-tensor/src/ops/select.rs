//! Selection by a boolean mask: `masked_fill` and the three-way `where_mask`, both with numpy
//! broadcasting of the mask.

use std::borrow::Cow;

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::ops::{sum_to_shape, when};
use crate::shape::{broadcast_shapes, broadcast_strides, for_each_broadcast, numel};
use crate::tensor::tape::Backward;
use crate::tensor::Tensor;

/// Checks that a mask buffer holds exactly `numel(mask_shape)` entries.
fn check_mask_len(op: &'static str, mask: &[bool], mask_shape: &[usize]) -> Result<()> {
    if mask.len() != numel(mask_shape) {
        return Err(TensorError::bad_shape(
            op,
            mask_shape,
            format!("the mask needs {} entries for this shape, got {}", numel(mask_shape), mask.len()),
        ));
    }
    Ok(())
}

/// The mask laid out over `shape` (which it broadcasts to); borrowed when no expansion is needed.
fn expand_mask<'a>(mask: &'a [bool], mask_shape: &[usize], shape: &[usize]) -> Cow<'a, [bool]> {
    if mask_shape == shape {
        return Cow::Borrowed(mask);
    }
    let mut out = vec![false; numel(shape)];
    let ms = broadcast_strides(mask_shape, shape);
    let zero = vec![0; shape.len()];
    for_each_broadcast(shape, &ms, &zero, |o, m, _| out[o] = mask[m]);
    Cow::Owned(out)
}

/// Backward of `masked_fill`: the gradient passes where the mask is false.
struct MaskedFillBackward {
    mask: Vec<bool>,
    mask_shape: Vec<usize>,
}

impl<T: Float> Backward<T> for MaskedFillBackward {
    fn name(&self) -> &'static str {
        "masked_fill"
    }

    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let m = expand_mask(&self.mask, &self.mask_shape, &g.shape);
        let dx = g.data().iter().zip(m.iter()).map(|(&v, &filled)| if filled { T::zero() } else { v }).collect();
        Ok(vec![Some(Tensor::from_parts(dx, g.shape.clone()))])
    }
}

/// Backward of `where_mask`: the gradient goes to `a` where the mask is true, to `b` elsewhere,
/// each summed back over its broadcast axes.
struct WhereBackward {
    mask: Vec<bool>,
    mask_shape: Vec<usize>,
    a_shape: Vec<usize>,
    b_shape: Vec<usize>,
}

impl<T: Float> Backward<T> for WhereBackward {
    fn name(&self) -> &'static str {
        "where_mask"
    }

    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let m = expand_mask(&self.mask, &self.mask_shape, &g.shape);
        let pick = |side: bool, shape: &[usize]| -> Result<Tensor<T>> {
            let full = g.data().iter().zip(m.iter()).map(|(&v, &mi)| if mi == side { v } else { T::zero() }).collect();
            Ok(sum_to_shape(&Tensor::from_parts(full, g.shape.clone()), shape))
        };
        Ok(vec![when(needs[0], || pick(true, &self.a_shape))?, when(needs[1], || pick(false, &self.b_shape))?])
    }
}

impl<T: Float> Tensor<T> {
    /// A copy of `self` with `value` wherever `mask` is true (attention masking); those positions
    /// get zero gradient.
    ///
    /// # Shapes
    /// `mask` is row-major with shape `mask_shape`, which must broadcast to `self`'s shape (numpy
    /// rules); the result has the shape of `self`.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let scores = Tensor::<f32>::zeros(&[2, 3]);
    /// let y = scores.masked_fill(&[false, false, true], &[3], f32::NEG_INFINITY)?;
    /// assert_eq!(y.to_vec()[2], f32::NEG_INFINITY);
    /// assert_eq!(y.to_vec()[4], 0.0);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn masked_fill(&self, mask: &[bool], mask_shape: &[usize], value: T) -> Result<Tensor<T>> {
        check_mask_len("masked_fill", mask, mask_shape)?;
        if broadcast_shapes("masked_fill", &self.shape, mask_shape)? != self.shape {
            return Err(TensorError::mismatch(
                "masked_fill",
                &self.shape,
                mask_shape,
                "the mask must broadcast to the input's shape without enlarging it",
            ));
        }
        let mut out = self.data().to_vec();
        if mask_shape == self.shape.as_slice() {
            out.iter_mut().zip(mask).filter(|(_, &m)| m).for_each(|(o, _)| *o = value);
        } else {
            let ms = broadcast_strides(mask_shape, &self.shape);
            let zero = vec![0; self.rank()];
            for_each_broadcast(&self.shape, &ms, &zero, |o, m, _| {
                if mask[m] {
                    out[o] = value;
                }
            });
        }
        let result = Tensor::from_parts(out, self.shape.clone());
        if !self.is_tracked() {
            return Ok(result);
        }
        Tensor::from_op(result, &[self], MaskedFillBackward { mask: mask.to_vec(), mask_shape: mask_shape.to_vec() })
    }

    /// Element-wise `mask ? a : b`; gradients flow to `a` where the mask is true and to `b`
    /// elsewhere.
    ///
    /// # Shapes
    /// `mask` (row-major, shape `mask_shape`), `a` and `b` broadcast together (numpy rules); the
    /// result has the broadcast shape.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let a = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2])?;
    /// let b = Tensor::<f64>::scalar(-1.0);
    /// let y = Tensor::where_mask(&[true, false, false, true], &[2, 2], &a, &b)?;
    /// assert_eq!(y.to_vec(), vec![1.0, -1.0, -1.0, 2.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn where_mask(mask: &[bool], mask_shape: &[usize], a: &Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>> {
        check_mask_len("where_mask", mask, mask_shape)?;
        let ab = broadcast_shapes("where_mask", &a.shape, &b.shape)?;
        let shape = broadcast_shapes("where_mask", &ab, mask_shape)?;
        let m = expand_mask(mask, mask_shape, &shape);
        let mut out = vec![T::zero(); numel(&shape)];
        let (ad, bd) = (a.data(), b.data());
        if a.shape == shape && b.shape == shape {
            for (((o, &mi), &x), &y) in out.iter_mut().zip(m.iter()).zip(ad).zip(bd) {
                *o = if mi { x } else { y };
            }
        } else {
            let (sa, sb) = (broadcast_strides(&a.shape, &shape), broadcast_strides(&b.shape, &shape));
            for_each_broadcast(&shape, &sa, &sb, |o, i, j| out[o] = if m[o] { ad[i] } else { bd[j] });
        }
        let value = Tensor::from_parts(out, shape);
        if !Tensor::any_tracked(&[a, b]) {
            return Ok(value);
        }
        let backward = WhereBackward {
            mask: mask.to_vec(),
            mask_shape: mask_shape.to_vec(),
            a_shape: a.shape.clone(),
            b_shape: b.shape.clone(),
        };
        Tensor::from_op(value, &[a, b], backward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{adjoint_error, assert_gradients, shapes_broadcasting_with, small_shape, tensor_from};
    use crate::rng::Rng;
    use proptest::prelude::*;

    /// A shape and a mask shape that broadcasts to it (some axes 1, some leading axes dropped).
    fn shape_and_mask_shape() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
        small_shape(4)
            .prop_flat_map(|s| {
                let n = s.len();
                (Just(s), prop::collection::vec(any::<bool>(), n), 0..=n)
            })
            .prop_map(|(s, ones, drop)| {
                let m = s.iter().zip(&ones).map(|(&d, &one)| if one { 1 } else { d }).skip(drop).collect();
                (s, m)
            })
    }

    fn random_mask(shape: &[usize], seed: u64) -> Vec<bool> {
        let mut rng = Rng::seed(seed);
        (0..numel(shape)).map(|_| rng.uniform() < 0.5).collect()
    }

    /// The mask as a 0/1 tensor, for reference results through broadcasting arithmetic.
    fn as_float(mask: &[bool], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(mask.iter().map(|&m| f64::from(u8::from(m))).collect(), shape).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn masked_fill_matches_arithmetic_and_gradients((shape, ms) in shape_and_mask_shape(), seed in 0u64..1000) {
            let x = tensor_from::<f64>(&shape, seed, -2.0, 2.0);
            let mask = random_mask(&ms, seed + 1);
            let y = x.masked_fill(&mask, &ms, -7.5).unwrap();
            // x·(1 − m) + v·m through broadcasting add/mul
            let m = as_float(&mask, &ms);
            let keep = m.mul_scalar(-1.0).unwrap().add_scalar(1.0).unwrap();
            let e = x.mul(&keep).unwrap().add(&m.mul_scalar(-7.5).unwrap()).unwrap();
            prop_assert_eq!(y.to_vec(), e.to_vec());
            assert_gradients(std::slice::from_ref(&x), |v| v[0].masked_fill(&mask, &ms, 3.0));
            let xf = x.cast::<f32>();
            prop_assert!(adjoint_error(&xf, |v| v.masked_fill(&mask, &ms, 0.0)).unwrap() < 1e-5);
        }

        #[test]
        fn where_mask_matches_arithmetic_and_gradients((sa, sb) in shapes_broadcasting_with(3), keep in prop::collection::vec(any::<bool>(), 4), seed in 0u64..1000) {
            let a = tensor_from::<f64>(&sa, seed, -2.0, 2.0);
            let b = tensor_from::<f64>(&sb, seed + 1, -2.0, 2.0);
            let full = broadcast_shapes("test", &sa, &sb).unwrap();
            // mask shape: some axes of the broadcast shape set to 1
            let ms: Vec<usize> = full.iter().zip(&keep).map(|(&d, &k)| if k { d } else { 1 }).collect();
            let mask = random_mask(&ms, seed + 2);
            let y = Tensor::where_mask(&mask, &ms, &a, &b).unwrap();
            let m = as_float(&mask, &ms);
            let e = a.mul(&m).unwrap().add(&b.mul(&m.mul_scalar(-1.0).unwrap().add_scalar(1.0).unwrap()).unwrap()).unwrap();
            prop_assert_eq!(y.shape(), e.shape());
            prop_assert_eq!(y.to_vec(), e.to_vec());
            assert_gradients(&[a.clone(), b.clone()], |v| Tensor::where_mask(&mask, &ms, &v[0], &v[1]));
            let zeros = Tensor::<f32>::zeros(&sb);
            prop_assert!(adjoint_error(&a.cast::<f32>(), |v| Tensor::where_mask(&mask, &ms, v, &zeros)).unwrap() < 1e-5);
        }
    }

    #[test]
    fn mask_larger_than_the_operands_broadcasts_the_result() {
        let a = Tensor::<f64>::scalar(1.0);
        let b = Tensor::<f64>::scalar(0.0);
        let y = Tensor::where_mask(&[true, false, true], &[3], &a, &b).unwrap();
        assert_eq!((y.shape(), y.to_vec()), (&[3][..], vec![1.0, 0.0, 1.0]));
        assert_gradients(&[a, b], |v| Tensor::where_mask(&[true, false, true], &[3], &v[0], &v[1]));
    }

    #[test]
    fn bad_masks_are_errors() {
        let x = Tensor::<f32>::zeros(&[2, 3]);
        let e = x.masked_fill(&[true; 5], &[2, 3], 0.0).unwrap_err();
        assert!(matches!(e, TensorError::BadShape { op: "masked_fill", .. }));
        assert_eq!(e.to_string(), "masked_fill: invalid shape [2, 3]: the mask needs 6 entries for this shape, got 5");
        let e = x.masked_fill(&[true; 2], &[2], 0.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "masked_fill: incompatible shapes [2, 3] and [2]: dimension 3 vs 2 cannot broadcast (aligned from the right)"
        );
        let e = x.masked_fill(&[true; 12], &[2, 2, 3], 0.0).unwrap_err();
        assert!(matches!(e, TensorError::ShapeMismatch { op: "masked_fill", .. }));
        assert!(e.to_string().contains("without enlarging it"), "{e}");
        let e = Tensor::where_mask(&[true; 4], &[4], &x, &x).unwrap_err();
        assert!(e.to_string().starts_with("where_mask: incompatible shapes [2, 3] and [4]"), "{e}");
        let e = Tensor::where_mask(&[true; 3], &[3], &x, &Tensor::zeros(&[2])).unwrap_err();
        assert!(e.to_string().starts_with("where_mask: incompatible shapes [2, 3] and [2]"), "{e}");
        let e = Tensor::where_mask(&[true], &[3], &x, &x).unwrap_err();
        assert!(matches!(e, TensorError::BadShape { op: "where_mask", .. }), "{e}");
    }
}
