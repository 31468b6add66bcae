//! Parameter initialisations of spectrans (reference.md §7). Distributions match; the random
//! streams are ours (seeded), since torch's cannot be reproduced.

use spectrans_tensor::{Float, Parameter, Rng, Tensor};

/// U(−bound, bound).
pub fn uniform<T: Float>(shape: &[usize], bound: f64, rng: &mut Rng) -> Parameter<T> {
    Parameter::new(Tensor::rand_uniform(shape, -bound, bound, rng))
}

/// Xavier/Glorot uniform: U(±√(6/(fan_in + fan_out))).
pub fn xavier_uniform<T: Float>(shape: &[usize], fan_in: usize, fan_out: usize, rng: &mut Rng) -> Parameter<T> {
    uniform(shape, (6.0 / (fan_in + fan_out).max(1) as f64).sqrt(), rng)
}

/// torch's default for `nn.Linear` weights and biases: U(±1/√fan_in).
pub fn torch_linear<T: Float>(shape: &[usize], fan_in: usize, rng: &mut Rng) -> Parameter<T> {
    uniform(shape, 1.0 / (fan_in.max(1) as f64).sqrt(), rng)
}

/// A parameter of zeros.
pub fn zeros<T: Float>(shape: &[usize]) -> Parameter<T> {
    Parameter::new(Tensor::zeros(shape))
}

/// A parameter of ones.
pub fn ones<T: Float>(shape: &[usize]) -> Parameter<T> {
    Parameter::new(Tensor::ones(shape))
}
