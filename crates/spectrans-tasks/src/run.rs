//! The configuration of a training run (`RUN/config.json`): the task with its data and model,
//! the preset it came from, and the loop's hyper-parameters.

use serde::{Deserialize, Serialize};
use spectrans_train::trainer::{OptimizerConfig, OptimizerKind, ScheduleConfig, TrainConfig};

use crate::error::{Result, TaskError};
use crate::TaskConfig;

/// Everything that determines a training run; saved as `RUN/config.json` and, inside every model
/// folder the run writes, as `training.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The task, its data and its model.
    pub task: TaskConfig,
    /// The preset the run started from (`default`, `paper`, …), for the record.
    pub preset: String,
    /// The training loop: seed, epochs, batch size, optimiser, schedule, clipping, cadence.
    pub train: TrainConfig,
}

impl RunConfig {
    /// The built-in configuration of `task` and `preset`.
    ///
    /// ```
    /// use spectrans_tasks::RunConfig;
    /// let paper = RunConfig::preset("burgers", "paper")?;
    /// assert_eq!((paper.train.epochs, paper.train.batch_size), (500, 20));
    /// assert!(RunConfig::preset("lm", "paper").is_err());
    /// # Ok::<(), spectrans_tasks::TaskError>(())
    /// ```
    pub fn preset(task: &str, preset: &str) -> Result<Self> {
        TaskConfig::preset(task, preset)
    }

    /// Checks the loop's hyper-parameters, the task's data and model, and that the run fits in
    /// memory, naming the first field at fault.
    pub fn validate(&self) -> Result<()> {
        self.train.validate()?;
        self.task.validate()?;
        crate::resources::check(&self.task.footprint()?, self.train.batch_size)
    }

    /// The configuration as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Parses a configuration; `origin` names the source in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| TaskError::File { path: origin.to_string(), reason: format!("not a run configuration: {e}") })
    }
}

/// The recipe of the operator tasks (`burgers`, `darcy`), as the FNO paper: Adam 1e-3 with
/// weight decay 1e-4, batches of 20, no clipping, seed 0, checkpoints at every evaluation.
pub(crate) fn operator_preset(
    task: TaskConfig,
    preset: &str,
    epochs: u64,
    schedule: ScheduleConfig,
    eval_every: u64,
) -> RunConfig {
    RunConfig {
        task,
        preset: preset.into(),
        train: TrainConfig {
            seed: 0,
            epochs,
            batch_size: 20,
            optimizer: OptimizerConfig { kind: OptimizerKind::Adam, lr: 1e-3, weight_decay: 1e-4 },
            schedule,
            grad_clip: None,
            eval_every,
            checkpoint_every: eval_every,
            keep_checkpoints: 3,
            log_every: 10,
        },
    }
}

/// The default recipe of the sequence tasks (`classify`, `lm`): AdamW with weight decay 0.01,
/// linear warm-up then cosine decay to 1e-4, global-norm clipping at 1, batches of 32, seed 0.
pub(crate) fn sequence_preset(
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
        train: TrainConfig {
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
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TASKS;

    #[test]
    fn every_preset_validates_and_round_trips_through_json() {
        let mut count = 0;
        for task in TASKS {
            for preset in ["default", "paper"] {
                let Ok(c) = RunConfig::preset(task, preset) else { continue };
                c.validate().unwrap();
                assert_eq!((c.task.name(), c.preset.as_str()), (*task, preset));
                assert_eq!(RunConfig::from_json(&c.to_json(), "mem").unwrap(), c);
                count += 1;
            }
        }
        assert!(count > TASKS.len(), "every task has a default preset, some a paper one");
        let e = RunConfig::preset("burgers", "huge").unwrap_err().to_string();
        assert!(e.contains("preset") && e.contains("huge") && e.contains("paper"), "{e}");
        let e = RunConfig::preset("vision", "default").unwrap_err().to_string();
        assert!(e.contains("unknown task `vision`") && e.contains("burgers"), "{e}");
        let e = RunConfig::from_json("{}", "cfg.json").unwrap_err().to_string();
        assert!(e.starts_with("cfg.json: not a run configuration"), "{e}");
    }

    #[test]
    fn invalid_fields_are_named() {
        let mut c = RunConfig::preset("burgers", "default").unwrap();
        c.train.batch_size = 0;
        assert!(c.validate().unwrap_err().to_string().contains("batch_size"));
        let json = RunConfig::preset("classify", "default").unwrap().to_json().replace("\"preset\"", "\"presett\"");
        let e = RunConfig::from_json(&json, "cfg.json").unwrap_err().to_string();
        assert!(e.contains("presett"), "{e}");
    }
}
