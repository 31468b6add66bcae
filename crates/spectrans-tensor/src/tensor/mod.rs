//! The [`Tensor`] type: contiguous row-major storage shared by reference, a dynamic shape, and an
//! optional link to the autodiff tape that recorded it.

/// Values derived from a tensor's buffer, cached while it is unchanged.
pub(crate) mod derived;
/// The autodiff tape that records operations on tracked tensors.
pub(crate) mod tape;

use std::fmt;
use std::sync::Arc;

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::rng::Rng;
use crate::shape::numel;
use tape::NodeRef;

/// An n-dimensional array of `f32` or `f64`, contiguous in row-major order.
///
/// Cloning is cheap (the buffer is shared). A tensor produced from watched parameters carries a
/// link to the [`Tape`](crate::Tape) that recorded it; any other tensor is a constant, and
/// operations on constants record nothing.
///
/// ```
/// use spectrans_tensor::Tensor;
/// let a = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
/// let b = a.add(&Tensor::ones(&[2]))?; // broadcasts over rows
/// assert_eq!(b.to_vec(), vec![2.0, 3.0, 4.0, 5.0]);
/// # Ok::<(), spectrans_tensor::TensorError>(())
/// ```
#[derive(Clone)]
pub struct Tensor<T: Float> {
    pub(crate) data: Arc<Vec<T>>,
    pub(crate) shape: Vec<usize>,
    pub(crate) node: Option<NodeRef<T>>,
}

impl<T: Float> Tensor<T> {
    /// A constant tensor from a buffer and a shape; the buffer length must equal the shape's size.
    ///
    /// # Shapes
    /// `data.len() == shape.iter().product()`.
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        if data.len() != numel(shape) {
            return Err(TensorError::bad_shape(
                "from_vec",
                shape,
                format!("needs {} elements, got {}", numel(shape), data.len()),
            ));
        }
        Ok(Self::from_parts(data, shape.to_vec()))
    }

    /// Internal constructor that trusts the caller on `data.len() == numel(shape)`.
    pub(crate) fn from_parts(data: Vec<T>, shape: Vec<usize>) -> Self {
        debug_assert_eq!(data.len(), numel(&shape));
        Tensor { data: Arc::new(data), shape, node: None }
    }

    /// A rank-0 tensor holding `v`.
    pub fn scalar(v: T) -> Self {
        Self::from_parts(vec![v], vec![])
    }

    /// A tensor of the given shape filled with `v`.
    pub fn full(shape: &[usize], v: T) -> Self {
        Self::from_parts(vec![v; numel(shape)], shape.to_vec())
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::zero())
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::one())
    }

    /// A tensor of the given shape filled with `v`, allocated fallibly: a shape whose size
    /// overflows or exceeds the [memory limit](crate::limits) is an error naming the shape,
    /// never an abort. Use it (and the other `try_` constructors) wherever a size comes from
    /// outside the program.
    ///
    /// # Shapes
    /// Any shape; the result has that shape.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// assert_eq!(Tensor::<f32>::try_full(&[2], 1.5)?.to_vec(), vec![1.5, 1.5]);
    /// assert!(Tensor::<f32>::try_zeros(&[1 << 40, 1 << 40]).is_err());
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn try_full(shape: &[usize], v: T) -> Result<Self> {
        let data = crate::limits::try_filled(&Self::describe(shape), Self::try_numel(shape)?, v)?;
        Ok(Self::from_parts(data, shape.to_vec()))
    }

    /// A tensor of zeros, allocated fallibly (see [`Tensor::try_full`]).
    ///
    /// # Shapes
    /// Any shape.
    pub fn try_zeros(shape: &[usize]) -> Result<Self> {
        Self::try_full(shape, T::zero())
    }

    /// A tensor of ones, allocated fallibly (see [`Tensor::try_full`]).
    ///
    /// # Shapes
    /// Any shape.
    pub fn try_ones(shape: &[usize]) -> Result<Self> {
        Self::try_full(shape, T::one())
    }

    /// Draws from N(mean, std²) like [`Tensor::randn`], allocated fallibly (see [`Tensor::try_full`]).
    ///
    /// # Shapes
    /// Any shape.
    pub fn try_randn(shape: &[usize], mean: f64, std: f64, rng: &mut Rng) -> Result<Self> {
        let mut data = crate::limits::try_with_capacity(&Self::describe(shape), Self::try_numel(shape)?)?;
        data.extend((0..numel(shape)).map(|_| T::of(mean + std * rng.normal())));
        Ok(Self::from_parts(data, shape.to_vec()))
    }

    /// Draws from U[low, high) like [`Tensor::rand_uniform`], allocated fallibly (see
    /// [`Tensor::try_full`]).
    ///
    /// # Shapes
    /// Any shape.
    pub fn try_rand_uniform(shape: &[usize], low: f64, high: f64, rng: &mut Rng) -> Result<Self> {
        let mut data = crate::limits::try_with_capacity(&Self::describe(shape), Self::try_numel(shape)?)?;
        data.extend((0..numel(shape)).map(|_| T::of(low + (high - low) * rng.uniform())));
        Ok(Self::from_parts(data, shape.to_vec()))
    }

    fn describe(shape: &[usize]) -> String {
        format!("tensor of shape {shape:?} ({})", T::DTYPE.name())
    }

    fn try_numel(shape: &[usize]) -> Result<usize> {
        crate::limits::checked_numel(shape).ok_or_else(|| TensorError::OutOfMemory {
            what: Self::describe(shape),
            reason: "its element count overflows".into(),
        })
    }

    /// The rank-1 tensor `[0, 1, ..., n-1]`.
    pub fn arange(n: usize) -> Self {
        Self::from_parts((0..n).map(|i| T::of(i as f64)).collect(), vec![n])
    }

    /// Independent draws from N(mean, std²), reproducible from `rng`.
    pub fn randn(shape: &[usize], mean: f64, std: f64, rng: &mut Rng) -> Self {
        Self::from_parts((0..numel(shape)).map(|_| T::of(mean + std * rng.normal())).collect(), shape.to_vec())
    }

    /// Independent draws from U[low, high), reproducible from `rng`.
    pub fn rand_uniform(shape: &[usize], low: f64, high: f64, rng: &mut Rng) -> Self {
        Self::from_parts((0..numel(shape)).map(|_| T::of(low + (high - low) * rng.uniform())).collect(), shape.to_vec())
    }

    /// A constant tensor copied from an `ndarray` array (any layout; feature `ndarray`).
    #[cfg(feature = "ndarray")]
    pub fn from_ndarray(a: &ndarray::ArrayD<T>) -> Self {
        Self::from_parts(a.iter().copied().collect(), a.shape().to_vec())
    }

    /// A copy as an `ndarray` array (feature `ndarray`).
    #[cfg(feature = "ndarray")]
    pub fn to_ndarray(&self) -> ndarray::ArrayD<T> {
        // the buffer holds exactly numel(shape) elements (a `Tensor` invariant), so this cannot fail
        ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&self.shape), self.data.to_vec())
            .expect("shape and buffer agree")
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of axes.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// A copy of the elements in row-major order.
    pub fn to_vec(&self) -> Vec<T> {
        self.data.to_vec()
    }

    /// The value of a one-element tensor.
    pub fn item(&self) -> Result<T> {
        if self.data.len() != 1 {
            return Err(TensorError::bad_shape("item", &self.shape, "needs exactly one element"));
        }
        Ok(self.data[0])
    }

    /// The same values, cut from the tape: a constant.
    pub fn detach(&self) -> Self {
        Tensor { data: self.data.clone(), shape: self.shape.clone(), node: None }
    }

    /// Whether this tensor was recorded on a tape (so gradients can flow back through it).
    pub fn is_tracked(&self) -> bool {
        self.node.is_some()
    }

    /// The same values converted to another element type, as a constant.
    pub fn cast<U: Float>(&self) -> Tensor<U> {
        Tensor::from_parts(self.data.iter().map(|v| U::of(v.as_f64())).collect(), self.shape.clone())
    }

    /// Whether any element is NaN or infinite.
    pub fn has_non_finite(&self) -> bool {
        self.data.iter().any(|v| !v.is_finite())
    }

    /// Mutable access to the buffer, copying it first if it is shared. Only for constants
    /// (kernels building a fresh result); a tracked tensor's values are part of the record.
    pub(crate) fn data_mut(&mut self) -> &mut Vec<T> {
        debug_assert!(self.node.is_none(), "in-place write to a tracked tensor");
        Arc::make_mut(&mut self.data)
    }

    /// A constant with the same shape, values computed element-wise from this one.
    pub(crate) fn map(&self, f: impl Fn(T) -> T + Sync) -> Tensor<T> {
        Tensor::from_parts(crate::par::map(&self.data, f), self.shape.clone())
    }
}

impl<T: Float> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOW: usize = 8;
        write!(f, "Tensor<{}>{:?} [", T::DTYPE.name(), self.shape)?;
        for (i, v) in self.data.iter().take(SHOW).enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{v}")?;
        }
        if self.data.len() > SHOW {
            write!(f, ", ... ({} total)", self.data.len())?;
        }
        write!(f, "]{}", if self.is_tracked() { " (tracked)" } else { "" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn construction_and_accessors() {
        let t = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.rank(), 2);
        assert_eq!(t.numel(), 6);
        assert!(!t.is_tracked());
        #[cfg(feature = "ndarray")]
        {
            let a = t.to_ndarray();
            assert_eq!(a[[1, 2]], 6.0);
            assert_eq!(Tensor::from_ndarray(&a).to_vec(), t.to_vec());
        }
        assert_eq!(Tensor::<f32>::arange(3).to_vec(), vec![0.0, 1.0, 2.0]);
        assert_eq!(Tensor::<f32>::scalar(2.5).item().unwrap(), 2.5);
        assert!(Tensor::<f32>::zeros(&[2]).item().is_err());
    }

    #[test]
    fn from_vec_rejects_wrong_length() {
        let e = Tensor::<f32>::from_vec(vec![1.0; 5], &[2, 3]).unwrap_err();
        assert!(matches!(e, TensorError::BadShape { op: "from_vec", .. }));
        assert!(e.to_string().contains("needs 6 elements, got 5"));
    }

    #[test]
    fn random_is_reproducible() {
        let a = Tensor::<f32>::randn(&[4, 5], 0.0, 1.0, &mut Rng::seed(5));
        let b = Tensor::<f32>::randn(&[4, 5], 0.0, 1.0, &mut Rng::seed(5));
        assert_eq!(a.to_vec(), b.to_vec());
        let u = Tensor::<f64>::rand_uniform(&[100], -2.0, 3.0, &mut Rng::seed(1));
        assert!(u.data().iter().all(|&v| (-2.0..3.0).contains(&v)));
    }
}
