//! Inverted dropout with the keep-mask stored as bits, so the backward reuses exactly the mask the
//! forward drew.

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::par;
use crate::rng::Rng;
use crate::tensor::tape::Backward;
use crate::tensor::Tensor;

/// Bits per mask word.
const WORD: usize = 64;

/// `out[i] = x[i]·scale` where bit `i` of `mask` is set, else 0.
fn apply_mask<T: Float>(x: &[T], mask: &[u64], scale: T) -> Vec<T> {
    let mut out = vec![T::zero(); x.len()];
    par::rows_mut(&mut out, WORD, |w, chunk| {
        let bits = mask[w];
        for (k, (o, &v)) in chunk.iter_mut().zip(&x[w * WORD..]).enumerate() {
            if bits >> k & 1 == 1 {
                *o = v * scale;
            }
        }
    });
    out
}

/// Backward of dropout: the gradient through the same mask and scale.
struct DropoutBackward<T: Float> {
    mask: Vec<u64>,
    scale: T,
}

impl<T: Float> Backward<T> for DropoutBackward<T> {
    fn name(&self) -> &'static str {
        "dropout"
    }

    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![Some(Tensor::from_parts(apply_mask(g.data(), &self.mask, self.scale), g.shape.clone()))])
    }
}

impl<T: Float> Tensor<T> {
    /// Inverted dropout: in training each element is kept with probability `1 − p` and scaled by
    /// `1/(1 − p)`, otherwise zeroed; the mask is drawn from `rng` (one uniform draw per element,
    /// in row-major order), so a seed reproduces it exactly. With `p = 0` this is the identity: the
    /// same tensor, no copy and no draw. `p = 1` gives zeros (no draw). Eval mode is the caller's
    /// choice: not calling it (spectrans-layers' `Ctx::dropout` does that).
    ///
    /// # Shapes
    /// Element-wise: the result has the shape of `self`.
    ///
    /// ```
    /// use spectrans_tensor::{Rng, Tensor};
    /// let x = Tensor::<f32>::ones(&[1000]);
    /// let y = x.dropout(0.25, &mut Rng::seed(0))?;
    /// assert!(y.data().iter().all(|&v| v == 0.0 || v == 1.0 / 0.75));
    /// assert_eq!(x.dropout(0.0, &mut Rng::seed(0))?.to_vec(), x.to_vec());
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn dropout(&self, p: f64, rng: &mut Rng) -> Result<Tensor<T>> {
        if !(0.0..=1.0).contains(&p) {
            return Err(TensorError::invalid("dropout", format!("probability p must be in [0, 1], got {p}")));
        }
        if p == 0.0 {
            return Ok(self.clone());
        }
        let n = self.numel();
        let mut mask = vec![0u64; n.div_ceil(WORD)];
        let scale = if p < 1.0 {
            for (i, word) in mask.iter_mut().enumerate() {
                for k in 0..WORD.min(n - i * WORD) {
                    if rng.uniform() >= p {
                        *word |= 1 << k;
                    }
                }
            }
            T::of(1.0 / (1.0 - p))
        } else {
            T::zero()
        };
        let value = Tensor::from_parts(apply_mask(self.data(), &mask, scale), self.shape.clone());
        if !self.is_tracked() {
            return Ok(value);
        }
        Tensor::from_op(value, &[self], DropoutBackward { mask, scale })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{adjoint_error, analytic_gradients, assert_gradients, small_shape, tensor_from};
    use crate::rng::Rng;
    use proptest::prelude::*;

    /// The expected output from the documented mask rule, drawn from a replica of the generator.
    fn expected(x: &Tensor<f64>, p: f64, seed: u64) -> Vec<f64> {
        let mut rng = Rng::seed(seed);
        x.data().iter().map(|&v| if rng.uniform() >= p { v * (1.0 / (1.0 - p)) } else { 0.0 }).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn grad_dropout_train_with_fixed_seed(shape in small_shape(4), p in 0.05f64..0.95, seed in 0u64..1000) {
            let x = tensor_from::<f64>(&shape, seed, -2.0, 2.0);
            // a fresh generator with the same seed on every call: the same mask each time
            assert_gradients(std::slice::from_ref(&x), |v| v[0].dropout(p, &mut Rng::seed(seed)));
            let y = x.dropout(p, &mut Rng::seed(seed)).unwrap();
            let e = expected(&x, p, seed);
            prop_assert_eq!(y.to_vec(), e.clone());
            // the gradient is the cotangent through the same mask and scale
            let (_, r, g) = analytic_gradients(std::slice::from_ref(&x), |v| v[0].dropout(p, &mut Rng::seed(seed)), 9).unwrap();
            for ((&gi, &ri), &ei) in g[0].data().iter().zip(r.data()).zip(&e) {
                prop_assert_eq!(gi, if ei == 0.0 { 0.0 } else { ri * (1.0 / (1.0 - p)) });
            }
        }

        #[test]
        fn adjoint_dropout_f32(shape in small_shape(3), seed in 0u64..1000) {
            let x = tensor_from::<f32>(&shape, seed, -1.0, 1.0);
            prop_assert!(adjoint_error(&x, |v| v.dropout(0.4, &mut Rng::seed(seed))).unwrap() < 1e-5);
        }
    }

    #[test]
    fn keeps_about_one_minus_p_and_advances_the_generator() {
        let n = 200_000; // > PAR_THRESHOLD: the parallel masking path
        let x = Tensor::<f32>::full(&[n], 2.0);
        let mut rng = Rng::seed(42);
        let y = x.dropout(0.3, &mut rng).unwrap();
        let kept = y.data().iter().filter(|&&v| v != 0.0).count();
        let frac = kept as f64 / n as f64;
        assert!((frac - 0.7).abs() < 0.005, "kept fraction {frac}");
        assert!(y.data().iter().all(|&v| v == 0.0 || v == (2.0f64 / 0.7) as f32));
        let mut replica = Rng::seed(42);
        (0..n).for_each(|_| {
            replica.uniform();
        });
        assert_eq!(rng, replica, "exactly one draw per element");
        let again = x.dropout(0.3, &mut Rng::seed(42)).unwrap();
        assert_eq!(again.to_vec(), y.to_vec(), "deterministic from the seed");
    }

    #[test]
    fn zero_p_is_identity_without_copy_or_draw() {
        // eval mode is `spectrans_layers::Ctx::dropout`'s (tested there): it does not call this
        let x = tensor_from::<f32>(&[3, 5], 1, -1.0, 1.0);
        let mut rng = Rng::seed(7);
        let y = x.dropout(0.0, &mut rng).unwrap();
        assert_eq!(y.data().as_ptr(), x.data().as_ptr(), "no copy");
        assert_eq!(y.to_vec(), x.to_vec());
        assert_eq!(rng, Rng::seed(7), "no draw");
    }

    #[test]
    fn p_one_gives_zeros_and_zero_gradient() {
        let x = tensor_from::<f64>(&[4, 3], 2, -1.0, 1.0);
        let mut rng = Rng::seed(3);
        assert_eq!(x.dropout(1.0, &mut rng).unwrap().to_vec(), vec![0.0; 12]);
        assert_eq!(rng, Rng::seed(3));
        let (_, _, g) = analytic_gradients(&[x], |v| v[0].dropout(1.0, &mut Rng::seed(3)), 1).unwrap();
        assert_eq!(g[0].to_vec(), vec![0.0; 12]);
    }

    #[test]
    fn bad_probability_is_an_error() {
        let x = Tensor::<f32>::ones(&[2]);
        for p in [-0.1, 1.5, f64::NAN] {
            let e = x.dropout(p, &mut Rng::seed(0)).unwrap_err();
            assert!(matches!(e, TensorError::InvalidArgument { op: "dropout", .. }));
            assert_eq!(e.to_string(), format!("dropout: probability p must be in [0, 1], got {p}"));
        }
    }
}
