//! The pointwise Gaussian normaliser of the FNO paper's Darcy script (`UnitGaussianNormalizer`):
//! per grid point, the mean and standard deviation over the training set of the input a(x) and of
//! the output u(x); inputs are encoded as (a − mean) / (std + ε), outputs decoded as
//! u·(std + ε) + mean, ε = 1e-5. Saved beside the model as `normalizer.safetensors`.
//!
//! The statistics are functions on the unit square: at another resolution (zero-shot
//! super-resolution) they are resampled bilinearly from the training grid's vertices.

use std::collections::HashMap;
use std::path::Path;

use spectrans_tensor::{io, DType, Tensor};

use crate::error::{Result, TaskError};

/// The file of the normaliser in a model folder.
pub const NORMALIZER_FILE: &str = "normalizer.safetensors";

/// ε of the paper's normaliser.
const EPS: f64 = 1e-5;

/// Mean and standard deviation per grid point of the input and the output (s × s each).
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianNormalizer {
    /// Vertices per side of the grid the statistics were taken on.
    pub resolution: usize,
    /// Mean of the input per point.
    pub input_mean: Vec<f64>,
    /// Standard deviation of the input per point (population, as torch.std(0) unbiased: n − 1).
    pub input_std: Vec<f64>,
    /// Mean of the output per point.
    pub output_mean: Vec<f64>,
    /// Standard deviation of the output per point.
    pub output_std: Vec<f64>,
}

/// Mean and unbiased standard deviation (torch.std) over samples, per point.
fn moments(data: &[f32], points: usize) -> (Vec<f64>, Vec<f64>) {
    let n = data.len() / points.max(1);
    let mut mean = vec![0.0; points];
    for sample in data.chunks_exact(points) {
        mean.iter_mut().zip(sample).for_each(|(m, &v)| *m += v as f64);
    }
    mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
    let mut var = vec![0.0; points];
    for sample in data.chunks_exact(points) {
        var.iter_mut().zip(sample).zip(&mean).for_each(|((q, &v), m)| *q += (v as f64 - m).powi(2));
    }
    let std = var.into_iter().map(|q| (q / (n.max(2) - 1) as f64).sqrt()).collect();
    (mean, std)
}

/// Bilinear resampling of a field on `from × from` vertices of the unit square to `to × to`.
fn resample(field: &[f64], from: usize, to: usize) -> Vec<f64> {
    if from == to {
        return field.to_vec();
    }
    let coord = |k: usize| {
        let x = k as f64 / (to - 1).max(1) as f64 * (from - 1) as f64;
        let i = (x.floor() as usize).min(from.saturating_sub(2));
        (i, x - i as f64)
    };
    let mut out = Vec::with_capacity(to * to);
    for r in 0..to {
        let (i, fy) = coord(r);
        for c in 0..to {
            let (j, fx) = coord(c);
            let at = |a: usize, b: usize| field[(a.min(from - 1)) * from + b.min(from - 1)];
            let top = at(i, j) * (1.0 - fx) + at(i, j + 1) * fx;
            let bottom = at(i + 1, j) * (1.0 - fx) + at(i + 1, j + 1) * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
    out
}

impl GaussianNormalizer {
    /// The statistics of training inputs and outputs, each (n, s, s) row-major.
    pub fn fit(inputs: &[f32], outputs: &[f32], resolution: usize) -> Result<Self> {
        let points = resolution * resolution;
        if points == 0 || inputs.len() != outputs.len() || !inputs.len().is_multiple_of(points) || inputs.is_empty() {
            return Err(TaskError::config(
                "normalizer",
                "data",
                format!(
                    "needs (n, {resolution}, {resolution}) inputs and outputs, got {} and {} values",
                    inputs.len(),
                    outputs.len()
                ),
            ));
        }
        let (input_mean, input_std) = moments(inputs, points);
        let (output_mean, output_std) = moments(outputs, points);
        Ok(GaussianNormalizer { resolution, input_mean, input_std, output_mean, output_std })
    }

    /// The (mean, std + ε) of `which` at resolution `s`.
    fn stats(&self, mean: &[f64], std: &[f64], s: usize) -> (Vec<f64>, Vec<f64>) {
        let scale: Vec<f64> = std.iter().map(|v| v + EPS).collect();
        (resample(mean, self.resolution, s), resample(&scale, self.resolution, s))
    }

    /// Encodes raw inputs (n, s, s) row-major.
    pub fn encode_input(&self, raw: &[f32], s: usize) -> Result<Vec<f32>> {
        let (mean, scale) = self.stats(&self.input_mean, &self.input_std, s);
        let points = s * s;
        if points == 0 || !raw.len().is_multiple_of(points) {
            return Err(TaskError::config(
                "normalizer",
                "input",
                format!("{} values are not (n, {s}, {s})", raw.len()),
            ));
        }
        Ok(raw
            .chunks_exact(points)
            .flat_map(|sample| {
                sample.iter().zip(mean.iter().zip(&scale)).map(|(&v, (m, d))| ((v as f64 - m) / d) as f32)
            })
            .collect())
    }

    /// Decodes model outputs (B, s, s, 1) into the physical scale, differentiably.
    pub fn decode_output(&self, out: &Tensor<f32>, s: usize) -> Result<Tensor<f32>> {
        let (mean, scale) = self.stats(&self.output_mean, &self.output_std, s);
        let as_tensor = |v: Vec<f64>| Tensor::from_vec(v.into_iter().map(|x| x as f32).collect(), &[s, s, 1]);
        Ok(out.mul(&as_tensor(scale)?)?.add(&as_tensor(mean)?)?)
    }

    /// Writes the statistics to `path` (tensors `input_mean`, `input_std`, `output_mean`,
    /// `output_std`, each (s, s), in f64).
    pub fn save(&self, path: &Path) -> Result<()> {
        let s = self.resolution;
        let t = |v: &[f64]| Tensor::from_vec(v.to_vec(), &[s, s]);
        let (a, b, c, d) = (t(&self.input_mean)?, t(&self.input_std)?, t(&self.output_mean)?, t(&self.output_std)?);
        let named = [("input_mean", &a), ("input_std", &b), ("output_mean", &c), ("output_std", &d)];
        let bytes = io::encode(&named, &[], DType::F64, HashMap::new())?;
        io::write_synced(path, &bytes)
            .map_err(|e| TaskError::File { path: path.display().to_string(), reason: e.to_string() })
    }

    /// Reads the statistics written by [`GaussianNormalizer::save`].
    pub fn load(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        let file = io::read::<f64>(path)?;
        let s = file.floats.get("input_mean").map(|t| t.shape().first().copied().unwrap_or(0)).unwrap_or(0);
        let get = |name: &str| -> Result<Vec<f64>> {
            let t = file.take(name, &[s, s], &origin)?;
            if t.data().iter().any(|v| !v.is_finite()) || (name.ends_with("std") && t.data().iter().any(|v| *v < 0.0)) {
                return Err(TaskError::File { path: origin.clone(), reason: format!("`{name}` holds invalid values") });
            }
            Ok(t.to_vec())
        };
        if s < 2 {
            return Err(TaskError::File { path: origin, reason: "no (s, s) `input_mean` with s ≥ 2".into() });
        }
        Ok(GaussianNormalizer {
            resolution: s,
            input_mean: get("input_mean")?,
            input_std: get("input_std")?,
            output_mean: get("output_mean")?,
            output_std: get("output_std")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_match_torch_and_encoding_inverts_decoding() {
        // two samples on a 2×2 grid
        let x = [1.0f32, 2.0, 3.0, 4.0, 3.0, 2.0, 1.0, 0.0];
        let n = GaussianNormalizer::fit(&x, &x, 2).unwrap();
        assert_eq!(n.input_mean, vec![2.0, 2.0, 2.0, 2.0]);
        // unbiased: sqrt(((1−2)² + (3−2)²) / 1)
        assert!((n.input_std[0] - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(n.input_std[1], 0.0);
        let enc = n.encode_input(&x, 2).unwrap();
        let dec = n.decode_output(&Tensor::from_vec(enc, &[2, 2, 2, 1]).unwrap(), 2).unwrap();
        for (a, b) in dec.data().iter().zip(&x) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn resampling_is_exact_on_bilinear_fields_and_the_file_round_trips() {
        let f: Vec<f64> = (0..9).map(|k| (k / 3) as f64 * 2.0 + (k % 3) as f64).collect(); // 2y + x on 3×3
        let g = resample(&f, 3, 5);
        for r in 0..5 {
            for c in 0..5 {
                let want = 2.0 * (r as f64 / 2.0) + c as f64 / 2.0;
                assert!((g[r * 5 + c] - want).abs() < 1e-12);
            }
        }
        let x: Vec<f32> = (0..18).map(|k| k as f32 * 0.5).collect();
        let n = GaussianNormalizer::fit(&x, &x, 3).unwrap();
        let path = std::env::temp_dir().join(format!("spectrans-normalizer-{}.safetensors", std::process::id()));
        n.save(&path).unwrap();
        assert_eq!(GaussianNormalizer::load(&path).unwrap(), n);
        std::fs::write(&path, b"junk").unwrap();
        let e = GaussianNormalizer::load(&path).unwrap_err().to_string();
        assert!(e.contains("normalizer"), "{e}");
        std::fs::remove_file(path).unwrap();
        assert!(GaussianNormalizer::fit(&x, &x[..9], 3).is_err());
    }
}
