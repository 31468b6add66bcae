//! A user-defined fused operation with a hand-written backward, checked with
//! `spectrans::tensor::gradcheck`.
//!
//! `bias_gelu(x, b) = gelu(x + b)` over the last axis in one pass (no intermediate `x + b`
//! tensor is recorded), with the backward
//! `dx = g · gelu'(x + b)`, `db = Σ_rows dx`, where `gelu'(z) = Φ(z) + z·φ(z)`.
//!
//! Run with `cargo run --release --example custom_op`.

use spectrans::tensor::gradcheck::{check_gradients, tensor_from};
use spectrans::tensor::{Backward, Float, Parameter, Result, Tape, Tensor, TensorError};

/// Φ(z) and φ(z), the standard normal CDF and density.
fn cdf_pdf(z: f64) -> (f64, f64) {
    let cdf = 0.5 * (1.0 + Float::erf(z / std::f64::consts::SQRT_2));
    let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    (cdf, pdf)
}

/// What the backward needs: the pre-activation `z = x + b` and the bias width.
struct BiasGeluBackward<T: Float> {
    z: Tensor<T>,
    width: usize,
}

impl<T: Float> Backward<T> for BiasGeluBackward<T> {
    fn name(&self) -> &'static str {
        "bias_gelu"
    }

    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let dx: Vec<T> = g
            .data()
            .iter()
            .zip(self.z.data())
            .map(|(&g, &z)| {
                let (cdf, pdf) = cdf_pdf(z.as_f64());
                g * T::of(cdf + z.as_f64() * pdf)
            })
            .collect();
        let db = needs[1].then(|| {
            let mut db = vec![T::zero(); self.width];
            for row in dx.chunks(self.width) {
                db.iter_mut().zip(row).for_each(|(s, &v)| *s += v);
            }
            db
        });
        let dx = needs[0].then(|| Tensor::from_vec(dx, self.z.shape())).transpose()?;
        let db = db.map(|v| Tensor::from_vec(v, &[self.width])).transpose()?;
        Ok(vec![dx, db])
    }
}

/// `gelu(x + b)`: `x` (…, D), `b` (D) → (…, D).
fn bias_gelu<T: Float>(x: &Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>> {
    let width = *x.shape().last().unwrap_or(&0);
    if b.shape() != [width] {
        return Err(TensorError::mismatch("bias_gelu", x.shape(), b.shape(), "expected x (…, D) and b (D)"));
    }
    let z: Vec<T> =
        x.data().chunks(width.max(1)).flat_map(|row| row.iter().zip(b.data()).map(|(&v, &c)| v + c)).collect();
    let y: Vec<T> = z.iter().map(|&z| T::of(z.as_f64() * cdf_pdf(z.as_f64()).0)).collect();
    let z = Tensor::from_vec(z, x.shape())?;
    let y = Tensor::from_vec(y, x.shape())?;
    if !Tensor::any_tracked(&[x, b]) {
        return Ok(y); // inference: nothing to save, nothing recorded
    }
    Tensor::from_op(y, &[x, b], BiasGeluBackward { z, width })
}

fn main() -> Result<()> {
    // 1. the fused op computes what the composed ops compute
    let x = tensor_from::<f64>(&[4, 6, 8], 1, -3.0, 3.0);
    let b = tensor_from::<f64>(&[8], 2, -1.0, 1.0);
    let fused = bias_gelu(&x, &b)?;
    let composed = x.add(&b)?.gelu()?;
    let diff = fused.data().iter().zip(composed.data()).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
    println!("forward: max |fused − composed| = {diff:.2e}");
    assert!(diff < 1e-12);

    // 2. its hand-written backward agrees with finite differences (f64), for both inputs
    let err = check_gradients(&[x.clone(), b.clone()], |v| bias_gelu(&v[0], &v[1]), 1e-6)?;
    println!("gradcheck: relative error {err:.2e} (tolerance 1e-6)");

    // 3. and it trains: gradients reach parameters through the tape, as for built-in ops
    let bias = Parameter::new(Tensor::<f32>::zeros(&[8]));
    let tape = Tape::new();
    let y = bias_gelu(&x.cast::<f32>(), &tape.watch(&bias))?;
    y.mean(&[], false)?.backward()?;
    let g = bias.grad().ok_or_else(|| TensorError::invalid("custom_op", "the bias got no gradient"))?;
    println!("bias gradient (f32): {:?}", &g.to_vec()[..4]);

    // 4. a wrong backward is caught: the same op with gelu'(z) replaced by Φ(z) alone
    struct Wrong(Tensor<f64>);
    impl Backward<f64> for Wrong {
        fn name(&self) -> &'static str {
            "bias_gelu_wrong"
        }
        fn backward(&self, g: &Tensor<f64>, _: &[bool]) -> Result<Vec<Option<Tensor<f64>>>> {
            let dx: Vec<f64> = g.data().iter().zip(self.0.data()).map(|(&g, &z)| g * cdf_pdf(z).0).collect();
            Ok(vec![Some(Tensor::from_vec(dx, self.0.shape())?)])
        }
    }
    let wrong = |v: &[Tensor<f64>]| {
        let z = v[0].detach();
        Tensor::from_op(z.gelu()?, &[&v[0]], Wrong(z))
    };
    match check_gradients(&[x], wrong, 1e-6) {
        Err(e) => println!("a wrong backward is reported: {e}"),
        Ok(err) => return Err(TensorError::invalid("custom_op", format!("a wrong backward passed ({err:.2e})"))),
    }
    Ok(())
}
