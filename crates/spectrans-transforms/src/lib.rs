//! # spectrans-transforms
//!
//! Differentiable Fourier and trigonometric transforms on [`spectrans_tensor::Tensor`]s, along
//! any axis, for `f32` and `f64`, any length (odd, prime, 1):
//!
//! - [`fft`]/[`ifft`], [`rfft`]/[`irfft`] and their 2-D versions [`fft2`], [`ifft2`], [`rfft2`],
//!   [`irfft2`], with `torch.fft` semantics (length `n` pads/truncates, [`Norm`] scaling);
//! - [`dct2`], [`dct3`], [`dst2`], [`dst3`], [`dct2_2d`] with scipy's conventions ([`DctNorm`]);
//! - complex helpers [`complex_mul`], [`conj`], [`complex_from_parts`], [`real`], [`imag`].
//!
//! A complex tensor is a real tensor whose last axis has size 2 holding (re, im), exactly like
//! `torch.view_as_real`; axes of complex tensors count the complex shape (without the 2).
//! Every transform records itself on the autodiff tape with a hand-written adjoint, runs its lanes
//! in parallel with rayon, and reuses cached plans ([`plan`]).
//!
//! ```
//! use spectrans_tensor::Tensor;
//! use spectrans_transforms::{irfft, rfft, Norm};
//! let x = Tensor::<f32>::from_vec((0..12).map(|v| v as f32).collect(), &[2, 6])?;
//! let spectrum = rfft(&x, -1, None, Norm::Backward)?;        // (2, 4, 2): 6/2+1 bins of (re, im)
//! assert_eq!(spectrum.shape(), &[2, 4, 2]);
//! let back = irfft(&spectrum, -1, Some(6), Norm::Backward)?; // (2, 6)
//! for (a, b) in back.data().iter().zip(x.data()) {
//!     assert!((a - b).abs() < 1e-5);
//! }
//! # Ok::<(), spectrans_transforms::TransformError>(())
//! ```

#![warn(missing_docs)]

mod columns;
mod common;
mod complex;
mod dct;
mod error;
mod fft;
mod fft2;
mod lanes;
mod norm;
pub mod plan;
mod rfft;
#[cfg(test)]
mod testutil;

pub use complex::{complex_from_parts, complex_mul, conj, imag, real};
pub use dct::{dct2, dct2_2d, dct3, dst2, dst3, DctNorm};
pub use error::{Result, TransformError};
pub use fft::{fft, ifft};
pub use fft2::{fft2, ifft2, irfft2, rfft2};
pub use norm::Norm;
pub use plan::FftFloat;
pub use rfft::{irfft, rfft};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
