//! The causal decoder from outside, through the binary: a folder holding only `config.json` runs
//! with `--init-seed` (and fails with one clear line without it); changing tokens after t leaves the
//! logits at positions ≤ t unchanged; `spectrans generate` samples from a saved char-level decoder,
//! deterministically under a seed.

use crate::common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use spectrans::models::io::{read_tensors, serialize_tensors, write_atomic};
use spectrans::models::{save_folder, CharTokenizer, Model, ModelConfig};
use spectrans::tensor::{DType, Tensor};

fn scratch(tag: &str) -> PathBuf {
    common::scratch("cli-decoder", tag)
}

const CONFIG: &str = r#"{"model_type": "fno_decoder", "vocab_size": 17, "hidden_dim": 8, "num_layers": 2,
    "modes": 5, "max_sequence_length": 29}"#;

fn write_ids(path: &Path, ids: &[i64], shape: [usize; 2]) {
    let empty: [(String, Tensor<f32>); 0] = [];
    let bytes =
        serialize_tensors(&empty, &[("input_ids".into(), shape.to_vec(), ids.to_vec())], DType::F32, HashMap::new())
            .unwrap();
    write_atomic(path, &bytes).unwrap();
}

#[test]
fn config_only_folder_runs_with_init_seed_and_is_causal() {
    let dir = scratch("causal");
    let model = dir.join("model");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::write(model.join("config.json"), CONFIG).unwrap();
    let n = 29usize;
    let ids: Vec<i64> = (0..n as i64).map(|i| (i * 7 + 3) % 17).collect();
    write_ids(&dir.join("a.safetensors"), &ids, [1, n]);

    let out = common::forward(&model, &dir.join("a.safetensors"), &dir.join("ya.safetensors"), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains("model.safetensors") && err.contains("init seed"), "{err}");

    for t in [0usize, 5, 13, 27] {
        let mut changed = ids.clone();
        for v in changed.iter_mut().skip(t + 1) {
            *v = (*v + 5) % 17;
        }
        write_ids(&dir.join("b.safetensors"), &changed, [1, n]);
        for (input, output) in [("a", "ya"), ("b", "yb")] {
            let o = common::forward(
                &model,
                &dir.join(format!("{input}.safetensors")),
                &dir.join(format!("{output}.safetensors")),
                &["--init-seed", "11", "--dtype", "f64"],
            );
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let ya = read_tensors::<f64>(&dir.join("ya.safetensors")).unwrap().floats["output"].clone();
        let yb = read_tensors::<f64>(&dir.join("yb.safetensors")).unwrap().floats["output"].clone();
        assert_eq!(ya.shape(), &[1, n, 17]);
        let keep = (t + 1) * 17;
        assert_eq!(&ya.data()[..keep], &yb.data()[..keep], "logits ≤ {t} moved (outputs are written as f32)");
        assert_ne!(&ya.data()[keep..], &yb.data()[keep..], "later logits must see the change");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn generate_samples_text_from_a_saved_decoder() {
    let dir = scratch("generate");
    let text = "to be or not to be, that is the question";
    let tok = CharTokenizer::from_text(text);
    let cfg = CONFIG.replace("\"vocab_size\": 17", &format!("\"vocab_size\": {}", tok.vocab_size()));
    let model = Model::<f32>::from_config(&ModelConfig::from_json(&cfg).unwrap(), 3).unwrap();
    save_folder(&model, &dir).unwrap();
    tok.save(&dir).unwrap();
    let run = |seed: &str| {
        let o = common::spectrans()
            .args(["generate", "--model"])
            .arg(&dir)
            .args([
                "--prompt",
                "to be",
                "--max-new-tokens",
                "12",
                "--temperature",
                "1.0",
                "--top-k",
                "5",
                "--seed",
                seed,
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let a = run("1");
    assert!(a.starts_with("to be"));
    assert_eq!(a.trim_end_matches('\n').chars().count(), "to be".len() + 12);
    assert!(a.chars().filter(|c| *c != '\n').all(|c| text.contains(c)));
    assert_eq!(a, run("1"), "same seed, same text");
    let o = common::spectrans().args(["generate", "--model"]).arg(&dir).args(["--prompt", "xyz"]).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("'x'"));
    std::fs::remove_dir_all(&dir).unwrap();
}
