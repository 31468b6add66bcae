//! The `darcy` task: learn the solution operator a ↦ u of 2-D Darcy flow −∇·(a∇u) = 1 on the
//! unit square (u = 0 on the boundary, a = 12 / 3 thresholding a Gaussian field), the FNO paper's
//! 2-D benchmark (Li et al., ICLR 2021, Table 4), with a 2-D `FNOOperator` and the paper script's
//! pointwise Gaussian normalisation of input and output; relative L2 loss on the decoded output.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use spectrans_data::{load_or_generate_darcy, DarcySpec};
use spectrans_layers::{Ctx, Module};
use spectrans_models::{load_folder, FNOOperator, FnoOperatorConfig, GridEncoding, Model, ModelConfig};
use spectrans_tensor::Tensor;
use spectrans_train::metrics::relative_l2;
use spectrans_train::trainer::{plot_heatmaps, Batch, Heatmap, Metrics, ScheduleConfig, Task};

use crate::error::{Result, TaskError};
use crate::normalizer::{GaussianNormalizer, NORMALIZER_FILE};
use crate::resources::{Footprint, Need};
use crate::run::operator_preset;
use crate::{model_folder, EvalOptions, Overrides, RunConfig, TaskConfig, TaskKind};

/// Data and model of the `darcy` task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DarcyConfig {
    /// Training samples (the first `n_train` of the seed's sequence).
    pub n_train: usize,
    /// Test samples (the next `n_test`).
    pub n_test: usize,
    /// Vertices per side of the solver grid (the paper: 421).
    pub resolution_fine: usize,
    /// Training resolution = (resolution_fine − 1) / stride + 1 vertices per side.
    pub stride: usize,
    /// Seed of the permeability fields.
    pub data_seed: u64,
    /// Folder of the data cache.
    pub data_dir: PathBuf,
    /// The operator: 2-D, input channel a(x) plus the grid, output u(x).
    pub model: FnoOperatorConfig,
}

impl DarcyConfig {
    /// The training set at the training resolution.
    pub fn train_spec(&self) -> DarcySpec {
        DarcySpec::new(0, self.n_train, self.resolution_fine, self.stride, self.data_seed)
    }

    /// The test set (the samples after the training set) at stride `stride`.
    pub fn test_spec(&self, stride: usize) -> DarcySpec {
        DarcySpec::new(self.n_train, self.n_test, self.resolution_fine, stride, self.data_seed)
    }

    /// The training resolution.
    pub fn resolution(&self) -> usize {
        self.train_spec().resolution()
    }
}

fn run_config(task: DarcyConfig, preset: &str, epochs: u64, schedule: ScheduleConfig, eval_every: u64) -> RunConfig {
    operator_preset(TaskConfig::Darcy(task), preset, epochs, schedule, eval_every)
}

/// The paper's operator: width 32, 12 modes per axis, 4 layers, a 128-wide projection, and the
/// vertex coordinates x = j/(s−1) of the paper's script (the same point at every resolution).
fn paper_model() -> FnoOperatorConfig {
    FnoOperatorConfig {
        width: 32,
        modes: 12,
        num_layers: 4,
        projection_dim: 128,
        spatial_dims: 2,
        grid: GridEncoding::Vertices,
        ..Default::default()
    }
}

/// The default preset: a 211² solver grid, trained at s = 43, 1000 / 100 samples.
fn preset_default() -> RunConfig {
    let task = DarcyConfig {
        n_train: 1000,
        n_test: 100,
        resolution_fine: 211,
        stride: 5,
        data_seed: 2021,
        data_dir: "data-cache".into(),
        model: paper_model(),
    };
    run_config(task, "default", 25, ScheduleConfig::WarmupCosine { warmup_steps: 50, min_lr: 1e-5 }, 5)
}

/// The paper's set-up: a 421² solver grid, trained at s = 85, 1000 / 100 samples, Adam 1e-3 with
/// weight decay 1e-4, halved every 100 epochs, 500 epochs, batch 20.
fn preset_paper() -> RunConfig {
    let DarcyConfig { model, data_dir, data_seed, .. } = match preset_default().task {
        TaskConfig::Darcy(d) => d,
        // invariant: the default preset is a darcy run
        _ => unreachable!("the darcy default preset holds a darcy task"),
    };
    let task = DarcyConfig { n_train: 1000, n_test: 100, resolution_fine: 421, stride: 5, data_seed, data_dir, model };
    run_config(task, "paper", 500, ScheduleConfig::StepEpochs { every_epochs: 100, gamma: 0.5 }, 10)
}

/// The `darcy` task in the registry.
pub struct Darcy;

impl TaskKind for Darcy {
    type Config = DarcyConfig;
    const NAME: &'static str = "darcy";
    const ABOUT: &'static str = "2-D Darcy flow operator learning (FNOOperator 2-D, relative L2)";
    const PRESETS: &'static [&'static str] = &["default", "paper"];
    const OPTIONS: &'static [&'static str] =
        &["--data-dir", "--n-train", "--n-test", "--resolution", "--resolution-fine", "--width", "--modes", "--layers"];

    fn preset(preset: &str) -> Option<RunConfig> {
        match preset {
            "default" => Some(preset_default()),
            "paper" => Some(preset_paper()),
            _ => None,
        }
    }

    fn apply(d: &mut DarcyConfig, o: &Overrides) -> Result<()> {
        o.apply_data(&mut d.n_train, &mut d.n_test, &mut d.data_dir);
        o.apply_model(&mut d.model.width, &mut d.model.modes, &mut d.model.num_layers);
        d.resolution_fine = o.resolution_fine.unwrap_or(d.resolution_fine);
        if let Some(s) = o.resolution {
            d.stride = stride_for(d.resolution_fine, s, "train")?;
        }
        Ok(())
    }

    fn validate(d: &DarcyConfig) -> Result<()> {
        if d.n_train == 0 || d.n_test == 0 {
            return Err(TaskError::config("darcy", "n_train/n_test", "both must be at least 1"));
        }
        if d.model.in_channels != 1 || d.model.out_channels != 1 || d.model.spatial_dims != 2 {
            return Err(TaskError::config(
                "darcy",
                "model",
                "the operator must be 2-D (spatial_dims 2) and map 1 channel to 1 channel",
            ));
        }
        d.train_spec().validate()?;
        Ok(ModelConfig::Operator(d.model.clone()).validate()?)
    }

    fn footprint(d: &DarcyConfig) -> Result<Footprint> {
        let n = ("n_train + n_test", (d.n_train as u128) + (d.n_test as u128));
        let s = d.resolution() as u128;
        Ok(Footprint {
            model: ModelConfig::Operator(d.model.clone()),
            data: Some(Need::new("the Darcy data", vec![n, ("resolution²", s * s)], 16)),
            positions: ("resolution²", s * s),
            width: ("width", d.model.width.max(d.model.projection_dim) as u128),
            layers: d.model.num_layers,
        })
    }

    fn build(d: &DarcyConfig, seed: u64) -> Result<Box<dyn Task<f32>>> {
        Ok(Box::new(DarcyTask::new(d, seed)?))
    }

    fn evaluate(d: &DarcyConfig, model_dir: &Path, options: &EvalOptions) -> Result<String> {
        if options.corpus.is_some() {
            return Err(TaskError::config("eval", "--corpus", "does not apply to a darcy model"));
        }
        let model = load_folder::<f32>(model_dir)?.model;
        let normalizer = GaussianNormalizer::load(&model_dir.join(NORMALIZER_FILE))?;
        let mut d = d.clone();
        if let Some(dir) = &options.data_dir {
            d.data_dir = dir.clone();
        }
        let s = options.resolution.unwrap_or(d.resolution());
        let stride = stride_for(d.resolution_fine, s, "eval")?;
        let task = DarcyTask::with_model(&d, model, normalizer, stride)?;
        Ok(task.summary(&task.test_error()?))
    }
}

/// The stride that gives `s` vertices per side from a `fine`-vertex grid.
fn stride_for(fine: usize, s: usize, owner: &'static str) -> Result<usize> {
    if s >= 2 && (fine - 1).is_multiple_of(s - 1) {
        return Ok((fine - 1) / (s - 1));
    }
    let valid: Vec<String> =
        (1..fine).filter(|k| (fine - 1).is_multiple_of(*k)).map(|k| ((fine - 1) / k + 1).to_string()).collect();
    Err(TaskError::config(
        owner,
        "--resolution",
        format!(
            "must be (resolution_fine − 1) / k + 1 for a whole k, one of {}, got {s}",
            valid.into_iter().take(12).collect::<Vec<_>>().join(", ")
        ),
    ))
}

/// The task: normalised data at the training resolution, the operator, the normaliser.
pub struct DarcyTask {
    model: Model<f32>,
    normalizer: GaussianNormalizer,
    /// a and u of the training samples, (n_train, s, s) row-major; a already normalised.
    train: (Vec<f32>, Vec<f32>),
    /// a and u of the test samples at the evaluation resolution, raw.
    test: (Vec<f32>, Vec<f32>),
    /// Vertices per side of the training and the test data.
    resolution: (usize, usize),
}

/// Rows `indices` of a (rows, s, s) buffer as a (B, s, s, 1) tensor.
fn samples(data: &[f32], s: usize, indices: impl Iterator<Item = usize>) -> Result<Tensor<f32>> {
    let mut out = Vec::new();
    for i in indices {
        out.extend_from_slice(&data[i * s * s..(i + 1) * s * s]);
    }
    let b = out.len() / (s * s).max(1);
    Ok(Tensor::from_vec(out, &[b, s, s, 1])?)
}

impl DarcyTask {
    /// Loads or generates the data (cached under `config.data_dir`), fits the normaliser on the
    /// training set and initialises the operator with `seed`.
    pub fn new(config: &DarcyConfig, seed: u64) -> Result<Self> {
        Darcy::validate(config)?;
        let train = load_or_generate_darcy::<f32>(&config.data_dir, &config.train_spec())?;
        let s = config.resolution();
        let normalizer = GaussianNormalizer::fit(train.coefficients.data(), train.solutions.data(), s)?;
        let model = Model::Operator(FNOOperator::new(&config.model, seed)?);
        let mut task = Self::with_model(config, model, normalizer, config.stride)?;
        task.train = (task.normalizer.encode_input(train.coefficients.data(), s)?, train.solutions.to_vec());
        task.resolution.0 = s;
        Ok(task)
    }

    /// The task around a trained operator and its normaliser, with test data at stride `stride`
    /// (zero-shot super-resolution when it differs from the training stride); no training data.
    pub fn with_model(
        config: &DarcyConfig,
        model: Model<f32>,
        normalizer: GaussianNormalizer,
        stride: usize,
    ) -> Result<Self> {
        Darcy::validate(config)?;
        if !matches!(model, Model::Operator(_)) {
            return Err(TaskError::config("darcy", "model", "the model folder does not hold an FNOOperator"));
        }
        let test = load_or_generate_darcy::<f32>(&config.data_dir, &config.test_spec(stride))?;
        let s = config.test_spec(stride).resolution();
        Ok(DarcyTask {
            model,
            normalizer,
            train: (Vec::new(), Vec::new()),
            test: (test.coefficients.to_vec(), test.solutions.to_vec()),
            resolution: (config.resolution(), s),
        })
    }

    /// Decoded predictions u for normalised inputs `x`, (B, s, s, 1).
    fn predict_encoded(&self, ctx: &Ctx<f32>, x: &Tensor<f32>) -> Result<Tensor<f32>> {
        // invariant: `with_model` refuses any other model kind and the field is private
        let Model::Operator(op) = &self.model else { unreachable!("the darcy task holds an operator") };
        let s = x.shape()[1];
        self.normalizer.decode_output(&op.forward(ctx, x)?, s)
    }

    /// Predictions u for test samples `indices`, (B, s, s, 1).
    fn predict(&self, indices: impl Iterator<Item = usize>) -> Result<Tensor<f32>> {
        let s = self.resolution.1;
        let raw = samples(&self.test.0, s, indices)?;
        let x = Tensor::from_vec(self.normalizer.encode_input(raw.data(), s)?, raw.shape())?;
        self.predict_encoded(&Ctx::inference(), &x)
    }

    fn n_test(&self) -> usize {
        self.test.0.len() / (self.resolution.1 * self.resolution.1).max(1)
    }

    fn batch_loss(&self, ctx: &Ctx<f32>, indices: &[usize]) -> Result<Tensor<f32>> {
        let s = self.resolution.0;
        let x = samples(&self.train.0, s, indices.iter().copied())?;
        let y = samples(&self.train.1, s, indices.iter().copied())?;
        Ok(relative_l2(&self.predict_encoded(ctx, &x)?, &y)?)
    }

    fn test_error(&self) -> Result<Metrics> {
        let n = self.n_test();
        let s = self.resolution.1;
        let mut total = 0.0;
        for lo in (0..n).step_by(20) {
            let hi = (lo + 20).min(n);
            let pred = self.predict(lo..hi)?.cast::<f64>();
            let truth = samples(&self.test.1, s, lo..hi)?.cast::<f64>();
            total += relative_l2(&pred, &truth)?.item()? * (hi - lo) as f64;
        }
        Ok(vec![("test_rel_l2".into(), total / n as f64)])
    }

    fn plot_samples(&self, dir: &Path) -> Result<()> {
        let s = self.resolution.1;
        let k = self.n_test().min(3);
        let pred = self.predict(0..k)?;
        let fields: Vec<[Vec<f64>; 4]> = (0..k)
            .map(|i| {
                let cell = |v: &[f32]| v[i * s * s..(i + 1) * s * s].iter().map(|&x| x as f64).collect::<Vec<_>>();
                let (a, u, p) = (cell(&self.test.0), cell(&self.test.1), cell(pred.data()));
                let err = p.iter().zip(&u).map(|(p, u)| p - u).collect();
                [a, u, p, err]
            })
            .collect();
        let names = ["coefficient a(x)", "true u(x)", "predicted u(x)", "error (predicted − true)"];
        let panels: Vec<Heatmap<'_>> = fields
            .iter()
            .enumerate()
            .flat_map(|(i, f)| {
                f.iter().zip(names).map(move |(values, name)| Heatmap {
                    title: format!("sample {i}: {name}"),
                    values,
                    rows: s,
                    cols: s,
                })
            })
            .collect();
        let title = format!("Darcy flow: test samples at s = {s}");
        Ok(plot_heatmaps(&dir.join("darcy_samples"), &title, &panels, 4)?)
    }
}

impl Task<f32> for DarcyTask {
    fn module(&self) -> &dyn Module<f32> {
        &self.model
    }

    fn train_len(&self) -> usize {
        self.train.0.len() / (self.resolution.0 * self.resolution.0).max(1)
    }

    fn loss(&self, ctx: &Ctx<f32>, batch: Batch<'_>) -> spectrans_train::Result<Tensor<f32>> {
        Ok(self.batch_loss(ctx, batch.indices)?)
    }

    fn evaluate(&self) -> spectrans_train::Result<Metrics> {
        Ok(self.test_error()?)
    }

    fn save_model(&self, dir: &Path) -> spectrans_train::Result<()> {
        model_folder::save(&self.model, dir)?;
        Ok(self.normalizer.save(&dir.join(NORMALIZER_FILE))?)
    }

    fn load_model(&self, dir: &Path) -> spectrans_train::Result<()> {
        Ok(model_folder::load(&self.model, dir)?)
    }

    fn plot(&self, dir: &Path) -> spectrans_train::Result<()> {
        Ok(self.plot_samples(dir)?)
    }

    fn summary(&self, metrics: &[(String, f64)]) -> String {
        let err = metrics.iter().find(|(k, _)| k == "test_rel_l2").map(|m| m.1).unwrap_or(f64::NAN);
        format!(
            "test relative L2 error (s = {}, trained at s = {}, {} test samples): {err:.6}",
            self.resolution.1,
            self.resolution.0,
            self.n_test()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_map_to_strides_and_others_are_refused_with_the_choices() {
        assert_eq!(stride_for(421, 85, "eval").unwrap(), 5);
        assert_eq!(stride_for(421, 141, "eval").unwrap(), 3);
        assert_eq!(stride_for(421, 421, "eval").unwrap(), 1);
        assert_eq!(stride_for(211, 43, "eval").unwrap(), 5);
        let e = stride_for(211, 50, "eval").unwrap_err().to_string();
        assert!(e.contains("--resolution") && e.contains("43") && e.contains("got 50"), "{e}");
        assert!(stride_for(211, 1, "eval").is_err());
    }

    #[test]
    fn presets_name_the_paper_set_up() {
        let p = Darcy::preset("paper").unwrap();
        let TaskConfig::Darcy(d) = &p.task else { unreachable!() };
        assert_eq!((d.resolution_fine, d.resolution(), d.n_train, d.n_test), (421, 85, 1000, 100));
        assert_eq!((d.model.width, d.model.modes, d.model.num_layers), (32, 12, 4));
        assert_eq!((p.train.epochs, p.train.batch_size), (500, 20));
        let TaskConfig::Darcy(d) = Darcy::preset("default").unwrap().task else { unreachable!() };
        assert_eq!((d.resolution_fine, d.resolution()), (211, 43));
    }
}
