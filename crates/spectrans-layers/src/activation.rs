//! Activation functions selectable by name, as spectrans' `activation=` argument.

use std::fmt;
use std::str::FromStr;

use spectrans_tensor::{Float, Tensor};

use crate::error::{LayerError, Result};

/// An element-wise activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activation {
    /// Exact (erf) GELU — spectrans' default.
    #[default]
    Gelu,
    /// max(x, 0).
    Relu,
    /// x·σ(x) (also accepted as "swish").
    Silu,
    /// tanh.
    Tanh,
    /// σ(x).
    Sigmoid,
    /// x.
    Identity,
}

impl Activation {
    /// Applies the activation.
    ///
    /// # Shapes
    /// Element-wise: the result has the shape of `x`.
    ///
    /// ```
    /// use spectrans_layers::Activation;
    /// use spectrans_tensor::Tensor;
    /// let act: Activation = "relu".parse()?;
    /// let y = act.apply(&Tensor::<f32>::from_vec(vec![-1.0, 2.0], &[2])?)?;
    /// assert_eq!(y.to_vec(), vec![0.0, 2.0]);
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn apply<T: Float>(self, x: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(match self {
            Activation::Gelu => x.gelu()?,
            Activation::Relu => x.relu()?,
            Activation::Silu => x.silu()?,
            Activation::Tanh => x.tanh()?,
            Activation::Sigmoid => x.sigmoid()?,
            Activation::Identity => x.clone(),
        })
    }

    /// The spectrans name.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Gelu => "gelu",
            Activation::Relu => "relu",
            Activation::Silu => "silu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Identity => "identity",
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = LayerError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "gelu" => Activation::Gelu,
            "relu" => Activation::Relu,
            "silu" | "swish" => Activation::Silu,
            "tanh" => Activation::Tanh,
            "sigmoid" => Activation::Sigmoid,
            "identity" => Activation::Identity,
            other => {
                return Err(LayerError::config(
                    "activation",
                    format!(
                        "unknown activation {other:?}; expected gelu, relu, silu, swish, tanh, sigmoid or identity"
                    ),
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_an_error() {
        for a in [
            Activation::Gelu,
            Activation::Relu,
            Activation::Silu,
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Identity,
        ] {
            assert_eq!(a.name().parse::<Activation>().unwrap(), a);
        }
        assert_eq!("swish".parse::<Activation>().unwrap(), Activation::Silu);
        let e = "mish".parse::<Activation>().unwrap_err();
        assert!(e.to_string().starts_with("invalid `activation`: unknown activation \"mish\""), "{e}");
    }
}
