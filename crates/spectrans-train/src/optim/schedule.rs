//! Learning-rate schedules: the learning rate to use at each optimiser step (counted from 0).
//! Schedules are plain values and compose ([`LinearWarmup`] wraps any schedule).

/// A learning rate as a function of the optimiser step (0 for the first step).
pub trait LrSchedule {
    /// The learning rate for step `step`.
    fn lr_at(&self, step: u64) -> f64;
}

impl<S: LrSchedule + ?Sized> LrSchedule for &S {
    fn lr_at(&self, step: u64) -> f64 {
        (**self).lr_at(step)
    }
}

impl<S: LrSchedule + ?Sized> LrSchedule for Box<S> {
    fn lr_at(&self, step: u64) -> f64 {
        (**self).lr_at(step)
    }
}

/// The same learning rate at every step.
///
/// ```
/// use spectrans_train::optim::{Constant, LrSchedule};
/// assert_eq!(Constant { lr: 0.1 }.lr_at(1000), 0.1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constant {
    /// The learning rate.
    pub lr: f64,
}

impl LrSchedule for Constant {
    fn lr_at(&self, _step: u64) -> f64 {
        self.lr
    }
}

/// `lr · gamma^⌊step / step_size⌋`, as `torch.optim.lr_scheduler.StepLR` (e.g. halve every 100 epochs).
/// A `step_size` of 0 is treated as 1.
///
/// ```
/// use spectrans_train::optim::{LrSchedule, StepDecay};
/// let s = StepDecay { lr: 1e-3, step_size: 100, gamma: 0.5 };
/// assert_eq!((s.lr_at(99), s.lr_at(100), s.lr_at(250)), (1e-3, 5e-4, 2.5e-4));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepDecay {
    /// The initial learning rate.
    pub lr: f64,
    /// Number of steps between decays.
    pub step_size: u64,
    /// Multiplicative factor of each decay.
    pub gamma: f64,
}

impl LrSchedule for StepDecay {
    fn lr_at(&self, step: u64) -> f64 {
        let k = step / self.step_size.max(1);
        self.lr * self.gamma.powf(k as f64)
    }
}

/// Cosine annealing from `lr` to `min_lr` over `total` steps, then `min_lr`, as
/// `torch.optim.lr_scheduler.CosineAnnealingLR` with `T_max = total` (closed form).
///
/// ```
/// use spectrans_train::optim::{Cosine, LrSchedule};
/// let s = Cosine { lr: 0.1, total: 10, min_lr: 0.0 };
/// assert_eq!(s.lr_at(0), 0.1);
/// assert!((s.lr_at(5) - 0.05).abs() < 1e-15);
/// assert_eq!(s.lr_at(10), 0.0);
/// assert_eq!(s.lr_at(50), 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cosine {
    /// The initial learning rate.
    pub lr: f64,
    /// Steps of the annealing (a total of 0 gives `min_lr` from the start).
    pub total: u64,
    /// The final learning rate.
    pub min_lr: f64,
}

impl LrSchedule for Cosine {
    fn lr_at(&self, step: u64) -> f64 {
        if step >= self.total {
            return self.min_lr;
        }
        let t = step as f64 / self.total as f64;
        self.min_lr + (self.lr - self.min_lr) * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0
    }
}

/// Linear warm-up for `warmup` steps, then `inner` (started afresh at step 0): at step
/// `s < warmup` the rate is `inner.lr_at(0) · (s + 1) / warmup`, so the last warm-up step already
/// uses the full rate.
///
/// ```
/// use spectrans_train::optim::{Cosine, LinearWarmup, LrSchedule};
/// let s = LinearWarmup { warmup: 4, inner: Cosine { lr: 1.0, total: 100, min_lr: 0.0 } };
/// assert_eq!((s.lr_at(0), s.lr_at(1), s.lr_at(3), s.lr_at(4)), (0.25, 0.5, 1.0, 1.0));
/// assert_eq!(s.lr_at(104), 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearWarmup<S> {
    /// Number of warm-up steps.
    pub warmup: u64,
    /// The schedule that follows.
    pub inner: S,
}

impl<S: LrSchedule> LrSchedule for LinearWarmup<S> {
    fn lr_at(&self, step: u64) -> f64 {
        if step < self.warmup {
            self.inner.lr_at(0) * (step + 1) as f64 / self.warmup as f64
        } else {
            self.inner.lr_at(step - self.warmup)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_composes_with_step_decay_and_boxes() {
        let s: Box<dyn LrSchedule> =
            Box::new(LinearWarmup { warmup: 2, inner: StepDecay { lr: 0.4, step_size: 3, gamma: 0.1 } });
        let lrs: Vec<f64> = (0..8).map(|i| s.lr_at(i)).collect();
        let expect = [0.2, 0.4, 0.4, 0.4, 0.4, 0.4 * 0.1, 0.4 * 0.1, 0.4 * 0.1];
        for (a, b) in lrs.iter().zip(expect) {
            assert!((a - b).abs() <= 1e-15, "{lrs:?}");
        }
        assert_eq!(LinearWarmup { warmup: 0, inner: Constant { lr: 3.0 } }.lr_at(0), 3.0);
        assert_eq!(StepDecay { lr: 1.0, step_size: 0, gamma: 0.5 }.lr_at(2), 0.25);
        assert_eq!(Cosine { lr: 1.0, total: 0, min_lr: 0.1 }.lr_at(0), 0.1);
    }
}
