//! Saving and restoring the spectrans model of a built-in task inside a checkpoint: the model
//! folder (`config.json`, `model.safetensors`) that `spectrans forward` and `eval` read.

use std::path::Path;

use spectrans_models::{io::read_tensors, load_state, save_folder, Model};

use crate::error::Result;

/// Writes `model` as a model folder into `dir`.
pub(crate) fn save(model: &Model<f32>, dir: &Path) -> Result<()> {
    Ok(save_folder(model, dir)?)
}

/// Loads the weights of the model folder `dir` into `model`.
pub(crate) fn load(model: &Model<f32>, dir: &Path) -> Result<()> {
    let weights = dir.join("model.safetensors");
    let file = read_tensors::<f32>(&weights)?;
    Ok(load_state(model, &file, &weights.display().to_string())?)
}
