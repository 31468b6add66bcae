//! The error type of `spectrans-transforms`.

use spectrans_tensor::TensorError;
use thiserror::Error;

/// Everything a transform can reject. Each variant names the transform and the shape (and axis,
/// length) it was given, so a message alone locates the problem.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TransformError {
    /// An error from the tensor layer (bad axis, autodiff misuse, ...).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// A transform length of zero (given as `n`, or implied by an empty axis).
    #[error("{op}: transform length n = {n} along axis {axis} of shape {shape:?}: {reason}")]
    BadLength {
        /// The transform that failed.
        op: &'static str,
        /// The axis given (possibly negative).
        axis: isize,
        /// The transform length requested or implied.
        n: isize,
        /// Shape of the input tensor.
        shape: Vec<usize>,
        /// What was expected.
        reason: String,
    },
    /// A complex input without the trailing axis of size 2 holding (re, im).
    #[error("{op}: expected a complex tensor (a last axis of size 2 holding re, im), got shape {shape:?}")]
    NotComplex {
        /// The transform that failed.
        op: &'static str,
        /// Shape of the input tensor.
        shape: Vec<usize>,
    },
    /// Any other invalid argument (repeated axes, mismatched operand shapes, ...).
    #[error("{op}: {reason} (shape {shape:?})")]
    Invalid {
        /// The transform that failed.
        op: &'static str,
        /// Shape of the (first) input tensor.
        shape: Vec<usize>,
        /// What is wrong.
        reason: String,
    },
}

impl From<TransformError> for TensorError {
    /// Lowers a transform error to the tensor layer's error (used inside backward passes, whose
    /// trait returns [`TensorError`]); the message is kept.
    fn from(e: TransformError) -> Self {
        match e {
            TransformError::Tensor(t) => t,
            TransformError::BadLength { op, .. }
            | TransformError::NotComplex { op, .. }
            | TransformError::Invalid { op, .. } => {
                let msg = e.to_string();
                TensorError::invalid(op, msg)
            }
        }
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = TransformError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_op_and_shapes() {
        let e = TransformError::BadLength {
            op: "rfft",
            axis: -1,
            n: 0,
            shape: vec![2, 0],
            reason: "n must be at least 1".into(),
        };
        assert_eq!(e.to_string(), "rfft: transform length n = 0 along axis -1 of shape [2, 0]: n must be at least 1");
        let t: TensorError = e.into();
        assert!(matches!(t, TensorError::InvalidArgument { op: "rfft", .. }));
        assert!(t.to_string().contains("axis -1 of shape [2, 0]"));
        let inner = TensorError::invalid("x", "y");
        assert_eq!(TensorError::from(TransformError::from(inner.clone())), inner);
    }
}
