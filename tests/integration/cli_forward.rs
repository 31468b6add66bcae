//! Golden parity through the command line: every model fixture of `tests/fixtures/golden` is
//! turned into a model folder exactly as a PyTorch spectrans user would export it
//! (`safetensors.torch.save_file(model.state_dict(), …)`: state_dict names, F32, no `format`
//! metadata) plus an input file, and `spectrans forward` must reproduce the fixture's output:
//! relative error ≤ 1e-5 in f32, ≤ 1e-6 with `--dtype f64` (the output file is F32, so its own
//! rounding, ~6e-8, is the floor).

use crate::common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use spectrans::models::io::{read_tensors, serialize_tensors, TensorFile};
use spectrans::tensor::{DType, Tensor};

use crate::common::rel_err;

/// Writes `dir/model/{config.json, model.safetensors}` and `dir/input.safetensors` from a fixture.
fn export_fixture(fx: &TensorFile<f64>, dir: &Path) -> (PathBuf, PathBuf) {
    let meta = &fx.metadata;
    let mut config: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&meta["config"]).unwrap();
    config.insert("model_type".into(), meta["component"].clone().into());
    let model_dir = dir.join("model");
    std::fs::create_dir_all(&model_dir).unwrap();
    std::fs::write(model_dir.join("config.json"), serde_json::Value::Object(config).to_string()).unwrap();
    let state: Vec<(String, Tensor<f64>)> = fx
        .floats
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("param.").or_else(|| k.strip_prefix("buffer."))?;
            Some((name.to_string(), v.clone()))
        })
        .collect();
    assert!(!state.is_empty());
    // PyTorch's save_file writes no metadata at all: in particular no `format` key.
    let weights = serialize_tensors(&state, &[], DType::F32, HashMap::new()).unwrap();
    std::fs::write(model_dir.join("model.safetensors"), weights).unwrap();

    let input = dir.join("input.safetensors");
    let bytes = match meta["input"].as_str() {
        "input.input_ids" => {
            let (shape, ids) = &fx.ints["input.input_ids"];
            serialize_tensors::<f64>(
                &[],
                &[("input_ids".into(), shape.clone(), ids.clone())],
                DType::F32,
                HashMap::new(),
            )
        }
        "input.inputs_embeds" => {
            let x = fx.floats["input.inputs_embeds"].clone();
            serialize_tensors(&[("inputs_embeds".into(), x)], &[], DType::F32, HashMap::new())
        }
        other => panic!("unexpected model input {other}"),
    }
    .unwrap();
    std::fs::write(&input, bytes).unwrap();
    (model_dir, input)
}

/// Runs `spectrans forward` and returns the `output` tensor it wrote.
fn run_forward(model: &Path, input: &Path, output: &Path, dtype: &str) -> Tensor<f64> {
    let out = common::forward(model, input, output, &["--dtype", dtype]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "spectrans forward failed ({dtype}): {stderr}");
    assert!(!stderr.contains("error"), "no error reported on success: {stderr}");
    let file = read_tensors::<f64>(output).unwrap();
    assert_eq!(file.floats.len(), 1, "the output file holds exactly `output`");
    file.floats["output"].clone()
}

#[test]
fn golden_models_through_the_cli() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    let mut checked = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths.iter().filter(|p| p.extension().is_some_and(|x| x == "safetensors")) {
        let fx = read_tensors::<f64>(path).unwrap();
        let component = fx.metadata["component"].clone();
        if !["fno_encoder", "fno_transformer", "fno_decoder"].contains(&component.as_str()) {
            continue;
        }
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let tmp = common::TempDir::new("cli-forward", &stem);
        let (model, input) = export_fixture(&fx, &tmp.0);
        let reference = &fx.floats["output"];
        let e32 = rel_err(&run_forward(&model, &input, &tmp.0.join("out32.safetensors"), "f32"), reference);
        let e64 = rel_err(&run_forward(&model, &input, &tmp.0.join("out64.safetensors"), "f64"), reference);
        println!("{stem:<24} {component:<16} f32 rel err {e32:.2e}   f64 rel err {e64:.2e}");
        assert!(e32 <= 1e-5, "{stem}: f32 relative error {e32:.3e} > 1e-5");
        assert!(e64 <= 1e-6, "{stem}: f64 relative error {e64:.3e} > 1e-6");
        checked.push(component);
    }
    for kind in ["fno_encoder", "fno_transformer", "fno_decoder"] {
        assert!(checked.iter().any(|c| c == kind), "no {kind} fixture was checked");
    }
    assert!(checked.len() >= 5, "every model fixture is checked, got {checked:?}");
}
