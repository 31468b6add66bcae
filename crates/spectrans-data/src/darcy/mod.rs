//! The Darcy flow data set of the FNO paper (Li et al. 2021, §5.2): permeability fields a(x)
//! mapped to the pressure u(x) solving −∇·(a∇u) = 1 on (0, 1)², u = 0 on the boundary.
//!
//! a = ψ(z) with z a [`NeumannRandomField`] (covariance ∝ (−Δ + 9I)^−2) and ψ = 12 where z ≥ 0,
//! 3 elsewhere; u from the 5-point [`DarcySolver`] on the fine grid to a relative residual of
//! 1e-10. Coarser grids keep every `stride`-th vertex of the fine one (421 → 211, 141, 106, 85, 43
//! for strides 2, 3, 4, 5, 10). Sample i draws from the i-th generator forked from
//! `Rng::seed(seed)`, so a set does not depend on the thread count, and a later sample range
//! (`first_sample`) continues the same sequence.

mod field;
mod solver;

pub use field::NeumannRandomField;
pub use solver::{DarcySolver, SolveReport};

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use spectrans_tensor::{DType, Float, Rng, Tensor};

use crate::cache;
use crate::error::{DataError, Result};

/// Everything that determines a Darcy data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DarcySpec {
    /// Index of the first sample in the seed's sequence (a test set follows its training set).
    pub first_sample: usize,
    /// Number of (a, u) pairs.
    pub n_samples: usize,
    /// Vertices per side of the solver grid (the paper: 421).
    pub resolution_fine: usize,
    /// Keep every `stride`-th vertex per side: (resolution_fine − 1)/stride + 1 of them.
    pub stride: usize,
    /// Seed of the permeability fields.
    pub seed: u64,
    /// The Gaussian field before thresholding.
    pub field: NeumannRandomField,
    /// a where z ≥ 0 (the paper: 12).
    pub a_positive: f64,
    /// a where z < 0 (the paper: 3).
    pub a_negative: f64,
    /// Relative residual the solver reaches (1e-10).
    pub tolerance: f64,
}

impl DarcySpec {
    /// The paper's problem (ψ = 12 / 3, τ = 3, α = 2, f ≡ 1, tolerance 1e-10) for samples
    /// `first_sample .. first_sample + n_samples` of `seed`.
    ///
    /// ```
    /// use spectrans_data::DarcySpec;
    /// assert_eq!(DarcySpec::new(0, 1000, 421, 5, 0).resolution(), 85);
    /// ```
    pub fn new(first_sample: usize, n_samples: usize, resolution_fine: usize, stride: usize, seed: u64) -> Self {
        DarcySpec {
            first_sample,
            n_samples,
            resolution_fine,
            stride,
            seed,
            field: NeumannRandomField::default(),
            a_positive: 12.0,
            a_negative: 3.0,
            tolerance: 1e-10,
        }
    }

    /// Vertices per side of the kept grid, (resolution_fine − 1)/stride + 1.
    pub fn resolution(&self) -> usize {
        self.resolution_fine.saturating_sub(1) / self.stride.max(1) + 1
    }

    /// Checks every field, naming the one at fault.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, reason: String| Err(DataError::config("DarcySpec", field, reason));
        if self.n_samples == 0 {
            return bad("n_samples", "needs at least one sample".into());
        }
        if self.first_sample.checked_add(self.n_samples).is_none() {
            return bad("first_sample", format!("{} + n_samples overflows", self.first_sample));
        }
        if !(3..=4097).contains(&self.resolution_fine) {
            return bad(
                "resolution_fine",
                format!("must be in 3..=4097 vertices per side, got {}", self.resolution_fine),
            );
        }
        if self.stride == 0 || !(self.resolution_fine - 1).is_multiple_of(self.stride) {
            return bad(
                "stride",
                format!("must divide resolution_fine − 1 = {}, got {}", self.resolution_fine - 1, self.stride),
            );
        }
        for (field, v) in [("a_positive", self.a_positive), ("a_negative", self.a_negative)] {
            if !(v.is_finite() && v > 0.0) {
                return bad(field, format!("must be finite and > 0, got {v}"));
            }
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return bad("tolerance", format!("must be finite and > 0, got {}", self.tolerance));
        }
        self.field.validate()
    }

    /// Everything that determines the cached content, in element type `dtype`.
    fn cache_key(&self, dtype: DType) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!("darcy/v1 {json} dtype={}", dtype.name())
    }
}

/// A generated or loaded Darcy set: coefficients a and solutions u, each (n_samples, s, s).
#[derive(Debug, Clone)]
pub struct DarcyData<T: Float> {
    /// Permeability a(x) at the kept vertices, (n_samples, s, s).
    pub coefficients: Tensor<T>,
    /// Pressure u(x) at the kept vertices, (n_samples, s, s).
    pub solutions: Tensor<T>,
    /// Whether the data came from the cache file (rather than being generated).
    pub from_cache: bool,
}

/// The cache file of `spec` in element type `T`: `dir/darcy_<16 hex digits>.safetensors`.
pub fn darcy_cache_path<T: Float>(dir: impl AsRef<Path>, spec: &DarcySpec) -> PathBuf {
    cache::path(dir.as_ref(), "darcy", &spec.cache_key(T::DTYPE))
}

/// The data of `spec` in `T`, read from [`darcy_cache_path`] when that file holds it, otherwise
/// generated and written there atomically (tensors `a` and `u`, the spec's JSON in the cache key metadata). A
/// cache file that is unreadable, corrupt or holds another set is regenerated, never a panic.
///
/// # Shapes
/// Both tensors are (spec.n_samples, s, s) with s = spec.resolution().
///
/// ```
/// use spectrans_data::{load_or_generate_darcy, DarcySpec};
/// let dir = std::env::temp_dir().join("spectrans-doc-darcy");
/// let spec = DarcySpec::new(0, 2, 17, 2, 3);
/// let first = load_or_generate_darcy::<f32>(&dir, &spec)?;
/// let again = load_or_generate_darcy::<f32>(&dir, &spec)?;
/// assert!(again.from_cache && again.solutions.to_vec() == first.solutions.to_vec());
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), spectrans_data::DataError>(())
/// ```
pub fn load_or_generate_darcy<T: Float>(dir: impl AsRef<Path>, spec: &DarcySpec) -> Result<DarcyData<T>> {
    spec.validate()?;
    let path = darcy_cache_path::<T>(&dir, spec);
    let s = spec.resolution();
    let shape = [spec.n_samples, s, s];
    let ([coefficients, solutions], from_cache) =
        cache::load_or_generate(&path, &spec.cache_key(T::DTYPE), ["a", "u"], &shape, || {
            let (a, u) = generate_darcy(spec)?;
            Ok([a.cast::<T>(), u.cast::<T>()])
        })?;
    Ok(DarcyData { coefficients, solutions, from_cache })
}

/// One sample on the fine grid: the coefficient a and the solution u (n × n each, row-major).
///
/// ```
/// use spectrans_tensor::Rng;
/// use spectrans_data::{darcy_sample, DarcySpec};
/// let (a, u) = darcy_sample(&DarcySpec::new(0, 1, 33, 1, 0), &mut Rng::seed(5))?;
/// assert!(a.iter().all(|&v| v == 12.0 || v == 3.0));
/// assert!(u.iter().all(|&v| v >= 0.0) && u[0] == 0.0);
/// # Ok::<(), spectrans_data::DataError>(())
/// ```
pub fn darcy_sample(spec: &DarcySpec, rng: &mut Rng) -> Result<(Vec<f64>, Vec<f64>)> {
    let n = spec.resolution_fine;
    let z = spec.field.sample(n, rng)?;
    let a: Vec<f64> = z.iter().map(|&v| if v >= 0.0 { spec.a_positive } else { spec.a_negative }).collect();
    let (u, _) = DarcySolver::new(&a, n)?.solve(&vec![1.0; n * n], spec.tolerance)?;
    Ok((a, u))
}

/// Generates the (a, u) pairs of `spec` in parallel, identical for any thread count.
///
/// # Shapes
/// Both tensors are (n_samples, s, s) with s = spec.resolution().
///
/// ```
/// use spectrans_data::{generate_darcy, DarcySpec};
/// let (a, u) = generate_darcy(&DarcySpec::new(0, 2, 17, 2, 1))?;
/// assert_eq!((a.shape(), u.shape()), (&[2, 9, 9][..], &[2, 9, 9][..]));
/// # Ok::<(), spectrans_data::DataError>(())
/// ```
pub fn generate_darcy(spec: &DarcySpec) -> Result<(Tensor<f64>, Tensor<f64>)> {
    spec.validate()?;
    let mut master = Rng::seed(spec.seed);
    for _ in 0..spec.first_sample {
        master.fork();
    }
    let streams: Vec<Rng> = (0..spec.n_samples).map(|_| master.fork()).collect();
    let (n, stride, s) = (spec.resolution_fine, spec.stride, spec.resolution());
    let keep = |grid: Vec<f64>| -> Vec<f64> {
        grid.chunks(n).step_by(stride).flat_map(|row| row.iter().step_by(stride).copied()).collect()
    };
    let pairs: Vec<(Vec<f64>, Vec<f64>)> = streams
        .into_par_iter()
        .map(|mut rng| darcy_sample(spec, &mut rng).map(|(a, u)| (keep(a), keep(u))))
        .collect::<Result<_>>()?;
    let (mut a, mut u) = (Vec::with_capacity(spec.n_samples * s * s), Vec::with_capacity(spec.n_samples * s * s));
    for (ai, ui) in pairs {
        a.extend(ai);
        u.extend(ui);
    }
    Ok((Tensor::from_vec(a, &[spec.n_samples, s, s])?, Tensor::from_vec(u, &[spec.n_samples, s, s])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_does_not_depend_on_the_thread_count() {
        let spec = DarcySpec::new(0, 5, 33, 2, 9);
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| generate_darcy(&spec).unwrap())
        };
        let (a1, u1) = run(1);
        let (a3, u3) = run(3);
        assert_eq!(a1.to_vec(), a3.to_vec());
        assert_eq!(u1.to_vec(), u3.to_vec());
    }

    #[test]
    fn coarse_grids_are_the_fine_grid_strided_and_ranges_continue_the_sequence() {
        let fine = generate_darcy(&DarcySpec::new(0, 3, 33, 1, 4)).unwrap();
        let coarse = generate_darcy(&DarcySpec::new(0, 3, 33, 4, 4)).unwrap();
        assert_eq!(coarse.0.shape(), &[3, 9, 9]);
        for (t_fine, t_coarse) in [(&fine.0, &coarse.0), (&fine.1, &coarse.1)] {
            for b in 0..3 {
                for i in 0..9 {
                    for j in 0..9 {
                        let f = t_fine.to_vec()[b * 33 * 33 + 4 * i * 33 + 4 * j];
                        assert_eq!(f, t_coarse.to_vec()[b * 81 + i * 9 + j]);
                    }
                }
            }
        }
        let tail = generate_darcy(&DarcySpec::new(1, 2, 33, 1, 4)).unwrap();
        assert_eq!(tail.1.to_vec(), fine.1.to_vec()[33 * 33..]);
    }

    #[test]
    fn samples_have_both_phases_and_a_positive_solution() {
        let (a, u) = generate_darcy(&DarcySpec::new(0, 4, 65, 1, 0)).unwrap();
        let a = a.to_vec();
        let high = a.iter().filter(|&&v| v == 12.0).count() as f64 / a.len() as f64;
        assert!((0.2..0.8).contains(&high), "fraction of a = 12: {high}");
        let u = u.to_vec();
        assert!(u.iter().all(|&v| v >= 0.0), "maximum principle");
        for b in 0..4 {
            let grid = &u[b * 65 * 65..(b + 1) * 65 * 65];
            let edges = (0..65).flat_map(|k| [grid[k], grid[64 * 65 + k], grid[k * 65], grid[k * 65 + 64]]);
            assert!(edges.into_iter().all(|v| v == 0.0), "u = 0 on the boundary");
            assert!(grid[32 * 65 + 32] > 0.0);
        }
    }

    #[test]
    fn the_cache_is_reused_and_a_broken_or_foreign_file_regenerated() {
        let dir = std::env::temp_dir().join(format!("spectrans-darcy-cache-{}", std::process::id()));
        let spec = DarcySpec::new(0, 2, 17, 1, 6);
        let first = load_or_generate_darcy::<f64>(&dir, &spec).unwrap();
        assert!(!first.from_cache);
        let path = darcy_cache_path::<f64>(&dir, &spec);
        let bytes = std::fs::read(&path).unwrap();
        assert!(load_or_generate_darcy::<f64>(&dir, &spec).unwrap().from_cache);
        assert_ne!(darcy_cache_path::<f32>(&dir, &spec), path, "the element type is part of the key");
        let other = DarcySpec { seed: 7, ..spec.clone() };
        load_or_generate_darcy::<f64>(&dir, &other).unwrap();
        let foreign = std::fs::read(darcy_cache_path::<f64>(&dir, &other)).unwrap();
        for broken in [vec![], bytes[..bytes.len() / 2].to_vec(), foreign] {
            std::fs::write(&path, &broken).unwrap();
            let again = load_or_generate_darcy::<f64>(&dir, &spec).unwrap();
            assert!(!again.from_cache);
            assert_eq!(again.solutions.to_vec(), first.solutions.to_vec());
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "the cache file is rewritten");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_bad_field_is_named() {
        let base = DarcySpec::new(0, 2, 33, 2, 0);
        let cases: Vec<(DarcySpec, &str)> = vec![
            (DarcySpec { n_samples: 0, ..base.clone() }, "n_samples"),
            (DarcySpec { first_sample: usize::MAX, ..base.clone() }, "first_sample"),
            (DarcySpec { resolution_fine: 2, ..base.clone() }, "resolution_fine"),
            (DarcySpec { resolution_fine: 1 << 40, ..base.clone() }, "resolution_fine"),
            (DarcySpec { stride: 3, ..base.clone() }, "stride"),
            (DarcySpec { stride: 0, ..base.clone() }, "stride"),
            (DarcySpec { a_negative: -1.0, ..base.clone() }, "a_negative"),
            (DarcySpec { a_positive: f64::NAN, ..base.clone() }, "a_positive"),
            (DarcySpec { tolerance: 0.0, ..base.clone() }, "tolerance"),
            (DarcySpec { field: NeumannRandomField { tau: -1.0, alpha: 2.0 }, ..base.clone() }, "tau"),
        ];
        for (spec, field) in cases {
            let e = generate_darcy(&spec).unwrap_err().to_string();
            assert!(e.contains(field), "{field}: {e}");
        }
    }
}
