//! The training loop, generic over the model (any [`Module`]) and its element type (f32 or f64):
//! seeded shuffling and batching, a learning-rate schedule, clipping, periodic evaluation, a
//! JSON-lines metrics log, progress bars, plots, and atomic resumable checkpoints.
//!
//! A [`Task`] says what is trained (its module), how a batch's loss is computed and how to
//! evaluate; [`Trainer::fit`] does the rest. [`FnTask`] makes a task of two closures. A run lives
//! in a folder:
//!
//! - `metrics.jsonl` — one JSON object per line: `{"kind": "train", step, epoch, lr, train_loss,
//!   wall_time_s, samples_per_s}` every `log_every` steps and `{"kind": "eval", step, epoch, lr,
//!   wall_time_s, <metrics>}` after evaluations;
//! - `checkpoints/step-XXXXXXXX/` — the model ([`Task::save_model`]: by default
//!   `model.safetensors`, every parameter and buffer), `optimizer.safetensors` and `trainer.json`
//!   ([`TrainerState`]); `checkpoints/latest` points to the newest;
//! - `model/` — the final model files; `plots/` — SVG and PNG figures.
//!
//! Same seed and thread count give the same loss curve bit for bit, and a resumed run continues
//! exactly as if it had never stopped.
//!
//! ```
//! use spectrans_layers::{Ctx, Module, Visitor};
//! use spectrans_tensor::{Parameter, Tensor};
//! use spectrans_train::trainer::{FnTask, OptimizerConfig, OptimizerKind, TrainConfig, Trainer};
//! // fit y = 3x with one weight, in f64
//! struct Scale(Parameter<f64>);
//! impl Module<f64> for Scale {
//!     fn visit(&self, prefix: &str, v: &mut dyn Visitor<f64>) {
//!         v.param(&format!("{prefix}w"), &self.0);
//!     }
//! }
//! let model = Scale(Parameter::new(Tensor::zeros(&[1])));
//! let xs: Vec<f64> = (0..32).map(|i| i as f64 / 32.0).collect();
//! let task = FnTask::new(&model, xs.len(), |ctx: &Ctx<f64>, batch| {
//!     let x = Tensor::from_vec(batch.indices.iter().map(|&i| xs[i]).collect(), &[batch.indices.len(), 1])?;
//!     let err = x.mul(&ctx.param(&model.0))?.sub(&x.mul_scalar(3.0)?)?;
//!     Ok(err.mul(&err)?.mean(&[], false)?)
//! });
//! let optimizer = OptimizerConfig { kind: OptimizerKind::Adam, lr: 0.1, weight_decay: 0.0 };
//! let config = TrainConfig { epochs: 30, batch_size: 8, optimizer, ..Default::default() };
//! let run = std::env::temp_dir().join(format!("spectrans-doc-fit-{}", std::process::id()));
//! let report = Trainer::new(config).overwrite(true).fit(&task, &run)?;
//! assert_eq!(report.steps, 120);
//! assert!((model.0.value().data()[0] - 3.0).abs() < 0.5);
//! # std::fs::remove_dir_all(run).unwrap();
//! # Ok::<(), spectrans_train::TrainError>(())
//! ```

pub mod checkpoint;
mod config;
mod fn_task;
mod heatmap;
mod plot;
mod weights;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Map, Value};
use spectrans_layers::{Ctx, Module};
use spectrans_tensor::{Float, Parameter, Rng, Tape, Tensor};

pub use checkpoint::TrainerState;
pub use config::{OptimizerConfig, OptimizerKind, ScheduleConfig, TrainConfig};
pub use fn_task::{BoxError, FnTask};
pub use heatmap::{plot_heatmaps, Heatmap};
pub use plot::{plot_curves, plot_series, Figure, Series, YScale};
pub use weights::{load_module, save_module, WEIGHTS_FILE};

use crate::error::{io_err, Result, TrainError};
use crate::optim::{clip_grad_norm, grad_norm, Adam, AdamConfig, AdamW, AdamWConfig, OptimState, Optimizer};

/// Evaluation metrics, headline first: `(name, value)` pairs.
pub type Metrics = Vec<(String, f64)>;

/// The examples of one optimiser step.
pub struct Batch<'a> {
    /// Indices of training examples (empty for a task that samples its own batches).
    pub indices: &'a [usize],
    /// The configured batch size (what a self-sampling task draws).
    pub size: usize,
    /// A seeded stream for a task that samples its own batches; saved in checkpoints, so a
    /// resumed run draws the same batches.
    pub rng: &'a mut Rng,
}

/// What is trained and how: a module, the loss of a batch and an evaluation.
///
/// Only [`Task::module`], [`Task::train_len`] and [`Task::loss`] are required; the defaults save
/// the module's weights (every parameter and buffer) in checkpoints, evaluate nothing and plot
/// nothing.
pub trait Task<T: Float> {
    /// The module being trained; the optimiser updates its parameters.
    fn module(&self) -> &dyn Module<T>;
    /// Number of training examples shuffled each epoch; 0 when the task samples its own batches
    /// (then [`Task::steps_per_epoch`] must be overridden).
    fn train_len(&self) -> usize;
    /// Optimiser steps per epoch.
    fn steps_per_epoch(&self, batch_size: usize) -> u64 {
        self.train_len().div_ceil(batch_size.max(1)) as u64
    }
    /// The mean training loss of a batch (a scalar recorded on `ctx`'s tape).
    fn loss(&self, ctx: &Ctx<T>, batch: Batch<'_>) -> Result<Tensor<T>>;
    /// Evaluation metrics on held-out data, headline first (none by default).
    fn evaluate(&self) -> Result<Metrics> {
        Ok(Vec::new())
    }
    /// Whether a larger headline metric is better.
    fn higher_is_better(&self) -> bool {
        false
    }
    /// Writes the model into a checkpoint folder (by default [`save_module`] to
    /// `model.safetensors`); [`Task::load_model`] must read it back.
    fn save_model(&self, dir: &Path) -> Result<()> {
        save_module(self.module(), &dir.join(WEIGHTS_FILE))
    }
    /// Restores the weights from a checkpoint folder written by [`Task::save_model`].
    fn load_model(&self, dir: &Path) -> Result<()> {
        load_module(self.module(), &dir.join(WEIGHTS_FILE))
    }
    /// Task-specific figures into `dir` (e.g. predictions against the truth).
    fn plot(&self, _dir: &Path) -> Result<()> {
        Ok(())
    }
    /// The one-line summary of final metrics.
    fn summary(&self, metrics: &[(String, f64)]) -> String {
        metrics.iter().map(|(k, v)| format!("{k} = {v:.6}")).collect::<Vec<_>>().join(", ")
    }
}

/// How to run the loop (not part of the run's configuration).
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Continue the run from `RUN/checkpoints/latest`.
    pub resume: bool,
    /// Replace an existing run in the folder (without `resume`).
    pub overwrite: bool,
    /// Stop (with a checkpoint) once this many optimiser steps have been taken in total.
    pub max_steps: Option<u64>,
    /// Show progress bars (they are hidden anyway when stderr is not a terminal).
    pub progress: bool,
}

/// What a call to [`Trainer::fit`] did.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// Optimiser steps taken in total.
    pub steps: u64,
    /// Epochs completed.
    pub epochs: u64,
    /// Whether the run stopped at `max_steps` before its last epoch.
    pub stopped_early: bool,
    /// The last evaluation's metrics (headline first); empty if none ran.
    pub metrics: Vec<(String, f64)>,
    /// The one-line summary of `metrics`.
    pub summary: String,
    /// Training wall time in seconds (across resumes).
    pub wall_time_s: f64,
    /// The newest checkpoint.
    pub checkpoint: PathBuf,
}

fn build_optimizer<T: Float>(params: Vec<Parameter<T>>, c: &OptimizerConfig) -> Result<Box<dyn Optimizer<T>>> {
    Ok(match c.kind {
        OptimizerKind::AdamW => {
            Box::new(AdamW::new(params, AdamWConfig { lr: c.lr, weight_decay: c.weight_decay, ..Default::default() })?)
        }
        OptimizerKind::Adam => {
            Box::new(Adam::new(params, AdamConfig { lr: c.lr, weight_decay: c.weight_decay, ..Default::default() })?)
        }
    })
}

/// Keeps only the lines of `metrics.jsonl` at or before `step` (a resumed run rewrites the rest).
/// A missing file is an empty log; any other read error, or a line that is not a JSON object with
/// a `step`, is an error naming the file and the line, so a log is never silently emptied. The
/// one exception is a torn last line without its newline (a process killed mid-append), which
/// recorded a step after the checkpoint being resumed and is dropped.
fn truncate_metrics(path: &Path, step: u64) -> Result<Vec<Value>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainError::io(path, e)),
    };
    let lines: Vec<&str> = text.lines().collect();
    let torn = !text.is_empty() && !text.ends_with('\n');
    let mut kept = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let parsed = serde_json::from_str::<Value>(line).ok().filter(|v| v["step"].as_u64().is_some());
        match parsed {
            Some(v) => {
                if v["step"].as_u64().is_some_and(|s| s <= step) {
                    kept.push(v);
                }
            }
            None if torn && i + 1 == lines.len() => {}
            None if line.trim().is_empty() => {}
            None => {
                return Err(TrainError::format(
                    path.display().to_string(),
                    format!("line {} is not a metrics record (a JSON object with a `step`): {line:?}", i + 1),
                ))
            }
        }
    }
    let body: String = kept.iter().map(|v| format!("{v}\n")).collect();
    // atomically: a crash here must not lose the log of the steps being kept
    spectrans_tensor::io::write_atomic(path, body.as_bytes()).map_err(io_err(path))?;
    Ok(kept)
}

/// The metrics log, appended line by line.
struct MetricsLog {
    file: fs::File,
    path: PathBuf,
    history: Vec<Value>,
}

impl MetricsLog {
    fn push(&mut self, v: Value) -> Result<()> {
        writeln!(self.file, "{v}").and_then(|_| self.file.flush()).map_err(io_err(&self.path))?;
        self.history.push(v);
        Ok(())
    }
}

/// Runs a [`Task`] under a [`TrainConfig`]: the training loop, generic over the element type.
#[derive(Debug, Clone)]
pub struct Trainer {
    config: TrainConfig,
    options: TrainOptions,
}

impl Trainer {
    /// A trainer with `config` and the default [`TrainOptions`] (a fresh run, no progress bar).
    pub fn new(config: TrainConfig) -> Self {
        Trainer { config, options: TrainOptions::default() }
    }

    /// Replaces the options.
    pub fn with_options(mut self, options: TrainOptions) -> Self {
        self.options = options;
        self
    }

    /// Continue the run from its latest checkpoint ([`TrainOptions::resume`]).
    pub fn resume(mut self, yes: bool) -> Self {
        self.options.resume = yes;
        self
    }

    /// Replace a run already in the folder ([`TrainOptions::overwrite`]).
    pub fn overwrite(mut self, yes: bool) -> Self {
        self.options.overwrite = yes;
        self
    }

    /// Stop with a checkpoint after this many optimiser steps ([`TrainOptions::max_steps`]).
    pub fn max_steps(mut self, steps: u64) -> Self {
        self.options.max_steps = Some(steps);
        self
    }

    /// Show a progress bar ([`TrainOptions::progress`]).
    pub fn progress(mut self, yes: bool) -> Self {
        self.options.progress = yes;
        self
    }

    /// The loop's configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Trains `task` in the run folder `run`: fresh, or continuing from its latest checkpoint
    /// with [`TrainOptions::resume`]. Stops with [`TrainError::Diverged`] naming the step when a
    /// loss or gradient is not finite (the last checkpoint stays intact).
    pub fn fit<T: Float>(&self, task: &dyn Task<T>, run: &Path) -> Result<TrainReport> {
        fit(task, &self.config, run, &self.options)
    }
}

fn fit<T: Float>(task: &dyn Task<T>, config: &TrainConfig, run: &Path, opts: &TrainOptions) -> Result<TrainReport> {
    config.validate()?;
    let params = task.module().parameters();
    let mut optimizer = build_optimizer(params.clone(), &config.optimizer)?;
    let metrics_path = run.join("metrics.jsonl");
    let (mut state, mut last_ckpt) = if opts.resume {
        let dir = checkpoint::latest(run)?.ok_or_else(|| {
            TrainError::format(run.display().to_string(), "has no checkpoint to resume from (checkpoints/latest)")
        })?;
        task.load_model(&dir)?;
        optimizer.load_state(OptimState::load(dir.join(checkpoint::OPTIMIZER_FILE))?)?;
        (checkpoint::read_state(&dir)?, dir)
    } else {
        check_run_folder(run, opts)?;
        if opts.overwrite {
            for sub in ["checkpoints", "model", "plots"] {
                let p = run.join(sub);
                if p.exists() {
                    fs::remove_dir_all(&p).map_err(io_err(&p))?;
                }
            }
            match fs::remove_file(&metrics_path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(TrainError::io(&metrics_path, e)),
                _ => {}
            }
        }
        (TrainerState::start(config.seed), PathBuf::new())
    };
    fs::create_dir_all(run).map_err(io_err(run))?;
    let history = truncate_metrics(&metrics_path, state.step)?;
    let file = fs::OpenOptions::new().create(true).append(true).open(&metrics_path).map_err(io_err(&metrics_path))?;
    let mut log = MetricsLog { file, path: metrics_path, history };

    let steps_per_epoch = task.steps_per_epoch(config.batch_size).max(1);
    let total_steps = steps_per_epoch * config.epochs;
    let bar = progress_bar(opts.progress, total_steps, state.step);
    let started = Instant::now();
    let base_elapsed = state.elapsed_s;
    let elapsed = |s: &Instant| base_elapsed + s.elapsed().as_secs_f64();
    let mut window_start = (Instant::now(), 0usize);
    let mut metrics: Vec<(String, f64)> = Vec::new();
    let mut stopped_early = false;

    let save = |state: &TrainerState, optimizer: &dyn Optimizer<T>| -> Result<PathBuf> {
        checkpoint::publish(run, state.step, config.keep_checkpoints, |dir| {
            task.save_model(dir)?;
            optimizer.state().save(dir.join(checkpoint::OPTIMIZER_FILE))?;
            let json = serde_json::to_string_pretty(state)
                .map_err(|e| TrainError::format(checkpoint::TRAINER_FILE, format!("cannot serialise: {e}")))?;
            checkpoint::write_synced(&dir.join(checkpoint::TRAINER_FILE), json.as_bytes())
        })
    };

    'epochs: while state.epoch < config.epochs {
        let mut shuffle = Rng::from_state(state.shuffle_rng);
        let mut order: Vec<usize> = (0..task.train_len()).collect();
        shuffle.shuffle(&mut order);
        while state.position_in_epoch < steps_per_epoch {
            if opts.max_steps.is_some_and(|m| state.step >= m) {
                stopped_early = true;
                break 'epochs;
            }
            let lo = (state.position_in_epoch as usize * config.batch_size).min(order.len());
            let hi = (lo + config.batch_size).min(order.len());
            let indices = &order[lo..hi];
            let lr = config.schedule.lr_at(config.optimizer.lr, state.step, state.epoch, total_steps);
            optimizer.set_lr(lr);
            optimizer.zero_grad();
            let tape = Tape::new();
            let ctx = Ctx::train_with_rng(&tape, Rng::from_state(state.dropout_rng));
            let mut data_rng = Rng::from_state(state.data_rng);
            let loss = task.loss(&ctx, Batch { indices, size: config.batch_size, rng: &mut data_rng })?;
            let step = state.step + 1;
            let value = loss.item()?.as_f64();
            let diverged = |what: String| TrainError::Diverged { step, what, checkpoint: last_ckpt.clone() };
            if !value.is_finite() {
                return Err(diverged(format!("the training loss is {value}")));
            }
            loss.backward()?;
            let norm = match config.grad_clip {
                // a non-finite norm is reported as divergence below; any other error (none after
                // validation) propagates
                Some(max) => match clip_grad_norm(&params, max) {
                    Err(TrainError::NonFiniteGradient { norm, .. }) => norm,
                    other => other?,
                },
                None => grad_norm(&params),
            };
            if !norm.is_finite() {
                return Err(diverged(format!("the gradient norm is {norm}")));
            }
            optimizer.step()?;
            state.dropout_rng = ctx.rng_state().state();
            state.data_rng = data_rng.state();
            state.step = step;
            state.position_in_epoch += 1;
            state.lr = lr;
            state.log_window.0 += value;
            state.log_window.1 += 1;
            window_start.1 += if indices.is_empty() { config.batch_size } else { indices.len() };
            bar.set_position(state.step);
            let rate = window_start.1 as f64 / window_start.0.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("epoch {}/{} loss {value:.5} {rate:.0} samples/s", state.epoch + 1, config.epochs));
            if state.step.is_multiple_of(config.log_every) {
                let secs = window_start.0.elapsed().as_secs_f64().max(1e-9);
                let (sum, n) = state.log_window;
                log.push(json!({
                    "kind": "train",
                    "step": state.step,
                    "epoch": state.epoch as f64 + state.position_in_epoch as f64 / steps_per_epoch as f64,
                    "lr": lr,
                    "train_loss": sum / n as f64,
                    "wall_time_s": elapsed(&started),
                    "samples_per_s": window_start.1 as f64 / secs,
                }))?;
                state.log_window = (0.0, 0);
                window_start = (Instant::now(), 0);
            }
        }
        state.epoch += 1;
        state.position_in_epoch = 0;
        state.shuffle_rng = shuffle.state();
        let last = state.epoch == config.epochs;
        if last || state.epoch.is_multiple_of(config.eval_every) {
            metrics = task.evaluate()?;
            let mut line = Map::new();
            line.insert("kind".into(), json!("eval"));
            line.insert("step".into(), json!(state.step));
            line.insert("epoch".into(), json!(state.epoch));
            line.insert("lr".into(), json!(state.lr));
            line.insert("wall_time_s".into(), json!(elapsed(&started)));
            for (k, v) in &metrics {
                line.insert(k.clone(), json!(v));
            }
            log.push(Value::Object(line))?;
            if let Some((name, v)) = metrics.first() {
                let better = |old: f64| if task.higher_is_better() { *v > old } else { *v < old };
                if state.best_metric.is_none_or(|(old, _)| better(old)) {
                    state.best_metric = Some((*v, state.step));
                }
                bar.suspend(|| {
                    eprintln!("epoch {}/{} step {}: {name} = {v:.6}", state.epoch, config.epochs, state.step)
                });
            }
        }
        if last || state.epoch.is_multiple_of(config.checkpoint_every) {
            state.elapsed_s = elapsed(&started);
            last_ckpt = save(&state, optimizer.as_ref())?;
        }
    }
    state.elapsed_s = elapsed(&started);
    if stopped_early || last_ckpt.as_os_str().is_empty() {
        last_ckpt = save(&state, optimizer.as_ref())?;
    }
    bar.finish_and_clear();
    if !stopped_early && metrics.is_empty() {
        metrics = task.evaluate()?; // a resumed run that had already finished
    }
    if !stopped_early {
        checkpoint::export_model(&last_ckpt, &run.join("model"))?;
    }
    let plots = run.join("plots");
    fs::create_dir_all(&plots).map_err(io_err(&plots))?;
    plot::plot_metrics(&log.history, &plots)?;
    if !stopped_early {
        task.plot(&plots)?;
    }
    Ok(TrainReport {
        steps: state.step,
        epochs: state.epoch,
        stopped_early,
        summary: task.summary(&metrics),
        metrics,
        wall_time_s: state.elapsed_s,
        checkpoint: last_ckpt,
    })
}

/// Refuses to start a fresh run (neither resume nor overwrite) in a folder that already holds one.
pub fn check_run_folder(run: &Path, opts: &TrainOptions) -> Result<()> {
    let holds_run = run.join("checkpoints").exists() || run.join("metrics.jsonl").exists();
    if holds_run && !opts.resume && !opts.overwrite {
        return Err(TrainError::format(
            run.display().to_string(),
            "already holds a run: pass --resume to continue it, --overwrite to replace it, or another --out",
        ));
    }
    Ok(())
}

fn progress_bar(show: bool, total: u64, position: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{bar:30} step {pos}/{len} {msg} ETA {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_position(position);
    bar.reset_eta();
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("spectrans-metrics-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir.join("metrics.jsonl")
    }

    #[test]
    fn truncate_metrics_keeps_earlier_steps_and_drops_only_a_torn_last_line() {
        let path = scratch("torn");
        fs::write(&path, "{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n{\"st").unwrap();
        let kept = truncate_metrics(&path, 2).unwrap();
        assert_eq!(kept.len(), 2);
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"step\":1}\n{\"step\":2}\n");
        // a missing log is an empty one
        fs::remove_file(&path).unwrap();
        assert!(truncate_metrics(&path, 5).unwrap().is_empty());
    }

    #[test]
    fn truncate_metrics_refuses_a_corrupt_or_unreadable_log_and_leaves_it_alone() {
        let path = scratch("corrupt");
        let text = "{\"step\":1}\nnot json\n{\"step\":2}\n";
        fs::write(&path, text).unwrap();
        let e = truncate_metrics(&path, 5).unwrap_err().to_string();
        assert!(e.contains("metrics.jsonl") && e.contains("line 2"), "{e}");
        assert_eq!(fs::read_to_string(&path).unwrap(), text, "the log is not rewritten");
        // a folder where the log should be: a read error, not an empty log
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        let e = truncate_metrics(&path, 5).unwrap_err().to_string();
        assert!(e.contains("metrics.jsonl"), "{e}");
        fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
