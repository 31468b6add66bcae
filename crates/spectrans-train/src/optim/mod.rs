//! Optimisers with PyTorch's exact update rules, parameter groups, learning-rate schedules,
//! gradient clipping, and resumable optimiser state.
//!
//! Every optimiser reads [`Parameter::grad`] and writes through [`Parameter::update`]; a parameter
//! without a gradient is skipped (its state is untouched), as in `torch.optim`. Hyper-parameters
//! are `f64`; the per-element arithmetic runs in the parameter's element type, in the order of
//! torch's single-tensor (`foreach=False`) implementation, so trajectories agree with PyTorch to
//! rounding.

mod adam;
mod clip;
mod schedule;
mod sgd;
mod state;

pub use adam::{Adam, AdamConfig, AdamW, AdamWConfig};
pub use clip::{clip_grad_norm, grad_norm};
pub use schedule::{Constant, Cosine, LinearWarmup, LrSchedule, StepDecay};
pub use sgd::{Sgd, SgdConfig};
pub use state::{OptimState, ParamState};

use rayon::prelude::*;
use spectrans_tensor::{Float, Parameter};

use crate::error::{Result, TrainError};

/// An optimiser: updates its parameters from their accumulated gradients.
pub trait Optimizer<T: Float> {
    /// Applies one update to every parameter that has a gradient (others are skipped, as in torch).
    fn step(&mut self) -> Result<()>;
    /// Forgets the gradients of every parameter.
    fn zero_grad(&self);
    /// The base learning rate (each group uses it times its [`ParamGroup::lr_scale`]).
    fn lr(&self) -> f64;
    /// Sets the base learning rate of all groups (each still scaled by its group multiplier).
    /// An invalid rate (negative or not finite) is reported by the next [`Optimizer::step`].
    fn set_lr(&mut self, lr: f64);
    /// A snapshot of the optimiser state (per-parameter step counts and moment buffers, in the
    /// order the parameters were given), for resumable checkpoints.
    fn state(&self) -> OptimState<T>;
    /// Restores a snapshot taken by [`Optimizer::state`] of an optimiser of the same kind over
    /// parameters of the same shapes; an error names the first mismatch.
    fn load_state(&mut self, state: OptimState<T>) -> Result<()>;
}

/// A set of parameters sharing hyper-parameter overrides (e.g. no weight decay on norms and biases).
#[derive(Debug, Clone)]
pub struct ParamGroup<T: Float> {
    /// The parameters of the group.
    pub params: Vec<Parameter<T>>,
    /// Weight decay for this group; `None` uses the optimiser's.
    pub weight_decay: Option<f64>,
    /// Multiplier of the optimiser's base learning rate for this group.
    pub lr_scale: f64,
}

impl<T: Float> ParamGroup<T> {
    /// A group with the optimiser's weight decay and the base learning rate.
    ///
    /// ```
    /// use spectrans_tensor::{Parameter, Tensor};
    /// use spectrans_train::optim::ParamGroup;
    /// let bias = Parameter::new(Tensor::<f32>::zeros(&[4]));
    /// let g = ParamGroup::new(vec![bias]).with_weight_decay(0.0).with_lr_scale(0.5);
    /// assert_eq!((g.weight_decay, g.lr_scale), (Some(0.0), 0.5));
    /// ```
    pub fn new(params: Vec<Parameter<T>>) -> Self {
        ParamGroup { params, weight_decay: None, lr_scale: 1.0 }
    }

    /// Overrides the weight decay of this group.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = Some(weight_decay);
        self
    }

    /// Sets the learning-rate multiplier of this group.
    pub fn with_lr_scale(mut self, lr_scale: f64) -> Self {
        self.lr_scale = lr_scale;
        self
    }
}

/// Checks that `v` is finite and non-negative.
pub(crate) fn check_non_negative(owner: &'static str, field: &'static str, v: f64) -> Result<()> {
    if !v.is_finite() || v < 0.0 {
        return Err(TrainError::config(owner, field, format!("must be finite and >= 0, got {v}")));
    }
    Ok(())
}

/// Validates the groups' overrides and rejects a parameter listed twice.
pub(crate) fn check_groups<T: Float>(owner: &'static str, groups: &[ParamGroup<T>]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (gi, g) in groups.iter().enumerate() {
        check_non_negative(owner, "lr_scale", g.lr_scale)?;
        if let Some(wd) = g.weight_decay {
            check_non_negative(owner, "weight_decay", wd)?;
        }
        for (pi, p) in g.params.iter().enumerate() {
            if !seen.insert(p.id()) {
                return Err(TrainError::config(
                    owner,
                    "params",
                    format!("parameter {pi} of group {gi} ({p:?}) appears more than once"),
                ));
            }
        }
    }
    Ok(())
}

/// Parameters of all groups in order, each with its group's effective (lr scale, weight decay).
pub(crate) fn flat<T: Float>(groups: &[ParamGroup<T>], default_wd: f64) -> Vec<(Parameter<T>, f64, f64)> {
    groups
        .iter()
        .flat_map(|g| g.params.iter().map(move |p| (p.clone(), g.lr_scale, g.weight_decay.unwrap_or(default_wd))))
        .collect()
}

/// Below this many elements an update runs on the calling thread.
const PAR_MIN: usize = 1 << 15;
/// Chunk length of a parallel update (element-wise, so the split never changes results).
const CHUNK: usize = 1 << 13;

/// Runs the element-wise `kernel(value, grad, state_a, state_b)` over aligned chunks, in parallel
/// for large parameters. `a` and `b` are either as long as `value` or empty.
pub(crate) fn for_chunks<T: Float>(
    value: &mut [T],
    grad: &[T],
    a: &mut [T],
    b: &mut [T],
    kernel: impl Fn(&mut [T], &[T], &mut [T], &mut [T]) + Sync,
) {
    let n = value.len();
    debug_assert!(grad.len() == n && (a.is_empty() || a.len() == n) && (b.is_empty() || b.len() == n));
    if n < PAR_MIN {
        kernel(value, grad, a, b);
        return;
    }
    let chunks = n.div_ceil(CHUNK);
    fn split<T>(s: &mut [T], chunks: usize) -> Vec<&mut [T]> {
        if s.is_empty() {
            (0..chunks).map(|_| &mut [][..]).collect()
        } else {
            s.chunks_mut(CHUNK).collect()
        }
    }
    let (av, bv) = (split(a, chunks), split(b, chunks));
    value
        .par_chunks_mut(CHUNK)
        .zip(grad.par_chunks(CHUNK))
        .zip(av)
        .zip(bv)
        .for_each(|(((v, g), a), b)| kernel(v, g, a, b));
}

#[cfg(test)]
mod tests;
