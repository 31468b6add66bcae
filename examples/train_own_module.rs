//! Train your own module, in f64, on your own arrays, with the generic trainer.
//!
//! The module is user-defined: a canonical `FNOOperator` (from `spectrans-models`) followed by a
//! learned output gain, composed by implementing `Module`. The data are arrays made here: random
//! smooth periodic functions f and their antiderivative-like smoothing g = (1 − ∂²)⁻¹ f, computed
//! exactly in Fourier space. The trainer shuffles, batches, schedules, evaluates, checkpoints and
//! plots, exactly as for the built-in tasks.
//!
//! ```text
//! cargo run --release --example train_own_module
//! ```

use spectrans::layers::{Ctx, Module, Visitor};
use spectrans::models::{FNOOperator, FnoOperatorConfig};
use spectrans::tensor::{Parameter, Rng, Tensor};
use spectrans::train::metrics::relative_l2;
use spectrans::train::trainer::{
    BoxError, FnTask, OptimizerConfig, OptimizerKind, ScheduleConfig, TrainConfig, Trainer,
};

/// A user-defined module: an FNO operator and a learned scalar gain on its output.
struct ScaledOperator {
    operator: FNOOperator<f64>,
    gain: Parameter<f64>,
}

impl Module<f64> for ScaledOperator {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<f64>) {
        self.operator.visit(&format!("{prefix}operator."), v);
        v.param(&format!("{prefix}gain"), &self.gain);
    }
}

impl ScaledOperator {
    /// (B, s, 1) → (B, s, 1).
    fn forward(&self, ctx: &Ctx<f64>, x: &Tensor<f64>) -> Result<Tensor<f64>, BoxError> {
        Ok(self.operator.forward(ctx, x)?.mul(&ctx.param(&self.gain))?)
    }
}

/// `n` pairs (f, g) on `s` points: f a random sum of 8 sinusoids, g = (1 − ∂²)⁻¹ f.
fn make_data(n: usize, s: usize, rng: &mut Rng) -> (Vec<f64>, Vec<f64>) {
    let (mut f, mut g) = (vec![0.0; n * s], vec![0.0; n * s]);
    let two_pi = 2.0 * std::f64::consts::PI;
    for i in 0..n {
        for k in 1..=8 {
            let (a, phase) = (rng.normal() / k as f64, two_pi * rng.uniform());
            let damp = 1.0 / (1.0 + (two_pi * k as f64).powi(2) / 100.0);
            for j in 0..s {
                let wave = (two_pi * k as f64 * j as f64 / s as f64 + phase).sin();
                f[i * s + j] += a * wave;
                g[i * s + j] += a * damp * wave;
            }
        }
    }
    (f, g)
}

/// Rows `idx` of a (n, s) buffer as a (B, s, 1) tensor.
fn rows(data: &[f64], s: usize, idx: &[usize]) -> spectrans::tensor::Result<Tensor<f64>> {
    let v: Vec<f64> = idx.iter().flat_map(|&i| data[i * s..(i + 1) * s].iter().copied()).collect();
    Tensor::from_vec(v, &[idx.len(), s, 1])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (s, n_train, n_test) = (64, 256, 64);
    let mut rng = Rng::seed(7);
    let (train_f, train_g) = make_data(n_train, s, &mut rng);
    let (test_f, test_g) = make_data(n_test, s, &mut rng);

    let config = FnoOperatorConfig { width: 16, modes: 8, num_layers: 2, projection_dim: 32, ..Default::default() };
    let model = ScaledOperator {
        operator: FNOOperator::new(&config, 0)?,
        gain: Parameter::new(Tensor::from_vec(vec![1.0], &[1])?),
    };
    let task = FnTask::new(&model, n_train, |ctx: &Ctx<f64>, batch| {
        let x = rows(&train_f, s, batch.indices)?;
        let y = rows(&train_g, s, batch.indices)?;
        Ok(relative_l2(&model.forward(ctx, &x)?, &y)?)
    })
    .with_eval(|| {
        let all: Vec<usize> = (0..n_test).collect();
        let pred = model.forward(&Ctx::inference(), &rows(&test_f, s, &all)?)?;
        Ok(vec![("test_rel_l2".into(), relative_l2(&pred, &rows(&test_g, s, &all)?)?.item()?)])
    });

    let train = TrainConfig {
        epochs: 30,
        batch_size: 16,
        optimizer: OptimizerConfig { kind: OptimizerKind::Adam, lr: 3e-3, weight_decay: 0.0 },
        schedule: ScheduleConfig::WarmupCosine { warmup_steps: 20, min_lr: 1e-5 },
        eval_every: 10,
        checkpoint_every: 10,
        ..Default::default()
    };
    let run = std::env::temp_dir().join("spectrans-example-own-module");
    let report = Trainer::new(train).overwrite(true).progress(true).fit(&task, &run)?;
    println!("{} steps; {}; run folder {}", report.steps, report.summary, run.display());
    let err = report.metrics[0].1;
    assert!(err < 0.1, "the operator learns the smoothing (test relative L2 {err})");
    Ok(())
}
