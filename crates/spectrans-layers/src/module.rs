//! The [`Module`] abstraction (named parameters in spectrans `state_dict` order) and the forward
//! context [`Ctx`] (tape, train/eval mode, dropout randomness).

use std::sync::Mutex;

use spectrans_tensor::{Float, Parameter, Rng, Tape, Tensor};

use crate::error::{LayerError, Result};

/// Receives a module's tensors, fully named, in `state_dict` order.
pub trait Visitor<T: Float> {
    /// A trainable parameter.
    fn param(&mut self, name: &str, p: &Parameter<T>);
    /// A persistent buffer (not trained; e.g. the sinusoidal table or running statistics).
    fn buffer(&mut self, _name: &str, _b: &Parameter<T>) {}
}

/// A layer or model owning named parameters.
pub trait Module<T: Float> {
    /// Visits every parameter and buffer, names prefixed by `prefix` (e.g. `"blocks.0."`).
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>);

    /// `(name, parameter)` pairs in `state_dict` order.
    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        struct Collect<T: Float>(Vec<(String, Parameter<T>)>);
        impl<T: Float> Visitor<T> for Collect<T> {
            fn param(&mut self, name: &str, p: &Parameter<T>) {
                self.0.push((name.to_string(), p.clone()));
            }
        }
        let mut c = Collect(Vec::new());
        self.visit("", &mut c);
        c.0
    }

    /// `(name, buffer)` pairs in `state_dict` order.
    fn named_buffers(&self) -> Vec<(String, Parameter<T>)> {
        struct Collect<T: Float>(Vec<(String, Parameter<T>)>);
        impl<T: Float> Visitor<T> for Collect<T> {
            fn param(&mut self, _: &str, _: &Parameter<T>) {}
            fn buffer(&mut self, name: &str, b: &Parameter<T>) {
                self.0.push((name.to_string(), b.clone()));
            }
        }
        let mut c = Collect(Vec::new());
        self.visit("", &mut c);
        c.0
    }

    /// The trainable parameters, in `state_dict` order.
    fn parameters(&self) -> Vec<Parameter<T>> {
        self.named_parameters().into_iter().map(|(_, p)| p).collect()
    }

    /// Number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.named_parameters().iter().map(|(_, p)| p.numel()).sum()
    }

    /// Clears every parameter's gradient.
    fn zero_grad(&self) {
        self.named_parameters().iter().for_each(|(_, p)| p.zero_grad());
    }
}

/// `prefix + name`.
pub(crate) fn join(prefix: &str, name: &str) -> String {
    format!("{prefix}{name}")
}

/// The context of one forward pass: whether to record a tape (for gradients), train or eval mode,
/// and the random stream of dropout.
///
/// ```
/// use spectrans_layers::Ctx;
/// use spectrans_tensor::Tape;
/// let infer = Ctx::<f32>::inference();           // eval, records nothing
/// let tape = Tape::new();
/// let train = Ctx::<f32>::train(&tape, 42);      // train mode, records on `tape`
/// assert!(!infer.is_train() && train.is_train());
/// ```
pub struct Ctx<T: Float> {
    tape: Option<Tape<T>>,
    mode: Mode,
    rng: Mutex<Rng>,
    /// Whether train-mode batch normalisation updates its running statistics (off while a
    /// checkpointed segment is recomputed, so each batch counts once).
    update_statistics: bool,
    /// Whether every checked module output is tested for NaN and infinities.
    check_finite: bool,
}

/// Whether modules run in training or evaluation mode (torch's `model.train()` /
/// `model.eval()`): dropout and batch-normalisation statistics depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Dropout on, batch normalisation uses and updates batch statistics.
    Train,
    /// Dropout off, batch normalisation uses its running statistics.
    #[default]
    Eval,
}

impl<T: Float> Ctx<T> {
    /// A context from its three parts: the tape to record on (if any), the mode, and the
    /// dropout stream.
    pub fn new(tape: Option<&Tape<T>>, mode: Mode, rng: Rng) -> Self {
        Ctx { tape: tape.cloned(), mode, rng: Mutex::new(rng), update_statistics: true, check_finite: false }
    }

    /// Eval mode without a tape: pure inference, nothing recorded.
    pub fn inference() -> Self {
        Ctx::new(None, Mode::Eval, Rng::seed(0))
    }

    /// Eval mode (dropout off, running statistics used) recording on `tape`, for gradients of an
    /// evaluated model.
    pub fn eval_with_tape(tape: &Tape<T>) -> Self {
        Ctx::new(Some(tape), Mode::Eval, Rng::seed(0))
    }

    /// Train mode recording on `tape`, dropout drawn from a stream seeded by `seed`.
    pub fn train(tape: &Tape<T>, seed: u64) -> Self {
        Ctx::new(Some(tape), Mode::Train, Rng::seed(seed))
    }

    /// Train mode with an explicit random stream (for resumable training).
    pub fn train_with_rng(tape: &Tape<T>, rng: Rng) -> Self {
        Ctx::new(Some(tape), Mode::Train, rng)
    }

    /// The mode modules run in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// This context, with the running statistics of batch normalisation left untouched: for the
    /// recomputation of a checkpointed segment, whose batch was already counted.
    pub fn without_statistics_updates(mut self) -> Self {
        self.update_statistics = false;
        self
    }

    /// This context, testing each module output passed to [`Ctx::check_output`] for NaN and
    /// infinities: the first non-finite one is an error naming the module (costs one pass over
    /// every checked output).
    pub fn with_finite_checks(mut self) -> Self {
        self.check_finite = true;
        self
    }

    /// Whether module outputs are tested for NaN and infinities.
    pub fn checks_finite(&self) -> bool {
        self.check_finite
    }

    /// With finite checks on, an error naming `module` (built only on failure) when `output`
    /// holds NaN or infinite values; otherwise nothing.
    ///
    /// ```
    /// use spectrans_layers::Ctx;
    /// use spectrans_tensor::Tensor;
    /// let bad = Tensor::<f32>::from_vec(vec![1.0, f32::NAN], &[2])?;
    /// assert!(Ctx::inference().check_output(|| "blocks.0".into(), &bad).is_ok());
    /// let e = Ctx::inference().with_finite_checks().check_output(|| "blocks.0".into(), &bad).unwrap_err();
    /// assert!(e.to_string().contains("`blocks.0` produced NaN"));
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn check_output(&self, module: impl FnOnce() -> String, output: &Tensor<T>) -> Result<()> {
        if !self.check_finite || !output.has_non_finite() {
            return Ok(());
        }
        let bad: Vec<&T> = output.data().iter().filter(|v| !v.is_finite()).collect();
        Err(LayerError::NonFinite {
            module: module(),
            first: bad.first().map(|v| v.to_string()).unwrap_or_default(),
            count: bad.len(),
            total: output.numel(),
        })
    }

    /// Whether train-mode batch normalisation updates its running statistics.
    pub fn updates_statistics(&self) -> bool {
        self.update_statistics
    }

    /// Whether dropout and batch statistics are active.
    pub fn is_train(&self) -> bool {
        self.mode == Mode::Train
    }

    /// The tape, if this pass records one.
    pub fn tape(&self) -> Option<&Tape<T>> {
        self.tape.as_ref()
    }

    /// The state of the dropout stream (to save with a training checkpoint).
    pub fn rng_state(&self) -> Rng {
        self.rng.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A new random stream split off this context's dropout stream (advancing it).
    pub fn fork_rng(&self) -> Rng {
        self.rng.lock().unwrap_or_else(|e| e.into_inner()).fork()
    }

    /// The parameter's value: watched on the tape when recording, a constant otherwise.
    pub fn param(&self, p: &Parameter<T>) -> Tensor<T> {
        match &self.tape {
            Some(t) => t.watch(p),
            None => p.value(),
        }
    }

    /// Whether [`Self::dropout`] with probability `p` changes its input (train mode and p > 0);
    /// where it does not, a layer may fuse what follows the dropout.
    ///
    /// ```
    /// use spectrans_layers::Ctx;
    /// use spectrans_tensor::Tape;
    /// let tape = Tape::<f32>::new();
    /// assert!(Ctx::train(&tape, 0).drops(0.1) && !Ctx::train(&tape, 0).drops(0.0));
    /// assert!(!Ctx::<f32>::inference().drops(0.1));
    /// ```
    pub fn drops(&self, p: f64) -> bool {
        self.mode == Mode::Train && p != 0.0
    }

    /// Inverted dropout with probability `p` in train mode; the identity in eval mode.
    ///
    /// # Shapes
    /// Any shape; the result has the shape of `x`.
    pub fn dropout(&self, x: &Tensor<T>, p: f64) -> Result<Tensor<T>> {
        if !self.drops(p) {
            return Ok(x.clone());
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        Ok(x.dropout(p, &mut rng)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_dropout_and_zero_p_are_identity_without_copy_or_draw() {
        let x = Tensor::<f32>::randn(&[3, 5], 0.0, 1.0, &mut Rng::seed(1));
        let tape = Tape::new();
        for (ctx, p) in [(Ctx::new(Some(&tape), Mode::Eval, Rng::seed(7)), 0.5), (Ctx::train(&tape, 7), 0.0)] {
            let y = ctx.dropout(&x, p).unwrap();
            assert_eq!(y.data().as_ptr(), x.data().as_ptr(), "no copy");
            assert_eq!(ctx.fork_rng(), Rng::seed(7).fork(), "no draw");
        }
        let y = Ctx::train(&tape, 7).dropout(&x, 0.5).unwrap();
        assert_ne!(y.to_vec(), x.to_vec());
    }
}
