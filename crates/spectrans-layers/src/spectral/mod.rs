//! Spectral convolutions: the fused 1-D op and its layers.

mod conv1d;
mod mixing;

pub use conv1d::SpectralConv1d;
