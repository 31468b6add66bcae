//! Positional encodings added to (B, N, D) hidden states: sinusoidal (fixed table), learned,
//! rotary, or none (spectrans' `positional_encoding_type`).

use std::str::FromStr;

use spectrans_tensor::{Float, Parameter, Rng, Tensor};

use crate::embedding::Embedding;
use crate::error::{LayerError, Result};
use crate::module::{join, Ctx, Module, Visitor};

/// Which positional encoding a model uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PositionalKind {
    /// Fixed sin/cos table (needs even D).
    #[default]
    Sinusoidal,
    /// A learned table (L, D).
    Learned,
    /// Rotary rotation of the hidden-state halves (needs even D).
    Rotary,
    /// No positional information.
    None,
}

impl PositionalKind {
    /// Every kind, in spectrans' order.
    pub const ALL: [PositionalKind; 4] =
        [PositionalKind::Sinusoidal, PositionalKind::Learned, PositionalKind::Rotary, PositionalKind::None];

    /// spectrans' name (`positional_encoding_type`): the inverse of [`str::parse`].
    ///
    /// ```
    /// use spectrans_layers::PositionalKind;
    /// for k in PositionalKind::ALL { assert_eq!(k.name().parse::<PositionalKind>()?, k); }
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            PositionalKind::Sinusoidal => "sinusoidal",
            PositionalKind::Learned => "learned",
            PositionalKind::Rotary => "rotary",
            PositionalKind::None => "none",
        }
    }
}

impl std::fmt::Display for PositionalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PositionalKind {
    type Err = LayerError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sinusoidal" => Ok(PositionalKind::Sinusoidal),
            "learned" => Ok(PositionalKind::Learned),
            "rotary" => Ok(PositionalKind::Rotary),
            "none" => Ok(PositionalKind::None),
            // spectrans 0.1.0 accepts "alibi" and never builds it (reference bug B11); taking it
            // silently would promise an attention bias that no FNO model has.
            "alibi" => Err(LayerError::config(
                "positional_encoding_type",
                "\"alibi\" is an attention bias and FNO models have no attention: spectrans 0.1.0 accepts it \
                 and adds nothing, so a spectrans model saved with it computed \"none\"; write \"none\"",
            )),
            other => Err(LayerError::config(
                "positional_encoding_type",
                format!("unknown positional encoding {other:?}; expected sinusoidal, learned, rotary or none"),
            )),
        }
    }
}

/// A positional encoding layer.
pub enum PositionalEncoding<T: Float> {
    /// `x + pe[:N]`, with `pe` (1, L, D) a persistent buffer (`positional_encoding.pe`).
    Sinusoidal {
        /// The table, (1, L, D).
        pe: Parameter<T>,
    },
    /// `x + P[0..N)` with a learned table (`positional_encoding.position_embeddings.weight`).
    Learned {
        /// The table, (L, D).
        position_embeddings: Embedding<T>,
    },
    /// Rotate-half rotary encoding of the hidden state, `inv_freq` (D/2) a persistent buffer.
    Rotary {
        /// 1/10000^(2j/D), (D/2).
        inv_freq: Parameter<T>,
    },
}

impl<T: Float> PositionalEncoding<T> {
    /// Builds the encoding of `kind` for width `dim` and at most `max_len` positions (`None` for
    /// [`PositionalKind::None`]). Odd `dim` is a config error for sinusoidal and rotary.
    pub fn new(kind: PositionalKind, dim: usize, max_len: usize, rng: &mut Rng) -> Result<Option<Self>> {
        let even = |name: &str| {
            if dim % 2 == 1 {
                Err(LayerError::config(
                    "hidden_dim",
                    format!("{name} positional encoding needs an even hidden_dim, got {dim}"),
                ))
            } else {
                Ok(())
            }
        };
        Ok(match kind {
            PositionalKind::Sinusoidal => {
                even("sinusoidal")?;
                Some(PositionalEncoding::Sinusoidal { pe: Parameter::new(sinusoidal_table(max_len, dim)?) })
            }
            PositionalKind::Learned => {
                Some(PositionalEncoding::Learned { position_embeddings: Embedding::new(max_len, dim, rng) })
            }
            PositionalKind::Rotary => {
                even("rotary")?;
                let inv: Vec<T> = (0..dim / 2)
                    .map(|j| {
                        let e = (2 * j) as f32 / dim as f32;
                        T::of((1.0f32 / 10000f32.powf(e)) as f64)
                    })
                    .collect();
                Some(PositionalEncoding::Rotary { inv_freq: Parameter::new(Tensor::from_vec(inv, &[dim / 2])?) })
            }
            PositionalKind::None => None,
        })
    }

    /// Adds (or applies) the positional information. Table-based encodings reject sequences
    /// longer than their table.
    ///
    /// # Shapes
    /// `x` (B, N, D) → (B, N, D).
    ///
    /// ```
    /// use spectrans_layers::{Ctx, PositionalEncoding, PositionalKind};
    /// use spectrans_tensor::{Rng, Tensor};
    /// let pe = PositionalEncoding::<f32>::new(PositionalKind::Sinusoidal, 4, 8, &mut Rng::seed(0))?.unwrap();
    /// let y = pe.forward(&Ctx::inference(), &Tensor::zeros(&[1, 3, 4]))?;
    /// assert_eq!(&y.to_vec()[..4], &[0.0, 1.0, 0.0, 1.0]); // position 0: sin 0, cos 0
    /// assert!(pe.forward(&Ctx::inference(), &Tensor::zeros(&[1, 9, 4])).is_err());
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn forward(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        if x.rank() != 3 {
            return Err(LayerError::input(
                "PositionalEncoding",
                format!("expected (B, N, D), got shape {:?}", x.shape()),
            ));
        }
        let (n, d) = (x.shape()[1], x.shape()[2]);
        match self {
            PositionalEncoding::Sinusoidal { pe } => {
                let shape = pe.shape();
                check_table("sinusoidal", n, d, shape[1], shape[2])?;
                let table = pe.value().narrow(1, 0, n)?;
                Ok(x.add(&table)?)
            }
            PositionalEncoding::Learned { position_embeddings } => {
                check_table("learned", n, d, position_embeddings.num_embeddings(), position_embeddings.dim())?;
                let ids: Vec<usize> = (0..n).collect();
                let table = position_embeddings.forward(ctx, &ids, &[1, n])?;
                Ok(x.add(&table)?)
            }
            PositionalEncoding::Rotary { inv_freq } => {
                let half = inv_freq.shape()[0];
                if d != 2 * half {
                    return Err(LayerError::input(
                        "PositionalEncoding",
                        format!("rotary encoding of width {} got shape {:?}", 2 * half, x.shape()),
                    ));
                }
                let inv = inv_freq.value();
                let (mut cos, mut sin) = (Vec::with_capacity(n * d), Vec::with_capacity(n * d));
                for p in 0..n {
                    for rep in 0..2 {
                        for &f in inv.data() {
                            let theta = T::of(p as f64) * f;
                            cos.push(theta.cos());
                            // rotate-half: y1 = x1 cos − x2 sin ; y2 = x2 cos + x1 sin
                            sin.push(if rep == 0 { -theta.sin() } else { theta.sin() });
                        }
                    }
                }
                let cos = Tensor::from_vec(cos, &[n, d])?;
                let sin = Tensor::from_vec(sin, &[n, d])?;
                let x1 = x.narrow(2, 0, half)?;
                let x2 = x.narrow(2, half, half)?;
                let swapped = Tensor::concat(&[&x2, &x1], 2)?;
                Ok(x.mul(&cos)?.add(&swapped.mul(&sin)?)?)
            }
        }
    }
}

fn check_table(kind: &str, n: usize, d: usize, len: usize, width: usize) -> Result<()> {
    if d != width {
        return Err(LayerError::input(
            "PositionalEncoding",
            format!("{kind} table has width {width}, input has hidden size {d}"),
        ));
    }
    if n > len {
        return Err(LayerError::input(
            "PositionalEncoding",
            format!("sequence length {n} exceeds max_sequence_length {len} of the {kind} table"),
        ));
    }
    Ok(())
}

/// spectrans' sinusoidal table (1, L, D), computed with torch's float32 steps:
/// `pe[p, 2i] = sin(p·exp(2i·(−ln 10000/D)))`, `pe[p, 2i+1] = cos(…)`. Allocated fallibly: a
/// table larger than the memory limit is an error naming `max_sequence_length`.
///
/// # Shapes
/// → (1, `max_len`, `dim`).
pub fn sinusoidal_table<T: Float>(max_len: usize, dim: usize) -> Result<Tensor<T>> {
    let s = (-(10000f64.ln()) / dim as f64) as f32;
    let w: Vec<f32> = (0..dim.div_ceil(2)).map(|i| ((2 * i) as f32 * s).exp()).collect();
    let what = format!("the sinusoidal table of max_sequence_length {max_len} × hidden_dim {dim}");
    let count = max_len.checked_mul(dim).ok_or_else(|| spectrans_tensor::TensorError::OutOfMemory {
        what: what.clone(),
        reason: "its size overflows".into(),
    })?;
    let mut pe = spectrans_tensor::limits::try_filled(&what, count, T::zero())?;
    for p in 0..max_len {
        for (i, &wi) in w.iter().enumerate() {
            let a = p as f32 * wi;
            pe[p * dim + 2 * i] = T::of(a.sin() as f64);
            if 2 * i + 1 < dim {
                pe[p * dim + 2 * i + 1] = T::of(a.cos() as f64);
            }
        }
    }
    Ok(Tensor::from_vec(pe, &[1, max_len, dim])?)
}

impl<T: Float> Module<T> for PositionalEncoding<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        match self {
            PositionalEncoding::Sinusoidal { pe } => v.buffer(&join(prefix, "pe"), pe),
            PositionalEncoding::Learned { position_embeddings } => {
                position_embeddings.visit(&join(prefix, "position_embeddings."), v)
            }
            PositionalEncoding::Rotary { inv_freq } => v.buffer(&join(prefix, "inv_freq"), inv_freq),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectrans_tensor::gradcheck::tensor_from;

    #[test]
    fn rotary_matches_the_reference_formula() {
        let pe = PositionalEncoding::<f64>::new(PositionalKind::Rotary, 4, 0, &mut Rng::seed(0)).unwrap().unwrap();
        let x = tensor_from::<f64>(&[1, 3, 4], 2, -1.0, 1.0);
        let y = pe.forward(&Ctx::inference(), &x).unwrap();
        let inv = [1.0f64, 1.0 / 100.0];
        for n in 0..3 {
            for (j, &f) in inv.iter().enumerate() {
                let th = n as f64 * (f as f32) as f64;
                let (a, b) = (x.data()[n * 4 + j], x.data()[n * 4 + j + 2]);
                assert!((y.data()[n * 4 + j] - (a * th.cos() - b * th.sin())).abs() < 1e-7);
                assert!((y.data()[n * 4 + j + 2] - (a * th.sin() + b * th.cos())).abs() < 1e-7);
            }
        }
    }

    #[test]
    fn odd_width_and_unknown_kind_are_config_errors() {
        let e = PositionalEncoding::<f32>::new(PositionalKind::Sinusoidal, 5, 8, &mut Rng::seed(0)).err().unwrap();
        assert!(e.to_string().contains("hidden_dim") && e.to_string().contains("even"));
        assert!(PositionalEncoding::<f32>::new(PositionalKind::Rotary, 3, 8, &mut Rng::seed(0)).is_err());
        assert!(PositionalEncoding::<f32>::new(PositionalKind::Learned, 3, 8, &mut Rng::seed(0)).is_ok());
        assert!("xyz".parse::<PositionalKind>().is_err());
        let e = "alibi".parse::<PositionalKind>().unwrap_err().to_string();
        assert!(e.contains("positional_encoding_type") && e.contains("\"none\""), "{e}");
    }
}
