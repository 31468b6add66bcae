//! Optimiser trajectories, schedules and clipping against PyTorch reference values (generated once
//! by `tests/reference/optim_reference.py`, stored in `tests/reference/optim_reference_data.rs`).

#[allow(dead_code)]
mod reference {
    include!("reference/optim_reference_data.rs");
}

use reference::*;
use spectrans_tensor::{Float, Parameter, Tape, Tensor};
use spectrans_train::optim::*;
use spectrans_train::TrainError;

const P0: [&[f64]; 3] = [&[0.5, -1.2, 2.0], &[0.3, -0.7, 1.5, 0.1], &[-2.0, 0.8, 0.05, -0.4]];
const SHAPES: [&[usize]; 3] = [&[3], &[2, 2], &[4]];
const TARGET: [&[f64]; 3] = [&[1.0, 0.5, -1.0], &[0.0, 1.0, -1.0, 2.0], &[0.5, 0.5, 0.5, 0.5]];
const CURV: [&[f64]; 3] = [&[1.0, 2.0, 0.5], &[4.0, 1.0, 2.0, 0.5], &[1.0, 1.0, 2.0, 4.0]];

fn tensor<T: Float>(v: &[f64], shape: &[usize]) -> Tensor<T> {
    Tensor::from_vec(v.iter().map(|&x| T::of(x)).collect(), shape).unwrap()
}

fn params<T: Float>() -> Vec<Parameter<T>> {
    P0.iter().zip(SHAPES).map(|(v, s)| Parameter::new(tensor(v, s))).collect()
}

/// Sets each gradient to c ⊙ (p − t) (exact in floating point: every c is a power of two) by
/// back-propagating Σ c/2 (p − t)², leaving parameter `skip` without a gradient when given.
fn compute_grads<T: Float>(ps: &[Parameter<T>], skip: Option<usize>) {
    let tape = Tape::new();
    let mut loss: Option<Tensor<T>> = None;
    for (i, p) in ps.iter().enumerate() {
        p.zero_grad();
        if Some(i) == skip {
            continue;
        }
        let half_c = tensor::<T>(&CURV[i].iter().map(|c| c / 2.0).collect::<Vec<_>>(), SHAPES[i]);
        let d = tape.watch(p).sub(&tensor(TARGET[i], SHAPES[i])).unwrap();
        let term = d.mul(&d).unwrap().mul(&half_c).unwrap().sum(&[], false).unwrap();
        loss = Some(match loss {
            None => term,
            Some(l) => l.add(&term).unwrap(),
        });
    }
    loss.unwrap().backward().unwrap();
}

fn flat<T: Float>(ps: &[Parameter<T>]) -> Vec<f64> {
    ps.iter().flat_map(|p| p.value().to_vec()).map(|v| v.as_f64()).collect()
}

fn run<T: Float>(opt: &mut dyn Optimizer<T>, ps: &[Parameter<T>], skip_steps: &[usize], steps: usize) -> Vec<Vec<f64>> {
    (0..steps)
        .map(|s| {
            compute_grads(ps, skip_steps.contains(&s).then_some(1));
            opt.step().unwrap();
            flat(ps)
        })
        .collect()
}

/// Relative error of each parameter's values, normwise (∞-norm) per parameter and step: a value
/// that nearly cancels to 0 is judged against its parameter's scale, not its own tiny magnitude
/// (torch's CPU kernels contract some multiply-adds into FMAs, which moves such a value by an ulp
/// of the operands).
fn assert_close<R: Copy + Into<f64>>(name: &str, got: &[Vec<f64>], want: &[[R; 11]], rel: f64) {
    assert_eq!(got.len(), want.len());
    for (s, (g, w)) in got.iter().zip(want).enumerate() {
        let w: Vec<f64> = w.iter().map(|&b| b.into()).collect();
        for range in [0..3, 3..7, 7..11] {
            let scale = w[range.clone()].iter().fold(0.0f64, |m, b| m.max(b.abs()));
            for j in range {
                let err = (g[j] - w[j]).abs() / scale;
                assert!(
                    err <= rel,
                    "{name}: step {} value {j}: got {}, torch {} (rel err {err:.2e})",
                    s + 1,
                    g[j],
                    w[j]
                );
            }
        }
    }
}

type Factory<T> = fn(Vec<Parameter<T>>) -> Box<dyn Optimizer<T>>;

fn cases<T: Float>() -> Vec<(&'static str, Factory<T>, &'static [usize])> {
    fn sgd<T: Float>(ps: Vec<Parameter<T>>, c: SgdConfig) -> Box<dyn Optimizer<T>> {
        Box::new(Sgd::new(ps, c).unwrap())
    }
    fn adam<T: Float>(ps: Vec<Parameter<T>>, c: AdamConfig) -> Box<dyn Optimizer<T>> {
        Box::new(Adam::new(ps, c).unwrap())
    }
    vec![
        ("sgd_plain", |ps| sgd(ps, SgdConfig { lr: 0.1, ..Default::default() }), &[]),
        ("sgd_momentum", |ps| sgd(ps, SgdConfig { lr: 0.1, momentum: 0.9, dampening: 0.1, ..Default::default() }), &[]),
        (
            "sgd_nesterov",
            |ps| {
                sgd(ps, SgdConfig { lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.01, ..Default::default() })
            },
            &[],
        ),
        ("sgd_weight_decay", |ps| sgd(ps, SgdConfig { lr: 0.1, weight_decay: 0.05, ..Default::default() }), &[]),
        ("adam", |ps| adam(ps, AdamConfig { lr: 0.01, ..Default::default() }), &[]),
        ("adam_weight_decay", |ps| adam(ps, AdamConfig { lr: 0.01, weight_decay: 0.1, ..Default::default() }), &[]),
        ("adamw", |ps| Box::new(AdamW::new(ps, AdamWConfig { lr: 0.01, ..Default::default() }).unwrap()), &[]),
        (
            "adam_skip",
            |ps| adam(ps, AdamConfig { lr: 0.01, betas: (0.8, 0.99), eps: 1e-6, weight_decay: 0.0 }),
            &[1, 3],
        ),
        ("sgd_momentum_skip", |ps| sgd(ps, SgdConfig { lr: 0.1, momentum: 0.5, ..Default::default() }), &[0, 3]),
        (
            "adamw_groups",
            |ps| {
                let groups = vec![
                    ParamGroup::new(ps[..2].to_vec()),
                    ParamGroup::new(ps[2..].to_vec()).with_weight_decay(0.0).with_lr_scale(0.5),
                ];
                Box::new(
                    AdamW::with_groups(groups, AdamWConfig { lr: 0.01, weight_decay: 0.2, ..Default::default() })
                        .unwrap(),
                )
            },
            &[],
        ),
    ]
}

fn reference_f32(name: &str) -> &'static [[f32; 11]; STEPS] {
    match name {
        "sgd_plain" => &SGD_PLAIN_F32,
        "sgd_momentum" => &SGD_MOMENTUM_F32,
        "sgd_nesterov" => &SGD_NESTEROV_F32,
        "sgd_weight_decay" => &SGD_WEIGHT_DECAY_F32,
        "adam" => &ADAM_F32,
        "adam_weight_decay" => &ADAM_WEIGHT_DECAY_F32,
        "adamw" => &ADAMW_F32,
        "adam_skip" => &ADAM_SKIP_F32,
        "sgd_momentum_skip" => &SGD_MOMENTUM_SKIP_F32,
        "adamw_groups" => &ADAMW_GROUPS_F32,
        _ => unreachable!(),
    }
}

fn reference_f64(name: &str) -> &'static [[f64; 11]; STEPS] {
    match name {
        "sgd_plain" => &SGD_PLAIN_F64,
        "sgd_momentum" => &SGD_MOMENTUM_F64,
        "sgd_nesterov" => &SGD_NESTEROV_F64,
        "sgd_weight_decay" => &SGD_WEIGHT_DECAY_F64,
        "adam" => &ADAM_F64,
        "adam_weight_decay" => &ADAM_WEIGHT_DECAY_F64,
        "adamw" => &ADAMW_F64,
        "adam_skip" => &ADAM_SKIP_F64,
        "sgd_momentum_skip" => &SGD_MOMENTUM_SKIP_F64,
        "adamw_groups" => &ADAMW_GROUPS_F64,
        _ => unreachable!(),
    }
}

#[test]
fn trajectories_match_torch_f32() {
    for (name, make, skip) in cases::<f32>() {
        let ps = params::<f32>();
        let got = run(make(ps.clone()).as_mut(), &ps, skip, STEPS);
        assert_close(name, &got, reference_f32(name), 1e-6);
    }
}

#[test]
fn trajectories_match_torch_f64() {
    for (name, make, skip) in cases::<f64>() {
        let ps = params::<f64>();
        let got = run(make(ps.clone()).as_mut(), &ps, skip, STEPS);
        assert_close(name, &got, reference_f64(name), 1e-12);
    }
}

#[test]
fn state_round_trip_continues_the_identical_trajectory() {
    for (name, make, skip) in cases::<f32>() {
        // Uninterrupted run.
        let ps = params::<f32>();
        let full = run(make(ps.clone()).as_mut(), &ps, skip, STEPS);
        // Three steps, save the optimiser state and the parameters, resume in a fresh optimiser.
        let ps = params::<f32>();
        let mut opt = make(ps.clone());
        run(opt.as_mut(), &ps, skip, 3);
        let bytes = opt.state().to_safetensors().unwrap();
        let values: Vec<Tensor<f32>> = ps.iter().map(|p| p.value()).collect();
        drop(opt);
        let ps2 = params::<f32>();
        for (p, v) in ps2.iter().zip(values) {
            p.set_value(v).unwrap();
        }
        let mut resumed = make(ps2.clone());
        resumed.load_state(OptimState::from_safetensors(&bytes, "memory").unwrap()).unwrap();
        let rest: Vec<usize> = skip.iter().filter(|&&s| s >= 3).map(|s| s - 3).collect();
        let tail = run(resumed.as_mut(), &ps2, &rest, STEPS - 3);
        assert_eq!(tail, full[3..].to_vec(), "{name}: resumed trajectory differs");
    }
}

#[test]
fn schedules_match_torch() {
    let step = StepDecay { lr: 0.1, step_size: 3, gamma: 0.5 };
    let cos = Cosine { lr: 0.1, total: 10, min_lr: 0.001 };
    for (i, (&s, &c)) in STEP_LR.iter().zip(&COSINE_LR).enumerate() {
        let i = i as u64;
        assert!((step.lr_at(i) - s).abs() <= 1e-12 * s, "StepLR at {i}: {} vs {s}", step.lr_at(i));
        assert!((cos.lr_at(i) - c).abs() <= 1e-12 * c, "Cosine at {i}: {} vs {c}", cos.lr_at(i));
    }
}

#[test]
fn clipping_matches_torch() {
    let ps: Vec<Parameter<f64>> = SHAPES.iter().map(|s| Parameter::new(Tensor::zeros(s))).collect();
    let tape = Tape::new();
    for (p, c) in ps.iter().zip(CURV) {
        tape.watch(p).backward_with(&tensor(c, p.shape().as_slice())).unwrap();
    }
    let norm = clip_grad_norm(&ps, 2.0).unwrap();
    assert!((norm - CLIP_NORM).abs() <= 1e-14 * CLIP_NORM);
    let clipped: Vec<f64> = ps.iter().flat_map(|p| p.grad().unwrap().to_vec()).collect();
    for (a, b) in clipped.iter().zip(CLIPPED_GRADS) {
        assert!((a - b).abs() <= 1e-14 * b.abs(), "{a} vs {b}");
    }
    // Below the threshold nothing changes.
    let before: Vec<f64> = ps.iter().flat_map(|p| p.grad().unwrap().to_vec()).collect();
    let n2 = clip_grad_norm(&ps, 10.0).unwrap();
    assert!((n2 - 2.0).abs() < 1e-5);
    assert_eq!(before, ps.iter().flat_map(|p| p.grad().unwrap().to_vec()).collect::<Vec<_>>());
}

#[test]
fn clipping_rejects_bad_input() {
    let p = Parameter::new(Tensor::<f32>::zeros(&[2]));
    Tape::new().watch(&p).backward_with(&Tensor::from_vec(vec![f32::NAN, 1.0], &[2]).unwrap()).unwrap();
    let e = clip_grad_norm(std::slice::from_ref(&p), 1.0).unwrap_err();
    assert!(matches!(e, TrainError::NonFiniteGradient { op: "clip_grad_norm", .. }), "{e}");
    let e = clip_grad_norm(&[p], -1.0).unwrap_err();
    assert!(e.to_string().contains("max_norm"), "{e}");
}
