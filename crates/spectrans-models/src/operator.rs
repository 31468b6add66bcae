//! [`FNOOperator`]: the canonical Fourier Neural Operator of Li et al. (ICLR 2021) for operator
//! learning on grids — lifting, Fourier layers, projection — resolution-agnostic: the same
//! weights run at any grid size.

use spectrans_layers::{Activation, Ctx, FftFloat, FnoPaths, FourierNeuralOperator, Linear, Module, Visitor};
use spectrans_tensor::{Rng, Tensor};

use crate::config::{FnoOperatorConfig, GridEncoding};
use crate::error::{ModelError, Result};

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
        crate::budget::check_parts(&crate::budget::operator_parts(config)?, std::mem::size_of::<T>())?;
        let mut rng = Rng::seed(seed);
        let c = config;
        // cannot overflow: the budget check above added them in u128 and bounded the result
        let lifting = Linear::new(c.in_channels + c.grid_channels()?, c.width, &mut rng);
        let fourier_layers = (0..c.num_layers)
            .map(|i| {
                let act = if i + 1 < c.num_layers { Activation::Gelu } else { Activation::Identity };
                if c.spatial_dims == 2 {
                    FourierNeuralOperator::new_2d(c.width, c.modes, act, &mut rng)
                } else {
                    FourierNeuralOperator::new(c.width, c.modes, act, FnoPaths::Both, &mut rng)
                }
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let projection1 = Linear::new(c.width, c.projection_dim, &mut rng);
        let projection2 = Linear::new(c.projection_dim, c.out_channels, &mut rng);
        Ok(FNOOperator { lifting, fourier_layers, projection1, projection2, config: c.clone() })
    }

    /// Grid features of the point `j` of an axis of `n` points (x = j/n; j/(n−1) for vertices).
    fn features(&self, j: usize, n: usize, out: &mut Vec<T>) {
        let pos = j as f64 / n as f64;
        match self.config.grid {
            GridEncoding::Linear => out.push(T::of(pos)),
            GridEncoding::Vertices => out.push(T::of(j as f64 / n.saturating_sub(1).max(1) as f64)),
            GridEncoding::Periodic => {
                let a = 2.0 * std::f64::consts::PI * pos;
                out.extend([T::of(a.sin()), T::of(a.cos())]);
            }
            GridEncoding::None => {}
        }
    }

    /// Appends the grid features of a periodic grid (x_j = j/N per axis) to the channels.
    fn with_grid(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let g = self.config.grid_channels()?;
        if g == 0 {
            return Ok(x.clone());
        }
        let s = x.shape();
        let spatial = &s[1..s.len() - 1];
        let mut feats = Vec::with_capacity(spatial.iter().product::<usize>() * g);
        match *spatial {
            [n] => (0..n).for_each(|j| self.features(j, n, &mut feats)),
            [h, w] => {
                for p in 0..h {
                    for q in 0..w {
                        self.features(p, h, &mut feats);
                        self.features(q, w, &mut feats);
                    }
                }
            }
            _ => {
                return Err(ModelError::config(
                    "spatial_dims",
                    format!("must be 1 or 2, got {} (input shape {s:?})", self.config.spatial_dims),
                ))
            }
        }
        let mut one = vec![1];
        one.extend_from_slice(spatial);
        one.push(g);
        let mut full = s.to_vec();
        // `s` has rank spatial_dims + 2 ≥ 3 (checked by `forward`), so `full` has a last axis
        if let Some(last) = full.last_mut() {
            *last = g;
        }
        let grid = Tensor::from_vec(feats, &one)?.broadcast_to(&full)?;
        Ok(Tensor::concat(&[x, &grid], -1)?)
    }

    /// Maps input functions sampled on a uniform periodic grid to output functions on the same grid.
    ///
    /// # Shapes
    /// 1-D: `x` (B, S, in_channels) → (B, S, out_channels); 2-D: (B, H, W, in) → (B, H, W, out);
    /// any grid size ≥ 1.
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
        spectrans_tensor::on_pool(|| self.forward_on_pool(ctx, x))
    }

    /// [`Self::forward`], run on a pool thread so its kernels fork from there.
    fn forward_on_pool(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        let s = x.shape();
        let dims = self.config.spatial_dims;
        if s.len() != dims + 2 || s[dims + 1] != self.config.in_channels {
            let want = if dims == 1 { "(B, S, {c})" } else { "(B, H, W, {c})" };
            return Err(ModelError::Input(format!(
                "FNOOperator input must be {}, got shape {s:?}",
                want.replace("{c}", &self.config.in_channels.to_string())
            )));
        }
        if s.contains(&0) {
            return Err(ModelError::Input(format!("empty input of shape {s:?}")));
        }
        let width = self.config.width.max(self.config.projection_dim);
        let what = format!("FNOOperator input of shape {s:?}");
        crate::budget::check_activations(&what, &s[..=dims], width, 4, std::mem::size_of::<T>())?;
        if x.has_non_finite() {
            return Err(ModelError::Input(format!("FNOOperator input of shape {s:?} contains NaN or infinite values")));
        }
        let mut h = self.lifting.forward(ctx, &self.with_grid(x)?)?;
        ctx.check_output(|| "lifting".into(), &h)?;
        for (i, layer) in self.fourier_layers.iter().enumerate() {
            h = if dims == 2 { layer.forward_2d(ctx, &h)? } else { layer.forward(ctx, &h)? };
            ctx.check_output(|| format!("fourier_layers.{i}"), &h)?;
        }
        let h = self.projection1.forward(ctx, &h)?.gelu()?;
        ctx.check_output(|| "projection1".into(), &h)?;
        let out = self.projection2.forward(ctx, &h)?;
        ctx.check_output(|| "projection2".into(), &out)?;
        Ok(out)
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
            grid: GridEncoding::Periodic,
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
        let x = spectrans_tensor::gradcheck::tensor_from::<f64>(&[2, 9, 1], 4, -1.0, 1.0);
        spectrans_tensor::gradcheck::assert_gradients(&[x], |v| {
            op.forward(&Ctx::eval_with_tape(&v[0].tape().unwrap_or_default()), &v[0])
                .map_err(|e| spectrans_tensor::TensorError::invalid("operator", e.to_string()))
        });
    }

    #[test]
    fn two_dimensional_operator_is_resolution_agnostic() {
        let cfg = FnoOperatorConfig {
            width: 6,
            modes: 4,
            num_layers: 2,
            projection_dim: 8,
            grid: GridEncoding::Periodic,
            spatial_dims: 2,
            ..Default::default()
        };
        let op = FNOOperator::<f64>::new(&cfg, 5).unwrap();
        let field = |n: usize| {
            let v: Vec<f64> = (0..n * n)
                .map(|k| {
                    let (x, y) = ((k / n) as f64 / n as f64, (k % n) as f64 / n as f64);
                    let p = 2.0 * std::f64::consts::PI;
                    (p * x).sin() * (p * y).cos() + 0.5 * (2.0 * p * y).sin()
                })
                .collect();
            Tensor::from_vec(v, &[1, n, n, 1]).unwrap()
        };
        let ctx = Ctx::inference();
        let (c, f) = (op.forward(&ctx, &field(32)).unwrap(), op.forward(&ctx, &field(64)).unwrap());
        let scale = c.data().iter().fold(0f64, |m, v| m.max(v.abs()));
        let mut diff = 0f64;
        for p in 0..32 {
            for q in 0..32 {
                diff = diff.max((c.data()[p * 32 + q] - f.data()[(2 * p) * 64 + 2 * q]).abs());
            }
        }
        assert!(diff / scale <= 1e-5, "2-D relative difference {:.2e}", diff / scale);
        assert!(op.forward(&ctx, &Tensor::ones(&[1, 8, 1])).is_err());
    }

    #[test]
    fn bad_inputs_and_configs() {
        let op = FNOOperator::<f32>::new(&FnoOperatorConfig { width: 4, modes: 2, ..Default::default() }, 0).unwrap();
        let e = op.forward(&Ctx::inference(), &Tensor::ones(&[1, 8, 2])).unwrap_err();
        assert!(e.to_string().contains("(B, S, 1)"));
        assert!(op.forward(&Ctx::inference(), &Tensor::ones(&[0, 8, 1])).is_err());
        let e = FNOOperator::<f32>::new(&FnoOperatorConfig { width: 0, ..Default::default() }, 0).err().unwrap();
        assert!(e.to_string().contains("width"));
        let e = crate::ModelConfig::from_json(r#"{"model_type": "fno_operator", "grid": "polar"}"#).unwrap_err();
        let e = e.to_string();
        assert!(e.contains("`grid`") && e.contains("polar") && e.contains("periodic"), "{e}");
    }
}
