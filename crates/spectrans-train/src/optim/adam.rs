//! Adam (L2-coupled weight decay, as `torch.optim.Adam`) and AdamW (decoupled weight decay, as
//! `torch.optim.AdamW`).

use spectrans_tensor::{Float, Parameter};

use super::state::{buffer, OptimState, ParamState};
use super::{check_groups, check_non_negative, flat, for_chunks, Optimizer, ParamGroup};
use crate::error::{Result, TrainError};

/// Hyper-parameters of [`Adam`] (torch.optim.Adam's, same defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// Decay rates of the first and second moment estimates (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to the denominator for stability (default 1e-8).
    pub eps: f64,
    /// L2 penalty added to the gradient (default 0).
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig { lr: 1e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.0 }
    }
}

/// Hyper-parameters of [`AdamW`] (torch.optim.AdamW's, same defaults: weight decay 0.01).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// Decay rates of the first and second moment estimates (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to the denominator for stability (default 1e-8).
    pub eps: f64,
    /// Decoupled weight decay: each step multiplies the parameter by 1 − lr·weight_decay (default 0.01).
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { lr: 1e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.01 }
    }
}

/// Per-parameter state: updates applied, first and second moments.
#[derive(Clone)]
struct Slot<T> {
    step: u64,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
}

/// The shared implementation of Adam and AdamW.
struct AdamCore<T: Float> {
    kind: &'static str,
    decoupled: bool,
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    groups: Vec<ParamGroup<T>>,
    slots: Vec<Option<Slot<T>>>,
}

impl<T: Float> AdamCore<T> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        kind: &'static str,
        decoupled: bool,
        lr: f64,
        betas: (f64, f64),
        eps: f64,
        weight_decay: f64,
        groups: Vec<ParamGroup<T>>,
    ) -> Result<Self> {
        let core = AdamCore { kind, decoupled, lr, betas, eps, weight_decay, groups, slots: Vec::new() };
        core.validate()?;
        check_groups(core.name(), &core.groups)?;
        let n = core.groups.iter().map(|g| g.params.len()).sum();
        Ok(AdamCore { slots: vec![None; n], ..core })
    }

    fn name(&self) -> &'static str {
        if self.decoupled {
            "AdamW"
        } else {
            "Adam"
        }
    }

    fn validate(&self) -> Result<()> {
        let name = self.name();
        check_non_negative(name, "lr", self.lr)?;
        check_non_negative(name, "eps", self.eps)?;
        check_non_negative(name, "weight_decay", self.weight_decay)?;
        for (field, b) in [("betas.0", self.betas.0), ("betas.1", self.betas.1)] {
            if !(0.0..1.0).contains(&b) {
                return Err(TrainError::config(name, field, format!("must be in [0, 1), got {b}")));
            }
        }
        Ok(())
    }

    fn params(&self) -> Vec<Parameter<T>> {
        self.groups.iter().flat_map(|g| g.params.iter().cloned()).collect()
    }

    /// One update, in the order of torch's `_single_tensor_adam`.
    fn step(&mut self) -> Result<()> {
        self.validate()?;
        let (beta1, beta2) = self.betas;
        let (decoupled, eps) = (self.decoupled, T::of(self.eps));
        let (w1, c2, b2) = (T::of(1.0 - beta1), T::of(1.0 - beta2), T::of(beta2));
        for ((p, scale, wd), slot) in flat(&self.groups, self.weight_decay).into_iter().zip(&mut self.slots) {
            let lr = self.lr * scale;
            let mut bad_len = None;
            p.update(|value, grad| {
                let Some(grad) = grad else { return };
                if grad.len() != value.len() {
                    bad_len = Some(grad.len());
                    return;
                }
                let n = value.len();
                let s = slot.get_or_insert_with(|| Slot {
                    step: 0,
                    exp_avg: vec![T::zero(); n],
                    exp_avg_sq: vec![T::zero(); n],
                });
                s.step += 1;
                let step = s.step as f64;
                let bias_correction1 = 1.0 - beta1.powf(step);
                let bias_correction2 = 1.0 - beta2.powf(step);
                let neg_step_size = T::of(-(lr / bias_correction1));
                let bc2_sqrt = T::of(bias_correction2.sqrt());
                let shrink = T::of(1.0 - lr * wd);
                let (l2, use_l2) = (T::of(wd), !decoupled && wd != 0.0);
                for_chunks(value, grad, &mut s.exp_avg, &mut s.exp_avg_sq, |v, g, m, sq| {
                    for (((p, &g), m), sq) in v.iter_mut().zip(g).zip(m).zip(sq) {
                        if decoupled {
                            *p *= shrink;
                        }
                        let g = if use_l2 { g + l2 * *p } else { g };
                        *m = *m + w1 * (g - *m); // lerp(m, g, 1 − β1), weight < 0.5 branch
                        *sq = *sq * b2 + c2 * g * g;
                        let denom = sq.sqrt() / bc2_sqrt + eps;
                        *p += neg_step_size * *m / denom;
                    }
                });
            });
            if let Some(len) = bad_len {
                return Err(TrainError::State(format!(
                    "{}: gradient of {p:?} has {len} elements, the parameter has {}",
                    self.name(),
                    p.numel()
                )));
            }
        }
        Ok(())
    }

    fn state(&self) -> OptimState<T> {
        let params = self
            .params()
            .iter()
            .zip(&self.slots)
            .map(|(p, slot)| match slot {
                None => ParamState { step: 0, buffers: Vec::new() },
                Some(s) => {
                    let shape = p.shape();
                    ParamState {
                        step: s.step,
                        buffers: vec![
                            buffer("exp_avg", &s.exp_avg, &shape),
                            buffer("exp_avg_sq", &s.exp_avg_sq, &shape),
                        ],
                    }
                }
            })
            .collect();
        OptimState { kind: self.kind.into(), lr: self.lr, params }
    }

    fn load_state(&mut self, state: OptimState<T>) -> Result<()> {
        let checked = state.check(self.kind, &self.params(), &["exp_avg", "exp_avg_sq"])?;
        self.slots = checked
            .into_iter()
            .map(|(step, bufs)| {
                let mut it = bufs.into_iter();
                match (it.next(), it.next()) {
                    (Some(exp_avg), Some(exp_avg_sq)) if step > 0 => Some(Slot { step, exp_avg, exp_avg_sq }),
                    _ => None,
                }
            })
            .collect();
        self.lr = state.lr;
        Ok(())
    }
}

macro_rules! adam_optimizer {
    ($(#[$doc:meta])* $name:ident, $config:ident, $kind:literal, $decoupled:literal) => {
        $(#[$doc])*
        pub struct $name<T: Float>(AdamCore<T>);

        impl<T: Float> $name<T> {
            /// The optimiser over `params` (one group).
            pub fn new(params: Vec<Parameter<T>>, config: $config) -> Result<Self> {
                Self::with_groups(vec![ParamGroup::new(params)], config)
            }

            /// The optimiser over parameter groups with their own weight decay and learning-rate multiplier.
            pub fn with_groups(groups: Vec<ParamGroup<T>>, config: $config) -> Result<Self> {
                let $config { lr, betas, eps, weight_decay } = config;
                AdamCore::new($kind, $decoupled, lr, betas, eps, weight_decay, groups).map($name)
            }

            /// The current hyper-parameters.
            pub fn config(&self) -> $config {
                let c = &self.0;
                $config { lr: c.lr, betas: c.betas, eps: c.eps, weight_decay: c.weight_decay }
            }
        }

        impl<T: Float> Optimizer<T> for $name<T> {
            fn step(&mut self) -> Result<()> {
                self.0.step()
            }
            fn zero_grad(&self) {
                self.0.groups.iter().flat_map(|g| &g.params).for_each(Parameter::zero_grad);
            }
            fn lr(&self) -> f64 {
                self.0.lr
            }
            fn set_lr(&mut self, lr: f64) {
                self.0.lr = lr;
            }
            fn state(&self) -> OptimState<T> {
                self.0.state()
            }
            fn load_state(&mut self, state: OptimState<T>) -> Result<()> {
                self.0.load_state(state)
            }
        }
    };
}

adam_optimizer!(
    /// Adam with L2-coupled weight decay, as `torch.optim.Adam` (single-tensor path, no AMSGrad):
    ///
    /// ```text
    /// g ← g + λ·p;  m ← lerp(m, g, 1−β1);  v ← β2·v + (1−β2)·g²
    /// p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
    /// ```
    ///
    /// ```
    /// use spectrans_tensor::{Parameter, Tape, Tensor};
    /// use spectrans_train::optim::{Adam, AdamConfig, Optimizer};
    /// let w = Parameter::new(Tensor::<f32>::from_vec(vec![1.0, -2.0], &[2])?);
    /// let mut opt = Adam::new(vec![w.clone()], AdamConfig { lr: 0.1, ..Default::default() })?;
    /// let tape = Tape::new();
    /// let x = tape.watch(&w);
    /// x.mul(&x)?.sum(&[], false)?.backward()?;
    /// opt.step()?; // the first Adam step moves each coordinate by lr against its gradient's sign
    /// let v = w.value().to_vec();
    /// assert!((v[0] - 0.9).abs() < 1e-6 && (v[1] + 1.9).abs() < 1e-6);
    /// # Ok::<(), spectrans_train::TrainError>(())
    /// ```
    Adam, AdamConfig, "adam", false
);

adam_optimizer!(
    /// AdamW (decoupled weight decay), as `torch.optim.AdamW` (single-tensor path, no AMSGrad):
    /// each step first multiplies the parameter by 1 − lr·λ, then takes the Adam step without L2.
    ///
    /// ```
    /// use spectrans_tensor::{Parameter, Tensor};
    /// use spectrans_train::optim::{AdamW, AdamWConfig, Optimizer};
    /// let w = Parameter::new(Tensor::<f64>::ones(&[3]));
    /// let mut opt = AdamW::new(vec![w.clone()], AdamWConfig::default())?;
    /// assert_eq!(opt.config().weight_decay, 0.01);
    /// opt.step()?; // no gradient yet: skipped, like torch
    /// assert_eq!(w.value().to_vec(), vec![1.0; 3]);
    /// # Ok::<(), spectrans_train::TrainError>(())
    /// ```
    AdamW, AdamWConfig, "adamw", true
);
