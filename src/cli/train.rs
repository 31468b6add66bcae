//! `spectrans train <task>`: the built-in training tasks (see `spectrans_train::trainer`).

use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::Args;
use spectrans_tasks::{train, Overrides, RunConfig, RunOptions, TASKS};
use spectrans_train::trainer::TrainOptions;

/// Options of `spectrans train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The task (see `spectrans train --help` for the list).
    #[arg(value_parser = PossibleValuesParser::new(TASKS))]
    pub task: String,
    /// Built-in configuration: `default` (minutes on 2 cores) or `paper` (operator tasks: the FNO paper's set-up).
    #[arg(long, default_value = "default")]
    pub preset: String,
    /// Run folder (default: runs/<task>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from its latest checkpoint (only --epochs and --max-steps may change).
    #[arg(long)]
    pub resume: bool,
    /// Replace a run already in --out.
    #[arg(long)]
    pub overwrite: bool,
    /// Seed of initialisation, shuffling, dropout and sampling.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of epochs.
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Stop with a checkpoint after this many optimiser steps in total (continue with --resume).
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Worker threads (default: all cores); results are reproducible for a fixed count.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Examples per step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Base learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Weight decay.
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Evaluate every N epochs.
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Checkpoint every N epochs.
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Checkpoints kept.
    #[arg(long)]
    pub keep_checkpoints: Option<usize>,
    /// Log the training loss every N steps.
    #[arg(long)]
    pub log_every: Option<u64>,
    /// burgers, darcy: data cache folder (default data-cache).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// burgers/classify: training samples.
    #[arg(long)]
    pub n_train: Option<usize>,
    /// burgers/classify: test samples.
    #[arg(long)]
    pub n_test: Option<usize>,
    /// burgers: solver grid.
    #[arg(long)]
    pub resolution_fine: Option<usize>,
    /// burgers: training resolution (the solver grid divided by a power of two).
    #[arg(long)]
    pub resolution: Option<usize>,
    /// burgers: ETDRK4 time steps.
    #[arg(long)]
    pub time_steps: Option<usize>,
    /// Model width (burgers) or hidden dimension (classify, lm).
    #[arg(long)]
    pub width: Option<usize>,
    /// Fourier modes.
    #[arg(long)]
    pub modes: Option<usize>,
    /// Number of layers.
    #[arg(long)]
    pub layers: Option<usize>,
    /// lm/classify: sequence length.
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// lm: steps per epoch.
    #[arg(long)]
    pub steps_per_epoch: Option<u64>,
    /// lm: a UTF-8 text file (optionally .gz) instead of the shipped Shakespeare.
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Hide the progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Testing aid: make the loss of this step NaN (exercises the divergence stop).
    #[arg(long, hide = true)]
    pub inject_nan_at_step: Option<u64>,
}

/// Sets the rayon thread count (once per process).
pub fn set_threads(threads: Option<usize>) -> Result<(), String> {
    if let Some(n) = threads {
        if n == 0 {
            return Err("--threads: must be at least 1".into());
        }
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global().map_err(|e| format!("--threads: {e}"))?;
    }
    Ok(())
}

impl TrainArgs {
    /// The task options given on the command line.
    fn overrides(&self) -> Overrides {
        Overrides {
            n_train: self.n_train,
            n_test: self.n_test,
            resolution: self.resolution,
            resolution_fine: self.resolution_fine,
            time_steps: self.time_steps,
            data_dir: self.data_dir.clone(),
            width: self.width,
            modes: self.modes,
            layers: self.layers,
            seq_len: self.seq_len,
            steps_per_epoch: self.steps_per_epoch,
            corpus: self.corpus.clone(),
        }
    }
}

/// The preset with the command-line overrides applied; returns the names of the options given.
fn configure(a: &TrainArgs) -> Result<(RunConfig, Vec<&'static str>), String> {
    let mut c = RunConfig::preset(&a.task, &a.preset).map_err(|e| e.to_string())?;
    let mut given = Vec::new();
    macro_rules! set {
        ($opt:expr, $name:literal, $target:expr) => {
            if let Some(v) = $opt.clone() {
                $target = v;
                given.push($name);
            }
        };
    }
    set!(a.seed, "--seed", c.train.seed);
    set!(a.batch_size, "--batch-size", c.train.batch_size);
    set!(a.lr, "--lr", c.train.optimizer.lr);
    set!(a.weight_decay, "--weight-decay", c.train.optimizer.weight_decay);
    set!(a.eval_every, "--eval-every", c.train.eval_every);
    set!(a.checkpoint_every, "--checkpoint-every", c.train.checkpoint_every);
    set!(a.keep_checkpoints, "--keep-checkpoints", c.train.keep_checkpoints);
    set!(a.log_every, "--log-every", c.train.log_every);
    let overrides = a.overrides();
    c.task.apply(&overrides).map_err(|e| e.to_string())?;
    given.extend(overrides.given());
    if let Some(e) = a.epochs {
        c.train.epochs = e;
    }
    c.validate().map_err(|e| e.to_string())?;
    Ok((c, given))
}

/// Runs `spectrans train`.
pub fn run(a: &TrainArgs) -> Result<(), String> {
    set_threads(a.threads)?;
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(&a.task));
    let (mut config, given) = configure(a)?;
    if a.resume {
        let saved = spectrans_tasks::resume_config(&out, a.epochs).map_err(|e| e.to_string())?;
        if saved.task.name() != config.task.name() {
            return Err(format!(
                "{}: the run is a `{}` run, not `{}`",
                out.join("config.json").display(),
                saved.task.name(),
                config.task.name()
            ));
        }
        if let Some(flag) = given.first() {
            return Err(format!(
                "{flag}: cannot change the configuration of a resumed run (only --epochs and --max-steps)"
            ));
        }
        config = saved;
    }
    let started = std::time::Instant::now();
    eprintln!(
        "spectrans train {}: preparing the data and the model (run folder {})",
        config.task.name(),
        out.display()
    );
    let opts = RunOptions {
        train: TrainOptions {
            resume: a.resume,
            overwrite: a.overwrite,
            max_steps: a.max_steps,
            progress: !a.no_progress,
        },
        inject_nan_at_step: a.inject_nan_at_step,
    };
    let outcome = train(&config, &out, &opts).map_err(|e| e.to_string())?;
    let report = outcome.report;
    if report.stopped_early {
        println!(
            "stopped after step {} (epoch {}); checkpoint {}; continue with --resume",
            report.steps,
            report.epochs,
            report.checkpoint.display()
        );
        return Ok(());
    }
    println!("{}", report.summary);
    eprintln!(
        "{} steps, {} epochs, training {:.1} s, total {:.1} s; model in {}",
        report.steps,
        report.epochs,
        report.wall_time_s,
        started.elapsed().as_secs_f64(),
        out.join("model").display()
    );
    if let Some(after) = outcome.after {
        println!("{after}");
    }
    Ok(())
}
