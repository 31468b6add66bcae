//! Affine maps over the last axis: [`Linear`] (weight (out, in)) and [`PointwiseConv`] (a 1×1
//! convolution, weight (out, in, 1) as spectrans' `nn.Conv1d` stores it).

use spectrans_tensor::{Float, Parameter, Rng, Tensor};

use crate::error::{LayerError, Result};
use crate::init;
use crate::module::{join, Ctx, Module, Visitor};

/// `y = x·Wᵀ + b` over the last axis; `weight` (out, in), `bias` (out).
pub struct Linear<T: Float> {
    /// (out, in).
    pub weight: Parameter<T>,
    /// (out), if any.
    pub bias: Option<Parameter<T>>,
}

impl<T: Float> Linear<T> {
    /// A linear map with a bias, torch's default initialisation U(±1/√in) for weight and bias.
    pub fn new(in_dim: usize, out_dim: usize, rng: &mut Rng) -> Self {
        let weight = init::torch_linear(&[out_dim, in_dim], in_dim, rng);
        Linear { weight, bias: Some(init::torch_linear(&[out_dim], in_dim, rng)) }
    }

    /// A linear map `y = x·Wᵀ` without a bias (`nn.Linear(in, out, bias=False)`), weight
    /// initialised U(±1/√in).
    ///
    /// ```
    /// use spectrans_layers::{Linear, Module};
    /// use spectrans_tensor::Rng;
    /// let lin = Linear::<f32>::without_bias(4, 3, &mut Rng::seed(0));
    /// assert_eq!(lin.named_parameters().len(), 1);
    /// ```
    pub fn without_bias(in_dim: usize, out_dim: usize, rng: &mut Rng) -> Self {
        Linear { weight: init::torch_linear(&[out_dim, in_dim], in_dim, rng), bias: None }
    }

    /// Input width.
    pub fn in_dim(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Output width.
    pub fn out_dim(&self) -> usize {
        self.weight.shape()[0]
    }

    /// Applies the map to the last axis.
    ///
    /// # Shapes
    /// `x` (…, in) → (…, out).
    ///
    /// ```
    /// use spectrans_layers::{Ctx, Linear};
    /// use spectrans_tensor::{Rng, Tensor};
    /// let lin = Linear::<f32>::new(4, 3, &mut Rng::seed(0));
    /// let y = lin.forward(&Ctx::inference(), &Tensor::ones(&[2, 5, 4]))?;
    /// assert_eq!(y.shape(), &[2, 5, 3]);
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn forward(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        affine(ctx, "Linear", x, &self.weight, self.bias.as_ref(), None)
    }

    /// `forward(x) + addend` in one pass: the product accumulates onto bias and addend (a
    /// residual, say) instead of adding them afterwards.
    ///
    /// # Shapes
    /// `x` (…, in), `addend` (…, out) → (…, out).
    ///
    /// ```
    /// use spectrans_layers::{Ctx, Linear};
    /// use spectrans_tensor::{Rng, Tensor};
    /// let lin = Linear::<f64>::new(4, 3, &mut Rng::seed(0));
    /// let (x, r) = (Tensor::ones(&[2, 5, 4]), Tensor::ones(&[2, 5, 3]));
    /// let y = lin.forward_add(&Ctx::inference(), &x, &r)?;
    /// let want = lin.forward(&Ctx::inference(), &x)?.add(&r)?;
    /// assert!(y.data().iter().zip(want.data()).all(|(a, b)| (a - b).abs() < 1e-12));
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn forward_add(&self, ctx: &Ctx<T>, x: &Tensor<T>, addend: &Tensor<T>) -> Result<Tensor<T>> {
        affine(ctx, "Linear", x, &self.weight, self.bias.as_ref(), Some(addend))
    }
}

/// `x·Wᵀ + b (+ addend)` for `weight` stored (out, in) or (out, in, 1), as one fused op
/// ([`Tensor::affine`]: the GEMM accumulates onto the bias and the addend).
fn affine<T: Float>(
    ctx: &Ctx<T>,
    layer: &'static str,
    x: &Tensor<T>,
    weight: &Parameter<T>,
    bias: Option<&Parameter<T>>,
    addend: Option<&Tensor<T>>,
) -> Result<Tensor<T>> {
    let in_dim = weight.shape()[1];
    if x.rank() == 0 || x.shape()[x.rank() - 1] != in_dim {
        return Err(LayerError::input(
            layer,
            format!("expected last axis of size {in_dim}, got shape {:?}", x.shape()),
        ));
    }
    let out_dim = weight.shape()[0];
    if let Some(r) = addend {
        if r.rank() != x.rank()
            || r.shape()[..r.rank() - 1] != x.shape()[..x.rank() - 1]
            || r.shape()[r.rank() - 1] != out_dim
        {
            return Err(LayerError::input(
                layer,
                format!(
                    "the addend must have the output's shape (…, {out_dim}), got {:?} for input {:?}",
                    r.shape(),
                    x.shape()
                ),
            ));
        }
    }
    let w = ctx.param(weight);
    let w = if w.rank() == 3 { w.reshape(&w.shape()[..2])? } else { w };
    let b = bias.map(|b| ctx.param(b));
    Ok(x.affine(&w, b.as_ref(), addend)?)
}

impl<T: Float> Module<T> for Linear<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        v.param(&join(prefix, "weight"), &self.weight);
        if let Some(b) = &self.bias {
            v.param(&join(prefix, "bias"), b);
        }
    }
}

/// A 1×1 convolution over channels applied to a channels-last tensor: `y = x·Cᵀ + c` with the
/// weight stored (out, in, 1) like `nn.Conv1d(in, out, 1)`.
pub struct PointwiseConv<T: Float> {
    /// (out, in, 1).
    pub weight: Parameter<T>,
    /// (out).
    pub bias: Parameter<T>,
}

impl<T: Float> PointwiseConv<T> {
    /// spectrans' FNO initialisation: Xavier-uniform weight (bound √(6/(in+out))), zero bias.
    pub fn new(in_dim: usize, out_dim: usize, rng: &mut Rng) -> Self {
        PointwiseConv {
            weight: init::xavier_uniform(&[out_dim, in_dim, 1], in_dim, out_dim, rng),
            bias: init::zeros(&[out_dim]),
        }
    }

    /// Applies the convolution to the channel (last) axis.
    ///
    /// # Shapes
    /// `x` (…, in) → (…, out).
    ///
    /// ```
    /// use spectrans_layers::{Ctx, PointwiseConv};
    /// use spectrans_tensor::{Rng, Tensor};
    /// let conv = PointwiseConv::<f64>::new(4, 4, &mut Rng::seed(0));
    /// assert_eq!(conv.forward(&Ctx::inference(), &Tensor::ones(&[2, 7, 4]))?.shape(), &[2, 7, 4]);
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn forward(&self, ctx: &Ctx<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
        affine(ctx, "PointwiseConv", x, &self.weight, Some(&self.bias), None)
    }

    /// `forward(x) + addend` in one pass (the FNO layer adds its spectral branch this way).
    ///
    /// # Shapes
    /// `x` (…, in), `addend` (…, out) → (…, out).
    ///
    /// ```
    /// use spectrans_layers::{Ctx, PointwiseConv};
    /// use spectrans_tensor::{Rng, Tensor};
    /// let conv = PointwiseConv::<f64>::new(4, 4, &mut Rng::seed(0));
    /// let y = conv.forward_add(&Ctx::inference(), &Tensor::ones(&[2, 7, 4]), &Tensor::ones(&[2, 7, 4]))?;
    /// assert_eq!(y.shape(), &[2, 7, 4]);
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn forward_add(&self, ctx: &Ctx<T>, x: &Tensor<T>, addend: &Tensor<T>) -> Result<Tensor<T>> {
        affine(ctx, "PointwiseConv", x, &self.weight, Some(&self.bias), Some(addend))
    }
}

impl<T: Float> Module<T> for PointwiseConv<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        v.param(&join(prefix, "weight"), &self.weight);
        v.param(&join(prefix, "bias"), &self.bias);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectrans_tensor::gradcheck::tensor_from;
    use spectrans_tensor::Tape;

    #[test]
    fn linear_matches_manual_and_has_gradients() {
        let lin = Linear::<f64>::new(3, 2, &mut Rng::seed(1));
        let x = tensor_from::<f64>(&[2, 4, 3], 3, -1.0, 1.0);
        let y = lin.forward(&Ctx::inference(), &x).unwrap();
        let (w, b) = (lin.weight.value(), lin.bias.as_ref().unwrap().value());
        for r in 0..8 {
            for o in 0..2 {
                let want: f64 = (0..3).map(|i| x.data()[r * 3 + i] * w.data()[o * 3 + i]).sum::<f64>() + b.data()[o];
                assert!((y.data()[r * 2 + o] - want).abs() < 1e-12);
            }
        }
        let names: Vec<String> = lin.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias"]);
        assert_eq!(lin.num_parameters(), 8);
    }

    #[test]
    fn parameters_receive_gradients_through_ctx() {
        let conv = PointwiseConv::<f64>::new(3, 3, &mut Rng::seed(2));
        let tape = Tape::new();
        let ctx = Ctx::eval_with_tape(&tape);
        let y = conv.forward(&ctx, &tensor_from(&[1, 5, 3], 1, -1.0, 1.0)).unwrap();
        y.sum(&[], false).unwrap().backward().unwrap();
        assert_eq!(conv.weight.grad().unwrap().shape(), &[3, 3, 1]);
        assert_eq!(conv.bias.grad().unwrap().to_vec(), vec![5.0; 3]);
    }

    #[test]
    fn a_single_vector_is_mapped_like_a_row() {
        let lin = Linear::<f64>::new(3, 2, &mut Rng::seed(4));
        let x = tensor_from::<f64>(&[3], 5, -1.0, 1.0);
        let y = lin.forward(&Ctx::inference(), &x).unwrap();
        let rows = lin.forward(&Ctx::inference(), &x.reshape(&[1, 3]).unwrap()).unwrap();
        assert_eq!(y.shape(), &[2]);
        assert_eq!(y.to_vec(), rows.to_vec());
    }

    #[test]
    fn forward_add_equals_forward_plus_addend_with_gradients() {
        let lin = Linear::<f64>::new(3, 2, &mut Rng::seed(6));
        let x = tensor_from::<f64>(&[2, 4, 3], 7, -1.0, 1.0);
        let r = tensor_from::<f64>(&[2, 4, 2], 8, -1.0, 1.0);
        let y = lin.forward_add(&Ctx::inference(), &x, &r).unwrap();
        let want = lin.forward(&Ctx::inference(), &x).unwrap().add(&r).unwrap();
        for (a, b) in y.data().iter().zip(want.data()) {
            assert!((a - b).abs() < 1e-12);
        }
        let tape = Tape::new();
        let ctx = Ctx::eval_with_tape(&tape);
        let rp = spectrans_tensor::Parameter::new(r);
        let y = lin.forward_add(&ctx, &x, &tape.watch(&rp)).unwrap();
        y.sum(&[], false).unwrap().backward().unwrap();
        assert_eq!(rp.grad().unwrap().to_vec(), vec![1.0; 16]);
        assert_eq!(lin.bias.as_ref().unwrap().grad().unwrap().to_vec(), vec![8.0; 2]);
        let e = lin.forward_add(&Ctx::inference(), &x, &Tensor::zeros(&[2, 4, 3])).unwrap_err();
        assert!(e.to_string().starts_with("Linear: the addend"), "{e}");
    }

    #[test]
    fn wrong_width_is_an_error() {
        let lin = Linear::<f32>::without_bias(4, 2, &mut Rng::seed(0));
        let e = lin.forward(&Ctx::inference(), &Tensor::ones(&[2, 3])).unwrap_err();
        assert_eq!(e.to_string(), "Linear: expected last axis of size 4, got shape [2, 3]");
    }
}
