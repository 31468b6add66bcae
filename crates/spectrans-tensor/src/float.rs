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

mod sealed {
    /// Keeps [`Float`](super::Float) to the two types its kernels are written and tested for.
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A real floating-point element type: implemented for `f32` and `f64` only (the trait is
/// sealed: other crates cannot implement it).
///
/// Besides the arithmetic of [`num_traits::Float`] it provides the exact error function (for GELU)
/// and a strided GEMM, so that every kernel is written once, generically.
pub trait Float:
    sealed::Sealed
    + num_traits::Float
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
    /// The error function erf(x): libm's for `f64`; for `f32` a branch-free rational
    /// approximation that vectorises (absolute error ≤ 4e-7, see [`erf_f32`]).
    fn erf(self) -> Self;
    /// e^x in a form that vectorises: libm's `exp` for `f64`; for `f32` a branch-free polynomial
    /// within 2 ulp of the exact value, flushing results below `f32::MIN_POSITIVE` to zero (see
    /// [`exp_f32`]).
    fn exp_vectorised(self) -> Self;

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

/// Whether `Float::gemm` hands a product of `m` rows with this right-hand layout to the `gemm`
/// crate rather than to our kernels (`docs/gemm.md`, measured on the FNO shapes): only at the
/// AVX-512 level (with the `avx512` feature, the crate's AVX-512 kernels), and not for a
/// column-major right-hand side with few rows (x·Wᵀ of the spectral mixing's backward, heads),
/// where the crate ran at 0.2–0.5× MKL and ours at 1.1–1.5×. At the AVX2 and scalar levels ours
/// run: on AVX2 they matched or beat the crate's AVX2 kernels (geomean 1.09× vs 0.97× MKL on a
/// Zen 4 EPYC at the AVX2 cap), so the AVX2 path measured anywhere is the one AVX2 CPUs run.
fn crate_gemm_wins(level: crate::simd::SimdLevel, m: usize, rhs_rs: isize, rhs_cs: isize) -> bool {
    /// Rows up to which a column-major right-hand side goes to our kernels.
    const FEW_ROWS: usize = 64;
    let column_major_rhs = rhs_rs == 1 && rhs_cs != 1;
    cfg!(feature = "avx512") && level == crate::simd::SimdLevel::Avx512 && !(column_major_rhs && m <= FEW_ROWS)
}

macro_rules! impl_float {
    ($t:ty, $dtype:expr, $erf:path, $exp:path) => {
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
            #[inline]
            fn exp_vectorised(self) -> Self {
                $exp(self)
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
                let level = crate::simd::level();
                if crate_gemm_wins(level, m, rhs_rs, rhs_cs) {
                    let par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
                    // SAFETY: forwarded from the caller.
                    return unsafe {
                        gemm::gemm(
                            m, n, k, dst, dst_cs, dst_rs, accumulate, lhs, lhs_cs, lhs_rs, rhs, rhs_cs, rhs_rs, 1.0,
                            1.0, false, false, false, par,
                        )
                    };
                }
                let (lhs, rhs) = (
                    crate::gemm::View { ptr: lhs, rs: lhs_rs, cs: lhs_cs },
                    crate::gemm::View { ptr: rhs, rs: rhs_rs, cs: rhs_cs },
                );
                // SAFETY: forwarded from the caller; `level` is at most the CPU's.
                unsafe { crate::gemm::gemm(level, m, n, k, dst, dst_rs, dst_cs, accumulate, lhs, rhs, threads) }
            }
        }
    };
}

impl_float!(f32, DType::F32, erf_f32, exp_f32);
impl_float!(f64, DType::F64, libm::erf, libm::exp);

/// erf(x) for `f32` without `exp` or branches, so element-wise loops vectorise:
/// `erf(x) ≈ sign(x)·min(1, a·P(a²)/Q(a²))` with `a = min(|x|, 3.95)` (beyond 3.95, erf rounds to
/// ±1 in f32). P and Q (degree 5 in a²) are our own least-squares rational fit of erf on [0, 3.95]:
/// 2.7e-8 maximum error in exact arithmetic, ≤ 4e-7 absolute (3 ulp of 1) when evaluated in f32
/// (`tests::erf_f32_accuracy`).
#[inline(always)]
// P[0] is the fitted value, close to but deliberately not 2/√π: the fit trades it against the
// other coefficients (with 2/√π exactly the maximum error grows to 4.1e-7).
#[allow(clippy::approx_constant)]
pub fn erf_f32(x: f32) -> f32 {
    const P: [f32; 6] = [1.128_379, 0.192_090_94, 0.052_963_674, 0.003_837_810_5, 0.000_286_478_87, 2.035_292e-6];
    const Q: [f32; 6] = [1.0, 0.503_568_06, 0.114_799_31, 0.015_110_879, 0.001_180_171_9, 3.802_541_4e-5];
    // comparisons instead of `min`, so that NaN propagates (f32::min would drop it)
    let a = x.abs();
    let a = if a > 3.95 { 3.95 } else { a };
    let t = a * a;
    let p = ((((P[5] * t + P[4]) * t + P[3]) * t + P[2]) * t + P[1]) * t + P[0];
    let q = ((((Q[5] * t + Q[4]) * t + Q[3]) * t + Q[2]) * t + Q[1]) * t + Q[0];
    let r = a * p / q;
    (if r > 1.0 { 1.0 } else { r }).copysign(x)
}

/// e^x for `f32` without branches, calls or float-to-int casts, so element-wise loops vectorise:
/// x = k·ln 2 + r with k = round(x·log₂e) and |r| ≤ ln 2 / 2 (ln 2 split in two parts, Cody–Waite), e^r by the
/// degree-7 Taylor–minimax polynomial of Cephes' `expf`, and 2^k built from its exponent bits.
/// Within 2 ulp of the exact value (`tests::exp_f32_accuracy`); +∞ above 88.72, 0 below
/// −87.33 (where the exact value would be subnormal), NaN for NaN.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 = LN2_HI + LN2_LO, LN2_HI with few significant bits so that k·LN2_HI is exact
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const P: [f32; 6] = [1.987_569_1e-4, 1.398_2e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5];
    const HI: f32 = 88.722_83;
    const LO: f32 = -87.336_55;
    // NaN stays NaN through the clamp and is returned as it is at the end
    let c = x.clamp(LO, HI);
    // k = round(c·log₂e): adding 1.5·2²³ leaves the rounded integer in the low mantissa bits,
    // read out with integer operations (a float-to-int cast does not vectorise: it saturates)
    const ROUND: f32 = 12_582_912.0;
    let t = c * LOG2E + ROUND;
    let k = t - ROUND;
    let ki = t.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let r = c - k * LN2_HI - k * LN2_LO;
    let p = ((((P[0] * r + P[1]) * r + P[2]) * r + P[3]) * r + P[4]) * r + P[5];
    let e = p * r * r + r + 1.0;
    // k ∈ [−126, 128]: 2^k as k + 127 in the exponent field, in two halves so k = 128 fits
    let half = ki >> 1;
    let two_a = f32::from_bits((half.wrapping_add(127) as u32) << 23);
    let two_b = f32::from_bits((ki.wrapping_sub(half).wrapping_add(127) as u32) << 23);
    let y = e * two_a * two_b;
    if x > HI {
        f32::INFINITY
    } else if x < LO {
        0.0
    } else if x.is_nan() {
        x
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_f32_accuracy() {
        let mut worst = 0f64;
        for i in -800_000..=800_000 {
            let x = i as f32 * 1e-5;
            worst = worst.max((erf_f32(x) as f64 - libm::erf(x as f64)).abs());
        }
        for x in [5.0f32, 10.0, 1e30, f32::INFINITY] {
            assert_eq!(erf_f32(x), 1.0);
            assert_eq!(erf_f32(-x), -1.0);
        }
        assert!(erf_f32(f32::NAN).is_nan());
        assert!(worst <= 4e-7, "max |erf_f32 − erf| = {worst:.3e}");
    }

    #[test]
    fn exp_f32_accuracy() {
        // ulp distance to the correctly rounded value, over the whole normal range
        let mut worst = 0u32;
        let mut x = -87.3f32;
        while x < 88.7 {
            let want = libm::exp(x as f64) as f32;
            let got = exp_f32(x);
            worst = worst.max(got.to_bits().abs_diff(want.to_bits()));
            x += 1e-5 * (1.0 + x.abs());
        }
        assert!(worst <= 2, "exp_f32 is {worst} ulp from exp");
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(89.0), f32::INFINITY);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(-88.0), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
    }
}
