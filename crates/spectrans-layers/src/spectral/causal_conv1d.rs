//! [`CausalSpectralConv1d`]: the exactly causal spectral convolution layer of the FNO decoder.

use spectrans_tensor::{Parameter, Rng, Tensor};

use crate::error::{expect_rank3, LayerError, Result};
use crate::module::{join, Ctx, Module, Visitor};
use crate::spectral::causal::causal_conv;
use spectrans_transforms::FftFloat;

/// Depthwise causal long convolution whose per-channel kernel is given by `modes` complex Fourier
/// coefficients over a window of `period` lags (the decoder's `max_sequence_length`):
/// `k_d = irfft_period(w_d)` restricted to lags `0..period`, and `y_d[t] = Σ_{j ≤ t} k_d[j]·x_d[t − j]`.
///
/// Output t depends only on inputs ≤ t (to float round-off), at O(B·D·N log N). Weights
/// `(channels, modes, 2)`, key `causal_conv.weights`; 2·modes·channels parameters.
pub struct CausalSpectralConv1d<T: FftFloat> {
    /// (channels, modes, 2): real and imaginary parts of each channel's kernel coefficients.
    pub weights: Parameter<T>,
    /// The kernel window in positions (the model's `max_sequence_length`).
    pub period: usize,
}

impl<T: FftFloat> CausalSpectralConv1d<T> {
    /// A causal convolution over `channels` channels; weights drawn N(0, 1) (spectrans' spectral
    /// initialisation for one input and one output channel).
    pub fn new(channels: usize, modes: usize, period: usize, rng: &mut Rng) -> Result<Self> {
        if modes == 0 {
            return Err(LayerError::config("modes", "must be at least 1"));
        }
        if period == 0 {
            return Err(LayerError::config("max_sequence_length", "the causal kernel window must be at least 1"));
        }
        Ok(CausalSpectralConv1d {
            weights: Parameter::new(Tensor::randn(&[channels, modes, 2], 0.0, 1.0, rng)),
            period,
        })
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.weights.shape()[0]
    }

    /// The causal kernels, one row of `min(len, period)` taps per channel (for incremental
    /// generation and inspection).
    ///
    /// # Shapes
    /// → (channels, min(len, period)).
    pub fn kernels(&self, len: usize) -> Result<Tensor<T>> {
        let w = self.weights.value();
        let taps = len.min(self.period);
        let (c, m) = (w.shape()[0], w.shape()[1]);
        let k = crate::spectral::causal::kernels(w.data(), c, m, self.period, taps);
        Ok(Tensor::from_vec(k.into_iter().map(T::of).collect(), &[c, taps])?)
    }

    /// A fresh incremental state holding up to `capacity` positions: the kernels of
    /// [`Self::kernels`]`(capacity)` and an empty input history.
    pub fn incremental_state(&self, capacity: usize) -> Result<CausalConvState<T>> {
        Ok(CausalConvState { kernels: self.kernels(capacity)?, history: Vec::new(), pos: 0 })
    }

    /// One incremental step: appends the next position's input `x` to the history and returns
    /// the convolution output there, `y[t] = Σ_{j ≤ t} k[j]·x[t − j]` (accumulated in f64), in
    /// O(t·D). An error past the state's capacity (when that is shorter than the period).
    ///
    /// # Shapes
    /// `x` (1, 1, D) → (1, 1, D).
    pub fn step(&self, state: &mut CausalConvState<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        let d = self.channels();
        expect_rank3("CausalSpectralConv1d", x.shape(), 2, d, "(1, 1, D)")?;
        if x.shape()[..2] != [1, 1] {
            return Err(LayerError::input(
                "CausalSpectralConv1d",
                format!("a step takes one position (1, 1, D), got shape {:?}", x.shape()),
            ));
        }
        let t = state.pos;
        let taps = state.kernels.shape()[1];
        if t >= taps && taps < self.period {
            return Err(LayerError::input(
                "CausalSpectralConv1d",
                format!("incremental state holds {taps} positions; position {t} is beyond it"),
            ));
        }
        state.history.extend_from_slice(x.data());
        let k = state.kernels.data();
        let mut s = vec![T::zero(); d];
        for (c, sc) in s.iter_mut().enumerate() {
            let mut acc = 0.0f64;
            for j in 0..=t.min(taps.saturating_sub(1)) {
                acc += k[c * taps + j].as_f64() * state.history[(t - j) * d + c].as_f64();
            }
            *sc = T::of(acc);
        }
        state.pos += 1;
        Ok(Tensor::from_vec(s, &[1, 1, d])?)
    }

    /// The causal convolution on a channels-last sequence.
    ///
    /// # Shapes
    /// `x` (B, N, D) → (B, N, D).
    ///
    /// ```
    /// use spectrans_layers::{CausalSpectralConv1d, Ctx};
    /// use spectrans_tensor::{Rng, Tensor};
    /// let conv = CausalSpectralConv1d::<f64>::new(4, 3, 16, &mut Rng::seed(0))?;
    /// let x = Tensor::randn(&[1, 10, 4], 0.0, 1.0, &mut Rng::seed(1));
    /// let y = conv.forward(&Ctx::inference(), &x)?;
    /// // the first 4 outputs only see the first 4 inputs
    /// let y4 = conv.forward(&Ctx::inference(), &x.narrow(1, 0, 4)?)?;
    /// for (a, b) in y4.data().iter().zip(y.data()) { assert!((a - b).abs() < 1e-12); }
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn forward(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        expect_rank3("CausalSpectralConv1d", x.shape(), 2, self.channels(), "(B, N, D)")?;
        Ok(causal_conv(x, &ctx.param(&self.weights), self.period)?)
    }
}

/// The incremental state of a [`CausalSpectralConv1d`] over one sequence: its kernels and the
/// history of its inputs (made by [`CausalSpectralConv1d::incremental_state`]).
pub struct CausalConvState<T: FftFloat> {
    kernels: Tensor<T>,
    history: Vec<T>,
    pos: usize,
}

impl<T: FftFloat> CausalConvState<T> {
    /// Positions fed so far.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<T: FftFloat> Module<T> for CausalSpectralConv1d<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        v.param(&join(prefix, "weights"), &self.weights);
    }
}
