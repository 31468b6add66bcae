//! End-to-end tests of `spectrans train darcy` on tiny settings: the loss decreases, the model
//! folder carries its normaliser and evaluates at its own and at other resolutions (zero-shot),
//! heat maps are drawn, `--resume` after an interruption reproduces the uninterrupted curve, and
//! bad options are refused by name.

use crate::common;

use std::path::Path;

use serde_json::Value;

fn ok(args: &[&str]) -> String {
    common::ok(args)
}

/// 40 train / 8 test samples on a 29² solver grid, trained at s = 15, 4 steps per epoch (the
/// default preset's warm-up of 50 steps keeps the first epochs slow).
fn darcy_args<'a>(out: &'a str, data: &'a str, epochs: &'a str) -> Vec<&'a str> {
    darcy_at(out, data, epochs, "15")
}

/// [`darcy_args`] trained at `resolution`.
fn darcy_at<'a>(out: &'a str, data: &'a str, epochs: &'a str, resolution: &'a str) -> Vec<&'a str> {
    #[rustfmt::skip]
    let args = vec![
        "train", "darcy", "--out", out, "--data-dir", data, "--n-train", "40", "--n-test", "8",
        "--resolution-fine", "29", "--resolution", resolution, "--width", "16", "--modes", "4", "--layers", "2",
        "--batch-size", "10", "--lr", "0.01", "--eval-every", "1", "--log-every", "1", "--epochs", epochs,
        "--no-progress", "--threads", "2", "--overwrite",
    ];
    args
}

/// (step, metric, value) of every train-loss and test-error record of a run.
fn curve(run: &Path) -> Vec<(u64, String, f64)> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        for (k, val) in v.as_object().unwrap() {
            if k == "train_loss" || k == "test_rel_l2" {
                out.push((v["step"].as_u64().unwrap(), k.clone(), val.as_f64().unwrap()));
            }
        }
    }
    out
}

#[test]
fn a_tiny_darcy_run_learns_evaluates_at_other_resolutions_and_resumes_exactly() {
    let dir = common::scratch("darcy", "e2e");
    let (run, data) = (dir.join("run"), dir.join("data"));
    let (r, d) = (run.to_str().unwrap(), data.to_str().unwrap());
    let line = ok(&darcy_args(r, d, "16"));
    assert!(line.contains("test relative L2 error (s = 15, trained at s = 15, 8 test samples)"), "{line}");
    let errors: Vec<f64> = curve(&run).into_iter().filter(|(_, k, _)| k == "test_rel_l2").map(|m| m.2).collect();
    assert_eq!(errors.len(), 16);
    assert!(errors[15] < 0.8 * errors[0], "the test error decreases: {errors:?}");
    // the model folder has what eval needs, and the heat maps are drawn
    let model = run.join("model");
    for f in ["config.json", "model.safetensors", "normalizer.safetensors", "training.json"] {
        assert!(model.join(f).is_file(), "{f}");
    }
    for f in ["darcy_samples.png", "darcy_samples.svg", "loss.png"] {
        assert!(run.join("plots").join(f).is_file(), "{f}");
    }
    let m = model.to_str().unwrap();
    let same = ok(&["eval", "--model", m]);
    assert_eq!(same.trim(), line.trim(), "eval repeats the final evaluation");
    let finer = ok(&["eval", "--model", m, "--resolution", "29"]);
    assert!(finer.contains("s = 29, trained at s = 15"), "{finer}");
    let out = common::spectrans().args(["eval", "--model", m, "--resolution", "16"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--resolution") && err.contains("15"), "{err}");
    // interrupted at step 6 of 4 per epoch, resumed: the same curve bit for bit
    let stopped = dir.join("stopped");
    let s = stopped.to_str().unwrap();
    let mut args = darcy_args(s, d, "3");
    args.extend(["--max-steps", "6"]);
    assert!(ok(&args).contains("stopped after step 6"));
    ok(&["train", "darcy", "--out", s, "--resume", "--threads", "2", "--no-progress"]);
    let whole = dir.join("whole");
    ok(&darcy_args(whole.to_str().unwrap(), d, "3"));
    assert_eq!(curve(&stopped), curve(&whole), "the resumed run must repeat the uninterrupted one exactly");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn darcy_options_are_checked_by_name() {
    let dir = common::scratch("darcy", "bad");
    let run = dir.join("run");
    let r = run.to_str().unwrap();
    for (resolution, extra, words) in [
        ("14", None, vec!["--resolution", "15"]),
        ("15", Some(["--seq-len", "8"]), vec!["--seq-len", "darcy"]),
        ("15", Some(["--corpus", "x.txt"]), vec!["--corpus", "darcy"]),
    ] {
        let mut args = darcy_at(r, r, "1", resolution);
        args.extend(extra.into_iter().flatten());
        let out = common::spectrans().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.lines().count() == 1, "{extra:?}: {err}");
        assert!(words.iter().all(|w| err.contains(w)), "{extra:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
