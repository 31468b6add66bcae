//! The classification head and its pooling (cls / mean / max, honouring an attention mask).

use std::str::FromStr;

use spectrans_tensor::{Float, Rng, Tensor};

use crate::error::{LayerError, Result};
use crate::linear::Linear;
use crate::module::{join, Ctx, Module, Visitor};

/// How a (B, N, D) sequence is reduced to (B, D).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pooling {
    /// The first position (spectrans' "cls": there is no CLS token, it is position 0).
    #[default]
    Cls,
    /// The mean over unmasked positions.
    Mean,
    /// The maximum over unmasked positions.
    Max,
}

impl Pooling {
    /// Every pooling.
    pub const ALL: [Pooling; 3] = [Pooling::Cls, Pooling::Mean, Pooling::Max];

    /// The configuration name (`pooling`): the inverse of [`str::parse`].
    ///
    /// ```
    /// use spectrans_layers::Pooling;
    /// for p in Pooling::ALL { assert_eq!(p.name().parse::<Pooling>()?, p); }
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Cls => "cls",
            Pooling::Mean => "mean",
            Pooling::Max => "max",
        }
    }
}

impl std::fmt::Display for Pooling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Pooling {
    type Err = LayerError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cls" => Ok(Pooling::Cls),
            "mean" => Ok(Pooling::Mean),
            "max" => Ok(Pooling::Max),
            other => {
                Err(LayerError::config("pooling", format!("unknown pooling {other:?}; expected cls, mean or max")))
            }
        }
    }
}

/// Validates an attention mask of (B, N) booleans (true = real token).
fn check_mask(mask: &[bool], b: usize, n: usize) -> Result<()> {
    if mask.len() != b * n {
        return Err(LayerError::input("attention_mask", format!("has {} entries, expected B·N = {b}·{n}", mask.len())));
    }
    if let Some(row) = (0..b).find(|&r| !mask[r * n..(r + 1) * n].iter().any(|&m| m)) {
        return Err(LayerError::input("attention_mask", format!("row {row} masks every position")));
    }
    Ok(())
}

impl Pooling {
    /// Pools a sequence; the mask (B·N booleans, true = keep) applies to mean and max.
    ///
    /// # Shapes
    /// `h` (B, N, D) → (B, D).
    ///
    /// ```
    /// use spectrans_layers::Pooling;
    /// use spectrans_tensor::Tensor;
    /// let h = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 10.0], &[1, 2, 2])?;
    /// assert_eq!(Pooling::Mean.apply(&h, None)?.to_vec(), vec![2.0, 6.0]);
    /// assert_eq!(Pooling::Mean.apply(&h, Some(&[true, false]))?.to_vec(), vec![1.0, 2.0]);
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn apply<T: Float>(self, h: &Tensor<T>, mask: Option<&[bool]>) -> Result<Tensor<T>> {
        if h.rank() != 3 || h.shape()[1] == 0 {
            return Err(LayerError::input("Pooling", format!("expected (B, N ≥ 1, D), got shape {:?}", h.shape())));
        }
        let (b, n, d) = (h.shape()[0], h.shape()[1], h.shape()[2]);
        if let Some(m) = mask {
            check_mask(m, b, n)?;
        }
        Ok(match (self, mask) {
            (Pooling::Cls, _) => h.narrow(1, 0, 1)?.reshape(&[b, d])?,
            (Pooling::Mean, None) => h.mean(&[1], false)?,
            (Pooling::Mean, Some(m)) => {
                let w: Vec<T> = m.iter().map(|&k| if k { T::one() } else { T::zero() }).collect();
                let w = Tensor::from_vec(w, &[b, n, 1])?;
                let count = w.sum(&[1], false)?;
                h.mul(&w)?.sum(&[1], false)?.div(&count)?
            }
            (Pooling::Max, None) => h.max(1, false)?.0,
            (Pooling::Max, Some(m)) => {
                let drop: Vec<bool> = m.iter().map(|&k| !k).collect();
                h.masked_fill(&drop, &[b, n, 1], T::of(-1e9))?.max(1, false)?.0
            }
        })
    }
}

/// Pooling → dropout → `classifier` Linear(D → C) (key `output_head.classifier.*`).
pub struct ClassificationHead<T: Float> {
    /// D → C.
    pub classifier: Linear<T>,
    /// The pooling.
    pub pooling: Pooling,
    /// Dropout before the classifier.
    pub dropout: f64,
}

impl<T: Float> ClassificationHead<T> {
    /// A head for `num_classes` classes.
    pub fn new(hidden_dim: usize, num_classes: usize, pooling: Pooling, dropout: f64, rng: &mut Rng) -> Self {
        ClassificationHead { classifier: Linear::new(hidden_dim, num_classes, rng), pooling, dropout }
    }

    /// Class logits.
    ///
    /// # Shapes
    /// `h` (B, N, D) → (B, C).
    pub fn forward(&self, ctx: &Ctx<T>, h: &Tensor<T>, mask: Option<&[bool]>) -> Result<Tensor<T>> {
        let pooled = ctx.dropout(&self.pooling.apply(h, mask)?, self.dropout)?;
        self.classifier.forward(ctx, &pooled)
    }
}

impl<T: Float> Module<T> for ClassificationHead<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        self.classifier.visit(&join(prefix, "classifier."), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_variants_and_masks() {
        let h = Tensor::<f64>::from_vec(vec![1.0, -1.0, 5.0, 2.0, 3.0, 0.0], &[1, 3, 2]).unwrap();
        assert_eq!(Pooling::Cls.apply(&h, None).unwrap().to_vec(), vec![1.0, -1.0]);
        assert_eq!(Pooling::Max.apply(&h, None).unwrap().to_vec(), vec![5.0, 2.0]);
        assert_eq!(Pooling::Max.apply(&h, Some(&[true, false, true])).unwrap().to_vec(), vec![3.0, 0.0]);
        assert_eq!(Pooling::Mean.apply(&h, Some(&[true, true, false])).unwrap().to_vec(), vec![3.0, 0.5]);
        let e = Pooling::Mean.apply(&h, Some(&[false, false, false])).unwrap_err();
        assert!(e.to_string().contains("masks every position"));
        assert!(Pooling::Mean.apply(&h, Some(&[true])).is_err());
    }
}
