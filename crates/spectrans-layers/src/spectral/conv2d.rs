//! [`SpectralConv2d`]: the 2-D Fourier layer, keeping both the positive and the negative
//! first-axis frequency blocks (as Li et al.; spectrans keeps only the positive one, B14).

use spectrans_tensor::{Parameter, Rng, Tensor};
use spectrans_transforms::FftFloat;
#[cfg(test)]
use spectrans_transforms::{irfft2, rfft2, Norm};

use crate::error::{LayerError, Result};
use crate::module::{join, Ctx, Module, Visitor};
use crate::spectral::conv2d_fused::spectral_conv2d;

/// 2-D spectral convolution over (H, W) grids with complex weights stored as reals:
/// `weights` (in, out, m1, m2, 2) for first-axis frequencies 0..m1 and `weights_neg` (same shape)
/// for −m1..−1, second-axis frequencies 0..m2 (one-sided). On an H × W grid the blocks use
/// `min(m1, H/2)` and `min(m2, W/2 + 1)` modes, so they never overlap.
pub struct SpectralConv2d<T: FftFloat> {
    /// Positive first-axis frequencies: (in, out, m1, m2, 2).
    pub weights: Parameter<T>,
    /// Negative first-axis frequencies: (in, out, m1, m2, 2).
    pub weights_neg: Parameter<T>,
}

impl<T: FftFloat> SpectralConv2d<T> {
    /// Weights N(0, 1)·1/(in·out), as spectrans' spectral initialisation.
    pub fn new(in_channels: usize, out_channels: usize, modes: (usize, usize), rng: &mut Rng) -> Result<Self> {
        if modes.0 == 0 || modes.1 == 0 {
            return Err(LayerError::config("modes", format!("2-D modes must be at least 1 each, got {modes:?}")));
        }
        let shape = [in_channels, out_channels, modes.0, modes.1, 2];
        let scale = 1.0 / (in_channels * out_channels).max(1) as f64;
        Ok(SpectralConv2d {
            weights: Parameter::new(Tensor::randn(&shape, 0.0, scale, rng)),
            weights_neg: Parameter::new(Tensor::randn(&shape, 0.0, scale, rng)),
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

    /// The convolution on a channels-first grid.
    ///
    /// # Shapes
    /// `x` (B, in, H, W) → (B, out, H, W).
    ///
    /// ```
    /// use spectrans_layers::{Ctx, SpectralConv2d};
    /// use spectrans_tensor::{Rng, Tensor};
    /// let conv = SpectralConv2d::<f32>::new(3, 4, (4, 3), &mut Rng::seed(0))?;
    /// assert_eq!(conv.forward(&Ctx::inference(), &Tensor::ones(&[2, 3, 16, 12]))?.shape(), &[2, 4, 16, 12]);
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn forward(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        let s = x.shape();
        if s.len() != 4 || s[1] != self.in_channels() {
            return Err(LayerError::input(
                "SpectralConv2d",
                format!("expected (B, {}, H, W), got shape {s:?}", self.in_channels()),
            ));
        }
        let y = self.fused(ctx, &x.permute(&[0, 2, 3, 1])?)?;
        Ok(y.permute(&[0, 3, 1, 2])?)
    }

    /// The fused op on a channels-last grid (B, H, W, in), shape already checked.
    fn fused(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        let s = x.shape();
        let (b, h, w) = (s[0], s[1], s[2]);
        let (o, wm) = (self.out_channels(), self.weights.shape());
        if b == 0 || h == 0 || w == 0 {
            return Ok(Tensor::zeros(&[b, h, w, o]));
        }
        let (m1, m2) = (wm[2].min(h / 2), wm[3].min(w / 2 + 1));
        let wp = ctx.param(&self.weights);
        // a grid of height 1 has only the zero frequency along the first axis: positive block only
        let wn = (m1 > 0).then(|| ctx.param(&self.weights_neg));
        Ok(spectral_conv2d(x, &wp, wn.as_ref(), m1, m2)?)
    }

    /// The composed reference path (rfft2 → corners → mixing → zero-filled irfft2), which the
    /// fused op replaces; kept for the tests that compare the two.
    #[cfg(test)]
    fn forward_composed(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        let s = x.shape();
        let (b, h, w) = (s[0], s[2], s[3]);
        let (o, wm) = (self.out_channels(), self.weights.shape());
        let (m1, m2) = (wm[2].min(h / 2), wm[3].min(w / 2 + 1));
        let wh = w / 2 + 1;
        if b == 0 || h == 0 || w == 0 {
            return Ok(Tensor::zeros(&[b, o, h, w]));
        }
        if m1 == 0 {
            let top = self.corner(ctx, &rfft2(x, [2, 3], None, Norm::Backward)?, &self.weights, 0, 1, wm[3].min(wh))?;
            return self.assemble(&[top], b, o, h, w, 1, wm[3].min(wh));
        }
        let spec = rfft2(x, [2, 3], None, Norm::Backward)?; // (B, I, H, W/2+1, 2)
        let top = self.corner(ctx, &spec, &self.weights, 0, m1, m2)?;
        let bottom = self.corner(ctx, &spec, &self.weights_neg, h - m1, m1, m2)?;
        self.assemble(&[top, bottom], b, o, h, w, m1, m2)
    }

    /// The mixed block of rows `row0..row0 + m1`, columns `0..m2`: (B, O, m1, m2, 2).
    #[cfg(test)]
    fn corner(
        &self,
        ctx: &Ctx<T>,
        spec: &Tensor<T>,
        weights: &Parameter<T>,
        row0: usize,
        m1: usize,
        m2: usize,
    ) -> Result<Tensor<T>> {
        let blk = spec.narrow(2, row0, m1)?.narrow(3, 0, m2)?; // (B, I, m1, m2, 2)
        let w = ctx.param(weights).narrow(2, 0, m1)?.narrow(3, 0, m2)?; // (I, O, m1, m2, 2)
        let (b, i) = (blk.shape()[0], blk.shape()[1]);
        let o = w.shape()[1];
        let modes = m1 * m2;
        // (modes, B, I) · (modes, I, O) per real/imaginary part
        let part = |t: &Tensor<T>, k: usize, lead: usize, inner: usize| -> Result<Tensor<T>> {
            Ok(t.narrow(4, k, 1)?.reshape(&[lead, inner, modes])?.permute(&[2, 0, 1])?)
        };
        let (xr, xi) = (part(&blk, 0, b, i)?, part(&blk, 1, b, i)?);
        let (wr, wi) = (part(&w, 0, i, o)?, part(&w, 1, i, o)?);
        let yr = xr.matmul(&wr)?.sub(&xi.matmul(&wi)?)?; // (modes, B, O)
        let yi = xr.matmul(&wi)?.add(&xi.matmul(&wr)?)?;
        let y = Tensor::stack(&[&yr, &yi], 3)?; // (modes, B, O, 2)
        Ok(y.permute(&[1, 2, 0, 3])?.reshape(&[b, o, m1, m2, 2])?)
    }

    /// Places the blocks (top rows, then bottom rows) into a zero spectrum and inverts it.
    #[cfg(test)]
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        &self,
        blocks: &[Tensor<T>],
        b: usize,
        o: usize,
        h: usize,
        w: usize,
        m1: usize,
        m2: usize,
    ) -> Result<Tensor<T>> {
        let wh = w / 2 + 1;
        let padded: Vec<Tensor<T>> =
            blocks.iter().map(|t| t.pad(3, 0, wh - m2, T::zero())).collect::<Result<_, _>>()?;
        let middle = Tensor::zeros(&[b, o, h - blocks.len() * m1, wh, 2]);
        let full = match padded.as_slice() {
            [top] => Tensor::concat(&[top, &middle], 2)?,
            [top, bottom] => Tensor::concat(&[top, &middle, bottom], 2)?,
            // invariant: the private caller passes the one or two blocks it built
            _ => unreachable!("one or two frequency blocks"),
        };
        Ok(irfft2(&full, [2, 3], Some([h, w]), Norm::Backward)?)
    }

    /// The convolution on a channels-last grid, as FNO blocks hold it.
    ///
    /// # Shapes
    /// `x` (B, H, W, in) → (B, H, W, out).
    pub fn forward_channels_last(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        if x.rank() != 4 {
            return Err(LayerError::input(
                "SpectralConv2d",
                format!("expected (B, H, W, C), got shape {:?}", x.shape()),
            ));
        }
        if x.shape()[3] != self.in_channels() {
            return Err(LayerError::input(
                "SpectralConv2d",
                format!("expected (B, H, W, {}), got shape {:?}", self.in_channels(), x.shape()),
            ));
        }
        self.fused(ctx, x)
    }
}

impl<T: FftFloat> Module<T> for SpectralConv2d<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        v.param(&join(prefix, "weights"), &self.weights);
        v.param(&join(prefix, "weights_neg"), &self.weights_neg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use spectrans_tensor::gradcheck::{assert_gradients, tensor_from};
    use spectrans_tensor::Parameter;
    use std::f64::consts::PI;

    /// Direct evaluation of the definition: 2-D DFT of the input; per kept (kx, ky) the channel
    /// mixing; then the inverse as torch's irfft2 does it — a complex inverse DFT along H, then a
    /// real (c2r) inverse along W, which ignores Im at ky = 0 and at the Nyquist column.
    fn naive(x: &Tensor<f64>, conv: &SpectralConv2d<f64>) -> Vec<f64> {
        let s = x.shape();
        let (b_n, i_n, h, w) = (s[0], s[1], s[2], s[3]);
        let ws = conv.weights.shape();
        let (o_n, mw1, mw2) = (ws[1], ws[2], ws[3]);
        let wh = w / 2 + 1;
        let (m1, m2) = (mw1.min(h / 2), mw2.min(wh));
        let (wp, wn) = (conv.weights.value(), conv.weights_neg.value());
        // kept rows: (row of the spectrum, weights, row inside the weights)
        let rows: Vec<(usize, &Tensor<f64>, usize)> = if m1 == 0 {
            vec![(0, &wp, 0)]
        } else {
            (0..m1).map(|r| (r, &wp, r)).chain((0..m1).map(|r| (h - m1 + r, &wn, r))).collect()
        };
        let m2 = if m1 == 0 { mw2.min(wh) } else { m2 };
        let mut y = vec![0.0; b_n * o_n * h * w];
        for b in 0..b_n {
            for o in 0..o_n {
                // full one-sided spectrum Y[kx][ky]
                let mut spec = vec![vec![(0.0f64, 0.0f64); wh]; h];
                for &(kx, wt, r) in &rows {
                    for (ky, cell) in spec[kx].iter_mut().enumerate().take(m2) {
                        let (mut yr, mut yi) = (0.0, 0.0);
                        for i in 0..i_n {
                            let (mut xr, mut xi) = (0.0, 0.0);
                            for p in 0..h {
                                for q in 0..w {
                                    let a = -2.0 * PI * ((kx * p) as f64 / h as f64 + (ky * q) as f64 / w as f64);
                                    let v = x.data()[((b * i_n + i) * h + p) * w + q];
                                    xr += v * a.cos();
                                    xi += v * a.sin();
                                }
                            }
                            let k = (((i * o_n + o) * mw1 + r) * mw2 + ky) * 2;
                            let (wr, wi) = (wt.data()[k], wt.data()[k + 1]);
                            yr += xr * wr - xi * wi;
                            yi += xr * wi + xi * wr;
                        }
                        *cell = (yr, yi);
                    }
                }
                for p in 0..h {
                    // complex inverse along H
                    let z: Vec<(f64, f64)> = (0..wh)
                        .map(|ky| {
                            let (mut zr, mut zi) = (0.0, 0.0);
                            for (kx, row) in spec.iter().enumerate() {
                                let a = 2.0 * PI * (kx * p) as f64 / h as f64;
                                let (sr, si) = row[ky];
                                zr += sr * a.cos() - si * a.sin();
                                zi += sr * a.sin() + si * a.cos();
                            }
                            (zr / h as f64, zi / h as f64)
                        })
                        .collect();
                    // real inverse along W
                    for q in 0..w {
                        let mut acc = 0.0;
                        for (ky, &(zr, zi)) in z.iter().enumerate() {
                            let a = 2.0 * PI * (ky * q) as f64 / w as f64;
                            let edge = ky == 0 || 2 * ky == w;
                            let re = zr * a.cos() - zi * a.sin();
                            acc += if edge { zr * a.cos() } else { 2.0 * re };
                        }
                        y[((b * o_n + o) * h + p) * w + q] = acc / w as f64;
                    }
                }
            }
        }
        y
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn matches_the_direct_2d_definition(b in 1usize..3, i in 1usize..3, o in 1usize..3, h in 1usize..9,
                                            w in 1usize..9, m1 in 1usize..5, m2 in 1usize..5, seed in 0u64..500) {
            let conv = SpectralConv2d::<f64>::new(i, o, (m1, m2), &mut spectrans_tensor::Rng::seed(seed)).unwrap();
            let x = tensor_from::<f64>(&[b, i, h, w], seed + 1, -1.0, 1.0);
            let got = conv.forward(&Ctx::inference(), &x).unwrap();
            for (g, e) in got.data().iter().zip(naive(&x, &conv)) {
                prop_assert!((g - e).abs() < 1e-10, "{g} vs {e}");
            }
        }

        #[test]
        fn gradients_match_finite_differences(h in 1usize..6, w in 1usize..6, m1 in 1usize..4, m2 in 1usize..4, seed in 0u64..500) {
            let conv = SpectralConv2d::<f64>::new(2, 2, (m1, m2), &mut spectrans_tensor::Rng::seed(seed)).unwrap();
            let x = tensor_from::<f64>(&[1, 2, h, w], seed + 1, -1.0, 1.0);
            assert_gradients(&[x], |v| {
                conv.forward(&Ctx::eval_with_tape(&v[0].tape().unwrap_or_default()), &v[0])
                    .map_err(|e| spectrans_tensor::TensorError::invalid("conv2d", e.to_string()))
            });
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// The fused op equals the composed rfft2 → corners → irfft2 path, values and gradients,
        /// over odd/even grids, H or W of 1 or 2, and modes beyond the grid.
        #[test]
        fn fused_equals_the_composed_path(b in 1usize..3, i in 1usize..4, o in 1usize..4, h in 1usize..12,
                                          w in 1usize..12, m1 in 1usize..8, m2 in 1usize..8, last: bool,
                                          seed in 0u64..1000) {
            let conv = SpectralConv2d::<f64>::new(i, o, (m1, m2), &mut spectrans_tensor::Rng::seed(seed)).unwrap();
            let x = tensor_from::<f64>(&[b, i, h, w], seed + 1, -1.0, 1.0);
            let g = tensor_from::<f64>(&[b, o, h, w], seed + 2, -1.0, 1.0);
            let run = |fused: bool| {
                let tape = spectrans_tensor::Tape::new();
                let px = Parameter::new(x.clone());
                let ctx = Ctx::eval_with_tape(&tape);
                let xv = tape.watch(&px);
                let y = if !fused {
                    conv.forward_composed(&ctx, &xv).unwrap()
                } else if last {
                    let xl = xv.permute(&[0, 2, 3, 1]).unwrap();
                    conv.forward_channels_last(&ctx, &xl).unwrap().permute(&[0, 3, 1, 2]).unwrap()
                } else {
                    conv.forward(&ctx, &xv).unwrap()
                };
                y.backward_with(&g).unwrap();
                let grads = [px.grad(), conv.weights.grad(), conv.weights_neg.grad()];
                conv.zero_grad();
                (y.to_vec(), grads.map(|t| t.map(|t| t.to_vec())))
            };
            let (yf, gf) = run(true);
            let (yc, gc) = run(false);
            for (a, e) in yf.iter().zip(&yc) {
                prop_assert!((a - e).abs() < 1e-12, "y: {a} vs {e}");
            }
            for (k, (a, e)) in gf.iter().zip(&gc).enumerate() {
                prop_assert_eq!(a.is_some(), e.is_some(), "gradient {} presence", k);
                if let (Some(a), Some(e)) = (a, e) {
                    for (a, e) in a.iter().zip(e) {
                        prop_assert!((a - e).abs() < 1e-12, "grad {k}: {a} vs {e}");
                    }
                }
            }
        }

        /// Finite differences of the fused op itself, for the input and both weight blocks.
        #[test]
        fn fused_gradients_match_finite_differences(b in 1usize..3, h in 1usize..7, w in 1usize..7,
                                                    m1 in 1usize..5, m2 in 1usize..5, seed in 0u64..500) {
            let (i, o) = (2, 3);
            let x = tensor_from::<f64>(&[b, h, w, i], seed, -1.0, 1.0);
            let wp = tensor_from::<f64>(&[i, o, m1, m2, 2], seed + 1, -1.0, 1.0);
            let wn = tensor_from::<f64>(&[i, o, m1, m2, 2], seed + 2, -1.0, 1.0);
            let (k1, k2) = (m1.min(h / 2), m2.min(w / 2 + 1));
            if k1 == 0 {
                assert_gradients(&[x, wp], |v| spectral_conv2d(&v[0], &v[1], None, k1, k2));
            } else {
                assert_gradients(&[x, wp, wn], |v| spectral_conv2d(&v[0], &v[1], Some(&v[2]), k1, k2));
            }
        }
    }

    #[test]
    fn both_corners_matter_and_shapes_are_checked() {
        let conv = SpectralConv2d::<f64>::new(1, 1, (2, 2), &mut spectrans_tensor::Rng::seed(1)).unwrap();
        // a pure negative-frequency wave along the first axis passes only through weights_neg
        let (h, w) = (8, 8);
        let v: Vec<f64> = (0..h * w).map(|k| (2.0 * PI * -(((k / w) as f64) / h as f64)).cos()).collect();
        let x = Tensor::from_vec(v, &[1, 1, h, w]).unwrap();
        let y1 = conv.forward(&Ctx::inference(), &x).unwrap();
        conv.weights_neg.set_value(Tensor::zeros(&conv.weights_neg.shape())).unwrap();
        let y2 = conv.forward(&Ctx::inference(), &x).unwrap();
        assert!(y1.data().iter().zip(y2.data()).any(|(a, b)| (a - b).abs() > 1e-6));
        let e = conv.forward(&Ctx::inference(), &Tensor::ones(&[1, 2, 4, 4])).unwrap_err();
        assert!(e.to_string().contains("SpectralConv2d"));
    }
}
