//! # spectrans-layers
//!
//! Layers of the spectrans stack.

#![warn(missing_docs)]

pub mod fft;
pub mod spectral;
