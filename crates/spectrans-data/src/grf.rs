//! Gaussian random fields on the periodic unit interval: the initial conditions of the Burgers
//! data set.
//!
//! # The covariance and its Karhunen–Loève expansion
//!
//! The field is N(0, C) with C = σ²(−Δ + τ²I)^−α on functions of period 1 with zero mean. The
//! periodic Laplacian has the orthonormal eigenbasis (in L²[0, 1]) φ₀ = 1, φ_k^c = √2 cos 2πkx,
//! φ_k^s = √2 sin 2πkx (k ≥ 1), with −Δφ = (2πk)²φ, so C has eigenvalues
//! λ_k = σ²((2πk)² + τ²)^−α on both φ_k^c and φ_k^s. A sample is u = Σ √λ_k (ξ_k φ_k^c + η_k φ_k^s)
//! with ξ, η iid N(0, 1), that is
//!
//! ```text
//! u(x) = Σ_{k≥1} a_k (ξ_k cos 2πkx + η_k sin 2πkx),    a_k = √2 · σ · ((2πk)² + τ²)^(−α/2),
//! ```
//!
//! the constant mode being dropped (zero mean). The Burgers recipe of the FNO paper uses
//! σ² = 625, τ² = 25, α = 2, giving a_k = √2·25/((2πk)² + 25), the default here.
//!
//! On a grid of `n` points the series is cut at k = n/2 − 1 (the Nyquist mode, a lone cosine on the
//! grid, is left out) and evaluated exactly at x_j = j/n by one inverse real FFT. Its discrete
//! Fourier coefficients are û_k = n·a_k(ξ_k − iη_k)/2, so E|û_k/n|² = a_k²/2 for 1 ≤ k < n/2.
//! The normal draws are taken in the order ξ₁, η₁, ξ₂, η₂, ..., so samples drawn from the same
//! generator state at two resolutions share their low modes.

use rustfft::num_complex::Complex;
use spectrans_tensor::Rng;

use crate::error::{DataError, Result};

/// The Gaussian random field N(0, σ²(−Δ + τ²I)^−α) with zero mean on the periodic unit interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianRandomField {
    /// σ (the FNO Burgers recipe: 25, i.e. σ² = 625).
    pub sigma: f64,
    /// τ (the recipe: 5, i.e. τ² = 25).
    pub tau: f64,
    /// α (the recipe: 2).
    pub alpha: f64,
}

impl Default for GaussianRandomField {
    /// The FNO Burgers initial-condition field N(0, 625(−Δ + 25I)^−2).
    fn default() -> Self {
        GaussianRandomField { sigma: 25.0, tau: 5.0, alpha: 2.0 }
    }
}

impl GaussianRandomField {
    /// The amplitude a_k = √2·σ·((2πk)² + τ²)^(−α/2) of the cosine and sine of wavenumber `k`
    /// (0 for k = 0: the field has zero mean).
    ///
    /// ```
    /// use spectrans_data::GaussianRandomField;
    /// let a1 = GaussianRandomField::default().coefficient(1);
    /// let k = 2.0 * std::f64::consts::PI;
    /// assert!((a1 - 2f64.sqrt() * 25.0 / (k * k + 25.0)).abs() < 1e-15);
    /// ```
    pub fn coefficient(&self, k: usize) -> f64 {
        if k == 0 {
            return 0.0;
        }
        let kappa = 2.0 * std::f64::consts::PI * k as f64;
        std::f64::consts::SQRT_2 * self.sigma * (kappa * kappa + self.tau * self.tau).powf(-self.alpha / 2.0)
    }

    fn validate(&self) -> Result<()> {
        for (field, v) in [("sigma", self.sigma), ("tau", self.tau), ("alpha", self.alpha)] {
            if !v.is_finite() || v < 0.0 {
                return Err(DataError::config(
                    "GaussianRandomField",
                    field,
                    format!("must be finite and >= 0, got {v}"),
                ));
            }
        }
        Ok(())
    }

    /// One sample at the `n` grid points x_j = j/n (`n` even, ≥ 2), drawing 2·(n/2 − 1) normals
    /// from `rng`.
    ///
    /// ```
    /// use spectrans_tensor::Rng;
    /// use spectrans_data::GaussianRandomField;
    /// let u = GaussianRandomField::default().sample(64, &mut Rng::seed(1))?;
    /// assert_eq!(u.len(), 64);
    /// assert!(u.iter().sum::<f64>().abs() < 1e-12); // zero mean
    /// # Ok::<(), spectrans_data::DataError>(())
    /// ```
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Result<Vec<f64>> {
        self.validate()?;
        if n < 2 || !n.is_multiple_of(2) {
            return Err(DataError::config(
                "GaussianRandomField",
                "n",
                format!("needs an even grid size >= 2, got {n}"),
            ));
        }
        let mut spectrum = vec![Complex::new(0.0, 0.0); n / 2 + 1];
        for (k, c) in spectrum.iter_mut().enumerate().take(n / 2).skip(1) {
            let (xi, eta) = (rng.normal(), rng.normal());
            let half = self.coefficient(k) / 2.0;
            *c = Complex::new(half * xi, -half * eta);
        }
        let plan = spectrans_transforms::plan::real_ifft::<f64>(n);
        let mut out = vec![0.0; n];
        plan.process(&mut spectrum, &mut out)
            .map_err(|e| DataError::config("GaussianRandomField", "n", format!("inverse FFT failed: {e}")))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_direct_series() {
        let grf = GaussianRandomField::default();
        let n = 16;
        let u = grf.sample(n, &mut Rng::seed(4)).unwrap();
        let mut rng = Rng::seed(4);
        let draws: Vec<(f64, f64)> = (1..n / 2).map(|_| (rng.normal(), rng.normal())).collect();
        for (j, &uj) in u.iter().enumerate() {
            let x = j as f64 / n as f64;
            let direct: f64 = draws
                .iter()
                .enumerate()
                .map(|(i, (xi, eta))| {
                    let k = (i + 1) as f64;
                    let th = 2.0 * std::f64::consts::PI * k * x;
                    grf.coefficient(i + 1) * (xi * th.cos() + eta * th.sin())
                })
                .sum();
            assert!((uj - direct).abs() < 1e-14, "x = {x}: {uj} vs {direct}");
        }
    }

    #[test]
    fn coefficient_is_the_square_root_of_the_covariance_eigenvalue() {
        // λ_k of 625(−Δ+25I)^−2 is 625/((2πk)²+25)²; each of cos, sin (norm 1/√2) carries √(2λ_k).
        let grf = GaussianRandomField::default();
        for k in [1usize, 2, 7, 100] {
            let kappa2 = (2.0 * std::f64::consts::PI * k as f64).powi(2);
            let lambda = 625.0 / (kappa2 + 25.0).powi(2);
            assert!(((grf.coefficient(k)).powi(2) - 2.0 * lambda).abs() <= 1e-15 * lambda);
        }
        assert_eq!(grf.coefficient(0), 0.0);
    }

    #[test]
    fn spectrum_and_mean_match_the_covariance() {
        // E|û_k/n|² = a_k²/2. Over S samples the estimate has relative std 1/√S (|û|² is a scaled
        // χ²₂); with S = 400 a 5σ bound is 25%.
        let grf = GaussianRandomField::default();
        let (n, samples) = (32, 400);
        let mut rng = Rng::seed(11);
        let mut power = vec![0.0; n / 2 + 1];
        let plan = spectrans_transforms::plan::real_fft::<f64>(n);
        let mut spec = plan.make_output_vec();
        for _ in 0..samples {
            let mut u = grf.sample(n, &mut rng).unwrap();
            assert!(u.iter().sum::<f64>().abs() < 1e-12, "non-zero mean");
            plan.process(&mut u, &mut spec).unwrap();
            for (p, c) in power.iter_mut().zip(&spec) {
                *p += c.norm_sqr() / (n * n) as f64 / samples as f64;
            }
        }
        assert!(power[0] < 1e-24 && power[n / 2] < 1e-24);
        for (k, &p) in power.iter().enumerate().take(n / 2).skip(1) {
            let want = grf.coefficient(k).powi(2) / 2.0;
            assert!((p / want - 1.0).abs() < 0.25, "mode {k}: power {p:.3e}, expected {want:.3e}");
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        let grf = GaussianRandomField::default();
        let e = grf.sample(7, &mut Rng::seed(0)).unwrap_err();
        assert!(e.to_string().contains("GaussianRandomField: invalid n"), "{e}");
        let e = GaussianRandomField { tau: f64::NAN, ..grf }.sample(8, &mut Rng::seed(0)).unwrap_err();
        assert!(e.to_string().contains("invalid tau"), "{e}");
    }
}
