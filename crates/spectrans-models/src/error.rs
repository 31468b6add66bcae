//! The error type of `spectrans-models`.

use spectrans_layers::LayerError;
use spectrans_tensor::TensorError;
use thiserror::Error;

/// Everything building, loading or running a model can reject.
#[derive(Debug, Error)]
pub enum ModelError {
    /// A layer rejected its arguments or inputs.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// A configuration field is invalid (the message names it).
    #[error("config: invalid `{field}`: {reason}")]
    Config {
        /// The field at fault (spectrans name).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A model input is invalid.
    #[error("input: {0}")]
    Input(String),
    /// A checkpoint file is unreadable, corrupt or does not fit the model.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The file at fault.
        path: String,
        /// What is wrong (every missing, unexpected or mis-shaped tensor, by name).
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl ModelError {
    /// A [`ModelError::Config`] for `field`.
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ModelError::Config { field: field.into(), reason: reason.into() }
    }

    /// A [`ModelError::Checkpoint`] for `path`.
    pub fn checkpoint(path: impl Into<String>, reason: impl Into<String>) -> Self {
        ModelError::Checkpoint { path: path.into(), reason: reason.into() }
    }
}

/// Result alias of this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
