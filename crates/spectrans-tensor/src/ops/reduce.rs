//! Reductions over chosen axes: sum, mean, max (with argmax), variance and log-sum-exp.

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::ops::sum_to_shape;
use crate::shape::{broadcast_strides, for_each_broadcast, normalize_axes, normalize_axis, numel};
use crate::tensor::tape::Backward;
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

fn sum_scaled<T: Float>(
    op: &'static str,
    x: &Tensor<T>,
    axes: &[isize],
    keepdim: bool,
    mean: bool,
) -> Result<Tensor<T>> {
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

/// The divisor of [`Tensor::var`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variance {
    /// Divide by the element count: the population variance (`unbiased=False` in torch,
    /// what layer and batch normalisation use).
    Population,
    /// Divide by the count − 1 (Bessel's correction): the unbiased sample variance (torch's
    /// default `unbiased=True`).
    Sample,
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

/// Calls `f(input_index, kept_index)` for every element of a tensor of shape `shape`, in
/// row-major order, where `kept_index` is the element's position in the reduced (`kept`) shape.
fn for_each_reduced(shape: &[usize], kept: &[usize], mut f: impl FnMut(usize, usize)) {
    let ks = broadcast_strides(kept, shape);
    let zero = vec![0; shape.len()];
    for_each_broadcast(shape, &ks, &zero, |o, k, _| f(o, k));
}

/// The larger of `best` and `v`, NaN winning over any number.
#[inline(always)]
fn nan_max<T: Float>(best: T, v: T) -> T {
    if v > best || (v.is_nan() && !best.is_nan()) {
        v
    } else {
        best
    }
}

struct MaxBackward {
    input_shape: Vec<usize>,
    axis: usize,
    argmax: Vec<usize>,
}

impl<T: Float> Backward<T> for MaxBackward {
    fn name(&self) -> &'static str {
        "max"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let (dim, inner) = (self.input_shape[self.axis], numel(&self.input_shape[self.axis + 1..]));
        let mut out = vec![T::zero(); numel(&self.input_shape)];
        for (p, (&a, &v)) in self.argmax.iter().zip(g.data()).enumerate() {
            let (o, t) = (p / inner, p % inner);
            out[(o * dim + a) * inner + t] = v;
        }
        Ok(vec![Some(Tensor::from_parts(out, self.input_shape.clone()))])
    }
}

struct VarBackward<T: Float> {
    kept: Vec<usize>,
    /// x − mean, shaped like the input.
    centered: Tensor<T>,
    denom: usize,
}

impl<T: Float> Backward<T> for VarBackward<T> {
    fn name(&self) -> &'static str {
        "var"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let scale = T::of(2.0 / self.denom as f64);
        let (c, gd) = (self.centered.data(), g.data());
        let mut out = vec![T::zero(); c.len()];
        for_each_reduced(&self.centered.shape, &self.kept, |o, k| out[o] = gd[k] * c[o] * scale);
        Ok(vec![Some(Tensor::from_parts(out, self.centered.shape.clone()))])
    }
}

struct LogSumExpBackward<T: Float> {
    kept: Vec<usize>,
    x: Tensor<T>,
    /// Per slice: the shift (its maximum) and 1 / Σ exp(x − shift) (0 for a slice with no mass).
    shift: Vec<T>,
    inv_total: Vec<T>,
}

impl<T: Float> Backward<T> for LogSumExpBackward<T> {
    fn name(&self) -> &'static str {
        "logsumexp"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let (x, gd, shift, inv) = (self.x.data(), g.data(), &self.shift, &self.inv_total);
        let mut out = vec![T::zero(); x.len()];
        // d lse / dx = softmax(x) = exp(x − shift) / Σ exp(x − shift)
        for_each_reduced(&self.x.shape, &self.kept, |o, k| out[o] = gd[k] * (x[o] - shift[k]).exp() * inv[k]);
        Ok(vec![Some(Tensor::from_parts(out, self.x.shape.clone()))])
    }
}

impl<T: Float> Tensor<T> {
    /// Maximum along `axis` (negative counts from the end) and the index of the maximum within the
    /// axis. The first maximum wins ties; a NaN counts as the maximum (the first NaN wins). The
    /// gradient flows to the selected entry only.
    ///
    /// # Shapes
    /// `shape[axis] > 0`. The values have `shape` with `axis` set to 1 (`keepdim`) or removed; the
    /// indices are those values' positions, flattened in row-major order.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 7.0, 7.0, 4.0, 2.0, 0.0], &[2, 3])?;
    /// let (values, argmax) = x.max(1, false)?;
    /// assert_eq!(values.to_vec(), vec![7.0, 4.0]);
    /// assert_eq!(argmax, vec![1, 0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn max(&self, axis: isize, keepdim: bool) -> Result<(Tensor<T>, Vec<usize>)> {
        let ax = normalize_axis("max", axis, &self.shape)?;
        let (outer, dim, inner) = (numel(&self.shape[..ax]), self.shape[ax], numel(&self.shape[ax + 1..]));
        if dim == 0 {
            return Err(TensorError::invalid(
                "max",
                format!("axis {axis} of shape {:?} is empty: a maximum needs at least one element", self.shape),
            ));
        }
        let (_, out_shape) = reduced_shapes(&self.shape, &[ax], keepdim);
        let x = self.data();
        let mut values = Vec::with_capacity(outer * inner);
        let mut argmax = vec![0; outer * inner];
        for (o, args) in argmax.chunks_exact_mut(inner.max(1)).enumerate() {
            let block = &x[o * dim * inner..(o + 1) * dim * inner];
            values.extend_from_slice(&block[..inner]);
            let best = &mut values[o * inner..];
            for (d, row) in block.chunks_exact(inner.max(1)).enumerate().skip(1) {
                for ((b, a), &v) in best.iter_mut().zip(args.iter_mut()).zip(row) {
                    if v > *b || (v.is_nan() && !b.is_nan()) {
                        *b = v;
                        *a = d;
                    }
                }
            }
        }
        let value = Tensor::from_parts(values, out_shape);
        if !self.is_tracked() {
            return Ok((value, argmax));
        }
        let backward = MaxBackward { input_shape: self.shape.clone(), axis: ax, argmax: argmax.clone() };
        Ok((Tensor::from_op(value, &[self], backward)?, argmax))
    }

    /// Variance over `axes` (all axes when empty): the mean squared deviation from the mean, divided
    /// by `count` for [`Variance::Population`] and by `count − 1` for [`Variance::Sample`]
    /// (Bessel's correction). Computed in two passes (mean first) for accuracy.
    ///
    /// # Shapes
    /// As [`Tensor::sum`]. The divisor must be positive: an unbiased variance needs at least two
    /// elements per slice.
    ///
    /// ```
    /// use spectrans_tensor::{Tensor, Variance};
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 3.0, 2.0, 2.0], &[2, 2])?;
    /// assert_eq!(x.var(&[1], false, Variance::Population)?.to_vec(), vec![1.0, 0.0]);
    /// assert_eq!(x.var(&[1], false, Variance::Sample)?.to_vec(), vec![2.0, 0.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn var(&self, axes: &[isize], keepdim: bool, estimator: Variance) -> Result<Tensor<T>> {
        let unbiased = estimator == Variance::Sample;
        let norm = normalize_axes("var", axes, &self.shape)?;
        let (kept, out_shape) = reduced_shapes(&self.shape, &norm, keepdim);
        let count: usize = norm.iter().map(|&a| self.shape[a]).product();
        let Some(denom) = count.checked_sub(usize::from(unbiased)).filter(|&d| d > 0) else {
            return Err(TensorError::invalid(
                "var",
                format!(
                    "{} needs at least {} element(s) per slice, got {count} over axes {axes:?} of shape {:?}",
                    if unbiased { "an unbiased variance" } else { "a variance" },
                    1 + usize::from(unbiased),
                    self.shape
                ),
            ));
        };
        let x = self.data();
        let inv_count = T::of(1.0 / count as f64);
        let mut mean = vec![T::zero(); numel(&kept)];
        for_each_reduced(&self.shape, &kept, |o, k| mean[k] += x[o]);
        mean.iter_mut().for_each(|m| *m *= inv_count);
        let mut centered = vec![T::zero(); x.len()];
        let mut var = vec![T::zero(); mean.len()];
        for_each_reduced(&self.shape, &kept, |o, k| {
            let c = x[o] - mean[k];
            centered[o] = c;
            var[k] += c * c;
        });
        let inv_denom = T::of(1.0 / denom as f64);
        var.iter_mut().for_each(|v| *v *= inv_denom);
        let value = Tensor::from_parts(var, out_shape);
        if !self.is_tracked() {
            return Ok(value);
        }
        let centered = Tensor::from_parts(centered, self.shape.clone());
        Tensor::from_op(value, &[self], VarBackward { kept, centered, denom })
    }

    /// log Σ exp(x) over `axes` (all axes when empty), shifted by the maximum of each slice so that
    /// large or very negative inputs neither overflow nor underflow. A slice of −∞ (or an empty
    /// slice) gives −∞; NaN propagates.
    ///
    /// # Shapes
    /// As [`Tensor::sum`].
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1000.0, 1000.0], &[2])?;
    /// let y = x.logsumexp(&[], false)?.item()?;
    /// assert!((y - (1000.0 + 2f64.ln())).abs() < 1e-12);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn logsumexp(&self, axes: &[isize], keepdim: bool) -> Result<Tensor<T>> {
        let norm = normalize_axes("logsumexp", axes, &self.shape)?;
        let (kept, out_shape) = reduced_shapes(&self.shape, &norm, keepdim);
        let x = self.data();
        let mut shift = vec![T::neg_infinity(); numel(&kept)];
        for_each_reduced(&self.shape, &kept, |o, k| shift[k] = nan_max(shift[k], x[o]));
        // an infinite or NaN maximum cannot be subtracted; without a shift the sum is still right
        shift.iter_mut().filter(|m| !m.is_finite()).for_each(|m| *m = T::zero());
        let mut total = vec![T::zero(); shift.len()];
        for_each_reduced(&self.shape, &kept, |o, k| total[k] += (x[o] - shift[k]).exp());
        let lse: Vec<T> = total.iter().zip(&shift).map(|(&s, &m)| m + s.ln()).collect();
        let value = Tensor::from_parts(lse, out_shape);
        if !self.is_tracked() {
            return Ok(value);
        }
        let inv_total = total.iter().map(|&s| if s > T::zero() { s.recip() } else { T::zero() }).collect();
        Tensor::from_op(value, &[self], LogSumExpBackward { kept, x: self.detach(), shift, inv_total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{adjoint_error, assert_gradients, small_shape, tensor_from};
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

    /// Naive grouping: the values of each reduced slice (indexed like the kept shape), by explicit
    /// multi-index arithmetic.
    fn slices(x: &Tensor<f64>, axes: &[usize]) -> Vec<Vec<f64>> {
        let shape = x.shape();
        let (kept, _) = reduced_shapes(shape, axes, true);
        let (xs, ks) = (crate::shape::strides(shape), crate::shape::strides(&kept));
        let mut groups = vec![Vec::new(); numel(&kept)];
        for (o, &v) in x.data().iter().enumerate() {
            let k: usize = (0..shape.len()).filter(|a| !axes.contains(a)).map(|a| o / xs[a] % shape[a] * ks[a]).sum();
            groups[k].push(v);
        }
        groups
    }

    fn norm_axes(rank: usize, mask: u8) -> Vec<usize> {
        let a: Vec<usize> = (0..rank).filter(|i| mask & (1 << i) != 0).collect();
        if a.is_empty() {
            (0..rank).collect()
        } else {
            a
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn grad_max_var_logsumexp(shape in small_shape(4), ax in 0usize..4, mask in any::<u8>(), keep in any::<bool>(), seed in 0u64..1000) {
            let x = tensor_from(&shape, seed, -2.0, 2.0);
            let axis = (ax % shape.len()) as isize;
            assert_gradients(std::slice::from_ref(&x), |v| Ok(v[0].max(axis, keep)?.0));
            let axes = axes_for(shape.len(), mask);
            let count: usize = norm_axes(shape.len(), mask).iter().map(|&a| shape[a]).product();
            assert_gradients(std::slice::from_ref(&x), |v| v[0].var(&axes, keep, Variance::Population));
            if count >= 2 {
                assert_gradients(std::slice::from_ref(&x), |v| v[0].var(&axes, keep, Variance::Sample));
            }
            assert_gradients(&[x.mul_scalar(3.0).unwrap()], |v| v[0].logsumexp(&axes, keep));
        }

        #[test]
        fn values_match_naive(shape in small_shape(4), ax in 0usize..4, mask in any::<u8>(), keep in any::<bool>(), seed in 0u64..1000) {
            let x = tensor_from::<f64>(&shape, seed, -3.0, 3.0);
            let axis = ax % shape.len();
            let (m, arg) = x.max(axis as isize - shape.len() as isize, keep).unwrap();
            prop_assert_eq!(m.shape().to_vec(), reduced_shapes(&shape, &[axis], keep).1);
            for (k, g) in slices(&x, &[axis]).iter().enumerate() {
                let first = (0..g.len()).fold(0, |b, i| if g[i] > g[b] { i } else { b });
                prop_assert_eq!((m.data()[k], arg[k]), (g[first], first));
            }
            let axes = axes_for(shape.len(), mask);
            let na = norm_axes(shape.len(), mask);
            let v = x.var(&axes, keep, Variance::Population).unwrap();
            let l = x.logsumexp(&axes, keep).unwrap();
            prop_assert_eq!(v.shape().to_vec(), reduced_shapes(&shape, &na, keep).1);
            prop_assert_eq!(l.shape(), v.shape());
            for (k, g) in slices(&x, &na).iter().enumerate() {
                let n = g.len() as f64;
                let mean = g.iter().sum::<f64>() / n;
                let var = g.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / n;
                let lse = g.iter().map(|a| a.exp()).sum::<f64>().ln();
                prop_assert!((v.data()[k] - var).abs() < 1e-12, "var {} vs {}", v.data()[k], var);
                prop_assert!((l.data()[k] - lse).abs() < 1e-12, "lse {} vs {}", l.data()[k], lse);
                if g.len() > 1 {
                    let u = x.var(&axes, keep, Variance::Sample).unwrap();
                    prop_assert!((u.data()[k] - var * n / (n - 1.0)).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn max_ties_nan_and_gradient_routing() {
        let x = Tensor::<f64>::from_vec(vec![5.0, 5.0, 1.0, 2.0, f64::NAN, 9.0, f64::NAN], &[7]).unwrap();
        let (m, arg) = x.narrow(0, 0, 4).unwrap().max(0, true).unwrap();
        assert_eq!((m.to_vec(), m.shape().to_vec(), arg), (vec![5.0], vec![1], vec![0]));
        let (m, arg) = x.max(-1, false).unwrap();
        assert!(m.item().unwrap().is_nan() && m.rank() == 0);
        assert_eq!(arg, vec![4], "the first NaN is the maximum");
        // gradient reaches the first of two tied maxima only
        let w = crate::Parameter::new(Tensor::<f64>::from_vec(vec![1.0, 3.0, 3.0, 0.0, -1.0, -2.0], &[2, 3]).unwrap());
        let tape = crate::Tape::new();
        let (m, arg) = tape.watch(&w).max(1, false).unwrap();
        assert_eq!(arg, vec![1, 0]);
        m.backward_with(&Tensor::from_vec(vec![2.0, 5.0], &[2]).unwrap()).unwrap();
        assert_eq!(w.grad().unwrap().to_vec(), vec![0.0, 2.0, 0.0, 5.0, 0.0, 0.0]);
    }

    #[test]
    fn logsumexp_is_stable_at_large_magnitudes() {
        let ln2 = 2f64.ln();
        for (vals, expected) in [
            (vec![1000.0, 1000.0], 1000.0 + ln2),
            (vec![-1000.0, -1000.0], -1000.0 + ln2),
            (vec![1000.0, -1000.0], 1000.0),
        ] {
            let x = Tensor::<f64>::from_vec(vals.clone(), &[2]).unwrap();
            assert!((x.logsumexp(&[0], false).unwrap().item().unwrap() - expected).abs() < 1e-12, "{vals:?}");
            let y = Tensor::<f32>::from_vec(vals.iter().map(|&v| v as f32).collect(), &[2]).unwrap();
            let got = y.logsumexp(&[], false).unwrap().item().unwrap() as f64;
            assert!((got - expected).abs() < 1e-3, "f32 {vals:?}: {got}");
        }
        // the gradient (a softmax) is finite there too
        let w = crate::Parameter::new(Tensor::<f64>::from_vec(vec![1000.0, 1000.0, -1000.0], &[3]).unwrap());
        let tape = crate::Tape::new();
        tape.watch(&w).logsumexp(&[], false).unwrap().backward().unwrap();
        assert_eq!(w.grad().unwrap().to_vec(), vec![0.5, 0.5, 0.0]);
        let inf = f64::INFINITY;
        let y = Tensor::<f64>::from_vec(vec![-inf, -inf, inf, 1.0, f64::NAN, 1.0], &[3, 2]).unwrap();
        let l = y.logsumexp(&[1], false).unwrap().to_vec();
        assert_eq!(&l[..2], &[-inf, inf]);
        assert!(l[2].is_nan());
    }

    #[test]
    fn reduction_errors() {
        let x = Tensor::<f32>::zeros(&[2, 1]);
        let e = x.max(2, false).unwrap_err();
        assert!(matches!(e, TensorError::BadAxis { op: "max", axis: 2, rank: 2, .. }));
        assert_eq!(e.to_string(), "max: axis 2 is out of range for a tensor of rank 2 (shape [2, 1])");
        let e = Tensor::<f32>::zeros(&[2, 0]).max(-1, false).unwrap_err();
        assert_eq!(e.to_string(), "max: axis -1 of shape [2, 0] is empty: a maximum needs at least one element");
        let e = x.var(&[1], false, Variance::Sample).unwrap_err();
        assert!(matches!(e, TensorError::InvalidArgument { op: "var", .. }));
        assert_eq!(
            e.to_string(),
            "var: an unbiased variance needs at least 2 element(s) per slice, got 1 over axes [1] of shape [2, 1]"
        );
        assert_eq!(x.var(&[1], false, Variance::Population).unwrap().to_vec(), vec![0.0, 0.0]);
        assert!(x.var(&[0], false, Variance::Sample).is_ok());
        assert!(matches!(x.var(&[-3], false, Variance::Sample), Err(TensorError::BadAxis { op: "var", .. })));
        assert!(matches!(x.logsumexp(&[5], true), Err(TensorError::BadAxis { op: "logsumexp", .. })));
    }
}
