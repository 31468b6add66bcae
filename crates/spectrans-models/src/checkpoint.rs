//! Model folders (`config.json` + `model.safetensors`) and state-dict loading with full reports.
//!
//! A spectrans PyTorch model exported with `safetensors.torch.save_file(model.state_dict(), …)`
//! plus a `config.json` of its constructor arguments (and `model_type`) loads as is.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use spectrans_layers::{FftFloat, Module};
use spectrans_tensor::Float;

use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::io::{read_tensors, serialize_tensors, write_atomic, TensorFile};
use crate::models::Model;

/// The `format` metadata value of files written by this crate.
pub const FORMAT: &str = "spectrans-rs/1";
/// Name of the configuration file in a model folder.
pub const CONFIG_FILE: &str = "config.json";
/// Name of the weights file in a model folder.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Loads named tensors into a module: every parameter must be present with its shape; buffers
/// (derivable tables, running statistics) are loaded when present. Nothing is changed unless the
/// whole file fits; otherwise the error lists every missing, unexpected and mis-shaped tensor.
pub fn load_state<T: Float, M: Module<T> + ?Sized>(model: &M, file: &TensorFile<T>, origin: &str) -> Result<()> {
    let mut missing = Vec::new();
    let mut misshaped = Vec::new();
    let mut known = BTreeSet::new();
    let mut assign = Vec::new();
    let params = model.named_parameters();
    let buffers = model.named_buffers();
    for (name, p, required) in params.iter().map(|(n, p)| (n, p, true)).chain(buffers.iter().map(|(n, p)| (n, p, false))) {
        known.insert(name.clone());
        match file.floats.get(name) {
            None if required => missing.push(name.clone()),
            None => {}
            Some(t) if t.shape() != p.shape().as_slice() => {
                misshaped.push(format!("{name} (file {:?}, model {:?})", t.shape(), p.shape()))
            }
            Some(t) => assign.push((p.clone(), t.clone())),
        }
    }
    let unexpected: Vec<&String> = file
        .floats
        .keys()
        .chain(file.ints.keys())
        .filter(|k| !known.contains(*k) && !k.ends_with("num_batches_tracked"))
        .collect();
    if !missing.is_empty() || !misshaped.is_empty() || !unexpected.is_empty() {
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("missing {}: {}", missing.len(), missing.join(", ")));
        }
        if !unexpected.is_empty() {
            let u: Vec<&str> = unexpected.iter().map(|s| s.as_str()).collect();
            parts.push(format!("unexpected {}: {}", u.len(), u.join(", ")));
        }
        if !misshaped.is_empty() {
            parts.push(format!("mis-shaped {}: {}", misshaped.len(), misshaped.join(", ")));
        }
        return Err(ModelError::checkpoint(origin, format!("does not fit the model: {}", parts.join("; "))));
    }
    for (p, t) in assign {
        p.set_value(t)?;
    }
    Ok(())
}

/// A model loaded from a folder, with notes on any interpretation the loader made.
pub struct Loaded<T: FftFloat> {
    /// The model.
    pub model: Model<T>,
    /// Human-readable notes (e.g. "spectrans decoder checkpoint: causal set to false").
    pub notes: Vec<String>,
}

/// Reads and validates `dir/config.json`.
pub fn read_config(dir: &Path) -> Result<ModelConfig> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Io { path: path.display().to_string(), source })?;
    ModelConfig::from_json(&text).map_err(|e| match e {
        ModelError::Config { field, reason } => ModelError::Config { field, reason: format!("{reason} (in {})", path.display()) },
        other => other,
    })
}

/// Loads a model folder: `config.json` and `model.safetensors` (f32 or f64 values, converted to
/// `T`). A decoder checkpoint not written by this crate is spectrans' non-causal operator, so
/// `causal` is set to false (noted). The FFN width follows the checkpoint's weight shapes.
pub fn load_folder<T: FftFloat>(dir: &Path) -> Result<Loaded<T>> {
    let mut config = read_config(dir)?;
    let path = dir.join(WEIGHTS_FILE);
    let file = read_tensors::<T>(&path)?;
    let mut notes = Vec::new();
    let ours = file.metadata.get("format").map(String::as_str) == Some(FORMAT);
    if let ModelConfig::Decoder(c) = &mut config {
        if !ours && c.causal {
            c.causal = false;
            notes.push("spectrans decoder checkpoint: its operator is non-causal, so causal is set to false".into());
        }
    }
    if let (Some(w), Some(bb)) = (file.floats.get("blocks.0.ffn.0.weight"), config.backbone()) {
        let width = w.shape()[0];
        if bb.block().ffn_width() != Some(width) {
            notes.push(format!("FFN width {width} taken from the checkpoint's weight shapes"));
            match &mut config {
                ModelConfig::Transformer(c) => c.ffn_hidden_dim = Some(width),
                ModelConfig::Encoder(c) => c.ffn_hidden_dim = Some(width),
                ModelConfig::Decoder(c) => c.ffn_hidden_dim = Some(width),
                ModelConfig::Operator(_) => {}
            }
        }
    }
    let model = Model::from_config(&config, 0)?;
    load_state(&model, &file, &path.display().to_string())?;
    Ok(Loaded { model, notes })
}

/// Writes a model folder: `config.json` and `model.safetensors` (parameters and buffers in `T`'s
/// precision, spectrans key names), each written atomically.
pub fn save_folder<T: FftFloat>(model: &Model<T>, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Io { path: dir.display().to_string(), source })?;
    write_atomic(&dir.join(CONFIG_FILE), model.config().to_json().as_bytes())?;
    let mut tensors: Vec<(String, _)> = model.named_parameters().into_iter().map(|(n, p)| (n, p.value())).collect();
    tensors.extend(model.named_buffers().into_iter().map(|(n, b)| (n, b.value())));
    let meta = HashMap::from([("format".to_string(), FORMAT.to_string()), ("dtype".to_string(), T::DTYPE.name().to_string())]);
    let bytes = serialize_tensors(&tensors, &[], T::DTYPE, meta)?;
    write_atomic(&dir.join(WEIGHTS_FILE), &bytes)
}
