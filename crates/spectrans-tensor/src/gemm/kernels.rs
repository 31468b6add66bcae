//! Micro-kernels: `c[i·ldc + j] (+)= Σ_p a[i·a_rs + p·a_ps] · b[p·b_ps + j]` for one MR × NR tile
//! of C, from a strided A (row-major, column-major or packed: any layout with no packing) and NR
//! contiguous columns of B per depth step: a panel packed NR-wide (`b_ps = NR`) or a row-major B
//! read in place (`b_ps` its row stride).
//!
//! The AVX2 kernels keep the tile in 12 of the 16 ymm registers (f32: 6 × 16, f64: 6 × 8) and
//! stream one B row (two vectors) and six broadcasts of A per depth step: two FMAs per load,
//! the register budget of the classic Goto/BLIS design. The scalar kernel is plain Rust.

/// One micro-kernel and its tile shape.
#[derive(Clone, Copy)]
pub(crate) struct MicroKernel<T> {
    /// Rows of the tile.
    pub mr: usize,
    /// Columns of the tile.
    pub nr: usize,
    /// Runs the kernel over depth `kc`.
    ///
    /// Safety: `a` is valid at `i·a_rs + p·a_ps` for i < mr, p < kc, `b` at `p·b_ps + j` for
    /// p < kc, j < nr;
    /// `c` is valid for `mr` rows of `nr` elements `ldc` apart; `accumulate == false` writes C
    /// without reading it.
    pub run: Kernel<T>,
}

/// The signature of a micro-kernel (see [`MicroKernel::run`]).
pub(crate) type Kernel<T> = unsafe fn(
    kc: usize,
    a: *const T,
    a_rs: isize,
    a_ps: isize,
    b: *const T,
    b_ps: usize,
    c: *mut T,
    ldc: usize,
    accumulate: bool,
);

/// The largest `mr · nr` of any kernel (the size of the edge-tile buffer).
pub(crate) const MAX_TILE: usize = 6 * 16;

/// Tile rows of the scalar kernels.
const SCALAR_MR: usize = 4;
/// Tile columns of the scalar kernels.
const SCALAR_NR: usize = 8;

macro_rules! scalar_kernel {
    ($name:ident, $t:ty) => {
        /// The portable kernel (SCALAR_MR × SCALAR_NR).
        ///
        /// # Safety
        /// As [`MicroKernel::run`].
        #[allow(clippy::too_many_arguments)]
        pub(crate) unsafe fn $name(
            kc: usize,
            a: *const $t,
            a_rs: isize,
            a_ps: isize,
            b: *const $t,
            b_ps: usize,
            c: *mut $t,
            ldc: usize,
            accumulate: bool,
        ) {
            let mut acc = [[0.0 as $t; SCALAR_NR]; SCALAR_MR];
            for p in 0..kc {
                // SAFETY: p < kc, so the row of B is inside B by the caller's contract.
                let br = unsafe { std::slice::from_raw_parts(b.add(p * b_ps), SCALAR_NR) };
                for (i, row) in acc.iter_mut().enumerate() {
                    // SAFETY: i < mr and p < kc, inside A by the caller's contract.
                    let x = unsafe { *a.offset(i as isize * a_rs + p as isize * a_ps) };
                    for (v, &y) in row.iter_mut().zip(br) {
                        // not `mul_add`: without FMA hardware that is a slow libm call
                        *v += x * y;
                    }
                }
            }
            for (i, row) in acc.iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    // SAFETY: inside the tile by the caller's contract.
                    unsafe {
                        let dst = c.add(i * ldc + j);
                        *dst = if accumulate { *dst + v } else { *v };
                    }
                }
            }
        }
    };
}

scalar_kernel!(scalar_f32, f32);
scalar_kernel!(scalar_f64, f64);

/// The scalar kernel for `f32`.
pub(crate) const SCALAR_F32: MicroKernel<f32> = MicroKernel { mr: SCALAR_MR, nr: SCALAR_NR, run: scalar_f32 };
/// The scalar kernel for `f64`.
pub(crate) const SCALAR_F64: MicroKernel<f64> = MicroKernel { mr: SCALAR_MR, nr: SCALAR_NR, run: scalar_f64 };

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Tile rows of the AVX2 kernels.
    pub(super) const MR: usize = 6;

    macro_rules! avx2_kernel {
        ($name:ident, $t:ty, $lanes:expr, $vec:ty, $zero:ident, $load:ident, $store:ident, $bcast:ident, $fma:ident, $add:ident) => {
            /// The AVX2 + FMA kernel, MR × 2 vectors.
            ///
            /// # Safety
            /// As [`super::MicroKernel::run`], and the CPU must have AVX2 and FMA.
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            pub(super) unsafe fn $name(
                kc: usize,
                a: *const $t,
                a_rs: isize,
                a_ps: isize,
                b: *const $t,
                b_ps: usize,
                c: *mut $t,
                ldc: usize,
                accumulate: bool,
            ) {
                let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21) =
                    ($zero(), $zero(), $zero(), $zero(), $zero(), $zero());
                let (mut c30, mut c31, mut c40, mut c41, mut c50, mut c51) =
                    ($zero(), $zero(), $zero(), $zero(), $zero(), $zero());
                let mut b = b;
                // SAFETY: every pointer read stays inside A and B (kc steps of a_ps and b_ps):
                // the caller's contract; the pointers advanced past the last step are never read
                // (wrapping arithmetic: a B read in place ends past its matrix there).
                unsafe {
                    // row pointers of A, advanced by a_ps per depth step
                    let mut a0 = a;
                    let mut a1 = a.wrapping_offset(a_rs);
                    let mut a2 = a.wrapping_offset(2 * a_rs);
                    let mut a3 = a.wrapping_offset(3 * a_rs);
                    let mut a4 = a.wrapping_offset(4 * a_rs);
                    let mut a5 = a.wrapping_offset(5 * a_rs);
                    for _ in 0..kc {
                        let b0 = $load(b);
                        let b1 = $load(b.add($lanes));
                        // one row of the tile: broadcast A[i, p], two FMAs
                        macro_rules! row {
                            ($a:ident, $c0:ident, $c1:ident) => {
                                let x = $bcast(&*$a);
                                $c0 = $fma(x, b0, $c0);
                                $c1 = $fma(x, b1, $c1);
                            };
                        }
                        row!(a0, c00, c01);
                        row!(a1, c10, c11);
                        row!(a2, c20, c21);
                        row!(a3, c30, c31);
                        row!(a4, c40, c41);
                        row!(a5, c50, c51);
                        for p in [&mut a0, &mut a1, &mut a2, &mut a3, &mut a4, &mut a5] {
                            *p = p.wrapping_offset(a_ps);
                        }
                        b = b.wrapping_add(b_ps);
                    }
                    let rows: [($vec, $vec); MR] =
                        [(c00, c01), (c10, c11), (c20, c21), (c30, c31), (c40, c41), (c50, c51)];
                    for (i, (v0, v1)) in rows.into_iter().enumerate() {
                        let dst = c.add(i * ldc);
                        if accumulate {
                            $store(dst, $add($load(dst), v0));
                            $store(dst.add($lanes), $add($load(dst.add($lanes)), v1));
                        } else {
                            $store(dst, v0);
                            $store(dst.add($lanes), v1);
                        }
                    }
                }
            }
        };
    }

    avx2_kernel!(
        f32_6x16,
        f32,
        8,
        __m256,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_broadcast_ss,
        _mm256_fmadd_ps,
        _mm256_add_ps
    );
    avx2_kernel!(
        f64_6x8,
        f64,
        4,
        __m256d,
        _mm256_setzero_pd,
        _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_broadcast_sd,
        _mm256_fmadd_pd,
        _mm256_add_pd
    );
}

/// The AVX2 kernel for `f32` (6 × 16).
///
/// Only valid where [`crate::simd::level`] is at least AVX2.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2_F32: MicroKernel<f32> = MicroKernel { mr: avx2::MR, nr: 16, run: avx2::f32_6x16 };
/// The AVX2 kernel for `f64` (6 × 8).
///
/// Only valid where [`crate::simd::level`] is at least AVX2.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2_F64: MicroKernel<f64> = MicroKernel { mr: avx2::MR, nr: 8, run: avx2::f64_6x8 };
