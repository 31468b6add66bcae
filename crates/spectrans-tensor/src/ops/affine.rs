//! The fused affine map over the last axis, `x·Wᵀ + b + r`: one GEMM that accumulates onto the
//! bias (and an optional addend, such as a residual or a parallel branch) instead of a product
//! followed by separate broadcast additions, each of which reads and writes the whole output.

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::ops::matmul::PAR_FLOPS;
use crate::ops::{sum_to_shape, when};
use crate::par;
use crate::tensor::tape::Backward;
use crate::tensor::Tensor;

impl<T: Float> Tensor<T> {
    /// The affine map `self·Wᵀ + bias + addend` over the last axis, with `weight` stored
    /// (out, in) as `nn.Linear` keeps it. Equal to `matmul_t(weight, Transpose::Rhs)` followed by
    /// the two additions, up to rounding, but the GEMM accumulates onto `bias + addend` in the
    /// output buffer: one pass over the output instead of three.
    ///
    /// # Shapes
    /// `self` (…, in), `weight` (out, in), `bias` (out), `addend` (…, out) → (…, out).
    ///
    /// ```
    /// use spectrans_tensor::{Tensor, Transpose};
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
    /// let w = Tensor::from_vec(vec![1.0, 0.0, 1.0, 1.0, 0.0, 2.0], &[3, 2])?;
    /// let b = Tensor::from_vec(vec![0.5, 0.0, -1.0], &[3])?;
    /// let r = Tensor::ones(&[2, 3]);
    /// let y = x.affine(&w, Some(&b), Some(&r))?;
    /// assert_eq!(y.to_vec(), vec![2.5, 4.0, 4.0, 4.5, 8.0, 8.0]);
    /// let unfused = x.matmul_t(&w, Transpose::Rhs)?.add(&b)?.add(&r)?;
    /// assert_eq!(y.to_vec(), unfused.to_vec());
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn affine(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        addend: Option<&Tensor<T>>,
    ) -> Result<Tensor<T>> {
        let (rows, k, n) = affine_geometry(self, weight, bias, addend)?;
        let mut out_shape = self.shape.clone();
        *out_shape.last_mut().expect("rank checked above") = n;
        let len = rows * n;
        let value = if len == 0 {
            Tensor::zeros(&out_shape)
        } else {
            let mut out: Vec<T> = Vec::with_capacity(len);
            // the start value the GEMM accumulates onto: bias + addend, written row by row
            let (b, r) = (bias.map(|b| b.data()), addend.map(|r| r.data()));
            let accumulate = b.is_some() || r.is_some();
            if accumulate {
                par::rows_mut(&mut out.spare_capacity_mut()[..len], n, |i, row| match (b, r) {
                    (Some(b), Some(r)) => {
                        for ((o, &c), &s) in row.iter_mut().zip(b).zip(&r[i * n..(i + 1) * n]) {
                            o.write(s + c);
                        }
                    }
                    (Some(b), None) => {
                        for (o, &c) in row.iter_mut().zip(b) {
                            o.write(c);
                        }
                    }
                    (None, Some(r)) => {
                        for (o, &s) in row.iter_mut().zip(&r[i * n..(i + 1) * n]) {
                            o.write(s);
                        }
                    }
                    (None, None) => unreachable!("accumulate needs a start value"),
                });
            }
            let threads = if rows * n * k >= PAR_FLOPS { rayon::current_num_threads() } else { 1 };
            if k == 0 {
                if accumulate {
                    // SAFETY: the start value filled all `len` elements.
                    unsafe { out.set_len(len) };
                } else {
                    out.resize(len, T::zero());
                }
            } else {
                // SAFETY: `self` is rows × k, `weight` n × k (read transposed), `out` has room for
                // rows × n, initialised when `accumulate`; otherwise the GEMM writes every output
                // before the length is set.
                unsafe {
                    T::gemm(
                        rows,
                        n,
                        k,
                        out.as_mut_ptr(),
                        n as isize,
                        1,
                        accumulate,
                        self.data.as_ptr(),
                        k as isize,
                        1,
                        weight.data.as_ptr(),
                        1,
                        k as isize,
                        threads,
                    );
                    out.set_len(len);
                }
            }
            Tensor::from_parts(out, out_shape)
        };
        let inputs: Vec<&Tensor<T>> = [Some(self), Some(weight), bias, addend].into_iter().flatten().collect();
        if !Tensor::any_tracked(&inputs) {
            return Ok(value);
        }
        let saved = AffineBackward {
            x: self.detach(),
            weight: weight.detach(),
            has_bias: bias.is_some(),
            has_addend: addend.is_some(),
        };
        Tensor::from_op(value, &inputs, saved)
    }
}

/// Checks the operands of [`Tensor::affine`]: (rows, in, out).
fn affine_geometry<T: Float>(
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    addend: Option<&Tensor<T>>,
) -> Result<(usize, usize, usize)> {
    let ws = weight.shape();
    if x.rank() == 0 || ws.len() != 2 || ws[1] != x.shape[x.rank() - 1] {
        return Err(TensorError::mismatch("affine", x.shape(), ws, "needs x (…, in) and weight (out, in)"));
    }
    let (n, k) = (ws[0], ws[1]);
    if let Some(b) = bias {
        if b.shape() != [n] {
            return Err(TensorError::mismatch("affine", ws, b.shape(), format!("bias must be ({n})")));
        }
    }
    if let Some(r) = addend {
        let rs = r.shape();
        if rs.len() != x.rank() || rs[..rs.len() - 1] != x.shape[..x.rank() - 1] || rs[rs.len() - 1] != n {
            return Err(TensorError::mismatch(
                "affine",
                x.shape(),
                rs,
                format!("addend must be (…, {n}) like the output"),
            ));
        }
    }
    let rows = x.shape[..x.rank() - 1].iter().product();
    Ok((rows, k, n))
}

struct AffineBackward<T: Float> {
    x: Tensor<T>,
    weight: Tensor<T>,
    has_bias: bool,
    has_addend: bool,
}

impl<T: Float> Backward<T> for AffineBackward<T> {
    fn name(&self) -> &'static str {
        "affine"
    }

    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let (x, w) = (&self.x, &self.weight);
        let k = w.shape()[1];
        let rows: usize = x.shape()[..x.rank() - 1].iter().product();
        // y = x·Wᵀ:  dx = g·W,  dW = gᵀ·x (the leading axes folded into rows)
        let gx = when(needs[0], || g.matmul(w)?.reshape(x.shape()))?;
        let gw = when(needs[1], || {
            let g2 = g.detach().reshape(&[rows, w.shape()[0]])?;
            let x2 = x.reshape(&[rows, k])?;
            g2.matmul_t(&x2, crate::Transpose::Lhs)
        })?;
        let mut grads = vec![gx, gw];
        let mut next = 2;
        if self.has_bias {
            grads.push(when(needs[next], || Ok(sum_to_shape(g, &[w.shape()[0]])))?);
            next += 1;
        }
        if self.has_addend {
            grads.push(when(needs[next], || Ok(g.detach()))?);
        }
        Ok(grads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{assert_gradients, tensor_from};
    use crate::Transpose;
    use proptest::prelude::*;

    fn unfused(x: &Tensor<f64>, w: &Tensor<f64>, b: Option<&Tensor<f64>>, r: Option<&Tensor<f64>>) -> Tensor<f64> {
        let mut y = x.matmul_t(w, Transpose::Rhs).unwrap();
        if let Some(b) = b {
            y = y.add(b).unwrap();
        }
        if let Some(r) = r {
            y = y.add(r).unwrap();
        }
        y
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn equals_product_plus_sums(lead in proptest::collection::vec(1usize..4, 1..3), k in 0usize..7, n in 1usize..7,
                                    bias: bool, addend: bool, seed in 0u64..1000) {
            let mut xs = lead.clone();
            xs.push(k);
            let mut ys = lead;
            ys.push(n);
            let x = tensor_from::<f64>(&xs, seed, -1.0, 1.0);
            let w = tensor_from::<f64>(&[n, k], seed + 1, -1.0, 1.0);
            let b = bias.then(|| tensor_from::<f64>(&[n], seed + 2, -1.0, 1.0));
            let r = addend.then(|| tensor_from::<f64>(&ys, seed + 3, -1.0, 1.0));
            let got = x.affine(&w, b.as_ref(), r.as_ref()).unwrap();
            let want = unfused(&x, &w, b.as_ref(), r.as_ref());
            prop_assert_eq!(got.shape(), want.shape());
            for (g, e) in got.data().iter().zip(want.data()) {
                prop_assert!((g - e).abs() < 1e-12, "{} vs {}", g, e);
            }
        }

        #[test]
        fn gradients_match_finite_differences(rows in 1usize..5, k in 1usize..6, n in 1usize..6,
                                              bias: bool, addend: bool, seed in 0u64..1000) {
            let mut inputs = vec![tensor_from::<f64>(&[rows, k], seed, -1.0, 1.0), tensor_from::<f64>(&[n, k], seed + 1, -1.0, 1.0)];
            if bias {
                inputs.push(tensor_from::<f64>(&[n], seed + 2, -1.0, 1.0));
            }
            if addend {
                inputs.push(tensor_from::<f64>(&[rows, n], seed + 3, -1.0, 1.0));
            }
            assert_gradients(&inputs, |v| {
                let b = bias.then(|| &v[2]);
                let r = addend.then(|| &v[if bias { 3 } else { 2 }]);
                v[0].affine(&v[1], b, r)
            });
        }
    }

    #[test]
    fn a_large_product_runs_in_parallel_and_agrees() {
        let x = tensor_from::<f32>(&[3, 100, 64], 1, -1.0, 1.0);
        let w = tensor_from::<f32>(&[48, 64], 2, -1.0, 1.0);
        let b = tensor_from::<f32>(&[48], 3, -1.0, 1.0);
        let r = tensor_from::<f32>(&[3, 100, 48], 4, -1.0, 1.0);
        let got = x.affine(&w, Some(&b), Some(&r)).unwrap();
        let want = x.matmul_t(&w, Transpose::Rhs).unwrap().add(&b).unwrap().add(&r).unwrap();
        for (g, e) in got.data().iter().zip(want.data()) {
            assert!((g - e).abs() <= 1e-5 * (1.0 + e.abs()), "{g} vs {e}");
        }
    }

    #[test]
    fn wrong_shapes_are_errors_that_name_the_op() {
        let x = Tensor::<f64>::zeros(&[2, 3]);
        let w = Tensor::zeros(&[4, 3]);
        for e in [
            x.affine(&Tensor::zeros(&[4, 2]), None, None).unwrap_err(),
            x.affine(&w, Some(&Tensor::zeros(&[3])), None).unwrap_err(),
            x.affine(&w, None, Some(&Tensor::zeros(&[2, 3]))).unwrap_err(),
            x.affine(&w, None, Some(&Tensor::zeros(&[4]))).unwrap_err(),
            Tensor::<f64>::zeros(&[]).affine(&w, None, None).unwrap_err(),
        ] {
            assert!(e.to_string().contains("affine"), "{e}");
        }
    }
}
