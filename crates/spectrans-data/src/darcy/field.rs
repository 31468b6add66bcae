//! Gaussian random fields on the unit square with zero-Neumann boundary conditions: the
//! permeability of the Darcy data set before thresholding.
//!
//! # The covariance and its cosine expansion
//!
//! The field is z ~ N(0, τ^{2(α−1)}(−Δ + τ²I)^−α) on (0, 1)² with ∂z/∂n = 0 on the boundary. The
//! Neumann Laplacian has the orthonormal eigenbasis φ_k(x, y) = w_{k₁} w_{k₂} cos(πk₁x) cos(πk₂y)
//! (w₀ = 1, w_k = √2 for k ≥ 1) with −Δφ_k = π²|k|²φ_k, so a sample is
//!
//! ```text
//! z(x, y) = Σ_{k₁,k₂ < K} c_k ξ_k w_{k₁} w_{k₂} cos(πk₁x) cos(πk₂y),   c_k = τ^{α−1}(π²|k|² + τ²)^{−α/2},
//! ```
//!
//! with ξ_k iid N(0, 1) and the constant mode dropped (c₀ = 0, zero mean). The Darcy recipe of the
//! FNO paper (Li et al. 2021, after its data script) uses τ = 3, α = 2: covariance (−Δ + 9I)^−2 up
//! to the factor τ², which the threshold ψ ignores. The script draws K = s modes per axis on an
//! s × s grid; [`NeumannRandomField::sample`] does the same (K = n) and evaluates the sum exactly
//! at the n × n grid vertices x_i = i/(n − 1) as two dense products with the cosine matrix.

use serde::{Deserialize, Serialize};
use spectrans_tensor::Rng;

use crate::error::{DataError, Result};

/// The zero-mean Gaussian random field N(0, τ^{2(α−1)}(−Δ + τ²I)^−α) on the unit square with
/// zero-Neumann boundary conditions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeumannRandomField {
    /// τ (the Darcy recipe: 3).
    pub tau: f64,
    /// α (the Darcy recipe: 2).
    pub alpha: f64,
}

impl Default for NeumannRandomField {
    /// The FNO Darcy permeability field, covariance ∝ (−Δ + 9I)^−2.
    fn default() -> Self {
        NeumannRandomField { tau: 3.0, alpha: 2.0 }
    }
}

impl NeumannRandomField {
    /// The standard deviation c_k of the coefficient of mode (k₁, k₂) in the orthonormal cosine
    /// basis (0 for the constant mode).
    ///
    /// ```
    /// use spectrans_data::NeumannRandomField;
    /// let c = NeumannRandomField::default().coefficient(1, 0);
    /// let pi2 = std::f64::consts::PI.powi(2);
    /// assert!((c - 3.0 / (pi2 + 9.0)).abs() < 1e-15);
    /// ```
    pub fn coefficient(&self, k1: usize, k2: usize) -> f64 {
        if k1 == 0 && k2 == 0 {
            return 0.0;
        }
        let k2sum = (k1 * k1 + k2 * k2) as f64;
        let pi2 = std::f64::consts::PI * std::f64::consts::PI;
        self.tau.powf(self.alpha - 1.0) * (pi2 * k2sum + self.tau * self.tau).powf(-self.alpha / 2.0)
    }

    pub(crate) fn validate(&self) -> Result<()> {
        for (field, v) in [("tau", self.tau), ("alpha", self.alpha)] {
            if !v.is_finite() || v <= 0.0 {
                return Err(DataError::config("NeumannRandomField", field, format!("must be finite and > 0, got {v}")));
            }
        }
        Ok(())
    }

    /// One sample at the n × n grid vertices (x_j, y_i) = (j, i)/(n − 1), row-major with i the
    /// row, using K = n modes per axis: draws n² normals from `rng` in the order (k₁, k₂)
    /// row-major (ξ₀₀ drawn and unused, so every grid of n points draws the same count).
    ///
    /// # Shapes
    /// Returns n·n values.
    ///
    /// ```
    /// use spectrans_tensor::Rng;
    /// use spectrans_data::NeumannRandomField;
    /// let z = NeumannRandomField::default().sample(9, &mut Rng::seed(1))?;
    /// assert_eq!(z.len(), 81);
    /// # Ok::<(), spectrans_data::DataError>(())
    /// ```
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Result<Vec<f64>> {
        self.validate()?;
        if n < 2 {
            return Err(DataError::config("NeumannRandomField::sample", "n", format!("must be >= 2, got {n}")));
        }
        let xi: Vec<f64> = (0..n * n).map(|_| rng.normal()).collect();
        Ok(self.evaluate(n, &xi))
    }

    /// The field of the normal draws `xi` (n × n, mode (k₁, k₂) at k₁·n + k₂) at the grid vertices.
    pub(crate) fn evaluate(&self, n: usize, xi: &[f64]) -> Vec<f64> {
        let h = 1.0 / (n - 1) as f64;
        let weight = |k: usize| if k == 0 { 1.0 } else { std::f64::consts::SQRT_2 };
        // basis[i][k] = w_k cos(π k x_i)
        let basis: Vec<f64> = (0..n)
            .flat_map(|i| (0..n).map(move |k| weight(k) * (std::f64::consts::PI * k as f64 * i as f64 * h).cos()))
            .collect();
        // m[k1][k2] = c_k ξ_k
        let m: Vec<f64> = (0..n * n).map(|p| self.coefficient(p / n, p % n) * xi[p]).collect();
        // t[k1][j] = Σ_k2 m[k1][k2] basis[j][k2]
        let t = product_transposed(&m, &basis, n);
        // z[i][j] = Σ_k1 basis[i][k1] t[k1][j]
        let mut z = vec![0.0; n * n];
        for i in 0..n {
            let row = &mut z[i * n..(i + 1) * n];
            for k1 in 0..n {
                let b = basis[i * n + k1];
                for (zj, tj) in row.iter_mut().zip(&t[k1 * n..(k1 + 1) * n]) {
                    *zj += b * tj;
                }
            }
        }
        z
    }
}

/// a · bᵀ for row-major n × n matrices.
fn product_transposed(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for r in 0..n {
        let ar = &a[r * n..(r + 1) * n];
        for c in 0..n {
            out[r * n + c] = ar.iter().zip(&b[c * n..(c + 1) * n]).map(|(x, y)| x * y).sum();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cosine sum evaluated term by term at one point.
    fn direct(field: &NeumannRandomField, n: usize, xi: &[f64], x: f64, y: f64) -> f64 {
        let w = |k: usize| if k == 0 { 1.0 } else { std::f64::consts::SQRT_2 };
        let mut s = 0.0;
        for k1 in 0..n {
            for k2 in 0..n {
                let c = field.coefficient(k1, k2) * xi[k1 * n + k2] * w(k1) * w(k2);
                s += c * (std::f64::consts::PI * k1 as f64 * y).cos() * (std::f64::consts::PI * k2 as f64 * x).cos();
            }
        }
        s
    }

    #[test]
    fn the_grid_values_are_the_cosine_series() {
        let field = NeumannRandomField::default();
        let n = 7;
        let mut rng = Rng::seed(3);
        let xi: Vec<f64> = (0..n * n).map(|_| rng.normal()).collect();
        let z = field.evaluate(n, &xi);
        for i in 0..n {
            for j in 0..n {
                let (x, y) = (j as f64 / (n - 1) as f64, i as f64 / (n - 1) as f64);
                assert!((z[i * n + j] - direct(&field, n, &xi, x, y)).abs() < 1e-13, "({i}, {j})");
            }
        }
    }

    /// The sample covariance spectrum: projecting samples back on the cosine basis (exact on the
    /// grid by the discrete orthogonality of DCT-I with trapezoid weights) gives coefficients whose
    /// variance is c_k², checked per mode and on average over the modes.
    #[test]
    fn the_spectrum_of_samples_is_the_covariance() {
        let field = NeumannRandomField::default();
        let n = 6;
        let samples = 4000;
        let mut rng = Rng::seed(11);
        // projection[k][i] = trapezoid weight × w_k cos(π k x_i) / (norm of the discrete basis vector)²
        let h = 1.0 / (n - 1) as f64;
        let w = |k: usize| if k == 0 { 1.0 } else { std::f64::consts::SQRT_2 };
        let tw = |i: usize| if i == 0 || i == n - 1 { 0.5 } else { 1.0 };
        let basis = |k: usize, i: usize| w(k) * (std::f64::consts::PI * (k * i) as f64 * h).cos();
        let norm2 = |k: usize| (0..n).map(|i| tw(i) * basis(k, i).powi(2)).sum::<f64>();
        let mut var = vec![0.0; n * n];
        for _ in 0..samples {
            let z = field.sample(n, &mut rng).unwrap();
            for k1 in 0..n {
                for k2 in 0..n {
                    let mut c = 0.0;
                    for i in 0..n {
                        for j in 0..n {
                            c += tw(i) * tw(j) * basis(k1, i) * basis(k2, j) * z[i * n + j];
                        }
                    }
                    var[k1 * n + k2] += (c / (norm2(k1) * norm2(k2))).powi(2) / samples as f64;
                }
            }
        }
        assert!(var[0] < 1e-24, "the constant mode is absent");
        let mut mean_ratio = 0.0;
        for k1 in 0..n {
            for k2 in 0..n {
                if k1 + k2 == 0 {
                    continue;
                }
                let ratio = var[k1 * n + k2] / field.coefficient(k1, k2).powi(2);
                // 4000 samples: the variance estimate has a relative standard deviation of 2.2 %
                assert!((ratio - 1.0).abs() < 0.12, "mode ({k1}, {k2}): ratio {ratio}");
                mean_ratio += ratio / (n * n - 1) as f64;
            }
        }
        assert!((mean_ratio - 1.0).abs() < 0.02, "mean ratio {mean_ratio}");
    }

    #[test]
    fn bad_parameters_are_errors() {
        let e = NeumannRandomField { tau: 0.0, alpha: 2.0 }.sample(4, &mut Rng::seed(0)).unwrap_err();
        assert!(e.to_string().contains("tau"), "{e}");
        let e = NeumannRandomField::default().sample(1, &mut Rng::seed(0)).unwrap_err();
        assert!(e.to_string().contains('n'), "{e}");
    }
}
