//! Model-level properties that hold in spectrans too (reference.md §15): circular-shift
//! equivariance without positional encoding, exactly-zero gradients of the dead Im(DC) and
//! Im(Nyquist) weights, train ≡ eval at dropout 0, checkpointing ≡ plain, modes beyond N/2+1 ≡
//! N/2+1 modes, and f64 finite-difference gradients through a whole encoder.

use proptest::prelude::*;
use spectrans_layers::{Ctx, Module};
use spectrans_models::{FNOEncoder, FnoEncoderConfig, Input, Model, ModelConfig, ModelError};
use spectrans_tensor::gradcheck::{check_dead_imaginary_gradients, dead_imaginary_bins, gradient_error, tensor_from};
use spectrans_tensor::{Parameter, Tape, Tensor, TensorError};

fn encoder_config(json: &str) -> FnoEncoderConfig {
    let ModelConfig::Encoder(c) = ModelConfig::from_json(json).unwrap() else { panic!("not an encoder config") };
    c
}

fn encoder(d: usize, layers: usize, modes: usize, max_len: usize, extra: &str) -> FnoEncoderConfig {
    encoder_config(&format!(
        r#"{{"model_type": "fno_encoder", "hidden_dim": {d}, "num_layers": {layers}, "modes": {modes},
            "max_sequence_length": {max_len} {extra}}}"#
    ))
}

/// Replaces every parameter by values uniform in [-scale, scale), so no path is negligible (the
/// spectral weights start at 1/D²).
fn randomize(module: &impl Module<f64>, seed: u64, scale: f64) {
    for (i, (_, p)) in module.named_parameters().iter().enumerate() {
        p.set_value(tensor_from(&p.shape(), seed + 31 * i as u64, -scale, scale)).unwrap();
    }
}

/// Copies every parameter and buffer value of `from` into the same-named tensor of `to`.
fn copy_state<T: spectrans_layers::FftFloat>(from: &impl Module<T>, to: &impl Module<T>) {
    let src: Vec<_> = from.named_parameters().into_iter().chain(from.named_buffers()).collect();
    let dst: Vec<_> = to.named_parameters().into_iter().chain(to.named_buffers()).collect();
    assert_eq!(src.len(), dst.len());
    for ((ns, s), (nd, d)) in src.iter().zip(&dst) {
        assert_eq!(ns, nd);
        d.set_value(s.value()).unwrap();
    }
}

fn as_tensor_error(e: ModelError) -> TensorError {
    match e {
        ModelError::Tensor(t) => t,
        other => TensorError::invalid("model", other.to_string()),
    }
}

/// `x` rolled by `s` along axis 1 of (B, N, D): `out[b, (t + s) mod N] = x[b, t]`.
fn roll(x: &Tensor<f64>, s: usize) -> Tensor<f64> {
    let (b, n, d) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let mut out = vec![0.0; x.numel()];
    for bi in 0..b {
        for t in 0..n {
            let (src, dst) = ((bi * n + t) * d, (bi * n + (t + s) % n) * d);
            out[dst..dst + d].copy_from_slice(&x.data()[src..src + d]);
        }
    }
    Tensor::from_vec(out, x.shape()).unwrap()
}

fn max_abs_diff(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    a.data().iter().zip(b.data()).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
}

/// Output and every parameter gradient of `⟨model(x), r⟩` under `ctx`, plus the input gradient.
struct Run {
    output: Vec<f64>,
    grads: Vec<(String, Vec<f64>)>,
    input_grad: Vec<f64>,
    tape_len: usize,
}

fn run_encoder(model: &FNOEncoder<f64>, x: &Tensor<f64>, make_ctx: impl Fn(&Tape<f64>) -> Ctx<f64>) -> Run {
    model.zero_grad();
    let tape = Tape::new();
    let ctx = make_ctx(&tape);
    let input = Parameter::new(x.clone());
    let y = model.forward(&ctx, &tape.watch(&input)).unwrap();
    let tape_len = tape.len();
    y.backward_with(&tensor_from(y.shape(), 77, -1.0, 1.0)).unwrap();
    Run {
        output: y.detach().to_vec(),
        grads: model.named_parameters().into_iter().map(|(n, p)| (n, p.grad().unwrap().to_vec())).collect(),
        input_grad: input.grad().unwrap().to_vec(),
        tape_len,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Without positional encoding every layer commutes with a circular shift along N: the
    /// spectral path multiplies bin k by a phase, everything else acts per position.
    #[test]
    fn encoder_without_positions_is_shift_equivariant(b in 1usize..3, n in 2usize..14, d in 1usize..5,
                                                      layers in 1usize..3, modes in 1usize..10,
                                                      shift in 1usize..14, seed in 0u64..1000) {
        let cfg = encoder(d, layers, modes, 1, r#", "use_positional_encoding": false"#);
        let enc = FNOEncoder::<f64>::new(&cfg, seed).unwrap();
        randomize(&enc, seed, 0.5);
        let x = tensor_from::<f64>(&[b, n, d], seed + 1, -1.0, 1.0);
        let s = shift % n;
        let ctx = Ctx::inference();
        let shifted_output = enc.forward(&ctx, &roll(&x, s)).unwrap();
        let output_shifted = roll(&enc.forward(&ctx, &x).unwrap(), s);
        let err = max_abs_diff(&shifted_output, &output_shifted);
        prop_assert!(err <= 1e-10, "shift {s} of N = {n}: max |diff| = {err:e}");
    }

    /// Im(DC) and Im(Nyquist) never reach the output (c2r drops them), so their gradient is
    /// exactly zero through a whole model; the other weights do get gradient (D ≥ 4: at D = 2 a
    /// LayerNorm output is ±1 whatever its input, so hardly any gradient passes).
    #[test]
    fn dead_imaginary_weights_get_exactly_zero_gradient(half in 1usize..8, d in 2usize..4, layers in 1usize..3,
                                                         seed in 0u64..1000) {
        let n = 2 * half;
        let modes = n / 2 + 1;
        let enc = FNOEncoder::<f64>::new(&encoder(2 * d, layers, modes, n, ""), seed).unwrap();
        randomize(&enc, seed, 0.5);
        let x = tensor_from::<f64>(&[2, n, 2 * d], seed + 2, -1.0, 1.0);
        let run = run_encoder(&enc, &x, Ctx::eval_with_tape);
        let mut live = 0.0f64;
        for (name, g) in run.grads.iter().filter(|(name, _)| name.ends_with("spectral_conv.weights")) {
            let dead = check_dead_imaginary_gradients(g, n, modes);
            prop_assert!(dead.is_ok(), "{}: {}", name, dead.unwrap_err());
            for (j, v) in g.iter().enumerate() {
                let (k, im) = ((j / 2) % modes, j % 2 == 1);
                if !(im && dead_imaginary_bins(n, modes).contains(&k)) {
                    live = live.max(v.abs());
                }
            }
        }
        prop_assert!(live > 1e-6, "the live spectral weights receive gradient");
    }

    /// A model built with more modes than N/2+1 gives the same output as the one that keeps
    /// exactly N/2+1 (the surplus weights are never read), and the surplus gets zero gradient.
    #[test]
    fn modes_beyond_nyquist_equal_nyquist_modes(half in 1usize..6, extra in 1usize..5, seed in 0u64..1000) {
        let n = 2 * half;
        let (kept, big) = (n / 2 + 1, n / 2 + 1 + extra);
        let wide = FNOEncoder::<f64>::new(&encoder(4, 2, big, n, ""), seed).unwrap();
        randomize(&wide, seed, 0.5);
        let narrow = FNOEncoder::<f64>::new(&encoder(4, 2, kept, n, ""), seed + 1).unwrap();
        for ((name, w), (_, t)) in wide.named_parameters().iter().zip(narrow.named_parameters()) {
            let v = w.value();
            if name.ends_with("spectral_conv.weights") {
                let rows = v.shape()[0] * v.shape()[1];
                let cut: Vec<f64> = (0..rows).flat_map(|r| v.data()[r * big * 2..(r * big + kept) * 2].to_vec()).collect();
                t.set_value(Tensor::from_vec(cut, &[4, 4, kept, 2]).unwrap()).unwrap();
            } else {
                t.set_value(v).unwrap();
            }
        }
        let x = tensor_from::<f64>(&[2, n, 4], seed + 3, -1.0, 1.0);
        let (rw, rn) = (run_encoder(&wide, &x, Ctx::eval_with_tape), run_encoder(&narrow, &x, Ctx::eval_with_tape));
        prop_assert_eq!(&rw.output, &rn.output);
        prop_assert_eq!(&rw.input_grad, &rn.input_grad);
        for ((name, gw), (_, gn)) in rw.grads.iter().zip(&rn.grads) {
            if name.ends_with("spectral_conv.weights") {
                for r in 0..16 {
                    prop_assert_eq!(&gw[r * big * 2..(r * big + kept) * 2], &gn[r * kept * 2..(r + 1) * kept * 2]);
                    prop_assert!(gw[(r * big + kept) * 2..(r + 1) * big * 2].iter().all(|&g| g == 0.0));
                }
            } else {
                prop_assert_eq!(gw, gn, "{}", name);
            }
        }
    }
}

/// Dropout is the only train/eval difference of these models (no BatchNorm): at p = 0 the
/// outputs and every gradient are bit-identical.
#[test]
fn train_equals_eval_at_dropout_zero() {
    for extra in ["", r#", "positional_encoding_type": "learned""#, r#", "positional_encoding_type": "rotary""#] {
        let enc = FNOEncoder::<f64>::new(&encoder(6, 2, 3, 12, extra), 5).unwrap();
        randomize(&enc, 5, 0.5);
        let x = tensor_from::<f64>(&[2, 10, 6], 9, -1.0, 1.0);
        let train = run_encoder(&enc, &x, |t| Ctx::train(t, 1234));
        let eval = run_encoder(&enc, &x, Ctx::eval_with_tape);
        assert_eq!(train.output, eval.output, "{extra}");
        assert_eq!(train.grads, eval.grads, "{extra}");
        assert_eq!(train.input_grad, eval.input_grad, "{extra}");
    }
    // a classifier on ids, with its head
    let cfg = ModelConfig::from_json(
        r#"{"model_type": "fno_transformer", "vocab_size": 30, "hidden_dim": 8, "num_layers": 2, "modes": 3,
            "max_sequence_length": 16, "num_classes": 4, "pooling": "mean"}"#,
    )
    .unwrap();
    let model = Model::<f64>::from_config(&cfg, 3).unwrap();
    randomize(&model, 3, 0.5);
    let ids: Vec<usize> = (0..2 * 11).map(|i| (i * 7) % 30).collect();
    let mask: Vec<bool> = (0..2 * 11).map(|i| i % 5 != 4).collect();
    let run = |train: bool| {
        model.zero_grad();
        let tape = Tape::new();
        let ctx = if train { Ctx::train(&tape, 99) } else { Ctx::eval_with_tape(&tape) };
        let y = model.forward(&ctx, Input::Ids { ids: &ids, batch: 2, len: 11 }, Some(&mask)).unwrap();
        y.backward_with(&tensor_from(y.shape(), 1, -1.0, 1.0)).unwrap();
        let grads: Vec<Vec<f64>> = model.parameters().iter().map(|p| p.grad().unwrap().to_vec()).collect();
        (y.detach().to_vec(), grads)
    };
    assert_eq!(run(true), run(false));
}

/// With `gradient_checkpointing: true` each block runs unrecorded and is re-run during backward
/// on the same inputs with the same parameters, so every kernel sees the same operands in the
/// same order: values and gradients are bit-identical (the kernels are deterministic, with fixed
/// reduction orders), not merely close. The recorded tape is shorter, proving the checkpointed
/// path ran.
#[test]
fn gradient_checkpointing_equals_plain() {
    for (extra, len) in [("", 12), (r#", "positional_encoding_type": "learned", "mlp_ratio": 1.5"#, 7)] {
        let plain = FNOEncoder::<f64>::new(&encoder(8, 3, 4, 12, extra), 21).unwrap();
        randomize(&plain, 21, 0.5);
        let ckpt_cfg = encoder(8, 3, 4, 12, &format!(r#"{extra}, "gradient_checkpointing": true"#));
        let ckpt = FNOEncoder::<f64>::new(&ckpt_cfg, 0).unwrap();
        copy_state(&plain, &ckpt);
        let x = tensor_from::<f64>(&[3, len, 8], 4, -1.0, 1.0);
        for train in [false, true] {
            let ctx = |t: &Tape<f64>| if train { Ctx::train(t, 8) } else { Ctx::eval_with_tape(t) };
            let (a, b) = (run_encoder(&plain, &x, ctx), run_encoder(&ckpt, &x, ctx));
            assert_eq!(a.output, b.output, "{extra} train={train}");
            assert_eq!(a.grads, b.grads, "{extra} train={train}");
            assert_eq!(a.input_grad, b.input_grad, "{extra} train={train}");
            assert!(b.tape_len < a.tape_len, "checkpointed tape {} vs plain {}", b.tape_len, a.tape_len);
        }
    }
}

/// f64 finite differences through a tiny encoder (positions, two blocks, final norm), for the input.
#[test]
fn encoder_input_gradient_matches_finite_differences() {
    for (extra, seed) in [("", 1u64), (r#", "positional_encoding_type": "rotary""#, 2), (r#", "mlp_ratio": 0.5"#, 3)] {
        let enc = FNOEncoder::<f64>::new(&encoder(4, 2, 3, 8, extra), seed).unwrap();
        randomize(&enc, seed, 0.5);
        let x = tensor_from::<f64>(&[2, 7, 4], seed + 10, -1.0, 1.0);
        let err =
            gradient_error(&[x], |v| enc.forward(&Ctx::inference(), &v[0]).map_err(as_tensor_error), 1e-6).unwrap();
        assert!(err <= 1e-6, "{extra}: relative error {err:.3e}");
    }
}

/// The circular-shift test is not vacuous: positional information breaks equivariance.
#[test]
fn positional_encoding_breaks_shift_equivariance() {
    let enc = FNOEncoder::<f64>::new(&encoder(4, 1, 3, 8, ""), 0).unwrap();
    randomize(&enc, 0, 0.5);
    let x = tensor_from::<f64>(&[1, 8, 4], 1, -1.0, 1.0);
    let ctx = Ctx::inference();
    let err = max_abs_diff(&enc.forward(&ctx, &roll(&x, 3)).unwrap(), &roll(&enc.forward(&ctx, &x).unwrap(), 3));
    assert!(err > 1e-3, "{err}");
}

/// `use_2d` builds real 2-D blocks over the spatial_dim × spatial_dim grid: without positional
/// encoding the model commutes with cyclic shifts along the second grid axis, which are not
/// shifts of the flattened sequence (a 1-D model would not commute with them).
#[test]
fn use_2d_blocks_are_equivariant_to_column_shifts() {
    use spectrans_layers::Ctx;
    use spectrans_models::{FNOTransformer, Input, ModelConfig};
    let (s, d) = (6usize, 8usize);
    let json = format!(
        r#"{{"model_type": "fno_transformer", "hidden_dim": {d}, "num_layers": 2, "modes": 2, "use_2d": true,
            "spatial_dim": {s}, "max_sequence_length": {}, "use_positional_encoding": false}}"#,
        s * s
    );
    let ModelConfig::Transformer(cfg) = ModelConfig::from_json(&json).unwrap() else { unreachable!() };
    let model = FNOTransformer::<f64>::new(&cfg, 3).unwrap();
    let x = spectrans_tensor::gradcheck::tensor_from::<f64>(&[1, s * s, d], 9, -1.0, 1.0);
    let shift = |t: &spectrans_tensor::Tensor<f64>| {
        let mut v = vec![0.0; t.numel()];
        for r in 0..s {
            for c in 0..s {
                let (src, dst) = ((r * s + c) * d, (r * s + (c + 1) % s) * d);
                v[dst..dst + d].copy_from_slice(&t.data()[src..src + d]);
            }
        }
        spectrans_tensor::Tensor::from_vec(v, t.shape()).unwrap()
    };
    let ctx = Ctx::inference();
    let y = model.forward(&ctx, Input::Embeds(&x), None).unwrap();
    let ys = model.forward(&ctx, Input::Embeds(&shift(&x)), None).unwrap();
    let want = shift(&y);
    for (a, b) in ys.data().iter().zip(want.data()) {
        assert!((a - b).abs() < 1e-10, "{a} vs {b}");
    }
    let e = model.forward(&ctx, Input::Embeds(&spectrans_tensor::Tensor::zeros(&[1, 35, d])), None).unwrap_err();
    assert!(e.to_string().contains("spatial_dim² = 36"), "{e}");
}
