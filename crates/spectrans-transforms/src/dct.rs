//! Discrete cosine and sine transforms of types II and III (scipy conventions), along one axis
//! and over two axes.
//!
//! Implementation: rustdct's cached plans, O(N log N) for every N. Decided by measurement
//! (`benches/dct_vs_fft.rs`, numbers in `docs/transforms.md`): a rustdct DCT-II costs 1.0–3.8× a
//! realfft of the same length (≈3.5× for powers of two), so an FFT-based DCT could in principle
//! gain up to ~3× on power-of-two lengths; but a first FFT-based (Makhoul) kernel written for this
//! crate measured 1.3–4× *slower* than rustdct through the same lane driver, so rustdct is kept.
//! The DCT is not on the FNO hot path (the reference uses it in no model).
//!
//! Every op is y = post ⊙ R(pre ⊙ x) with R one of rustdct's unnormalised transforms and
//! `pre`/`post` per-index weights. The adjoint follows from rustdct's identities
//! DCT3 = DCT2ᵀ·D and DST3 = DST2ᵀ·E, with D = diag(½, 1, …, 1) and E = diag(1, …, 1, ½): the
//! adjoint of (R₂, pre, post) is (R₃, post/D, pre) and that of (R₃, pre, post) is
//! (R₂, post, pre·D).

use std::sync::Arc;

use spectrans_tensor::{Float, Tensor};

use crate::common::{record_linear, resolve_axis, resolve_len};
use crate::error::{Result, TransformError};
use crate::lanes::{map_lanes, split_at_axis};
use crate::plan::{self, FftFloat, Kernel};

/// Normalisation of the DCT/DST, as scipy's `norm=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DctNorm {
    /// `norm="ortho"`: orthonormal matrices; type III is the inverse (and transpose) of type II.
    Ortho,
    /// `norm=None`: unnormalised, e.g. DCT-II y_k = 2 Σ_j x_j cos(πk(2j+1)/2N), and
    /// dct3(dct2(x)) = 2N·x.
    None,
}

/// rustdct's unnormalised transforms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Raw {
    Dct2,
    Dct3,
    Dst2,
    Dst3,
}

/// post ⊙ raw(pre ⊙ x) along lanes of length n.
#[derive(Clone, Debug)]
struct Trig {
    outer: usize,
    inner: usize,
    n: usize,
    raw: Raw,
    pre: Arc<Vec<f64>>,
    post: Arc<Vec<f64>>,
}

/// rustdct's half-weight diagonal: ½ at index 0 for cosines, at index n−1 for sines.
fn half_weights(raw: Raw, n: usize) -> Vec<f64> {
    let mut d = vec![1.0; n];
    match raw {
        Raw::Dct2 | Raw::Dct3 => d[0] = 0.5,
        Raw::Dst2 | Raw::Dst3 => d[n - 1] = 0.5,
    }
    d
}

impl Trig {
    fn adjoint(&self) -> Trig {
        let d = half_weights(self.raw, self.n);
        let (raw, pre, post) = match self.raw {
            Raw::Dct2 | Raw::Dst2 => {
                let raw = if self.raw == Raw::Dct2 { Raw::Dct3 } else { Raw::Dst3 };
                (raw, self.post.iter().zip(&d).map(|(p, d)| p / d).collect(), self.pre.to_vec())
            }
            Raw::Dct3 | Raw::Dst3 => {
                let raw = if self.raw == Raw::Dct3 { Raw::Dct2 } else { Raw::Dst2 };
                (raw, self.post.to_vec(), self.pre.iter().zip(&d).map(|(p, d)| p * d).collect())
            }
        };
        Trig { raw, pre: Arc::new(pre), post: Arc::new(post), ..self.clone() }
    }
}

impl Kernel for Trig {
    fn run<F: FftFloat>(&self, src: &[F]) -> Vec<F> {
        let plan = plan::dct::<F>(self.n);
        let pre: Vec<F> = self.pre.iter().map(|&v| F::of(v)).collect();
        let post: Vec<F> = self.post.iter().map(|&v| F::of(v)).collect();
        let raw = self.raw;
        map_lanes(
            src,
            self.outer,
            self.inner,
            self.n,
            self.n,
            || vec![F::zero(); plan.get_scratch_len()],
            |scratch, lane, out| {
                lane.iter_mut().zip(&pre).for_each(|(v, &w)| *v *= w);
                match raw {
                    Raw::Dct2 => plan.process_dct2_with_scratch(lane, scratch),
                    Raw::Dct3 => plan.process_dct3_with_scratch(lane, scratch),
                    Raw::Dst2 => plan.process_dst2_with_scratch(lane, scratch),
                    Raw::Dst3 => plan.process_dst3_with_scratch(lane, scratch),
                }
                for ((o, &v), &w) in out.iter_mut().zip(lane.iter()).zip(&post) {
                    *o = v * w;
                }
            },
        )
    }
}

/// The orthonormal scale of a type-II output index: √(2/n), except √(1/n) at the half-weight
/// index (0 for the DCT, n−1 for the DST).
fn ortho_scale(raw: Raw, n: usize) -> Vec<f64> {
    half_weights(raw, n)
        .iter()
        .map(|&d| if d == 1.0 { (2.0 / n as f64).sqrt() } else { (1.0 / n as f64).sqrt() })
        .collect()
}

fn trig<T: Float>(
    op: &'static str,
    x: &Tensor<T>,
    axis: isize,
    norm: DctNorm,
    type3: bool,
    sine: bool,
) -> Result<Tensor<T>> {
    let ax = resolve_axis(op, axis, x.shape(), x.shape())?;
    let (outer, n, inner) = split_at_axis(x.shape(), ax);
    resolve_len(op, axis, None, n as isize, x.shape())?;
    let type2 = if sine { Raw::Dst2 } else { Raw::Dct2 };
    let type2_kernel =
        |post: Vec<f64>| Trig { outer, inner, n, raw: type2, pre: Arc::new(vec![1.0; n]), post: Arc::new(post) };
    let kernel = match (type3, norm) {
        (false, DctNorm::None) => type2_kernel(vec![2.0; n]),
        (false, DctNorm::Ortho) => type2_kernel(ortho_scale(type2, n)),
        // type III = transpose of type II: unnormalised scipy type III is 2·rustdct's
        (true, DctNorm::None) => {
            let raw = if sine { Raw::Dst3 } else { Raw::Dct3 };
            Trig { outer, inner, n, raw, pre: Arc::new(vec![1.0; n]), post: Arc::new(vec![2.0; n]) }
        }
        (true, DctNorm::Ortho) => type2_kernel(ortho_scale(type2, n)).adjoint(),
    };
    let data = plan::run_kernel(op, &kernel, x.data())?;
    let value = Tensor::from_vec(data, x.shape())?;
    record_linear(op, x, value, || kernel.adjoint())
}

/// The DCT-II along `axis`, as `scipy.fft.dct(x, type=2, axis, norm)`:
/// y_k = 2 Σ_j x_j cos(πk(2j+1)/2N) (`None`), or the orthonormal version scaled by
/// √(1/4N) at k = 0 and √(1/2N) otherwise (`Ortho`). Differentiable (the adjoint is a DCT-III).
///
/// # Shapes
/// Same shape as `x`; `axis` must not be empty.
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::{dct2, DctNorm};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 1.0, 1.0, 1.0], &[4])?;
/// let y = dct2(&x, 0, DctNorm::Ortho)?; // a constant has only a DC term, √N
/// assert!((y.data()[0] - 2.0).abs() < 1e-12 && y.data()[1..].iter().all(|v| v.abs() < 1e-12));
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn dct2<T: Float>(x: &Tensor<T>, axis: isize, norm: DctNorm) -> Result<Tensor<T>> {
    trig("dct2", x, axis, norm, false, false)
}

/// The DCT-III along `axis`, as `scipy.fft.dct(x, type=3, axis, norm)`:
/// y_k = x_0 + 2 Σ_{j≥1} x_j cos(πj(2k+1)/2N) (`None`; then dct3(dct2(x)) = 2N·x), or the
/// orthonormal inverse of [`dct2`] (`Ortho`). Differentiable.
///
/// # Shapes
/// Same shape as `x`.
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::{dct2, dct3, DctNorm};
/// let x = Tensor::<f64>::from_vec(vec![0.5, -1.0, 2.0], &[3])?;
/// let back = dct3(&dct2(&x, 0, DctNorm::None)?, 0, DctNorm::None)?;
/// assert!(back.data().iter().zip(x.data()).all(|(b, x)| (b - 6.0 * x).abs() < 1e-12));
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn dct3<T: Float>(x: &Tensor<T>, axis: isize, norm: DctNorm) -> Result<Tensor<T>> {
    trig("dct3", x, axis, norm, true, false)
}

/// The DST-II along `axis`, as `scipy.fft.dst(x, type=2, axis, norm)`:
/// y_k = 2 Σ_j x_j sin(π(k+1)(2j+1)/2N) (`None`), or the orthonormal version scaled by
/// √(1/2N), and √(1/4N) at k = N−1 (`Ortho`). Differentiable.
///
/// # Shapes
/// Same shape as `x`.
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::{dst2, DctNorm};
/// let x = Tensor::<f64>::from_vec(vec![1.0], &[1])?;
/// assert!((dst2(&x, 0, DctNorm::None)?.data()[0] - 2.0).abs() < 1e-12);
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn dst2<T: Float>(x: &Tensor<T>, axis: isize, norm: DctNorm) -> Result<Tensor<T>> {
    trig("dst2", x, axis, norm, false, true)
}

/// The DST-III along `axis`, as `scipy.fft.dst(x, type=3, axis, norm)`:
/// y_k = (−1)^k x_{N−1} + 2 Σ_{j<N−1} x_j sin(π(j+1)(2k+1)/2N) (`None`), or the orthonormal
/// inverse of [`dst2`] (`Ortho`). Differentiable.
///
/// # Shapes
/// Same shape as `x`.
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::{dst2, dst3, DctNorm};
/// let x = Tensor::<f32>::from_vec(vec![0.5, -1.0, 2.0, 3.0], &[2, 2])?;
/// let back = dst3(&dst2(&x, 1, DctNorm::Ortho)?, 1, DctNorm::Ortho)?;
/// assert!(back.data().iter().zip(x.data()).all(|(b, x)| (b - x).abs() < 1e-5));
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn dst3<T: Float>(x: &Tensor<T>, axis: isize, norm: DctNorm) -> Result<Tensor<T>> {
    trig("dst3", x, axis, norm, true, true)
}

/// The 2-D DCT-II: [`dct2`] along `axes[0]`, then along `axes[1]` (spectrans' `DCT2D`).
///
/// # Shapes
/// Same shape as `x`; the two axes must differ.
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::{dct2_2d, DctNorm};
/// let x = Tensor::<f64>::ones(&[2, 3]);
/// let y = dct2_2d(&x, [0, 1], DctNorm::Ortho)?;
/// assert!((y.data()[0] - 6f64.sqrt()).abs() < 1e-12);
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn dct2_2d<T: Float>(x: &Tensor<T>, axes: [isize; 2], norm: DctNorm) -> Result<Tensor<T>> {
    let a0 = resolve_axis("dct2_2d", axes[0], x.shape(), x.shape())?;
    let a1 = resolve_axis("dct2_2d", axes[1], x.shape(), x.shape())?;
    if a0 == a1 {
        return Err(TransformError::Invalid {
            op: "dct2_2d",
            shape: x.shape().to_vec(),
            reason: format!("axes {axes:?} name the same axis twice"),
        });
    }
    dct2(&dct2(x, axes[0], norm)?, axes[1], norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use proptest::prelude::*;
    use spectrans_tensor::gradcheck::{adjoint_error, assert_gradients};
    use std::f64::consts::PI;

    type Op = fn(&Tensor<f64>, isize, DctNorm) -> Result<Tensor<f64>>;
    const OPS: [(Op, &str); 4] = [(dct2, "dct2"), (dct3, "dct3"), (dst2, "dst2"), (dst3, "dst3")];

    /// scipy's definitions, written out directly (O(N²)).
    fn naive(name: &str, x: &[f64], norm: DctNorm) -> Vec<f64> {
        let n = x.len();
        let nf = n as f64;
        let ortho = norm == DctNorm::Ortho;
        (0..n)
            .map(|k| match name {
                "dct2" => {
                    let s: f64 = (0..n).map(|j| x[j] * (PI * k as f64 * (2 * j + 1) as f64 / (2.0 * nf)).cos()).sum();
                    let f = if !ortho {
                        1.0
                    } else if k == 0 {
                        (1.0 / (4.0 * nf)).sqrt()
                    } else {
                        (1.0 / (2.0 * nf)).sqrt()
                    };
                    2.0 * f * s
                }
                "dct3" => {
                    let s: f64 = (1..n).map(|j| x[j] * (PI * j as f64 * (2 * k + 1) as f64 / (2.0 * nf)).cos()).sum();
                    if ortho {
                        x[0] / nf.sqrt() + (2.0 / nf).sqrt() * s
                    } else {
                        x[0] + 2.0 * s
                    }
                }
                "dst2" => {
                    let s: f64 =
                        (0..n).map(|j| x[j] * (PI * (k + 1) as f64 * (2 * j + 1) as f64 / (2.0 * nf)).sin()).sum();
                    let f = if !ortho {
                        1.0
                    } else if k == n - 1 {
                        (1.0 / (4.0 * nf)).sqrt()
                    } else {
                        (1.0 / (2.0 * nf)).sqrt()
                    };
                    2.0 * f * s
                }
                _ => {
                    let s: f64 =
                        (0..n - 1).map(|j| x[j] * (PI * (j + 1) as f64 * (2 * k + 1) as f64 / (2.0 * nf)).sin()).sum();
                    let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
                    if ortho {
                        sign * x[n - 1] / nf.sqrt() + (2.0 / nf).sqrt() * s
                    } else {
                        sign * x[n - 1] + 2.0 * s
                    }
                }
            })
            .collect()
    }

    fn norms_dct() -> impl Strategy<Value = DctNorm> {
        prop_oneof![Just(DctNorm::Ortho), Just(DctNorm::None)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn matches_scipy_definitions(len in 1usize..300, extra in 1usize..3, norm in norms_dct(), axis_first in any::<bool>(), seed in 0u64..1000) {
            let (shape, axis, ax) = if axis_first { (vec![len, extra], 0, 0) } else { (vec![extra, len], -1, 1) };
            let x = rand_tensor(&shape, seed);
            for (op, name) in OPS {
                let y = op(&x, axis, norm).unwrap();
                let want = naive_real(&x, ax, |lane| naive(name, lane, norm));
                assert_close(y.data(), want.data(), 1e-10 * (len as f64).sqrt());
            }
        }

        #[test]
        fn round_trips_adjoints_and_gradients(shape in real_shape_strategy(3), norm in norms_dct(), seed in 0u64..1000) {
            let axis = (seed % shape.len() as u64) as isize;
            let n = shape[axis as usize] as f64;
            let x = rand_tensor(&shape, seed);
            let factor = if norm == DctNorm::Ortho { 1.0 } else { 2.0 * n };
            let back = dct3(&dct2(&x, axis, norm).unwrap(), axis, norm).unwrap();
            assert_close(back.data(), x.mul_scalar(factor).unwrap().data(), 1e-12);
            let back = dst3(&dst2(&x, axis, norm).unwrap(), axis, norm).unwrap();
            assert_close(back.data(), x.mul_scalar(factor).unwrap().data(), 1e-12);
            for (op, _) in OPS {
                prop_assert!(adjoint_error(&x, |v| op(v, axis, norm).map_err(Into::into)).unwrap() < 1e-12);
                assert_gradients(std::slice::from_ref(&x), |v| op(&v[0], axis, norm).map_err(Into::into));
            }
            for op in [dct2::<f32>, dct3::<f32>, dst2::<f32>, dst3::<f32>] {
                prop_assert!(adjoint_error(&x.cast::<f32>(), |v| op(v, axis, norm).map_err(Into::into)).unwrap() < 1e-5);
            }
        }
    }

    #[test]
    fn ortho_matrices_are_orthogonal() {
        for n in [1usize, 2, 5, 16, 17] {
            for (op, name) in OPS {
                // the matrix of the transform, one column per basis vector (columns along axis 0)
                let eye =
                    Tensor::from_vec((0..n * n).map(|i| if i / n == i % n { 1.0 } else { 0.0 }).collect(), &[n, n])
                        .unwrap();
                let m = op(&eye, 0, DctNorm::Ortho).unwrap();
                let d = m.data();
                for a in 0..n {
                    for b in 0..n {
                        let dot: f64 = (0..n).map(|k| d[k * n + a] * d[k * n + b]).sum();
                        let want = if a == b { 1.0 } else { 0.0 };
                        assert!((dot - want).abs() < 1e-12, "{name} n={n}: column {a}·{b} = {dot}");
                    }
                }
            }
        }
    }

    #[test]
    fn dct2_2d_is_two_passes_and_checks_axes() {
        let x = rand_tensor(&[3, 4, 5], 2);
        let y = dct2_2d(&x, [2, 0], DctNorm::Ortho).unwrap();
        let want = dct2(&dct2(&x, 2, DctNorm::Ortho).unwrap(), 0, DctNorm::Ortho).unwrap();
        assert_eq!(y.to_vec(), want.to_vec());
        assert!(
            adjoint_error(&x.cast::<f32>(), |v| dct2_2d(v, [0, 1], DctNorm::None).map_err(Into::into)).unwrap() < 1e-5
        );
        assert_gradients(std::slice::from_ref(&x), |v| dct2_2d(&v[0], [1, -1], DctNorm::None).map_err(Into::into));
        let e = dct2_2d(&x, [1, -2], DctNorm::Ortho).unwrap_err();
        assert_eq!(e.to_string(), "dct2_2d: axes [1, -2] name the same axis twice (shape [3, 4, 5])");
    }

    #[test]
    fn errors() {
        let e = dct2(&Tensor::<f32>::zeros(&[2, 0]), 1, DctNorm::Ortho).unwrap_err();
        assert!(matches!(e, TransformError::BadLength { op: "dct2", axis: 1, n: 0, .. }), "{e:?}");
        let e = dst3(&Tensor::<f32>::zeros(&[2, 3]), -3, DctNorm::None).unwrap_err();
        assert!(
            e.to_string().starts_with("dst3: axis -3 is out of range for a tensor of rank 2 (shape [2, 3])"),
            "{e}"
        );
    }
}
