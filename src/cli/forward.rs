//! `spectrans forward`: run a model folder on a safetensors input file.

use std::collections::HashMap;
use std::path::Path;

use spectrans_layers::{Ctx, FftFloat};
use spectrans_models::io::{serialize_tensors, write_atomic};
use spectrans_models::{load_or_init, InputFile};
use spectrans_tensor::DType;

/// Options of `spectrans forward`.
pub struct Options {
    /// For a folder holding only config.json: initialise the model with this seed.
    pub init_seed: Option<u64>,
    /// Test every module's output for NaN and infinities.
    pub check_finite: bool,
}

/// Loads the model and the input, runs the forward pass, writes `output`.
pub fn run<T: FftFloat>(model_dir: &Path, input: &Path, output: &Path, opts: &Options) -> Result<(), String> {
    let loaded = load_or_init::<T>(model_dir, opts.init_seed).map_err(|e| e.to_string())?;
    for note in &loaded.notes {
        eprintln!("note: {note}");
    }
    let file = InputFile::<T>::read(input).map_err(|e| e.to_string())?;
    let ctx = if opts.check_finite { Ctx::inference().with_finite_checks() } else { Ctx::inference() };
    let out = loaded.model.forward(&ctx, file.input(), file.mask()).map_err(|e| e.to_string())?;
    let meta = HashMap::from([("producer".to_string(), "spectrans forward".to_string())]);
    let bytes = serialize_tensors(&[("output".to_string(), out)], &[], DType::F32, meta).map_err(|e| e.to_string())?;
    write_atomic(output, &bytes).map_err(|e| e.to_string())
}
