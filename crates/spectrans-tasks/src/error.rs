//! The error type of `spectrans-tasks`.

use spectrans_data::DataError;
use spectrans_layers::LayerError;
use spectrans_models::ModelError;
use spectrans_tensor::TensorError;
use spectrans_train::TrainError;
use thiserror::Error;

/// Everything a built-in task can reject; each variant names the field, file or step at fault.
#[derive(Debug, Error)]
pub enum TaskError {
    /// A task option or configuration field outside its domain.
    #[error("{owner}: invalid {field}: {reason}")]
    Config {
        /// The task (or command) whose configuration is wrong.
        owner: &'static str,
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// From the training loop (including divergence).
    #[error(transparent)]
    Train(#[from] TrainError),
    /// From the data generators.
    #[error(transparent)]
    Data(#[from] DataError),
    /// From a model (configuration, forward pass, model folder).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// From a layer.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// From a tensor operation.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// A file that could not be read.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

impl TaskError {
    /// Shorthand for [`TaskError::Config`].
    pub fn config(owner: &'static str, field: &'static str, reason: impl Into<String>) -> Self {
        TaskError::Config { owner, field, reason: reason.into() }
    }
}

impl From<TaskError> for TrainError {
    /// A task's error inside the training loop (a [`TrainError`] stays itself).
    fn from(e: TaskError) -> Self {
        match e {
            TaskError::Train(t) => t,
            other => TrainError::task(other),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = TaskError> = std::result::Result<T, E>;
