//! The built-in training tasks, which need no download:
//!
//! - [`burgers`]: the Burgers solution operator u(·,0) ↦ u(·,1) (FNO paper recipe) with an
//!   `FNOOperator`, relative L2 loss;
//! - [`classify`]: which of K frequency bands dominates a noisy quantised signal, with an
//!   `FNOTransformer` (mean pooling), accuracy;
//! - [`lm`]: character-level language modelling with the causal `FNODecoder`, bits per character.

pub mod burgers;
pub mod classify;
pub mod lm;

pub use burgers::{BurgersConfig, BurgersTask};
pub use classify::{ClassifyConfig, ClassifyTask};
pub use lm::{LmConfig, LmTask};

use crate::error::Result;
use crate::trainer::{OptimizerConfig, OptimizerKind, RunConfig, ScheduleConfig, Task, TaskConfig};

/// What a task may need from outside its configuration.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// The text of the language-model corpus (the CLI embeds the shipped one).
    pub corpus: Option<String>,
}

/// Builds the task (data and freshly initialised model, seeded by `config.seed`) of a run.
pub fn build(config: &RunConfig, resources: &Resources) -> Result<Box<dyn Task>> {
    Ok(match &config.task {
        TaskConfig::Burgers(c) => Box::new(BurgersTask::new(c, config.seed)?),
        TaskConfig::Classify(c) => Box::new(ClassifyTask::new(c, config.seed)?),
        TaskConfig::Lm(c) => Box::new(LmTask::new(c, config.seed, resources)?),
    })
}

/// The default recipe of the sequence tasks (`classify`, `lm`): AdamW with weight decay 0.01,
/// linear warm-up then cosine decay to 1e-4, global-norm clipping at 1, batches of 32, seed 0.
fn sequence_preset(
    task: TaskConfig,
    epochs: u64,
    lr: f64,
    warmup_steps: u64,
    eval_every: u64,
    checkpoint_every: u64,
) -> RunConfig {
    RunConfig {
        task,
        preset: "default".into(),
        seed: 0,
        epochs,
        batch_size: 32,
        optimizer: OptimizerConfig { kind: OptimizerKind::AdamW, lr, weight_decay: 0.01 },
        schedule: ScheduleConfig::WarmupCosine { warmup_steps, min_lr: 1e-4 },
        grad_clip: Some(1.0),
        eval_every,
        checkpoint_every,
        keep_checkpoints: 3,
        log_every: 10,
    }
}
