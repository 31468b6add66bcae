//! Test helpers: naive O(N²) reference transforms, lane-wise application, strategies.

use num_complex::Complex;
use proptest::prelude::*;
use spectrans_tensor::gradcheck::tensor_from;
use spectrans_tensor::Tensor;

use crate::norm::Norm;

pub(crate) type C64 = Complex<f64>;

/// Any of the three norms.
pub(crate) fn norms() -> impl Strategy<Value = Norm> {
    prop_oneof![Just(Norm::Backward), Just(Norm::Ortho), Just(Norm::Forward)]
}

/// A real shape of rank 1..=max_rank with small dimensions.
pub(crate) fn real_shape_strategy(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..6, 1..=max_rank)
}

/// A complex tensor shape: rank 1..=max_rank complex axes, then the trailing 2.
pub(crate) fn complex_shape_strategy(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    real_shape_strategy(max_rank).prop_map(|mut s| {
        s.push(2);
        s
    })
}

/// Uniform entries in [−1, 1).
pub(crate) fn rand_tensor(shape: &[usize], seed: u64) -> Tensor<f64> {
    tensor_from(shape, seed, -1.0, 1.0)
}

/// Max |a − b| ≤ tol · max(1, max |b|).
pub(crate) fn assert_close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let worst = a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    assert!(worst <= tol * scale, "max difference {worst:.3e} > {:.3e}", tol * scale);
}

/// Naive DFT: s · Σ_j x_j e^{∓2πi jk/n}.
pub(crate) fn naive_dft(x: &[C64], inverse: bool, scale: f64) -> Vec<C64> {
    let n = x.len();
    let sign = if inverse { 1.0 } else { -1.0 };
    (0..n)
        .map(|k| {
            let acc: C64 = x
                .iter()
                .enumerate()
                .map(|(j, v)| {
                    v * Complex::from_polar(1.0, sign * 2.0 * std::f64::consts::PI * ((j * k) % n) as f64 / n as f64)
                })
                .sum();
            acc * scale
        })
        .collect()
}

/// Zero-pads or truncates to length n.
pub(crate) fn pad_to<A: Copy + Default>(x: &[A], n: usize) -> Vec<A> {
    (0..n).map(|i| x.get(i).copied().unwrap_or_default()).collect()
}

/// Applies `f` to every lane along `ax` of a buffer of shape `shape`; returns the new buffer and
/// its shape (the lane length is whatever `f` returns).
pub(crate) fn apply_lanes<A: Copy, B: Copy + Default>(
    data: &[A],
    shape: &[usize],
    ax: usize,
    f: impl Fn(&[A]) -> Vec<B>,
) -> (Vec<B>, Vec<usize>) {
    let outer: usize = shape[..ax].iter().product();
    let inner: usize = shape[ax + 1..].iter().product();
    let len = shape[ax];
    let mut out = Vec::new();
    let mut out_len = 0;
    let mut results = Vec::new();
    for o in 0..outer {
        for d in 0..inner {
            let lane: Vec<A> = (0..len).map(|j| data[(o * len + j) * inner + d]).collect();
            let r = f(&lane);
            out_len = r.len();
            results.push(r);
        }
    }
    out.resize(outer * out_len * inner, B::default());
    for o in 0..outer {
        for d in 0..inner {
            for (k, &v) in results[o * inner + d].iter().enumerate() {
                out[(o * out_len + k) * inner + d] = v;
            }
        }
    }
    let mut s = shape.to_vec();
    s[ax] = out_len;
    (out, s)
}

fn to_complex(x: &[f64]) -> Vec<C64> {
    x.chunks(2).map(|p| Complex::new(p[0], p[1])).collect()
}

fn from_complex(x: &[C64]) -> Vec<f64> {
    x.iter().flat_map(|c| [c.re, c.im]).collect()
}

fn with_two(mut s: Vec<usize>) -> Vec<usize> {
    s.push(2);
    s
}

/// Complex → complex, lane-wise, on a complex tensor (…, 2).
pub(crate) fn naive_along(x: &Tensor<f64>, ax: usize, f: impl Fn(&[C64]) -> Vec<C64>) -> Tensor<f64> {
    let cs = &x.shape()[..x.rank() - 1];
    let (out, s) = apply_lanes(&to_complex(x.data()), cs, ax, f);
    Tensor::from_vec(from_complex(&out), &with_two(s)).unwrap()
}

/// Real → complex, lane-wise.
pub(crate) fn naive_real_to_complex(x: &Tensor<f64>, ax: usize, f: impl Fn(&[f64]) -> Vec<C64>) -> Tensor<f64> {
    let (out, s) = apply_lanes(x.data(), x.shape(), ax, f);
    Tensor::from_vec(from_complex(&out), &with_two(s)).unwrap()
}

/// Complex → real, lane-wise.
pub(crate) fn naive_complex_to_real(x: &Tensor<f64>, ax: usize, f: impl Fn(&[C64]) -> Vec<f64>) -> Tensor<f64> {
    let cs = &x.shape()[..x.rank() - 1];
    let (out, s) = apply_lanes(&to_complex(x.data()), cs, ax, f);
    Tensor::from_vec(out, &s).unwrap()
}

/// Real → real, lane-wise.
pub(crate) fn naive_real(x: &Tensor<f64>, ax: usize, f: impl Fn(&[f64]) -> Vec<f64>) -> Tensor<f64> {
    let (out, s) = apply_lanes(x.data(), x.shape(), ax, f);
    Tensor::from_vec(out, &s).unwrap()
}
