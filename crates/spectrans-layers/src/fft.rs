//! FFT plans shared by the spectral layers: one planner per element type, plans reused.

use std::sync::{Arc, Mutex, OnceLock};

use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use spectrans_tensor::Float;

/// Element types with FFT support: `f32` and `f64`.
pub trait FftFloat: Float + realfft::FftNum {
    /// The process-wide plan cache for this type.
    fn plan_cache() -> &'static PlanCache<Self>;
}

/// Cached real-FFT plans of one element type (thread-safe; plans are shared `Arc`s).
pub struct PlanCache<T: realfft::FftNum> {
    planner: Mutex<RealFftPlanner<T>>,
}

impl<T: realfft::FftNum> PlanCache<T> {
    fn new() -> Self {
        PlanCache { planner: Mutex::new(RealFftPlanner::new()) }
    }

    fn planner(&self) -> std::sync::MutexGuard<'_, RealFftPlanner<T>> {
        self.planner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The real-to-complex plan of length `n`.
    pub fn forward(&self, n: usize) -> Arc<dyn RealToComplex<T>> {
        self.planner().plan_fft_forward(n)
    }

    /// The complex-to-real plan of length `n`.
    pub fn inverse(&self, n: usize) -> Arc<dyn ComplexToReal<T>> {
        self.planner().plan_fft_inverse(n)
    }
}

macro_rules! impl_fft_float {
    ($t:ty) => {
        impl FftFloat for $t {
            fn plan_cache() -> &'static PlanCache<$t> {
                static CACHE: OnceLock<PlanCache<$t>> = OnceLock::new();
                CACHE.get_or_init(PlanCache::new)
            }
        }
    };
}
impl_fft_float!(f32);
impl_fft_float!(f64);

/// The plan cache of `T`.
pub(crate) fn plans<T: FftFloat>() -> &'static PlanCache<T> {
    T::plan_cache()
}
