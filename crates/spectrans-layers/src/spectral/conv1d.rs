//! [`SpectralConv1d`]: the Fourier layer of the FNO, `y = irfft(W ⊙ trunc_M(rfft(x)))`.

use spectrans_tensor::{Parameter, Rng, Tensor};

use crate::error::{expect_rank3, LayerError, Result};
use crate::module::{join, Ctx, Module, Visitor};
use crate::spectral::lanes::Layout;
use crate::spectral::mixing::{spectral_mixing, ModesMajorCache};
use spectrans_transforms::FftFloat;

/// 1-D spectral convolution with complex weights stored as reals `(in, out, modes, 2)`.
///
/// Keeps the `modes` lowest non-negative frequencies 0..M−1 of the one-sided spectrum (DC
/// included; the Nyquist bin when N is even and M = N/2+1). When the sequence is shorter than the
/// modes allow (M > N/2+1), the first N/2+1 modes are used: spectrans crashes there (B4). The
/// inverse ignores Im(DC) and Im(Nyquist), so those weights always get exactly zero gradient.
pub struct SpectralConv1d<T: FftFloat> {
    /// (in, out, modes, 2): real and imaginary parts.
    pub weights: Parameter<T>,
    /// The weights re-laid-out for the mixing kernel, reused by inference calls while unchanged.
    modes_major: ModesMajorCache<T>,
}

impl<T: FftFloat> SpectralConv1d<T> {
    /// spectrans' initialisation: N(0, 1)·1/(in·out). `modes` must be ≥ 1.
    pub fn new(in_channels: usize, out_channels: usize, modes: usize, rng: &mut Rng) -> Result<Self> {
        if modes == 0 {
            return Err(LayerError::config("modes", "must be at least 1"));
        }
        let scale = 1.0 / (in_channels * out_channels).max(1) as f64;
        Ok(SpectralConv1d {
            weights: Parameter::new(Tensor::randn(&[in_channels, out_channels, modes, 2], 0.0, scale, rng)),
            modes_major: ModesMajorCache::new(),
        })
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        self.weights.shape()[0]
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.weights.shape()[1]
    }

    /// Modes stored in the weights.
    pub fn modes(&self) -> usize {
        self.weights.shape()[2]
    }

    /// The convolution on spectrans' channels-first layout.
    ///
    /// # Shapes
    /// `x` (B, in, N) → (B, out, N).
    ///
    /// ```
    /// use spectrans_layers::{Ctx, SpectralConv1d};
    /// use spectrans_tensor::{Rng, Tensor};
    /// let conv = SpectralConv1d::<f32>::new(3, 5, 4, &mut Rng::seed(0))?;
    /// assert_eq!(conv.forward(&Ctx::inference(), &Tensor::ones(&[2, 3, 16]))?.shape(), &[2, 5, 16]);
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn forward(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        expect_rank3("SpectralConv1d", x.shape(), 1, self.in_channels(), "(B, in, N)")?;
        let s = x.shape();
        Ok(spectral_mixing(
            x,
            &ctx.param(&self.weights),
            Layout::channels_first(s[0], s[1], s[2]),
            Some(&self.modes_major),
        )?)
    }

    /// The convolution on the channels-last layout of FNO blocks, with no transpose.
    ///
    /// # Shapes
    /// `x` (B, N, in) → (B, N, out).
    ///
    /// ```
    /// use spectrans_layers::{Ctx, SpectralConv1d};
    /// use spectrans_tensor::{Rng, Tensor};
    /// let conv = SpectralConv1d::<f64>::new(4, 4, 3, &mut Rng::seed(0))?;
    /// assert_eq!(conv.forward_channels_last(&Ctx::inference(), &Tensor::ones(&[1, 10, 4]))?.shape(), &[1, 10, 4]);
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn forward_channels_last(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        expect_rank3("SpectralConv1d", x.shape(), 2, self.in_channels(), "(B, N, in)")?;
        let s = x.shape();
        Ok(spectral_mixing(
            x,
            &ctx.param(&self.weights),
            Layout::channels_last(s[0], s[1], s[2]),
            Some(&self.modes_major),
        )?)
    }
}

impl<T: FftFloat> Module<T> for SpectralConv1d<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        v.param(&join(prefix, "weights"), &self.weights);
    }
}
