//! # spectrans-layers
//!
//! The layers of the spectrans FNO stack, on `spectrans-tensor`: spectral convolution (a fused
//! rfft → mode mixing → irfft op with a hand-written backward), the Fourier Neural Operator layer
//! and the pre-norm FNO block, positional encodings, norms, embeddings and output heads. Every
//! layer names its parameters like spectrans' PyTorch `state_dict`, so checkpoints map one to one.
//!
//! ```
//! use spectrans_layers::{Ctx, FNOBlock, FNOBlockConfig, Module};
//! use spectrans_tensor::{Rng, Tensor};
//! let block = FNOBlock::<f32>::new(&FNOBlockConfig::new(16, 4), &mut Rng::seed(0))?;
//! let y = block.forward(&Ctx::inference(), &Tensor::ones(&[2, 20, 16]))?;
//! assert_eq!(y.shape(), &[2, 20, 16]);
//! assert_eq!(block.named_parameters()[0].0, "fno.spectral_conv.weights");
//! # Ok::<(), spectrans_layers::LayerError>(())
//! ```

#![warn(missing_docs)]

mod activation;
mod block;
mod embedding;
mod error;
mod fno;
mod heads;
pub mod init;
mod linear;
mod module;
mod norm;
mod positional;
pub mod spectral;

pub use activation::Activation;
pub use block::{BlockState, FNOBlock, FNOBlockConfig, FeedForward};
pub use embedding::Embedding;
pub use error::{LayerError, Result};
pub use fno::{FnoPaths, FnoState, FourierNeuralOperator, SpectralPath};
pub use heads::{ClassificationHead, Pooling};
pub use linear::{Linear, PointwiseConv};
pub use module::{Ctx, Mode, Module, Visitor};
pub use norm::{BatchNorm1d, LayerNorm, Norm, NormKind};
pub use positional::{sinusoidal_table, PositionalEncoding, PositionalKind};
pub use spectral::{CausalConvState, CausalSpectralConv1d, SpectralConv1d, SpectralConv2d};
pub use spectrans_transforms::FftFloat;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
