//! The error type of `spectrans-train`.

use std::path::PathBuf;

use spectrans_layers::LayerError;
use spectrans_tensor::TensorError;
use thiserror::Error;

/// Everything the training utilities can reject. Each variant names the field, parameter or file
/// at fault, so the message alone locates the problem.
#[derive(Debug, Error)]
pub enum TrainError {
    /// A hyper-parameter or specification field outside its domain.
    #[error("{owner}: invalid {field}: {reason}")]
    Config {
        /// The optimiser, schedule or data set whose configuration is wrong.
        owner: &'static str,
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Optimiser state that does not fit the optimiser it is loaded into.
    #[error("optimizer state: {0}")]
    State(String),
    /// Gradients containing NaN or infinity (their global norm is reported).
    #[error("{op}: the gradients are not finite (global norm {norm})")]
    NonFiniteGradient {
        /// The operation that found them.
        op: &'static str,
        /// The global L2 norm that was computed.
        norm: f64,
    },
    /// A file that could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file (or in-memory image of one) whose content is not what was expected.
    #[error("{file}: {reason}")]
    Format {
        /// The file, or a description of the buffer.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// An error from a tensor operation.
    #[error(transparent)]
    Tensor(TensorError),
    /// An error from a layer (its arguments or inputs).
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// An error from a task built on the trainer (its data, its model, its files).
    #[error(transparent)]
    Task(Box<dyn std::error::Error + Send + Sync>),
    /// A non-finite loss or gradient: training stopped before applying the step.
    #[error("step {step}: {what}; training stopped (last good checkpoint: {})", if checkpoint.as_os_str().is_empty() { "none yet".to_string() } else { checkpoint.display().to_string() })]
    Diverged {
        /// The optimiser step (1-based) whose loss or gradient is not finite.
        step: u64,
        /// What is not finite.
        what: String,
        /// The newest checkpoint, left intact (empty if none was written yet).
        checkpoint: PathBuf,
    },
}

impl TrainError {
    /// Shorthand for [`TrainError::Config`].
    pub fn config(owner: &'static str, field: &'static str, reason: impl Into<String>) -> Self {
        TrainError::Config { owner, field, reason: reason.into() }
    }

    /// Shorthand for [`TrainError::Format`].
    pub fn format(file: impl Into<String>, reason: impl Into<String>) -> Self {
        TrainError::Format { file: file.into(), reason: reason.into() }
    }

    /// Wraps an error of a task (any error type) as [`TrainError::Task`].
    pub fn task(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        TrainError::Task(Box::new(error))
    }

    /// Shorthand for [`TrainError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io { path: path.into(), source }
    }
}

/// `map_err` adapter: an I/O failure at `path` as [`TrainError::Io`].
pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |e| TrainError::io(path, e)
}

impl From<TensorError> for TrainError {
    /// A file error of the safetensors reader becomes a format error naming the file.
    fn from(e: TensorError) -> Self {
        match e {
            TensorError::File { path, reason } => TrainError::Format { file: path, reason },
            other => TrainError::Tensor(other),
        }
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
