//! [`FNOBlock`]: the pre-norm residual block of every spectrans FNO model.

use spectrans_tensor::{Rng, Tensor};

use crate::activation::Activation;
use crate::error::{LayerError, Result};
use crate::fno::{FnoPaths, FnoState, FourierNeuralOperator};
use crate::linear::Linear;
use crate::module::{join, Ctx, Module, Visitor};
use crate::norm::{Norm, NormKind};
use spectrans_transforms::FftFloat;

/// Construction arguments of an [`FNOBlock`] (spectrans names and defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct FNOBlockConfig {
    /// Width D.
    pub hidden_dim: usize,
    /// Fourier modes kept.
    pub modes: usize,
    /// FFN width = int(D·mlp_ratio) unless `ffn_hidden_dim` is set; ≤ 0 removes the FFN.
    pub mlp_ratio: f64,
    /// Explicit FFN width (spectrans ignores it: B3; here it wins when given).
    pub ffn_hidden_dim: Option<usize>,
    /// Activation of the FNO layer and of the FFN.
    pub activation: Activation,
    /// Dropout probability.
    pub dropout: f64,
    /// Normalisation kind.
    pub norm: NormKind,
    /// `Some(L)`: the Fourier layer is exactly causal with a kernel window of L positions.
    pub causal_period: Option<usize>,
    /// `Some(S)`: the sequence is an S × S grid (row-major) and the Fourier layer is 2-D.
    pub spatial_dim: Option<usize>,
}

impl FNOBlockConfig {
    /// spectrans' defaults for width `hidden_dim` and `modes`.
    pub fn new(hidden_dim: usize, modes: usize) -> Self {
        FNOBlockConfig {
            hidden_dim,
            modes,
            mlp_ratio: 2.0,
            ffn_hidden_dim: None,
            activation: Activation::Gelu,
            dropout: 0.0,
            norm: NormKind::LayerNorm,
            causal_period: None,
            spatial_dim: None,
        }
    }

    /// The FFN width, or `None` when the block has no FFN.
    pub fn ffn_width(&self) -> Option<usize> {
        match self.ffn_hidden_dim {
            Some(h) => Some(h),
            None if self.mlp_ratio > 0.0 => Some((self.hidden_dim as f64 * self.mlp_ratio) as usize),
            None => None,
        }
    }
}

/// The FFN of a block: Linear(D→H) → act → dropout → Linear(H→D) → dropout (keys `ffn.0`, `ffn.3`).
pub struct FeedForward<T: FftFloat> {
    fc1: Linear<T>,
    fc2: Linear<T>,
}

impl<T: FftFloat> FeedForward<T> {
    /// `ffn.0`: D → H.
    pub fn fc1(&self) -> &Linear<T> {
        &self.fc1
    }

    /// `ffn.3`: H → D.
    pub fn fc2(&self) -> &Linear<T> {
        &self.fc2
    }
}

/// The incremental state of a causal [`FNOBlock`] over one sequence (made by
/// [`FNOBlock::incremental_state`], advanced by [`FNOBlock::step`]).
pub struct BlockState<T: FftFloat> {
    fno: FnoState<T>,
}

/// Pre-norm residual FNO block:
/// `x = x + dropout(fno(norm1(x)))`, then `x = x + ffn(norm2(x))` when the block has an FFN.
pub struct FNOBlock<T: FftFloat> {
    fno: FourierNeuralOperator<T>,
    norm1: Option<Norm<T>>,
    norm2: Option<Norm<T>>,
    ffn: Option<FeedForward<T>>,
    activation: Activation,
    dropout: f64,
    spatial_dim: Option<usize>,
}

impl<T: FftFloat> FNOBlock<T> {
    /// The Fourier layer.
    pub fn fno(&self) -> &FourierNeuralOperator<T> {
        &self.fno
    }

    /// The feed-forward network, if the block has one.
    pub fn ffn(&self) -> Option<&FeedForward<T>> {
        self.ffn.as_ref()
    }

    /// Side S of the S × S grid of a 2-D block.
    pub fn spatial_dim(&self) -> Option<usize> {
        self.spatial_dim
    }

    /// `norm1(x)`, the Fourier layer's input.
    fn pre_norm(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        match &self.norm1 {
            Some(n) => n.forward(ctx, x),
            None => Ok(x.clone()),
        }
    }

    /// The position-wise tail of the block, shared by [`Self::forward`] and [`Self::step`]:
    /// `x + dropout(f)` for the Fourier layer's output `f`, then the FFN residual.
    fn residuals(&self, ctx: &Ctx<T>, x: &Tensor<T>, f: &Tensor<T>) -> Result<Tensor<T>> {
        let x = x.add(&ctx.dropout(f, self.dropout)?)?;
        let Some(ffn) = &self.ffn else { return Ok(x) };
        let h = match &self.norm2 {
            Some(n) => n.forward(ctx, &x)?,
            None => x.clone(),
        };
        let h = ctx.dropout(&self.activation.apply(&ffn.fc1.forward(ctx, &h)?)?, self.dropout)?;
        if !ctx.drops(self.dropout) {
            // no dropout on fc2's output: the residual is the start value of fc2's product
            return ffn.fc2.forward_add(ctx, &h, &x);
        }
        let h = ctx.dropout(&ffn.fc2.forward(ctx, &h)?, self.dropout)?;
        Ok(x.add(&h)?)
    }

    /// The Fourier layer on (B, N, D), through the S × S grid for 2-D blocks.
    fn fourier(&self, ctx: &Ctx<T>, h: &Tensor<T>) -> Result<Tensor<T>> {
        let Some(side) = self.spatial_dim else { return self.fno.forward(ctx, h) };
        let s = h.shape();
        if s.len() != 3 || s[1] != side * side {
            return Err(LayerError::input(
                "FNOBlock",
                format!("a 2-D block needs N = spatial_dim² = {} positions, got shape {s:?}", side * side),
            ));
        }
        let grid = h.reshape(&[s[0], side, side, s[2]])?;
        Ok(self.fno.forward_2d(ctx, &grid)?.reshape(s)?)
    }

    /// A block from its configuration.
    pub fn new(cfg: &FNOBlockConfig, rng: &mut Rng) -> Result<Self> {
        if cfg.hidden_dim == 0 {
            return Err(LayerError::config("hidden_dim", "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&cfg.dropout) {
            return Err(LayerError::config("dropout", format!("must be in [0, 1], got {}", cfg.dropout)));
        }
        if !cfg.mlp_ratio.is_finite() {
            return Err(LayerError::config("mlp_ratio", format!("must be finite, got {}", cfg.mlp_ratio)));
        }
        let d = cfg.hidden_dim;
        let fno = match (cfg.causal_period, cfg.spatial_dim) {
            (Some(_), Some(_)) => {
                return Err(LayerError::config("spatial_dim", "a causal block cannot be 2-D"));
            }
            (Some(period), None) => FourierNeuralOperator::causal(d, cfg.modes, period, cfg.activation, rng)?,
            (None, Some(_)) => FourierNeuralOperator::new_2d(d, cfg.modes, cfg.activation, rng)?,
            (None, None) => FourierNeuralOperator::new(d, cfg.modes, cfg.activation, FnoPaths::Both, rng)?,
        };
        let norm1 = Norm::new(cfg.norm, d, 1e-5);
        let (norm2, ffn) = match cfg.ffn_width() {
            Some(h) => (
                Norm::new(cfg.norm, d, 1e-5),
                Some(FeedForward { fc1: Linear::new(d, h, rng), fc2: Linear::new(h, d, rng) }),
            ),
            None => (None, None),
        };
        Ok(FNOBlock {
            fno,
            norm1,
            norm2,
            ffn,
            activation: cfg.activation,
            dropout: cfg.dropout,
            spatial_dim: cfg.spatial_dim,
        })
    }

    /// Applies the block.
    ///
    /// # Shapes
    /// `x` (B, N, D) → (B, N, D).
    ///
    /// ```
    /// use spectrans_layers::{Ctx, FNOBlock, FNOBlockConfig};
    /// use spectrans_tensor::{Rng, Tensor};
    /// let block = FNOBlock::<f32>::new(&FNOBlockConfig::new(16, 4), &mut Rng::seed(0))?;
    /// assert_eq!(block.forward(&Ctx::inference(), &Tensor::ones(&[2, 20, 16]))?.shape(), &[2, 20, 16]);
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn forward(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        let h = self.pre_norm(ctx, x)?;
        let f = self.fourier(ctx, &h)?;
        self.residuals(ctx, x, &f)
    }

    /// A fresh incremental state for a causal block able to hold `capacity` positions (an error
    /// for a non-causal block).
    pub fn incremental_state(&self, capacity: usize) -> Result<BlockState<T>> {
        Ok(BlockState { fno: self.fno.incremental_state(capacity)? })
    }

    /// One incremental step of a causal block: its output at the next position given that
    /// position's input, equal to that row of [`Self::forward`] on the whole prefix, in
    /// O(D² + D·H + t·D). Every part but the causal convolution is position-wise and runs the
    /// same code as [`Self::forward`].
    ///
    /// # Shapes
    /// `x` (1, 1, D) → (1, 1, D).
    ///
    /// ```
    /// use spectrans_layers::{Ctx, FNOBlock, FNOBlockConfig};
    /// use spectrans_tensor::{Rng, Tensor};
    /// let cfg = FNOBlockConfig { causal_period: Some(8), ..FNOBlockConfig::new(4, 3) };
    /// let block = FNOBlock::<f64>::new(&cfg, &mut Rng::seed(0))?;
    /// let x = Tensor::randn(&[1, 6, 4], 0.0, 1.0, &mut Rng::seed(1));
    /// let full = block.forward(&Ctx::inference(), &x)?;
    /// let mut state = block.incremental_state(6)?;
    /// for t in 0..6 {
    ///     let y = block.step(&Ctx::inference(), &mut state, &x.narrow(1, t, 1)?)?;
    ///     for (a, b) in y.data().iter().zip(&full.data()[t * 4..(t + 1) * 4]) { assert!((a - b).abs() < 1e-10); }
    /// }
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn step(&self, ctx: &Ctx<T>, state: &mut BlockState<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        let h = self.pre_norm(ctx, x)?;
        let f = self.fno.step(ctx, &mut state.fno, &h)?;
        self.residuals(ctx, x, &f)
    }
}

impl<T: FftFloat> Module<T> for FNOBlock<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        self.fno.visit(&join(prefix, "fno."), v);
        if let Some(n) = &self.norm1 {
            n.visit(&join(prefix, "norm1."), v);
        }
        if let Some(n) = &self.norm2 {
            n.visit(&join(prefix, "norm2."), v);
        }
        if let Some(f) = &self.ffn {
            f.fc1.visit(&join(prefix, "ffn.0."), v);
            f.fc2.visit(&join(prefix, "ffn.3."), v);
        }
    }
}
