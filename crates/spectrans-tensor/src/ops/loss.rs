//! Losses, each one fused op: cross-entropy on logits (log-softmax + negative log-likelihood, with
//! ignored rows) and mean squared error.

use rayon::prelude::*;

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::ops::softmax::row_max;
use crate::ops::when;
use crate::par::{self, PAR_THRESHOLD};
use crate::shape::numel;
use crate::tensor::tape::Backward;
use crate::tensor::Tensor;

/// How a loss combines its per-row (or per-element) terms, as torch's `reduction` argument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// The mean over the counted terms (the default); NaN when nothing is counted, as torch.
    #[default]
    Mean,
    /// The sum of the terms.
    Sum,
    /// No reduction: one loss per row (or element).
    None,
}

/// Marks a row that contributes nothing (ignored target or masked out).
const SKIP: usize = usize::MAX;

/// Elements per partial sum of the deterministic reductions.
const SUM_CHUNK: usize = 1 << 13;

/// Numbers of rows and classes of logits shaped `(…, C)`.
fn rows_and_classes(op: &'static str, shape: &[usize]) -> Result<(usize, usize)> {
    match shape.split_last() {
        Some((&c, lead)) => Ok((numel(lead), c)),
        None => Err(TensorError::bad_shape(op, shape, "logits need rank >= 1 (classes on the last axis)")),
    }
}

/// Validates one target per row; rows where `skip(row)` holds become [`SKIP`].
fn checked_targets(
    op: &'static str,
    shape: &[usize],
    targets: &[usize],
    skip: impl Fn(usize) -> bool,
) -> Result<Vec<usize>> {
    let (rows, c) = rows_and_classes(op, shape)?;
    if targets.len() != rows {
        return Err(TensorError::mismatch(
            op,
            shape,
            &[targets.len()],
            format!("needs one target per row: {rows} (the product of the leading axes), got {}", targets.len()),
        ));
    }
    let mut out = Vec::with_capacity(rows);
    for (i, &t) in targets.iter().enumerate() {
        if skip(i) {
            out.push(SKIP);
        } else if t >= c {
            return Err(TensorError::invalid(op, format!("target {t} at row {i} is out of range for {c} classes")));
        } else {
            out.push(t);
        }
    }
    Ok(out)
}

/// Log-sum-exp of one row (max-shifted), summing with four independent lanes in a fixed order.
#[inline]
fn log_sum_exp<T: Float>(row: &[T]) -> T {
    const L: usize = 4;
    let m = row_max(row);
    let mut acc = [T::zero(); L];
    let chunks = row.chunks_exact(L);
    let tail: T = chunks.remainder().iter().map(|&v| (v - m).exp()).sum();
    for c in chunks {
        for i in 0..L {
            acc[i] += (c[i] - m).exp();
        }
    }
    m + ((acc[0] + acc[2]) + (acc[1] + acc[3]) + tail).ln()
}

/// Backward of cross-entropy: `(softmax − onehot)·scale` per counted row, 0 elsewhere.
struct CrossEntropyBackward<T: Float> {
    logits: Tensor<T>,
    targets: Vec<usize>,
    lse: Vec<T>,
    reduction: Reduction,
    count: usize,
}

impl<T: Float> Backward<T> for CrossEntropyBackward<T> {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }

    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let c = self.logits.shape[self.logits.rank() - 1];
        let gd = g.data();
        let (x, targets, lse) = (self.logits.data(), &self.targets, &self.lse);
        let uniform = match self.reduction {
            Reduction::Mean if self.count > 0 => gd[0] / T::of(self.count as f64),
            Reduction::Mean | Reduction::Sum => gd[0],
            Reduction::None => T::zero(), // per-row below
        };
        let mut dx = vec![T::zero(); x.len()];
        par::rows_mut(&mut dx, c, |r, row| {
            let t = targets[r];
            if t == SKIP {
                return;
            }
            let scale = if self.reduction == Reduction::None { gd[r] } else { uniform };
            let l = lse[r];
            for (d, &v) in row.iter_mut().zip(&x[r * c..(r + 1) * c]) {
                *d = (v - l).exp() * scale;
            }
            row[t] -= scale;
        });
        Ok(vec![Some(Tensor::from_parts(dx, self.logits.shape.clone()))])
    }
}

fn cross_entropy_op<T: Float>(logits: &Tensor<T>, targets: Vec<usize>, reduction: Reduction) -> Result<Tensor<T>> {
    let (rows, c) = (targets.len(), logits.shape[logits.rank() - 1]);
    let x = logits.data();
    let mut losses = vec![T::zero(); rows];
    let mut lse = vec![T::zero(); rows];
    let row_loss = |((loss, l), (r, &t)): ((&mut T, &mut T), (usize, &usize))| {
        if t != SKIP {
            let xr = &x[r * c..(r + 1) * c];
            *l = log_sum_exp(xr);
            *loss = *l - xr[t];
        }
    };
    if x.len() < PAR_THRESHOLD {
        losses.iter_mut().zip(lse.iter_mut()).zip(targets.iter().enumerate()).for_each(row_loss);
    } else {
        losses.par_iter_mut().zip(lse.par_iter_mut()).zip(targets.par_iter().enumerate()).for_each(row_loss);
    }
    let count = targets.iter().filter(|&&t| t != SKIP).count();
    let value = match reduction {
        Reduction::None => Tensor::from_parts(losses, logits.shape[..logits.rank() - 1].to_vec()),
        Reduction::Sum | Reduction::Mean => {
            let total: f64 = losses.iter().map(|v| v.as_f64()).sum();
            // Mean with nothing counted is 0/0 = NaN, as torch
            let v = if reduction == Reduction::Mean { total / count as f64 } else { total };
            Tensor::scalar(T::of(v))
        }
    };
    if !logits.is_tracked() {
        return Ok(value);
    }
    let backward = CrossEntropyBackward { logits: logits.detach(), targets, lse, reduction, count };
    Tensor::from_op(value, &[logits], backward)
}

/// Σ over fixed chunks of `f(a_i, b_i)` in f64, partial sums added in chunk order (deterministic).
fn chunked_sum<T: Float>(a: &[T], b: &[T], f: impl Fn(T, T) -> f64 + Sync) -> f64 {
    let partial = |(ca, cb): (&[T], &[T])| ca.iter().zip(cb).map(|(&x, &y)| f(x, y)).sum::<f64>();
    let partials: Vec<f64> = if a.len() < PAR_THRESHOLD {
        a.chunks(SUM_CHUNK).zip(b.chunks(SUM_CHUNK)).map(partial).collect()
    } else {
        a.par_chunks(SUM_CHUNK).zip(b.par_chunks(SUM_CHUNK)).map(partial).collect()
    };
    partials.iter().sum()
}

/// Backward of the mean squared error: `±2(x − t)·scale`.
struct MseBackward<T: Float> {
    x: Tensor<T>,
    t: Tensor<T>,
    reduction: Reduction,
}

impl<T: Float> Backward<T> for MseBackward<T> {
    fn name(&self) -> &'static str {
        "mse_loss"
    }

    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let (x, t, shape) = (self.x.data(), self.t.data(), &self.x.shape);
        let two = T::of(2.0);
        let grad = |sign: T| -> Result<Tensor<T>> {
            let d = match self.reduction {
                Reduction::None => par::zip3(x, t, g.data(), |a, b, gi| sign * two * gi * (a - b)),
                Reduction::Sum | Reduction::Mean => {
                    let n = if self.reduction == Reduction::Mean { x.len() } else { 1 };
                    let k = sign * two * g.data()[0] / T::of(n as f64);
                    par::zip(x, t, |a, b| k * (a - b))
                }
            };
            Ok(Tensor::from_parts(d, shape.clone()))
        };
        Ok(vec![when(needs[0], || grad(T::one()))?, when(needs[1], || grad(-T::one()))?])
    }
}

impl<T: Float> Tensor<T> {
    /// Cross-entropy of logits `self` against class indices: per row `logsumexp(x) − x[target]`,
    /// fused (no probabilities are stored). Rows whose target equals `ignore_index` count for
    /// nothing; [`Reduction::Mean`] divides by the number of counted rows (NaN if there are none,
    /// as torch), [`Reduction::None`] gives 0 at ignored rows.
    ///
    /// # Shapes
    /// `self`: `(…, C)`, rank ≥ 1; `targets`: one class in `0..C` per row (the product of the
    /// leading axes, row-major). The result is a scalar, or `(…)` for [`Reduction::None`].
    ///
    /// ```
    /// use spectrans_tensor::{Reduction, Tensor};
    /// let logits = Tensor::<f64>::from_vec(vec![0.0, 0.0, 5.0, 1.0, 2.0, 3.0], &[3, 2])?;
    /// let loss = logits.cross_entropy(&[1, 7, 0], Some(7), Reduction::None)?;
    /// assert_eq!(loss.shape(), &[3]);
    /// assert!((loss.to_vec()[0] - std::f64::consts::LN_2).abs() < 1e-15);
    /// assert_eq!(loss.to_vec()[1], 0.0); // ignored row
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn cross_entropy(
        &self,
        targets: &[usize],
        ignore_index: Option<usize>,
        reduction: Reduction,
    ) -> Result<Tensor<T>> {
        let targets = checked_targets("cross_entropy", &self.shape, targets, |i| Some(targets[i]) == ignore_index)?;
        cross_entropy_op(self, targets, reduction)
    }

    /// [`Tensor::cross_entropy`] with a per-row mask instead of an ignore index: rows where `mask`
    /// is `false` count for nothing (and their targets are not checked), as padding in a language
    /// model loss.
    ///
    /// # Shapes
    /// As [`Tensor::cross_entropy`]; `mask` has one entry per row.
    ///
    /// ```
    /// use spectrans_tensor::{Reduction, Tensor};
    /// let logits = Tensor::<f64>::zeros(&[2, 2, 4]);
    /// let loss = logits.cross_entropy_masked(&[0, 3, 1, 99], &[true, true, true, false], Reduction::Mean)?;
    /// assert!((loss.item()? - 4f64.ln()).abs() < 1e-15);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn cross_entropy_masked(&self, targets: &[usize], mask: &[bool], reduction: Reduction) -> Result<Tensor<T>> {
        let (rows, _) = rows_and_classes("cross_entropy_masked", &self.shape)?;
        if mask.len() != rows {
            return Err(TensorError::mismatch(
                "cross_entropy_masked",
                &self.shape,
                &[mask.len()],
                format!("needs one mask entry per row: {rows} (the product of the leading axes), got {}", mask.len()),
            ));
        }
        let targets = checked_targets("cross_entropy_masked", &self.shape, targets, |i| !mask[i])?;
        cross_entropy_op(self, targets, reduction)
    }

    /// Mean squared error `(self − target)²`, reduced; gradients flow to both operands.
    ///
    /// # Shapes
    /// `self` and `target` have the same shape; the result is a scalar, or that shape for
    /// [`Reduction::None`].
    ///
    /// ```
    /// use spectrans_tensor::{Reduction, Tensor};
    /// let y = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2])?;
    /// let t = Tensor::<f32>::from_vec(vec![1.0, 4.0], &[2])?;
    /// assert_eq!(y.mse_loss(&t, Reduction::Mean)?.item()?, 2.0);
    /// assert_eq!(y.mse_loss(&t, Reduction::None)?.to_vec(), vec![0.0, 4.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn mse_loss(&self, target: &Tensor<T>, reduction: Reduction) -> Result<Tensor<T>> {
        if self.shape != target.shape {
            return Err(TensorError::mismatch(
                "mse_loss",
                &self.shape,
                &target.shape,
                "prediction and target must have the same shape",
            ));
        }
        let (x, t) = (self.data(), target.data());
        let value = match reduction {
            Reduction::None => Tensor::from_parts(par::zip(x, t, |a, b| (a - b) * (a - b)), self.shape.clone()),
            Reduction::Sum | Reduction::Mean => {
                let total = chunked_sum(x, t, |a, b| (a.as_f64() - b.as_f64()).powi(2));
                // Mean of no elements is 0/0 = NaN, as torch
                let v = if reduction == Reduction::Mean { total / x.len() as f64 } else { total };
                Tensor::scalar(T::of(v))
            }
        };
        if !Tensor::any_tracked(&[self, target]) {
            return Ok(value);
        }
        Tensor::from_op(value, &[self, target], MseBackward { x: self.detach(), t: target.detach(), reduction })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{analytic_gradients, assert_gradients, small_shape, tensor_from};
    use crate::rng::Rng;
    use proptest::prelude::*;

    const ALL: [Reduction; 3] = [Reduction::Mean, Reduction::Sum, Reduction::None];

    /// `n` class indices in `0..high`, with row 0 always in `0..c` (so Mean never divides by 0).
    fn targets(n: usize, c: usize, high: usize, seed: u64) -> Vec<usize> {
        let mut rng = Rng::seed(seed);
        (0..n).map(|i| rng.below(if i == 0 { c } else { high } as u64) as usize).collect()
    }

    /// Per-row −log softmax[target] from the definition, in f64.
    fn naive_rows(x: &[f64], c: usize, t: &[usize], counted: impl Fn(usize) -> bool) -> Vec<f64> {
        t.iter()
            .enumerate()
            .map(|(r, &ti)| {
                if !counted(r) {
                    return 0.0;
                }
                let row = &x[r * c..(r + 1) * c];
                let z: f64 = row.iter().map(|v| v.exp()).sum();
                -(row[ti].exp() / z).ln()
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn grad_cross_entropy_with_ignore_index(lead in small_shape(2), c in 1usize..6, seed in 0u64..1000) {
            let mut shape = lead.clone();
            shape.push(c);
            let x = tensor_from::<f64>(&shape, seed, -3.0, 3.0);
            let n = numel(&lead);
            let t = targets(n, c, c + 1, seed); // value c is ignored
            let plain = targets(n, c, c, seed + 1);
            for red in ALL {
                assert_gradients(std::slice::from_ref(&x), |v| v[0].cross_entropy(&t, Some(c), red));
                assert_gradients(std::slice::from_ref(&x), |v| v[0].cross_entropy(&plain, None, red));
                // an ignore index that is also a valid class
                let first = plain[0];
                let avoid = if c > 1 { Some((first + 1) % c) } else { None };
                assert_gradients(std::slice::from_ref(&x), |v| v[0].cross_entropy(&plain, avoid, red));
            }
        }

        #[test]
        fn grad_cross_entropy_masked(lead in small_shape(2), c in 1usize..6, seed in 0u64..1000) {
            let mut shape = lead.clone();
            shape.push(c);
            let x = tensor_from::<f64>(&shape, seed, -3.0, 3.0);
            let n = numel(&lead);
            let t = targets(n, c, c, seed);
            let mut rng = Rng::seed(seed + 5);
            let mask: Vec<bool> = (0..n).map(|i| i == 0 || rng.uniform() < 0.6).collect();
            for red in ALL {
                assert_gradients(std::slice::from_ref(&x), |v| v[0].cross_entropy_masked(&t, &mask, red));
            }
        }

        #[test]
        fn cross_entropy_values_match_negative_log_softmax(lead in small_shape(3), c in 1usize..8, seed in 0u64..1000) {
            let mut shape = lead.clone();
            shape.push(c);
            let x = tensor_from::<f64>(&shape, seed, -5.0, 5.0);
            let n = numel(&lead);
            let t = targets(n, c, c + 1, seed);
            let counted = |r: usize| t[r] != c;
            let rows = naive_rows(x.data(), c, &t, counted);
            let none = x.cross_entropy(&t, Some(c), Reduction::None).unwrap();
            prop_assert_eq!(none.shape(), &shape[..shape.len() - 1]);
            // also against our own log_softmax, picked at the target
            let ls = x.log_softmax(-1).unwrap();
            for (r, (&a, &e)) in none.data().iter().zip(&rows).enumerate() {
                prop_assert!((a - e).abs() < 1e-12, "row {}: {} vs {}", r, a, e);
                if counted(r) {
                    prop_assert!((a + ls.data()[r * c + t[r]]).abs() < 1e-12);
                }
            }
            let count = (0..n).filter(|&r| counted(r)).count() as f64;
            let sum: f64 = rows.iter().sum();
            let s = x.cross_entropy(&t, Some(c), Reduction::Sum).unwrap().item().unwrap();
            let m = x.cross_entropy(&t, Some(c), Reduction::Mean).unwrap().item().unwrap();
            prop_assert!((s - sum).abs() < 1e-12 && (m - sum / count).abs() < 1e-12);
        }

        #[test]
        fn grad_mse_loss(shape in small_shape(4), seed in 0u64..1000) {
            let x = tensor_from::<f64>(&shape, seed, -2.0, 2.0);
            let t = tensor_from::<f64>(&shape, seed + 1, -2.0, 2.0);
            for red in ALL {
                assert_gradients(&[x.clone(), t.clone()], |v| v[0].mse_loss(&v[1], red));
            }
        }
    }

    #[test]
    fn masked_equals_ignore_index_and_skips_masked_targets() {
        let x = tensor_from::<f64>(&[4, 3], 1, -2.0, 2.0);
        let a = x.cross_entropy(&[2, 9, 0, 9], Some(9), Reduction::Mean).unwrap();
        let b = x.cross_entropy_masked(&[2, 1000, 0, 1], &[true, false, true, false], Reduction::Mean).unwrap();
        assert_eq!(a.item().unwrap(), b.item().unwrap());
    }

    #[test]
    fn all_rows_ignored_gives_nan_mean_and_zero_gradient() {
        let x = tensor_from::<f64>(&[2, 3], 2, -1.0, 1.0);
        assert!(x.cross_entropy(&[5, 5], Some(5), Reduction::Mean).unwrap().item().unwrap().is_nan());
        assert_eq!(x.cross_entropy(&[5, 5], Some(5), Reduction::Sum).unwrap().item().unwrap(), 0.0);
        let (_, _, g) =
            analytic_gradients(&[x], |v| v[0].cross_entropy_masked(&[0, 1], &[false, false], Reduction::Mean), 3)
                .unwrap();
        assert_eq!(g[0].to_vec(), vec![0.0; 6]);
    }

    #[test]
    fn large_input_matches_naive_value_and_gradient() {
        // 2500 rows × 20 classes > PAR_THRESHOLD elements: the parallel row path
        let (n, c) = (2500, 20);
        let x = tensor_from::<f64>(&[n, c], 4, -4.0, 4.0);
        let t = targets(n, c, c + 1, 5);
        let counted = |r: usize| t[r] != c;
        let count = (0..n).filter(|&r| counted(r)).count() as f64;
        let rows = naive_rows(x.data(), c, &t, counted);
        let loss = x.cross_entropy(&t, Some(c), Reduction::Mean).unwrap().item().unwrap();
        assert!((loss - rows.iter().sum::<f64>() / count).abs() < 1e-12);
        let p = crate::Parameter::new(x.clone());
        let tape = crate::Tape::new();
        tape.watch(&p).cross_entropy(&t, Some(c), Reduction::Mean).unwrap().backward().unwrap();
        let g = p.grad().unwrap();
        for (r, (row, grow)) in x.data().chunks(c).zip(g.data().chunks(c)).enumerate() {
            let z: f64 = row.iter().map(|v| v.exp()).sum();
            for (j, (&v, &gj)) in row.iter().zip(grow).enumerate() {
                let e = if counted(r) { (v.exp() / z - f64::from(u8::from(j == t[r]))) / count } else { 0.0 };
                assert!((gj - e).abs() < 1e-15, "row {r} class {j}");
            }
        }
    }

    #[test]
    fn cross_entropy_is_stable_for_large_logits_in_f32() {
        let x = Tensor::<f32>::from_vec(vec![1000.0, -1000.0, 0.0, 500.0], &[2, 2]).unwrap();
        let l = x.cross_entropy(&[1, 0], None, Reduction::None).unwrap().to_vec();
        assert_eq!(l, vec![2000.0, 500.0]);
    }

    #[test]
    fn mse_values_match_naive() {
        let x = tensor_from::<f64>(&[3, 50_000], 6, -2.0, 2.0); // large: parallel chunked sum
        let t = tensor_from::<f64>(&[3, 50_000], 7, -2.0, 2.0);
        let e: f64 = x.data().iter().zip(t.data()).map(|(a, b)| (a - b) * (a - b)).sum();
        let s = x.mse_loss(&t, Reduction::Sum).unwrap().item().unwrap();
        let m = x.mse_loss(&t, Reduction::Mean).unwrap().item().unwrap();
        assert!((s - e).abs() < 1e-9 * e);
        assert!((m - e / 150_000.0).abs() < 1e-9 * m);
        let none = x.mse_loss(&t, Reduction::None).unwrap();
        assert_eq!(none.data()[7], (x.data()[7] - t.data()[7]).powi(2));
        assert!(Tensor::<f32>::zeros(&[0])
            .mse_loss(&Tensor::zeros(&[0]), Reduction::Mean)
            .unwrap()
            .item()
            .unwrap()
            .is_nan());
    }

    #[test]
    fn bad_arguments_are_errors() {
        let x = Tensor::<f32>::zeros(&[2, 3]);
        let e = x.cross_entropy(&[0, 3], None, Reduction::Mean).unwrap_err();
        assert_eq!(e, TensorError::invalid("cross_entropy", "target 3 at row 1 is out of range for 3 classes"));
        let e = x.cross_entropy(&[0, 3], Some(2), Reduction::Sum).unwrap_err();
        assert_eq!(e.to_string(), "cross_entropy: target 3 at row 1 is out of range for 3 classes");
        let e = x.cross_entropy(&[0], None, Reduction::Mean).unwrap_err();
        assert!(matches!(e, TensorError::ShapeMismatch { op: "cross_entropy", .. }));
        assert!(e.to_string().contains("needs one target per row: 2 (the product of the leading axes), got 1"), "{e}");
        let e = x.cross_entropy_masked(&[0, 1], &[true], Reduction::Mean).unwrap_err();
        assert!(
            e.to_string().starts_with("cross_entropy_masked: incompatible shapes [2, 3] and [1]: needs one mask"),
            "{e}"
        );
        let e = x.cross_entropy_masked(&[0, 4], &[true, true], Reduction::None).unwrap_err();
        assert_eq!(e.to_string(), "cross_entropy_masked: target 4 at row 1 is out of range for 3 classes");
        let e = Tensor::<f32>::scalar(1.0).cross_entropy(&[0], None, Reduction::Mean).unwrap_err();
        assert!(matches!(e, TensorError::BadShape { op: "cross_entropy", .. }), "{e}");
        let e = x.mse_loss(&Tensor::zeros(&[3, 2]), Reduction::Mean).unwrap_err();
        assert_eq!(
            e.to_string(),
            "mse_loss: incompatible shapes [2, 3] and [3, 2]: prediction and target must have the same shape"
        );
    }
}
