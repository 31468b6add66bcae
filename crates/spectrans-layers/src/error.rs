//! The error type of `spectrans-layers`.

use spectrans_tensor::TensorError;
use spectrans_transforms::TransformError;
use thiserror::Error;

/// Everything a layer can reject: invalid construction arguments, or inputs that do not fit.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LayerError {
    /// A tensor operation failed (shapes, axes...).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// A transform failed.
    #[error(transparent)]
    Transform(#[from] TransformError),
    /// A construction argument is invalid; `field` is its (spectrans) name.
    #[error("invalid `{field}`: {reason}")]
    Config {
        /// The argument at fault.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// With [`Ctx::with_finite_checks`](crate::Ctx::with_finite_checks): the first module whose
    /// output holds NaN or infinite values.
    #[error("non-finite output: `{module}` produced {first} ({count} of {total} values are NaN or infinite)")]
    NonFinite {
        /// The module (state-dict prefix, e.g. `blocks.1`).
        module: String,
        /// The first bad value (`NaN`, `inf` or `-inf`).
        first: String,
        /// How many values are not finite.
        count: usize,
        /// How many values the output has.
        total: usize,
    },
    /// An input does not fit the layer.
    #[error("{layer}: {reason}")]
    Input {
        /// The layer that rejected the input.
        layer: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl LayerError {
    /// A [`LayerError::Config`] for `field`.
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        LayerError::Config { field: field.into(), reason: reason.into() }
    }

    /// A [`LayerError::Input`] for `layer`.
    pub fn input(layer: &'static str, reason: impl Into<String>) -> Self {
        LayerError::Input { layer, reason: reason.into() }
    }
}

/// Result alias of this crate.
pub type Result<T, E = LayerError> = std::result::Result<T, E>;

/// Checks that `x` has rank 3 and last (or given) dimension `dim`.
pub(crate) fn expect_rank3(layer: &'static str, shape: &[usize], axis: usize, dim: usize, what: &str) -> Result<()> {
    if shape.len() != 3 {
        return Err(LayerError::input(layer, format!("expected a rank-3 input ({what}), got shape {shape:?}")));
    }
    if shape[axis] != dim {
        return Err(LayerError::input(
            layer,
            format!("expected {dim} channels on axis {axis} ({what}), got shape {shape:?}"),
        ));
    }
    Ok(())
}
