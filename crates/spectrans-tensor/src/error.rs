//! The error type of `spectrans-tensor`.

use thiserror::Error;

/// Everything a tensor operation can reject. Every variant names the operation at fault and, where
/// shapes are involved, the shapes it was given, so that a message alone locates the problem.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TensorError {
    /// Two operands whose shapes do not fit together (broadcasting, matmul, concat, ...).
    #[error("{op}: incompatible shapes {lhs:?} and {rhs:?}: {reason}")]
    ShapeMismatch {
        /// The operation that failed.
        op: &'static str,
        /// Shape of the first operand.
        lhs: Vec<usize>,
        /// Shape of the second operand.
        rhs: Vec<usize>,
        /// What was expected.
        reason: String,
    },
    /// An axis outside `0..rank`.
    #[error("{op}: axis {axis} is out of range for a tensor of rank {rank} (shape {shape:?})")]
    BadAxis {
        /// The operation that failed.
        op: &'static str,
        /// The axis given (possibly negative).
        axis: isize,
        /// Rank of the tensor.
        rank: usize,
        /// Shape of the tensor.
        shape: Vec<usize>,
    },
    /// A tensor whose shape is wrong for the operation on its own (wrong rank, empty, ...).
    #[error("{op}: invalid shape {shape:?}: {reason}")]
    BadShape {
        /// The operation that failed.
        op: &'static str,
        /// The offending shape.
        shape: Vec<usize>,
        /// What was expected.
        reason: String,
    },
    /// An argument outside its domain (a negative probability, an index out of range, ...).
    #[error("{op}: {reason}")]
    InvalidArgument {
        /// The operation that failed.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A request for more memory than is available, or whose size overflows (see
    /// [`limits`](crate::limits)); refused before anything is allocated.
    #[error("{what}: {reason}")]
    OutOfMemory {
        /// What was being allocated (a tensor shape, a config field, a file).
        what: String,
        /// The size asked for and the limit it exceeds.
        reason: String,
    },
    /// A safetensors file (or in-memory image of one) that is unreadable, corrupt or holds other
    /// content than expected (see [`io`](crate::io)).
    #[error("{path}: {reason}")]
    File {
        /// The file, or a description of the buffer.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Misuse of the autodiff tape (mixing tapes, reusing a consumed tape, ...).
    #[error("autodiff: {0}")]
    Tape(String),
}

impl TensorError {
    /// Shorthand for [`TensorError::InvalidArgument`].
    pub fn invalid(op: &'static str, reason: impl Into<String>) -> Self {
        TensorError::InvalidArgument { op, reason: reason.into() }
    }

    /// Shorthand for [`TensorError::File`].
    pub fn file(path: impl Into<String>, reason: impl Into<String>) -> Self {
        TensorError::File { path: path.into(), reason: reason.into() }
    }

    /// Shorthand for [`TensorError::BadShape`].
    pub fn bad_shape(op: &'static str, shape: &[usize], reason: impl Into<String>) -> Self {
        TensorError::BadShape { op, shape: shape.to_vec(), reason: reason.into() }
    }

    /// Shorthand for [`TensorError::ShapeMismatch`].
    pub fn mismatch(op: &'static str, lhs: &[usize], rhs: &[usize], reason: impl Into<String>) -> Self {
        TensorError::ShapeMismatch { op, lhs: lhs.to_vec(), rhs: rhs.to_vec(), reason: reason.into() }
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = TensorError> = std::result::Result<T, E>;
