//! The `burgers` task: learn the solution operator u(·,0) ↦ u(·,1) of the viscous Burgers
//! equation (ν = 0.1) from generated data, with the canonical `FNOOperator`, relative L2 loss.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use spectrans_layers::Ctx;
use spectrans_models::{FNOOperator, FnoOperatorConfig, Model};
use spectrans_tensor::{Rng, Tensor};

use crate::data::{load_or_generate, BurgersSpec, DEFAULT_TIME_STEPS};
use crate::error::{Result, TrainError};
use crate::metrics::relative_l2;
use crate::trainer::{
    plot_series, Figure, OptimizerConfig, OptimizerKind, RunConfig, ScheduleConfig, Series, Task, TaskConfig, YScale,
};

/// Data and model of the `burgers` task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurgersConfig {
    /// Training samples (the first `n_train` of the generated set).
    pub n_train: usize,
    /// Test samples (the next `n_test`).
    pub n_test: usize,
    /// Grid of the solver.
    pub resolution_fine: usize,
    /// Training resolution = `resolution_fine / subsample`.
    pub subsample: usize,
    /// ETDRK4 steps on [0, 1].
    pub time_steps: usize,
    /// Seed of the initial conditions.
    pub data_seed: u64,
    /// Folder of the data cache.
    pub data_dir: PathBuf,
    /// The operator (input channels (u0(x), x) with `grid: "linear"`, as the paper).
    pub model: FnoOperatorConfig,
}

impl BurgersConfig {
    /// The data set (train + test) at the training resolution; the cache keeps the fine grid, so
    /// any other resolution reuses it.
    pub fn spec(&self) -> BurgersSpec {
        BurgersSpec {
            cache_fine: true,
            time_steps: self.time_steps,
            ..BurgersSpec::new(self.n_train + self.n_test, self.resolution_fine, self.subsample, self.data_seed)
        }
    }
}

fn run_config(task: BurgersConfig, preset: &str, epochs: u64, decay_every: u64, eval_every: u64) -> RunConfig {
    RunConfig {
        task: TaskConfig::Burgers(task),
        preset: preset.into(),
        seed: 0,
        epochs,
        batch_size: 20,
        optimizer: OptimizerConfig { kind: OptimizerKind::Adam, lr: 1e-3, weight_decay: 1e-4 },
        schedule: ScheduleConfig::StepEpochs { every_epochs: decay_every, gamma: 0.5 },
        grad_clip: None,
        eval_every,
        checkpoint_every: eval_every,
        keep_checkpoints: 3,
        log_every: 10,
    }
}

/// The default task: s = 256 from a 1024-point solver grid, 1000/100 samples, the paper's model.
fn default_task() -> BurgersConfig {
    BurgersConfig {
        n_train: 1000,
        n_test: 100,
        resolution_fine: 1024,
        subsample: 4,
        time_steps: DEFAULT_TIME_STEPS,
        data_seed: 1234,
        data_dir: "data-cache".into(),
        model: FnoOperatorConfig { width: 64, modes: 16, num_layers: 4, projection_dim: 128, ..Default::default() },
    }
}

/// The default preset: the default task for 100 epochs, the learning rate halved every 20; about
/// a minute on 2 cores.
pub(crate) fn preset_default() -> RunConfig {
    run_config(default_task(), "default", 100, 20, 10)
}

/// The paper's set-up (Li et al., ICLR 2021): s = 1024 from 8192, 1000 train / 200 test,
/// width 64, 16 modes, 4 layers, Adam 1e-3 with weight decay 1e-4, halved every 100 epochs,
/// 500 epochs, batch 20.
pub(crate) fn preset_paper() -> RunConfig {
    let task = BurgersConfig { n_test: 200, resolution_fine: 8192, subsample: 8, ..default_task() };
    run_config(task, "paper", 500, 100, 10)
}

/// The task: the data at the training resolution, and the operator.
pub struct BurgersTask {
    model: Model<f32>,
    /// u0 and u1 of the training samples, (n_train, s) row-major.
    train: (Vec<f32>, Vec<f32>),
    /// u0 and u1 of the test samples, (n_test, s).
    test: (Vec<f32>, Vec<f32>),
    resolution: usize,
}

/// Rows `indices` of a (rows, s) buffer as a (B, s, 1) tensor.
fn rows(data: &[f32], s: usize, indices: impl Iterator<Item = usize>) -> Result<Tensor<f32>> {
    let mut out = Vec::new();
    for i in indices {
        out.extend_from_slice(&data[i * s..(i + 1) * s]);
    }
    let b = out.len() / s.max(1);
    Ok(Tensor::from_vec(out, &[b, s, 1])?)
}

impl BurgersTask {
    /// Loads or generates the data (cached under `config.data_dir`) and initialises the operator
    /// with `seed`.
    pub fn new(config: &BurgersConfig, seed: u64) -> Result<Self> {
        let model = Model::Operator(FNOOperator::new(&config.model, seed)?);
        Self::with_model(config, model, config.subsample)
    }

    /// The task around an existing operator, with test data at `resolution_fine / subsample`.
    pub fn with_model(config: &BurgersConfig, model: Model<f32>, subsample: usize) -> Result<Self> {
        if config.n_train == 0 || config.n_test == 0 {
            return Err(TrainError::config("burgers", "n_train/n_test", "both must be at least 1"));
        }
        if config.model.in_channels != 1 || config.model.out_channels != 1 {
            return Err(TrainError::config("burgers", "model", "the operator must map 1 channel to 1 channel"));
        }
        let spec = BurgersSpec { subsample, ..config.spec() };
        let data = load_or_generate::<f32>(&config.data_dir, &spec)?;
        let s = spec.resolution();
        let split = config.n_train * s;
        let (u0, u1) = (data.inputs.data(), data.outputs.data());
        Ok(BurgersTask {
            model,
            train: (u0[..split].to_vec(), u1[..split].to_vec()),
            test: (u0[split..].to_vec(), u1[split..].to_vec()),
            resolution: s,
        })
    }

    /// Predictions u(·,1) for test samples `indices`, (B, s, 1).
    fn predict(&self, indices: impl Iterator<Item = usize>) -> Result<Tensor<f32>> {
        // invariant: `with_model` refuses any other model kind and the field is private
        let Model::Operator(op) = &self.model else { unreachable!("the burgers task holds an operator") };
        let x = rows(&self.test.0, self.resolution, indices)?;
        Ok(op.forward(&Ctx::inference(), &x)?)
    }

    /// Number of test samples.
    fn n_test(&self) -> usize {
        self.test.0.len() / self.resolution
    }
}

impl Task for BurgersTask {
    fn model(&self) -> &Model<f32> {
        &self.model
    }

    fn train_len(&self) -> usize {
        self.train.0.len() / self.resolution
    }

    fn loss(&self, ctx: &Ctx<f32>, indices: &[usize], _: usize, _: &mut Rng) -> Result<Tensor<f32>> {
        // invariant: `with_model` refuses any other model kind and the field is private
        let Model::Operator(op) = &self.model else { unreachable!("the burgers task holds an operator") };
        let x = rows(&self.train.0, self.resolution, indices.iter().copied())?;
        let y = rows(&self.train.1, self.resolution, indices.iter().copied())?;
        Ok(relative_l2(&op.forward(ctx, &x)?, &y)?)
    }

    fn evaluate(&self) -> Result<Vec<(String, f64)>> {
        let n = self.n_test();
        let mut total = 0.0;
        for lo in (0..n).step_by(50) {
            let hi = (lo + 50).min(n);
            let pred = self.predict(lo..hi)?.cast::<f64>();
            let truth = rows(&self.test.1, self.resolution, lo..hi)?.cast::<f64>();
            total += relative_l2(&pred, &truth)?.item()? * (hi - lo) as f64;
        }
        Ok(vec![("test_rel_l2".into(), total / n as f64)])
    }

    fn plot(&self, dir: &Path) -> Result<()> {
        let s = self.resolution;
        let k = self.n_test().min(3);
        let pred = self.predict(0..k)?;
        let mut series = Vec::new();
        for i in 0..k {
            let xs = (0..s).map(|j| j as f64 / s as f64);
            let truth = &self.test.1[i * s..(i + 1) * s];
            series.push(Series {
                label: format!("sample {i}: true u(x,1)"),
                points: xs.clone().zip(truth.iter().map(|&v| v as f64)).collect(),
                dashed: false,
            });
            series.push(Series {
                label: format!("sample {i}: predicted"),
                points: xs.zip(pred.data()[i * s..(i + 1) * s].iter().map(|&v| v as f64)).collect(),
                dashed: true,
            });
        }
        let title = format!("Burgers: predicted vs true u(x, 1), test samples, s = {s}");
        let figure = Figure { title: &title, x_label: "x", y_label: "u(x, 1)", y_scale: YScale::Linear };
        plot_series(&dir.join("burgers_predictions"), &figure, &series)
    }

    fn summary(&self, metrics: &[(String, f64)]) -> String {
        let err = metrics.iter().find(|(k, _)| k == "test_rel_l2").map(|m| m.1).unwrap_or(f64::NAN);
        format!("test relative L2 error (s = {}, {} test samples): {err:.6}", self.resolution, self.n_test())
    }
}

/// The mean test relative L2 error of a trained operator folder (with its `training.json`) at
/// `resolution` (zero-shot super-resolution when it differs from the training one): the test
/// samples are taken from the fine-grid data (regenerated or cached under `data_dir`).
pub fn evaluate_at(config: &BurgersConfig, model: Model<f32>, resolution: usize) -> Result<(f64, String)> {
    let fine = config.resolution_fine;
    if resolution == 0 || !fine.is_multiple_of(resolution) || !(fine / resolution).is_power_of_two() {
        return Err(TrainError::config(
            "eval",
            "resolution",
            format!("must be the solver grid {fine} divided by a power of two, got {resolution}"),
        ));
    }
    let task = BurgersTask::with_model(config, model, fine / resolution)?;
    let metrics = task.evaluate()?;
    let line = task.summary(&metrics);
    Ok((metrics[0].1, line))
}
