//! # spectrans-tasks
//!
//! The built-in training tasks of spectrans, which need no download, as clients of the training
//! library (`spectrans-train`) and the PDE data (`spectrans-data`):
//!
//! - [`burgers`]: the Burgers solution operator u(·,0) ↦ u(·,1) (FNO paper recipe) with an
//!   `FNOOperator`, relative L2 loss;
//! - [`classify`]: which of K frequency bands dominates a noisy quantised signal, with an
//!   `FNOTransformer` (mean pooling), accuracy;
//! - [`lm`]: character-level language modelling with the causal `FNODecoder`, bits per character;
//! - [`darcy`]: the 2-D Darcy flow operator a ↦ u (FNO paper, Table 4) with a 2-D `FNOOperator`
//!   and the paper's Gaussian normalisation, relative L2 loss.
//!
//! A run is a [`RunConfig`] (task, preset, loop hyper-parameters): [`train`] runs it in a folder,
//! [`evaluate`] scores a model folder it wrote. Adding a task is one module implementing
//! [`TaskKind`] plus one line in the registry below, which the CLI reads.
//!
//! ```no_run
//! use spectrans_tasks::{train, RunConfig, RunOptions};
//! let mut config = RunConfig::preset("burgers", "default")?;
//! config.train.epochs = 5;
//! let outcome = train(&config, "runs/burgers".as_ref(), &RunOptions::default())?;
//! println!("{}", outcome.report.summary);
//! # Ok::<(), spectrans_tasks::TaskError>(())
//! ```

#![warn(missing_docs)]

#[macro_use]
pub mod registry;

pub mod burgers;
pub mod classify;
pub mod darcy;
mod error;
pub mod lm;
mod model_folder;
pub mod normalizer;
pub mod resources;
mod run;
mod runner;

pub use error::{Result, TaskError};
pub use registry::{EvalOptions, Overrides, TaskKind};
pub use run::RunConfig;
pub use runner::{evaluate, resume_config, train, RunOptions, RunOutcome, TRAINING_FILE};

registry! {
    /// Learn the Burgers solution operator u(·,0) ↦ u(·,1) with an `FNOOperator`.
    Burgers => burgers::Burgers,
    /// Synthetic sequence classification (dominant frequency band) with an `FNOTransformer`.
    Classify => classify::Classify,
    /// Character-level language modelling with the causal `FNODecoder`.
    Lm => lm::Lm,
    /// Learn the 2-D Darcy flow operator a ↦ u with a 2-D `FNOOperator`.
    Darcy => darcy::Darcy,
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_names_match_the_json_tags() {
        for task in TASKS {
            let c = RunConfig::preset(task, "default").unwrap();
            let json: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
            assert_eq!(json["task"]["name"], *task);
        }
        assert_eq!(TASKS.len(), TASK_ABOUT.len());
    }
}
