//! Normalisation modes of the Fourier transforms, with torch.fft's exact scaling.

/// How a Fourier transform pair is scaled, exactly as `norm=` of `torch.fft`.
///
/// | mode | forward (`fft`, `rfft`) | inverse (`ifft`, `irfft`) |
/// |---|---|---|
/// | `Backward` (default) | 1 | 1/n |
/// | `Ortho` | 1/√n | 1/√n |
/// | `Forward` | 1/n | 1 |
///
/// For 2-D transforms n is the product of the two lengths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Norm {
    /// No scaling forward, 1/n on the inverse (torch's default, `norm=None` / `"backward"`).
    #[default]
    Backward,
    /// 1/√n both ways: the transform pair is unitary.
    Ortho,
    /// 1/n forward, no scaling on the inverse.
    Forward,
}

impl Norm {
    /// The factor applied by a forward transform of length `n`.
    ///
    /// ```
    /// use spectrans_transforms::Norm;
    /// assert_eq!(Norm::Forward.forward_scale(4), 0.25);
    /// assert_eq!(Norm::Backward.forward_scale(4), 1.0);
    /// ```
    pub fn forward_scale(self, n: usize) -> f64 {
        match self {
            Norm::Backward => 1.0,
            Norm::Ortho => 1.0 / (n as f64).sqrt(),
            Norm::Forward => 1.0 / n as f64,
        }
    }

    /// The factor applied by an inverse transform of length `n`.
    ///
    /// ```
    /// use spectrans_transforms::Norm;
    /// assert_eq!(Norm::Backward.inverse_scale(4), 0.25);
    /// assert_eq!(Norm::Ortho.inverse_scale(4), 0.5);
    /// ```
    pub fn inverse_scale(self, n: usize) -> f64 {
        match self {
            Norm::Backward => 1.0 / n as f64,
            Norm::Ortho => 1.0 / (n as f64).sqrt(),
            Norm::Forward => 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_multiply_to_one_over_n() {
        for norm in [Norm::Backward, Norm::Ortho, Norm::Forward] {
            for n in [1usize, 2, 7, 64] {
                let p = norm.forward_scale(n) * norm.inverse_scale(n);
                assert!((p - 1.0 / n as f64).abs() < 1e-15, "{norm:?} {n}");
            }
        }
        assert_eq!(Norm::default(), Norm::Backward);
    }
}
