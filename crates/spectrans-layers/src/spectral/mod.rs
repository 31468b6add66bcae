//! Spectral convolutions: the fused 1-D ops and their layers.

pub(crate) mod causal;
mod causal_conv1d;
mod conv1d;
mod conv2d;
mod conv2d_fused;
mod lanes;
mod mixing;

pub use causal_conv1d::{CausalConvState, CausalSpectralConv1d};
pub use conv1d::SpectralConv1d;
pub use conv2d::SpectralConv2d;
