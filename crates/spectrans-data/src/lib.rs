//! # spectrans-data
//!
//! Data for operator learning, generated in process: Burgers' equation and Darcy flow (the FNO
//! paper recipes, Li et al., ICLR 2021). Needs only [`spectrans_tensor`]; no trainer, no model.
//!
//! - [`GaussianRandomField`]: the initial conditions u0 ~ N(0, 625(−Δ+25I)^−2).
//! - [`BurgersSolver`]: pseudo-spectral ETDRK4 with 2/3 de-aliasing for u_t + (u²/2)_x = ν u_xx.
//! - [`generate`] / [`load_or_generate`]: (u0, u(·,1)) pairs in parallel, identical for any thread
//!   count, cached as safetensors.
//! - [`NeumannRandomField`], [`DarcySolver`], [`generate_darcy`]: 2-D Darcy flow −∇·(a∇u) = 1 with
//!   thresholded Gaussian permeability, 5-point finite differences solved by MIC(0)-preconditioned
//!   conjugate gradients, strided to coarser grids.

#![warn(missing_docs)]

mod burgers;
mod cache;
mod darcy;
mod error;
mod grf;
mod solver;

pub use error::{DataError, Result};

pub use burgers::{
    cache_path, generate, generate_with, load_or_generate, BurgersData, BurgersSpec, DEFAULT_TIME_STEPS,
};
pub use darcy::{
    darcy_cache_path, darcy_sample, generate_darcy, load_or_generate_darcy, DarcyData, DarcySolver, DarcySpec,
    NeumannRandomField, SolveReport,
};
pub use grf::GaussianRandomField;
pub use solver::BurgersSolver;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
