//! Determinism of training: the same seed and thread count give bit-identical losses and weights,
//! and 1 against 2 threads differ by at most the bound documented in `docs/reliability.md` — which
//! is zero: every parallel kernel splits its work into chunks fixed by the data's size, never by
//! the thread count or timing, so the summation order is the same with any number of threads.

use crate::common;

use std::path::Path;

use spectrans_models::io::read_tensors;

/// Documented bound (docs/reliability.md) on |loss₁ − loss₂| / |loss₁| for every logged training
/// loss of the run below, 1 thread against 2: none (measured 0).
const LOSS_REL_BOUND: f64 = 0.0;
/// Documented bound on the largest |w₁ − w₂| over every final weight, 1 thread against 2: none.
const WEIGHT_ABS_BOUND: f64 = 0.0;

/// A classification run large enough that the element-wise loops, reductions and GEMMs take their
/// parallel paths (activations 32 × 64 × 64), 8 steps.
fn train(run: &Path, threads: &str) {
    let out = common::spectrans()
        .args(["train", "classify", "--out"])
        .arg(run)
        .args(["--n-train", "128", "--n-test", "32", "--seq-len", "64", "--width", "64", "--layers", "2"])
        .args(["--modes", "16", "--batch-size", "32", "--epochs", "2", "--log-every", "1", "--no-progress"])
        .args(["--threads", threads])
        .output()
        .expect("the spectrans binary runs");
    assert!(out.status.success(), "training with {threads} threads failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn losses(run: &Path) -> Vec<f64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "train")
        .map(|v| v["train_loss"].as_f64().unwrap())
        .collect()
}

/// Every final weight, by name, in file order.
fn weights(run: &Path) -> Vec<(String, Vec<f32>)> {
    let file = read_tensors::<f32>(&run.join("model/model.safetensors")).unwrap();
    file.floats.into_iter().map(|(k, t)| (k, t.to_vec())).collect()
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn same_seed_and_threads_are_bit_identical_and_one_vs_two_threads_stay_within_the_documented_bound() {
    let dir = common::TempDir::new("determinism", "runs");
    let (a, b, c) = (dir.path("a"), dir.path("b"), dir.path("c"));
    train(&a, "2");
    train(&b, "2");
    train(&c, "1");
    let (la, lb, lc) = (losses(&a), losses(&b), losses(&c));
    assert_eq!(la.len(), 8);
    assert_eq!(bits(&la), bits(&lb), "same seed and threads: the losses must be bit-identical");
    let (wa, wb, wc) = (weights(&a), weights(&b), weights(&c));
    assert!(!wa.is_empty());
    for ((name, x), (_, y)) in wa.iter().zip(&wb) {
        let same = x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits());
        assert!(same, "same seed and threads: weight {name} differs");
    }
    let loss_rel = la.iter().zip(&lc).map(|(x, y)| ((x - y) / x).abs()).fold(0.0, f64::max);
    let mut weight_abs = 0.0f64;
    for ((name_a, x), (name_c, y)) in wa.iter().zip(&wc) {
        assert_eq!(name_a, name_c);
        weight_abs = x.iter().zip(y).map(|(p, q)| (p - q).abs() as f64).fold(weight_abs, f64::max);
    }
    eprintln!(
        "1 vs 2 threads: largest relative loss difference {loss_rel:e}, largest weight difference {weight_abs:e}"
    );
    assert!(loss_rel <= LOSS_REL_BOUND, "1 vs 2 threads: relative loss difference {loss_rel:e}");
    assert!(weight_abs <= WEIGHT_ABS_BOUND, "1 vs 2 threads: weight difference {weight_abs:e}");
}
