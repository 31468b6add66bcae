//! Matrix products through a fast GEMM, 2-D and batched, with either operand transposed.

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::ops::{sum_to_shape, when};
use crate::shape::{broadcast_shapes, numel, strides};
use crate::tensor::tape::Backward;
use crate::tensor::Tensor;

/// Which operands of [`Tensor::matmul_t`] are read transposed (last two axes swapped, without a
/// copy).
///
/// ```
/// use spectrans_tensor::{Tensor, Transpose};
/// let x = Tensor::<f64>::ones(&[3, 5]);
/// let w = Tensor::<f64>::ones(&[2, 5]); // (out, in)
/// assert_eq!(x.matmul_t(&w, Transpose::Rhs)?.shape(), &[3, 2]);
/// # Ok::<(), spectrans_tensor::TensorError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Transpose {
    /// `self · rhs`.
    #[default]
    Neither,
    /// `selfᵀ · rhs`.
    Lhs,
    /// `self · rhsᵀ`: the `Linear` product x·Wᵀ with W stored (out, in).
    Rhs,
    /// `selfᵀ · rhsᵀ`.
    Both,
}

impl Transpose {
    /// Every variant, for exhaustive tests and benchmarks.
    pub const ALL: [Transpose; 4] = [Transpose::Neither, Transpose::Lhs, Transpose::Rhs, Transpose::Both];

    /// Whether the left operand is transposed.
    pub fn lhs(self) -> bool {
        matches!(self, Transpose::Lhs | Transpose::Both)
    }

    /// Whether the right operand is transposed.
    pub fn rhs(self) -> bool {
        matches!(self, Transpose::Rhs | Transpose::Both)
    }
}

/// Below this many multiply-adds a product runs on one thread.
pub(crate) const PAR_FLOPS: usize = 1 << 18;

/// Geometry of one (possibly batched) product `op(A) · op(B)`.
struct Plan {
    m: usize,
    k: usize,
    n: usize,
    batch: Vec<usize>,
    out_shape: Vec<usize>,
}

fn plan(a: &[usize], b: &[usize], ta: bool, tb: bool) -> Result<Plan> {
    if a.len() < 2 || b.len() < 2 {
        return Err(TensorError::mismatch("matmul", a, b, "both operands need rank >= 2"));
    }
    let (ra, rb) = (a.len(), b.len());
    let (m, ka) = if ta { (a[ra - 1], a[ra - 2]) } else { (a[ra - 2], a[ra - 1]) };
    let (kb, n) = if tb { (b[rb - 1], b[rb - 2]) } else { (b[rb - 2], b[rb - 1]) };
    if ka != kb {
        return Err(TensorError::mismatch(
            "matmul",
            a,
            b,
            format!(
                "inner dimensions differ: {ka} vs {kb} (lhs{} · rhs{})",
                if ta { "ᵀ" } else { "" },
                if tb { "ᵀ" } else { "" }
            ),
        ));
    }
    let batch = broadcast_shapes("matmul", &a[..ra - 2], &b[..rb - 2])?;
    let mut out_shape = batch.clone();
    out_shape.extend([m, n]);
    Ok(Plan { m, k: ka, n, batch, out_shape })
}

/// Element offset of batch item `flat` of an operand with batch shape `own` inside the broadcast `batch`.
fn batch_offset(flat: usize, batch: &[usize], own: &[usize], mat: usize) -> usize {
    let off = batch.len() - own.len();
    let own_strides = strides(own);
    let mut rem = flat;
    let mut idx = 0;
    for ax in (0..batch.len()).rev() {
        let i = rem % batch[ax];
        rem /= batch[ax];
        if ax >= off && own[ax - off] != 1 {
            idx += i * own_strides[ax - off];
        }
    }
    idx * mat
}

/// `out (+)= op(a) · op(b)` into a fresh or given buffer, for row-major operands.
fn matmul_kernel<T: Float>(a: &Tensor<T>, b: &Tensor<T>, ta: bool, tb: bool) -> Result<Tensor<T>> {
    let p = plan(&a.shape, &b.shape, ta, tb)?;
    let (m, k, n) = (p.m, p.k, p.n);
    let len = numel(&p.out_shape);
    if len == 0 || k == 0 {
        return Ok(Tensor::zeros(&p.out_shape));
    }
    // Every output element is written by the GEMM (read_dst = false), so the buffer is not zeroed
    // first; its length is set once the products are done.
    let mut out: Vec<T> = Vec::with_capacity(len);
    let threads = if m * n * k >= PAR_FLOPS { rayon::current_num_threads() } else { 1 };
    // element strides (row, col) of op(A) and op(B) inside one matrix
    let (a_rs, a_cs) = if ta { (1, m as isize) } else { (k as isize, 1) };
    let (b_rs, b_cs) = if tb { (1, k as isize) } else { (n as isize, 1) };
    let a_batch = &a.shape[..a.rank() - 2];
    let b_batch = &b.shape[..b.rank() - 2];
    // A not transposed and B shared by every batch item: one tall product (B·N rows).
    if !ta && numel(b_batch) == 1 && a_batch == p.batch.as_slice() {
        let rows = numel(&p.batch) * m;
        // SAFETY: buffers have exactly rows×k, k×n and rows×n elements with these strides; the
        // GEMM writes all rows×n outputs before the length is set.
        unsafe {
            T::gemm(
                rows,
                n,
                k,
                out.as_mut_ptr(),
                n as isize,
                1,
                false,
                a.data.as_ptr(),
                a_rs,
                a_cs,
                b.data.as_ptr(),
                b_rs,
                b_cs,
                threads,
            );
            out.set_len(len);
        }
        return Ok(Tensor::from_parts(out, p.out_shape));
    }
    for bi in 0..numel(&p.batch) {
        let ao = batch_offset(bi, &p.batch, a_batch, m * k);
        let bo = batch_offset(bi, &p.batch, b_batch, k * n);
        // SAFETY: offsets address whole matrices inside the operands' buffers.
        unsafe {
            T::gemm(
                m,
                n,
                k,
                out.as_mut_ptr().add(bi * m * n),
                n as isize,
                1,
                false,
                a.data.as_ptr().add(ao),
                a_rs,
                a_cs,
                b.data.as_ptr().add(bo),
                b_rs,
                b_cs,
                threads,
            );
        }
    }
    // SAFETY: the batch loop wrote every one of the `len` elements.
    unsafe { out.set_len(len) };
    Ok(Tensor::from_parts(out, p.out_shape))
}

struct MatmulBackward<T: Float> {
    a: Tensor<T>,
    b: Tensor<T>,
    ta: bool,
    tb: bool,
}

impl<T: Float> Backward<T> for MatmulBackward<T> {
    fn name(&self) -> &'static str {
        "matmul"
    }

    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let (a, b, ta, tb) = (&self.a, &self.b, self.ta, self.tb);
        // C = op(A)·op(B):  dop(A) = G·op(B)ᵀ,  dop(B) = op(A)ᵀ·G
        let ga = when(needs[0], || {
            let full = if ta { matmul_kernel(b, g, tb, true)? } else { matmul_kernel(g, b, false, !tb)? };
            Ok(sum_to_shape(&full, &a.shape))
        })?;
        let gb = when(needs[1], || {
            let b_shared = b.rank() == 2;
            let full = if b_shared && !ta && !tb {
                // fold the batch into the inner dimension: one GEMM instead of a batched sum
                let rows = a.numel() / a.shape[a.rank() - 1];
                let a2 = Tensor { shape: vec![rows, a.shape[a.rank() - 1]], ..a.clone() };
                let g2 = Tensor { shape: vec![rows, g.shape[g.rank() - 1]], ..g.detach() };
                matmul_kernel(&a2, &g2, true, false)?
            } else if b_shared && !ta && tb {
                let rows = a.numel() / a.shape[a.rank() - 1];
                let a2 = Tensor { shape: vec![rows, a.shape[a.rank() - 1]], ..a.clone() };
                let g2 = Tensor { shape: vec![rows, g.shape[g.rank() - 1]], ..g.detach() };
                matmul_kernel(&g2, &a2, true, false)?
            } else if tb {
                matmul_kernel(g, a, true, ta)?
            } else {
                matmul_kernel(a, g, !ta, false)?
            };
            Ok(sum_to_shape(&full, &b.shape))
        })?;
        Ok(vec![ga, gb])
    }
}

impl<T: Float> Tensor<T> {
    /// Matrix product `self · rhs`.
    ///
    /// # Shapes
    /// `self` (…, m, k) and `rhs` (…, k, n) → (…, m, n); the leading (batch) axes broadcast. A
    /// 2-D `rhs` (k, n) multiplies every matrix of a batched `self` in one GEMM.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let a = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
    /// let i = Tensor::<f32>::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[2, 2])?;
    /// assert_eq!(a.matmul(&i)?.to_vec(), a.to_vec());
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn matmul(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.matmul_t(rhs, Transpose::Neither)
    }

    /// Matrix product with either operand transposed (no copy is made): `op(self) · op(rhs)` where
    /// `op` transposes the last two axes of the operands named by `transpose`.
    /// `x.matmul_t(&w, Transpose::Rhs)` is the `Linear` product x·Wᵀ with W stored (out, in).
    ///
    /// # Shapes
    /// `op(self)` (…, m, k), `op(rhs)` (…, k, n) → (…, m, n), batch axes broadcast.
    ///
    /// ```
    /// use spectrans_tensor::{Tensor, Transpose};
    /// let x = Tensor::<f64>::ones(&[4, 3, 5]);   // (batch, rows, in)
    /// let w = Tensor::<f64>::ones(&[2, 5]);      // (out, in)
    /// assert_eq!(x.matmul_t(&w, Transpose::Rhs)?.shape(), &[4, 3, 2]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn matmul_t(&self, rhs: &Tensor<T>, transpose: Transpose) -> Result<Tensor<T>> {
        let (trans_self, trans_rhs) = (transpose.lhs(), transpose.rhs());
        let value = matmul_kernel(self, rhs, trans_self, trans_rhs)?;
        if !Tensor::any_tracked(&[self, rhs]) {
            return Ok(value);
        }
        Tensor::from_op(
            value,
            &[self, rhs],
            MatmulBackward { a: self.detach(), b: rhs.detach(), ta: trans_self, tb: trans_rhs },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{adjoint_error, assert_gradients, tensor_from};
    use proptest::prelude::*;

    fn naive(a: &Tensor<f64>, b: &Tensor<f64>) -> Vec<f64> {
        let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1]);
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|l| a.data[i * k + l] * b.data[l * n + j]).sum();
            }
        }
        out
    }

    fn transpose(x: &Tensor<f64>) -> Tensor<f64> {
        let (r, c) = (x.shape[0], x.shape[1]);
        Tensor::from_parts((0..r * c).map(|i| x.data[(i % r) * c + i / r]).collect(), vec![c, r])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn values_match_naive(m in 1usize..20, k in 1usize..20, n in 1usize..20, tr in 0usize..4, seed in 0u64..1000) {
            let tr = Transpose::ALL[tr];
            let (ta, tb) = (tr.lhs(), tr.rhs());
            let a = tensor_from::<f64>(&[m, k], seed, -1.0, 1.0);
            let b = tensor_from::<f64>(&[k, n], seed + 1, -1.0, 1.0);
            let want = naive(&a, &b);
            let a_in = if ta { transpose(&a) } else { a.clone() };
            let b_in = if tb { transpose(&b) } else { b.clone() };
            let got = a_in.matmul_t(&b_in, tr).unwrap();
            for (g, w) in got.data().iter().zip(&want) {
                prop_assert!((g - w).abs() < 1e-12);
            }
        }

        #[test]
        fn grad_batched_and_broadcast(m in 1usize..4, k in 1usize..4, n in 1usize..4, tr in 0usize..4,
                                      kind in 0usize..4, seed in 0u64..1000) {
            let tr = Transpose::ALL[tr];
            let (ta, tb) = (tr.lhs(), tr.rhs());
            // batch layouts: (2,·,·)x(·,·) , (2,·,·)x(2,·,·), (3,1,·,·)x(2,·,·), (·,·)x(2,·,·)
            let (ba, bb): (Vec<usize>, Vec<usize>) = match kind {
                0 => (vec![2], vec![]),
                1 => (vec![2], vec![2]),
                2 => (vec![3, 1], vec![2]),
                _ => (vec![], vec![2]),
            };
            let mut sa = ba.clone();
            sa.extend(if ta { [k, m] } else { [m, k] });
            let mut sb = bb.clone();
            sb.extend(if tb { [n, k] } else { [k, n] });
            let a = tensor_from::<f64>(&sa, seed, -1.0, 1.0);
            let b = tensor_from::<f64>(&sb, seed + 3, -1.0, 1.0);
            assert_gradients(&[a.clone(), b.clone()], |v| v[0].matmul_t(&v[1], tr));
            let af = a.cast::<f32>();
            let bf = b.cast::<f32>();
            prop_assert!(adjoint_error(&af, |v| v.matmul_t(&bf, tr)).unwrap() < 1e-5);
            prop_assert!(adjoint_error(&bf, |v| af.matmul_t(v, tr)).unwrap() < 1e-5);
        }
    }

    #[test]
    fn shape_errors_name_the_op_and_shapes() {
        let a = Tensor::<f32>::zeros(&[2, 3]);
        let e = a.matmul(&Tensor::zeros(&[4, 5])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "matmul: incompatible shapes [2, 3] and [4, 5]: inner dimensions differ: 3 vs 4 (lhs · rhs)"
        );
        assert!(a.matmul(&Tensor::zeros(&[3])).unwrap_err().to_string().contains("rank >= 2"));
        let e = Tensor::<f32>::zeros(&[2, 2, 3]).matmul(&Tensor::zeros(&[3, 3, 4])).unwrap_err();
        assert!(e.to_string().contains("cannot broadcast"), "{e}");
    }

    #[test]
    fn large_product_uses_threads_and_stays_exact() {
        let a = tensor_from::<f64>(&[70, 90], 1, -1.0, 1.0);
        let b = tensor_from::<f64>(&[90, 80], 2, -1.0, 1.0);
        let got = a.matmul(&b).unwrap();
        for (g, w) in got.data().iter().zip(naive(&a, &b)) {
            assert!((g - w).abs() < 1e-12);
        }
    }
}
