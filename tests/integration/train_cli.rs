//! End-to-end tests of `spectrans train` / `eval` / `generate` on tiny settings: the loss
//! decreases for every task, runs are deterministic, `--resume` after an interruption reproduces
//! the uninterrupted loss curve exactly, a NaN stops cleanly with the previous checkpoint
//! loadable, and killing the process at any time leaves a loadable `latest` checkpoint.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use spectrans_layers::Module;

fn spectrans(args: &[&str]) -> Output {
    common::spectrans().args(args).output().expect("the spectrans binary runs")
}

fn ok(args: &[&str]) -> String {
    common::ok(args)
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("train", name)
}

/// Tiny Burgers settings: 40 train / 10 test samples at s = 32, 4 steps per epoch.
fn burgers_args<'a>(out: &'a str, data: &'a str, epochs: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "burgers",
        "--out",
        out,
        "--data-dir",
        data,
        "--n-train",
        "40",
        "--n-test",
        "10",
        "--resolution-fine",
        "64",
        "--resolution",
        "32",
        "--time-steps",
        "200",
        "--width",
        "8",
        "--modes",
        "4",
        "--layers",
        "2",
        "--batch-size",
        "10",
        "--epochs",
        epochs,
        "--eval-every",
        "1",
        "--checkpoint-every",
        "1",
        "--log-every",
        "1",
        "--threads",
        "2",
        "--lr",
        "3e-3",
    ]
}

/// All lines of a run's metrics log.
fn metrics(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// (step, train loss) and (step, metric) pairs, without wall times.
fn curve(run: &Path) -> Vec<(u64, String, f64)> {
    let mut out = Vec::new();
    for v in metrics(run) {
        for (k, val) in v.as_object().unwrap() {
            if ["train_loss", "test_rel_l2", "test_accuracy", "val_bpc"].contains(&k.as_str()) {
                out.push((v["step"].as_u64().unwrap(), k.clone(), val.as_f64().unwrap()));
            }
        }
    }
    out
}

fn train_losses(run: &Path) -> Vec<f64> {
    curve(run).into_iter().filter(|(_, k, _)| k == "train_loss").map(|(_, _, v)| v).collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn burgers_learns_writes_a_run_folder_and_evaluates_at_another_resolution() {
    let dir = scratch("burgers");
    let (run, data) = (dir.join("run"), dir.join("data"));
    let stdout = ok(&burgers_args(run.to_str().unwrap(), data.to_str().unwrap(), "8"));
    assert!(stdout.contains("test relative L2 error (s = 32, 10 test samples): "), "{stdout}");
    let losses = train_losses(&run);
    assert_eq!(losses.len(), 32);
    assert!(mean(&losses[28..]) < 0.7 * mean(&losses[..4]), "the loss did not decrease: {losses:?}");
    for f in [
        "config.json",
        "model/config.json",
        "model/model.safetensors",
        "model/training.json",
        "plots/loss.svg",
        "plots/loss.png",
        "plots/burgers_predictions.svg",
        "plots/burgers_predictions.png",
        "checkpoints/latest/optimizer.safetensors",
        "checkpoints/latest/trainer.json",
    ] {
        assert!(run.join(f).exists(), "{f} is missing");
    }
    let kept = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("step-"));
    assert_eq!(kept.count(), 3, "keep the last 3 checkpoints");
    let last_eval = curve(&run).into_iter().rfind(|(_, k, _)| k == "test_rel_l2").unwrap().2;
    let model = run.join("model");
    let same = ok(&["eval", "--model", model.to_str().unwrap()]);
    assert!(same.contains(&format!("{last_eval:.6}")), "eval at the training resolution: {same} vs {last_eval}");
    let fine = ok(&["eval", "--model", model.to_str().unwrap(), "--resolution", "64"]);
    assert!(fine.contains("(s = 64, 10 test samples)"), "{fine}");
    let bad = spectrans(&["eval", "--model", model.to_str().unwrap(), "--resolution", "48"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.starts_with("error: ") && err.contains("resolution") && err.lines().count() == 1, "{err}");
    let again = spectrans(&burgers_args(run.to_str().unwrap(), data.to_str().unwrap(), "8"));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"), "an existing run is not overwritten silently");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn runs_are_deterministic_and_resume_reproduces_the_uninterrupted_curve() {
    let dir = scratch("resume");
    let data = dir.join("data");
    let d = data.to_str().unwrap();
    let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
    ok(&burgers_args(a.to_str().unwrap(), d, "4"));
    ok(&burgers_args(c.to_str().unwrap(), d, "4"));
    assert_eq!(curve(&a), curve(&c), "same seed and threads must give the same curve bit for bit");
    // interrupted mid-epoch (step 7 of 4 per epoch), then twice resumed
    let mut args = burgers_args(b.to_str().unwrap(), d, "4");
    args.extend(["--max-steps", "7"]);
    let stopped = ok(&args);
    assert!(stopped.contains("stopped after step 7"), "{stopped}");
    let b_str = b.to_str().unwrap();
    ok(&["train", "burgers", "--out", b_str, "--resume", "--max-steps", "10", "--threads", "2"]);
    ok(&["train", "burgers", "--out", b_str, "--resume", "--threads", "2"]);
    assert_eq!(curve(&a), curve(&b), "the resumed run must repeat the uninterrupted one exactly");
    let changed = spectrans(&["train", "burgers", "--out", b_str, "--resume", "--lr", "1"]);
    assert!(String::from_utf8_lossy(&changed.stderr).contains("--lr: cannot change"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_nan_loss_stops_naming_the_step_and_the_last_checkpoint_still_loads() {
    let dir = scratch("nan");
    let (run, data) = (dir.join("run"), dir.join("data"));
    let mut args = burgers_args(run.to_str().unwrap(), data.to_str().unwrap(), "4");
    args.extend(["--inject-nan-at-step", "6"]);
    let out = spectrans(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap();
    assert!(last.starts_with("error: step 6: the training loss is NaN") && last.contains("step-00000004"), "{err}");
    let ckpt = run.join("checkpoints/latest");
    assert!(std::fs::canonicalize(&ckpt).unwrap().ends_with("step-00000004"));
    let loaded = spectrans_models::load_folder::<f32>(&ckpt).unwrap();
    assert!(loaded.model.named_parameters().iter().all(|(_, p)| !p.value().has_non_finite()));
    ok(&["eval", "--model", ckpt.to_str().unwrap()]);
    // the run continues from that checkpoint
    ok(&["train", "burgers", "--out", run.to_str().unwrap(), "--resume", "--threads", "2"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn killing_the_process_at_any_time_leaves_a_loadable_latest_checkpoint() {
    let dir = scratch("kill");
    let (run, data) = (dir.join("run"), dir.join("data"));
    let args = burgers_args(run.to_str().unwrap(), data.to_str().unwrap(), "100000");
    ok(&{
        let mut warm = args.clone();
        warm.extend(["--max-steps", "1"]);
        warm
    });
    let step_of = |ckpt: &std::path::Path| -> u64 {
        let state: Value = serde_json::from_str(&std::fs::read_to_string(ckpt.join("trainer.json")).unwrap()).unwrap();
        state["step"].as_u64().unwrap()
    };
    let ckpt = run.join("checkpoints/latest");
    let first = step_of(&ckpt);
    // a resumed run may only change --epochs / --max-steps: pass nothing else, or it exits at once
    let resume = ["train", "burgers", "--out", run.to_str().unwrap(), "--resume", "--threads", "2"];
    for delay_ms in [150u64, 300, 450, 650, 900] {
        let mut child = common::spectrans()
            .args(resume)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        assert!(child.try_wait().unwrap().is_none(), "the resumed run ended before the kill at {delay_ms} ms");
        child.kill().unwrap();
        child.wait().unwrap();
        let loaded = spectrans_models::load_folder::<f32>(&ckpt);
        assert!(loaded.is_ok(), "after a kill at {delay_ms} ms: {:?}", loaded.err());
        spectrans_train::optim::OptimState::<f32>::load(ckpt.join("optimizer.safetensors"))
            .unwrap_or_else(|e| panic!("optimizer state after a kill at {delay_ms} ms: {e}"));
    }
    assert!(step_of(&ckpt) > first, "the killed runs never trained past the warm-up checkpoint");
    // and the run still resumes from whatever checkpoint survived
    let mut more: Vec<&str> = resume.to_vec();
    let target = (step_of(&ckpt) + 1).to_string();
    more.extend(["--max-steps", target.as_str()]);
    ok(&more);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_language_model_learns_saves_its_tokenizer_and_generates() {
    let dir = scratch("lm");
    let (run, corpus) = (dir.join("run"), dir.join("corpus.txt"));
    let text = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n".repeat(40);
    std::fs::write(&corpus, text).unwrap();
    let stdout = ok(&[
        "train",
        "lm",
        "--out",
        run.to_str().unwrap(),
        "--corpus",
        corpus.to_str().unwrap(),
        "--seq-len",
        "32",
        "--width",
        "32",
        "--layers",
        "2",
        "--modes",
        "16",
        "--steps-per-epoch",
        "20",
        "--epochs",
        "4",
        "--batch-size",
        "8",
        "--eval-every",
        "1",
        "--log-every",
        "5",
        "--threads",
        "2",
    ]);
    assert!(stdout.contains("validation bits per character: "), "{stdout}");
    let losses = train_losses(&run);
    assert!(losses[losses.len() - 1] < 0.7 * losses[0], "the loss did not decrease: {losses:?}");
    let bpc: Vec<f64> = curve(&run).into_iter().filter(|(_, k, _)| k == "val_bpc").map(|(_, _, v)| v).collect();
    assert!(bpc[bpc.len() - 1] < bpc[0], "{bpc:?}");
    let model = run.join("model");
    assert!(model.join("tokenizer.json").exists());
    let generated =
        ok(&["generate", "--model", model.to_str().unwrap(), "--prompt", "To be", "--max-new-tokens", "20"]);
    assert!(generated.starts_with("To be") && generated.chars().count() >= 20, "{generated}");
    let eval = ok(&["eval", "--model", model.to_str().unwrap(), "--corpus", corpus.to_str().unwrap()]);
    assert!(eval.contains(&format!("{:.4}", bpc[bpc.len() - 1])), "{eval} vs {bpc:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_classifier_learns_above_chance() {
    let dir = scratch("classify");
    let run = dir.join("run");
    let stdout = ok(&[
        "train",
        "classify",
        "--out",
        run.to_str().unwrap(),
        "--n-train",
        "1000",
        "--n-test",
        "200",
        "--width",
        "16",
        "--layers",
        "1",
        "--modes",
        "17",
        "--epochs",
        "6",
        "--batch-size",
        "32",
        "--lr",
        "3e-3",
        "--threads",
        "2",
    ]);
    assert!(stdout.contains("test accuracy: "), "{stdout}");
    let losses = train_losses(&run);
    assert!(mean(&losses[losses.len() - 3..]) < 0.8 * mean(&losses[..3]), "the loss did not decrease: {losses:?}");
    let acc: Vec<f64> = curve(&run).into_iter().filter(|(_, k, _)| k == "test_accuracy").map(|(_, _, v)| v).collect();
    assert!(acc[acc.len() - 1] > 0.6, "accuracy {acc:?} (chance 0.25)");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_options_are_one_line_errors() {
    for (args, needle) in [
        (vec!["train", "burgers", "--preset", "huge"], "preset"),
        (vec!["train", "lm", "--preset", "paper"], "preset"),
        (vec!["train", "classify", "--corpus", "x.txt"], "--corpus"),
        (vec!["train", "classify", "--time-steps", "9"], "--time-steps does not apply"),
        (vec!["train", "lm", "--n-test", "9"], "--n-test does not apply"),
        (vec!["train", "lm", "--resolution-fine", "64"], "--resolution-fine does not apply"),
        (vec!["train", "burgers", "--seq-len", "8"], "--seq-len does not apply to the burgers task"),
        (vec!["train", "burgers", "--resolution", "100"], "--resolution"),
        (vec!["train", "burgers", "--batch-size", "0"], "batch_size"),
        (vec!["eval", "--model", "/nonexistent/model"], "training.json"),
    ] {
        let out = spectrans(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: ") && err.contains(needle) && err.lines().count() == 1, "{args:?}: {err}");
    }
}
