//! # spectrans
//!
//! Spectral transformers built on the Fourier Neural Operator, in Rust. This facade re-exports the
//! crates of the stack; each can also be used on its own.

pub use spectrans_data as data;
pub use spectrans_layers as layers;
pub use spectrans_models as models;
pub use spectrans_tasks as tasks;
pub use spectrans_tensor as tensor;
pub use spectrans_train as train;
pub use spectrans_transforms as transforms;
