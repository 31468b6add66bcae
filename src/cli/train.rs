//! `spectrans train <task>`: the built-in training tasks (see `spectrans_train::trainer`).

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use spectrans_models::{load_folder, CharTokenizer, GenerateOptions, Model, Sampling};
use spectrans_train::tasks::{self, LmConfig, Resources};
use spectrans_train::trainer::{self, RunConfig, TaskConfig, TrainOptions};

/// The shipped language-model corpus (gzip).
const SHAKESPEARE_GZ: &[u8] = include_bytes!("../../data/shakespeare.txt.gz");

/// A built-in task.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum TaskName {
    /// Burgers' equation operator learning (FNOOperator, relative L2).
    Burgers,
    /// Synthetic frequency-band classification (FNOTransformer, accuracy).
    Classify,
    /// Character-level language model (causal FNODecoder, bits per character).
    Lm,
}

/// Options of `spectrans train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The task.
    #[arg(value_enum)]
    pub task: TaskName,
    /// Built-in configuration: `default` (minutes on 2 cores) or `paper` (burgers: the FNO paper's set-up).
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
    /// burgers: data cache folder (default data-cache).
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

/// The corpus of an `lm` run: the shipped text for `shakespeare`, else the file it names.
pub fn lm_corpus(l: &LmConfig) -> Result<String, String> {
    corpus_text((l.corpus != "shakespeare").then(|| Path::new(&l.corpus)))
}

/// The corpus text: `path` (gzip if it ends in .gz) or the shipped one.
pub fn corpus_text(path: Option<&Path>) -> Result<String, String> {
    let (bytes, name): (std::borrow::Cow<[u8]>, String) = match path {
        Some(p) => (std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?.into(), p.display().to_string()),
        None => (SHAKESPEARE_GZ.into(), "data/shakespeare.txt.gz".to_string()),
    };
    if name.ends_with(".gz") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .map_err(|e| format!("{name}: not a gzip-compressed UTF-8 text: {e}"))?;
        Ok(text)
    } else {
        String::from_utf8(bytes.into_owned()).map_err(|e| format!("{name}: not UTF-8: {e}"))
    }
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

/// The preset with the command-line overrides applied; returns the names of the options given.
fn configure(a: &TrainArgs) -> Result<(RunConfig, Vec<&'static str>), String> {
    let mut c = RunConfig::preset(task_name(a.task), &a.preset).map_err(|e| e.to_string())?;
    let mut given = Vec::new();
    macro_rules! set {
        ($opt:expr, $name:literal, $target:expr) => {
            if let Some(v) = $opt.clone() {
                $target = v;
                given.push($name);
            }
        };
    }
    set!(a.seed, "--seed", c.seed);
    set!(a.batch_size, "--batch-size", c.batch_size);
    set!(a.lr, "--lr", c.optimizer.lr);
    set!(a.weight_decay, "--weight-decay", c.optimizer.weight_decay);
    set!(a.eval_every, "--eval-every", c.eval_every);
    set!(a.checkpoint_every, "--checkpoint-every", c.checkpoint_every);
    set!(a.keep_checkpoints, "--keep-checkpoints", c.keep_checkpoints);
    set!(a.log_every, "--log-every", c.log_every);
    // task-specific options, with the tasks they apply to: any other task rejects them
    let task = task_name(a.task);
    let specific: [(&str, bool, &[&str]); 9] = [
        ("--data-dir", a.data_dir.is_some(), &["burgers"]),
        ("--resolution", a.resolution.is_some(), &["burgers"]),
        ("--resolution-fine", a.resolution_fine.is_some(), &["burgers"]),
        ("--time-steps", a.time_steps.is_some(), &["burgers"]),
        ("--n-train", a.n_train.is_some(), &["burgers", "classify"]),
        ("--n-test", a.n_test.is_some(), &["burgers", "classify"]),
        ("--seq-len", a.seq_len.is_some(), &["classify", "lm"]),
        ("--steps-per-epoch", a.steps_per_epoch.is_some(), &["lm"]),
        ("--corpus", a.corpus.is_some(), &["lm"]),
    ];
    if let Some((flag, ..)) = specific.iter().find(|(_, given, tasks)| *given && !tasks.contains(&task)) {
        return Err(format!("{flag} does not apply to the {task} task"));
    }
    match &mut c.task {
        TaskConfig::Burgers(b) => {
            set!(a.data_dir, "--data-dir", b.data_dir);
            set!(a.n_train, "--n-train", b.n_train);
            set!(a.n_test, "--n-test", b.n_test);
            set!(a.resolution_fine, "--resolution-fine", b.resolution_fine);
            set!(a.time_steps, "--time-steps", b.time_steps);
            set!(a.width, "--width", b.model.width);
            set!(a.modes, "--modes", b.model.modes);
            set!(a.layers, "--layers", b.model.num_layers);
            if let Some(s) = a.resolution {
                if s == 0 || !b.resolution_fine.is_multiple_of(s) {
                    return Err(format!("--resolution: must divide the solver grid {}, got {s}", b.resolution_fine));
                }
                b.subsample = b.resolution_fine / s;
                given.push("--resolution");
            }
        }
        TaskConfig::Classify(k) => {
            set!(a.n_train, "--n-train", k.n_train);
            set!(a.n_test, "--n-test", k.n_test);
            set!(a.width, "--width", k.model.hidden_dim);
            set!(a.modes, "--modes", k.model.modes);
            set!(a.layers, "--layers", k.model.num_layers);
            if let Some(n) = a.seq_len {
                (k.seq_len, k.model.max_sequence_length) = (n, n);
                given.push("--seq-len");
            }
        }
        TaskConfig::Lm(l) => {
            set!(a.width, "--width", l.model.hidden_dim);
            set!(a.modes, "--modes", l.model.modes);
            set!(a.layers, "--layers", l.model.num_layers);
            set!(a.steps_per_epoch, "--steps-per-epoch", l.steps_per_epoch);
            if let Some(n) = a.seq_len {
                (l.seq_len, l.model.max_sequence_length) = (n, n);
                given.push("--seq-len");
            }
            if let Some(p) = &a.corpus {
                l.corpus = p.display().to_string();
                given.push("--corpus");
            }
        }
    }
    if let Some(e) = a.epochs {
        c.epochs = e;
    }
    c.validate().map_err(|e| e.to_string())?;
    Ok((c, given))
}

fn task_name(t: TaskName) -> &'static str {
    match t {
        TaskName::Burgers => "burgers",
        TaskName::Classify => "classify",
        TaskName::Lm => "lm",
    }
}

/// Runs `spectrans train`.
pub fn run(a: &TrainArgs) -> Result<(), String> {
    set_threads(a.threads)?;
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(task_name(a.task)));
    let (mut config, given) = configure(a)?;
    if a.resume {
        let path = out.join("config.json");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e} (nothing to resume)", path.display()))?;
        let saved = RunConfig::from_json(&text, &path.display().to_string()).map_err(|e| e.to_string())?;
        if saved.task.name() != config.task.name() {
            return Err(format!(
                "{}: the run is a `{}` run, not `{}`",
                path.display(),
                saved.task.name(),
                config.task.name()
            ));
        }
        if let Some(flag) = given.first() {
            return Err(format!(
                "{flag}: cannot change the configuration of a resumed run (only --epochs and --max-steps)"
            ));
        }
        config = RunConfig { epochs: a.epochs.unwrap_or(saved.epochs), ..saved };
        config.validate().map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let corpus = match &config.task {
        TaskConfig::Lm(l) => Some(lm_corpus(l)?),
        _ => None,
    };
    let started = std::time::Instant::now();
    eprintln!(
        "spectrans train {}: preparing the data and the model (run folder {})",
        config.task.name(),
        out.display()
    );
    let task = tasks::build(&config, &Resources { corpus }).map_err(|e| e.to_string())?;
    eprintln!("ready after {:.1} s", started.elapsed().as_secs_f64());
    let opts = TrainOptions {
        resume: a.resume,
        overwrite: a.overwrite,
        max_steps: a.max_steps,
        progress: !a.no_progress,
        inject_nan_at_step: a.inject_nan_at_step,
    };
    let report = trainer::train(task.as_ref(), &config, &out, &opts).map_err(|e| e.to_string())?;
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
    if matches!(config.task, TaskConfig::Lm(_)) {
        print_sample(&out.join("model"))?;
    }
    Ok(())
}

/// Prints a short sample of a trained language model.
fn print_sample(dir: &Path) -> Result<(), String> {
    let loaded = load_folder::<f32>(dir).map_err(|e| e.to_string())?;
    let Model::Decoder(model) = &loaded.model else { return Ok(()) };
    let tok = CharTokenizer::load(dir).map_err(|e| e.to_string())?;
    let prompt = "Ham.\n";
    let Ok(ids) = tok.encode(prompt) else { return Ok(()) };
    let opts = GenerateOptions {
        max_new_tokens: 300,
        sampling: Sampling { temperature: 0.8, top_k: None, top_p: None },
        end_token: None,
        seed: 0,
    };
    let out = model.generate(&ids, &opts).map_err(|e| e.to_string())?;
    println!("sample (temperature 0.8):\n{prompt}{}", tok.decode(&out).map_err(|e| e.to_string())?);
    Ok(())
}
