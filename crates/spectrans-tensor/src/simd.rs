//! The SIMD level every dispatching kernel uses (GEMM, the FFT column kernels of
//! `spectrans-transforms`, element-wise maps): the widest this CPU has, capped at run time by the
//! environment variable `SPECTRANS_SIMD` (`scalar`, `avx2` or `avx512`), so that the AVX2 path
//! can be benchmarked and tested on an AVX-512 machine and the portable path anywhere.
//!
//! The variable is read once, on first use. A cap above what the CPU has is no cap (the level is
//! never raised); a value that is not one of the three names is ignored by [`level`] and reported
//! by [`env_cap`], which the `spectrans` command line checks at start-up.
//!
//! ```
//! use spectrans_tensor::simd::{self, SimdLevel};
//! assert!(simd::level() <= simd::detected());
//! assert_eq!(SimdLevel::parse("avx2"), Some(SimdLevel::Avx2));
//! ```

use std::sync::OnceLock;

/// The environment variable that caps the SIMD level.
pub const ENV_VAR: &str = "SPECTRANS_SIMD";

/// A SIMD level, ordered from the narrowest: a CPU with one level has every lower one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdLevel {
    /// Portable code only (what the compiler makes of plain loops for the baseline target).
    Scalar,
    /// x86-64 AVX2 with FMA (256-bit vectors).
    Avx2,
    /// x86-64 AVX-512 F and VL, with AVX2 and FMA (512-bit vectors).
    Avx512,
}

impl SimdLevel {
    /// Every level, narrowest first.
    pub const ALL: [SimdLevel; 3] = [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512];

    /// The level's name as `SPECTRANS_SIMD` spells it.
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }

    /// The level named `name` (case-insensitive), if any.
    pub fn parse(name: &str) -> Option<SimdLevel> {
        SimdLevel::ALL.into_iter().find(|l| l.name().eq_ignore_ascii_case(name.trim()))
    }
}

impl std::fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The widest level this CPU supports.
pub fn detected() -> SimdLevel {
    static DETECTED: OnceLock<SimdLevel> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx2") && has!("fma") {
                if has!("avx512f") && has!("avx512vl") {
                    return SimdLevel::Avx512;
                }
                return SimdLevel::Avx2;
            }
        }
        SimdLevel::Scalar
    })
}

/// The cap `SPECTRANS_SIMD` asks for: `Ok(None)` when it is unset or empty, an error naming the
/// variable and the accepted values when it is set to anything else.
pub fn env_cap() -> Result<Option<SimdLevel>, String> {
    match std::env::var(ENV_VAR) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => SimdLevel::parse(&v)
            .map(Some)
            .ok_or_else(|| format!("{ENV_VAR}={v:?} is not a SIMD level; use scalar, avx2 or avx512")),
        Err(e) => Err(format!("{ENV_VAR}: {e}")),
    }
}

/// The level the kernels use: [`detected`], lowered to `SPECTRANS_SIMD` when that names a lower
/// level. Fixed for the life of the process.
pub fn level() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| match env_cap() {
        Ok(Some(cap)) => cap.min(detected()),
        _ => detected(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order() {
        for l in SimdLevel::ALL {
            assert_eq!(SimdLevel::parse(l.name()), Some(l));
            assert_eq!(SimdLevel::parse(&l.name().to_uppercase()), Some(l));
        }
        assert_eq!(SimdLevel::parse("sse9"), None);
        assert!(SimdLevel::Scalar < SimdLevel::Avx2 && SimdLevel::Avx2 < SimdLevel::Avx512);
    }

    #[test]
    fn level_never_exceeds_the_cpu() {
        assert!(level() <= detected());
        if let Ok(Some(cap)) = env_cap() {
            assert!(level() <= cap);
        }
    }
}
