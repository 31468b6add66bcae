//! The configuration of a training run (`RUN/config.json`): the task with its data and model,
//! and every hyper-parameter of the loop, with the built-in presets.

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::optim::{Constant, Cosine, LinearWarmup, LrSchedule, StepDecay};
use crate::tasks::{BurgersConfig, ClassifyConfig, LmConfig};

/// Which task a run trains, with its data and model configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum TaskConfig {
    /// Learn the Burgers solution operator u(·,0) ↦ u(·,1) with an `FNOOperator`.
    Burgers(BurgersConfig),
    /// Synthetic sequence classification (dominant frequency band) with an `FNOTransformer`.
    Classify(ClassifyConfig),
    /// Character-level language modelling with the causal `FNODecoder`.
    Lm(LmConfig),
}

impl TaskConfig {
    /// The task's name (`burgers`, `classify`, `lm`).
    pub fn name(&self) -> &'static str {
        match self {
            TaskConfig::Burgers(_) => "burgers",
            TaskConfig::Classify(_) => "classify",
            TaskConfig::Lm(_) => "lm",
        }
    }
}

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
    /// Linear warm-up for `warmup_steps`, then cosine annealing to `min_lr` over the remaining steps.
    WarmupCosine {
        /// Warm-up steps.
        warmup_steps: u64,
        /// Final learning rate.
        min_lr: f64,
    },
}

impl ScheduleConfig {
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
            ScheduleConfig::WarmupCosine { warmup_steps, min_lr } => LinearWarmup {
                warmup: warmup_steps,
                inner: Cosine { lr, total: total_steps.saturating_sub(warmup_steps), min_lr },
            }
            .lr_at(step),
        }
    }
}

/// Everything that determines a training run; saved as `RUN/config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The task, its data and its model.
    pub task: TaskConfig,
    /// The preset the run started from (`default` or `paper`), for the record.
    pub preset: String,
    /// Seed of the model initialisation, the shuffling, the dropout and the sampled windows.
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

impl RunConfig {
    /// The built-in configuration of `task` (`burgers`, `classify`, `lm`) and `preset`
    /// (`default`, or `paper` for burgers).
    ///
    /// ```
    /// use spectrans_train::trainer::RunConfig;
    /// let paper = RunConfig::preset("burgers", "paper")?;
    /// assert_eq!((paper.epochs, paper.batch_size), (500, 20));
    /// assert!(RunConfig::preset("lm", "paper").is_err());
    /// # Ok::<(), spectrans_train::TrainError>(())
    /// ```
    pub fn preset(task: &str, preset: &str) -> Result<Self> {
        let unknown = || {
            TrainError::config(
                "train",
                "preset",
                format!("task `{task}` has no preset `{preset}` (known: default, and paper for burgers)"),
            )
        };
        match (task, preset) {
            ("burgers", "default") => Ok(crate::tasks::burgers::preset_default()),
            ("burgers", "paper") => Ok(crate::tasks::burgers::preset_paper()),
            ("classify", "default") => Ok(crate::tasks::classify::preset_default()),
            ("lm", "default") => Ok(crate::tasks::lm::preset_default()),
            ("burgers" | "classify" | "lm", _) => Err(unknown()),
            _ => Err(TrainError::config(
                "train",
                "task",
                format!("unknown task `{task}` (known: burgers, classify, lm)"),
            )),
        }
    }

    /// Checks the loop's hyper-parameters, naming the first invalid one.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, reason: String| Err(TrainError::config("train", field, reason));
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1".into());
        }
        if !(self.optimizer.lr.is_finite() && self.optimizer.lr >= 0.0) {
            return bad("lr", format!("must be finite and >= 0, got {}", self.optimizer.lr));
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
        // the task's data and model (a hand-edited run config is read without other checks)
        match &self.task {
            TaskConfig::Burgers(b) => {
                b.spec().validate()?;
                spectrans_models::ModelConfig::Operator(b.model.clone()).validate()?;
            }
            TaskConfig::Classify(k) => spectrans_models::ModelConfig::Transformer(k.model.clone()).validate()?,
            TaskConfig::Lm(l) => {
                let model =
                    spectrans_models::FnoDecoderConfig { vocab_size: l.model.vocab_size.max(1), ..l.model.clone() };
                spectrans_models::ModelConfig::Decoder(model).validate()?;
            }
        }
        super::resources::check(self)
    }

    /// The configuration as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Parses a configuration; `origin` names the source in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| TrainError::format(origin, format!("not a run configuration: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_round_trip_through_json() {
        for (task, preset) in [("burgers", "default"), ("burgers", "paper"), ("classify", "default"), ("lm", "default")]
        {
            let c = RunConfig::preset(task, preset).unwrap();
            c.validate().unwrap();
            assert_eq!(c.task.name(), task);
            assert_eq!(RunConfig::from_json(&c.to_json(), "mem").unwrap(), c);
        }
        let e = RunConfig::preset("burgers", "huge").unwrap_err().to_string();
        assert!(e.contains("preset") && e.contains("huge"), "{e}");
        let e = RunConfig::preset("vision", "default").unwrap_err().to_string();
        assert!(e.contains("unknown task `vision`"), "{e}");
        let e = RunConfig::from_json("{}", "cfg.json").unwrap_err().to_string();
        assert!(e.starts_with("cfg.json: not a run configuration"), "{e}");
        // an unknown optimiser is rejected when the configuration is read, naming the choices
        let json = RunConfig::preset("burgers", "default").unwrap().to_json().replace("\"adam\"", "\"lbfgs\"");
        let e = RunConfig::from_json(&json, "cfg.json").unwrap_err().to_string();
        assert!(e.contains("lbfgs") && e.contains("adam") && e.contains("adamw"), "{e}");
    }

    #[test]
    fn invalid_hyper_parameters_are_named() {
        let base = RunConfig::preset("burgers", "default").unwrap();
        type Edit = fn(&mut RunConfig);
        let cases: [(Edit, &str); 4] = [
            (|c| c.batch_size = 0, "batch_size"),
            (|c| c.optimizer.lr = f64::NAN, "lr"),
            (|c| c.eval_every = 0, "eval_every"),
            (|c| c.keep_checkpoints = 0, "keep_checkpoints"),
        ];
        for (edit, field) in cases {
            let mut c = base.clone();
            edit(&mut c);
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
    }

    #[test]
    fn schedules_follow_their_definitions() {
        let warm = ScheduleConfig::WarmupCosine { warmup_steps: 10, min_lr: 0.0 };
        assert_eq!(warm.lr_at(1.0, 0, 0, 110), 0.1);
        assert_eq!(warm.lr_at(1.0, 10, 0, 110), 1.0);
        assert!((warm.lr_at(1.0, 60, 0, 110) - 0.5).abs() < 1e-12);
        assert_eq!(warm.lr_at(1.0, 110, 0, 110), 0.0);
        let step = ScheduleConfig::StepEpochs { every_epochs: 2, gamma: 0.5 };
        assert_eq!((step.lr_at(1.0, 999, 1, 0), step.lr_at(1.0, 0, 2, 0)), (1.0, 0.5));
        assert_eq!(ScheduleConfig::Constant.lr_at(0.3, 5, 5, 5), 0.3);
    }
}
