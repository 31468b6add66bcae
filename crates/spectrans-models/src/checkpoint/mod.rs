//! Model folders (`config.json` + weights) and state-dict loading with full reports.
//!
//! A spectrans PyTorch model saved with `torch.save(model.state_dict(), "model.pt")` or
//! `safetensors.torch.save_file(model.state_dict(), "model.safetensors")`, plus a `config.json`
//! of its constructor arguments (and `model_type`), loads as is (see [`crate::weights`]).

pub mod weights;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use spectrans_layers::{FftFloat, Module};
use spectrans_tensor::Float;

use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::io::{serialize_tensors, write_atomic, TensorFile};
use crate::models::Model;
use weights::{find_weights, no_weights, read_weights};

/// The `format` metadata value of files written by this crate.
pub const FORMAT: &str = "spectrans-rs/1";
/// Name of the configuration file in a model folder.
pub const CONFIG_FILE: &str = "config.json";
/// Name of the weights file this crate writes in a model folder (others it reads:
/// [`crate::weights::WEIGHTS_FILES`]).
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Loads named tensors into a module: every parameter must be present with its shape; buffers
/// (derivable tables, running statistics) are loaded when present. Nothing is changed unless the
/// whole file fits; otherwise the error lists every missing, unexpected, mis-shaped and
/// wrongly typed (integer instead of float) tensor.
pub fn load_state<T: Float, M: Module<T> + ?Sized>(model: &M, file: &TensorFile<T>, origin: &str) -> Result<()> {
    let mut missing = Vec::new();
    let mut misshaped = Vec::new();
    let mut wrong_dtype = Vec::new();
    let mut non_finite = Vec::new();
    let mut known = BTreeSet::new();
    let mut assign = Vec::new();
    let params = model.named_parameters();
    let buffers = model.named_buffers();
    for (name, p, required) in
        params.iter().map(|(n, p)| (n, p, true)).chain(buffers.iter().map(|(n, p)| (n, p, false)))
    {
        known.insert(name.clone());
        match file.floats.get(name) {
            None if file.ints.contains_key(name) => {
                wrong_dtype.push(format!("{name} (an integer tensor; expected F32 or F64)"))
            }
            None if required => missing.push(name.clone()),
            None => {}
            Some(t) if t.shape() != p.shape().as_slice() => {
                misshaped.push(format!("{name} (file {:?}, model {:?})", t.shape(), p.shape()))
            }
            Some(t) if t.has_non_finite() => non_finite.push(name.clone()),
            Some(t) => assign.push((p.clone(), t.clone())),
        }
    }
    let unexpected: Vec<&String> = file
        .floats
        .keys()
        .chain(file.ints.keys())
        .filter(|k| !known.contains(*k) && !k.ends_with("num_batches_tracked"))
        .collect();
    let problems = [missing.len(), misshaped.len(), unexpected.len(), wrong_dtype.len(), non_finite.len()];
    if problems.iter().any(|&n| n > 0) {
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
        if !wrong_dtype.is_empty() {
            parts.push(format!("wrong dtype {}: {}", wrong_dtype.len(), wrong_dtype.join(", ")));
        }
        if !non_finite.is_empty() {
            parts.push(format!("NaN or infinite values in {}: {}", non_finite.len(), non_finite.join(", ")));
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
    /// The weights file read (`None` for a randomly initialised model).
    pub weights: Option<PathBuf>,
}

/// Reads and validates `dir/config.json`.
pub fn read_config(dir: &Path) -> Result<ModelConfig> {
    let path = dir.join(CONFIG_FILE);
    let text =
        std::fs::read_to_string(&path).map_err(|source| ModelError::Io { path: path.display().to_string(), source })?;
    ModelConfig::from_json(&text).map_err(|e| match e {
        ModelError::Config { field, reason } => {
            ModelError::Config { field, reason: format!("{reason} (in {})", path.display()) }
        }
        other => other,
    })
}

/// Loads a model folder: `config.json` and the first of `model.safetensors`, `model.pt`,
/// `model.pth`, `pytorch_model.bin` present (f32/f64 values — and f16/bf16, complex from torch
/// files — converted to `T`; a note names any other weights file present). A decoder checkpoint
/// not written by this crate is spectrans' non-causal operator, so `causal` is set to false
/// (noted). The FFN width follows the checkpoint's weight shapes.
pub fn load_folder<T: FftFloat>(dir: &Path) -> Result<Loaded<T>> {
    let config = read_config(dir)?;
    let (path, also) = find_weights(dir).ok_or_else(|| no_weights(dir, ""))?;
    let file = read_weights::<T>(&path)?;
    let (model, mut notes) = build_model(config, &file, &path.display().to_string())?;
    notes.extend(also);
    Ok(Loaded { model, notes, weights: Some(path) })
}

/// Builds the model `config` describes and loads the weights `file` into it, as [`load_folder`]
/// does with a folder's files (`origin` names the weights in errors).
pub fn load_parts<T: FftFloat>(config: ModelConfig, file: &TensorFile<T>, origin: &str) -> Result<Loaded<T>> {
    let (model, notes) = build_model(config, file, origin)?;
    Ok(Loaded { model, notes, weights: None })
}

/// Builds the model of `config` carrying the tensors of `file` (`origin` names it in errors),
/// with the interpretations of [`load_folder`] and notes on them.
pub(crate) fn build_model<T: FftFloat>(
    mut config: ModelConfig,
    file: &TensorFile<T>,
    origin: &str,
) -> Result<(Model<T>, Vec<String>)> {
    let mut notes = Vec::new();
    let ours = file.metadata.get("format").map(String::as_str) == Some(FORMAT);
    if let ModelConfig::Decoder(c) = &mut config {
        if !ours && c.causal {
            c.causal = false;
            notes.push("spectrans decoder checkpoint: its operator is non-causal, so causal is set to false".into());
        }
    }
    // Only a (width, hidden_dim) weight sets the width: its width·hidden_dim values are then in
    // the file, so a lying shape such as (10⁹, 0) cannot make the model huge. Any other shape is
    // left to `load_state`, which reports it as mis-shaped.
    let hidden = config.backbone().map(|bb| bb.hidden_dim);
    let ffn_width = file.floats.get("blocks.0.ffn.0.weight").and_then(|w| match w.shape() {
        &[width, d] if Some(d) == hidden && width > 0 => Some(width),
        _ => None,
    });
    if let (Some(width), Some(bb)) = (ffn_width, config.backbone()) {
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
    load_state(&model, file, origin)?;
    Ok((model, notes))
}

/// Writes a model folder: `config.json` and `model.safetensors` (parameters and buffers in `T`'s
/// precision, spectrans key names), each written atomically.
pub fn save_folder<T: FftFloat>(model: &Model<T>, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Io { path: dir.display().to_string(), source })?;
    write_atomic(&dir.join(CONFIG_FILE), model.config().to_json().as_bytes())?;
    let mut tensors: Vec<(String, _)> = model.named_parameters().into_iter().map(|(n, p)| (n, p.value())).collect();
    tensors.extend(model.named_buffers().into_iter().map(|(n, b)| (n, b.value())));
    let meta =
        HashMap::from([("format".to_string(), FORMAT.to_string()), ("dtype".to_string(), T::DTYPE.name().to_string())]);
    let bytes = serialize_tensors(&tensors, &[], T::DTYPE, meta)?;
    write_atomic(&dir.join(WEIGHTS_FILE), &bytes)
}

/// Loads a model folder, or — when it holds only `config.json` and `init_seed` is given — builds a
/// randomly initialised model from the configuration (seeded), e.g. to check shapes or causality
/// of any configuration from outside.
pub fn load_or_init<T: FftFloat>(dir: &Path, init_seed: Option<u64>) -> Result<Loaded<T>> {
    match (find_weights(dir), init_seed) {
        (Some(_), None) => load_folder(dir),
        (Some((weights, _)), Some(_)) => {
            let mut loaded = load_folder(dir)?;
            loaded
                .notes
                .push(format!("{} exists: its weights are used and the init seed is ignored", weights.display()));
            Ok(loaded)
        }
        (None, Some(seed)) => {
            let config = read_config(dir)?;
            Ok(Loaded {
                model: Model::from_config(&config, seed)?,
                notes: vec![format!("randomly initialised from {CONFIG_FILE} with seed {seed}")],
                weights: None,
            })
        }
        (None, None) => {
            Err(no_weights(dir, "; to run a randomly initialised model from config.json alone, pass an init seed"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectrans_layers::LayerNorm;
    use spectrans_tensor::Tensor;

    #[test]
    fn every_misfit_is_named_in_one_message_and_nothing_is_loaded() {
        let ln = LayerNorm::<f32>::new(3, 1e-5);
        let mut file = TensorFile::<f32>::default();
        file.floats.insert("bias".into(), Tensor::ones(&[4]));
        file.floats.insert("extra".into(), Tensor::ones(&[1]));
        file.ints.insert("weight".into(), (vec![3], vec![1, 1, 1]));
        let e = load_state(&ln, &file, "f.safetensors").unwrap_err().to_string();
        assert!(e.starts_with("checkpoint f.safetensors: does not fit the model"), "{e}");
        assert!(e.contains("unexpected 1: extra"), "{e}");
        assert!(e.contains("mis-shaped 1: bias (file [4], model [3])"), "{e}");
        assert!(e.contains("wrong dtype 1: weight (an integer tensor"), "{e}");
        assert_eq!(ln.bias.value().to_vec(), vec![0.0; 3]);
        file.ints.clear();
        let e = load_state(&ln, &file, "f").unwrap_err().to_string();
        assert!(e.contains("missing 1: weight"), "{e}");
    }

    #[test]
    fn the_ffn_width_follows_the_weights_only_when_they_hold_it() {
        let cfg = ModelConfig::from_json(
            r#"{"model_type": "fno_encoder", "hidden_dim": 4, "num_layers": 1, "modes": 2, "max_sequence_length": 8}"#,
        )
        .unwrap();
        let wide = ModelConfig::from_json(&cfg.to_json().replace("\"ffn_hidden_dim\": null", "\"ffn_hidden_dim\": 6"))
            .unwrap();
        let file_of = |cfg: &ModelConfig| {
            let model = Model::<f32>::from_config(cfg, 0).unwrap();
            let mut file = TensorFile::<f32>::default();
            file.floats.extend(model.named_parameters().into_iter().map(|(n, p)| (n, p.value())));
            file
        };
        let loaded = load_parts(cfg.clone(), &file_of(&wide), "w").unwrap();
        assert!(loaded.notes.iter().any(|n| n.contains("FFN width 6")), "{:?}", loaded.notes);
        // a lying (10⁹, 0) shape holds no values: it is reported, not built (fuzz regression)
        let mut lying = file_of(&cfg);
        lying.floats.insert("blocks.0.ffn.0.weight".into(), Tensor::zeros(&[1_000_000_000, 0]));
        let e = load_parts(cfg, &lying, "w").err().unwrap().to_string();
        assert!(e.contains("mis-shaped 1: blocks.0.ffn.0.weight (file [1000000000, 0], model [8, 4])"), "{e}");
    }
}
