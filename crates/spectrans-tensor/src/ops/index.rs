//! Integer indexing along one axis: `index_select` (embedding lookup) and `gather`, whose
//! backward passes scatter-add (repeated indices accumulate).

use std::sync::Arc;

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::par;
use crate::shape::{normalize_axis, numel};
use crate::tensor::tape::Backward;
use crate::tensor::Tensor;

/// Fails on the first index `>= size`, naming it, its position and the axis.
fn check_indices(op: &'static str, indices: &[usize], axis: isize, shape: &[usize], size: usize) -> Result<()> {
    match indices.iter().position(|&i| i >= size) {
        None => Ok(()),
        Some(p) => Err(TensorError::invalid(
            op,
            format!(
                "index {} (at position {p}) is out of range for axis {axis} of size {size} (shape {shape:?})",
                indices[p]
            ),
        )),
    }
}

/// `(outer, size, inner)` around `axis`.
fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (numel(&shape[..axis]), shape[axis], numel(&shape[axis + 1..]))
}

struct IndexSelectBackward {
    input_shape: Vec<usize>,
    axis: usize,
    indices: Arc<[usize]>,
}

impl<T: Float> Backward<T> for IndexSelectBackward {
    fn name(&self) -> &'static str {
        "index_select"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let (_, size, inner) = split_at_axis(&self.input_shape, self.axis);
        let k = self.indices.len();
        let gd = g.data();
        let mut out = vec![T::zero(); numel(&self.input_shape)];
        // one task per outer block: within it, indices are visited in order (deterministic sums)
        par::rows_mut(&mut out, size * inner, |o, block| {
            let src = &gd[o * k * inner..(o + 1) * k * inner];
            for (&i, row) in self.indices.iter().zip(src.chunks_exact(inner)) {
                for (acc, &v) in block[i * inner..(i + 1) * inner].iter_mut().zip(row) {
                    *acc += v;
                }
            }
        });
        Ok(vec![Some(Tensor::from_parts(out, self.input_shape.clone()))])
    }
}

struct GatherBackward {
    input_shape: Vec<usize>,
    axis: usize,
    indices: Arc<[usize]>,
    k: usize,
}

impl<T: Float> Backward<T> for GatherBackward {
    fn name(&self) -> &'static str {
        "gather"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let (_, size, inner) = split_at_axis(&self.input_shape, self.axis);
        let (k, gd) = (self.k, g.data());
        let mut out = vec![T::zero(); numel(&self.input_shape)];
        par::rows_mut(&mut out, size * inner, |o, block| {
            let base = o * k * inner;
            for j in 0..k {
                let at = base + j * inner;
                for (t, (&i, &v)) in self.indices[at..at + inner].iter().zip(&gd[at..at + inner]).enumerate() {
                    block[i * inner + t] += v;
                }
            }
        });
        Ok(vec![Some(Tensor::from_parts(out, self.input_shape.clone()))])
    }
}

impl<T: Float> Tensor<T> {
    /// The entries at `indices` along `axis` (negative counts from the end), in the order given;
    /// indices may repeat. With `axis = 0` on a `(vocab, dim)` weight this is an embedding lookup,
    /// done by whole-row copies.
    ///
    /// # Shapes
    /// The result has `indices.len()` along `axis`, other axes unchanged. Every index must be
    /// below `shape[axis]`.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let weight = Tensor::<f32>::arange(6).reshape(&[3, 2])?;
    /// let emb = weight.index_select(0, &[2, 0, 2])?;
    /// assert_eq!(emb.shape(), &[3, 2]);
    /// assert_eq!(emb.to_vec(), vec![4.0, 5.0, 0.0, 1.0, 4.0, 5.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn index_select(&self, axis: isize, indices: &[usize]) -> Result<Tensor<T>> {
        let ax = normalize_axis("index_select", axis, &self.shape)?;
        let (_, size, inner) = split_at_axis(&self.shape, ax);
        check_indices("index_select", indices, axis, &self.shape, size)?;
        let k = indices.len();
        let mut out_shape = self.shape.clone();
        out_shape[ax] = k;
        let mut out = vec![T::zero(); numel(&out_shape)];
        let src = self.data();
        if numel(&self.shape[..ax]) == 1 {
            // axis 0 (embedding lookup): one row copy per selected index
            par::rows_mut(&mut out, inner, |j, row| {
                let at = indices[j] * inner;
                row.copy_from_slice(&src[at..at + inner]);
            });
        } else {
            par::rows_mut(&mut out, k * inner, |o, block| {
                for (row, &i) in block.chunks_exact_mut(inner).zip(indices) {
                    let at = (o * size + i) * inner;
                    row.copy_from_slice(&src[at..at + inner]);
                }
            });
        }
        let value = Tensor::from_parts(out, out_shape);
        if !self.is_tracked() {
            return Ok(value);
        }
        let backward = IndexSelectBackward { input_shape: self.shape.clone(), axis: ax, indices: indices.into() };
        Tensor::from_op(value, &[self], backward)
    }

    /// Picks one entry along `axis` per output position (`torch.gather`):
    /// `out[i.., j, k..] = self[i.., indices[i.., j, k..], k..]`, with `indices` laid out row-major
    /// in `index_shape`.
    ///
    /// # Shapes
    /// `index_shape` has `self`'s rank and equals `self`'s shape except along `axis`;
    /// `indices.len() == index_shape.iter().product()`, every index below `shape[axis]`. The result
    /// has shape `index_shape`.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
    /// // per row, pick column 1 then column 0
    /// let y = x.gather(1, &[1, 0, 1, 0], &[2, 2])?;
    /// assert_eq!(y.to_vec(), vec![2.0, 1.0, 4.0, 3.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn gather(&self, axis: isize, indices: &[usize], index_shape: &[usize]) -> Result<Tensor<T>> {
        let ax = normalize_axis("gather", axis, &self.shape)?;
        let fits = index_shape.len() == self.rank()
            && index_shape.iter().zip(&self.shape).enumerate().all(|(a, (i, s))| a == ax || i == s);
        if !fits {
            return Err(TensorError::mismatch(
                "gather",
                &self.shape,
                index_shape,
                format!("the index shape must have the tensor's rank and equal its shape except along axis {axis}"),
            ));
        }
        if indices.len() != numel(index_shape) {
            return Err(TensorError::bad_shape(
                "gather",
                index_shape,
                format!("needs {} indices, got {}", numel(index_shape), indices.len()),
            ));
        }
        let (_, size, inner) = split_at_axis(&self.shape, ax);
        check_indices("gather", indices, axis, &self.shape, size)?;
        let k = index_shape[ax];
        let src = self.data();
        let mut out = vec![T::zero(); indices.len()];
        par::rows_mut(&mut out, k * inner, |o, block| {
            let base = o * size * inner;
            let ids = &indices[o * k * inner..(o + 1) * k * inner];
            for (row, row_ids) in block.chunks_exact_mut(inner).zip(ids.chunks_exact(inner)) {
                for (t, (v, &i)) in row.iter_mut().zip(row_ids).enumerate() {
                    *v = src[base + i * inner + t];
                }
            }
        });
        let value = Tensor::from_parts(out, index_shape.to_vec());
        if !self.is_tracked() {
            return Ok(value);
        }
        let backward = GatherBackward { input_shape: self.shape.clone(), axis: ax, indices: indices.into(), k };
        Tensor::from_op(value, &[self], backward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{adjoint_error, assert_gradients, small_shape, tensor_from};
    use crate::rng::Rng;
    use crate::shape::strides;
    use proptest::prelude::*;

    /// A shape, an axis and `n` random indices valid along it.
    fn case(max_rank: usize) -> impl Strategy<Value = (Vec<usize>, usize, u64)> {
        small_shape(max_rank).prop_flat_map(|s| {
            let r = s.len();
            (Just(s), 0..r, any::<u64>())
        })
    }

    fn random_indices(n: usize, below: usize, seed: u64) -> Vec<usize> {
        let mut rng = Rng::seed(seed);
        (0..n).map(|_| ((rng.uniform() * below as f64) as usize).min(below - 1)).collect()
    }

    /// Every multi-index of `shape` in row-major order.
    fn multi(shape: &[usize]) -> Vec<Vec<usize>> {
        let st = strides(shape);
        (0..numel(shape)).map(|o| (0..shape.len()).map(|a| o / st[a] % shape[a]).collect()).collect()
    }

    fn at(x: &Tensor<f64>, idx: &[usize]) -> f64 {
        x.data()[idx.iter().zip(strides(x.shape())).map(|(i, s)| i * s).sum::<usize>()]
    }

    /// Index shape for gather: the tensor's shape with `k` along `axis`.
    fn with_axis(shape: &[usize], axis: usize, k: usize) -> Vec<usize> {
        let mut s = shape.to_vec();
        s[axis] = k;
        s
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn values_match_naive((shape, ax, seed) in case(4), k in 0usize..6) {
            let x = tensor_from::<f64>(&shape, seed, -1.0, 1.0);
            let ids = random_indices(k, shape[ax], seed);
            let y = x.index_select(ax as isize, &ids).unwrap();
            prop_assert_eq!(y.shape().to_vec(), with_axis(&shape, ax, k));
            for (o, idx) in multi(y.shape()).iter().enumerate() {
                let mut src = idx.clone();
                src[ax] = ids[idx[ax]];
                prop_assert_eq!(y.data()[o], at(&x, &src));
            }
            let ishape = with_axis(&shape, ax, k);
            let gids = random_indices(numel(&ishape), shape[ax], seed + 1);
            let z = x.gather(ax as isize - shape.len() as isize, &gids, &ishape).unwrap();
            for (o, idx) in multi(&ishape).iter().enumerate() {
                let mut src = idx.clone();
                src[ax] = gids[o];
                prop_assert_eq!(z.data()[o], at(&x, &src));
            }
        }

        #[test]
        fn grad_index_select_gather((shape, ax, seed) in case(3), k in 1usize..6) {
            let x = tensor_from(&shape, seed, -1.0, 1.0);
            let ids = random_indices(k, shape[ax], seed);
            assert_gradients(std::slice::from_ref(&x), |v| v[0].index_select(ax as isize, &ids));
            let ishape = with_axis(&shape, ax, k);
            let gids = random_indices(numel(&ishape), shape[ax], seed + 1);
            assert_gradients(&[x], |v| v[0].gather(ax as isize, &gids, &ishape));
        }

        #[test]
        fn adjoint_index_select_gather_f32((shape, ax, seed) in case(3), k in 1usize..6) {
            let x = tensor_from::<f32>(&shape, seed, -1.0, 1.0);
            let ids = random_indices(k, shape[ax], seed);
            prop_assert!(adjoint_error(&x, |v| v.index_select(ax as isize, &ids)).unwrap() < 1e-5);
            let ishape = with_axis(&shape, ax, k);
            let gids = random_indices(numel(&ishape), shape[ax], seed + 1);
            prop_assert!(adjoint_error(&x, |v| v.gather(ax as isize, &gids, &ishape)).unwrap() < 1e-5);
        }
    }

    #[test]
    fn repeated_indices_accumulate() {
        let w = crate::Parameter::new(Tensor::<f64>::zeros(&[3, 2]));
        let tape = crate::Tape::new();
        let y = tape.watch(&w).index_select(0, &[1, 1, 2, 1]).unwrap();
        y.sum(&[], false).unwrap().backward().unwrap();
        assert_eq!(w.grad().unwrap().to_vec(), vec![0.0, 0.0, 3.0, 3.0, 1.0, 1.0]);

        let tape = crate::Tape::new();
        w.zero_grad();
        let y = tape.watch(&w).gather(0, &[2, 0, 2, 2], &[2, 2]).unwrap();
        y.sum(&[], false).unwrap().backward().unwrap();
        assert_eq!(w.grad().unwrap().to_vec(), vec![0.0, 1.0, 0.0, 0.0, 2.0, 1.0]);
    }

    #[test]
    fn large_embedding_lookup() {
        let w = tensor_from::<f32>(&[1000, 64], 1, -1.0, 1.0);
        let ids: Vec<usize> = (0..700).map(|i| (i * 37) % 1000).collect();
        let e = w.index_select(0, &ids).unwrap();
        for (j, &i) in ids.iter().enumerate() {
            assert_eq!(&e.data()[j * 64..(j + 1) * 64], &w.data()[i * 64..(i + 1) * 64]);
        }
    }

    #[test]
    fn errors_name_index_and_size() {
        let x = Tensor::<f32>::zeros(&[4, 3]);
        let e = x.index_select(0, &[1, 4]).unwrap_err();
        assert!(matches!(e, TensorError::InvalidArgument { op: "index_select", .. }));
        assert_eq!(
            e.to_string(),
            "index_select: index 4 (at position 1) is out of range for axis 0 of size 4 (shape [4, 3])"
        );
        assert!(matches!(x.index_select(-3, &[0]), Err(TensorError::BadAxis { op: "index_select", .. })));
        let e = x.gather(1, &[0, 3], &[1, 2]).unwrap_err();
        assert!(matches!(e, TensorError::ShapeMismatch { op: "gather", .. }), "{e}");
        let e = x.gather(1, &[0, 3, 0, 0, 1, 2, 0, 0], &[4, 2]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "gather: index 3 (at position 1) is out of range for axis 1 of size 3 (shape [4, 3])"
        );
        let e = x.gather(0, &[0, 1], &[1, 3]).unwrap_err();
        assert_eq!(e.to_string(), "gather: invalid shape [1, 3]: needs 3 indices, got 2");
        assert!(x.gather(0, &[0; 3], &[3]).is_err());
    }
}
