//! Axis permutations, producing contiguous results.
//!
//! The kernel first simplifies the permutation (size-1 axes dropped, axes that stay adjacent
//! merged), then picks: a shared buffer for what is left an identity, a cache-blocked transpose for a
//! (batched) swap of the last two axes, and a row-by-row strided copy otherwise (a plain row
//! `memcpy` when the innermost axis stays innermost).

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::par;
use crate::shape::{normalize_axis, numel, strides};
use crate::tensor::tape::Backward;
use crate::tensor::Tensor;

/// Transpose kernel: output rows per task, source rows per band, columns per strip.
const GROUP: usize = 64;
const BAND: usize = 512;
const STRIP: usize = 8;
/// Rows of the strided copy handled per task (about this many elements).
const BLOCK_ELEMS: usize = 1 << 12;

/// Rejects anything but a permutation of `0..shape.len()`.
fn check_permutation(op: &'static str, axes: &[usize], shape: &[usize]) -> Result<()> {
    let rank = shape.len();
    let mut seen = vec![false; rank];
    let valid = axes.len() == rank && axes.iter().all(|&a| a < rank && !std::mem::replace(&mut seen[a], true));
    if !valid {
        return Err(TensorError::invalid(
            op,
            format!("axes {axes:?} are not a permutation of 0..{rank} (tensor shape {shape:?})"),
        ));
    }
    Ok(())
}

/// The equivalent smaller problem: input dims and permutation with size-1 axes dropped and runs of
/// output axes that read consecutive input axes merged into one.
fn simplify(shape: &[usize], perm: &[usize]) -> (Vec<usize>, Vec<usize>) {
    // drop size-1 axes, relabelling the survivors 0..k in input order
    let mut label = vec![usize::MAX; shape.len()];
    let mut dims = Vec::new();
    for (a, &d) in shape.iter().enumerate() {
        if d != 1 {
            label[a] = dims.len();
            dims.push(d);
        }
    }
    let p: Vec<usize> = perm.iter().filter(|&&a| shape[a] != 1).map(|&a| label[a]).collect();
    // groups of consecutive output positions reading consecutive input axes: (first, last) input axis
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for &a in &p {
        match groups.last_mut() {
            Some(g) if g.1 + 1 == a => g.1 = a,
            _ => groups.push((a, a)),
        }
    }
    let mut by_input: Vec<usize> = (0..groups.len()).collect();
    by_input.sort_unstable_by_key(|&g| groups[g].0);
    let mut new_label = vec![0; groups.len()];
    let mut new_dims = Vec::with_capacity(groups.len());
    for (rank, &g) in by_input.iter().enumerate() {
        new_label[g] = rank;
        new_dims.push(dims[groups[g].0..=groups[g].1].iter().product());
    }
    (new_dims, new_label)
}

/// `dst` (C×R, row-major) = transpose of `src` (R×C).
///
/// Each task owns `GROUP` output rows (source columns). It walks the source in bands of `BAND`
/// rows and, within a band, in blocks of `STRIP` columns: every source row contributes one short
/// contiguous read, appended to `STRIP` sequential output streams, and the band's source lines stay
/// in cache for the next strip. (Square tiles suffer badly from cache-set conflicts when the
/// output row length is a power of two, the common case.)
fn transpose_matrix<T: Float>(src: &[T], dst: &mut [T], rows: usize, cols: usize) {
    par::rows_mut(dst, GROUP * rows, |k, block| {
        let c_start = k * GROUP;
        let c_end = (c_start + GROUP).min(cols);
        for r0 in (0..rows).step_by(BAND) {
            let r1 = (r0 + BAND).min(rows);
            for c0 in (c_start..c_end).step_by(STRIP) {
                let c1 = (c0 + STRIP).min(c_end);
                for r in r0..r1 {
                    for (j, &v) in src[r * cols + c0..r * cols + c1].iter().enumerate() {
                        block[(c0 - c_start + j) * rows + r] = v;
                    }
                }
            }
        }
    });
}

/// Row-by-row copy of the (simplified) permutation: each output row along the last output axis
/// reads the input with that axis' stride.
fn strided_copy<T: Float>(src: &[T], dst: &mut [T], dims: &[usize], perm: &[usize]) {
    let r = perm.len();
    let in_strides = strides(dims);
    let out_dims: Vec<usize> = perm.iter().map(|&a| dims[a]).collect();
    let read: Vec<usize> = perm.iter().map(|&a| in_strides[a]).collect();
    let (len, step) = (out_dims[r - 1], read[r - 1]);
    let outer = &out_dims[..r - 1];
    let rows_per_block = (BLOCK_ELEMS / len).max(1);
    par::rows_mut(dst, rows_per_block * len, |b, block| {
        // multi-index of the block's first row over the outer output axes
        let mut idx = vec![0; r - 1];
        let mut rem = b * rows_per_block;
        let mut base = 0;
        for ax in (0..r - 1).rev() {
            idx[ax] = rem % outer[ax];
            rem /= outer[ax];
            base += idx[ax] * read[ax];
        }
        for row in block.chunks_mut(len) {
            if step == 1 {
                row.copy_from_slice(&src[base..base + len]);
            } else {
                for (j, o) in row.iter_mut().enumerate() {
                    *o = src[base + j * step];
                }
            }
            for ax in (0..r - 1).rev() {
                idx[ax] += 1;
                base += read[ax];
                if idx[ax] < outer[ax] {
                    break;
                }
                base -= read[ax] * outer[ax];
                idx[ax] = 0;
            }
        }
    });
}

/// The permuted tensor, a constant; `perm` is a validated permutation.
fn permute_kernel<T: Float>(x: &Tensor<T>, perm: &[usize]) -> Tensor<T> {
    let out_shape: Vec<usize> = perm.iter().map(|&a| x.shape[a]).collect();
    let (dims, p) = simplify(&x.shape, perm);
    let r = p.len();
    if numel(&x.shape) == 0 || p.iter().enumerate().all(|(i, &a)| i == a) {
        // nothing moves: the buffer is already in the output order
        return Tensor { data: x.data.clone(), shape: out_shape, node: None };
    }
    let mut out = vec![T::zero(); x.numel()];
    let batched_swap = p[r - 1] == r - 2 && p[r - 2] == r - 1 && p[..r - 2].iter().enumerate().all(|(i, &a)| i == a);
    if batched_swap {
        let (rows, cols) = (dims[r - 2], dims[r - 1]);
        par::rows_mut(&mut out, rows * cols, |b, dst| {
            transpose_matrix(&x.data[b * rows * cols..(b + 1) * rows * cols], dst, rows, cols);
        });
    } else {
        strided_copy(&x.data, &mut out, &dims, &p);
    }
    Tensor::from_parts(out, out_shape)
}

struct PermuteBackward {
    name: &'static str,
    inverse: Vec<usize>,
}

impl<T: Float> Backward<T> for PermuteBackward {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![Some(permute_kernel(g, &self.inverse))])
    }
}

fn permute_op<T: Float>(name: &'static str, x: &Tensor<T>, perm: &[usize]) -> Result<Tensor<T>> {
    let value = permute_kernel(x, perm);
    if !x.is_tracked() {
        return Ok(value);
    }
    let mut inverse = vec![0; perm.len()];
    for (i, &a) in perm.iter().enumerate() {
        inverse[a] = i;
    }
    Tensor::from_op(value, &[x], PermuteBackward { name, inverse })
}

impl<T: Float> Tensor<T> {
    /// Reorders the axes: axis `i` of the result is axis `axes[i]` of `self`. The result is
    /// contiguous (a copy, except when no element moves).
    ///
    /// # Shapes
    /// `axes` is a permutation of `0..rank`; the result has shape `[shape[axes[0]], shape[axes[1]], ...]`.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f32>::arange(6).reshape(&[1, 2, 3])?;
    /// let y = x.permute(&[2, 0, 1])?;
    /// assert_eq!(y.shape(), &[3, 1, 2]);
    /// assert_eq!(y.to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn permute(&self, axes: &[usize]) -> Result<Tensor<T>> {
        check_permutation("permute", axes, &self.shape)?;
        permute_op("permute", self, axes)
    }

    /// Swaps axes `a` and `b` (negative axes count from the end). The result is contiguous.
    ///
    /// # Shapes
    /// The shape of `self` with entries `a` and `b` exchanged.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// let y = x.transpose(0, -1)?;
    /// assert_eq!(y.shape(), &[3, 2]);
    /// assert_eq!(y.to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn transpose(&self, a: isize, b: isize) -> Result<Tensor<T>> {
        let a = normalize_axis("transpose", a, &self.shape)?;
        let b = normalize_axis("transpose", b, &self.shape)?;
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        permute_op("transpose", self, &perm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{adjoint_error, assert_gradients, small_shape, tensor_from};
    use proptest::prelude::*;

    /// A shape and a random permutation of its axes.
    fn shape_and_perm(max_rank: usize) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
        small_shape(max_rank).prop_flat_map(|s| {
            let perm = Just((0..s.len()).collect::<Vec<usize>>()).prop_shuffle();
            (Just(s), perm)
        })
    }

    /// Reference: out[i] = x[idx] with idx read through the permuted strides, element by element.
    fn naive_permute(x: &Tensor<f64>, perm: &[usize]) -> Vec<f64> {
        let out_shape: Vec<usize> = perm.iter().map(|&a| x.shape()[a]).collect();
        let xs = strides(x.shape());
        let os = strides(&out_shape);
        (0..x.numel())
            .map(|o| {
                let src: usize = (0..perm.len()).map(|i| (o / os[i]) % out_shape[i] * xs[perm[i]]).sum();
                x.data()[src]
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn values_match_naive((shape, perm) in shape_and_perm(5), seed in 0u64..1000) {
            let x = tensor_from::<f64>(&shape, seed, -1.0, 1.0);
            let y = x.permute(&perm).unwrap();
            prop_assert_eq!(y.shape().to_vec(), perm.iter().map(|&a| shape[a]).collect::<Vec<_>>());
            prop_assert_eq!(y.to_vec(), naive_permute(&x, &perm));
        }

        #[test]
        fn transpose_values_match_naive(shape in prop::collection::vec(1usize..40, 2..=3), seed in 0u64..1000) {
            // sizes beyond one tile exercise the tiled kernel's edges
            let x = tensor_from::<f64>(&shape, seed, -1.0, 1.0);
            let r = shape.len();
            let mut perm: Vec<usize> = (0..r).collect();
            perm.swap(r - 2, r - 1);
            prop_assert_eq!(x.transpose(-1, -2).unwrap().to_vec(), naive_permute(&x, &perm));
        }

        #[test]
        fn grad_permute_transpose((shape, perm) in shape_and_perm(4), a in 0isize..4, b in -4isize..0, seed in 0u64..1000) {
            let x = tensor_from(&shape, seed, -1.0, 1.0);
            assert_gradients(std::slice::from_ref(&x), |v| v[0].permute(&perm));
            let r = shape.len() as isize;
            let (a, b) = (a % r, b.max(-r));
            assert_gradients(&[x], |v| v[0].transpose(a, b));
        }

        #[test]
        fn adjoint_permute_transpose_f32((shape, perm) in shape_and_perm(4), seed in 0u64..1000) {
            let x = tensor_from::<f32>(&shape, seed, -1.0, 1.0);
            prop_assert!(adjoint_error(&x, |v| v.permute(&perm)).unwrap() < 1e-5);
            prop_assert!(adjoint_error(&x, |v| v.transpose(0, -1)).unwrap() < 1e-5);
        }
    }

    #[test]
    fn large_tensors_use_threads_and_match_naive() {
        // above the parallel threshold, both the tiled and the strided kernel
        let x = tensor_from::<f64>(&[3, 130, 97], 4, -1.0, 1.0);
        for perm in [[0, 2, 1], [1, 0, 2], [2, 1, 0], [1, 2, 0]] {
            assert_eq!(x.permute(&perm).unwrap().to_vec(), naive_permute(&x, &perm), "{perm:?}");
        }
        // more source rows than a band and more columns than a group, with ragged ends
        let x = tensor_from::<f64>(&[2, BAND + 37, GROUP + 11], 5, -1.0, 1.0);
        assert_eq!(x.transpose(1, 2).unwrap().to_vec(), naive_permute(&x, &[0, 2, 1]));
    }

    #[test]
    fn simplification_merges_and_drops_axes() {
        assert_eq!(simplify(&[2, 3, 4], &[0, 2, 1]), (vec![2, 3, 4], vec![0, 2, 1]));
        assert_eq!(simplify(&[2, 3, 4], &[1, 2, 0]), (vec![2, 12], vec![1, 0]));
        assert_eq!(simplify(&[2, 1, 4], &[1, 0, 2]), (vec![8], vec![0]));
        let x = Tensor::<f32>::arange(8).reshape(&[2, 1, 4]).unwrap();
        let y = x.permute(&[1, 0, 2]).unwrap();
        assert!(std::sync::Arc::ptr_eq(&x.data, &y.data), "a move of a size-1 axis copies nothing");
        assert_eq!(y.shape(), &[1, 2, 4]);
    }

    #[test]
    fn bad_permutations_and_axes() {
        let x = Tensor::<f32>::zeros(&[2, 3, 4]);
        for bad in [&[0, 1][..], &[0, 1, 1], &[0, 1, 3], &[0, 1, 2, 3]] {
            let e = x.permute(bad).unwrap_err();
            assert!(matches!(e, TensorError::InvalidArgument { op: "permute", .. }));
            assert_eq!(
                e.to_string(),
                format!("permute: axes {bad:?} are not a permutation of 0..3 (tensor shape [2, 3, 4])")
            );
        }
        let e = x.transpose(0, 3).unwrap_err();
        assert!(matches!(e, TensorError::BadAxis { op: "transpose", axis: 3, rank: 3, .. }));
        assert_eq!(e.to_string(), "transpose: axis 3 is out of range for a tensor of rank 3 (shape [2, 3, 4])");
        assert!(x.transpose(-4, 0).is_err());
    }
}
