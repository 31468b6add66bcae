//! The Burgers data set: GRF initial conditions mapped to the solution at t = 1, generated in
//! parallel with per-sample random streams, subsampled to coarser grids, and cached on disk.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use spectrans_tensor::{DType, Float, Rng, Tensor};

use crate::cache;
use crate::error::{DataError, Result};
use crate::grf::GaussianRandomField;
use crate::solver::BurgersSolver;

/// Default number of ETDRK4 steps on [0, 1] (Δt = 1/1000): halving Δt changes u(·, 1) by far less
/// than 1e-6 relative (see the convergence tests).
pub const DEFAULT_TIME_STEPS: usize = 1000;

/// Everything that determines a Burgers data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurgersSpec {
    /// Number of (u0, u1) pairs.
    pub n_samples: usize,
    /// Grid of the solver (the paper: 8192), even.
    pub resolution_fine: usize,
    /// Keep every `subsample`-th point (a power of two dividing `resolution_fine`).
    pub subsample: usize,
    /// Seed of the initial conditions.
    pub seed: u64,
    /// ν (the paper: 0.1).
    pub viscosity: f64,
    /// Final time (the paper: 1).
    pub t_end: f64,
    /// Number of ETDRK4 steps.
    pub time_steps: usize,
    /// Whether the cache stores the fine grid (any subsampling can then reuse it) rather than
    /// the requested resolution.
    pub cache_fine: bool,
}

impl BurgersSpec {
    /// The paper's set-up: ν = 0.1, t = 1, fine grid 8192, [`DEFAULT_TIME_STEPS`] steps; the cache
    /// stores the requested resolution.
    ///
    /// ```
    /// use spectrans_data::BurgersSpec;
    /// let spec = BurgersSpec::new(1200, 8192, 8, 0);
    /// assert_eq!(spec.resolution(), 1024);
    /// ```
    pub fn new(n_samples: usize, resolution_fine: usize, subsample: usize, seed: u64) -> Self {
        BurgersSpec {
            n_samples,
            resolution_fine,
            subsample,
            seed,
            viscosity: 0.1,
            t_end: 1.0,
            time_steps: DEFAULT_TIME_STEPS,
            cache_fine: false,
        }
    }

    /// The output resolution `resolution_fine / subsample`.
    pub fn resolution(&self) -> usize {
        self.resolution_fine / self.subsample.max(1)
    }

    /// Checks every field, naming the one at fault.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, reason: String| Err(DataError::config("BurgersSpec", field, reason));
        if self.n_samples == 0 {
            return bad("n_samples", "needs at least one sample".into());
        }
        if self.resolution_fine < 4 || !self.resolution_fine.is_multiple_of(2) {
            return bad("resolution_fine", format!("needs an even grid size >= 4, got {}", self.resolution_fine));
        }
        if !self.subsample.is_power_of_two() || !self.resolution_fine.is_multiple_of(self.subsample) {
            return bad(
                "subsample",
                format!(
                    "must be a power of two dividing resolution_fine = {}, got {}",
                    self.resolution_fine, self.subsample
                ),
            );
        }
        if !self.viscosity.is_finite() || self.viscosity <= 0.0 {
            return bad("viscosity", format!("must be finite and > 0, got {}", self.viscosity));
        }
        if !self.t_end.is_finite() || self.t_end <= 0.0 {
            return bad("t_end", format!("must be finite and > 0, got {}", self.t_end));
        }
        if self.time_steps == 0 {
            return bad("time_steps", "needs at least one time step".into());
        }
        Ok(())
    }

    /// The fields that determine the cached content (the subsampling only when it is stored).
    fn cache_key(&self, dtype: DType) -> String {
        let stored = if self.cache_fine { self.resolution_fine } else { self.resolution() };
        format!(
            "burgers/v1 n={} fine={} stored={} seed={} nu={:e} t={:e} steps={} dtype={}",
            self.n_samples,
            self.resolution_fine,
            stored,
            self.seed,
            self.viscosity,
            self.t_end,
            self.time_steps,
            dtype.name()
        )
    }
}

/// A generated or loaded data set: inputs u0 and outputs u(·, t_end), each (n_samples, resolution).
#[derive(Debug, Clone)]
pub struct BurgersData<T: Float> {
    /// Initial conditions, shape (n_samples, resolution).
    pub inputs: Tensor<T>,
    /// Solutions at the final time, shape (n_samples, resolution).
    pub outputs: Tensor<T>,
    /// Whether the data came from the cache file (rather than being generated).
    pub from_cache: bool,
}

/// Generates `n_samples` pairs (u0, u(·,1)) of the paper's Burgers problem, solved on
/// `resolution_fine` points and subsampled by `subsample`, in parallel.
///
/// Sample i uses the i-th generator forked from `Rng::seed(seed)`, so the data does not depend on
/// the thread count, and a larger `n_samples` extends a smaller one.
///
/// # Shapes
/// Both tensors are (n_samples, resolution_fine / subsample).
///
/// ```
/// use spectrans_data::generate;
/// let (u0, u1) = generate(2, 64, 2, 7)?;
/// assert_eq!((u0.shape(), u1.shape()), (&[2, 32][..], &[2, 32][..]));
/// # Ok::<(), spectrans_data::DataError>(())
/// ```
pub fn generate(
    n_samples: usize,
    resolution_fine: usize,
    subsample: usize,
    seed: u64,
) -> Result<(Tensor<f64>, Tensor<f64>)> {
    generate_with(&BurgersSpec::new(n_samples, resolution_fine, subsample, seed))
}

/// [`generate`] for a full specification.
///
/// # Shapes
/// Both tensors are (spec.n_samples, spec.resolution()).
///
/// ```
/// use spectrans_data::{generate_with, BurgersSpec};
/// let spec = BurgersSpec { time_steps: 200, ..BurgersSpec::new(1, 32, 1, 0) };
/// let (u0, u1) = generate_with(&spec)?;
/// assert_eq!(u1.shape(), &[1, 32]);
/// # Ok::<(), spectrans_data::DataError>(())
/// ```
pub fn generate_with(spec: &BurgersSpec) -> Result<(Tensor<f64>, Tensor<f64>)> {
    let (u0, u1) = generate_at(spec, spec.subsample)?;
    Ok((u0, u1))
}

/// Generates at the fine grid and keeps every `stride`-th point.
fn generate_at(spec: &BurgersSpec, stride: usize) -> Result<(Tensor<f64>, Tensor<f64>)> {
    spec.validate()?;
    let n = spec.resolution_fine;
    let solver = BurgersSolver::new(n, spec.viscosity, spec.t_end, spec.time_steps)?;
    let grf = GaussianRandomField::default();
    let mut master = Rng::seed(spec.seed);
    let streams: Vec<Rng> = (0..spec.n_samples).map(|_| master.fork()).collect();
    let s = n / stride;
    let pairs: Vec<(Vec<f64>, Vec<f64>)> = streams
        .into_par_iter()
        .map(|mut rng| -> Result<_> {
            let u0 = grf.sample(n, &mut rng)?;
            let u1 = solver.solve(&u0)?;
            Ok((u0.into_iter().step_by(stride).collect(), u1.into_iter().step_by(stride).collect()))
        })
        .collect::<Result<_>>()?;
    let (mut a, mut b) = (Vec::with_capacity(spec.n_samples * s), Vec::with_capacity(spec.n_samples * s));
    for (u0, u1) in pairs {
        a.extend(u0);
        b.extend(u1);
    }
    Ok((Tensor::from_vec(a, &[spec.n_samples, s])?, Tensor::from_vec(b, &[spec.n_samples, s])?))
}

/// The cache file of `spec` in element type `T`: `dir/burgers_<16 hex digits>.safetensors`.
pub fn cache_path<T: Float>(dir: impl AsRef<Path>, spec: &BurgersSpec) -> PathBuf {
    cache::path(dir.as_ref(), "burgers", &spec.cache_key(T::DTYPE))
}

/// The data of `spec` in element type `T`, read from [`cache_path`] when that file holds it, and
/// otherwise generated and written there (atomically). A cache file that is unreadable, corrupt
/// or describes another spec is regenerated, never a panic.
///
/// The file holds tensors `u0` and `u1` of shape (n_samples, stored resolution) and the spec's
/// cache key as metadata.
///
/// # Shapes
/// Both tensors are (spec.n_samples, spec.resolution()).
///
/// ```
/// use spectrans_data::{load_or_generate, BurgersSpec};
/// let dir = std::env::temp_dir().join("spectrans-doc-burgers");
/// let spec = BurgersSpec { time_steps: 100, ..BurgersSpec::new(2, 32, 2, 3) };
/// let first = load_or_generate::<f32>(&dir, &spec)?;
/// let again = load_or_generate::<f32>(&dir, &spec)?;
/// assert!(again.from_cache);
/// assert_eq!(first.outputs.to_vec(), again.outputs.to_vec());
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), spectrans_data::DataError>(())
/// ```
pub fn load_or_generate<T: Float>(dir: impl AsRef<Path>, spec: &BurgersSpec) -> Result<BurgersData<T>> {
    spec.validate()?;
    let path = cache_path::<T>(&dir, spec);
    let stride = if spec.cache_fine { 1 } else { spec.subsample };
    let shape = [spec.n_samples, spec.resolution_fine / stride];
    let ([u0, u1], from_cache) =
        cache::load_or_generate(&path, &spec.cache_key(T::DTYPE), ["u0", "u1"], &shape, || {
            let (u0, u1) = generate_at(spec, stride)?;
            Ok([u0.cast::<T>(), u1.cast::<T>()])
        })?;
    Ok(BurgersData {
        inputs: subsample(&u0, spec.subsample / stride)?,
        outputs: subsample(&u1, spec.subsample / stride)?,
        from_cache,
    })
}

/// Every `stride`-th column of a (samples, points) tensor.
fn subsample<T: Float>(t: &Tensor<T>, stride: usize) -> Result<Tensor<T>> {
    if stride == 1 {
        return Ok(t.clone());
    }
    let (rows, cols) = (t.shape()[0], t.shape()[1]);
    let out: Vec<T> = t.data().chunks(cols.max(1)).flat_map(|r| r.iter().step_by(stride).copied()).collect();
    Ok(Tensor::from_vec(out, &[rows, cols / stride])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A debug-mode-sized spec (the paper's 8192-point grid is for release builds).
    fn small(n_samples: usize, subsample: usize, seed: u64) -> BurgersSpec {
        BurgersSpec { time_steps: 100, ..BurgersSpec::new(n_samples, 32, subsample, seed) }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("spectrans-train-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn identical_for_one_and_two_threads() {
        let spec = small(6, 1, 42);
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| generate_with(&spec)).unwrap()
        };
        let (a0, a1) = run(1);
        let (b0, b1) = run(2);
        assert_eq!(a0.to_vec(), b0.to_vec());
        assert_eq!(a1.to_vec(), b1.to_vec());
        assert_ne!(a0.data()[..32], a0.data()[32..64], "samples must differ");
    }

    #[test]
    fn subsampling_and_sample_count_are_consistent() {
        let (f0, f1) = generate_with(&small(3, 1, 9)).unwrap();
        let (s0, s1) = generate_with(&small(2, 4, 9)).unwrap();
        assert_eq!(s0.shape(), &[2, 8]);
        let every4 = |t: &Tensor<f64>| -> Vec<f64> { t.data()[..64].iter().step_by(4).copied().collect() };
        assert_eq!(s0.to_vec(), every4(&f0));
        assert_eq!(s1.to_vec(), every4(&f1));
        // u1 really is the solver's output for u0
        let solver = BurgersSolver::new(32, 0.1, 1.0, 100).unwrap();
        assert_eq!(solver.solve(&f0.data()[32..64]).unwrap(), f1.data()[32..64].to_vec());
    }

    #[test]
    fn cache_round_trip_reuses_the_file() {
        let dir = temp_dir("cache");
        let spec = small(3, 2, 5);
        let first = load_or_generate::<f64>(&dir, &spec).unwrap();
        assert!(!first.from_cache);
        let path = cache_path::<f64>(&dir, &spec);
        assert!(path.file_name().unwrap().to_str().unwrap().starts_with("burgers_"));
        let second = load_or_generate::<f64>(&dir, &spec).unwrap();
        assert!(second.from_cache);
        assert_eq!(first.inputs.to_vec(), second.inputs.to_vec());
        assert_eq!(first.outputs.to_vec(), second.outputs.to_vec());
        let (u0, u1) = generate_with(&spec).unwrap();
        assert_eq!(second.inputs.to_vec(), u0.to_vec());
        assert_eq!(second.outputs.to_vec(), u1.to_vec());

        // f32 is a different file holding the rounded values.
        let single = load_or_generate::<f32>(&dir, &spec).unwrap();
        assert!(!single.from_cache);
        assert_ne!(cache_path::<f32>(&dir, &spec), path);
        assert_eq!(single.outputs.to_vec(), u1.cast::<f32>().to_vec());
        assert!(load_or_generate::<f32>(&dir, &spec).unwrap().from_cache);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_fine_cache_serves_every_subsampling() {
        let dir = temp_dir("fine");
        let spec = BurgersSpec { cache_fine: true, ..small(2, 1, 3) };
        let full = load_or_generate::<f64>(&dir, &spec).unwrap();
        let coarse_spec = BurgersSpec { subsample: 8, ..spec.clone() };
        assert_eq!(cache_path::<f64>(&dir, &coarse_spec), cache_path::<f64>(&dir, &spec));
        let coarse = load_or_generate::<f64>(&dir, &coarse_spec).unwrap();
        assert!(coarse.from_cache);
        assert_eq!(coarse.outputs.shape(), &[2, 4]);
        let every8: Vec<f64> = full.outputs.data().iter().step_by(8).copied().collect();
        assert_eq!(coarse.outputs.to_vec(), every8);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_corrupt_cache_is_regenerated() {
        let dir = temp_dir("corrupt");
        let spec = small(2, 1, 8);
        let good = load_or_generate::<f32>(&dir, &spec).unwrap();
        let path = cache_path::<f32>(&dir, &spec);
        let bytes = std::fs::read(&path).unwrap();
        let mut flipped = bytes.clone();
        flipped[10] ^= 0xff; // inside the JSON header
        let lying_header = {
            let mut b = bytes.clone();
            b[..8].copy_from_slice(&u64::MAX.to_le_bytes());
            b
        };
        for broken in [vec![], b"garbage".to_vec(), bytes[..bytes.len() / 2].to_vec(), flipped, lying_header] {
            std::fs::write(&path, &broken).unwrap();
            let again = load_or_generate::<f32>(&dir, &spec).unwrap();
            assert!(!again.from_cache);
            assert_eq!(again.outputs.to_vec(), good.outputs.to_vec());
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "the cache file is rewritten");
        }
        // A valid file describing another spec is not trusted either.
        let other = small(2, 1, 9);
        load_or_generate::<f32>(&dir, &other).unwrap();
        std::fs::copy(cache_path::<f32>(&dir, &other), &path).unwrap();
        let again = load_or_generate::<f32>(&dir, &spec).unwrap();
        assert!(!again.from_cache);
        assert_eq!(again.outputs.to_vec(), good.outputs.to_vec());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn invalid_specs_name_the_field() {
        let base = small(2, 1, 0);
        let cases = [
            (BurgersSpec { n_samples: 0, ..base.clone() }, "invalid n_samples"),
            (BurgersSpec { resolution_fine: 30, subsample: 3, ..base.clone() }, "invalid subsample"),
            (BurgersSpec { subsample: 64, ..base.clone() }, "invalid subsample"),
            (BurgersSpec { resolution_fine: 7, ..base.clone() }, "invalid resolution_fine"),
            (BurgersSpec { viscosity: -1.0, ..base.clone() }, "invalid viscosity"),
            (BurgersSpec { t_end: f64::NAN, ..base.clone() }, "invalid t_end"),
            (BurgersSpec { time_steps: 0, ..base.clone() }, "invalid time_steps"),
        ];
        for (spec, want) in cases {
            let e = generate_with(&spec).unwrap_err();
            assert!(e.to_string().starts_with("BurgersSpec: ") && e.to_string().contains(want), "{e}");
            assert!(load_or_generate::<f32>(temp_dir("never-created"), &spec).is_err());
        }
    }
}
