//! The error type of `spectrans-data`.

use spectrans_tensor::TensorError;
use thiserror::Error;

/// Everything the data generators can reject. Each variant names the field or file at fault.
#[derive(Debug, Error)]
pub enum DataError {
    /// A specification field outside its domain.
    #[error("{owner}: invalid {field}: {reason}")]
    Config {
        /// The generator or data set whose specification is wrong.
        owner: &'static str,
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A cache file whose content is not what was expected.
    #[error("{file}: {reason}")]
    Format {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// A file that could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An error from a tensor operation or the safetensors reader.
    #[error(transparent)]
    Tensor(TensorError),
}

impl DataError {
    /// Shorthand for [`DataError::Config`].
    pub fn config(owner: &'static str, field: &'static str, reason: impl Into<String>) -> Self {
        DataError::Config { owner, field, reason: reason.into() }
    }

    /// Shorthand for [`DataError::Format`].
    pub fn format(file: impl Into<String>, reason: impl Into<String>) -> Self {
        DataError::Format { file: file.into(), reason: reason.into() }
    }
}

impl From<TensorError> for DataError {
    /// A file error of the safetensors reader becomes a format error naming the file.
    fn from(e: TensorError) -> Self {
        match e {
            TensorError::File { path, reason } => DataError::Format { file: path, reason },
            other => DataError::Tensor(other),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
