//! Command-line parsing and dispatch.

mod bench;
mod convert;
mod eval;
mod forward;
mod generate;
mod info;
mod train;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Spectral transformers built on the Fourier Neural Operator.
#[derive(Parser)]
#[command(name = "spectrans", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Floating-point precision of a run.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Precision {
    /// 32-bit floats.
    F32,
    /// 64-bit floats.
    F64,
}

#[derive(Subcommand)]
enum Command {
    /// Run a model folder on `input_ids` (I64) or `inputs_embeds` (F32/F64) read from a safetensors
    /// file (optional `attention_mask`, I64 0/1, shape (B, N)); writes `output` (F32) to a
    /// safetensors file.
    Forward {
        /// Model folder: config.json and model.safetensors (or model.pt, model.pth,
        /// pytorch_model.bin saved by torch.save).
        #[arg(long)]
        model: PathBuf,
        /// Input safetensors file.
        #[arg(long)]
        input: PathBuf,
        /// Output safetensors file.
        #[arg(long)]
        output: PathBuf,
        /// Precision of the computation.
        #[arg(long, value_enum, default_value = "f32")]
        dtype: Precision,
        /// For a folder holding only config.json: initialise the model randomly with this seed.
        #[arg(long)]
        init_seed: Option<u64>,
        /// Test every module's output for NaN and infinities; the first one found is an error
        /// naming the module (e.g. `blocks.2`).
        #[arg(long)]
        check_finite: bool,
    },
    /// Sample text from a character-level decoder folder (config.json, model.safetensors,
    /// tokenizer.json); prints the prompt followed by the generated text.
    Generate {
        /// Model folder with a tokenizer.json.
        #[arg(long)]
        model: PathBuf,
        /// Text to continue.
        #[arg(long)]
        prompt: String,
        /// Characters to generate at most.
        #[arg(long, default_value_t = 200)]
        max_new_tokens: usize,
        /// Softmax temperature; 0 = greedy.
        #[arg(long, default_value_t = 0.8)]
        temperature: f64,
        /// Sample from the k most likely characters only.
        #[arg(long)]
        top_k: Option<usize>,
        /// Nucleus sampling threshold in (0, 1].
        #[arg(long)]
        top_p: Option<f64>,
        /// Stop after this character.
        #[arg(long)]
        stop: Option<char>,
        /// Seed of the sampling stream.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Time the peer benchmark cases (forward and AdamW training step), one JSON line per case;
    /// compare with `python3 ../shared/peer/bench_torch.py` run in the same session. Threads:
    /// `RAYON_NUM_THREADS` (default: all cores); repetitions: `REPS` (default 5).
    Bench {
        /// Case names (default: all).
        cases: Vec<String>,
        /// Another cases file with the peer's format.
        #[arg(long)]
        cases_file: Option<PathBuf>,
        /// Time only the forward pass or only the train step (for profiling one of them).
        #[arg(long, value_enum)]
        only: Option<bench::Phases>,
    },
    /// Write model.safetensors (same keys, float precision kept) from a model folder's PyTorch
    /// weights (model.pt, model.pth or pytorch_model.bin, saved by torch.save), after checking that
    /// they fit its config.json.
    Convert {
        /// Model folder.
        #[arg(long)]
        model: PathBuf,
        /// Replace an existing model.safetensors.
        #[arg(long)]
        force: bool,
    },
    /// Print a model folder's configuration, the weights file read, parameter counts per module
    /// and FLOPs per token.
    Info {
        /// Model folder.
        #[arg(long)]
        model: PathBuf,
        /// Sequence length for the FLOP estimate (default: max_sequence_length).
        #[arg(long)]
        seq_len: Option<usize>,
    },
    /// Train a built-in task (burgers, classify, lm, darcy) into a run folder: metrics.jsonl, plots,
    /// resumable checkpoints, and the final model in RUN/model.
    Train(Box<train::TrainArgs>),
    /// Metrics of a model folder written by `train` (e.g. RUN/model); burgers and darcy models
    /// also at other resolutions of their solver grid (zero-shot super-resolution).
    Eval {
        /// Model folder (with training.json).
        #[arg(long)]
        model: PathBuf,
        /// burgers, darcy: evaluation resolution (default: the training one).
        #[arg(long)]
        resolution: Option<usize>,
        /// burgers, darcy: data cache folder (default: the training run's).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// lm: corpus file (default: the training run's).
        #[arg(long)]
        corpus: Option<PathBuf>,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
}

/// Parses the command line and runs the command.
pub fn run() -> Result<(), String> {
    let cli = Cli::parse();
    match cli.command {
        Command::Forward { model, input, output, dtype, init_seed, check_finite } => {
            let opts = forward::Options { init_seed, check_finite };
            match dtype {
                Precision::F32 => forward::run::<f32>(&model, &input, &output, &opts),
                Precision::F64 => forward::run::<f64>(&model, &input, &output, &opts),
            }
        }
        Command::Generate { model, prompt, max_new_tokens, temperature, top_k, top_p, stop, seed } => {
            let sampling = spectrans_models::Sampling { temperature, top_k, top_p };
            generate::run(&model, &prompt, max_new_tokens, sampling, stop, seed)
        }
        Command::Info { model, seq_len } => info::run(&model, seq_len),
        Command::Convert { model, force } => convert::run(&model, force),
        Command::Bench { cases, cases_file, only } => bench::run(&cases, cases_file.as_deref(), only),
        Command::Train(args) => train::run(&args),
        Command::Eval { model, resolution, data_dir, corpus, threads } => {
            train::set_threads(threads)?;
            eval::run(&model, resolution, data_dir, corpus.as_deref())
        }
    }
}
