//! Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay,
//! as `torch.optim.SGD`.

use spectrans_tensor::{Float, Parameter};

use super::state::{buffer, OptimState, ParamState};
use super::{check_groups, check_non_negative, flat, for_chunks, Optimizer, ParamGroup};
use crate::error::{Result, TrainError};

/// Hyper-parameters of [`Sgd`] (torch.optim.SGD's, same defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// Momentum factor (default 0: plain SGD).
    pub momentum: f64,
    /// Dampening of the momentum (default 0).
    pub dampening: f64,
    /// Nesterov momentum (needs momentum > 0 and dampening 0).
    pub nesterov: bool,
    /// L2 penalty added to the gradient (default 0).
    pub weight_decay: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig { lr: 1e-3, momentum: 0.0, dampening: 0.0, nesterov: false, weight_decay: 0.0 }
    }
}

impl SgdConfig {
    fn validate(&self) -> Result<()> {
        check_non_negative("SGD", "lr", self.lr)?;
        check_non_negative("SGD", "momentum", self.momentum)?;
        check_non_negative("SGD", "dampening", self.dampening)?;
        check_non_negative("SGD", "weight_decay", self.weight_decay)?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(TrainError::config(
                "SGD",
                "nesterov",
                format!("needs momentum > 0 and dampening = 0 (got {} and {})", self.momentum, self.dampening),
            ));
        }
        Ok(())
    }
}

/// SGD, as `torch.optim.SGD` (single-tensor path):
///
/// ```text
/// g ← g + λ·p                         (weight decay λ ≠ 0)
/// b ← g (first step), else μ·b + (1−τ)·g
/// g ← g + μ·b (Nesterov), else b      (momentum μ ≠ 0)
/// p ← p − lr·g
/// ```
///
/// ```
/// use spectrans_tensor::{Parameter, Tape, Tensor};
/// use spectrans_train::optim::{Optimizer, Sgd, SgdConfig};
/// let w = Parameter::new(Tensor::<f64>::from_vec(vec![1.0, -2.0], &[2])?);
/// let mut opt = Sgd::new(vec![w.clone()], SgdConfig { lr: 0.5, ..Default::default() })?;
/// let tape = Tape::new();
/// let x = tape.watch(&w);
/// x.mul(&x)?.sum(&[], false)?.backward()?; // gradient 2w
/// opt.step()?;
/// assert_eq!(w.value().to_vec(), vec![0.0, 0.0]);
/// # Ok::<(), spectrans_train::TrainError>(())
/// ```
pub struct Sgd<T: Float> {
    config: SgdConfig,
    groups: Vec<ParamGroup<T>>,
    /// Per parameter (flattened over groups): updates applied, momentum buffer once created.
    slots: Vec<(u64, Option<Vec<T>>)>,
}

impl<T: Float> Sgd<T> {
    /// SGD over `params` (one group).
    pub fn new(params: Vec<Parameter<T>>, config: SgdConfig) -> Result<Self> {
        Self::with_groups(vec![ParamGroup::new(params)], config)
    }

    /// SGD over parameter groups with their own weight decay and learning-rate multiplier.
    pub fn with_groups(groups: Vec<ParamGroup<T>>, config: SgdConfig) -> Result<Self> {
        config.validate()?;
        check_groups("SGD", &groups)?;
        let n = groups.iter().map(|g| g.params.len()).sum();
        Ok(Sgd { config, groups, slots: vec![(0, None); n] })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    fn params(&self) -> Vec<Parameter<T>> {
        self.groups.iter().flat_map(|g| g.params.iter().cloned()).collect()
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn step(&mut self) -> Result<()> {
        let c = self.config;
        c.validate()?;
        for ((p, scale, wd), slot) in flat(&self.groups, c.weight_decay).into_iter().zip(&mut self.slots) {
            let (lr, mu) = (T::of(-(c.lr * scale)), T::of(c.momentum));
            let (wd, keep) = (T::of(wd), T::of(1.0 - c.dampening));
            let use_wd = wd != T::zero();
            let mut bad_len = None;
            p.update(|value, grad| {
                let Some(grad) = grad else { return };
                if grad.len() != value.len() {
                    bad_len = Some(grad.len());
                    return;
                }
                slot.0 += 1;
                if c.momentum == 0.0 {
                    for_chunks(value, grad, &mut [], &mut [], |v, g, _, _| {
                        for (p, &g) in v.iter_mut().zip(g) {
                            let g = if use_wd { g + wd * *p } else { g };
                            *p += lr * g;
                        }
                    });
                    return;
                }
                let first = slot.1.is_none();
                let buf = slot.1.get_or_insert_with(|| vec![T::zero(); value.len()]);
                let nesterov = c.nesterov;
                for_chunks(value, grad, buf, &mut [], |v, g, b, _| {
                    for ((p, &g), b) in v.iter_mut().zip(g).zip(b) {
                        let g = if use_wd { g + wd * *p } else { g };
                        *b = if first { g } else { *b * mu + keep * g };
                        let g = if nesterov { g + mu * *b } else { *b };
                        *p += lr * g;
                    }
                });
            });
            if let Some(len) = bad_len {
                return Err(TrainError::State(format!(
                    "SGD: gradient of {p:?} has {len} elements, the parameter has {}",
                    p.numel()
                )));
            }
        }
        Ok(())
    }

    fn zero_grad(&self) {
        self.groups.iter().flat_map(|g| &g.params).for_each(Parameter::zero_grad);
    }

    fn lr(&self) -> f64 {
        self.config.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    fn state(&self) -> OptimState<T> {
        let params = self
            .params()
            .iter()
            .zip(&self.slots)
            .map(|(p, (step, buf))| ParamState {
                step: *step,
                buffers: buf.iter().map(|b| buffer("momentum_buffer", b, &p.shape())).collect(),
            })
            .collect();
        OptimState { kind: "sgd".into(), lr: self.config.lr, params }
    }

    fn load_state(&mut self, state: OptimState<T>) -> Result<()> {
        let names: &[&str] = if self.config.momentum == 0.0 { &[] } else { &["momentum_buffer"] };
        let checked = state.check("sgd", &self.params(), names)?;
        self.slots = checked.into_iter().map(|(step, bufs)| (step, bufs.into_iter().next())).collect();
        self.config.lr = state.lr;
        Ok(())
    }
}
