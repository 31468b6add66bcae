//! Normalisation layers: [`LayerNorm`] over the last axis and [`BatchNorm1d`] over channels, and
//! the [`Norm`] choice of an FNO block (`norm_type`).

use std::str::FromStr;
use std::sync::Mutex;

use spectrans_tensor::{Float, Parameter, Tensor, Variance};

use crate::error::{LayerError, Result};
use crate::init;
use crate::module::{join, Ctx, Module, Visitor};

/// Layer normalisation over the last axis with an affine transform (weight ones, bias zeros).
pub struct LayerNorm<T: Float> {
    /// γ, (D).
    pub weight: Parameter<T>,
    /// β, (D).
    pub bias: Parameter<T>,
    /// Added to the variance (1e-5 in blocks, 1e-12 for spectrans' final norm).
    pub eps: f64,
}

impl<T: Float> LayerNorm<T> {
    /// A layer norm of width `dim`.
    pub fn new(dim: usize, eps: f64) -> Self {
        LayerNorm { weight: init::ones(&[dim]), bias: init::zeros(&[dim]), eps }
    }

    /// `(x − mean)/√(var + eps)·γ + β` over the last axis (biased variance, as torch).
    ///
    /// # Shapes
    /// `x` (…, D) → (…, D).
    ///
    /// ```
    /// use spectrans_layers::{Ctx, LayerNorm};
    /// use spectrans_tensor::Tensor;
    /// let ln = LayerNorm::<f64>::new(2, 1e-5);
    /// let y = ln.forward(&Ctx::inference(), &Tensor::from_vec(vec![1.0, 3.0], &[1, 2])?)?;
    /// assert!((y.to_vec()[0] + 1.0).abs() < 1e-4);
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn forward(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(x.layer_norm(Some(&ctx.param(&self.weight)), Some(&ctx.param(&self.bias)), self.eps)?)
    }
}

impl<T: Float> Module<T> for LayerNorm<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        v.param(&join(prefix, "weight"), &self.weight);
        v.param(&join(prefix, "bias"), &self.bias);
    }
}

/// Batch normalisation of each channel of a channels-last (B, N, D) tensor over (B, N), with
/// running statistics (momentum 0.1, unbiased running variance, as `nn.BatchNorm1d`).
pub struct BatchNorm1d<T: Float> {
    /// γ, (D).
    pub weight: Parameter<T>,
    /// β, (D).
    pub bias: Parameter<T>,
    /// Running mean buffer, (D).
    pub running_mean: Parameter<T>,
    /// Running variance buffer, (D).
    pub running_var: Parameter<T>,
    /// Batches seen in train mode.
    pub num_batches_tracked: Mutex<u64>,
    /// Added to the variance.
    pub eps: f64,
    /// Weight of the new batch in the running statistics.
    pub momentum: f64,
}

impl<T: Float> BatchNorm1d<T> {
    /// A batch norm over `dim` channels (eps 1e-5, momentum 0.1).
    pub fn new(dim: usize) -> Self {
        BatchNorm1d {
            weight: init::ones(&[dim]),
            bias: init::zeros(&[dim]),
            running_mean: init::zeros(&[dim]),
            running_var: init::ones(&[dim]),
            num_batches_tracked: Mutex::new(0),
            eps: 1e-5,
            momentum: 0.1,
        }
    }

    /// Normalises each channel: batch statistics in train mode (updating the running ones unless
    /// the context says not to, see [`Ctx::without_statistics_updates`]), the running statistics
    /// in eval mode.
    ///
    /// # Shapes
    /// `x` (B, N, D) → (B, N, D).
    ///
    /// ```
    /// use spectrans_layers::{BatchNorm1d, Ctx};
    /// use spectrans_tensor::Tensor;
    /// let bn = BatchNorm1d::<f32>::new(3);
    /// assert_eq!(bn.forward(&Ctx::inference(), &Tensor::ones(&[2, 4, 3]))?.shape(), &[2, 4, 3]);
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn forward(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        let d = self.weight.shape()[0];
        crate::error::expect_rank3("BatchNorm1d", x.shape(), 2, d, "(B, N, D)")?;
        let (mean, var) = if ctx.is_train() {
            let count = x.shape()[0] * x.shape()[1];
            if count < 2 {
                return Err(LayerError::input("BatchNorm1d", "train mode needs more than one value per channel"));
            }
            let mean = x.mean(&[0, 1], false)?;
            let var = x.var(&[0, 1], false, Variance::Population)?;
            let m = T::of(self.momentum);
            let unbias = T::of(count as f64 / (count - 1) as f64);
            if ctx.updates_statistics() {
                let (bm, bv) = (mean.detach(), var.detach());
                self.running_mean.update(|rm, _| {
                    rm.iter_mut().zip(bm.data()).for_each(|(r, &b)| *r = (T::one() - m) * *r + m * b);
                });
                self.running_var.update(|rv, _| {
                    rv.iter_mut().zip(bv.data()).for_each(|(r, &b)| *r = (T::one() - m) * *r + m * b * unbias);
                });
                *self.num_batches_tracked.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            }
            (mean, var)
        } else {
            (self.running_mean.value(), self.running_var.value())
        };
        let inv = var.add_scalar(T::of(self.eps))?.sqrt()?;
        let y = x.sub(&mean)?.div(&inv)?;
        Ok(y.mul(&ctx.param(&self.weight))?.add(&ctx.param(&self.bias))?)
    }
}

impl<T: Float> Module<T> for BatchNorm1d<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        v.param(&join(prefix, "weight"), &self.weight);
        v.param(&join(prefix, "bias"), &self.bias);
        v.buffer(&join(prefix, "running_mean"), &self.running_mean);
        v.buffer(&join(prefix, "running_var"), &self.running_var);
    }
}

/// The normalisation of an FNO block (`norm_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NormKind {
    /// Layer norm over the hidden axis (spectrans' default).
    #[default]
    LayerNorm,
    /// Batch norm over channels.
    BatchNorm,
    /// No normalisation.
    None,
}

impl FromStr for NormKind {
    type Err = LayerError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "layernorm" => Ok(NormKind::LayerNorm),
            "batchnorm" => Ok(NormKind::BatchNorm),
            "none" => Ok(NormKind::None),
            other => Err(LayerError::config(
                "norm_type",
                format!("unknown normalisation {other:?}; expected layernorm, batchnorm or none"),
            )),
        }
    }
}

/// A normalisation layer chosen by [`NormKind`].
pub enum Norm<T: Float> {
    /// Layer norm.
    Layer(LayerNorm<T>),
    /// Batch norm.
    Batch(BatchNorm1d<T>),
}

impl<T: Float> Norm<T> {
    /// The layer for `kind` over `dim` features (`None` for [`NormKind::None`]).
    pub fn new(kind: NormKind, dim: usize, eps: f64) -> Option<Self> {
        match kind {
            NormKind::LayerNorm => Some(Norm::Layer(LayerNorm::new(dim, eps))),
            NormKind::BatchNorm => Some(Norm::Batch(BatchNorm1d::new(dim))),
            NormKind::None => None,
        }
    }

    /// Applies the normalisation.
    ///
    /// # Shapes
    /// `x` (B, N, D) → (B, N, D).
    pub fn forward(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        match self {
            Norm::Layer(n) => n.forward(ctx, x),
            Norm::Batch(n) => n.forward(ctx, x),
        }
    }
}

impl<T: Float> Module<T> for Norm<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        match self {
            Norm::Layer(n) => n.visit(prefix, v),
            Norm::Batch(n) => n.visit(prefix, v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectrans_tensor::gradcheck::tensor_from;
    use spectrans_tensor::Tape;

    #[test]
    fn batch_norm_train_normalises_and_updates_running_stats() {
        let bn = BatchNorm1d::<f64>::new(2);
        let x = tensor_from::<f64>(&[3, 4, 2], 1, -2.0, 5.0);
        let tape = Tape::new();
        let y = bn.forward(&Ctx::train(&tape, 0), &x).unwrap();
        let m = y.mean(&[0, 1], false).unwrap();
        assert!(m.data().iter().all(|v| v.abs() < 1e-12));
        let xm = x.mean(&[0, 1], false).unwrap();
        for (r, b) in bn.running_mean.value().data().iter().zip(xm.data()) {
            assert!((r - 0.1 * b).abs() < 1e-12);
        }
        // eval uses running stats: different from the train output
        let ye = bn.forward(&Ctx::inference(), &x).unwrap();
        assert!(ye.data().iter().zip(y.data()).any(|(a, b)| (a - b).abs() > 1e-3));
        assert_eq!(bn.named_buffers().len(), 2);
    }

    /// The recomputation of a checkpointed segment must not count its batch a second time.
    #[test]
    fn batch_norm_leaves_running_stats_alone_when_told() {
        let bn = BatchNorm1d::<f64>::new(2);
        let x = tensor_from::<f64>(&[3, 4, 2], 1, -2.0, 5.0);
        let tape = Tape::new();
        let frozen = Ctx::train(&tape, 0).without_statistics_updates();
        let y = bn.forward(&frozen, &x).unwrap();
        assert_eq!(bn.running_mean.value().to_vec(), vec![0.0, 0.0]);
        assert_eq!(bn.running_var.value().to_vec(), vec![1.0, 1.0]);
        // the output still uses the batch statistics, as in the counted pass
        assert_eq!(y.to_vec(), bn.forward(&Ctx::train(&tape, 0), &x).unwrap().to_vec());
        assert_ne!(bn.running_mean.value().to_vec(), vec![0.0, 0.0]);
    }

    #[test]
    fn norm_kind_parsing() {
        assert_eq!("batchnorm".parse::<NormKind>().unwrap(), NormKind::BatchNorm);
        let e = "layer".parse::<NormKind>().unwrap_err();
        assert!(e.to_string().contains("norm_type"));
    }
}
