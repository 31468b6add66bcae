//! Reverse-mode automatic differentiation on an append-only tape.
//!
//! A [`Tape`] records the operations applied to tensors that depend on watched [`Parameter`]s, in
//! creation order; that order is already a valid reverse topological order, so
//! [`Tensor::backward`] is one reverse loop with no graph search. Gradients accumulate into the
//! parameters' gradient slots; the recorded nodes, and every activation they saved, are released
//! as the loop passes them, and the tape is empty (ready for the next step) when backward ends.
//!
//! Operations defined outside this crate (FFTs, fused spectral mixing, ...) join the tape through
//! [`Tensor::from_op`] with a hand-written [`Backward`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::Tensor;
use crate::error::{Result, TensorError};
use crate::float::Float;

/// The backward pass of one recorded operation.
///
/// Holds what the gradient needs (saved inputs, outputs, indices) and nothing else. Given the
/// gradient of the loss with respect to the operation's output, it returns one entry per input,
/// in the order the inputs were passed to [`Tensor::from_op`]: `Some(gradient)` shaped exactly
/// like that input, or `None` when `needs[i]` is false (the input is a constant).
pub trait Backward<T: Float>: Send + Sync + 'static {
    /// Name of the operation, for error messages.
    fn name(&self) -> &'static str;
    /// Gradients with respect to the inputs.
    fn backward(&self, grad_output: &Tensor<T>, needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>>;
}

enum NodeKind<T: Float> {
    Leaf(Parameter<T>),
    Op { backward: Box<dyn Backward<T>>, inputs: Vec<Option<usize>> },
}

struct Node<T: Float> {
    kind: NodeKind<T>,
    shape: Vec<usize>,
}

struct TapeInner<T: Float> {
    nodes: Vec<Node<T>>,
    generation: u64,
}

/// A recording of differentiable operations (cheap to clone; clones share the recording).
///
/// ```
/// use spectrans_tensor::{Parameter, Tape, Tensor};
/// let w = Parameter::new(Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2])?);
/// let tape = Tape::new();
/// let y = tape.watch(&w).mul(&tape.watch(&w))?.sum(&[], false)?; // Σ w²
/// y.backward()?;
/// assert_eq!(w.grad().unwrap().to_vec(), vec![2.0, 4.0]);
/// # Ok::<(), spectrans_tensor::TensorError>(())
/// ```
pub struct Tape<T: Float> {
    inner: Arc<Mutex<TapeInner<T>>>,
}

impl<T: Float> Clone for Tape<T> {
    fn clone(&self) -> Self {
        Tape { inner: self.inner.clone() }
    }
}

impl<T: Float> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Where a tracked tensor sits on its tape.
#[derive(Clone)]
pub(crate) struct NodeRef<T: Float> {
    tape: Tape<T>,
    id: usize,
    generation: u64,
}

impl<T: Float> Tape<T> {
    /// An empty tape.
    pub fn new() -> Self {
        Tape { inner: Arc::new(Mutex::new(TapeInner { nodes: Vec::new(), generation: 0 })) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TapeInner<T>> {
        // A panic while the lock was held cannot leave the node list half-written (every update
        // is a single push or take), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of nodes currently recorded.
    pub fn len(&self) -> usize {
        self.lock().nodes.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn same(&self, other: &Tape<T>) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The parameter's current value as a tracked tensor: gradients flowing into it during
    /// [`Tensor::backward`] accumulate into [`Parameter::grad`].
    pub fn watch(&self, param: &Parameter<T>) -> Tensor<T> {
        let value = param.value();
        let mut inner = self.lock();
        let id = inner.nodes.len();
        inner.nodes.push(Node { kind: NodeKind::Leaf(param.clone()), shape: value.shape.clone() });
        let node = NodeRef { tape: self.clone(), id, generation: inner.generation };
        Tensor { node: Some(node), ..value }
    }

    /// Records `value` as the output of `backward`'s operation on this tape, whatever the inputs
    /// (used by checkpointed segments, whose parameters live inside the segment).
    pub fn record(&self, value: Tensor<T>, inputs: &[&Tensor<T>], backward: impl Backward<T>) -> Result<Tensor<T>> {
        let mut ids = Vec::with_capacity(inputs.len());
        for x in inputs {
            ids.push(match &x.node {
                Some(n) if n.tape.same(self) => Some(n.id),
                Some(_) => {
                    return Err(TensorError::Tape(format!("{}: inputs come from different tapes", backward.name())))
                }
                None => None,
            });
        }
        let mut inner = self.lock();
        for x in inputs {
            if let Some(n) = &x.node {
                if n.generation != inner.generation {
                    return Err(TensorError::Tape(format!(
                        "{}: an input was recorded before the last backward pass on its tape; \
                         recompute it (or detach it) before using it again",
                        backward.name()
                    )));
                }
            }
        }
        let id = inner.nodes.len();
        inner.nodes.push(Node {
            kind: NodeKind::Op { backward: Box::new(backward), inputs: ids },
            shape: value.shape.clone(),
        });
        let node = NodeRef { tape: self.clone(), id, generation: inner.generation };
        Ok(Tensor { data: value.data, shape: value.shape, node: Some(node) })
    }

    fn run_backward(&self, root: usize, generation: u64, seed: Tensor<T>) -> Result<()> {
        let mut nodes = {
            let mut inner = self.lock();
            if inner.generation != generation {
                return Err(TensorError::Tape(
                    "backward: this tensor's tape was already consumed by an earlier backward pass".into(),
                ));
            }
            inner.generation += 1;
            std::mem::take(&mut inner.nodes)
        };
        nodes.truncate(root + 1);
        let mut grads: Vec<Option<Tensor<T>>> = Vec::new();
        grads.resize_with(nodes.len(), || None);
        grads[root] = Some(seed);
        while let Some(node) = nodes.pop() {
            let i = nodes.len();
            let Some(g) = grads[i].take() else { continue };
            match node.kind {
                NodeKind::Leaf(p) => p.accumulate_grad(g),
                NodeKind::Op { backward, inputs } => {
                    let needs: Vec<bool> = inputs.iter().map(Option::is_some).collect();
                    let results = backward.backward(&g, &needs)?;
                    if results.len() != inputs.len() {
                        return Err(TensorError::Tape(format!(
                            "{}: backward returned {} gradients for {} inputs",
                            backward.name(),
                            results.len(),
                            inputs.len()
                        )));
                    }
                    for (input, r) in inputs.iter().zip(results) {
                        let (Some(j), Some(r)) = (input, r) else { continue };
                        if r.shape != nodes[*j].shape {
                            return Err(TensorError::mismatch(
                                backward.name(),
                                &r.shape,
                                &nodes[*j].shape,
                                "backward produced a gradient shaped unlike its input",
                            ));
                        }
                        accumulate(&mut grads[*j], r.detach());
                    }
                }
            }
        }
        Ok(())
    }
}

/// `slot += g`, in place when the slot's buffer is not shared.
fn accumulate<T: Float>(slot: &mut Option<Tensor<T>>, g: Tensor<T>) {
    match slot {
        None => *slot = Some(g),
        Some(acc) => {
            let buf = acc.data_mut();
            for (a, &b) in buf.iter_mut().zip(g.data.iter()) {
                *a += b;
            }
        }
    }
}

impl<T: Float> Tensor<T> {
    /// Records `value` as the result of a differentiable operation on `inputs`, with `backward`
    /// computing the input gradients. If no input is tracked, `value` is returned as a constant
    /// and `backward` is dropped: inference records nothing.
    ///
    /// This is the extension point for operations defined in other crates.
    ///
    /// ```
    /// use spectrans_tensor::{Backward, Parameter, Result, Tape, Tensor};
    /// /// y = 3x, written as a custom op.
    /// struct Triple;
    /// impl Backward<f64> for Triple {
    ///     fn name(&self) -> &'static str { "triple" }
    ///     fn backward(&self, g: &Tensor<f64>, _needs: &[bool]) -> Result<Vec<Option<Tensor<f64>>>> {
    ///         Ok(vec![Some(g.mul_scalar(3.0)?)])
    ///     }
    /// }
    /// let x = Parameter::new(Tensor::<f64>::ones(&[2]));
    /// let tape = Tape::new();
    /// let xt = tape.watch(&x);
    /// let y = Tensor::from_op(xt.mul_scalar(3.0)?.detach(), &[&xt], Triple)?;
    /// y.sum(&[], false)?.backward()?;
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![3.0, 3.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn from_op(value: Tensor<T>, inputs: &[&Tensor<T>], backward: impl Backward<T>) -> Result<Tensor<T>> {
        match inputs.iter().find_map(|x| x.node.as_ref()) {
            None => Ok(value.detach()),
            Some(n) => n.tape.clone().record(value.detach(), inputs, backward),
        }
    }

    /// Whether any of `inputs` is tracked: kernels use it to skip saving what backward needs.
    pub fn any_tracked(inputs: &[&Tensor<T>]) -> bool {
        inputs.iter().any(|x| x.node.is_some())
    }

    /// The tape this tensor was recorded on, if any.
    pub fn tape(&self) -> Option<Tape<T>> {
        self.node.as_ref().map(|n| n.tape.clone())
    }

    /// Back-propagates from this one-element tensor (typically a loss): every watched parameter it
    /// depends on gets d(self)/d(parameter) added to its gradient. The tape is emptied.
    pub fn backward(&self) -> Result<()> {
        if self.numel() != 1 {
            return Err(TensorError::bad_shape(
                "backward",
                &self.shape,
                "needs a one-element tensor; use backward_with for other shapes",
            ));
        }
        self.backward_with(&Tensor::ones(&self.shape))
    }

    /// Back-propagates the given output gradient (shaped like `self`): a vector–Jacobian product.
    pub fn backward_with(&self, grad_output: &Tensor<T>) -> Result<()> {
        if grad_output.shape != self.shape {
            return Err(TensorError::mismatch(
                "backward_with",
                &self.shape,
                &grad_output.shape,
                "the output gradient must be shaped like the output",
            ));
        }
        let Some(n) = &self.node else {
            return Err(TensorError::Tape(
                "backward: this tensor does not depend on any watched parameter (it is a constant)".into(),
            ));
        };
        crate::par::on_pool(|| n.tape.run_backward(n.id, n.generation, grad_output.detach()))
    }
}

static NEXT_PARAM_ID: AtomicU64 = AtomicU64::new(1);

struct ParamInner<T: Float> {
    id: u64,
    value: RwLock<Tensor<T>>,
    grad: Mutex<Option<Tensor<T>>>,
}

/// A trainable tensor with a stable identity and a gradient slot.
///
/// Clones refer to the same parameter. Watch it on a [`Tape`] to use it in a differentiable
/// computation; [`Tensor::backward`] adds into [`Parameter::grad`] until [`Parameter::zero_grad`].
/// Wrapping an input in a parameter is also how to obtain gradients with respect to inputs.
pub struct Parameter<T: Float> {
    inner: Arc<ParamInner<T>>,
}

impl<T: Float> Clone for Parameter<T> {
    fn clone(&self) -> Self {
        Parameter { inner: self.inner.clone() }
    }
}

impl<T: Float> PartialEq for Parameter<T> {
    fn eq(&self, other: &Self) -> bool {
        self.inner.id == other.inner.id
    }
}

impl<T: Float> std::fmt::Debug for Parameter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Parameter#{} {:?}", self.inner.id, self.value().shape)
    }
}

impl<T: Float> Parameter<T> {
    /// A new parameter holding `value` (detached from any tape), with no gradient yet.
    pub fn new(value: Tensor<T>) -> Self {
        Parameter {
            inner: Arc::new(ParamInner {
                id: NEXT_PARAM_ID.fetch_add(1, Ordering::Relaxed),
                value: RwLock::new(value.detach()),
                grad: Mutex::new(None),
            }),
        }
    }

    /// A process-unique identifier, stable for the parameter's life.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The current value, as a constant (cheap: the buffer is shared).
    pub fn value(&self) -> Tensor<T> {
        self.inner.value.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The shape of the value.
    pub fn shape(&self) -> Vec<usize> {
        self.inner.value.read().unwrap_or_else(|e| e.into_inner()).shape.clone()
    }

    /// Number of scalars in the parameter.
    pub fn numel(&self) -> usize {
        crate::shape::numel(&self.shape())
    }

    /// Replaces the value; the new value must have the same shape.
    pub fn set_value(&self, value: Tensor<T>) -> Result<()> {
        let mut v = self.inner.value.write().unwrap_or_else(|e| e.into_inner());
        if v.shape != value.shape {
            return Err(TensorError::mismatch(
                "Parameter::set_value",
                &v.shape,
                &value.shape,
                "a parameter keeps its shape",
            ));
        }
        *v = value.detach();
        Ok(())
    }

    /// The accumulated gradient, if any backward pass reached this parameter since the last
    /// [`Parameter::zero_grad`].
    pub fn grad(&self) -> Option<Tensor<T>> {
        self.inner.grad.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Forgets the accumulated gradient.
    pub fn zero_grad(&self) {
        *self.inner.grad.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Multiplies the accumulated gradient by `factor` in place (gradient clipping); no-op when
    /// there is no gradient.
    pub fn scale_grad(&self, factor: T) {
        if let Some(g) = self.inner.grad.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            g.data_mut().iter_mut().for_each(|v| *v *= factor);
        }
    }

    pub(crate) fn accumulate_grad(&self, g: Tensor<T>) {
        accumulate(&mut self.inner.grad.lock().unwrap_or_else(|e| e.into_inner()), g);
    }

    /// Updates the value in place: `f(value, gradient)` (the gradient is `None` if there is none).
    /// The buffer is written directly unless a recorded activation still shares it, in which case
    /// it is copied first, so no recording ever sees its inputs change.
    pub fn update(&self, f: impl FnOnce(&mut [T], Option<&[T]>)) {
        let grad = self.grad();
        let mut v = self.inner.value.write().unwrap_or_else(|e| e.into_inner());
        f(Arc::make_mut(&mut v.data).as_mut_slice(), grad.as_ref().map(|g| g.data()));
    }
}

/// Gradient checkpointing: runs `segment` without recording its internals and re-runs it during
/// backward to obtain its gradients. Values and gradients are identical to running `segment`
/// directly on `tape`; memory for the segment's activations is only held during its backward.
///
/// `segment` receives the inputs and the tape to record on (`None` when not differentiating);
/// parameters it watches on that tape receive their gradients as usual. With `tape = None` the
/// segment simply runs once, unrecorded.
///
/// ```
/// use spectrans_tensor::{checkpoint, Parameter, Tape, Tensor};
/// let w = Parameter::new(Tensor::<f64>::from_vec(vec![0.5, -1.0], &[2])?);
/// let x = Tensor::<f64>::from_vec(vec![2.0, 3.0], &[2])?;
/// let tape = Tape::new();
/// let w2 = w.clone();
/// let y = checkpoint(Some(&tape), &[x], move |inp, tape| {
///     let wt = match tape { Some(t) => t.watch(&w2), None => w2.value() };
///     inp[0].mul(&wt)?.tanh()
/// })?;
/// y.sum(&[], false)?.backward()?;
/// assert!(w.grad().is_some());
/// # Ok::<(), spectrans_tensor::TensorError>(())
/// ```
pub fn checkpoint<T, F>(tape: Option<&Tape<T>>, inputs: &[Tensor<T>], segment: F) -> Result<Tensor<T>>
where
    T: Float,
    F: Fn(&[Tensor<T>], Option<&Tape<T>>) -> Result<Tensor<T>> + Send + Sync + 'static,
{
    let Some(tape) = tape else { return segment(inputs, None) };
    let constants: Vec<Tensor<T>> = inputs.iter().map(Tensor::detach).collect();
    let out = segment(&constants, None)?;
    let refs: Vec<&Tensor<T>> = inputs.iter().collect();
    tape.record(out, &refs, Checkpointed { segment, inputs: constants })
}

struct Checkpointed<T: Float, F> {
    segment: F,
    inputs: Vec<Tensor<T>>,
}

impl<T, F> Backward<T> for Checkpointed<T, F>
where
    T: Float,
    F: Fn(&[Tensor<T>], Option<&Tape<T>>) -> Result<Tensor<T>> + Send + Sync + 'static,
{
    fn name(&self) -> &'static str {
        "checkpoint"
    }

    fn backward(&self, grad_output: &Tensor<T>, needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let inner = Tape::new();
        let leaves: Vec<Option<Parameter<T>>> =
            self.inputs.iter().zip(needs).map(|(x, &n)| n.then(|| Parameter::new(x.clone()))).collect();
        let watched: Vec<Tensor<T>> = leaves
            .iter()
            .zip(&self.inputs)
            .map(|(leaf, x)| match leaf {
                Some(p) => inner.watch(p),
                None => x.clone(),
            })
            .collect();
        let out = (self.segment)(&watched, Some(&inner))?;
        if out.is_tracked() {
            out.backward_with(grad_output)?;
        }
        Ok(leaves
            .iter()
            .zip(&self.inputs)
            .map(|(leaf, x)| leaf.as_ref().map(|p| p.grad().unwrap_or_else(|| Tensor::zeros(&x.shape))))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: Vec<f64>, s: &[usize]) -> Parameter<f64> {
        Parameter::new(Tensor::from_vec(v, s).unwrap())
    }

    #[test]
    fn constants_record_nothing() {
        let tape = Tape::<f64>::new();
        let a = Tensor::<f64>::ones(&[3]);
        let b = a.add(&a).unwrap().mul(&a).unwrap();
        assert!(!b.is_tracked());
        assert!(tape.is_empty());
        assert!(b.backward_with(&Tensor::ones(&[3])).is_err());
    }

    #[test]
    fn gradients_accumulate_until_zeroed_and_tape_is_freed() {
        let w = p(vec![1.0, 2.0, 3.0], &[3]);
        let tape = Tape::new();
        for expected in [2.0, 4.0] {
            let y = tape.watch(&w).mul_scalar(2.0).unwrap().sum(&[], false).unwrap();
            assert!(!tape.is_empty());
            y.backward().unwrap();
            assert!(tape.is_empty(), "backward must release the recording");
            assert_eq!(w.grad().unwrap().to_vec(), vec![expected; 3]);
        }
        w.scale_grad(0.5);
        assert_eq!(w.grad().unwrap().to_vec(), vec![2.0; 3]);
        w.zero_grad();
        assert!(w.grad().is_none());
        w.scale_grad(3.0); // no gradient: nothing to scale
        assert!(w.grad().is_none());
    }

    #[test]
    fn stale_tensors_are_rejected_after_backward() {
        let w = p(vec![1.0], &[1]);
        let tape = Tape::new();
        let x = tape.watch(&w);
        let y = x.mul(&x).unwrap();
        y.backward().unwrap();
        let e = y.backward().unwrap_err();
        assert!(e.to_string().contains("already consumed"), "{e}");
        let e = x.add(&x).unwrap_err();
        assert!(e.to_string().contains("before the last backward"), "{e}");
        // the one-input operations report the same instead of panicking
        for e in [x.mul_scalar(2.0).unwrap_err(), x.add_scalar(1.0).unwrap_err(), x.neg().unwrap_err()] {
            assert!(e.to_string().contains("before the last backward"), "{e}");
        }
    }

    #[test]
    fn mixing_tapes_is_an_error() {
        let w = p(vec![1.0], &[1]);
        let (t1, t2) = (Tape::new(), Tape::new());
        let e = t1.watch(&w).add(&t2.watch(&w)).unwrap_err();
        assert!(matches!(e, TensorError::Tape(_)));
    }

    #[test]
    fn non_scalar_backward_needs_explicit_gradient() {
        let w = p(vec![1.0, 2.0], &[2]);
        let tape = Tape::new();
        let y = tape.watch(&w).mul_scalar(3.0).unwrap();
        assert!(matches!(y.backward(), Err(TensorError::BadShape { op: "backward", .. })));
        assert!(y.backward_with(&Tensor::ones(&[3])).is_err());
        y.backward_with(&Tensor::from_vec(vec![1.0, -1.0], &[2]).unwrap()).unwrap();
        assert_eq!(w.grad().unwrap().to_vec(), vec![3.0, -3.0]);
    }

    #[test]
    fn checkpoint_matches_plain_recording() {
        let w = p(vec![0.3, -0.7, 1.1], &[3]);
        let x = p(vec![1.0, 2.0, -0.5], &[3]);
        let f = |inp: &[Tensor<f64>], w: &Tensor<f64>| inp[0].mul(w)?.tanh()?.mul(&inp[0]);

        let tape = Tape::new();
        let y = f(&[tape.watch(&x)], &tape.watch(&w)).unwrap();
        y.sum(&[], false).unwrap().backward().unwrap();
        let (gw, gx) = (w.grad().unwrap().to_vec(), x.grad().unwrap().to_vec());
        w.zero_grad();
        x.zero_grad();

        let w2 = w.clone();
        let yc = checkpoint(Some(&tape), &[tape.watch(&x)], move |inp, t| {
            let wt = t.map(|t| t.watch(&w2)).unwrap_or_else(|| w2.value());
            f(inp, &wt)
        })
        .unwrap();
        assert_eq!(yc.to_vec(), y.to_vec());
        yc.sum(&[], false).unwrap().backward().unwrap();
        assert_eq!(w.grad().unwrap().to_vec(), gw);
        assert_eq!(x.grad().unwrap().to_vec(), gx);
    }

    #[test]
    fn parameter_update_and_set_value() {
        let w = p(vec![1.0, 2.0], &[2]);
        let kept = w.value();
        w.update(|v, g| {
            assert!(g.is_none());
            v[0] = 5.0;
        });
        assert_eq!(w.value().to_vec(), vec![5.0, 2.0]);
        assert_eq!(kept.to_vec(), vec![1.0, 2.0], "earlier values are never mutated");
        assert!(w.set_value(Tensor::zeros(&[3])).is_err());
        w.set_value(Tensor::zeros(&[2])).unwrap();
        assert_eq!(w.numel(), 2);
    }
}
