//! A global, thread-safe cache of FFT and DCT plans, and the element-type bridge to rustfft.
//!
//! One planner per element type (`f32`, `f64`) and per family (complex FFT, real FFT, DCT/DST)
//! lives for the whole process; planning a length a second time returns the same `Arc`-shared
//! plan. Plans are immutable and `Sync`: many threads run one plan at once, each with its own
//! scratch buffer (`process_with_scratch`), which is how every kernel of this crate uses them.
//!
//! This low-level API is for fused kernels in other crates (the spectral convolution of
//! `spectrans-layers`), which run the plans on their own buffers:
//!
//! ```
//! use num_complex::Complex;
//! use spectrans_transforms::plan;
//! let fwd = plan::real_fft::<f32>(8);
//! let inv = plan::real_ifft::<f32>(8);
//! let mut signal = vec![1.0f32, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0];
//! let original = signal.clone();
//! let mut spectrum = vec![Complex::new(0.0f32, 0.0); 5];
//! let mut scratch = vec![Complex::new(0.0f32, 0.0); fwd.get_scratch_len().max(inv.get_scratch_len())];
//! fwd.process_with_scratch(&mut signal, &mut spectrum, &mut scratch).unwrap();
//! assert_eq!(spectrum[0].re, 10.0);
//! inv.process_with_scratch(&mut spectrum, &mut signal, &mut scratch).unwrap(); // unnormalised
//! for (a, b) in signal.iter().zip(&original) {
//!     assert!((a / 8.0 - b).abs() < 1e-6);
//! }
//! assert!(plan::fft::<f64>(12).same_plan(&plan::fft::<f64>(12)));
//! ```
//!
//! The plan types ([`FftPlan`], [`RealFftPlan`], [`RealIfftPlan`], [`DctPlan`]) are this crate's
//! own: the FFT libraries behind them (rustfft, realfft, rustdct) are an implementation detail
//! and appear in no public signature. Spectra are [`num_complex::Complex`] values.

use std::any::TypeId;
use std::mem::ManuallyDrop;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use num_complex::Complex;
use realfft::{ComplexToReal, RealToComplex};
use rustdct::TransformType2And3;
use rustfft::Fft;
use spectrans_tensor::{Float, TensorError};

mod sealed {
    use std::sync::Mutex;

    use realfft::RealFftPlanner;
    use rustdct::DctPlanner;
    use rustfft::FftPlanner;

    /// The planners of one element type, behind the free functions of this module.
    pub struct Planners<T: rustdct::DctNum> {
        pub(super) complex: Mutex<FftPlanner<T>>,
        pub(super) real: Mutex<RealFftPlanner<T>>,
        pub(super) dct: Mutex<DctPlanner<T>>,
    }

    impl<T: rustdct::DctNum> Planners<T> {
        pub(super) fn new() -> Self {
            Planners {
                complex: Mutex::new(FftPlanner::new()),
                real: Mutex::new(RealFftPlanner::new()),
                dct: Mutex::new(DctPlanner::new()),
            }
        }
    }

    /// The FFT libraries' element-type bound and the process-wide planners, out of sight: a
    /// user can neither name nor implement it.
    pub trait Sealed: rustdct::DctNum {
        /// The process-wide planners of this type.
        fn planners() -> &'static Planners<Self>;
    }
}

/// Locks a planner; a panic inside a planner cannot leave its cache half-written in a way that
/// matters (worst case a plan is rebuilt), so a poisoned lock is still used.
fn lock<P>(m: &Mutex<P>) -> MutexGuard<'_, P> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An element type the FFT libraries accept: `f32` or `f64` (sealed).
///
/// Every [`Float`] of `spectrans-tensor` is one of these; the tensor functions of this crate take
/// any `T: Float` and dispatch to the matching implementation.
pub trait FftFloat: Float + sealed::Sealed {}

impl sealed::Sealed for f32 {
    fn planners() -> &'static sealed::Planners<f32> {
        static PLANNERS: OnceLock<sealed::Planners<f32>> = OnceLock::new();
        PLANNERS.get_or_init(sealed::Planners::new)
    }
}

impl sealed::Sealed for f64 {
    fn planners() -> &'static sealed::Planners<f64> {
        static PLANNERS: OnceLock<sealed::Planners<f64>> = OnceLock::new();
        PLANNERS.get_or_init(sealed::Planners::new)
    }
}

impl FftFloat for f32 {}
impl FftFloat for f64 {}

/// An error of a plan run: the buffer lengths do not fit the plan, or (inverse real FFT) the
/// imaginary part of DC or Nyquist is not zero.
fn plan_error(op: &'static str, e: impl std::fmt::Display) -> TensorError {
    TensorError::invalid(op, e.to_string())
}

/// The methods every plan type has: its length, and whether two handles share one cached plan.
macro_rules! plan_basics {
    () => {
        /// The transform length n (of the real signal, for the real FFTs).
        pub fn len(&self) -> usize {
            self.0.len()
        }

        /// Whether the length is 0.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        /// Whether both are the one cached plan.
        pub fn same_plan(&self, other: &Self) -> bool {
            Arc::ptr_eq(&self.0, &other.0)
        }
    };
    (scratch) => {
        plan_basics!();

        /// Scratch elements a `process_*with_scratch` call needs.
        pub fn get_scratch_len(&self) -> usize {
            self.0.get_scratch_len()
        }
    };
}

/// A cached complex FFT of one length and direction, unnormalised: forward
/// X_k = Σ_j x_j e^{−2πi jk/n}, inverse x_j = Σ_k X_k e^{+2πi jk/n}. Cheap to clone (shared).
#[derive(Clone)]
pub struct FftPlan<T: FftFloat>(Arc<dyn Fft<T>>);

impl<T: FftFloat> FftPlan<T> {
    plan_basics!();

    /// Scratch elements [`Self::process_with_scratch`] needs.
    pub fn get_inplace_scratch_len(&self) -> usize {
        self.0.get_inplace_scratch_len()
    }

    /// Transforms `buffer` in place (any multiple of n elements: one transform per chunk),
    /// with `scratch` of at least [`Self::get_inplace_scratch_len`] elements.
    pub fn process_with_scratch(&self, buffer: &mut [Complex<T>], scratch: &mut [Complex<T>]) {
        self.0.process_with_scratch(buffer, scratch)
    }

    /// Transforms `buffer` in place, allocating its scratch.
    pub fn process(&self, buffer: &mut [Complex<T>]) {
        self.0.process(buffer)
    }
}

/// A cached real-to-complex FFT of length n: n real samples → n/2+1 bins, unnormalised.
#[derive(Clone)]
pub struct RealFftPlan<T: FftFloat>(Arc<dyn RealToComplex<T>>);

impl<T: FftFloat> RealFftPlan<T> {
    plan_basics!(scratch);

    /// A zeroed input buffer (n samples).
    pub fn make_input_vec(&self) -> Vec<T> {
        self.0.make_input_vec()
    }

    /// A zeroed output buffer (n/2+1 bins).
    pub fn make_output_vec(&self) -> Vec<Complex<T>> {
        self.0.make_output_vec()
    }

    /// A zeroed scratch buffer.
    pub fn make_scratch_vec(&self) -> Vec<Complex<T>> {
        self.0.make_scratch_vec()
    }

    /// Transforms `input` (n samples, used as scratch too) into `output` (n/2+1 bins). An error
    /// when a length does not fit.
    pub fn process_with_scratch(
        &self,
        input: &mut [T],
        output: &mut [Complex<T>],
        scratch: &mut [Complex<T>],
    ) -> Result<(), TensorError> {
        self.0.process_with_scratch(input, output, scratch).map_err(|e| plan_error("rfft plan", e))
    }

    /// [`Self::process_with_scratch`], allocating its scratch.
    pub fn process(&self, input: &mut [T], output: &mut [Complex<T>]) -> Result<(), TensorError> {
        self.0.process(input, output).map_err(|e| plan_error("rfft plan", e))
    }
}

/// A cached complex-to-real inverse FFT of length n: n/2+1 bins → n real samples, unnormalised.
/// It rejects (after computing) a non-zero imaginary part of the DC bin and, for even n, of the
/// Nyquist bin: zero them first.
#[derive(Clone)]
pub struct RealIfftPlan<T: FftFloat>(Arc<dyn ComplexToReal<T>>);

impl<T: FftFloat> RealIfftPlan<T> {
    plan_basics!(scratch);

    /// A zeroed input buffer (n/2+1 bins).
    pub fn make_input_vec(&self) -> Vec<Complex<T>> {
        self.0.make_input_vec()
    }

    /// A zeroed output buffer (n samples).
    pub fn make_output_vec(&self) -> Vec<T> {
        self.0.make_output_vec()
    }

    /// A zeroed scratch buffer.
    pub fn make_scratch_vec(&self) -> Vec<Complex<T>> {
        self.0.make_scratch_vec()
    }

    /// Transforms `input` (n/2+1 bins, used as scratch too) into `output` (n samples). An error
    /// when a length does not fit or an edge bin has an imaginary part.
    pub fn process_with_scratch(
        &self,
        input: &mut [Complex<T>],
        output: &mut [T],
        scratch: &mut [Complex<T>],
    ) -> Result<(), TensorError> {
        self.0.process_with_scratch(input, output, scratch).map_err(|e| plan_error("irfft plan", e))
    }

    /// [`Self::process_with_scratch`], allocating its scratch.
    pub fn process(&self, input: &mut [Complex<T>], output: &mut [T]) -> Result<(), TensorError> {
        self.0.process(input, output).map_err(|e| plan_error("irfft plan", e))
    }
}

/// A cached DCT-II/DCT-III/DST-II/DST-III of length n, in place, unnormalised (e.g. DCT-II
/// X_k = Σ_j x_j cos(πk(2j+1)/2n)).
#[derive(Clone)]
pub struct DctPlan<T: FftFloat>(Arc<dyn TransformType2And3<T>>);

impl<T: FftFloat> DctPlan<T> {
    plan_basics!(scratch);

    /// DCT-II of `buffer` (n elements) in place.
    pub fn process_dct2_with_scratch(&self, buffer: &mut [T], scratch: &mut [T]) {
        self.0.process_dct2_with_scratch(buffer, scratch)
    }

    /// DCT-III of `buffer` (n elements) in place.
    pub fn process_dct3_with_scratch(&self, buffer: &mut [T], scratch: &mut [T]) {
        self.0.process_dct3_with_scratch(buffer, scratch)
    }

    /// DST-II of `buffer` (n elements) in place.
    pub fn process_dst2_with_scratch(&self, buffer: &mut [T], scratch: &mut [T]) {
        self.0.process_dst2_with_scratch(buffer, scratch)
    }

    /// DST-III of `buffer` (n elements) in place.
    pub fn process_dst3_with_scratch(&self, buffer: &mut [T], scratch: &mut [T]) {
        self.0.process_dst3_with_scratch(buffer, scratch)
    }
}

/// The cached forward complex FFT of length `n` (unnormalised: X_k = Σ_j x_j e^{−2πi jk/n}).
pub fn fft<T: FftFloat>(n: usize) -> FftPlan<T> {
    FftPlan(lock(&T::planners().complex).plan_fft_forward(n))
}

/// The cached inverse complex FFT of length `n` (unnormalised: x_j = Σ_k X_k e^{+2πi jk/n}).
pub fn ifft<T: FftFloat>(n: usize) -> FftPlan<T> {
    FftPlan(lock(&T::planners().complex).plan_fft_inverse(n))
}

/// The cached real-to-complex FFT of length `n` (n real samples → n/2+1 bins, unnormalised).
pub fn real_fft<T: FftFloat>(n: usize) -> RealFftPlan<T> {
    RealFftPlan(lock(&T::planners().real).plan_fft_forward(n))
}

/// The cached complex-to-real inverse FFT of length `n` (n/2+1 bins → n real samples,
/// unnormalised). It rejects (with an error, after computing) a non-zero imaginary part of the
/// DC bin and, for even `n`, of the Nyquist bin: zero them first.
pub fn real_ifft<T: FftFloat>(n: usize) -> RealIfftPlan<T> {
    RealIfftPlan(lock(&T::planners().real).plan_fft_inverse(n))
}

/// The cached DCT-II/DCT-III/DST-II/DST-III plan of length `n` (rustdct's unnormalised
/// conventions, e.g. DCT-II X_k = Σ_j x_j cos(πk(2j+1)/2n)).
pub fn dct<T: FftFloat>(n: usize) -> DctPlan<T> {
    DctPlan(lock(&T::planners().dct).plan_dct2(n))
}

/// Real FFTs along the middle axis of a row-major (outer, n, inner) buffer — the FNO layout
/// (B, N, D) — for fused kernels, vectorised across the `inner` lanes (no transpose).
///
/// Keeps bins 0..`bins` of each lane (zero beyond n/2), scaled by `scale` on DC/Nyquist (whose
/// imaginary parts are set to exactly 0) and by `scale · interior` elsewhere, and writes them
/// bin-major: bin k of lane (o, d) at `[(k·outer + o)·2·inner + d]` (re) and `… + inner` (im), so
/// each bin is one contiguous (outer, 2·inner) matrix. Returns `None` when this path does not
/// apply (odd `n`, n/2 with a prime factor above 5, or fewer than 4 lanes per row): use the
/// per-lane plans then.
///
/// ```
/// use spectrans_transforms::plan;
/// // (outer 1, n 4, inner 4): lane d is the constant d+1
/// let x: Vec<f64> = (0..4).flat_map(|_| [1.0, 2.0, 3.0, 4.0]).collect();
/// let spec = plan::rfft_lanes_bin_major(&x, (1, 4, 4), 2, 1.0, 1.0).unwrap();
/// assert_eq!(&spec[..8], &[4.0, 8.0, 12.0, 16.0, 0.0, 0.0, 0.0, 0.0]); // bin 0: re, then im
/// let back = plan::irfft_lanes_bin_major(&spec, (1, 4, 4), 2, 0.25, 1.0).unwrap();
/// assert_eq!(back, x);
/// ```
pub fn rfft_lanes_bin_major<T: FftFloat>(
    x: &[T],
    (outer, n, inner): (usize, usize, usize),
    bins: usize,
    scale: T,
    interior: T,
) -> Option<Vec<T>> {
    use crate::columns::{try_r2c, Geometry, Spectrum};
    if x.len() != outer * n * inner {
        return None;
    }
    // long lanes with few bins kept: the pruned transform (cache-resident passes)
    crate::columns::pruned::r2c(x, (outer, n, inner), bins, scale, interior).or_else(|| {
        try_r2c(
            n,
            x,
            Geometry { outer, inner, len_in: n, len_out: bins, scale, interior, spectrum: Spectrum::BinMajor },
        )
    })
}

/// The inverse of [`rfft_lanes_bin_major`]: bins 0..`bins` laid out bin-major (higher bins zero,
/// Im of DC/Nyquist ignored, the other bins times `interior`) → real lanes of length `n` in a
/// row-major (outer, n, inner) buffer, times `scale` (unnormalised for `scale` 1). `None` when
/// the path does not apply (see there).
pub fn irfft_lanes_bin_major<T: FftFloat>(
    spec: &[T],
    (outer, n, inner): (usize, usize, usize),
    bins: usize,
    scale: T,
    interior: T,
) -> Option<Vec<T>> {
    use crate::columns::{try_c2r, Geometry, Spectrum};
    if spec.len() != bins * outer * 2 * inner {
        return None;
    }
    crate::columns::pruned::c2r(spec, (outer, n, inner), bins, scale, interior).or_else(|| {
        try_c2r(
            n,
            spec,
            Geometry { outer, inner, len_in: bins, len_out: n, scale, interior, spectrum: Spectrum::BinMajor },
        )
    })
}

/// A computation over a flat buffer, written once for every [`FftFloat`].
pub(crate) trait Kernel: Sync {
    /// Runs the kernel on `src`.
    fn run<F: FftFloat>(&self, src: &[F]) -> Vec<F>;
}

/// Reinterprets `&[T]` as `&[U]` when they are the same type.
fn same_slice<T: 'static, U: 'static>(s: &[T]) -> Option<&[U]> {
    // SAFETY: the type ids are equal, so `T` and `U` are the same type.
    (TypeId::of::<T>() == TypeId::of::<U>()).then(|| unsafe { &*(s as *const [T] as *const [U]) })
}

/// Reinterprets `Vec<T>` as `Vec<U>` when they are the same type.
fn same_vec<T: 'static, U: 'static>(v: Vec<T>) -> Option<Vec<U>> {
    if TypeId::of::<T>() != TypeId::of::<U>() {
        return None;
    }
    let mut v = ManuallyDrop::new(v);
    // SAFETY: `T` and `U` are the same type, so pointer, length and capacity are valid for `U`.
    Some(unsafe { Vec::from_raw_parts(v.as_mut_ptr() as *mut U, v.len(), v.capacity()) })
}

/// Runs `kernel` on a buffer of any tensor element type, dispatching to the `f32` or `f64`
/// instantiation.
pub(crate) fn run_kernel<T: Float, K: Kernel>(op: &'static str, kernel: &K, src: &[T]) -> Result<Vec<T>, TensorError> {
    if let Some(s) = same_slice::<T, f32>(src) {
        return same_vec(kernel.run::<f32>(s)).ok_or_else(|| unsupported::<T>(op));
    }
    if let Some(s) = same_slice::<T, f64>(src) {
        return same_vec(kernel.run::<f64>(s)).ok_or_else(|| unsupported::<T>(op));
    }
    Err(unsupported::<T>(op))
}

fn unsupported<T: Float>(op: &'static str) -> TensorError {
    TensorError::invalid(op, format!("element type {} is not supported by the FFT (only f32 and f64)", T::DTYPE.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_shared_and_threads_agree() {
        assert!(real_fft::<f32>(30).same_plan(&real_fft::<f32>(30)));
        assert!(ifft::<f64>(7).same_plan(&ifft::<f64>(7)));
        assert_eq!(dct::<f64>(5).len(), 5);
        let results: Vec<Vec<f64>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        let p = real_fft::<f64>(97);
                        let mut x: Vec<f64> = (0..97).map(|i| (i as f64).sin()).collect();
                        let mut y = p.make_output_vec();
                        p.process(&mut x, &mut y).unwrap();
                        y.iter().map(|c| c.re + c.im).collect()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(results.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn dispatch_reinterprets_only_identical_types() {
        assert!(same_slice::<f32, f64>(&[1.0f32]).is_none());
        assert_eq!(same_slice::<f32, f32>(&[1.5f32]), Some(&[1.5f32][..]));
        assert_eq!(same_vec::<f64, f64>(vec![2.0]), Some(vec![2.0]));
    }
}
