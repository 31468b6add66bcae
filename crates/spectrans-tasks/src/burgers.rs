//! The `burgers` task: learn the solution operator u(·,0) ↦ u(·,1) of the viscous Burgers
//! equation (ν = 0.1) from generated data, with the canonical `FNOOperator`, relative L2 loss.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use spectrans_data::{load_or_generate, BurgersSpec, DEFAULT_TIME_STEPS};
use spectrans_layers::{Ctx, Module};
use spectrans_models::{load_folder, FNOOperator, FnoOperatorConfig, Model, ModelConfig};
use spectrans_tensor::Tensor;
use spectrans_train::metrics::relative_l2;
use spectrans_train::trainer::{plot_series, Batch, Figure, Metrics, ScheduleConfig, Series, Task, YScale};

use crate::error::{Result, TaskError};
use crate::resources::{Footprint, Need};
use crate::run::operator_preset;
use crate::{model_folder, EvalOptions, Overrides, RunConfig, TaskConfig, TaskKind};

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

fn run_config(task: BurgersConfig, preset: &str, epochs: u64, schedule: ScheduleConfig, eval_every: u64) -> RunConfig {
    operator_preset(TaskConfig::Burgers(task), preset, epochs, schedule, eval_every)
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
fn preset_default() -> RunConfig {
    let schedule = ScheduleConfig::WarmupCosine { warmup_steps: 250, min_lr: 1e-5 };
    run_config(default_task(), "default", 100, schedule, 10)
}

/// The paper's set-up (Li et al., ICLR 2021): s = 1024 from 8192, 1000 train / 200 test,
/// width 64, 16 modes, 4 layers, Adam 1e-3 with weight decay 1e-4, halved every 100 epochs,
/// 500 epochs, batch 20.
fn preset_paper() -> RunConfig {
    let task = BurgersConfig { n_test: 200, resolution_fine: 8192, subsample: 8, ..default_task() };
    run_config(task, "paper", 500, ScheduleConfig::StepEpochs { every_epochs: 100, gamma: 0.5 }, 10)
}

/// The `burgers` task in the registry.
pub struct Burgers;

impl TaskKind for Burgers {
    type Config = BurgersConfig;
    const NAME: &'static str = "burgers";
    const ABOUT: &'static str = "Burgers' equation operator learning (FNOOperator, relative L2)";
    const PRESETS: &'static [&'static str] = &["default", "paper"];
    const OPTIONS: &'static [&'static str] = &[
        "--data-dir",
        "--n-train",
        "--n-test",
        "--resolution",
        "--resolution-fine",
        "--time-steps",
        "--width",
        "--modes",
        "--layers",
    ];

    fn preset(preset: &str) -> Option<RunConfig> {
        match preset {
            "default" => Some(preset_default()),
            "paper" => Some(preset_paper()),
            _ => None,
        }
    }

    fn apply(b: &mut BurgersConfig, o: &Overrides) -> Result<()> {
        o.apply_data(&mut b.n_train, &mut b.n_test, &mut b.data_dir);
        o.apply_model(&mut b.model.width, &mut b.model.modes, &mut b.model.num_layers);
        b.resolution_fine = o.resolution_fine.unwrap_or(b.resolution_fine);
        b.time_steps = o.time_steps.unwrap_or(b.time_steps);
        if let Some(s) = o.resolution {
            if s == 0 || !b.resolution_fine.is_multiple_of(s) {
                return Err(TaskError::config(
                    "train",
                    "--resolution",
                    format!("must divide the solver grid {}, got {s}", b.resolution_fine),
                ));
            }
            b.subsample = b.resolution_fine / s;
        }
        Ok(())
    }

    fn validate(b: &BurgersConfig) -> Result<()> {
        if b.n_train == 0 || b.n_test == 0 {
            return Err(TaskError::config("burgers", "n_train/n_test", "both must be at least 1"));
        }
        if b.model.in_channels != 1 || b.model.out_channels != 1 {
            return Err(TaskError::config("burgers", "model", "the operator must map 1 channel to 1 channel"));
        }
        b.spec().validate()?;
        Ok(ModelConfig::Operator(b.model.clone()).validate()?)
    }

    fn footprint(b: &BurgersConfig) -> Result<Footprint> {
        let n = ("n_train + n_test", (b.n_train as u128) + (b.n_test as u128));
        let fine = ("resolution_fine", b.resolution_fine as u128);
        Ok(Footprint {
            model: ModelConfig::Operator(b.model.clone()),
            data: Some(Need::new("the Burgers data", vec![n, fine], 24)),
            positions: ("resolution", (b.resolution_fine / b.subsample.max(1)) as u128),
            width: ("width", b.model.width.max(b.model.projection_dim) as u128),
            layers: b.model.num_layers,
        })
    }

    fn build(b: &BurgersConfig, seed: u64) -> Result<Box<dyn Task<f32>>> {
        Ok(Box::new(BurgersTask::new(b, seed)?))
    }

    fn evaluate(b: &BurgersConfig, model_dir: &Path, options: &EvalOptions) -> Result<String> {
        let model = load_folder::<f32>(model_dir)?.model;
        let mut b = b.clone();
        if let Some(d) = &options.data_dir {
            b.data_dir = d.clone();
        }
        let s = options.resolution.unwrap_or(b.resolution_fine / b.subsample);
        Ok(evaluate_at(&b, model, s)?.1)
    }
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
        Burgers::validate(config)?;
        if !matches!(model, Model::Operator(_)) {
            return Err(TaskError::config("burgers", "model", "the model folder does not hold an FNOOperator"));
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

impl BurgersTask {
    fn batch_loss(&self, ctx: &Ctx<f32>, indices: &[usize]) -> Result<Tensor<f32>> {
        // invariant: `with_model` refuses any other model kind and the field is private
        let Model::Operator(op) = &self.model else { unreachable!("the burgers task holds an operator") };
        let x = rows(&self.train.0, self.resolution, indices.iter().copied())?;
        let y = rows(&self.train.1, self.resolution, indices.iter().copied())?;
        Ok(relative_l2(&op.forward(ctx, &x)?, &y)?)
    }

    fn test_error(&self) -> Result<Metrics> {
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

    fn plot_predictions(&self, dir: &Path) -> Result<()> {
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
        Ok(plot_series(&dir.join("burgers_predictions"), &figure, &series)?)
    }
}

impl Task<f32> for BurgersTask {
    fn module(&self) -> &dyn Module<f32> {
        &self.model
    }

    fn train_len(&self) -> usize {
        self.train.0.len() / self.resolution
    }

    fn loss(&self, ctx: &Ctx<f32>, batch: Batch<'_>) -> spectrans_train::Result<Tensor<f32>> {
        Ok(self.batch_loss(ctx, batch.indices)?)
    }

    fn evaluate(&self) -> spectrans_train::Result<Metrics> {
        Ok(self.test_error()?)
    }

    fn save_model(&self, dir: &Path) -> spectrans_train::Result<()> {
        Ok(model_folder::save(&self.model, dir)?)
    }

    fn load_model(&self, dir: &Path) -> spectrans_train::Result<()> {
        Ok(model_folder::load(&self.model, dir)?)
    }

    fn plot(&self, dir: &Path) -> spectrans_train::Result<()> {
        Ok(self.plot_predictions(dir)?)
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
        return Err(TaskError::config(
            "eval",
            "resolution",
            format!("must be the solver grid {fine} divided by a power of two, got {resolution}"),
        ));
    }
    let task = BurgersTask::with_model(config, model, fine / resolution)?;
    let metrics = task.test_error()?;
    let line = task.summary(&metrics);
    Ok((metrics[0].1, line))
}
