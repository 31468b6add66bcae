//! [`FNOOperator`]: the canonical Fourier Neural Operator of Li et al. (ICLR 2021) for operator
//! learning on grids — lifting, Fourier layers, projection — resolution-agnostic: the same
//! weights run at any grid size.

use serde::{Deserialize, Serialize};
use spectrans_layers::{Activation, Ctx, FftFloat, FourierNeuralOperator, Linear, Module, Visitor};
use spectrans_tensor::{Rng, Tensor};

use crate::error::{ModelError, Result};

fn one() -> usize {
    1
}
fn w64() -> usize {
    64
}
fn m16() -> usize {
    16
}
fn l4() -> usize {
    4
}
fn p128() -> usize {
    128
}
fn linear() -> String {
    "linear".into()
}

/// Configuration of an [`FNOOperator`] (`"model_type": "fno_operator"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FnoOperatorConfig {
    /// Input channels per grid point (e.g. 1 for u0(x)).
    #[serde(default = "one")]
    pub in_channels: usize,
    /// Output channels per grid point.
    #[serde(default = "one")]
    pub out_channels: usize,
    /// Hidden width of the Fourier layers.
    #[serde(default = "w64")]
    pub width: usize,
    /// Fourier modes kept per layer.
    #[serde(default = "m16")]
    pub modes: usize,
    /// Number of Fourier layers.
    #[serde(default = "l4")]
    pub num_layers: usize,
    /// Hidden width of the projection.
    #[serde(default = "p128")]
    pub projection_dim: usize,
    /// Grid coordinates appended to the input: "linear" (x = j/N, as Li et al.), "periodic"
    /// (sin 2πx, cos 2πx: band-limited, exactly resolution-consistent) or "none".
    #[serde(default = "linear")]
    pub grid: String,
}

impl Default for FnoOperatorConfig {
    fn default() -> Self {
        FnoOperatorConfig {
            in_channels: 1,
            out_channels: 1,
            width: 64,
            modes: 16,
            num_layers: 4,
            projection_dim: 128,
            grid: linear(),
        }
    }
}

impl FnoOperatorConfig {
    /// Number of grid features appended to each point.
    pub fn grid_channels(&self) -> Result<usize> {
        match self.grid.as_str() {
            "linear" => Ok(1),
            "periodic" => Ok(2),
            "none" => Ok(0),
            other => Err(ModelError::config(
                "grid",
                format!("unknown grid encoding {other:?}; expected linear, periodic or none"),
            )),
        }
    }

    /// Checks every field, naming the first invalid one.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("width", self.width),
            ("modes", self.modes),
            ("num_layers", self.num_layers),
            ("projection_dim", self.projection_dim),
        ] {
            if v == 0 {
                return Err(ModelError::config(name, "must be at least 1"));
            }
        }
        self.grid_channels()?;
        Ok(())
    }
}

/// Lifting `Linear(in + grid → width)`, `num_layers` Fourier layers (spectral + pointwise, GELU
/// between layers, none after the last), projection `width → projection_dim → out` with GELU.
/// Keys: `lifting.*`, `fourier_layers.{i}.spectral_conv.weights`, `fourier_layers.{i}.linear.*`,
/// `projection1.*`, `projection2.*`.
pub struct FNOOperator<T: FftFloat> {
    /// in + grid → width.
    pub lifting: Linear<T>,
    /// The Fourier layers.
    pub fourier_layers: Vec<FourierNeuralOperator<T>>,
    /// width → projection_dim.
    pub projection1: Linear<T>,
    /// projection_dim → out.
    pub projection2: Linear<T>,
    /// The configuration.
    pub config: FnoOperatorConfig,
}

impl<T: FftFloat> FNOOperator<T> {
    /// Builds and initialises the operator (seeded).
    pub fn new(config: &FnoOperatorConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let mut rng = Rng::seed(seed);
        let c = config;
        let lifting = Linear::new(c.in_channels + c.grid_channels()?, c.width, true, &mut rng);
        let fourier_layers = (0..c.num_layers)
            .map(|i| {
                let act = if i + 1 < c.num_layers { Activation::Gelu } else { Activation::Identity };
                FourierNeuralOperator::new(c.width, c.modes, act, true, true, &mut rng)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let projection1 = Linear::new(c.width, c.projection_dim, true, &mut rng);
        let projection2 = Linear::new(c.projection_dim, c.out_channels, true, &mut rng);
        Ok(FNOOperator { lifting, fourier_layers, projection1, projection2, config: c.clone() })
    }

    /// Appends the grid features of a periodic grid x_j = j/N.
    fn with_grid(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let (b, n) = (x.shape()[0], x.shape()[1]);
        let g = self.config.grid_channels()?;
        if g == 0 {
            return Ok(x.clone());
        }
        let mut feats = Vec::with_capacity(n * g);
        for j in 0..n {
            let pos = j as f64 / n as f64;
            match g {
                1 => feats.push(T::of(pos)),
                _ => {
                    let a = 2.0 * std::f64::consts::PI * pos;
                    feats.extend([T::of(a.sin()), T::of(a.cos())]);
                }
            }
        }
        let grid = Tensor::from_vec(feats, &[1, n, g])?.broadcast_to(&[b, n, g])?;
        Ok(Tensor::concat(&[x, &grid], 2)?)
    }

    /// Maps input functions sampled on a uniform periodic grid to output functions on the same grid.
    ///
    /// # Shapes
    /// `x` (B, S, in_channels) → (B, S, out_channels), any S ≥ 1.
    ///
    /// ```
    /// use spectrans_layers::Ctx;
    /// use spectrans_models::{FNOOperator, FnoOperatorConfig};
    /// use spectrans_tensor::Tensor;
    /// let op = FNOOperator::<f32>::new(&FnoOperatorConfig { width: 8, modes: 4, ..Default::default() }, 0)?;
    /// for s in [16, 64] {   // the same weights at two resolutions
    ///     assert_eq!(op.forward(&Ctx::inference(), &Tensor::ones(&[2, s, 1]))?.shape(), &[2, s, 1]);
    /// }
    /// # Ok::<(), spectrans_models::ModelError>(())
    /// ```
    pub fn forward(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        let s = x.shape();
        if s.len() != 3 || s[2] != self.config.in_channels {
            return Err(ModelError::Input(format!(
                "FNOOperator input must be (B, S, {}), got shape {s:?}",
                self.config.in_channels
            )));
        }
        if s[0] == 0 || s[1] == 0 {
            return Err(ModelError::Input(format!("empty input of shape {s:?}")));
        }
        let mut h = self.lifting.forward(ctx, &self.with_grid(x)?)?;
        for layer in &self.fourier_layers {
            h = layer.forward(ctx, &h)?;
        }
        let h = self.projection1.forward(ctx, &h)?.gelu()?;
        Ok(self.projection2.forward(ctx, &h)?)
    }
}

impl<T: FftFloat> Module<T> for FNOOperator<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        self.lifting.visit(&format!("{prefix}lifting."), v);
        for (i, l) in self.fourier_layers.iter().enumerate() {
            l.visit(&format!("{prefix}fourier_layers.{i}."), v);
        }
        self.projection1.visit(&format!("{prefix}projection1."), v);
        self.projection2.visit(&format!("{prefix}projection2."), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A band-limited input (frequencies ≤ 3) sampled at n points.
    fn band_limited(n: usize) -> Tensor<f64> {
        let v: Vec<f64> = (0..2 * n)
            .map(|i| {
                let (b, j) = (i / n, i % n);
                let x = j as f64 / n as f64;
                let p = 2.0 * std::f64::consts::PI;
                0.7 * (p * x).sin() + 0.3 * (3.0 * p * x + b as f64).cos() + 0.2 * b as f64
            })
            .collect();
        Tensor::from_vec(v, &[2, n, 1]).unwrap()
    }

    #[test]
    fn resolution_agnostic_on_band_limited_inputs() {
        let cfg = FnoOperatorConfig {
            width: 12,
            modes: 8,
            num_layers: 3,
            projection_dim: 16,
            grid: "periodic".into(),
            ..Default::default()
        };
        let op = FNOOperator::<f64>::new(&cfg, 3).unwrap();
        let ctx = Ctx::inference();
        let coarse = op.forward(&ctx, &band_limited(128)).unwrap();
        let fine = op.forward(&ctx, &band_limited(256)).unwrap();
        let scale = coarse.data().iter().fold(0f64, |m, v| m.max(v.abs()));
        let mut diff = 0f64;
        for b in 0..2 {
            for j in 0..128 {
                diff = diff.max((coarse.data()[b * 128 + j] - fine.data()[b * 256 + 2 * j]).abs());
            }
        }
        assert!(diff / scale <= 1e-5, "relative difference {:.2e} between resolutions", diff / scale);
    }

    #[test]
    fn gradients_match_finite_differences_for_the_input() {
        let cfg = FnoOperatorConfig { width: 4, modes: 3, num_layers: 2, projection_dim: 5, ..Default::default() };
        let op = FNOOperator::<f64>::new(&cfg, 1).unwrap();
        let x = spectrans_tensor::testing::tensor_from::<f64>(&[2, 9, 1], 4, -1.0, 1.0);
        spectrans_tensor::testing::assert_gradients(&[x], |v| {
            op.forward(&Ctx::eval_with_tape(&v[0].tape().unwrap_or_default()), &v[0])
                .map_err(|e| spectrans_tensor::TensorError::invalid("operator", e.to_string()))
        });
    }

    #[test]
    fn bad_inputs_and_configs() {
        let op = FNOOperator::<f32>::new(&FnoOperatorConfig { width: 4, modes: 2, ..Default::default() }, 0).unwrap();
        let e = op.forward(&Ctx::inference(), &Tensor::ones(&[1, 8, 2])).unwrap_err();
        assert!(e.to_string().contains("(B, S, 1)"));
        assert!(op.forward(&Ctx::inference(), &Tensor::ones(&[0, 8, 1])).is_err());
        let e = FNOOperator::<f32>::new(&FnoOperatorConfig { width: 0, ..Default::default() }, 0).err().unwrap();
        assert!(e.to_string().contains("width"));
        let e = FNOOperator::<f32>::new(&FnoOperatorConfig { grid: "polar".into(), ..Default::default() }, 0)
            .err()
            .unwrap();
        assert!(e.to_string().contains("grid"));
    }
}
