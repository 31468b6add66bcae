//! `spectrans forward`: run a model folder on a safetensors input file.

use std::collections::HashMap;
use std::path::Path;

use spectrans_layers::{Ctx, FftFloat};
use spectrans_models::io::{read_tensors, serialize_tensors, write_atomic};
use spectrans_models::{load_or_init, Input};
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
    let file = read_tensors::<T>(input).map_err(|e| e.to_string())?;
    let origin = input.display();
    if file.floats.contains_key("attention_mask") {
        return Err(format!(
            "{origin}: attention_mask must be an integer tensor (I64) of 0 and 1, found a float tensor"
        ));
    }
    let mask = match file.ints.get("attention_mask") {
        Some((shape, v)) => {
            if let Some(bad) = v.iter().find(|&&m| m != 0 && m != 1) {
                return Err(format!("{origin}: attention_mask must hold 0 or 1, found {bad}"));
            }
            Some((shape.clone(), v.iter().map(|&m| m == 1).collect::<Vec<bool>>()))
        }
        None => None,
    };
    let ctx = if opts.check_finite { Ctx::inference().with_finite_checks() } else { Ctx::inference() };
    let out = match (file.ints.get("input_ids"), file.floats.get("inputs_embeds")) {
        (Some(_), Some(_)) => return Err(format!("{origin}: holds both input_ids and inputs_embeds; keep one")),
        (Some((shape, ids)), None) => {
            if shape.len() != 2 {
                return Err(format!("{origin}: input_ids must be (B, N), got shape {shape:?}"));
            }
            if let Some(bad) = ids.iter().find(|&&i| i < 0) {
                return Err(format!("{origin}: input_ids holds a negative id {bad}"));
            }
            let ids: Vec<usize> = ids.iter().map(|&i| i as usize).collect();
            check_mask(&mask, shape, &origin.to_string())?;
            let m = mask.as_ref().map(|(_, v)| v.as_slice());
            loaded.model.forward(&ctx, Input::Ids { ids: &ids, batch: shape[0], len: shape[1] }, m)
        }
        (None, Some(x)) => {
            if x.rank() == 3 {
                check_mask(&mask, &x.shape()[..2], &origin.to_string())?;
            }
            let m = mask.as_ref().map(|(_, v)| v.as_slice());
            loaded.model.forward(&ctx, Input::Embeds(x), m)
        }
        (None, None) if file.ints.contains_key("inputs_embeds") => {
            return Err(format!("{origin}: inputs_embeds must be a float tensor (F32 or F64), found an integer tensor"))
        }
        (None, None) if file.floats.contains_key("input_ids") => {
            return Err(format!("{origin}: input_ids must be an integer tensor (I64 or I32), found a float tensor"))
        }
        (None, None) => {
            let found: Vec<&str> = file.floats.keys().chain(file.ints.keys()).map(String::as_str).collect();
            return Err(format!(
                "{origin}: needs a tensor named input_ids (I64) or inputs_embeds (float); found {found:?}"
            ));
        }
    }
    .map_err(|e| e.to_string())?;
    let meta = HashMap::from([("producer".to_string(), "spectrans forward".to_string())]);
    let bytes = serialize_tensors(&[("output".to_string(), out)], &[], DType::F32, meta).map_err(|e| e.to_string())?;
    write_atomic(output, &bytes).map_err(|e| e.to_string())
}

fn check_mask(mask: &Option<(Vec<usize>, Vec<bool>)>, want: &[usize], origin: &str) -> Result<(), String> {
    match mask {
        Some((shape, _)) if shape.as_slice() != want => {
            Err(format!("{origin}: attention_mask has shape {shape:?}, expected {want:?}"))
        }
        _ => Ok(()),
    }
}
