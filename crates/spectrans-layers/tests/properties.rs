//! Properties of the layers through their public API: the spectral convolution is band-limited to
//! its kept modes; f64 finite-difference gradient checks through an FNOBlock (input and every
//! parameter) and for the parameters of LayerNorm, Linear and Embedding.

use proptest::prelude::*;
use spectrans_layers::{
    Ctx, Embedding, FNOBlock, FNOBlockConfig, LayerError, LayerNorm, Linear, Module, SpectralConv1d,
};
use spectrans_tensor::gradcheck::{assert_gradients, tensor_from};
use spectrans_tensor::{Parameter, Rng, Tape, Tensor, TensorError};

/// Replaces every parameter by values uniform in [-scale, scale) (a fresh draw per parameter), so
/// that no path of a layer is negligible (spectral weights start at 1/D²).
fn randomize(module: &impl Module<f64>, seed: u64, scale: f64) {
    for (i, (_, p)) in module.named_parameters().iter().enumerate() {
        p.set_value(tensor_from(&p.shape(), seed + 101 * i as u64, -scale, scale)).unwrap();
    }
}

fn as_tensor_error(e: LayerError) -> TensorError {
    match e {
        LayerError::Tensor(t) => t,
        other => TensorError::invalid("layer", other.to_string()),
    }
}

fn dot(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    a.data().iter().zip(b.data()).map(|(x, y)| x * y).sum()
}

/// Largest relative difference between the tape gradients of `⟨f(ctx), r⟩` with respect to
/// `params` (a fixed random cotangent r) and central differences (step 1e-6) taken by changing each
/// parameter value in place with `Parameter::set_value`. Relative to the largest gradient of the
/// same parameter (absolute below 1), as `spectrans_tensor::gradcheck::gradient_error`.
fn parameter_gradient_error(
    params: &[(String, Parameter<f64>)],
    f: impl Fn(&Ctx<f64>) -> Result<Tensor<f64>, LayerError>,
) -> f64 {
    let tape = Tape::new();
    params.iter().for_each(|(_, p)| p.zero_grad());
    let out = f(&Ctx::eval_with_tape(&tape)).unwrap();
    let r = tensor_from::<f64>(out.shape(), 4242, -1.0, 1.0);
    out.backward_with(&r).unwrap();
    let h = 1e-6;
    let mut worst = 0.0f64;
    for (name, p) in params {
        let analytic = p.grad().unwrap_or_else(|| panic!("{name} received no gradient"));
        let v0 = p.value();
        let numeric: Vec<f64> = (0..v0.numel())
            .map(|j| {
                let at = |delta: f64| {
                    let mut v = v0.to_vec();
                    v[j] += delta;
                    p.set_value(Tensor::from_vec(v, v0.shape()).unwrap()).unwrap();
                    dot(&f(&Ctx::inference()).unwrap(), &r)
                };
                (at(h) - at(-h)) / (2.0 * h)
            })
            .collect();
        p.set_value(v0).unwrap();
        let scale = numeric.iter().chain(analytic.data()).fold(1.0f64, |m, v| m.max(v.abs()));
        for (a, n) in analytic.data().iter().zip(&numeric) {
            worst = worst.max((a - n).abs() / scale);
        }
    }
    worst
}

/// |DFT_k(y)| by a direct O(N) sum.
fn dft_magnitude(y: &[f64], k: usize) -> f64 {
    let n = y.len() as f64;
    let (mut re, mut im) = (0.0, 0.0);
    for (t, v) in y.iter().enumerate() {
        let a = -2.0 * std::f64::consts::PI * (k * t) as f64 / n;
        re += v * a.cos();
        im += v * a.sin();
    }
    re.hypot(im)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// rfft of the output has no energy in bins ≥ M: the spectral path is band-limited.
    #[test]
    fn spectral_conv_output_is_band_limited(b in 1usize..3, i in 1usize..4, o in 1usize..4, n in 2usize..40,
                                            m_frac in 0.0f64..1.0, seed in 0u64..1000) {
        let m = 1 + ((n / 2) as f64 * m_frac) as usize; // 1..=N/2: at least one bin is dropped
        let conv = SpectralConv1d::<f64>::new(i, o, m, &mut Rng::seed(seed)).unwrap();
        randomize(&conv, seed, 1.0);
        let x = tensor_from::<f64>(&[b, i, n], seed + 1, -1.0, 1.0);
        let y = conv.forward(&Ctx::inference(), &x).unwrap();
        let mut kept = 0.0f64;
        for lane in y.data().chunks(n) {
            let scale = lane.iter().map(|v| v.abs()).sum::<f64>().max(1.0);
            for k in m..=n / 2 {
                let mag = dft_magnitude(lane, k);
                prop_assert!(mag <= 1e-12 * scale, "bin {k} ≥ M = {m} of N = {n} has |Y| = {mag:e}");
            }
            kept = kept.max((0..m).map(|k| dft_magnitude(lane, k)).fold(0.0, f64::max));
        }
        prop_assert!(kept > 1e-3, "the kept bins carry the signal");
    }

    /// d⟨block(x), r⟩/dx by the tape equals central differences.
    #[test]
    fn fno_block_input_gradient(b in 1usize..3, n in 1usize..10, d in 1usize..5, modes in 1usize..7,
                                ratio in prop::sample::select(vec![0.0, 0.5, 2.0]), seed in 0u64..1000) {
        let mut cfg = FNOBlockConfig::new(d, modes);
        cfg.mlp_ratio = ratio;
        let block = FNOBlock::<f64>::new(&cfg, &mut Rng::seed(seed)).unwrap();
        randomize(&block, seed, 0.5);
        let x = tensor_from::<f64>(&[b, n, d], seed + 7, -1.0, 1.0);
        assert_gradients(&[x], |v| block.forward(&Ctx::inference(), &v[0]).map_err(as_tensor_error));
    }

    /// Every parameter of a block (spectral weights, pointwise conv, norms, FFN).
    #[test]
    fn fno_block_parameter_gradients(n in 2usize..9, d in 1usize..4, modes in 1usize..6, seed in 0u64..1000) {
        let block = FNOBlock::<f64>::new(&FNOBlockConfig::new(d, modes), &mut Rng::seed(seed)).unwrap();
        randomize(&block, seed, 0.5);
        let x = tensor_from::<f64>(&[2, n, d], seed + 3, -1.0, 1.0);
        let err = parameter_gradient_error(&block.named_parameters(), |ctx| block.forward(ctx, &x));
        prop_assert!(err <= 1e-6, "relative error {err:.3e}");
    }

    #[test]
    fn layer_norm_parameter_gradients(rows in 1usize..6, d in 1usize..7, eps in prop::sample::select(vec![1e-5, 1e-12]),
                                      seed in 0u64..1000) {
        let ln = LayerNorm::<f64>::new(d, eps);
        randomize(&ln, seed, 1.0);
        let x = tensor_from::<f64>(&[rows, d], seed + 5, -2.0, 2.0);
        let err = parameter_gradient_error(&ln.named_parameters(), |ctx| ln.forward(ctx, &x));
        prop_assert!(err <= 1e-6, "relative error {err:.3e}");
    }

    #[test]
    fn linear_parameter_gradients(lead in prop::collection::vec(1usize..4, 0..3), i in 1usize..6, o in 1usize..6,
                                  bias: bool, seed in 0u64..1000) {
        let make = if bias { Linear::<f64>::new } else { Linear::<f64>::without_bias };
        let lin = make(i, o, &mut Rng::seed(seed));
        let mut shape = lead.clone();
        shape.push(i);
        let x = tensor_from::<f64>(&shape, seed + 9, -1.0, 1.0);
        let err = parameter_gradient_error(&lin.named_parameters(), |ctx| lin.forward(ctx, &x)?.tanh().map_err(Into::into));
        prop_assert!(err <= 1e-6, "relative error {err:.3e}");
    }

    /// Repeated ids accumulate into the same row; unused rows get zero.
    #[test]
    fn embedding_parameter_gradients(v in 1usize..8, d in 1usize..5, b in 1usize..3, n in 1usize..6, seed in 0u64..1000) {
        let emb = Embedding::<f64>::new(v, d, &mut Rng::seed(seed));
        let ids: Vec<usize> = tensor_from::<f64>(&[b * n], seed + 2, 0.0, v as f64).data().iter().map(|&u| u as usize).collect();
        let err = parameter_gradient_error(&emb.named_parameters(), |ctx| emb.forward(ctx, &ids, &[b, n])?.tanh().map_err(Into::into));
        prop_assert!(err <= 1e-6, "relative error {err:.3e}");
    }
}

#[test]
fn the_parameter_check_detects_a_wrong_gradient() {
    // ⟨2·w (value) + w (tape-invisible), r⟩: the tape sees only the first term, so the check fails.
    let lin = Linear::<f64>::new(3, 2, &mut Rng::seed(1));
    let x = tensor_from::<f64>(&[4, 3], 2, -1.0, 1.0);
    let err = parameter_gradient_error(&lin.named_parameters(), |ctx| {
        let hidden = lin.forward(&Ctx::inference(), &x)?; // a constant on the tape
        Ok(lin.forward(ctx, &x)?.add(&hidden)?)
    });
    assert!(err > 0.1, "a missing gradient contribution must be detected, got {err}");
}
