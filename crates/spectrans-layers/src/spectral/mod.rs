//! Spectral convolutions.

mod mixing;
