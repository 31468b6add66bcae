//! Differentiable helpers on complex tensors (a last axis of size 2 holding re, im).

use spectrans_tensor::{Backward, Float, Tensor};

use crate::common::complex_shape;
use crate::error::{Result, TransformError};

/// Which element-wise complex operation a backward belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// (…, 2) → (…): the real part.
    Real,
    /// (…, 2) → (…): the imaginary part.
    Imag,
    /// (…, 2) → (…, 2): the complex conjugate.
    Conj,
}

/// Splits/joins (re, im): the op is linear, its adjoint is the transpose.
struct PartBackward {
    part: Part,
}

impl<T: Float> Backward<T> for PartBackward {
    fn name(&self) -> &'static str {
        match self.part {
            Part::Real => "real",
            Part::Imag => "imag",
            Part::Conj => "conj",
        }
    }

    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> spectrans_tensor::Result<Vec<Option<Tensor<T>>>> {
        let mut shape = g.shape().to_vec();
        let out = match self.part {
            Part::Conj => conj_values(g.data()),
            Part::Real | Part::Imag => {
                shape.push(2);
                let at = usize::from(self.part == Part::Imag);
                let mut out = vec![T::zero(); g.numel() * 2];
                for (pair, &v) in out.chunks_exact_mut(2).zip(g.data()) {
                    pair[at] = v;
                }
                out
            }
        };
        Ok(vec![Some(Tensor::from_vec(out, &shape)?)])
    }
}

fn conj_values<T: Float>(x: &[T]) -> Vec<T> {
    x.chunks_exact(2).flat_map(|p| [p[0], -p[1]]).collect()
}

fn part<T: Float>(op: &'static str, a: &Tensor<T>, part: Part) -> Result<Tensor<T>> {
    let cshape = complex_shape(op, a.shape())?;
    let value = match part {
        Part::Conj => Tensor::from_vec(conj_values(a.data()), a.shape())?,
        Part::Real | Part::Imag => {
            let at = usize::from(part == Part::Imag);
            Tensor::from_vec(a.data().chunks_exact(2).map(|p| p[at]).collect(), &cshape)?
        }
    };
    if !a.is_tracked() {
        return Ok(value);
    }
    Ok(Tensor::from_op(value, &[a], PartBackward { part })?)
}

/// The real part of a complex tensor.
///
/// # Shapes
/// `a`: (…, 2). Result: (…).
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::real;
/// let a = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
/// assert_eq!(real(&a)?.to_vec(), vec![1.0, 3.0]);
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn real<T: Float>(a: &Tensor<T>) -> Result<Tensor<T>> {
    part("real", a, Part::Real)
}

/// The imaginary part of a complex tensor.
///
/// # Shapes
/// `a`: (…, 2). Result: (…).
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::imag;
/// let a = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
/// assert_eq!(imag(&a)?.to_vec(), vec![2.0, 4.0]);
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn imag<T: Float>(a: &Tensor<T>) -> Result<Tensor<T>> {
    part("imag", a, Part::Imag)
}

/// The complex conjugate (re, −im).
///
/// # Shapes
/// `a`: (…, 2). Result: (…, 2).
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::conj;
/// let a = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[1, 2])?;
/// assert_eq!(conj(&a)?.to_vec(), vec![1.0, -2.0]);
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn conj<T: Float>(a: &Tensor<T>) -> Result<Tensor<T>> {
    part("conj", a, Part::Conj)
}

/// Backward of `complex_from_parts`: splits the gradient into its real and imaginary parts.
struct FromPartsBackward {
    shape: Vec<usize>,
}

impl<T: Float> Backward<T> for FromPartsBackward {
    fn name(&self) -> &'static str {
        "complex_from_parts"
    }

    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> spectrans_tensor::Result<Vec<Option<Tensor<T>>>> {
        let pick = |at: usize| -> spectrans_tensor::Result<Tensor<T>> {
            Tensor::from_vec(g.data().chunks_exact(2).map(|p| p[at]).collect(), &self.shape)
        };
        Ok(vec![if needs[0] { Some(pick(0)?) } else { None }, if needs[1] { Some(pick(1)?) } else { None }])
    }
}

/// The complex tensor re + i·im.
///
/// # Shapes
/// `re`, `im`: the same shape (…). Result: (…, 2).
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::complex_from_parts;
/// let re = Tensor::<f32>::from_vec(vec![1.0, 3.0], &[2])?;
/// let im = Tensor::<f32>::from_vec(vec![2.0, 4.0], &[2])?;
/// let z = complex_from_parts(&re, &im)?;
/// assert_eq!((z.shape(), z.to_vec()), (&[2usize, 2][..], vec![1.0, 2.0, 3.0, 4.0]));
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn complex_from_parts<T: Float>(re: &Tensor<T>, im: &Tensor<T>) -> Result<Tensor<T>> {
    if re.shape() != im.shape() {
        return Err(TransformError::Invalid {
            op: "complex_from_parts",
            shape: re.shape().to_vec(),
            reason: format!("the imaginary part has shape {:?}; both parts must have the same shape", im.shape()),
        });
    }
    let data: Vec<T> = re.data().iter().zip(im.data()).flat_map(|(&r, &i)| [r, i]).collect();
    let mut shape = re.shape().to_vec();
    shape.push(2);
    let value = Tensor::from_vec(data, &shape)?;
    if !Tensor::any_tracked(&[re, im]) {
        return Ok(value);
    }
    Ok(Tensor::from_op(value, &[re, im], FromPartsBackward { shape: re.shape().to_vec() })?)
}

/// Element-wise complex product of interleaved buffers, optionally conjugating `b`.
fn mul_values<T: Float>(a: &[T], b: &[T], conj_b: bool) -> Vec<T> {
    let s = if conj_b { -T::one() } else { T::one() };
    a.chunks_exact(2)
        .zip(b.chunks_exact(2))
        .flat_map(|(x, y)| {
            let (yr, yi) = (y[0], s * y[1]);
            [x[0] * yr - x[1] * yi, x[0] * yi + x[1] * yr]
        })
        .collect()
}

/// Backward of `complex_mul`: ∂L/∂a = g · conj(b), ∂L/∂b = g · conj(a).
struct MulBackward<T: Float> {
    a: Tensor<T>,
    b: Tensor<T>,
}

impl<T: Float> Backward<T> for MulBackward<T> {
    fn name(&self) -> &'static str {
        "complex_mul"
    }

    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> spectrans_tensor::Result<Vec<Option<Tensor<T>>>> {
        let grad = |other: &Tensor<T>| Tensor::from_vec(mul_values(g.data(), other.data(), true), g.shape());
        Ok(vec![if needs[0] { Some(grad(&self.b)?) } else { None }, if needs[1] { Some(grad(&self.a)?) } else { None }])
    }
}

/// Element-wise complex product a·b.
///
/// # Shapes
/// `a`, `b`: the same complex shape (…, 2) (no broadcasting). Result: (…, 2).
///
/// ```
/// use spectrans_tensor::Tensor;
/// use spectrans_transforms::complex_mul;
/// let a = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[1, 2])?; // 1 + 2i
/// let b = Tensor::<f64>::from_vec(vec![3.0, -1.0], &[1, 2])?; // 3 − i
/// assert_eq!(complex_mul(&a, &b)?.to_vec(), vec![5.0, 5.0]);
/// # Ok::<(), spectrans_transforms::TransformError>(())
/// ```
pub fn complex_mul<T: Float>(a: &Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>> {
    const OP: &str = "complex_mul";
    complex_shape(OP, a.shape())?;
    complex_shape(OP, b.shape())?;
    if a.shape() != b.shape() {
        return Err(TransformError::Invalid {
            op: OP,
            shape: a.shape().to_vec(),
            reason: format!("the second operand has shape {:?}; both must have the same shape", b.shape()),
        });
    }
    let value = Tensor::from_vec(mul_values(a.data(), b.data(), false), a.shape())?;
    if !Tensor::any_tracked(&[a, b]) {
        return Ok(value);
    }
    Ok(Tensor::from_op(value, &[a, b], MulBackward { a: a.detach(), b: b.detach() })?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use proptest::prelude::*;
    use spectrans_tensor::gradcheck::{adjoint_error, assert_gradients};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn gradients(shape in real_shape_strategy(3), seed in 0u64..1000) {
            let mut cs = shape.clone();
            cs.push(2);
            let (a, b) = (rand_tensor(&cs, seed), rand_tensor(&cs, seed + 1));
            assert_gradients(&[a.clone(), b.clone()], |v| complex_mul(&v[0], &v[1]).map_err(Into::into));
            assert_gradients(std::slice::from_ref(&a), |v| conj(&v[0]).map_err(Into::into));
            assert_gradients(std::slice::from_ref(&a), |v| real(&v[0]).map_err(Into::into));
            assert_gradients(std::slice::from_ref(&a), |v| imag(&v[0]).map_err(Into::into));
            let (re, im) = (rand_tensor(&shape, seed + 2), rand_tensor(&shape, seed + 3));
            assert_gradients(&[re.clone(), im.clone()], |v| complex_from_parts(&v[0], &v[1]).map_err(Into::into));
            for f in [real::<f32>, imag::<f32>, conj::<f32>] {
                prop_assert!(adjoint_error(&a.cast::<f32>(), |v| f(v).map_err(Into::into)).unwrap() < 1e-5);
            }
            let bf = b.cast::<f32>();
            prop_assert!(adjoint_error(&a.cast::<f32>(), |v| complex_mul(v, &bf).map_err(Into::into)).unwrap() < 1e-5);
        }
    }

    #[test]
    fn values_against_num_complex() {
        let a = rand_tensor(&[5, 2], 1);
        let b = rand_tensor(&[5, 2], 2);
        let p = complex_mul(&a, &b).unwrap();
        for i in 0..5 {
            let want = C64::new(a.data()[2 * i], a.data()[2 * i + 1]) * C64::new(b.data()[2 * i], b.data()[2 * i + 1]);
            assert!((p.data()[2 * i] - want.re).abs() < 1e-15 && (p.data()[2 * i + 1] - want.im).abs() < 1e-15);
        }
        let z = complex_from_parts(&real(&a).unwrap(), &imag(&a).unwrap()).unwrap();
        assert_eq!(z.to_vec(), a.to_vec());
        assert_eq!(conj(&conj(&a).unwrap()).unwrap().to_vec(), a.to_vec());
    }

    #[test]
    fn errors() {
        let a = Tensor::<f32>::zeros(&[3, 2]);
        let e = complex_mul(&a, &Tensor::zeros(&[2, 2])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "complex_mul: the second operand has shape [2, 2]; both must have the same shape (shape [3, 2])"
        );
        assert!(matches!(real(&Tensor::<f32>::zeros(&[3])), Err(TransformError::NotComplex { op: "real", .. })));
        assert!(matches!(complex_mul(&Tensor::<f32>::zeros(&[3]), &a), Err(TransformError::NotComplex { .. })));
        let e = complex_from_parts(&Tensor::<f32>::zeros(&[3]), &Tensor::zeros(&[4])).unwrap_err();
        assert!(e.to_string().contains("[4]") && e.to_string().contains("[3]"), "{e}");
    }
}
