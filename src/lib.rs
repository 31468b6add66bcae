//! # spectrans
//!
//! Spectral transformers built on the Fourier Neural Operator, in Rust. This facade re-exports the
//! crates of the stack; each can also be used on its own.

pub use spectrans_layers as layers;
pub use spectrans_models as models;
pub use spectrans_tensor as tensor;
