//! `spectrans info` prints the parameter counts of reference.md §8's example models (vocab 100,
//! D 16, 2 layers, modes 4, 3 classes, L 32): FNOTransformer 8 595, FNOEncoder 6 944, FNODecoder
//! (causal false) 10 244, and 3 456 per block.

use crate::common;

use spectrans::models::{save_folder, Model, ModelConfig};

fn info(config: &str, tag: &str) -> String {
    let dir = common::TempDir::new("cli-info", tag);
    let model = Model::<f32>::from_config(&ModelConfig::from_json(config).unwrap(), 0).unwrap();
    save_folder(&model, &dir.0).unwrap();
    let out = common::spectrans().args(["info", "--model"]).arg(&dir.0).output().unwrap();
    assert!(out.status.success(), "spectrans info failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The count printed on the line whose first word is `label`.
fn count(stdout: &str, label: &str) -> usize {
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(label))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{stdout}"));
    line.split_whitespace().last().unwrap().parse().unwrap()
}

const COMMON: &str = r#""hidden_dim": 16, "num_layers": 2, "modes": 4, "max_sequence_length": 32"#;

#[test]
fn info_prints_the_reference_parameter_counts() {
    let cases = [
        (
            "transformer",
            format!(r#"{{"model_type": "fno_transformer", "vocab_size": 100, "num_classes": 3, {COMMON}}}"#),
            8595,
        ),
        ("encoder", format!(r#"{{"model_type": "fno_encoder", {COMMON}}}"#), 6944),
        ("decoder", format!(r#"{{"model_type": "fno_decoder", "vocab_size": 100, "causal": false, {COMMON}}}"#), 10244),
    ];
    for (tag, config, total) in cases {
        let out = info(&config, tag);
        assert_eq!(count(&out, "total"), total, "{tag}:\n{out}");
        assert_eq!(count(&out, "blocks.0"), 3456, "{tag}:\n{out}");
        assert_eq!(count(&out, "blocks.1"), 3456, "{tag}:\n{out}");
        assert_eq!(count(&out, "final_norm"), 32, "{tag}:\n{out}");
        assert!(out.contains("FLOPs per position"), "{tag}:\n{out}");
    }
}
