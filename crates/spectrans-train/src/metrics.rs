//! Losses and metrics of the built-in tasks: relative L2 error (the FNO paper's loss), accuracy,
//! perplexity and bits per character.

use spectrans_tensor::{Float, Tensor, TensorError};

/// Mean over the batch of the per-sample relative L2 error ‖pred − true‖₂ / ‖true‖₂, as in the FNO
/// paper (Li et al., ICLR 2021); differentiable (built from tensor ops), so it serves as the loss.
/// A sample whose target is zero everywhere gives an infinite or NaN ratio, as in the paper's code.
///
/// # Shapes
/// `pred` and `target`: the same shape (B, …) with B ≥ 1; each sample's norm runs over all
/// trailing axes. The result is a scalar.
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_train::metrics::relative_l2;
/// let t = Tensor::<f64>::from_vec(vec![3.0, 4.0, 1.0, 0.0], &[2, 2])?;
/// let p = Tensor::<f64>::from_vec(vec![3.0, 4.0, 1.5, 0.0], &[2, 2])?;
/// assert!((relative_l2(&p, &t)?.item()? - 0.25).abs() < 1e-15);   // (0 + 0.5) / 2
/// # Ok::<(), spectrans_tensor::TensorError>(())
/// ```
pub fn relative_l2<T: Float>(pred: &Tensor<T>, target: &Tensor<T>) -> Result<Tensor<T>, TensorError> {
    if pred.shape() != target.shape() {
        return Err(TensorError::mismatch(
            "relative_l2",
            pred.shape(),
            target.shape(),
            "prediction and target must have the same shape",
        ));
    }
    if pred.rank() == 0 || pred.shape()[0] == 0 {
        return Err(TensorError::bad_shape("relative_l2", pred.shape(), "needs a batch axis with at least one sample"));
    }
    let axes: Vec<isize> = (1..pred.rank() as isize).collect();
    let diff = pred.sub(target)?;
    let num = diff.mul(&diff)?.sum(&axes, false)?.sqrt()?;
    let den = target.mul(target)?.sum(&axes, false)?.sqrt()?;
    num.div(&den)?.mean(&[], false)
}

/// Fraction of rows whose arg-max logit is the target class.
///
/// # Shapes
/// `logits` (B, C), `targets` B class indices; an empty batch gives 0.
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_train::metrics::accuracy;
/// let logits = Tensor::<f32>::from_vec(vec![0.1, 0.9, 2.0, -1.0], &[2, 2])?;
/// assert_eq!(accuracy(&logits, &[1, 1])?, 0.5);
/// # Ok::<(), spectrans_tensor::TensorError>(())
/// ```
pub fn accuracy<T: Float>(logits: &Tensor<T>, targets: &[usize]) -> Result<f64, TensorError> {
    let s = logits.shape();
    if s.len() != 2 || s[0] != targets.len() || s[1] == 0 {
        return Err(TensorError::mismatch(
            "accuracy",
            s,
            &[targets.len()],
            "needs logits (B, C) with C >= 1 and one target per row",
        ));
    }
    if targets.is_empty() {
        return Ok(0.0);
    }
    let correct = logits
        .data()
        .chunks(s[1])
        .zip(targets)
        .filter(|(row, &t)| {
            let best = row.iter().enumerate().fold(0, |b, (i, v)| if *v > row[b] { i } else { b });
            best == t
        })
        .count();
    Ok(correct as f64 / targets.len() as f64)
}

/// Perplexity `exp(nats)` of a mean cross-entropy in nats per token.
///
/// ```
/// assert!((spectrans_train::metrics::perplexity(4f64.ln()) - 4.0).abs() < 1e-12);
/// ```
pub fn perplexity(mean_nats: f64) -> f64 {
    mean_nats.exp()
}

/// Bits per character `nats / ln 2` of a mean cross-entropy in nats per character.
///
/// ```
/// assert!((spectrans_train::metrics::bits_per_char(2f64.ln()) - 1.0).abs() < 1e-15);
/// ```
pub fn bits_per_char(mean_nats: f64) -> f64 {
    mean_nats / std::f64::consts::LN_2
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use spectrans_tensor::testing::{assert_gradients, tensor_from};

    /// The metric computed naively, sample by sample, in f64.
    fn naive(pred: &[f64], target: &[f64], batch: usize) -> f64 {
        let n = pred.len() / batch;
        (0..batch)
            .map(|b| {
                let (p, t) = (&pred[b * n..(b + 1) * n], &target[b * n..(b + 1) * n]);
                let num: f64 = p.iter().zip(t).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
                num / t.iter().map(|v| v * v).sum::<f64>().sqrt()
            })
            .sum::<f64>()
            / batch as f64
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn relative_l2_matches_naive_and_finite_differences(b in 1usize..4, n in 1usize..6, c in 1usize..3, seed in 0u64..1000) {
            let p = tensor_from::<f64>(&[b, n, c], seed, -1.0, 1.0);
            let t = tensor_from::<f64>(&[b, n, c], seed + 1, 0.5, 2.0);
            let v = relative_l2(&p, &t).unwrap().item().unwrap();
            prop_assert!((v - naive(p.data(), t.data(), b)).abs() <= 1e-12 * v.max(1.0));
            assert_gradients(&[p, t], |x| relative_l2(&x[0], &x[1]));
        }
    }

    #[test]
    fn errors_name_the_op_and_shapes() {
        let e = relative_l2(&Tensor::<f32>::ones(&[2, 3]), &Tensor::ones(&[2, 4])).unwrap_err().to_string();
        assert!(e.contains("relative_l2") && e.contains("[2, 3]") && e.contains("[2, 4]"), "{e}");
        let e = relative_l2(&Tensor::<f32>::ones(&[0, 3]), &Tensor::ones(&[0, 3])).unwrap_err().to_string();
        assert!(e.contains("relative_l2") && e.contains("batch"), "{e}");
        let e = accuracy(&Tensor::<f32>::ones(&[2, 3]), &[0]).unwrap_err().to_string();
        assert!(e.contains("accuracy") && e.contains("[2, 3]"), "{e}");
    }

    #[test]
    fn accuracy_counts_argmax_hits_and_ties_take_the_first() {
        let logits = Tensor::<f64>::from_vec(vec![1.0, 1.0, 0.0, 0.0, 3.0, 2.0, 5.0, -1.0, 0.0], &[3, 3]).unwrap();
        assert_eq!(accuracy(&logits, &[0, 0, 0]).unwrap(), 2.0 / 3.0);
        assert_eq!(accuracy(&logits, &[1, 1, 2]).unwrap(), 1.0 / 3.0);
        assert_eq!(bits_per_char(perplexity(8f64.ln()).ln()), 3.0);
    }
}
