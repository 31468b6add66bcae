//! [`FourierNeuralOperator`]: the FNO layer `act(K(x) + W x + b)` on channels-last tensors.

use spectrans_tensor::{Rng, Tensor};

use crate::activation::Activation;
use crate::error::{LayerError, Result};
use crate::linear::PointwiseConv;
use crate::module::{join, Ctx, Module, Visitor};
use crate::spectral::{CausalSpectralConv1d, SpectralConv1d};
use spectrans_transforms::FftFloat;

/// One Fourier layer: spectral path (global, band-limited) plus pointwise path (local), then the
/// activation. State keys follow spectrans: `spectral_conv.weights`, `linear.weight`, `linear.bias`;
/// the causal variant has `causal_conv.weights` instead of `spectral_conv.weights`.
pub struct FourierNeuralOperator<T: FftFloat> {
    /// The (circular) spectral convolution, if enabled.
    pub spectral_conv: Option<SpectralConv1d<T>>,
    /// The causal spectral convolution, in the causal variant.
    pub causal_conv: Option<CausalSpectralConv1d<T>>,
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
        Ok(FourierNeuralOperator { spectral_conv, causal_conv: None, linear, activation })
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
        Ok(FourierNeuralOperator { spectral_conv: None, causal_conv, linear, activation })
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
            (None, None) => unreachable!("construction requires one path"),
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
        if let Some(l) = &self.linear {
            l.visit(&join(prefix, "linear."), v);
        }
    }
}
