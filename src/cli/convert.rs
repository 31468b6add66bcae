//! `spectrans convert`: write `model.safetensors` from a model folder's PyTorch weights.

use std::path::Path;

use spectrans_models::weights::{convert_folder, Existing};

/// Converts the folder's `model.pt` / `model.pth` / `pytorch_model.bin` and reports what it did.
pub fn run(model_dir: &Path, force: bool) -> Result<(), String> {
    let existing = if force { Existing::Replace } else { Existing::Keep };
    let done = convert_folder(model_dir, existing).map_err(|e| e.to_string())?;
    for note in &done.notes {
        eprintln!("note: {note}");
    }
    println!(
        "wrote {} ({} tensors, {}) from {}",
        done.target.display(),
        done.tensors,
        done.dtype.name(),
        done.source.display()
    );
    Ok(())
}
