//! Error paths, skipping, state checks and the parallel update path of the optimisers.
//! (Trajectories against PyTorch are in `tests/optim_torch.rs`.)

use spectrans_tensor::{Parameter, Tape, Tensor};

use super::*;
use crate::TrainError;

fn param(v: Vec<f64>) -> Parameter<f64> {
    let n = v.len();
    Parameter::new(Tensor::from_vec(v, &[n]).unwrap())
}

/// Gives `p` the gradient `g` (through a one-node tape).
fn set_grad(p: &Parameter<f64>, g: Vec<f64>) {
    p.zero_grad();
    let shape = p.shape();
    Tape::new().watch(p).backward_with(&Tensor::from_vec(g, &shape).unwrap()).unwrap();
}

#[test]
fn invalid_hyper_parameters_name_the_field() {
    let p = || vec![param(vec![1.0])];
    let cases: Vec<(TrainError, &str)> = vec![
        (Sgd::new(p(), SgdConfig { lr: -1.0, ..Default::default() }).err().unwrap(), "SGD: invalid lr"),
        (Sgd::new(p(), SgdConfig { nesterov: true, ..Default::default() }).err().unwrap(), "SGD: invalid nesterov"),
        (
            Sgd::new(p(), SgdConfig { momentum: 0.9, dampening: 0.1, nesterov: true, ..Default::default() })
                .err()
                .unwrap(),
            "invalid nesterov",
        ),
        (
            Adam::new(p(), AdamConfig { betas: (1.0, 0.9), ..Default::default() }).err().unwrap(),
            "Adam: invalid betas.0",
        ),
        (Adam::new(p(), AdamConfig { eps: f64::NAN, ..Default::default() }).err().unwrap(), "Adam: invalid eps"),
        (
            AdamW::new(p(), AdamWConfig { weight_decay: -0.1, ..Default::default() }).err().unwrap(),
            "AdamW: invalid weight_decay",
        ),
        (
            AdamW::with_groups(vec![ParamGroup::new(p()).with_lr_scale(f64::INFINITY)], AdamWConfig::default())
                .err()
                .unwrap(),
            "AdamW: invalid lr_scale",
        ),
    ];
    for (e, want) in cases {
        assert!(matches!(e, TrainError::Config { .. }), "{e:?}");
        assert!(e.to_string().contains(want), "`{e}` lacks `{want}`");
    }
}

#[test]
fn a_parameter_in_two_groups_is_rejected() {
    let w = param(vec![1.0]);
    let groups = vec![ParamGroup::new(vec![w.clone()]), ParamGroup::new(vec![w])];
    let e = Adam::with_groups(groups, AdamConfig::default()).err().unwrap();
    assert!(e.to_string().contains("parameter 0 of group 1") && e.to_string().contains("more than once"), "{e}");
}

#[test]
fn an_invalid_lr_set_later_fails_the_step_and_changes_nothing() {
    let w = param(vec![1.0, 2.0]);
    let mut opt = Sgd::new(vec![w.clone()], SgdConfig::default()).unwrap();
    set_grad(&w, vec![1.0, 1.0]);
    opt.set_lr(f64::NAN);
    assert!(opt.lr().is_nan());
    assert!(matches!(opt.step(), Err(TrainError::Config { field: "lr", .. })));
    assert_eq!(w.value().to_vec(), vec![1.0, 2.0]);
}

#[test]
fn parameters_without_gradient_are_skipped_and_zero_grad_clears() {
    let (a, b) = (param(vec![1.0]), param(vec![2.0]));
    let mut opt = Adam::new(vec![a.clone(), b.clone()], AdamConfig { lr: 0.1, ..Default::default() }).unwrap();
    set_grad(&a, vec![3.0]);
    opt.step().unwrap();
    // first Adam step: lr · ĝ/(|ĝ| + ε) = 0.1 · 3/(3 + 1e-8)
    assert!((a.value().to_vec()[0] - (1.0 - 0.1 * 3.0 / (3.0 + 1e-8))).abs() < 1e-15);
    assert_eq!(b.value().to_vec(), vec![2.0]);
    let st = opt.state();
    assert_eq!((st.params[0].step, st.params[1].step), (1, 0));
    assert!(st.params[1].buffers.is_empty());
    opt.zero_grad();
    assert!(a.grad().is_none() && b.grad().is_none());
}

#[test]
fn set_lr_scales_every_group() {
    let (a, b) = (param(vec![0.0]), param(vec![0.0]));
    let groups = vec![ParamGroup::new(vec![a.clone()]), ParamGroup::new(vec![b.clone()]).with_lr_scale(0.25)];
    let mut opt = Sgd::with_groups(groups, SgdConfig::default()).unwrap();
    opt.set_lr(2.0);
    assert_eq!(opt.lr(), 2.0);
    set_grad(&a, vec![1.0]);
    set_grad(&b, vec![1.0]);
    opt.step().unwrap();
    assert_eq!((a.value().to_vec()[0], b.value().to_vec()[0]), (-2.0, -0.5));
}

#[test]
fn loading_mismatched_state_names_the_mismatch() {
    let a = param(vec![1.0, 2.0]);
    let mut adam = Adam::new(vec![a.clone()], AdamConfig::default()).unwrap();
    set_grad(&a, vec![1.0, 1.0]);
    adam.step().unwrap();
    let state = adam.state();

    let mut sgd = Sgd::new(vec![a.clone()], SgdConfig::default()).unwrap();
    let e = sgd.load_state(state.clone()).unwrap_err();
    assert!(e.to_string().contains("written by a `adam` optimizer, loading into `sgd`"), "{e}");

    let mut two = Adam::new(vec![param(vec![1.0, 2.0]), param(vec![0.0])], AdamConfig::default()).unwrap();
    let e = two.load_state(state.clone()).unwrap_err();
    assert!(e.to_string().contains("holds 1 parameters, the optimizer has 2"), "{e}");

    let mut other_shape = Adam::new(vec![param(vec![1.0, 2.0, 3.0])], AdamConfig::default()).unwrap();
    let e = other_shape.load_state(state.clone()).unwrap_err();
    assert!(e.to_string().contains("parameter 0 buffer `exp_avg` has shape [2], the parameter has shape [3]"), "{e}");

    let mut renamed = state.clone();
    renamed.params[0].buffers[1].0 = "v".into();
    let e = adam.load_state(renamed).unwrap_err();
    assert!(
        matches!(e, TrainError::State(_)) && e.to_string().contains("expected [\"exp_avg\", \"exp_avg_sq\"]"),
        "{e}"
    );

    // A failed load leaves the optimiser as it was.
    assert_eq!(adam.state().params[0].step, 1);
}

#[test]
fn state_file_round_trip_and_corruption() {
    let dir = std::env::temp_dir().join(format!("spectrans-train-optim-{}", std::process::id()));
    let path = dir.join("optim.safetensors");
    let a = Parameter::new(Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    let mut opt = Sgd::new(vec![a.clone()], SgdConfig { lr: 0.5, momentum: 0.9, ..Default::default() }).unwrap();
    Tape::new().watch(&a).backward_with(&Tensor::ones(&[2, 2])).unwrap();
    opt.step().unwrap();
    opt.state().save(&path).unwrap();
    let back = OptimState::<f32>::load(&path).unwrap();
    assert_eq!((back.kind.as_str(), back.lr, back.params[0].step), ("sgd", 0.5, 1));
    assert_eq!(back.params[0].buffers[0].1.to_vec(), vec![1.0; 4]);
    assert_eq!(back.params[0].buffers[0].1.shape(), &[2, 2]);
    // Stored as f32, loaded as f64: converted.
    assert_eq!(OptimState::<f64>::load(&path).unwrap().params[0].buffers[0].1.to_vec(), vec![1.0; 4]);

    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 7, 8, 20, bytes.len() - 1] {
        let e = OptimState::<f32>::from_safetensors(&bytes[..cut], "cut.safetensors").unwrap_err();
        assert!(matches!(e, TrainError::Format { .. }) && e.to_string().starts_with("cut.safetensors: "), "{e}");
    }
    let plain =
        spectrans_tensor::io::encode::<f32>(&[], &[], spectrans_tensor::DType::F32, Default::default()).unwrap();
    let e = OptimState::<f32>::from_safetensors(&plain, "plain").unwrap_err();
    assert!(e.to_string().contains("not an optimizer state"), "{e}");
    let e = OptimState::<f32>::load(dir.join("missing.safetensors")).unwrap_err();
    assert!(matches!(e, TrainError::Io { .. }) && e.to_string().contains("missing.safetensors"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Naive scalar AdamW (torch's formulas, f64) for one element over several steps.
fn naive_adamw(mut p: f64, grads: &[f64], lr: f64, wd: f64) -> f64 {
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
    let (mut m, mut v) = (0.0, 0.0);
    for (t, &g) in grads.iter().enumerate() {
        let t = (t + 1) as f64;
        p *= 1.0 - lr * wd;
        m += (1.0 - b1) * (g - m);
        v = v * b2 + (1.0 - b2) * g * g;
        let denom = v.sqrt() / (1.0 - b2.powf(t)).sqrt() + eps;
        p += -(lr / (1.0 - b1.powf(t))) * m / denom;
    }
    p
}

#[test]
fn large_parameters_take_the_parallel_path_with_identical_results() {
    let n = 3 * super::PAR_MIN + 5; // not a multiple of the chunk length
    let init: Vec<f64> = (0..n).map(|i| ((i * 37 % 101) as f64 - 50.0) / 25.0).collect();
    let grads = |s: usize| -> Vec<f64> { (0..n).map(|i| ((i * 13 + s * 7) % 17) as f64 / 8.0 - 1.0).collect() };
    let w = param(init.clone());
    let mut opt = AdamW::new(vec![w.clone()], AdamWConfig { lr: 0.01, ..Default::default() }).unwrap();
    for s in 0..3 {
        set_grad(&w, grads(s));
        opt.step().unwrap();
    }
    let got = w.value().to_vec();
    for i in [0, 1, 8191, 8192, super::PAR_MIN, n - 1] {
        let g: Vec<f64> = (0..3).map(|s| grads(s)[i]).collect();
        let want = naive_adamw(init[i], &g, 0.01, 0.01);
        assert_eq!(got[i], want, "element {i}");
    }
}

/// torch.optim.SGD's single-tensor update, written out per element in f64.
fn naive_sgd(p: &mut [f64], buf: &mut Option<Vec<f64>>, g: &[f64], c: &SgdConfig) {
    let first = buf.is_none();
    let b = buf.get_or_insert_with(|| vec![0.0; p.len()]);
    for i in 0..p.len() {
        let mut d = g[i];
        if c.weight_decay != 0.0 {
            d += c.weight_decay * p[i];
        }
        if c.momentum != 0.0 {
            b[i] = if first { d } else { b[i] * c.momentum + (1.0 - c.dampening) * d };
            d = if c.nesterov { d + c.momentum * b[i] } else { b[i] };
        }
        p[i] += -c.lr * d;
    }
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn sgd_equals_the_scalar_formula(
            init in prop::collection::vec(-2.0f64..2.0, 1..40),
            seed in 0u64..1000,
            lr in 0.0f64..0.5,
            momentum in prop::sample::select(vec![0.0, 0.5, 0.9]),
            dampening in prop::sample::select(vec![0.0, 0.3]),
            nesterov in any::<bool>(),
            weight_decay in prop::sample::select(vec![0.0, 0.01, 0.1]),
        ) {
            let nesterov = nesterov && momentum > 0.0 && dampening == 0.0;
            let c = SgdConfig { lr, momentum, dampening, nesterov, weight_decay };
            let w = param(init.clone());
            let mut opt = Sgd::new(vec![w.clone()], c).unwrap();
            let (mut p, mut buf) = (init.clone(), None);
            let mut rng = spectrans_tensor::Rng::seed(seed);
            for _ in 0..3 {
                let g: Vec<f64> = init.iter().map(|_| rng.normal()).collect();
                set_grad(&w, g.clone());
                opt.step().unwrap();
                naive_sgd(&mut p, &mut buf, &g, &c);
            }
            prop_assert_eq!(w.value().to_vec(), p);
        }

        #[test]
        fn adam_and_adamw_equal_the_scalar_formula(
            init in prop::collection::vec(-2.0f64..2.0, 1..40),
            seed in 0u64..1000,
            lr in 1e-4f64..0.1,
            beta1 in 0.0f64..0.99,
            beta2 in 0.9f64..0.9999,
            weight_decay in prop::sample::select(vec![0.0, 0.01, 0.1]),
        ) {
            let mut rng = spectrans_tensor::Rng::seed(seed);
            let grads: Vec<Vec<f64>> = (0..3).map(|_| init.iter().map(|_| rng.normal()).collect()).collect();
            for decoupled in [false, true] {
                let w = param(init.clone());
                let mut opt: Box<dyn Optimizer<f64>> = if decoupled {
                    Box::new(AdamW::new(vec![w.clone()], AdamWConfig { lr, betas: (beta1, beta2), eps: 1e-8, weight_decay }).unwrap())
                } else {
                    Box::new(Adam::new(vec![w.clone()], AdamConfig { lr, betas: (beta1, beta2), eps: 1e-8, weight_decay }).unwrap())
                };
                for g in &grads {
                    set_grad(&w, g.clone());
                    opt.step().unwrap();
                }
                let got = w.value().to_vec();
                for (i, &x0) in init.iter().enumerate() {
                    let (mut p, mut m, mut v) = (x0, 0.0, 0.0);
                    for (t, g) in grads.iter().enumerate() {
                        let t = (t + 1) as f64;
                        let mut g = g[i];
                        if decoupled {
                            p *= 1.0 - lr * weight_decay;
                        } else if weight_decay != 0.0 {
                            g += weight_decay * p;
                        }
                        m += (1.0 - beta1) * (g - m);
                        v = v * beta2 + (1.0 - beta2) * g * g;
                        let denom = v.sqrt() / (1.0 - beta2.powf(t)).sqrt() + 1e-8;
                        p += -(lr / (1.0 - beta1.powf(t))) * m / denom;
                    }
                    prop_assert_eq!(got[i], p, "element {} (decoupled {})", i, decoupled);
                }
            }
        }
    }
}
