//! Data for operator learning: Burgers' equation (the FNO paper recipe, ICLR 2021).
//!
//! - [`GaussianRandomField`]: the initial conditions u0 ~ N(0, 625(−Δ+25I)^−2).
//! - [`BurgersSolver`]: pseudo-spectral ETDRK4 with 2/3 de-aliasing for u_t + (u²/2)_x = ν u_xx.
//! - [`generate`] / [`load_or_generate`]: (u0, u(·,1)) pairs in parallel, identical for any thread
//!   count, cached as safetensors.

mod burgers;
mod grf;
mod solver;

pub use burgers::{
    cache_path, generate, generate_with, load_or_generate, BurgersData, BurgersSpec, DEFAULT_TIME_STEPS,
};
pub use grf::GaussianRandomField;
pub use solver::BurgersSolver;
