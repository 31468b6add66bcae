//! Replays the committed fuzz corpus (`tests/fuzz_corpus/<target>/`, minimised with `cargo fuzz
//! cmin`, plus every input that once found a bug) through the same entry points the `cargo fuzz`
//! targets call (`fuzz/src/lib.rs`, included below): each may load or be refused, none may panic.

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod harness;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

fn corpus(target: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_input_is_loaded_or_refused_without_a_panic() {
    let mut failures = Vec::new();
    for (target, entry) in harness::TARGETS {
        let files = corpus(target);
        assert!(files.len() >= 3, "the {target} corpus is (nearly) empty");
        for file in files {
            let data = std::fs::read(&file).unwrap();
            if catch_unwind(AssertUnwindSafe(|| entry(&data))).is_err() {
                failures.push(file.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "inputs that panic: {failures:#?}");
}

#[test]
fn the_seed_inputs_reach_the_loaders_deep_paths() {
    // the valid seeds load; a harness that refused them early would fuzz nothing
    let dir = std::env::temp_dir().join(format!("spectrans-fuzz-seeds-{}", std::process::id()));
    harness::write_seeds(&dir).unwrap();
    for seed in std::fs::read_dir(dir.join("checkpoint")).unwrap() {
        let data = std::fs::read(seed.unwrap().path()).unwrap();
        let (config, weights) = harness::split_frame(&data).unwrap();
        let config = spectrans_models::ModelConfig::from_json(std::str::from_utf8(config).unwrap()).unwrap();
        assert!(harness::small_enough(&config));
        let file = spectrans_models::io::parse_tensors::<f32>(weights, "seed").unwrap();
        spectrans_models::load_parts(config, &file, "seed").unwrap();
    }
    for seed in std::fs::read_dir(dir.join("forward_input")).unwrap() {
        let data = std::fs::read(seed.unwrap().path()).unwrap();
        spectrans_models::InputFile::<f32>::parse(&data, "seed").unwrap();
    }
    for seed in std::fs::read_dir(dir.join("resume")).unwrap() {
        let data = std::fs::read(seed.unwrap().path()).unwrap();
        if data[0] % 2 == 1 {
            spectrans_train::optim::OptimState::<f32>::from_safetensors(&data[1..], "seed").unwrap();
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
