//! Running a built-in task: the run folder's `config.json`, a `training.json` in every model
//! folder, the generic [`Trainer`] underneath, resuming, and evaluating a model folder.

use std::cell::Cell;
use std::path::Path;

use spectrans_layers::{Ctx, Module};
use spectrans_tensor::Tensor;
use spectrans_train::trainer::{self, Batch, Metrics, Task, TrainOptions, TrainReport, Trainer};

use crate::error::{Result, TaskError};
use crate::{EvalOptions, RunConfig};

/// The run configuration stored in every model folder a run writes.
pub const TRAINING_FILE: &str = "training.json";

/// How to run a built-in task.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Resume, overwrite, stop after a step count, progress bar.
    pub train: TrainOptions,
    /// Testing aid: the loss of this optimiser step (counted from 1 in this process) is made
    /// NaN, which exercises the divergence stop.
    pub inject_nan_at_step: Option<u64>,
}

/// What [`train`] did.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The training loop's report.
    pub report: TrainReport,
    /// What the task shows after a finished run (the language model's sample).
    pub after: Option<String>,
}

/// A built-in task that also records the run configuration in every model folder it saves.
struct Recorded {
    inner: Box<dyn Task<f32>>,
    record: String,
    nan_at: Option<u64>,
    calls: Cell<u64>,
}

impl Task<f32> for Recorded {
    fn module(&self) -> &dyn Module<f32> {
        self.inner.module()
    }
    fn train_len(&self) -> usize {
        self.inner.train_len()
    }
    fn steps_per_epoch(&self, batch_size: usize) -> u64 {
        self.inner.steps_per_epoch(batch_size)
    }
    fn loss(&self, ctx: &Ctx<f32>, batch: Batch<'_>) -> spectrans_train::Result<Tensor<f32>> {
        let loss = self.inner.loss(ctx, batch)?;
        self.calls.set(self.calls.get() + 1);
        if self.nan_at == Some(self.calls.get()) {
            return Ok(loss.mul_scalar(f32::NAN)?);
        }
        Ok(loss)
    }
    fn evaluate(&self) -> spectrans_train::Result<Metrics> {
        self.inner.evaluate()
    }
    fn higher_is_better(&self) -> bool {
        self.inner.higher_is_better()
    }
    fn save_model(&self, dir: &Path) -> spectrans_train::Result<()> {
        self.inner.save_model(dir)?;
        let path = dir.join(TRAINING_FILE);
        spectrans_tensor::io::write_synced(&path, self.record.as_bytes())
            .map_err(|e| spectrans_train::TrainError::io(path, e))
    }
    fn load_model(&self, dir: &Path) -> spectrans_train::Result<()> {
        self.inner.load_model(dir)
    }
    fn plot(&self, dir: &Path) -> spectrans_train::Result<()> {
        self.inner.plot(dir)
    }
    fn summary(&self, metrics: &[(String, f64)]) -> String {
        self.inner.summary(metrics)
    }
}

/// Trains the run `config` in the folder `run` (fresh, or resumed with `options.train.resume`):
/// builds the task (data and model seeded by `config.train.seed`), writes `RUN/config.json`,
/// and runs the generic [`Trainer`].
pub fn train(config: &RunConfig, run: &Path, options: &RunOptions) -> Result<RunOutcome> {
    config.validate()?;
    trainer::check_run_folder(run, &options.train)?;
    let task = config.task.build(config.train.seed)?;
    let path = run.join("config.json");
    std::fs::create_dir_all(run)
        .and_then(|_| spectrans_tensor::io::write_atomic(&path, config.to_json().as_bytes()))
        .map_err(|e| TaskError::File { path: path.display().to_string(), reason: e.to_string() })?;
    let task =
        Recorded { inner: task, record: config.to_json(), nan_at: options.inject_nan_at_step, calls: Cell::new(0) };
    let report = Trainer::new(config.train.clone()).with_options(options.train.clone()).fit(&task, run)?;
    let after = if report.stopped_early { None } else { config.task.after_training(&run.join("model"))? };
    Ok(RunOutcome { report, after })
}

/// The configuration of the run in `run` (its `config.json`), to resume it, with the number of
/// epochs replaced by `epochs` when given.
pub fn resume_config(run: &Path, epochs: Option<u64>) -> Result<RunConfig> {
    let path = run.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| TaskError::File {
        path: path.display().to_string(),
        reason: format!("{e} (nothing to resume)"),
    })?;
    let mut config = RunConfig::from_json(&text, &path.display().to_string())?;
    if let Some(e) = epochs {
        config.train.epochs = e;
    }
    config.validate().map_err(|e| TaskError::File { path: path.display().to_string(), reason: e.to_string() })?;
    Ok(config)
}

/// Evaluates the model folder `model_dir` written by [`train`] on its task's held-out data and
/// returns the one-line summary.
pub fn evaluate(model_dir: &Path, options: &EvalOptions) -> Result<String> {
    let path = model_dir.join(TRAINING_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| TaskError::File {
        path: path.display().to_string(),
        reason: format!("{e} (eval needs a model folder written by `spectrans train`)"),
    })?;
    let config = RunConfig::from_json(&text, &path.display().to_string())?;
    config.validate().map_err(|e| TaskError::File { path: path.display().to_string(), reason: e.to_string() })?;
    config.task.evaluate(model_dir, options)
}
