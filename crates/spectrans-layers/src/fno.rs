//! [`FourierNeuralOperator`]: the FNO layer `act(K(x) + W x + b)` on channels-last tensors.

use spectrans_tensor::{Rng, Tensor};

use crate::activation::Activation;
use crate::error::{LayerError, Result};
use crate::linear::PointwiseConv;
use crate::module::{join, Ctx, Module, Visitor};
use crate::spectral::{CausalSpectralConv1d, SpectralConv1d, SpectralConv2d};
use spectrans_transforms::FftFloat;

/// One Fourier layer: spectral path (global, band-limited) plus pointwise path (local), then the
/// activation. State keys follow spectrans: `spectral_conv.weights`, `linear.weight`, `linear.bias`;
/// the causal variant has `causal_conv.weights` instead of `spectral_conv.weights`.
pub struct FourierNeuralOperator<T: FftFloat> {
    /// The (circular) spectral convolution, if enabled.
    pub spectral_conv: Option<SpectralConv1d<T>>,
    /// The causal spectral convolution, in the causal variant.
    pub causal_conv: Option<CausalSpectralConv1d<T>>,
    /// The 2-D spectral convolution, in the 2-D variant (key `spectral_conv.weights{,_neg}`).
    pub spectral_conv2d: Option<SpectralConv2d<T>>,
    /// The 1×1 convolution, if enabled.
    pub linear: Option<PointwiseConv<T>>,
    /// Applied to the sum of the two paths.
    pub activation: Activation,
}

impl<T: FftFloat> FourierNeuralOperator<T> {
    /// A Fourier layer of width `hidden_dim` keeping `modes` modes. At least one path must be on.
    pub fn new(
        hidden_dim: usize,
        modes: usize,
        activation: Activation,
        use_spectral_conv: bool,
        use_linear: bool,
        rng: &mut Rng,
    ) -> Result<Self> {
        if !use_spectral_conv && !use_linear {
            return Err(LayerError::config(
                "use_spectral_conv",
                "at least one of use_spectral_conv and use_linear must be true",
            ));
        }
        let spectral_conv =
            if use_spectral_conv { Some(SpectralConv1d::new(hidden_dim, hidden_dim, modes, rng)?) } else { None };
        let linear = use_linear.then(|| PointwiseConv::new(hidden_dim, hidden_dim, rng));
        Ok(FourierNeuralOperator { spectral_conv, causal_conv: None, spectral_conv2d: None, linear, activation })
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
        let causal_conv = Some(CausalSpectralConv1d::new(hidden_dim, modes, period, rng)?);
        let linear = Some(PointwiseConv::new(hidden_dim, hidden_dim, rng));
        Ok(FourierNeuralOperator { spectral_conv: None, causal_conv, spectral_conv2d: None, linear, activation })
    }

    /// The 2-D variant over (H, W) grids: a [`SpectralConv2d`] with `modes` × `modes` modes per
    /// frequency block, plus the pointwise path.
    pub fn new_2d(hidden_dim: usize, modes: usize, activation: Activation, rng: &mut Rng) -> Result<Self> {
        let spectral_conv2d = Some(SpectralConv2d::new(hidden_dim, hidden_dim, (modes, modes), rng)?);
        let linear = Some(PointwiseConv::new(hidden_dim, hidden_dim, rng));
        Ok(FourierNeuralOperator { spectral_conv: None, causal_conv: None, spectral_conv2d, linear, activation })
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
        let Some(conv) = &self.spectral_conv2d else {
            return Err(LayerError::input("FourierNeuralOperator", "forward_2d needs a layer built with new_2d"));
        };
        let mut sum = conv.forward_channels_last(ctx, x)?;
        if let Some(l) = &self.linear {
            sum = sum.add(&l.forward(ctx, x)?)?;
        }
        self.activation.apply(&sum)
    }

    /// `act(spectral(x) + pointwise(x))`.
    ///
    /// # Shapes
    /// `x` (B, N, D) → (B, N, D).
    ///
    /// ```
    /// use spectrans_layers::{Activation, Ctx, FourierNeuralOperator};
    /// use spectrans_tensor::{Rng, Tensor};
    /// let fno = FourierNeuralOperator::<f32>::new(8, 4, Activation::Gelu, true, true, &mut Rng::seed(0))?;
    /// assert_eq!(fno.forward(&Ctx::inference(), &Tensor::ones(&[2, 12, 8]))?.shape(), &[2, 12, 8]);
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn forward(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        if self.spectral_conv2d.is_some() {
            return Err(LayerError::input(
                "FourierNeuralOperator",
                "a 2-D layer takes (B, H, W, D) grids: use forward_2d",
            ));
        }
        let spectral = match (&self.spectral_conv, &self.causal_conv) {
            (Some(s), _) => Some(s.forward_channels_last(ctx, x)?),
            (None, Some(c)) => Some(c.forward(ctx, x)?),
            (None, None) => None,
        };
        let local = match &self.linear {
            Some(l) => Some(l.forward(ctx, x)?),
            None => None,
        };
        let sum = match (spectral, local) {
            (Some(a), Some(b)) => a.add(&b)?,
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => {
                return Err(LayerError::config(
                    "use_spectral_conv",
                    "the layer has neither a spectral nor a pointwise path (both fields are None)",
                ))
            }
        };
        self.activation.apply(&sum)
    }
}

impl<T: FftFloat> Module<T> for FourierNeuralOperator<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        if let Some(s) = &self.spectral_conv {
            s.visit(&join(prefix, "spectral_conv."), v);
        }
        if let Some(c) = &self.causal_conv {
            c.visit(&join(prefix, "causal_conv."), v);
        }
        if let Some(c) = &self.spectral_conv2d {
            c.visit(&join(prefix, "spectral_conv."), v);
        }
        if let Some(l) = &self.linear {
            l.visit(&join(prefix, "linear."), v);
        }
    }
}
