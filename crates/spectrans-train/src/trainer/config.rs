//! The hyper-parameters of the training loop: optimiser, learning-rate schedule, batching,
//! clipping, evaluation, checkpointing and logging.

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::optim::{Constant, Cosine, LinearWarmup, LrSchedule, StepDecay};

/// The optimiser and its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// `adam` or `adamw`.
    pub kind: OptimizerKind,
    /// Base learning rate.
    pub lr: f64,
    /// Weight decay.
    pub weight_decay: f64,
}

/// The optimisers a run can use (`"adam"` / `"adamw"` in `config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam with L2-coupled weight decay, as the FNO paper.
    Adam,
    /// AdamW: decoupled weight decay.
    AdamW,
}

/// The learning-rate schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScheduleConfig {
    /// The base rate throughout.
    Constant,
    /// Multiply by `gamma` every `every_epochs` epochs (StepLR stepped per epoch).
    StepEpochs {
        /// Epochs between decays.
        every_epochs: u64,
        /// Decay factor.
        gamma: f64,
    },
    /// Linear warm-up for `warmup_steps` (at most 5 % of the run's steps), then cosine annealing
    /// to `min_lr` over the remaining steps.
    WarmupCosine {
        /// Warm-up steps.
        warmup_steps: u64,
        /// Final learning rate.
        min_lr: f64,
    },
}

impl ScheduleConfig {
    /// Checks the schedule's own fields, naming the first invalid one.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, reason: String| Err(TrainError::config("schedule", field, reason));
        match *self {
            ScheduleConfig::Constant => Ok(()),
            ScheduleConfig::StepEpochs { every_epochs, gamma } => {
                if every_epochs == 0 {
                    return bad("every_epochs", "must be at least 1".into());
                }
                if !(gamma.is_finite() && gamma > 0.0) {
                    return bad("gamma", format!("must be finite and > 0, got {gamma}"));
                }
                Ok(())
            }
            ScheduleConfig::WarmupCosine { min_lr, .. } => {
                if !(min_lr.is_finite() && min_lr >= 0.0) {
                    return bad("min_lr", format!("must be finite and >= 0, got {min_lr}"));
                }
                Ok(())
            }
        }
    }

    /// The learning rate at optimiser step `step` (0-based) in epoch `epoch`, for a run of
    /// `total_steps` steps with base rate `lr`.
    ///
    /// ```
    /// use spectrans_train::trainer::ScheduleConfig;
    /// let s = ScheduleConfig::StepEpochs { every_epochs: 100, gamma: 0.5 };
    /// assert_eq!(s.lr_at(1e-3, 12345, 250, 0), 2.5e-4);
    /// ```
    pub fn lr_at(&self, lr: f64, step: u64, epoch: u64, total_steps: u64) -> f64 {
        match *self {
            ScheduleConfig::Constant => Constant { lr }.lr_at(step),
            ScheduleConfig::StepEpochs { every_epochs, gamma } => {
                StepDecay { lr, step_size: every_epochs, gamma }.lr_at(epoch)
            }
            ScheduleConfig::WarmupCosine { warmup_steps, min_lr } => {
                // a short run (e.g. a preset cut to a few epochs) warms up over at most 5 % of it
                let warmup = warmup_steps.min(total_steps / 20);
                LinearWarmup { warmup, inner: Cosine { lr, total: total_steps.saturating_sub(warmup), min_lr } }
                    .lr_at(step)
            }
        }
    }
}

/// The hyper-parameters of the training loop: everything but the task (its data and model).
///
/// ```
/// use spectrans_train::trainer::{OptimizerConfig, OptimizerKind, TrainConfig};
/// let c = TrainConfig {
///     epochs: 20,
///     optimizer: OptimizerConfig { kind: OptimizerKind::Adam, lr: 1e-3, weight_decay: 1e-4 },
///     ..Default::default()
/// };
/// c.validate()?;
/// assert_eq!(c.batch_size, 20);
/// # Ok::<(), spectrans_train::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Seed of the shuffling, the dropout and the sampled batches.
    pub seed: u64,
    /// Number of epochs.
    pub epochs: u64,
    /// Examples per optimiser step.
    pub batch_size: usize,
    /// Optimiser.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule.
    pub schedule: ScheduleConfig,
    /// Clip the global gradient norm to this value (none: no clipping).
    pub grad_clip: Option<f64>,
    /// Evaluate every this many epochs (and after the last).
    pub eval_every: u64,
    /// Write a checkpoint every this many epochs (and after the last).
    pub checkpoint_every: u64,
    /// Checkpoints kept (the oldest are deleted).
    pub keep_checkpoints: usize,
    /// Log the mean training loss every this many steps.
    pub log_every: u64,
}

impl Default for TrainConfig {
    /// 10 epochs of batches of 20 with AdamW (lr 1e-3, weight decay 0.01) at a constant rate,
    /// no clipping, evaluating and checkpointing every epoch, 3 checkpoints kept, logging every
    /// 10 steps, seed 0.
    fn default() -> Self {
        TrainConfig {
            seed: 0,
            epochs: 10,
            batch_size: 20,
            optimizer: OptimizerConfig { kind: OptimizerKind::AdamW, lr: 1e-3, weight_decay: 0.01 },
            schedule: ScheduleConfig::Constant,
            grad_clip: None,
            eval_every: 1,
            checkpoint_every: 1,
            keep_checkpoints: 3,
            log_every: 10,
        }
    }
}

impl TrainConfig {
    /// Checks every hyper-parameter, naming the first invalid one.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, reason: String| Err(TrainError::config("train", field, reason));
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1".into());
        }
        if !(self.optimizer.lr.is_finite() && self.optimizer.lr >= 0.0) {
            return bad("lr", format!("must be finite and >= 0, got {}", self.optimizer.lr));
        }
        if !(self.optimizer.weight_decay.is_finite() && self.optimizer.weight_decay >= 0.0) {
            return bad("weight_decay", format!("must be finite and >= 0, got {}", self.optimizer.weight_decay));
        }
        if let Some(c) = self.grad_clip {
            if !(c.is_finite() && c >= 0.0) {
                return bad("grad_clip", format!("must be finite and >= 0, got {c}"));
            }
        }
        for (field, v) in [
            ("eval_every", self.eval_every),
            ("checkpoint_every", self.checkpoint_every),
            ("log_every", self.log_every),
        ] {
            if v == 0 {
                return bad(field, "must be at least 1".into());
            }
        }
        if self.keep_checkpoints == 0 {
            return bad("keep_checkpoints", "must be at least 1".into());
        }
        self.schedule.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_validates_and_round_trips_through_json() {
        let c = TrainConfig::default();
        c.validate().unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<TrainConfig>(&json).unwrap(), c);
        // an unknown optimiser is rejected when the configuration is read, naming the choices
        let e = serde_json::from_str::<TrainConfig>(&json.replace("\"adamw\"", "\"lbfgs\"")).unwrap_err().to_string();
        assert!(e.contains("lbfgs") && e.contains("adam") && e.contains("adamw"), "{e}");
    }

    #[test]
    fn invalid_hyper_parameters_are_named() {
        type Edit = fn(&mut TrainConfig);
        let cases: [(Edit, &str); 7] = [
            (|c| c.batch_size = 0, "batch_size"),
            (|c| c.optimizer.lr = f64::NAN, "lr"),
            (|c| c.optimizer.weight_decay = -1.0, "weight_decay"),
            (|c| c.eval_every = 0, "eval_every"),
            (|c| c.keep_checkpoints = 0, "keep_checkpoints"),
            (|c| c.grad_clip = Some(f64::INFINITY), "grad_clip"),
            (|c| c.schedule = ScheduleConfig::StepEpochs { every_epochs: 0, gamma: 0.5 }, "every_epochs"),
        ];
        for (edit, field) in cases {
            let mut c = TrainConfig::default();
            edit(&mut c);
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
    }

    #[test]
    fn schedules_follow_their_definitions() {
        let warm = ScheduleConfig::WarmupCosine { warmup_steps: 10, min_lr: 0.0 };
        assert_eq!(warm.lr_at(1.0, 0, 0, 220), 0.1);
        assert_eq!(warm.lr_at(1.0, 10, 0, 220), 1.0);
        assert!((warm.lr_at(1.0, 115, 0, 220) - 0.5).abs() < 1e-12);
        assert_eq!(warm.lr_at(1.0, 220, 0, 220), 0.0);
        // a run of 40 steps warms up over 2
        assert_eq!((warm.lr_at(1.0, 0, 0, 40), warm.lr_at(1.0, 2, 0, 40)), (0.5, 1.0));
        let step = ScheduleConfig::StepEpochs { every_epochs: 2, gamma: 0.5 };
        assert_eq!((step.lr_at(1.0, 999, 1, 0), step.lr_at(1.0, 0, 2, 0)), (1.0, 0.5));
        assert_eq!(ScheduleConfig::Constant.lr_at(0.3, 5, 5, 5), 0.3);
    }
}
