//! The element types a tensor can hold: `f32` and `f64`.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

/// Runtime tag of an element type, for files and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
}

impl DType {
    /// Lower-case name (`"f32"` / `"f64"`).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }
}

/// A real floating-point element type: implemented for `f32` and `f64` only.
///
/// Besides the arithmetic of [`num_traits::Float`] it provides the exact error function (for GELU)
/// and a strided GEMM, so that every kernel is written once, generically.
pub trait Float:
    num_traits::Float
    + num_traits::FromPrimitive
    + Debug
    + Display
    + Default
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Send
    + Sync
    + 'static
{
    /// The runtime tag of this type.
    const DTYPE: DType;
    /// Conversion from `f64` (rounding to nearest for `f32`).
    fn of(v: f64) -> Self;
    /// Widening to `f64`.
    fn as_f64(self) -> f64;
    /// The error function erf(x).
    fn erf(self) -> Self;

    /// `dst = alpha·dst + beta·(lhs · rhs)` for row/column-strided matrices, `lhs` m×k, `rhs` k×n,
    /// `dst` m×n. Strides are in elements: `(row stride, column stride)`.
    ///
    /// # Safety
    /// Every pointer must be valid for every index its strides and sizes reach; `dst` must not
    /// alias `lhs` or `rhs`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        m: usize,
        n: usize,
        k: usize,
        dst: *mut Self,
        dst_rs: isize,
        dst_cs: isize,
        accumulate: bool,
        lhs: *const Self,
        lhs_rs: isize,
        lhs_cs: isize,
        rhs: *const Self,
        rhs_rs: isize,
        rhs_cs: isize,
        threads: usize,
    );
}

macro_rules! impl_float {
    ($t:ty, $dtype:expr, $erf:path) => {
        impl Float for $t {
            const DTYPE: DType = $dtype;
            #[inline]
            fn of(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn as_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn erf(self) -> Self {
                $erf(self)
            }
            unsafe fn gemm(
                m: usize,
                n: usize,
                k: usize,
                dst: *mut Self,
                dst_rs: isize,
                dst_cs: isize,
                accumulate: bool,
                lhs: *const Self,
                lhs_rs: isize,
                lhs_cs: isize,
                rhs: *const Self,
                rhs_rs: isize,
                rhs_cs: isize,
                threads: usize,
            ) {
                let par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
                gemm::gemm(
                    m, n, k, dst, dst_cs, dst_rs, accumulate, lhs, lhs_cs, lhs_rs, rhs, rhs_cs, rhs_rs, 1.0, 1.0,
                    false, false, false, par,
                )
            }
        }
    };
}

impl_float!(f32, DType::F32, libm::erff);
impl_float!(f64, DType::F64, libm::erf);
