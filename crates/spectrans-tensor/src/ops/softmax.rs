//! Softmax and log-softmax along one axis, each one fused kernel with a hand-written backward.
//!
//! Both subtract the maximum along the axis before exponentiating, so large logits never
//! overflow. When the axis is the last one every slice is a contiguous row, processed by a
//! dedicated row kernel; any other axis is handled block by block with the axis strided.

use crate::error::Result;
use crate::float::Float;
use crate::par;
use crate::shape::{normalize_axis, numel};
use crate::tensor::tape::Backward;
use crate::tensor::Tensor;

/// Geometry of an axis inside a contiguous shape: `(outer, len, inner)`, where the tensor is seen as
/// `outer` blocks of `len × inner` and the axis runs over `len` with stride `inner`.
fn axis_geometry(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (numel(&shape[..axis]), shape[axis], numel(&shape[axis + 1..]))
}

/// Largest element of a row (−∞ when empty; NaN entries are skipped, and then propagate
/// through the exponentials), with eight independent lanes so the loop vectorises.
#[inline]
pub(crate) fn row_max<T: Float>(x: &[T]) -> T {
    const L: usize = 8;
    let mut acc = [T::neg_infinity(); L];
    let chunks = x.chunks_exact(L);
    let mut m = chunks.remainder().iter().fold(T::neg_infinity(), |a, &v| if v > a { v } else { a });
    for c in chunks {
        for i in 0..L {
            acc[i] = if c[i] > acc[i] { c[i] } else { acc[i] };
        }
    }
    for a in acc {
        m = if a > m { a } else { m };
    }
    m
}

/// Sum of a row with eight independent lanes, combined in a fixed order (deterministic).
#[inline]
pub(crate) fn row_sum<T: Float>(x: &[T]) -> T {
    const L: usize = 8;
    let mut acc = [T::zero(); L];
    let chunks = x.chunks_exact(L);
    let tail: T = chunks.remainder().iter().copied().sum();
    for c in chunks {
        for i in 0..L {
            acc[i] += c[i];
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Softmax (or log-softmax when `log`) of one contiguous row `x` into `out`.
#[inline]
fn softmax_row<T: Float>(x: &[T], out: &mut [T], log: bool) {
    let m = row_max(x);
    for (o, &v) in out.iter_mut().zip(x) {
        *o = (v - m).exp();
    }
    let s = row_sum(out);
    if log {
        let lse = m + s.ln();
        for (o, &v) in out.iter_mut().zip(x) {
            *o = v - lse;
        }
    } else {
        let inv = T::one() / s;
        out.iter_mut().for_each(|o| *o *= inv);
    }
}

/// Softmax (or log-softmax) of one `len × inner` block along its first axis (stride `inner`).
fn softmax_block<T: Float>(x: &[T], out: &mut [T], len: usize, inner: usize, log: bool) {
    let mut m = vec![T::neg_infinity(); inner];
    for j in 0..len {
        for (mi, &v) in m.iter_mut().zip(&x[j * inner..(j + 1) * inner]) {
            *mi = mi.max(v);
        }
    }
    let mut s = vec![T::zero(); inner];
    for j in 0..len {
        let (xr, or) = (&x[j * inner..(j + 1) * inner], &mut out[j * inner..(j + 1) * inner]);
        for (((o, &v), &mi), si) in or.iter_mut().zip(xr).zip(&m).zip(s.iter_mut()) {
            let e = (v - mi).exp();
            *si += e;
            *o = e;
        }
    }
    if log {
        // reuse `m` as the log-sum-exp
        m.iter_mut().zip(&s).for_each(|(mi, &si)| *mi += si.ln());
        for j in 0..len {
            let (xr, or) = (&x[j * inner..(j + 1) * inner], &mut out[j * inner..(j + 1) * inner]);
            for ((o, &v), &lse) in or.iter_mut().zip(xr).zip(&m) {
                *o = v - lse;
            }
        }
    } else {
        s.iter_mut().for_each(|si| *si = T::one() / *si);
        for or in out.chunks_exact_mut(inner) {
            or.iter_mut().zip(&s).for_each(|(o, &inv)| *o *= inv);
        }
    }
}

/// The forward kernel: a constant shaped like `x`.
fn softmax_kernel<T: Float>(x: &Tensor<T>, axis: usize, log: bool) -> Tensor<T> {
    let (_, len, inner) = axis_geometry(&x.shape, axis);
    let mut out = vec![T::zero(); x.numel()];
    let xd = x.data();
    if inner == 1 {
        par::rows_mut(&mut out, len, |r, row| softmax_row(&xd[r * len..(r + 1) * len], row, log));
    } else {
        let block = len * inner;
        par::rows_mut(&mut out, block, |b, ob| softmax_block(&xd[b * block..(b + 1) * block], ob, len, inner, log));
    }
    Tensor::from_parts(out, x.shape.clone())
}

/// Backward of softmax / log-softmax; holds the output `y` (probabilities, or log-probabilities).
struct SoftmaxBackward<T: Float> {
    y: Tensor<T>,
    axis: usize,
    log: bool,
}

impl<T: Float> SoftmaxBackward<T> {
    /// dx for one contiguous row: softmax `y(g − Σ g·y)`, log-softmax `g − e^y Σ g`.
    #[inline]
    fn row(&self, g: &[T], y: &[T], dx: &mut [T]) {
        if self.log {
            let s: T = g.iter().copied().sum();
            for ((d, &gi), &yi) in dx.iter_mut().zip(g).zip(y) {
                *d = gi - yi.exp() * s;
            }
        } else {
            let s: T = g.iter().zip(y).map(|(&gi, &yi)| gi * yi).sum();
            for ((d, &gi), &yi) in dx.iter_mut().zip(g).zip(y) {
                *d = yi * (gi - s);
            }
        }
    }

    /// dx for one `len × inner` block (axis strided by `inner`).
    fn block(&self, g: &[T], y: &[T], dx: &mut [T], inner: usize) {
        let mut s = vec![T::zero(); inner];
        for (gr, yr) in g.chunks_exact(inner).zip(y.chunks_exact(inner)) {
            for ((si, &gi), &yi) in s.iter_mut().zip(gr).zip(yr) {
                *si += if self.log { gi } else { gi * yi };
            }
        }
        for ((dr, gr), yr) in dx.chunks_exact_mut(inner).zip(g.chunks_exact(inner)).zip(y.chunks_exact(inner)) {
            for (((d, &gi), &yi), &si) in dr.iter_mut().zip(gr).zip(yr).zip(&s) {
                *d = if self.log { gi - yi.exp() * si } else { yi * (gi - si) };
            }
        }
    }
}

impl<T: Float> Backward<T> for SoftmaxBackward<T> {
    fn name(&self) -> &'static str {
        if self.log {
            "log_softmax"
        } else {
            "softmax"
        }
    }

    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let (_, len, inner) = axis_geometry(&self.y.shape, self.axis);
        let (gd, yd) = (g.data(), self.y.data());
        let mut dx = vec![T::zero(); yd.len()];
        let block = len * inner;
        par::rows_mut(&mut dx, block, |b, db| {
            let range = b * block..(b + 1) * block;
            if inner == 1 {
                self.row(&gd[range.clone()], &yd[range], db);
            } else {
                self.block(&gd[range.clone()], &yd[range], db, inner);
            }
        });
        Ok(vec![Some(Tensor::from_parts(dx, self.y.shape.clone()))])
    }
}

fn softmax_op<T: Float>(op: &'static str, x: &Tensor<T>, axis: isize, log: bool) -> Result<Tensor<T>> {
    let axis = normalize_axis(op, axis, &x.shape)?;
    let y = softmax_kernel(x, axis, log);
    if !x.is_tracked() {
        return Ok(y);
    }
    Tensor::from_op(y.clone(), &[x], SoftmaxBackward { y, axis, log })
}

impl<T: Float> Tensor<T> {
    /// Softmax along `axis` (negative counts from the end): `exp(x − max) / Σ exp(x − max)`.
    ///
    /// A slice whose entries are all −∞ gives NaN, as in torch.
    ///
    /// # Shapes
    /// Any rank ≥ 1; the result has the shape of `self` and sums to 1 along `axis`.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![0.0, 0.0, 1000.0, 1000.0], &[2, 2])?;
    /// assert_eq!(x.softmax(-1)?.to_vec(), vec![0.5, 0.5, 0.5, 0.5]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn softmax(&self, axis: isize) -> Result<Tensor<T>> {
        softmax_op("softmax", self, axis, false)
    }

    /// Log-softmax along `axis`: `x − max − ln Σ exp(x − max)`, stable for large logits.
    ///
    /// # Shapes
    /// Any rank ≥ 1; the result has the shape of `self`.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![2.0, 2.0], &[2])?;
    /// let y = x.log_softmax(0)?.to_vec();
    /// assert!((y[0] + std::f64::consts::LN_2).abs() < 1e-15);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn log_softmax(&self, axis: isize) -> Result<Tensor<T>> {
        softmax_op("log_softmax", self, axis, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TensorError;
    use crate::gradcheck::{assert_gradients, small_shape, tensor_from};
    use proptest::prelude::*;

    /// Softmax along `axis` from the definition, slice by slice, through a multi-index walk.
    fn naive_softmax(x: &Tensor<f64>, axis: usize) -> Vec<f64> {
        let (outer, len, inner) = axis_geometry(x.shape(), axis);
        let mut out = vec![0.0; x.numel()];
        for o in 0..outer {
            for i in 0..inner {
                let at = |j: usize| o * len * inner + j * inner + i;
                let denom: f64 = (0..len).map(|j| x.data()[at(j)].exp()).sum();
                for j in 0..len {
                    out[at(j)] = x.data()[at(j)].exp() / denom;
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn grad_softmax_and_log_softmax(shape in small_shape(4), pick in 0usize..4, seed in 0u64..1000) {
            let axis = (pick % shape.len()) as isize;
            let x = tensor_from(&shape, seed, -3.0, 3.0);
            assert_gradients(std::slice::from_ref(&x), |v| v[0].softmax(axis));
            assert_gradients(std::slice::from_ref(&x), |v| v[0].log_softmax(axis));
            assert_gradients(&[x], |v| v[0].log_softmax(axis - shape.len() as isize));
        }

        #[test]
        fn values_match_definition(shape in small_shape(4), pick in 0usize..4, seed in 0u64..1000) {
            let axis = pick % shape.len();
            let x = tensor_from::<f64>(&shape, seed, -4.0, 4.0);
            let expected = naive_softmax(&x, axis);
            let y = x.softmax(axis as isize).unwrap();
            let ly = x.log_softmax(axis as isize).unwrap();
            prop_assert_eq!(y.shape(), x.shape());
            for ((&a, &l), &e) in y.data().iter().zip(ly.data()).zip(&expected) {
                prop_assert!((a - e).abs() < 1e-14, "softmax {} vs {}", a, e);
                prop_assert!((l - e.ln()).abs() < 1e-12, "log_softmax {} vs {}", l, e.ln());
            }
            // every slice along the axis sums to 1
            let sums = y.sum(&[axis as isize], false).unwrap();
            prop_assert!(sums.data().iter().all(|s| (s - 1.0).abs() < 1e-12));
        }
    }

    #[test]
    fn stable_for_large_logits_in_f32() {
        let x = Tensor::<f32>::from_vec(vec![1000.0, 1001.0, 999.0, -1000.0, 88.0, 89.0], &[2, 3]).unwrap();
        for axis in [0, 1] {
            let y = x.softmax(axis).unwrap();
            let ly = x.log_softmax(axis).unwrap();
            assert!(!y.has_non_finite() && !ly.has_non_finite(), "axis {axis}: {y:?} {ly:?}");
        }
        let y = x.softmax(1).unwrap().to_vec();
        let e = [(-1.0f64).exp(), 1.0, (-2.0f64).exp()];
        let z: f64 = e.iter().sum();
        for (a, b) in y[..3].iter().zip(e) {
            assert!((*a as f64 - b / z).abs() < 1e-6);
        }
        let expected = -1089.0 - (1.0f64 + (-1.0f64).exp()).ln();
        assert!((x.log_softmax(1).unwrap().to_vec()[3] as f64 - expected).abs() < 1e-3);
    }

    #[test]
    fn empty_axis_and_tensor_do_not_panic() {
        let x = Tensor::<f32>::zeros(&[3, 0]);
        assert_eq!(x.softmax(-1).unwrap().shape(), &[3, 0]);
        assert_eq!(Tensor::<f32>::zeros(&[0, 4]).log_softmax(0).unwrap().shape(), &[0, 4]);
    }

    #[test]
    fn bad_axis_is_an_error() {
        let x = Tensor::<f32>::zeros(&[2, 3]);
        let e = x.softmax(2).unwrap_err();
        assert!(matches!(e, TensorError::BadAxis { op: "softmax", axis: 2, rank: 2, .. }));
        assert_eq!(e.to_string(), "softmax: axis 2 is out of range for a tensor of rank 2 (shape [2, 3])");
        let e = x.log_softmax(-3).unwrap_err();
        assert!(matches!(e, TensorError::BadAxis { op: "log_softmax", axis: -3, .. }), "{e}");
        assert!(Tensor::<f32>::scalar(1.0).softmax(0).is_err());
    }
}
