//! Slicing along one axis and its adjoints: narrow, concat, stack and constant padding.
//!
//! Every op here views a tensor as `(outer, axis, inner)` around the chosen axis, so each one is a
//! sequence of contiguous block copies.

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::ops::when;
use crate::par;
use crate::shape::{normalize_axis, numel};
use crate::tensor::tape::Backward;
use crate::tensor::Tensor;

/// `(outer, inner)`: the element counts before and after `axis`.
fn outer_inner(shape: &[usize], axis: usize) -> (usize, usize) {
    (numel(&shape[..axis]), numel(&shape[axis + 1..]))
}

/// For each of `outer` rows of `dst` (row length `out_row`), copies `src`'s row (length `len`)
/// to offset `at` of that row.
fn copy_rows<T: Float>(src: &[T], dst: &mut [T], out_row: usize, at: usize, len: usize) {
    if len == 0 {
        return;
    }
    par::rows_mut(dst, out_row, |o, row| row[at..at + len].copy_from_slice(&src[o * len..(o + 1) * len]));
}

/// The `len`-long window starting at `start` of each `in_row`-long row of `src`.
fn take_rows<T: Float>(src: &[T], in_row: usize, start: usize, len: usize) -> Vec<T> {
    let mut out = vec![T::zero(); numel(&[src.len() / in_row.max(1), len])];
    par::rows_mut(&mut out, len, |o, row| row.copy_from_slice(&src[o * in_row + start..o * in_row + start + len]));
    out
}

/// Extracts a window of each row of a gradient and gives it `shape`: the adjoint of placing a
/// tensor inside a larger one (shared by narrow's, concat's, stack's and pad's backward).
fn window<T: Float>(g: &Tensor<T>, in_row: usize, start: usize, len: usize, shape: &[usize]) -> Tensor<T> {
    if in_row == len {
        return Tensor { data: g.data.clone(), shape: shape.to_vec(), node: None };
    }
    Tensor::from_parts(take_rows(g.data(), in_row, start, len), shape.to_vec())
}

struct NarrowBackward {
    input_shape: Vec<usize>,
    in_row: usize,
    start: usize,
    len: usize,
}

impl<T: Float> Backward<T> for NarrowBackward {
    fn name(&self) -> &'static str {
        "narrow"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let mut out = vec![T::zero(); numel(&self.input_shape)];
        copy_rows(g.data(), &mut out, self.in_row, self.start, self.len);
        Ok(vec![Some(Tensor::from_parts(out, self.input_shape.clone()))])
    }
}

/// Places the inputs' rows side by side; backward cuts the gradient's rows back apart.
struct JoinBackward {
    name: &'static str,
    shapes: Vec<Vec<usize>>,
    /// Per input: its row length (elements per outer index) and offset within an output row.
    rows: Vec<(usize, usize)>,
    out_row: usize,
}

impl<T: Float> Backward<T> for JoinBackward {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let mut grads = Vec::with_capacity(self.shapes.len());
        for ((shape, &(len, at)), &need) in self.shapes.iter().zip(&self.rows).zip(needs) {
            grads.push(when(need, || Ok(window(g, self.out_row, at, len, shape)))?);
        }
        Ok(grads)
    }
}

/// Joins `tensors` (validated) row by row: the output's rows are the inputs' rows of lengths `rows`,
/// concatenated.
fn join<T: Float>(
    name: &'static str,
    tensors: &[&Tensor<T>],
    lens: Vec<usize>,
    outer: usize,
    out_shape: Vec<usize>,
) -> Result<Tensor<T>> {
    let out_row: usize = lens.iter().sum();
    let mut out = vec![T::zero(); outer * out_row];
    let mut rows = Vec::with_capacity(lens.len());
    let mut at = 0;
    for (x, &len) in tensors.iter().zip(&lens) {
        copy_rows(x.data(), &mut out, out_row, at, len);
        rows.push((len, at));
        at += len;
    }
    let value = Tensor::from_parts(out, out_shape);
    if !Tensor::any_tracked(tensors) {
        return Ok(value);
    }
    let shapes = tensors.iter().map(|x| x.shape.clone()).collect();
    Tensor::from_op(value, tensors, JoinBackward { name, shapes, rows, out_row })
}

/// Checks that `x` has `first`'s shape except (when `skip` is given) along axis `skip`.
fn check_same_shape(op: &'static str, first: &[usize], x: &[usize], skip: Option<usize>, i: usize) -> Result<()> {
    let same = first.len() == x.len() && first.iter().zip(x).enumerate().all(|(a, (d, e))| Some(a) == skip || d == e);
    if same {
        return Ok(());
    }
    let reason = match skip {
        Some(a) => format!("tensor {i} differs from tensor 0 outside axis {a}"),
        None => format!("tensor {i} differs from tensor 0; all shapes must be equal"),
    };
    Err(TensorError::mismatch(op, first, x, reason))
}

impl<T: Float> Tensor<T> {
    /// The `len` consecutive entries from `start` along `axis` (negative counts from the end).
    ///
    /// # Shapes
    /// `start + len <= shape[axis]`; the result has `shape[axis] = len`, other axes unchanged.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f32>::arange(6).reshape(&[2, 3])?;
    /// let y = x.narrow(-1, 1, 2)?;
    /// assert_eq!(y.shape(), &[2, 2]);
    /// assert_eq!(y.to_vec(), vec![1.0, 2.0, 4.0, 5.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Tensor<T>> {
        let ax = normalize_axis("narrow", axis, &self.shape)?;
        let dim = self.shape[ax];
        if start.checked_add(len).is_none_or(|end| end > dim) {
            return Err(TensorError::invalid(
                "narrow",
                format!("range {start}..{start}+{len} exceeds axis {axis} of size {dim} (shape {:?})", self.shape),
            ));
        }
        let inner = numel(&self.shape[ax + 1..]);
        let mut out_shape = self.shape.clone();
        out_shape[ax] = len;
        let value = window(self, dim * inner, start * inner, len * inner, &out_shape);
        if !self.is_tracked() {
            return Ok(value);
        }
        let backward = NarrowBackward {
            input_shape: self.shape.clone(),
            in_row: dim * inner,
            start: start * inner,
            len: len * inner,
        };
        Tensor::from_op(value, &[self], backward)
    }

    /// Joins tensors along an existing `axis` (negative counts from the end).
    ///
    /// # Shapes
    /// A non-empty list of tensors of equal rank whose shapes agree except along `axis`; the result
    /// has the sum of their sizes along `axis`.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let a = Tensor::<f32>::zeros(&[2, 1]);
    /// let b = Tensor::<f32>::ones(&[2, 2]);
    /// let c = Tensor::concat(&[&a, &b], 1)?;
    /// assert_eq!(c.shape(), &[2, 3]);
    /// assert_eq!(c.to_vec(), vec![0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn concat(tensors: &[&Tensor<T>], axis: isize) -> Result<Tensor<T>> {
        let Some(first) = tensors.first() else {
            return Err(TensorError::invalid("concat", "needs at least one tensor, got an empty list"));
        };
        let ax = normalize_axis("concat", axis, &first.shape)?;
        for (i, x) in tensors.iter().enumerate() {
            check_same_shape("concat", &first.shape, &x.shape, Some(ax), i)?;
        }
        let (outer, inner) = outer_inner(&first.shape, ax);
        let mut out_shape = first.shape.clone();
        out_shape[ax] = tensors.iter().map(|x| x.shape[ax]).sum();
        let lens = tensors.iter().map(|x| x.shape[ax] * inner).collect();
        join("concat", tensors, lens, outer, out_shape)
    }

    /// Joins equally shaped tensors along a new axis placed at `axis`, which may equal their rank
    /// (negative counts from the end of the result's axes: `-1` appends the new axis last).
    ///
    /// # Shapes
    /// A non-empty list of tensors of the same shape `s`; the result has shape `s` with the number
    /// of tensors inserted at `axis`.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let a = Tensor::<f64>::zeros(&[2]);
    /// let b = Tensor::<f64>::ones(&[2]);
    /// let s = Tensor::stack(&[&a, &b], -1)?;
    /// assert_eq!(s.shape(), &[2, 2]);
    /// assert_eq!(s.to_vec(), vec![0.0, 1.0, 0.0, 1.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn stack(tensors: &[&Tensor<T>], axis: isize) -> Result<Tensor<T>> {
        let Some(first) = tensors.first() else {
            return Err(TensorError::invalid("stack", "needs at least one tensor, got an empty list"));
        };
        let mut out_shape = first.shape.clone();
        out_shape.push(tensors.len());
        let ax = normalize_axis("stack", axis, &out_shape)?;
        for (i, x) in tensors.iter().enumerate() {
            check_same_shape("stack", &first.shape, &x.shape, None, i)?;
        }
        out_shape.pop();
        out_shape.insert(ax, tensors.len());
        let outer = numel(&first.shape[..ax]);
        let inner = numel(&first.shape[ax..]);
        join("stack", tensors, vec![inner; tensors.len()], outer, out_shape)
    }

    /// Pads `axis` with `before` copies of `value` in front and `after` copies behind.
    ///
    /// # Shapes
    /// The result has `shape[axis] + before + after` along `axis`, other axes unchanged.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f32>::ones(&[2, 1]);
    /// let y = x.pad(1, 1, 2, 0.0)?;
    /// assert_eq!(y.shape(), &[2, 4]);
    /// assert_eq!(y.to_vec(), vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn pad(&self, axis: isize, before: usize, after: usize, value: T) -> Result<Tensor<T>> {
        let ax = normalize_axis("pad", axis, &self.shape)?;
        let dim = self.shape[ax];
        let Some(padded) = dim.checked_add(before).and_then(|d| d.checked_add(after)) else {
            return Err(TensorError::invalid("pad", format!("padding {before} + {after} overflows axis {axis}")));
        };
        let (outer, inner) = outer_inner(&self.shape, ax);
        let mut out_shape = self.shape.clone();
        out_shape[ax] = padded;
        let out_row = padded * inner;
        let (at, len) = (before * inner, dim * inner);
        let mut out = vec![value; outer * out_row];
        copy_rows(self.data(), &mut out, out_row, at, len);
        let result = Tensor::from_parts(out, out_shape);
        if !self.is_tracked() {
            return Ok(result);
        }
        let backward = JoinBackward { name: "pad", shapes: vec![self.shape.clone()], rows: vec![(len, at)], out_row };
        Tensor::from_op(result, &[self], backward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{adjoint_error, assert_gradients, small_shape, tensor_from};
    use proptest::prelude::*;

    /// A shape and an axis of it.
    fn shape_and_axis(max_rank: usize) -> impl Strategy<Value = (Vec<usize>, usize)> {
        small_shape(max_rank).prop_flat_map(|s| {
            let r = s.len();
            (Just(s), 0..r)
        })
    }

    /// Reference for everything here: the element at a multi-index, by explicit index arithmetic.
    fn at(x: &Tensor<f64>, idx: &[usize]) -> f64 {
        let st = crate::shape::strides(x.shape());
        x.data()[idx.iter().zip(&st).map(|(i, s)| i * s).sum::<usize>()]
    }

    /// Every multi-index of `shape` in row-major order.
    fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
        let st = crate::shape::strides(shape);
        (0..numel(shape)).map(|o| (0..shape.len()).map(|a| o / st[a] % shape[a]).collect()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn narrow_and_pad_match_naive((shape, ax) in shape_and_axis(4), s in 0usize..5, l in 0usize..5, before in 0usize..3, after in 0usize..3, seed in 0u64..1000) {
            let x = tensor_from::<f64>(&shape, seed, -1.0, 1.0);
            let start = s % shape[ax];
            let len = l % (shape[ax] - start + 1);
            let y = x.narrow(ax as isize - shape.len() as isize, start, len).unwrap();
            for (o, idx) in indices(y.shape()).iter().enumerate() {
                let mut src = idx.clone();
                src[ax] += start;
                prop_assert_eq!(y.data()[o], at(&x, &src));
            }
            let p = x.pad(ax as isize, before, after, -7.0).unwrap();
            for (o, idx) in indices(p.shape()).iter().enumerate() {
                let inside = idx[ax] >= before && idx[ax] < before + shape[ax];
                let mut src = idx.clone();
                src[ax] = src[ax].wrapping_sub(before);
                prop_assert_eq!(p.data()[o], if inside { at(&x, &src) } else { -7.0 });
            }
        }

        #[test]
        fn concat_and_stack_match_naive((shape, ax) in shape_and_axis(3), extra in 1usize..4, seed in 0u64..1000) {
            let a = tensor_from::<f64>(&shape, seed, -1.0, 1.0);
            let mut sb = shape.clone();
            sb[ax] = extra;
            let b = tensor_from::<f64>(&sb, seed + 1, -1.0, 1.0);
            let c = Tensor::concat(&[&a, &b], ax as isize).unwrap();
            for (o, idx) in indices(c.shape()).iter().enumerate() {
                let mut src = idx.clone();
                let v = if idx[ax] < shape[ax] { at(&a, idx) } else { src[ax] -= shape[ax]; at(&b, &src) };
                prop_assert_eq!(c.data()[o], v);
            }
            let a2 = tensor_from::<f64>(&shape, seed + 2, -1.0, 1.0);
            let s = Tensor::stack(&[&a, &a2, &a], ax as isize).unwrap();
            for (o, idx) in indices(s.shape()).iter().enumerate() {
                let mut src = idx.clone();
                let which = src.remove(ax);
                prop_assert_eq!(s.data()[o], at([&a, &a2, &a][which], &src));
            }
        }

        #[test]
        fn grad_all((shape, ax) in shape_and_axis(3), extra in 1usize..3, seed in 0u64..1000) {
            let x = tensor_from(&shape, seed, -1.0, 1.0);
            let mut sb = shape.clone();
            sb[ax] = extra;
            let y = tensor_from(&sb, seed + 1, -1.0, 1.0);
            let z = tensor_from(&shape, seed + 2, -1.0, 1.0);
            let a = ax as isize;
            let start = shape[ax] / 2;
            assert_gradients(std::slice::from_ref(&x), |v| v[0].narrow(a, start, shape[ax] - start));
            assert_gradients(std::slice::from_ref(&x), |v| v[0].pad(a, 1, 2, 0.5));
            assert_gradients(&[x.clone(), y], |v| Tensor::concat(&[&v[1], &v[0], &v[1]], a));
            assert_gradients(&[x, z], |v| Tensor::stack(&[&v[0], &v[1], &v[0]], -1 - a));
        }

        #[test]
        fn adjoint_all_f32((shape, ax) in shape_and_axis(3), seed in 0u64..1000) {
            let x = tensor_from::<f32>(&shape, seed, -1.0, 1.0);
            let a = ax as isize;
            prop_assert!(adjoint_error(&x, |v| v.narrow(a, shape[ax] / 2, shape[ax] - shape[ax] / 2)).unwrap() < 1e-5);
            prop_assert!(adjoint_error(&x, |v| v.pad(a, 2, 1, 0.0)).unwrap() < 1e-5);
            // linear maps only: every joined piece depends on the input
            prop_assert!(adjoint_error(&x, |v| Tensor::concat(&[v, &v.mul_scalar(-2.0)?, v], a)).unwrap() < 1e-5);
            prop_assert!(adjoint_error(&x, |v| Tensor::stack(&[&v.mul_scalar(3.0)?, v], a)).unwrap() < 1e-5);
        }
    }

    #[test]
    fn large_copies_use_threads() {
        let x = tensor_from::<f64>(&[300, 150], 3, -1.0, 1.0);
        let y = x.narrow(1, 7, 100).unwrap().pad(1, 7, 43, 0.0).unwrap();
        let mask: Vec<bool> = (0..150).map(|j| (7..107).contains(&j)).collect();
        for (o, (&a, &b)) in x.data().iter().zip(y.data()).enumerate() {
            assert_eq!(b, if mask[o % 150] { a } else { 0.0 });
        }
        let c = Tensor::concat(&[&x, &x], 0).unwrap();
        assert_eq!(&c.data()[45000..], x.data());
    }

    #[test]
    fn whole_axis_narrow_shares_the_buffer() {
        let x = Tensor::<f32>::arange(6).reshape(&[2, 3]).unwrap();
        assert!(std::sync::Arc::ptr_eq(&x.data, &x.narrow(1, 0, 3).unwrap().data));
        assert_eq!(x.narrow(0, 2, 0).unwrap().shape(), &[0, 3]);
    }

    #[test]
    fn errors_name_op_and_shapes() {
        let x = Tensor::<f32>::zeros(&[2, 3]);
        let e = x.narrow(1, 2, 2).unwrap_err();
        assert!(matches!(e, TensorError::InvalidArgument { op: "narrow", .. }));
        assert_eq!(e.to_string(), "narrow: range 2..2+2 exceeds axis 1 of size 3 (shape [2, 3])");
        assert!(x.narrow(0, usize::MAX, 2).is_err());
        assert!(matches!(x.narrow(2, 0, 1), Err(TensorError::BadAxis { op: "narrow", axis: 2, .. })));

        let e = Tensor::<f32>::concat(&[], 0).unwrap_err();
        assert_eq!(e, TensorError::invalid("concat", "needs at least one tensor, got an empty list"));
        assert_eq!(e.to_string(), "concat: needs at least one tensor, got an empty list");
        let e = Tensor::concat(&[&x, &Tensor::zeros(&[3, 3])], 1).unwrap_err();
        assert!(matches!(e, TensorError::ShapeMismatch { op: "concat", .. }));
        assert_eq!(
            e.to_string(),
            "concat: incompatible shapes [2, 3] and [3, 3]: tensor 1 differs from tensor 0 outside axis 1"
        );
        assert!(Tensor::concat(&[&x, &Tensor::zeros(&[2, 3, 1])], 0).is_err());
        assert!(matches!(Tensor::concat(&[&x], -3), Err(TensorError::BadAxis { op: "concat", .. })));

        assert!(Tensor::<f32>::stack(&[], 0).unwrap_err().to_string().contains("stack: needs at least one tensor"));
        let e = Tensor::stack(&[&x, &Tensor::zeros(&[3, 2])], 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "stack: incompatible shapes [2, 3] and [3, 2]: tensor 1 differs from tensor 0; all shapes must be equal"
        );
        assert_eq!(Tensor::stack(&[&x, &x], 2).unwrap().shape(), &[2, 3, 2]);
        assert!(matches!(Tensor::stack(&[&x], 3), Err(TensorError::BadAxis { op: "stack", axis: 3, rank: 3, .. })));
        assert!(matches!(x.pad(-3, 1, 1, 0.0), Err(TensorError::BadAxis { op: "pad", .. })));
        assert!(x.pad(0, usize::MAX, 1, 0.0).unwrap_err().to_string().contains("overflows"));
    }
}
