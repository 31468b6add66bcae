//! Element-wise functions and activations.

use crate::error::Result;
use crate::float::Float;
use crate::par;
use crate::tensor::tape::Backward;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug)]
enum Unary<T> {
    Exp,
    Log,
    Sqrt,
    Powf(T),
    Abs,
    Relu,
    Gelu,
    GeluTanh,
    Silu,
    Tanh,
    Sigmoid,
}

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_TANH_C: f64 = 0.044_715;
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

#[inline(always)]
fn sigmoid<T: Float>(x: T) -> T {
    T::one() / (T::one() + (-x).exp())
}

impl<T: Float> Unary<T> {
    fn name(self) -> &'static str {
        match self {
            Unary::Exp => "exp",
            Unary::Log => "log",
            Unary::Sqrt => "sqrt",
            Unary::Powf(_) => "powf",
            Unary::Abs => "abs",
            Unary::Relu => "relu",
            Unary::Gelu => "gelu",
            Unary::GeluTanh => "gelu_tanh",
            Unary::Silu => "silu",
            Unary::Tanh => "tanh",
            Unary::Sigmoid => "sigmoid",
        }
    }

    #[inline(always)]
    fn f(self, x: T) -> T {
        let half = T::of(0.5);
        match self {
            Unary::Exp => x.exp(),
            Unary::Log => x.ln(),
            Unary::Sqrt => x.sqrt(),
            Unary::Powf(p) => x.powf(p),
            Unary::Abs => x.abs(),
            Unary::Relu => x.max(T::zero()),
            Unary::Gelu => half * x * (T::one() + (x * T::of(std::f64::consts::FRAC_1_SQRT_2)).erf()),
            Unary::GeluTanh => {
                let u = T::of(SQRT_2_OVER_PI) * (x + T::of(GELU_TANH_C) * x * x * x);
                half * x * (T::one() + u.tanh())
            }
            Unary::Silu => x * sigmoid(x),
            Unary::Tanh => x.tanh(),
            Unary::Sigmoid => sigmoid(x),
        }
    }

    /// Derivative at input `x` with output `y = f(x)`.
    #[inline(always)]
    fn df(self, x: T, y: T) -> T {
        let half = T::of(0.5);
        match self {
            Unary::Exp => y,
            Unary::Log => T::one() / x,
            Unary::Sqrt => half / y,
            Unary::Powf(p) => p * x.powf(p - T::one()),
            Unary::Abs => {
                if x > T::zero() {
                    T::one()
                } else if x < T::zero() {
                    -T::one()
                } else {
                    T::zero()
                }
            }
            Unary::Relu => {
                if x > T::zero() {
                    T::one()
                } else {
                    T::zero()
                }
            }
            Unary::Gelu => {
                let cdf = half * (T::one() + (x * T::of(std::f64::consts::FRAC_1_SQRT_2)).erf());
                cdf + x * T::of(INV_SQRT_2PI) * (-half * x * x).exp_vectorised()
            }
            Unary::GeluTanh => {
                let k = T::of(SQRT_2_OVER_PI);
                let c = T::of(GELU_TANH_C);
                let t = (k * (x + c * x * x * x)).tanh();
                half * (T::one() + t) + half * x * (T::one() - t * t) * k * (T::one() + T::of(3.0) * c * x * x)
            }
            Unary::Silu => {
                let s = sigmoid(x);
                s * (T::one() + x * (T::one() - s))
            }
            Unary::Tanh => T::one() - y * y,
            Unary::Sigmoid => y * (T::one() - y),
        }
    }
}

/// Ids of the functions, the const parameter of the element kernels [`Forward`] and
/// [`Derivative`].
mod id {
    pub const EXP: u8 = 0;
    pub const LOG: u8 = 1;
    pub const SQRT: u8 = 2;
    pub const POWF: u8 = 3;
    pub const ABS: u8 = 4;
    pub const RELU: u8 = 5;
    pub const GELU: u8 = 6;
    pub const GELU_TANH: u8 = 7;
    pub const SILU: u8 = 8;
    pub const TANH: u8 = 9;
    pub const SIGMOID: u8 = 10;
}

impl<T: Float> Unary<T> {
    /// The function with id `k` (parameter `p` for powf): with `k` a constant, the `match`es of
    /// [`Unary::f`] and [`Unary::df`] fold away.
    #[inline(always)]
    fn with_id(k: u8, p: T) -> Self {
        match k {
            id::EXP => Unary::Exp,
            id::LOG => Unary::Log,
            id::SQRT => Unary::Sqrt,
            id::POWF => Unary::Powf(p),
            id::ABS => Unary::Abs,
            id::RELU => Unary::Relu,
            id::GELU => Unary::Gelu,
            id::GELU_TANH => Unary::GeluTanh,
            id::SILU => Unary::Silu,
            id::TANH => Unary::Tanh,
            id::SIGMOID => Unary::Sigmoid,
            _ => unreachable!("no unary function has id {k}"),
        }
    }
}

/// Expands `$kernel!(id, parameter)` in a match arm per function, so that every element-wise loop
/// is an instantiation of a kernel with its function fixed at compile time: no per-element
/// dispatch, and the loops vectorise.
macro_rules! for_each_function {
    ($op:expr, $kernel:ident) => {
        match $op {
            Unary::Exp => $kernel!(id::EXP, T::zero()),
            Unary::Log => $kernel!(id::LOG, T::zero()),
            Unary::Sqrt => $kernel!(id::SQRT, T::zero()),
            Unary::Powf(p) => $kernel!(id::POWF, p),
            Unary::Abs => $kernel!(id::ABS, T::zero()),
            Unary::Relu => $kernel!(id::RELU, T::zero()),
            Unary::Gelu => $kernel!(id::GELU, T::zero()),
            Unary::GeluTanh => $kernel!(id::GELU_TANH, T::zero()),
            Unary::Silu => $kernel!(id::SILU, T::zero()),
            Unary::Tanh => $kernel!(id::TANH, T::zero()),
            Unary::Sigmoid => $kernel!(id::SIGMOID, T::zero()),
        }
    };
}

/// y = f(x) for the function with id `K` (parameter in the field), always inlined into the
/// vectorised loop ([`par::Map1`]).
struct Forward<const K: u8, T>(T);

impl<const K: u8, T: Float> par::Map1<T, T> for Forward<K, T> {
    #[inline(always)]
    fn apply(&self, x: T) -> T {
        Unary::with_id(K, self.0).f(x)
    }
}

/// g·f'(x) (given y = f(x)) for the function with id `K`, always inlined into the vectorised loop.
struct Derivative<const K: u8, T>(T);

impl<const K: u8, T: Float> par::Map3<T, T> for Derivative<K, T> {
    #[inline(always)]
    fn apply(&self, g: T, x: T, y: T) -> T {
        g * Unary::with_id(K, self.0).df(x, y)
    }
}

struct UnaryBackward<T: Float> {
    op: Unary<T>,
    x: Tensor<T>,
    y: Tensor<T>,
}

impl<T: Float> Backward<T> for UnaryBackward<T> {
    fn name(&self) -> &'static str {
        self.op.name()
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let (gd, xd, yd) = (g.data(), self.x.data(), self.y.data());
        macro_rules! kernel {
            ($k:expr, $p:expr) => {
                par::zip3_with(gd, xd, yd, &Derivative::<{ $k }, T>($p))
            };
        }
        let gx = for_each_function!(self.op, kernel);
        Ok(vec![Some(Tensor::from_parts(gx, g.shape.clone()))])
    }
}

fn unary<T: Float>(op: Unary<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
    let xd = x.data();
    macro_rules! kernel {
        ($k:expr, $p:expr) => {
            par::map_with(xd, &Forward::<{ $k }, T>($p))
        };
    }
    let y = Tensor::from_parts(for_each_function!(op, kernel), x.shape.clone());
    if !x.is_tracked() {
        return Ok(y);
    }
    Tensor::from_op(y.clone(), &[x], UnaryBackward { op, x: x.detach(), y })
}

macro_rules! unary_methods {
    ($( $(#[$doc:meta])* $name:ident => $op:expr; )*) => {
        impl<T: Float> Tensor<T> {
            $(
                $(#[$doc])*
                ///
                /// # Shapes
                /// Element-wise: the result has the shape of `self`.
                pub fn $name(&self) -> Result<Tensor<T>> {
                    unary($op, self)
                }
            )*
        }
    };
}

unary_methods! {
    /// e^x.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// assert_eq!(Tensor::<f64>::zeros(&[1]).exp()?.to_vec(), vec![1.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    exp => Unary::Exp;
    /// Natural logarithm (NaN below 0, −∞ at 0, as IEEE).
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// assert_eq!(Tensor::<f64>::ones(&[1]).log()?.to_vec(), vec![0.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    log => Unary::Log;
    /// Square root.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// assert_eq!(Tensor::<f64>::full(&[1], 9.0).sqrt()?.to_vec(), vec![3.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    sqrt => Unary::Sqrt;
    /// |x| (gradient 0 at 0).
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// assert_eq!(Tensor::<f64>::full(&[1], -2.0).abs()?.to_vec(), vec![2.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    abs => Unary::Abs;
    /// max(x, 0) (gradient 0 at 0).
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![-1.0, 2.0], &[2])?;
    /// assert_eq!(x.relu()?.to_vec(), vec![0.0, 2.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    relu => Unary::Relu;
    /// GELU, exact form x·Φ(x) = x/2·(1 + erf(x/√2)) (torch's `approximate="none"`, used by spectrans).
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let y = Tensor::<f64>::from_vec(vec![1.0], &[1])?.gelu()?;
    /// assert!((y.to_vec()[0] - 0.841_344_746_068_543).abs() < 1e-12);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    gelu => Unary::Gelu;
    /// GELU, tanh approximation x/2·(1 + tanh(√(2/π)(x + 0.044715x³))).
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let y = Tensor::<f64>::from_vec(vec![1.0], &[1])?.gelu_tanh()?;
    /// assert!((y.to_vec()[0] - 0.841_191_990_607_477).abs() < 1e-12);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    gelu_tanh => Unary::GeluTanh;
    /// SiLU / swish: x·σ(x).
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// assert_eq!(Tensor::<f64>::zeros(&[1]).silu()?.to_vec(), vec![0.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    silu => Unary::Silu;
    /// Hyperbolic tangent.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// assert_eq!(Tensor::<f64>::zeros(&[1]).tanh()?.to_vec(), vec![0.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    tanh => Unary::Tanh;
    /// Logistic sigmoid 1/(1 + e^−x).
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// assert_eq!(Tensor::<f64>::zeros(&[1]).sigmoid()?.to_vec(), vec![0.5]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    sigmoid => Unary::Sigmoid;
}

impl<T: Float> Tensor<T> {
    /// x^p for a scalar exponent `p`.
    ///
    /// # Shapes
    /// Element-wise: the result has the shape of `self`.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// assert_eq!(Tensor::<f64>::full(&[2], 3.0).powf(2.0)?.to_vec(), vec![9.0, 9.0]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn powf(&self, p: T) -> Result<Tensor<T>> {
        unary(Unary::Powf(p), self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{assert_gradients, small_shape, tensor_from};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn grad_smooth_everywhere(shape in small_shape(3), seed in 0u64..1000) {
            let x = tensor_from(&shape, seed, -3.0, 3.0);
            assert_gradients(std::slice::from_ref(&x), |v| v[0].exp());
            assert_gradients(std::slice::from_ref(&x), |v| v[0].gelu());
            assert_gradients(std::slice::from_ref(&x), |v| v[0].gelu_tanh());
            assert_gradients(std::slice::from_ref(&x), |v| v[0].silu());
            assert_gradients(std::slice::from_ref(&x), |v| v[0].tanh());
            assert_gradients(&[x], |v| v[0].sigmoid());
        }

        #[test]
        fn grad_positive_domain(shape in small_shape(3), seed in 0u64..1000) {
            let x = tensor_from(&shape, seed, 0.2, 3.0);
            assert_gradients(std::slice::from_ref(&x), |v| v[0].log());
            assert_gradients(std::slice::from_ref(&x), |v| v[0].sqrt());
            assert_gradients(std::slice::from_ref(&x), |v| v[0].powf(2.5));
            assert_gradients(&[x], |v| v[0].powf(-1.3));
        }

        #[test]
        fn grad_kinked_away_from_kink(shape in small_shape(3), seed in 0u64..1000) {
            // magnitudes in [0.1, 2] with random signs: never within the FD step of the kink
            let m = tensor_from::<f64>(&shape, seed, 0.1, 2.0);
            let s = tensor_from::<f64>(&shape, seed + 7, -1.0, 1.0);
            let x = Tensor::from_vec(m.data().iter().zip(s.data()).map(|(a, b)| a * b.signum()).collect(), &shape).unwrap();
            assert_gradients(std::slice::from_ref(&x), |v| v[0].abs());
            assert_gradients(&[x], |v| v[0].relu());
        }
    }

    #[test]
    fn activation_values_match_closed_forms() {
        // GELU(x) = x·Φ(x); reference values of Φ from tables (scipy.stats.norm.cdf).
        let x = Tensor::<f64>::from_vec(vec![-2.0, -0.5, 0.0, 1.0, 2.0], &[5]).unwrap();
        let phi =
            [0.022_750_131_948_179_2, 0.308_537_538_725_986_9, 0.5, 0.841_344_746_068_542_9, 0.977_249_868_051_820_8];
        for ((&xi, &yi), p) in x.data().iter().zip(x.gelu().unwrap().data()).zip(phi) {
            assert!((yi - xi * p).abs() < 1e-14, "gelu({xi}) = {yi}");
        }
        assert_eq!(x.relu().unwrap().to_vec(), vec![0.0, 0.0, 0.0, 1.0, 2.0]);
        let s = x.sigmoid().unwrap();
        assert!((s.data()[4] - 1.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-15);
    }
}
