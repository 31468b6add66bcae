//! Command-line parsing and dispatch.

mod bench;
mod forward;
mod info;

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
        /// Model folder: config.json and model.safetensors.
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
    },
    /// Print a model folder's configuration, parameter counts per module and FLOPs per token.
    Info {
        /// Model folder.
        #[arg(long)]
        model: PathBuf,
        /// Sequence length for the FLOP estimate (default: max_sequence_length).
        #[arg(long)]
        seq_len: Option<usize>,
    },
}

/// Parses the command line and runs the command.
pub fn run() -> Result<(), String> {
    let cli = Cli::parse();
    match cli.command {
        Command::Forward { model, input, output, dtype } => match dtype {
            Precision::F32 => forward::run::<f32>(&model, &input, &output),
            Precision::F64 => forward::run::<f64>(&model, &input, &output),
        },
        Command::Info { model, seq_len } => info::run(&model, seq_len),
        Command::Bench { cases, cases_file } => bench::run(&cases, cases_file.as_deref()),
    }
}
