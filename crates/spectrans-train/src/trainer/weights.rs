//! The weights of any [`Module`] as a safetensors file: every parameter and buffer under its
//! `state_dict` name, in the module's element type. What the trainer's checkpoints hold for a
//! task that does not write its own model folder.

use std::collections::HashMap;
use std::path::Path;

use spectrans_layers::Module;
use spectrans_tensor::{io, Float, Tensor};

use crate::error::{io_err, Result, TrainError};

/// The weights file of a checkpoint written by [`save_module`].
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Writes every parameter and buffer of `module` to `path` (fsynced; the trainer publishes the
/// folder holding it atomically).
///
/// ```
/// use spectrans_layers::{Module, Visitor};
/// use spectrans_tensor::{Parameter, Tensor};
/// use spectrans_train::trainer::{load_module, save_module};
/// struct Scale(Parameter<f64>);
/// impl Module<f64> for Scale {
///     fn visit(&self, prefix: &str, v: &mut dyn Visitor<f64>) {
///         v.param(&format!("{prefix}scale"), &self.0);
///     }
/// }
/// let a = Scale(Parameter::new(Tensor::from_vec(vec![1.5, 2.5], &[2])?));
/// let b = Scale(Parameter::new(Tensor::zeros(&[2])));
/// let path = std::env::temp_dir().join(format!("scale-{}.safetensors", std::process::id()));
/// save_module(&a, &path)?;
/// load_module(&b, &path)?;
/// assert_eq!(b.0.value().to_vec(), vec![1.5, 2.5]);
/// # std::fs::remove_file(path).unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn save_module<T: Float>(module: &dyn Module<T>, path: &Path) -> Result<()> {
    let named: Vec<(String, Tensor<T>)> = module
        .named_parameters()
        .into_iter()
        .chain(module.named_buffers())
        .map(|(name, p)| (name, p.value()))
        .collect();
    let refs: Vec<(&str, &Tensor<T>)> = named.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let bytes = io::encode(&refs, &[], T::DTYPE, HashMap::new())?;
    super::checkpoint::write_synced(path, &bytes)
}

/// Loads the weights written by [`save_module`] into `module`: every parameter and buffer must
/// be present with its shape, and no other tensor; the error names each one that is not.
pub fn load_module<T: Float>(module: &dyn Module<T>, path: &Path) -> Result<()> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let file = io::parse::<T>(&bytes, &origin)?;
    let named: Vec<_> = module.named_parameters().into_iter().chain(module.named_buffers()).collect();
    let mut problems = Vec::new();
    let mut values = Vec::with_capacity(named.len());
    for (name, p) in &named {
        match file.take(name, &p.shape(), &origin) {
            Ok(t) => values.push((p, t)),
            Err(e) => problems.push(e.to_string().trim_start_matches(&format!("{origin}: ")).to_string()),
        }
    }
    let unexpected: Vec<&String> = file.floats.keys().filter(|k| !named.iter().any(|(n, _)| n == *k)).collect();
    if !unexpected.is_empty() {
        problems.push(format!("unexpected tensors {unexpected:?}"));
    }
    if !problems.is_empty() {
        return Err(TrainError::format(origin, format!("does not fit the module: {}", problems.join("; "))));
    }
    for (p, t) in values {
        p.set_value(t)?;
    }
    Ok(())
}
