//! [`FnTask`]: a [`Task`] made of closures, for training a module on your own data without
//! writing a type.

use std::path::Path;

use spectrans_layers::{Ctx, Module};
use spectrans_tensor::{Float, Tensor};

use super::{Batch, Metrics, Task};
use crate::error::{Result, TrainError};

/// Any error a closure of an [`FnTask`] returns (so `?` works on every crate's errors).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

type LossFn<'a, T> = Box<dyn Fn(&Ctx<T>, Batch<'_>) -> Result<Tensor<T>, BoxError> + 'a>;
type EvalFn<'a> = Box<dyn Fn() -> Result<Metrics, BoxError> + 'a>;
type PlotFn<'a> = Box<dyn Fn(&Path) -> Result<(), BoxError> + 'a>;

/// A closure's error as a [`TrainError`]: itself when it is one, else [`TrainError::Task`].
fn train_error(e: BoxError) -> TrainError {
    match e.downcast::<TrainError>() {
        Ok(t) => *t,
        Err(other) => TrainError::Task(other),
    }
}

/// A task of closures: the module, the number of training examples, the loss of a batch of
/// example indices and, optionally, an evaluation and plots. The closures may return any error
/// type ([`BoxError`]). See the [`trainer`](super) example.
pub struct FnTask<'a, T: Float> {
    module: &'a dyn Module<T>,
    train_len: usize,
    loss: LossFn<'a, T>,
    evaluate: Option<EvalFn<'a>>,
    higher_is_better: bool,
    plot: Option<PlotFn<'a>>,
}

impl<'a, T: Float> FnTask<'a, T> {
    /// Trains `module` on `train_len` examples; `loss` gets each batch's indices (shuffled every
    /// epoch) and returns the batch's mean loss.
    pub fn new(
        module: &'a dyn Module<T>,
        train_len: usize,
        loss: impl Fn(&Ctx<T>, Batch<'_>) -> Result<Tensor<T>, BoxError> + 'a,
    ) -> Self {
        FnTask { module, train_len, loss: Box::new(loss), evaluate: None, higher_is_better: false, plot: None }
    }

    /// Evaluates with `evaluate` (headline metric first, lower is better).
    pub fn with_eval(mut self, evaluate: impl Fn() -> Result<Metrics, BoxError> + 'a) -> Self {
        self.evaluate = Some(Box::new(evaluate));
        self
    }

    /// Treats a larger headline metric as better (e.g. accuracy).
    pub fn higher_is_better(mut self) -> Self {
        self.higher_is_better = true;
        self
    }

    /// Draws task figures into the run's `plots/` folder at the end.
    pub fn with_plot(mut self, plot: impl Fn(&Path) -> Result<(), BoxError> + 'a) -> Self {
        self.plot = Some(Box::new(plot));
        self
    }
}

impl<T: Float> Task<T> for FnTask<'_, T> {
    fn module(&self) -> &dyn Module<T> {
        self.module
    }

    fn train_len(&self) -> usize {
        self.train_len
    }

    fn loss(&self, ctx: &Ctx<T>, batch: Batch<'_>) -> Result<Tensor<T>> {
        (self.loss)(ctx, batch).map_err(train_error)
    }

    fn evaluate(&self) -> Result<Metrics> {
        self.evaluate.as_ref().map_or(Ok(Vec::new()), |f| f().map_err(train_error))
    }

    fn higher_is_better(&self) -> bool {
        self.higher_is_better
    }

    fn plot(&self, dir: &Path) -> Result<()> {
        self.plot.as_ref().map_or(Ok(()), |f| f(dir).map_err(train_error))
    }
}
