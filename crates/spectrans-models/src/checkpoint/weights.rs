//! The weights file of a model folder — `model.safetensors`, or a PyTorch `torch.save` file
//! (`model.pt`, `model.pth`, `pytorch_model.bin`) — and converting a torch file to safetensors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use spectrans_tensor::{DType, Float};

use crate::error::{ModelError, Result};
use crate::io::{read_tensors, serialize_tensors, write_atomic, TensorFile};
use crate::torch_file;

/// The weights file names a model folder may hold, in order of preference.
pub const WEIGHTS_FILES: [&str; 4] = ["model.safetensors", "model.pt", "model.pth", "pytorch_model.bin"];

/// The weights file of `dir`: the first of [`WEIGHTS_FILES`] present, with a note naming the
/// others present (which are ignored); `None` when there is none.
pub fn find_weights(dir: &Path) -> Option<(PathBuf, Option<String>)> {
    let present: Vec<&str> = WEIGHTS_FILES.iter().copied().filter(|n| dir.join(n).is_file()).collect();
    let (first, rest) = present.split_first()?;
    let note =
        (!rest.is_empty()).then(|| format!("weights read from {first}; also present and ignored: {}", rest.join(", ")));
    Some((dir.join(first), note))
}

/// The error of a folder without weights (`hint` is appended).
pub(crate) fn no_weights(dir: &Path, hint: &str) -> ModelError {
    let others = WEIGHTS_FILES[1..].join(", ");
    ModelError::checkpoint(dir.join(WEIGHTS_FILES[0]).display().to_string(), format!("not found (nor {others}){hint}"))
}

/// Reads a weights file: safetensors when it is named `*.safetensors`, otherwise a `torch.save`
/// archive (whose complex tensors get a trailing re/im axis of 2).
pub fn read_weights<T: Float>(path: &Path) -> Result<TensorFile<T>> {
    if path.extension().is_some_and(|e| e == "safetensors") {
        read_tensors(path)
    } else {
        torch_file::read(path)?.into_tensor_file()
    }
}

/// What [`convert_folder`] did.
#[derive(Debug)]
pub struct Converted {
    /// The torch file read.
    pub source: PathBuf,
    /// The safetensors file written.
    pub target: PathBuf,
    /// Number of tensors written.
    pub tensors: usize,
    /// The float precision written (that of the source: float64 stays F64, others become F32).
    pub dtype: DType,
    /// Notes on the source (nesting, ignored files) and on loading it.
    pub notes: Vec<String>,
}

/// What [`convert_folder`] does with an existing `model.safetensors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Existing {
    /// Refuse to convert (an error naming the file): the safe default.
    #[default]
    Keep,
    /// Replace it (the command line's `--force`).
    Replace,
}

/// Converts the `torch.save` weights of a model folder (`model.pt`, `model.pth` or
/// `pytorch_model.bin`, the first present) into `model.safetensors` beside them: same key names,
/// float precision kept, written atomically, and only after the weights are checked to fit
/// `config.json`. An existing `model.safetensors` is replaced only with [`Existing::Replace`].
pub fn convert_folder(dir: &Path, existing: Existing) -> Result<Converted> {
    let config = super::read_config(dir)?;
    let target = dir.join(WEIGHTS_FILES[0]);
    let torch_names = &WEIGHTS_FILES[1..];
    let Some(name) = torch_names.iter().find(|n| dir.join(n).is_file()) else {
        let why = if target.is_file() { "holds model.safetensors already and" } else { "has" };
        return Err(ModelError::checkpoint(
            dir.display().to_string(),
            format!("{why} no PyTorch weights to convert (looked for {})", torch_names.join(", ")),
        ));
    };
    let source = dir.join(name);
    if target.is_file() && existing == Existing::Keep {
        return Err(ModelError::checkpoint(
            target.display().to_string(),
            "exists already; pass --force to overwrite it".to_string(),
        ));
    }
    let state = torch_file::read(&source)?;
    let mut notes = Vec::new();
    if let Some(key) = &state.nested_under {
        notes.push(format!("the state_dict was read from the `{key}` entry of {name}"));
    }
    let dtype = state.precision();
    let file: TensorFile<f64> = state.into_tensor_file()?;
    let (_, fit_notes) = super::build_model::<f64>(config, &file, &source.display().to_string())?;
    notes.extend(fit_notes);
    let tensors = file.floats.len() + file.ints.len();
    let floats: Vec<_> = file.floats.into_iter().collect();
    let ints: Vec<_> = file.ints.into_iter().map(|(n, (shape, v))| (n, shape, v)).collect();
    let meta = HashMap::from([
        ("producer".to_string(), "spectrans convert".to_string()),
        ("converted_from".to_string(), name.to_string()),
    ]);
    write_atomic(&target, &serialize_tensors(&floats, &ints, dtype, meta)?)?;
    Ok(Converted { source, target, tensors, dtype, notes })
}
