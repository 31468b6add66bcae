//! # spectrans-tensor
//!
//! Tensors of `f32`/`f64` with tape-based reverse-mode automatic differentiation: the base of the
//! spectrans stack of Fourier Neural Operator transformers.
//!
//! - [`Tensor`]: contiguous row-major data, cheap to clone, dynamic rank.
//! - [`Parameter`] + [`Tape`]: watch parameters on a tape, compute, call [`Tensor::backward`];
//!   gradients accumulate into [`Parameter::grad`]. Computations on constants record nothing.
//! - [`Backward`] + [`Tensor::from_op`]: the extension point for fused operations with a
//!   hand-written backward, defined in other crates.
//! - [`checkpoint`]: gradient checkpointing of a segment.
//! - [`DerivedCache`]: a value derived from a tensor (re-laid-out weights), kept while the tensor
//!   is unchanged.
//! - [`io`]: safetensors files (read, checked decode, encode, atomic writes) for every crate above.
//! - [`gradcheck`]: finite-difference and adjoint checks of a hand-written backward (your own
//!   ops' too), with proptest shape strategies behind the `proptest` feature.
//!
//! ```
//! use spectrans_tensor::{Parameter, Rng, Tape, Tensor, Transpose};
//! let mut rng = Rng::seed(0);
//! let w = Parameter::new(Tensor::<f32>::randn(&[3, 4], 0.0, 0.1, &mut rng));
//! let x = Tensor::<f32>::randn(&[2, 5, 4], 0.0, 1.0, &mut rng);
//! let tape = Tape::new();
//! let y = x.matmul_t(&tape.watch(&w), Transpose::Rhs)?.gelu()?;   // (2, 5, 3)
//! let loss = y.mul(&y)?.mean(&[], false)?;
//! loss.backward()?;
//! assert_eq!(w.grad().unwrap().shape(), &[3, 4]);
//! # Ok::<(), spectrans_tensor::TensorError>(())
//! ```

#![warn(missing_docs)]

mod error;
mod float;
mod gemm;
pub mod gradcheck;
pub mod io;
pub mod limits;
pub mod ops;
mod par;
mod rng;
pub mod shape;
pub mod simd;
mod tensor;

pub use error::{Result, TensorError};
pub use float::{DType, Float};
pub use ops::loss::Reduction;
pub use ops::matmul::Transpose;
pub use ops::reduce::Variance;
pub use par::on_pool;
pub use rng::Rng;
pub use tensor::derived::DerivedCache;
pub use tensor::tape::{checkpoint, Backward, Parameter, Tape};
pub use tensor::Tensor;

/// The former name of [`gradcheck`], kept for existing callers.
pub use gradcheck as testing;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
