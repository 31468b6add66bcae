//! Model folders holding `torch.save` files written by PyTorch itself
//! (`tests/fixtures/torch/make_fixtures.py`): each loads without Python and gives PyTorch's
//! output (computed in float64 from the stored weights) to a relative error ≤ 1e-5 in f32 and
//! ≤ 1e-10 in f64; `spectrans convert` turns each into an equivalent `model.safetensors`.
//! Relative error = max |ours − reference| / max |reference|.

use crate::common;

use std::path::{Path, PathBuf};

use spectrans::layers::{Ctx, FftFloat};
use spectrans::models::io::read_tensors;
use spectrans::models::torch_file;
use spectrans::models::{load_folder, Input};

use crate::common::rel_err;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch").join(name)
}

/// Runs the folder's model on its io.safetensors input; returns the relative error and the notes.
fn run<T: FftFloat>(dir: &Path) -> (f64, Vec<String>) {
    let loaded = load_folder::<T>(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let io = read_tensors::<T>(&dir.join("io.safetensors")).unwrap();
    let ctx = Ctx::inference();
    let out = match io.ints.get("input_ids") {
        Some((shape, ids)) => {
            let ids: Vec<usize> = ids.iter().map(|&i| i as usize).collect();
            loaded.model.forward(&ctx, Input::Ids { ids: &ids, batch: shape[0], len: shape[1] }, None)
        }
        None => loaded.model.forward(&ctx, Input::Embeds(&io.floats["inputs_embeds"]), None),
    }
    .unwrap();
    (rel_err(&out, &io.floats["output"]), loaded.notes)
}

const FOLDERS: [(&str, &str); 5] = [
    ("encoder_sinusoidal", "model.pt"),
    ("classifier_learned", "pytorch_model.bin"),
    ("decoder_half", "model.pth"),
    ("operator_complex", "model.pt"),
    ("encoder_float64", "model.pt"),
];

#[test]
fn pytorch_saved_folders_match_pytorch_outputs() {
    let mut failures = Vec::new();
    for (name, weights) in FOLDERS {
        let dir = fixture(name);
        assert!(dir.join(weights).is_file() && !dir.join("model.safetensors").exists(), "{name}: fixture layout");
        let (e32, notes) = run::<f32>(&dir);
        let (e64, _) = run::<f64>(&dir);
        println!("{name:<20} {weights:<18} f32 rel err {e32:.2e}   f64 rel err {e64:.2e}   notes {notes:?}");
        if e32 > 1e-5 || e64 > 1e-10 {
            failures.push(format!("{name}: f32 {e32:.2e} (≤ 1e-5), f64 {e64:.2e} (≤ 1e-10)"));
        }
        if name == "decoder_half" {
            assert!(notes.iter().any(|n| n.contains("causal is set to false")), "{notes:?}");
        }
    }
    assert!(failures.is_empty(), "parity with PyTorch failed:\n{}", failures.join("\n"));
}

#[test]
fn storages_of_each_kind_are_read_as_saved() {
    let dtypes = |name: &str, weights: &str| {
        let sd = torch_file::read(&fixture(name).join(weights)).unwrap();
        let mut d: Vec<&str> = sd.tensors.values().map(|t| t.dtype).collect();
        d.sort();
        d.dedup();
        (d, sd.nested_under)
    };
    assert_eq!(dtypes("encoder_sinusoidal", "model.pt"), (vec!["float32"], None));
    assert_eq!(dtypes("classifier_learned", "pytorch_model.bin"), (vec!["float32"], Some("state_dict".into())));
    assert_eq!(dtypes("decoder_half", "model.pth"), (vec!["bfloat16", "float16"], None));
    assert_eq!(dtypes("operator_complex", "model.pt"), (vec!["complex64", "float32"], None));
    assert_eq!(dtypes("encoder_float64", "model.pt"), (vec!["float64"], Some("model".into())));
    // a complex (in, out, modes) weight becomes the (in, out, modes, 2) re/im layout of the model
    let sd = torch_file::read(&fixture("operator_complex/model.pt")).unwrap();
    assert_eq!(sd.tensors["fourier_layers.0.spectral_conv.weights"].shape, [8, 8, 4, 2]);
}

#[test]
fn strided_views_read_as_their_contiguous_copies() {
    let sd = torch_file::read(&fixture("strided.pt")).unwrap();
    let want = read_tensors::<f64>(&fixture("strided.safetensors")).unwrap();
    assert_eq!(sd.tensors.len(), want.floats.len() + want.ints.len());
    let file = sd.into_tensor_file::<f64>().unwrap();
    for (name, t) in &want.floats {
        assert_eq!(file.floats[name].shape(), t.shape(), "{name}");
        assert_eq!(file.floats[name].to_vec(), t.to_vec(), "{name}");
    }
    assert_eq!(file.ints["ids"], want.ints["ids"]);
}

fn copy_folder(src: &Path, dst: &Path) {
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dst.join(p.file_name().unwrap())).unwrap();
    }
}

#[test]
fn convert_writes_an_equivalent_safetensors_file() {
    for (name, weights) in FOLDERS {
        let dir = common::TempDir::new("torch-convert", name);
        copy_folder(&fixture(name), &dir.0);
        let out = common::spectrans().args(["convert", "--model"]).arg(&dir.0).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("model.safetensors") && stdout.contains(weights), "{stdout}");
        let f64_source = name == "encoder_float64";
        assert!(stdout.contains(if f64_source { "f64" } else { "f32" }), "{name}: {stdout}");
        // the torch file goes away: the folder now runs from model.safetensors alone
        std::fs::remove_file(dir.path(weights)).unwrap();
        let (e32, _) = run::<f32>(&dir.0);
        let (e64, _) = run::<f64>(&dir.0);
        assert!(e32 <= 1e-5 && e64 <= 1e-10, "{name} converted: f32 {e32:.2e}, f64 {e64:.2e}");
        let st = read_tensors::<f64>(&dir.path("model.safetensors")).unwrap();
        let sd = torch_file::read(&fixture(name).join(weights)).unwrap();
        let keys: Vec<&String> = sd.tensors.keys().collect();
        let written: Vec<&String> = st.floats.keys().chain(st.ints.keys()).collect();
        assert_eq!(written.len(), keys.len(), "{name}: same tensors");
        assert!(keys.iter().all(|k| st.floats.contains_key(*k) || st.ints.contains_key(*k)), "{name}: same keys");
        // a second convert refuses to overwrite without --force, and there is nothing left to convert
        let again = common::spectrans().args(["convert", "--model"]).arg(&dir.0).output().unwrap();
        let err = String::from_utf8_lossy(&again.stderr);
        assert!(!again.status.success() && err.lines().count() == 1 && err.contains("no PyTorch weights"), "{err}");
    }
}

#[test]
fn safetensors_is_preferred_and_the_choice_is_said() {
    let dir = common::TempDir::new("torch-prefer", "both");
    copy_folder(&fixture("encoder_sinusoidal"), &dir.0);
    let info = |dir: &Path| common::spectrans().args(["info", "--model"]).arg(dir).output().unwrap();
    let out = info(&dir.0);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("weights read from")
            && String::from_utf8_lossy(&out.stdout).contains("model.pt")
    );
    let conv = common::spectrans().args(["convert", "--model"]).arg(&dir.0).output().unwrap();
    assert!(conv.status.success());
    let refused = common::spectrans().args(["convert", "--model"]).arg(&dir.0).output().unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && err.contains("--force"), "{err}");
    let forced = common::spectrans().args(["convert", "--force", "--model"]).arg(&dir.0).output().unwrap();
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
    let out = info(&dir.0);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("model.safetensors"), "{stdout}");
    assert!(stderr.contains("also present and ignored: model.pt"), "{stderr}");
    let loaded = load_folder::<f32>(&dir.0).unwrap();
    assert!(loaded.weights.unwrap().ends_with("model.safetensors"));
}

#[test]
fn forward_runs_a_folder_holding_only_model_pt() {
    let dir = fixture("encoder_sinusoidal");
    let tmp = common::TempDir::new("torch-forward", "enc");
    let out = common::forward(&dir, &dir.join("io.safetensors"), &tmp.path("y.safetensors"), &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let y = read_tensors::<f32>(&tmp.path("y.safetensors")).unwrap();
    let want = read_tensors::<f32>(&dir.join("io.safetensors")).unwrap();
    assert!(rel_err(&y.floats["output"], &want.floats["output"]) <= 1e-5);
}
