//! Element-wise arithmetic with numpy broadcasting, and the scalar variants.

use crate::error::Result;
use crate::float::Float;
use crate::ops::{sum_to_shape, when};
use crate::par;
use crate::shape::{broadcast_shapes, broadcast_strides, for_each_broadcast, numel};
use crate::tensor::tape::Backward;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    fn name(self) -> &'static str {
        match self {
            BinOp::Add => "add",
            BinOp::Sub => "sub",
            BinOp::Mul => "mul",
            BinOp::Div => "div",
        }
    }

    #[inline(always)]
    fn apply<T: Float>(self, a: T, b: T) -> T {
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
        }
    }
}

/// Broadcasting kernel: the result of `op` on `a` and `b`, a constant.
fn broadcast_kernel<T: Float>(op: BinOp, a: &Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>> {
    if a.shape == b.shape {
        let out = match op {
            BinOp::Add => par::zip(&a.data, &b.data, |x, y| x + y),
            BinOp::Sub => par::zip(&a.data, &b.data, |x, y| x - y),
            BinOp::Mul => par::zip(&a.data, &b.data, |x, y| x * y),
            BinOp::Div => par::zip(&a.data, &b.data, |x, y| x / y),
        };
        return Ok(Tensor::from_parts(out, a.shape.clone()));
    }
    let shape = broadcast_shapes(op.name(), &a.shape, &b.shape)?;
    // Fast path: one operand is a trailing block repeated over the other's rows, leading 1s
    // aside (a bias (D) or a positional table (1, N, D) over (B, N, D)), in one pass.
    // (a block of no axes — a scalar-like operand — keeps the general path: rows of length 1)
    let repeats = |t: &Tensor<T>| {
        let block = &t.shape[t.shape.iter().take_while(|&&d| d == 1).count()..];
        t.numel() > 0 && !block.is_empty() && shape.ends_with(block)
    };
    if a.shape == shape && repeats(b) {
        return Ok(Tensor::from_parts(repeated_block(op, &a.data, &b.data, false), shape));
    }
    if b.shape == shape && repeats(a) {
        return Ok(Tensor::from_parts(repeated_block(op, &b.data, &a.data, true), shape));
    }
    let sa = broadcast_strides(&a.shape, &shape);
    let sb = broadcast_strides(&b.shape, &shape);
    let mut out = vec![T::zero(); numel(&shape)];
    let (ad, bd) = (&a.data, &b.data);
    for_each_broadcast(&shape, &sa, &sb, |o, i, j| out[o] = op.apply(ad[i], bd[j]));
    Ok(Tensor::from_parts(out, shape))
}

/// `op` between `big` and `small` repeated over its rows, `small` the left operand when
/// `small_first`.
fn repeated_block<T: Float>(op: BinOp, big: &[T], small: &[T], small_first: bool) -> Vec<T> {
    match (op, small_first) {
        (BinOp::Add, _) => over_rows(big, small, |x, y| x + y),
        (BinOp::Mul, _) => over_rows(big, small, |x, y| x * y),
        (BinOp::Sub, false) => over_rows(big, small, |x, y| x - y),
        (BinOp::Sub, true) => over_rows(big, small, |x, y| y - x),
        (BinOp::Div, false) => over_rows(big, small, |x, y| x / y),
        (BinOp::Div, true) => over_rows(big, small, |x, y| y / x),
    }
}

/// `out[r·len + j] = f(big[r·len + j], small[j])`: `small` (length `len` > 0) repeated over the
/// rows of `big`, written once.
fn over_rows<T: Float>(big: &[T], small: &[T], f: impl Fn(T, T) -> T + Sync) -> Vec<T> {
    assert!(
        !small.is_empty() && big.len().is_multiple_of(small.len()),
        "over_rows: a non-empty block dividing the data"
    );
    let mut out = Vec::with_capacity(big.len());
    par::rows_mut(&mut out.spare_capacity_mut()[..big.len()], small.len(), |i, row| {
        for ((o, &x), &y) in row.iter_mut().zip(&big[i * small.len()..]).zip(small) {
            o.write(f(x, y));
        }
    });
    // SAFETY: the rows cover all `big.len()` elements (a multiple of `small.len()`), each written.
    unsafe { out.set_len(big.len()) };
    out
}

struct BinaryBackward<T: Float> {
    op: BinOp,
    a: Tensor<T>,
    b: Tensor<T>,
}

impl<T: Float> Backward<T> for BinaryBackward<T> {
    fn name(&self) -> &'static str {
        self.op.name()
    }

    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let (a, b) = (&self.a, &self.b);
        let ga = when(needs[0], || {
            let full = match self.op {
                BinOp::Add | BinOp::Sub => g.detach(),
                BinOp::Mul => broadcast_kernel(BinOp::Mul, g, b)?,
                BinOp::Div => broadcast_kernel(BinOp::Div, g, b)?,
            };
            Ok(sum_to_shape(&full, &a.shape))
        })?;
        let gb = when(needs[1], || {
            let full = match self.op {
                BinOp::Add => g.detach(),
                BinOp::Sub => g.map(|v| -v),
                BinOp::Mul => broadcast_kernel(BinOp::Mul, g, a)?,
                // d(a/b)/db = -a/b²
                BinOp::Div => {
                    let q = broadcast_kernel(BinOp::Div, a, b)?;
                    let q = broadcast_kernel(BinOp::Div, &q, b)?;
                    broadcast_kernel(BinOp::Mul, g, &q)?.map(|v| -v)
                }
            };
            Ok(sum_to_shape(&full, &b.shape))
        })?;
        Ok(vec![ga, gb])
    }
}

fn binary<T: Float>(op: BinOp, a: &Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>> {
    let value = broadcast_kernel(op, a, b)?;
    if !Tensor::any_tracked(&[a, b]) {
        return Ok(value);
    }
    Tensor::from_op(value, &[a, b], BinaryBackward { op, a: a.detach(), b: b.detach() })
}

struct ScaleBackward<T: Float> {
    factor: T,
}

impl<T: Float> Backward<T> for ScaleBackward<T> {
    fn name(&self) -> &'static str {
        "mul_scalar"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let f = self.factor;
        Ok(vec![Some(g.map(|v| v * f))])
    }
}

impl<T: Float> Tensor<T> {
    /// `self + rhs` element-wise, with numpy broadcasting.
    ///
    /// # Shapes
    /// `self` and `rhs` broadcast to a common shape (aligned from the right, size-1 axes stretch);
    /// the result has that shape.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f32>::ones(&[2, 3]);
    /// let bias = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0], &[3])?;
    /// assert_eq!(x.add(&bias)?.to_vec(), vec![2.0, 3.0, 4.0, 2.0, 3.0, 4.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn add(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        binary(BinOp::Add, self, rhs)
    }

    /// `self - rhs` element-wise, with numpy broadcasting.
    ///
    /// # Shapes
    /// As [`Tensor::add`].
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![3.0, 5.0], &[2])?;
    /// assert_eq!(x.sub(&Tensor::scalar(1.0))?.to_vec(), vec![2.0, 4.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn sub(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        binary(BinOp::Sub, self, rhs)
    }

    /// `self * rhs` element-wise, with numpy broadcasting.
    ///
    /// # Shapes
    /// As [`Tensor::add`].
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
    /// let col = Tensor::<f64>::from_vec(vec![10.0, 100.0], &[2, 1])?;
    /// assert_eq!(x.mul(&col)?.to_vec(), vec![10.0, 20.0, 300.0, 400.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn mul(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        binary(BinOp::Mul, self, rhs)
    }

    /// `self / rhs` element-wise, with numpy broadcasting.
    ///
    /// # Shapes
    /// As [`Tensor::add`].
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 4.0], &[2])?;
    /// assert_eq!(x.div(&Tensor::scalar(2.0))?.to_vec(), vec![0.5, 2.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn div(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        binary(BinOp::Div, self, rhs)
    }

    /// `self · factor`.
    ///
    /// # Shapes
    /// Same shape as `self`.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// assert_eq!(Tensor::<f32>::ones(&[2]).mul_scalar(3.0)?.to_vec(), vec![3.0, 3.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// A tracked `self` recorded before the last backward pass on its tape.
    pub fn mul_scalar(&self, factor: T) -> Result<Tensor<T>> {
        let value = self.map(|v| v * factor);
        if !self.is_tracked() {
            return Ok(value);
        }
        Tensor::from_op(value, &[self], ScaleBackward { factor })
    }

    /// `self + c`.
    ///
    /// # Shapes
    /// Same shape as `self`.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// assert_eq!(Tensor::<f32>::ones(&[2]).add_scalar(1.5)?.to_vec(), vec![2.5, 2.5]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// A tracked `self` recorded before the last backward pass on its tape.
    pub fn add_scalar(&self, c: T) -> Result<Tensor<T>> {
        let value = self.map(|v| v + c);
        if !self.is_tracked() {
            return Ok(value);
        }
        Tensor::from_op(value, &[self], ScaleBackward { factor: T::one() })
    }

    /// `-self`.
    ///
    /// # Shapes
    /// Same shape as `self`.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// assert_eq!(Tensor::<f32>::ones(&[1]).neg()?.to_vec(), vec![-1.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Tensor::mul_scalar`].
    pub fn neg(&self) -> Result<Tensor<T>> {
        self.mul_scalar(-T::one())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{assert_gradients, shapes_broadcasting_with, tensor_from};
    use proptest::prelude::*;

    /// `op` by the definition: every output element through the broadcast strides.
    fn strided_reference(op: BinOp, a: &Tensor<f64>, b: &Tensor<f64>) -> (Vec<usize>, Vec<f64>) {
        let shape = broadcast_shapes("test", &a.shape, &b.shape).unwrap();
        let (ia, ib) = (broadcast_strides(&a.shape, &shape), broadcast_strides(&b.shape, &shape));
        let mut want = vec![0.0; numel(&shape)];
        for_each_broadcast(&shape, &ia, &ib, |o, i, j| want[o] = op.apply(a.data[i], b.data[j]));
        (shape, want)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn grad_add_sub_mul_div((sa, sb) in shapes_broadcasting_with(3), seed in 0u64..1000) {
            let a = tensor_from(&sa, seed, 0.5, 2.0);
            let b = tensor_from(&sb, seed + 1, 0.5, 2.0); // away from 0 for div
            assert_gradients(&[a.clone(), b.clone()], |x| x[0].add(&x[1]));
            assert_gradients(&[a.clone(), b.clone()], |x| x[0].sub(&x[1]));
            assert_gradients(&[a.clone(), b.clone()], |x| x[0].mul(&x[1]));
            assert_gradients(&[a, b], |x| x[0].div(&x[1]));
        }

        #[test]
        fn values_match_the_strided_definition((sa, sb) in shapes_broadcasting_with(4), seed in 0u64..1000) {
            // the repeated-block fast paths (either operand, leading 1s) against plain strides
            let (a, b) = (tensor_from::<f64>(&sa, seed, 0.5, 2.0), tensor_from::<f64>(&sb, seed + 1, 0.5, 2.0));
            for op in [BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div] {
                let (shape, want) = strided_reference(op, &a, &b);
                let got = broadcast_kernel(op, &a, &b).unwrap();
                prop_assert_eq!(got.shape(), &shape[..]);
                prop_assert_eq!(got.to_vec(), want, "{:?} {:?} {:?}", op, sa, sb);
            }
        }

        #[test]
        fn grad_scalar_ops(shape in crate::gradcheck::small_shape(3), seed in 0u64..1000) {
            let a = tensor_from(&shape, seed, -2.0, 2.0);
            assert_gradients(std::slice::from_ref(&a), |x| x[0].mul_scalar(-1.7));
            assert_gradients(std::slice::from_ref(&a), |x| x[0].add_scalar(0.3));
            assert_gradients(&[a], |x| x[0].neg());
        }
    }

    #[test]
    fn edge_shapes_match_the_strided_definition() {
        // rank 0, empty axes, size-1 axes on both sides, a scalar-like operand on either side
        let cases: [(&[usize], &[usize]); 7] = [
            (&[], &[]),
            (&[], &[2, 3]),
            (&[1], &[2, 3]),
            (&[0, 3], &[3]),
            (&[2, 0], &[1, 1]),
            (&[2, 1, 3], &[4, 1]),
            (&[1, 1], &[3]),
        ];
        for (sa, sb) in cases {
            for (sa, sb) in [(sa, sb), (sb, sa)] {
                let (a, b) = (tensor_from::<f64>(sa, 1, 0.5, 2.0), tensor_from::<f64>(sb, 2, 0.5, 2.0));
                for op in [BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div] {
                    let (shape, want) = strided_reference(op, &a, &b);
                    let got = broadcast_kernel(op, &a, &b).unwrap();
                    assert_eq!((got.shape(), got.to_vec()), (&shape[..], want), "{op:?} {sa:?} {sb:?}");
                }
            }
        }
    }

    #[test]
    fn broadcast_values() {
        let a = Tensor::<f64>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3]).unwrap();
        let b = Tensor::<f64>::from_vec(vec![10., 20.], &[2, 1]).unwrap();
        assert_eq!(a.add(&b).unwrap().to_vec(), vec![11., 12., 13., 24., 25., 26.]);
        assert_eq!(b.sub(&a).unwrap().to_vec(), vec![9., 8., 7., 16., 15., 14.]);
        let row = Tensor::<f64>::from_vec(vec![1., 2., 3.], &[1, 1, 3]).unwrap();
        assert_eq!(row.sub(&a).unwrap().to_vec(), vec![0., 0., 0., -3., -3., -3.]);
        assert_eq!(a.sub(&row).unwrap().shape(), &[1, 2, 3]);
        let e = a.mul(&Tensor::ones(&[2])).unwrap_err();
        assert!(e.to_string().starts_with("mul: incompatible shapes [2, 3] and [2]"), "{e}");
    }
}
