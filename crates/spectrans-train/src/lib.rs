//! # spectrans-train
//!
//! The training library of the spectrans stack of Fourier Neural Operator transformers, for any
//! [`Module`](spectrans_layers::Module) in f32 or f64:
//!
//! - [`optim`]: [`Sgd`](optim::Sgd), [`Adam`](optim::Adam) and [`AdamW`](optim::AdamW) with
//!   PyTorch's exact update rules, parameter groups, learning-rate schedules, gradient clipping
//!   and resumable optimiser state (safetensors).
//! - [`metrics`]: relative L2 error (the FNO loss, differentiable), accuracy, perplexity, bits
//!   per character.
//! - [`trainer`]: the training loop [`Trainer`](trainer::Trainer), generic over a [`Task`](trainer::Task)
//!   (a module, the loss of a batch, an evaluation; [`FnTask`](trainer::FnTask) from closures) —
//!   seeded shuffling, schedules, clipping, periodic evaluation, `metrics.jsonl`, progress bars,
//!   SVG/PNG plots, atomic resumable checkpoints, divergence stop.
//!
//! PDE data generators live in `spectrans-data`; the built-in tasks (Burgers, Darcy,
//! classification, language model) in `spectrans-tasks`.
//!
//! ```
//! use spectrans_tensor::{Parameter, Tape, Tensor};
//! use spectrans_train::optim::{AdamW, AdamWConfig, LrSchedule, Optimizer, StepDecay};
//! let w = Parameter::new(Tensor::<f32>::from_vec(vec![1.0, -1.0], &[2])?);
//! let mut opt = AdamW::new(vec![w.clone()], AdamWConfig { lr: 1e-2, ..Default::default() })?;
//! let schedule = StepDecay { lr: 1e-2, step_size: 100, gamma: 0.5 };
//! for step in 0..3 {
//!     opt.set_lr(schedule.lr_at(step));
//!     opt.zero_grad();
//!     let tape = Tape::new();
//!     let x = tape.watch(&w);
//!     x.mul(&x)?.sum(&[], false)?.backward()?;
//!     opt.step()?;
//! }
//! assert!(w.value().data()[0] < 1.0);
//! # Ok::<(), spectrans_train::TrainError>(())
//! ```

#![warn(missing_docs)]

mod error;
pub mod metrics;
pub mod optim;
pub mod trainer;

pub use error::{Result, TrainError};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
