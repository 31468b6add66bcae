//! [`FourierNeuralOperator`]: the FNO layer `act(K(x) + W x + b)` on channels-last tensors.

use spectrans_tensor::{Rng, Tensor};

use crate::activation::Activation;
use crate::error::{LayerError, Result};
use crate::linear::PointwiseConv;
use crate::module::{join, Ctx, Module, Visitor};
use crate::spectral::{CausalConvState, CausalSpectralConv1d, SpectralConv1d, SpectralConv2d};
use spectrans_transforms::FftFloat;

/// Which paths a 1-D [`FourierNeuralOperator`] built by [`FourierNeuralOperator::new`] has
/// (spectrans' `use_spectral_conv` / `use_linear`; "neither" cannot be asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FnoPaths {
    /// Spectral convolution plus the pointwise 1×1 convolution (spectrans' default).
    #[default]
    Both,
    /// Only the spectral convolution (`use_linear=False`).
    SpectralOnly,
    /// Only the pointwise convolution (`use_spectral_conv=False`).
    PointwiseOnly,
}

/// The spectral (global) path of a [`FourierNeuralOperator`]: exactly one kind per layer.
pub enum SpectralPath<T: FftFloat> {
    /// Circular 1-D spectral convolution, key `spectral_conv.weights`.
    Circular(SpectralConv1d<T>),
    /// Exactly causal 1-D spectral convolution, key `causal_conv.weights`.
    Causal(CausalSpectralConv1d<T>),
    /// 2-D spectral convolution over (H, W) grids, keys `spectral_conv.weights{,_neg}`.
    Grid2d(SpectralConv2d<T>),
}

impl<T: FftFloat> SpectralPath<T> {
    /// The state-dict prefix of this path.
    fn key(&self) -> &'static str {
        match self {
            SpectralPath::Circular(_) | SpectralPath::Grid2d(_) => "spectral_conv.",
            SpectralPath::Causal(_) => "causal_conv.",
        }
    }
}

/// The paths of a layer: at least one is present by construction.
enum Paths<T: FftFloat> {
    Both(SpectralPath<T>, PointwiseConv<T>),
    SpectralOnly(SpectralPath<T>),
    PointwiseOnly(PointwiseConv<T>),
}

/// One Fourier layer: spectral path (global, band-limited) plus pointwise path (local), then the
/// activation. State keys follow spectrans: `spectral_conv.weights`, `linear.weight`, `linear.bias`;
/// the causal variant has `causal_conv.weights` instead of `spectral_conv.weights`.
pub struct FourierNeuralOperator<T: FftFloat> {
    paths: Paths<T>,
    activation: Activation,
}

/// The incremental state of a causal [`FourierNeuralOperator`] over one sequence, made by
/// [`FourierNeuralOperator::incremental_state`] and advanced by [`FourierNeuralOperator::step`].
pub struct FnoState<T: FftFloat> {
    conv: CausalConvState<T>,
}

impl<T: FftFloat> FourierNeuralOperator<T> {
    /// A 1-D Fourier layer of width `hidden_dim` keeping `modes` modes, with the given paths.
    ///
    /// ```
    /// use spectrans_layers::{Activation, FnoPaths, FourierNeuralOperator, Module};
    /// use spectrans_tensor::Rng;
    /// let fno = FourierNeuralOperator::<f32>::new(8, 4, Activation::Gelu, FnoPaths::SpectralOnly, &mut Rng::seed(0))?;
    /// assert_eq!(fno.named_parameters()[0].0, "spectral_conv.weights");
    /// assert_eq!(fno.named_parameters().len(), 1);
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn new(
        hidden_dim: usize,
        modes: usize,
        activation: Activation,
        paths: FnoPaths,
        rng: &mut Rng,
    ) -> Result<Self> {
        let paths = match paths {
            FnoPaths::Both => {
                let conv = SpectralConv1d::new(hidden_dim, hidden_dim, modes, rng)?;
                Paths::Both(SpectralPath::Circular(conv), PointwiseConv::new(hidden_dim, hidden_dim, rng))
            }
            FnoPaths::SpectralOnly => {
                Paths::SpectralOnly(SpectralPath::Circular(SpectralConv1d::new(hidden_dim, hidden_dim, modes, rng)?))
            }
            FnoPaths::PointwiseOnly => Paths::PointwiseOnly(PointwiseConv::new(hidden_dim, hidden_dim, rng)),
        };
        Ok(FourierNeuralOperator { paths, activation })
    }

    /// The exactly causal variant: a [`CausalSpectralConv1d`] with a kernel window of `period`
    /// positions, plus the pointwise path.
    pub fn causal(
        hidden_dim: usize,
        modes: usize,
        period: usize,
        activation: Activation,
        rng: &mut Rng,
    ) -> Result<Self> {
        let conv = SpectralPath::Causal(CausalSpectralConv1d::new(hidden_dim, modes, period, rng)?);
        Ok(FourierNeuralOperator {
            paths: Paths::Both(conv, PointwiseConv::new(hidden_dim, hidden_dim, rng)),
            activation,
        })
    }

    /// The 2-D variant over (H, W) grids: a [`SpectralConv2d`] with `modes` × `modes` modes per
    /// frequency block, plus the pointwise path.
    pub fn new_2d(hidden_dim: usize, modes: usize, activation: Activation, rng: &mut Rng) -> Result<Self> {
        let conv = SpectralPath::Grid2d(SpectralConv2d::new(hidden_dim, hidden_dim, (modes, modes), rng)?);
        Ok(FourierNeuralOperator {
            paths: Paths::Both(conv, PointwiseConv::new(hidden_dim, hidden_dim, rng)),
            activation,
        })
    }

    /// The spectral path, if the layer has one.
    pub fn spectral(&self) -> Option<&SpectralPath<T>> {
        match &self.paths {
            Paths::Both(s, _) | Paths::SpectralOnly(s) => Some(s),
            Paths::PointwiseOnly(_) => None,
        }
    }

    /// The pointwise 1×1 convolution, if the layer has one.
    pub fn linear(&self) -> Option<&PointwiseConv<T>> {
        match &self.paths {
            Paths::Both(_, l) | Paths::PointwiseOnly(l) => Some(l),
            Paths::SpectralOnly(_) => None,
        }
    }

    /// The activation applied to the sum of the paths.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// `act(spectral + pointwise(x))` given the spectral path's output on `x`: the position-wise
    /// rest of the layer, shared by [`Self::forward`], [`Self::forward_2d`] and [`Self::step`].
    fn finish(&self, ctx: &Ctx<T>, spectral: Tensor<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        let sum = match self.linear() {
            // the pointwise product accumulates onto bias + spectral branch (one pass)
            Some(l) => l.forward_add(ctx, x, &spectral)?,
            None => spectral,
        };
        self.activation.apply(&sum)
    }

    /// The 2-D layer on a channels-last grid.
    ///
    /// # Shapes
    /// `x` (B, H, W, D) → (B, H, W, D).
    ///
    /// ```
    /// use spectrans_layers::{Activation, Ctx, FourierNeuralOperator};
    /// use spectrans_tensor::{Rng, Tensor};
    /// let fno = FourierNeuralOperator::<f32>::new_2d(4, 3, Activation::Gelu, &mut Rng::seed(0))?;
    /// assert_eq!(fno.forward_2d(&Ctx::inference(), &Tensor::ones(&[2, 8, 8, 4]))?.shape(), &[2, 8, 8, 4]);
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn forward_2d(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        let Some(SpectralPath::Grid2d(conv)) = self.spectral() else {
            return Err(LayerError::input("FourierNeuralOperator", "forward_2d needs a layer built with new_2d"));
        };
        let spectral = conv.forward_channels_last(ctx, x)?;
        self.finish(ctx, spectral, x)
    }

    /// `act(spectral(x) + pointwise(x))`.
    ///
    /// # Shapes
    /// `x` (B, N, D) → (B, N, D).
    ///
    /// ```
    /// use spectrans_layers::{Activation, Ctx, FnoPaths, FourierNeuralOperator};
    /// use spectrans_tensor::{Rng, Tensor};
    /// let fno = FourierNeuralOperator::<f32>::new(8, 4, Activation::Gelu, FnoPaths::Both, &mut Rng::seed(0))?;
    /// assert_eq!(fno.forward(&Ctx::inference(), &Tensor::ones(&[2, 12, 8]))?.shape(), &[2, 12, 8]);
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn forward(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        let path = match &self.paths {
            Paths::PointwiseOnly(l) => return self.activation.apply(&l.forward(ctx, x)?),
            Paths::Both(s, _) | Paths::SpectralOnly(s) => s,
        };
        let spectral = match path {
            SpectralPath::Circular(s) => s.forward_channels_last(ctx, x)?,
            SpectralPath::Causal(c) => c.forward(ctx, x)?,
            SpectralPath::Grid2d(_) => {
                return Err(LayerError::input(
                    "FourierNeuralOperator",
                    "a 2-D layer takes (B, H, W, D) grids: use forward_2d",
                ))
            }
        };
        self.finish(ctx, spectral, x)
    }

    /// A fresh incremental state for a causal layer able to hold `capacity` positions (an error
    /// for a non-causal layer: only a causal convolution has a step form).
    pub fn incremental_state(&self, capacity: usize) -> Result<FnoState<T>> {
        let Some(SpectralPath::Causal(conv)) = self.spectral() else {
            return Err(LayerError::input(
                "FourierNeuralOperator",
                "incremental decoding needs a causal layer (built with FourierNeuralOperator::causal)",
            ));
        };
        Ok(FnoState { conv: conv.incremental_state(capacity)? })
    }

    /// One incremental step of a causal layer: the output at the next position given that
    /// position's input `x`; equal to row t of [`Self::forward`] on the whole prefix.
    ///
    /// # Shapes
    /// `x` (1, 1, D) → (1, 1, D).
    ///
    /// ```
    /// use spectrans_layers::{Activation, Ctx, FourierNeuralOperator};
    /// use spectrans_tensor::{Rng, Tensor};
    /// let fno = FourierNeuralOperator::<f64>::causal(4, 3, 16, Activation::Gelu, &mut Rng::seed(0))?;
    /// let x = Tensor::randn(&[1, 5, 4], 0.0, 1.0, &mut Rng::seed(1));
    /// let full = fno.forward(&Ctx::inference(), &x)?;
    /// let mut state = fno.incremental_state(5)?;
    /// for t in 0..5 {
    ///     let y = fno.step(&Ctx::inference(), &mut state, &x.narrow(1, t, 1)?)?;
    ///     for (a, b) in y.data().iter().zip(&full.data()[t * 4..(t + 1) * 4]) { assert!((a - b).abs() < 1e-10); }
    /// }
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn step(&self, ctx: &Ctx<T>, state: &mut FnoState<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        let Some(SpectralPath::Causal(conv)) = self.spectral() else {
            return Err(LayerError::input("FourierNeuralOperator", "step needs a causal layer"));
        };
        let spectral = conv.step(&mut state.conv, x)?;
        self.finish(ctx, spectral, x)
    }
}

impl<T: FftFloat> Module<T> for FourierNeuralOperator<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        if let Some(s) = self.spectral() {
            let p = join(prefix, s.key());
            match s {
                SpectralPath::Circular(c) => c.visit(&p, v),
                SpectralPath::Causal(c) => c.visit(&p, v),
                SpectralPath::Grid2d(c) => c.visit(&p, v),
            }
        }
        if let Some(l) = self.linear() {
            l.visit(&join(prefix, "linear."), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_choose_the_parameters() {
        let mut rng = Rng::seed(0);
        let names = |p| {
            let f = FourierNeuralOperator::<f64>::new(4, 2, Activation::Gelu, p, &mut Rng::seed(0)).unwrap();
            f.named_parameters().into_iter().map(|(n, _)| n).collect::<Vec<_>>()
        };
        assert_eq!(names(FnoPaths::Both), ["spectral_conv.weights", "linear.weight", "linear.bias"]);
        assert_eq!(names(FnoPaths::SpectralOnly), ["spectral_conv.weights"]);
        assert_eq!(names(FnoPaths::PointwiseOnly), ["linear.weight", "linear.bias"]);
        let c = FourierNeuralOperator::<f64>::causal(4, 2, 8, Activation::Gelu, &mut rng).unwrap();
        assert_eq!(c.named_parameters()[0].0, "causal_conv.weights");
        let x = Tensor::ones(&[1, 3, 4]);
        let only =
            FourierNeuralOperator::<f64>::new(4, 2, Activation::Gelu, FnoPaths::PointwiseOnly, &mut rng).unwrap();
        assert_eq!(only.forward(&Ctx::inference(), &x).unwrap().shape(), &[1, 3, 4]);
        assert!(only.incremental_state(3).is_err());
        let grid = FourierNeuralOperator::<f64>::new_2d(4, 2, Activation::Gelu, &mut rng).unwrap();
        assert!(grid.forward(&Ctx::inference(), &x).unwrap_err().to_string().contains("forward_2d"));
        assert!(only.forward_2d(&Ctx::inference(), &Tensor::ones(&[1, 2, 2, 4])).is_err());
    }
}
