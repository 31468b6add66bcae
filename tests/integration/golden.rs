//! Golden parity with spectrans 0.1.0 (PyTorch): every fixture's output and every gradient
//! (parameters and float inputs), in f32 (relative error ≤ 1e-5) and f64 (≤ 1e-10).
//!
//! Checks `tests/fixtures/golden/*.safetensors` and, when `SPECTRANS_GOLDEN_DIR` is set, every
//! `*.safetensors` file in that folder too. Relative error = max |ours − reference| divided by
//! max |reference|, per tensor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use spectrans::layers::{
    Activation, Ctx, FNOBlock, FNOBlockConfig, FftFloat, FnoPaths, FourierNeuralOperator, Module, SpectralConv1d,
};
use spectrans::models::io::{read_tensors, TensorFile};
use spectrans::models::{load_state, Input, Model, ModelConfig};
use spectrans::tensor::{Parameter, Rng, Tape, Tensor};

use crate::common::rel_err;

struct Fixture<T: FftFloat> {
    component: String,
    config: serde_json::Map<String, serde_json::Value>,
    input_name: String,
    file: TensorFile<T>,
}

fn load<T: FftFloat>(path: &Path) -> Fixture<T> {
    let file = read_tensors::<T>(path).unwrap_or_else(|e| panic!("{e}"));
    let meta = &file.metadata;
    assert_eq!(
        meta.get("format").map(String::as_str),
        Some("spectrans-golden/1"),
        "{}: not a golden fixture",
        path.display()
    );
    let config = match serde_json::from_str(&meta["config"]).unwrap() {
        serde_json::Value::Object(m) => m,
        _ => panic!("config is not an object"),
    };
    Fixture { component: meta["component"].clone(), config, input_name: meta["input"].clone(), file }
}

fn get(cfg: &serde_json::Map<String, serde_json::Value>, key: &str) -> usize {
    cfg[key].as_u64().unwrap_or_else(|| panic!("config.{key}")) as usize
}

/// The tensors stored under `prefix` (`param.` / `buffer.`), with the prefix removed.
fn state<T: FftFloat>(file: &TensorFile<T>) -> TensorFile<T> {
    let mut floats = BTreeMap::new();
    for (k, v) in &file.floats {
        for prefix in ["param.", "buffer."] {
            if let Some(name) = k.strip_prefix(prefix) {
                floats.insert(name.to_string(), v.clone());
            }
        }
    }
    TensorFile { floats, ..Default::default() }
}

/// Runs one fixture in precision `T`; returns the worst relative error over output and gradients.
fn check<T: FftFloat>(path: &Path) -> f64 {
    let fx = load::<T>(path);
    let st = state(&fx.file);
    let tape = Tape::new();
    let ctx = Ctx::eval_with_tape(&tape);
    let input_param = fx.file.floats.get(&fx.input_name).map(|x| Parameter::new(x.clone()));
    let watched = input_param.as_ref().map(|p| tape.watch(p));
    let origin = path.display().to_string();
    let c = &fx.config;
    let mut rng = Rng::seed(0);
    let (output, params): (Tensor<T>, Vec<(String, Parameter<T>)>) = match fx.component.as_str() {
        "spectral_conv1d" => {
            let m = SpectralConv1d::<T>::new(get(c, "in_channels"), get(c, "out_channels"), get(c, "modes"), &mut rng)
                .unwrap();
            load_state(&m, &st, &origin).unwrap();
            (m.forward(&ctx, watched.as_ref().unwrap()).unwrap(), m.named_parameters())
        }
        "fourier_neural_operator" => {
            let m = FourierNeuralOperator::<T>::new(
                get(c, "hidden_dim"),
                get(c, "modes"),
                Activation::Gelu,
                FnoPaths::Both,
                &mut rng,
            )
            .unwrap();
            load_state(&m, &st, &origin).unwrap();
            (m.forward(&ctx, watched.as_ref().unwrap()).unwrap(), m.named_parameters())
        }
        "fno_block" => {
            let mut bc = FNOBlockConfig::new(get(c, "hidden_dim"), get(c, "modes"));
            bc.mlp_ratio = c.get("mlp_ratio").and_then(|v| v.as_f64()).unwrap_or(2.0);
            let m = FNOBlock::<T>::new(&bc, &mut rng).unwrap();
            load_state(&m, &st, &origin).unwrap();
            (m.forward(&ctx, watched.as_ref().unwrap()).unwrap(), m.named_parameters())
        }
        kind @ ("fno_encoder" | "fno_transformer" | "fno_decoder") => {
            let mut json = c.clone();
            json.insert("model_type".into(), kind.into());
            let cfg = ModelConfig::from_json(&serde_json::Value::Object(json).to_string()).unwrap();
            let m = Model::<T>::from_config(&cfg, 0).unwrap();
            load_state(&m, &st, &origin).unwrap();
            let out = match &watched {
                Some(x) => m.forward(&ctx, Input::Embeds(x), None),
                None => {
                    let (shape, ids) = &fx.file.ints["input.input_ids"];
                    let ids: Vec<usize> = ids.iter().map(|&i| i as usize).collect();
                    m.forward(&ctx, Input::Ids { ids: &ids, batch: shape[0], len: shape[1] }, None)
                }
            }
            .unwrap();
            (out, m.named_parameters())
        }
        other => panic!("{}: unknown component {other}", path.display()),
    };
    let f = &fx.file.floats;
    let mut worst = rel_err(&output.detach(), &f["output"]);
    output.backward_with(&f["loss_weight"]).unwrap();
    let mut checked = 0;
    for (name, p) in &params {
        let reference = &f[&format!("grad.param.{name}")];
        let grad = p.grad().unwrap_or_else(|| panic!("{}: no gradient for {name}", path.display()));
        worst = worst.max(rel_err(&grad, reference));
        checked += 1;
    }
    let n_ref = f.keys().filter(|k| k.starts_with("grad.param.")).count();
    assert_eq!(checked, n_ref, "{}: every reference parameter gradient is compared", path.display());
    if let Some(p) = &input_param {
        let key = format!("grad.{}", fx.input_name);
        worst = worst.max(rel_err(&p.grad().unwrap(), &f[&key]));
    }
    worst
}

fn fixtures() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden")];
    if let Ok(extra) = std::env::var("SPECTRANS_GOLDEN_DIR") {
        dirs.push(PathBuf::from(extra));
    }
    let mut files = Vec::new();
    for d in dirs {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        let mut here: Vec<PathBuf> =
            entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "safetensors")).collect();
        here.sort();
        files.extend(here);
    }
    files
}

#[test]
fn golden_parity_f32_and_f64() {
    let files = fixtures();
    assert!(files.len() >= 8, "the eight shipped fixtures are present");
    let mut failures = Vec::new();
    for path in &files {
        let e32 = check::<f32>(path);
        let e64 = check::<f64>(path);
        println!("{:<60} f32 rel err {e32:.2e}   f64 rel err {e64:.2e}", path.display());
        if e32 > 1e-5 || e64 > 1e-10 {
            failures.push(format!("{}: f32 {e32:.2e} (≤ 1e-5), f64 {e64:.2e} (≤ 1e-10)", path.display()));
        }
    }
    println!("checked {} golden fixtures at SIMD level {}", files.len(), spectrans::tensor::simd::level());
    assert!(failures.is_empty(), "golden parity failed:\n{}", failures.join("\n"));
}

/// The same parity at every SIMD level this CPU has (`SPECTRANS_SIMD`, read once per process): each
/// level runs `golden_parity_f32_and_f64` in a child process of this test binary.
#[test]
fn golden_parity_at_every_simd_level() {
    use spectrans::tensor::simd::{self, SimdLevel};
    if std::env::var_os("SPECTRANS_SIMD_CHILD").is_some() {
        return; // a child runs only the parity test
    }
    for level in SimdLevel::ALL.into_iter().filter(|&l| l <= simd::detected()) {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "golden::golden_parity_f32_and_f64", "--nocapture", "--test-threads", "1"])
            .env("SPECTRANS_SIMD", level.name())
            .env("SPECTRANS_SIMD_CHILD", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "golden parity at SIMD level {level}:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains(&format!("SIMD level {level}")), "the child ran at {level}:\n{text}");
        assert!(text.contains("1 passed"), "the child ran the parity test:\n{text}");
    }
}
