//! The registry of built-in tasks: one [`TaskKind`] per task module and one line per task in
//! the `registry!` invocation of `lib.rs`, which generates [`TaskConfig`](crate::TaskConfig) and the
//! dispatch the runner and the CLI use. Adding a task is one new module plus one line there.

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;
use spectrans_train::trainer::Task;

use crate::error::{Result, TaskError};
use crate::resources::Footprint;
use crate::RunConfig;

/// Options a user may set on top of a preset (the CLI's task flags). Each task applies those it
/// understands and lists them in [`TaskKind::OPTIONS`]; any other one given is refused by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// `--n-train`: training samples.
    pub n_train: Option<usize>,
    /// `--n-test`: test samples.
    pub n_test: Option<usize>,
    /// `--resolution`: training resolution (operator tasks).
    pub resolution: Option<usize>,
    /// `--resolution-fine`: the solver grid (operator tasks).
    pub resolution_fine: Option<usize>,
    /// `--time-steps`: ETDRK4 steps (burgers).
    pub time_steps: Option<usize>,
    /// `--data-dir`: the data cache folder (operator tasks).
    pub data_dir: Option<PathBuf>,
    /// `--width`: model width or hidden dimension.
    pub width: Option<usize>,
    /// `--modes`: Fourier modes.
    pub modes: Option<usize>,
    /// `--layers`: number of layers.
    pub layers: Option<usize>,
    /// `--seq-len`: sequence length (sequence tasks).
    pub seq_len: Option<usize>,
    /// `--steps-per-epoch` (tasks that sample their own batches).
    pub steps_per_epoch: Option<u64>,
    /// `--corpus`: a text file (lm).
    pub corpus: Option<PathBuf>,
}

/// Replaces `target` by `value` when it is given.
fn set<T: Clone>(target: &mut T, value: &Option<T>) {
    if let Some(v) = value {
        *target = v.clone();
    }
}

impl Overrides {
    /// Applies `--n-train`, `--n-test` and `--data-dir` (the data of an operator task).
    pub fn apply_data(&self, n_train: &mut usize, n_test: &mut usize, data_dir: &mut PathBuf) {
        set(n_train, &self.n_train);
        set(n_test, &self.n_test);
        set(data_dir, &self.data_dir);
    }

    /// Applies `--width`, `--modes` and `--layers` to a model's width, modes and layer count.
    pub fn apply_model(&self, width: &mut usize, modes: &mut usize, layers: &mut usize) {
        set(width, &self.width);
        set(modes, &self.modes);
        set(layers, &self.layers);
    }

    /// The flags given, by name (`--n-train`, …).
    pub fn given(&self) -> Vec<&'static str> {
        [
            ("--n-train", self.n_train.is_some()),
            ("--n-test", self.n_test.is_some()),
            ("--resolution", self.resolution.is_some()),
            ("--resolution-fine", self.resolution_fine.is_some()),
            ("--time-steps", self.time_steps.is_some()),
            ("--data-dir", self.data_dir.is_some()),
            ("--width", self.width.is_some()),
            ("--modes", self.modes.is_some()),
            ("--layers", self.layers.is_some()),
            ("--seq-len", self.seq_len.is_some()),
            ("--steps-per-epoch", self.steps_per_epoch.is_some()),
            ("--corpus", self.corpus.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect()
    }
}

/// How to evaluate a trained model folder.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalOptions {
    /// Evaluate an operator at this resolution (zero-shot super-resolution).
    pub resolution: Option<usize>,
    /// Read or write the data cache here instead of the run's folder.
    pub data_dir: Option<PathBuf>,
    /// Evaluate a language model on this corpus.
    pub corpus: Option<PathBuf>,
}

/// One built-in task: its configuration type, presets, options, and how to build, size and
/// evaluate it.
pub trait TaskKind {
    /// The task's data and model configuration (`"task"` in `config.json`).
    type Config: Serialize + DeserializeOwned + Clone + PartialEq + Debug;
    /// The name on the command line and in `config.json`.
    const NAME: &'static str;
    /// One line for `--help`.
    const ABOUT: &'static str;
    /// The presets, `default` first.
    const PRESETS: &'static [&'static str];
    /// The [`Overrides`] flags the task applies.
    const OPTIONS: &'static [&'static str];

    /// The run configuration of `preset` (one of [`TaskKind::PRESETS`]).
    fn preset(preset: &str) -> Option<RunConfig>;
    /// Applies the options of [`TaskKind::OPTIONS`] that are set.
    fn apply(config: &mut Self::Config, overrides: &Overrides) -> Result<()>;
    /// Checks the data and model configuration, naming the first invalid field.
    fn validate(config: &Self::Config) -> Result<()>;
    /// What a training step and the data hold in memory, for the check before a run.
    fn footprint(config: &Self::Config) -> Result<Footprint>;
    /// The task of a run, with data and a freshly initialised model (seeded by `seed`).
    fn build(config: &Self::Config, seed: u64) -> Result<Box<dyn Task<f32>>>;
    /// The one-line evaluation of a trained model folder.
    fn evaluate(config: &Self::Config, model_dir: &Path, options: &EvalOptions) -> Result<String>;
    /// Something to show after a finished run (the language model prints a sample).
    fn after_training(_config: &Self::Config, _model_dir: &Path) -> Result<Option<String>> {
        Ok(None)
    }
}

/// Refuses the options given that `K` does not apply.
pub(crate) fn check_options<K: TaskKind>(overrides: &Overrides) -> Result<()> {
    match overrides.given().into_iter().find(|flag| !K::OPTIONS.contains(flag)) {
        Some(flag) => {
            Err(TaskError::config("train", "options", format!("{flag} does not apply to the {} task", K::NAME)))
        }
        None => Ok(()),
    }
}

/// Generates [`TaskConfig`](crate::TaskConfig) (one variant per task, tagged by its name in
/// JSON), [`TASKS`](crate::TASKS) and the dispatch to each task's [`TaskKind`].
macro_rules! registry {
    ($($(#[$doc:meta])* $variant:ident => $kind:ty),* $(,)?) => {
        /// Which task a run trains, with its data and model configuration (`"name"` tags it).
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "name", rename_all = "lowercase")]
        pub enum TaskConfig {
            $($(#[$doc])* $variant(<$kind as $crate::TaskKind>::Config),)*
        }

        /// The names of the built-in tasks, as the CLI takes them.
        pub const TASKS: &[&str] = &[$(<$kind as $crate::TaskKind>::NAME),*];

        /// The one-line descriptions of [`TASKS`], in the same order.
        pub const TASK_ABOUT: &[&str] = &[$(<$kind as $crate::TaskKind>::ABOUT),*];

        impl TaskConfig {
            /// The task's name.
            pub fn name(&self) -> &'static str {
                match self { $(TaskConfig::$variant(_) => <$kind as $crate::TaskKind>::NAME,)* }
            }

            /// The run configuration of `task` and `preset`.
            pub fn preset(task: &str, preset: &str) -> $crate::Result<$crate::RunConfig> {
                $(if task == <$kind as $crate::TaskKind>::NAME {
                    return <$kind as $crate::TaskKind>::preset(preset).ok_or_else(|| $crate::TaskError::config(
                        "train",
                        "preset",
                        format!("task `{task}` has no preset `{preset}` (known: {})",
                            <$kind as $crate::TaskKind>::PRESETS.join(", ")),
                    ));
                })*
                Err($crate::TaskError::config("train", "task", format!("unknown task `{task}` (known: {})", TASKS.join(", "))))
            }

            /// Applies command-line options, refusing those the task does not take.
            pub fn apply(&mut self, overrides: &$crate::Overrides) -> $crate::Result<()> {
                match self { $(TaskConfig::$variant(c) => {
                    $crate::registry::check_options::<$kind>(overrides)?;
                    <$kind as $crate::TaskKind>::apply(c, overrides)
                })* }
            }

            /// Checks the task's data and model configuration.
            pub fn validate(&self) -> $crate::Result<()> {
                match self { $(TaskConfig::$variant(c) => <$kind as $crate::TaskKind>::validate(c),)* }
            }

            /// The task's memory footprint.
            pub fn footprint(&self) -> $crate::Result<$crate::resources::Footprint> {
                match self { $(TaskConfig::$variant(c) => <$kind as $crate::TaskKind>::footprint(c),)* }
            }

            /// Builds the task with a model initialised from `seed`.
            pub fn build(&self, seed: u64) -> $crate::Result<Box<dyn spectrans_train::trainer::Task<f32>>> {
                match self { $(TaskConfig::$variant(c) => <$kind as $crate::TaskKind>::build(c, seed),)* }
            }

            /// Evaluates a trained model folder of this task.
            pub fn evaluate(&self, model_dir: &std::path::Path, options: &$crate::EvalOptions) -> $crate::Result<String> {
                match self { $(TaskConfig::$variant(c) => <$kind as $crate::TaskKind>::evaluate(c, model_dir, options),)* }
            }

            /// What to show after a finished run.
            pub fn after_training(&self, model_dir: &std::path::Path) -> $crate::Result<Option<String>> {
                match self { $(TaskConfig::$variant(c) => <$kind as $crate::TaskKind>::after_training(c, model_dir),)* }
            }
        }
    };
}
