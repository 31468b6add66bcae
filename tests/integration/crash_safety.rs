//! Crash safety of training: a `spectrans train` run SIGKILLed at 60 seeded moments — chosen by
//! the run's own progress (after k more checkpoints, then a short random delay), never by wall
//! time — leaves `checkpoints/latest` loadable every time, and resuming after each kill ends with
//! exactly the loss curve of a run that was never interrupted.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use spectrans_tensor::Rng;
use spectrans_train::optim::OptimState;
use spectrans_train::trainer::checkpoint;

/// Kills in total (the brief asks for at least 50).
const KILLS: usize = 60;
/// Epochs of the configured run: far more than the killed runs can reach whatever the machine's
/// speed (each kill allows 2 checkpoints plus at most 20 ms of progress), so no run ends by itself;
/// the comparison stops both runs at the same `--max-steps` instead.
const EPOCHS: u64 = 100_000;

/// A tiny classification run: 64 sequences of 16 tokens, 4 steps and one checkpoint per epoch; the
/// loss is logged every 3 steps, so checkpoints fall inside a log window that must resume exactly.
fn fresh(run: &Path) -> Command {
    let mut c = common::spectrans();
    c.args(["train", "classify", "--out"]).arg(run);
    c.args(["--n-train", "64", "--n-test", "16", "--seq-len", "16", "--width", "8", "--layers", "1"]);
    c.args(["--modes", "4", "--batch-size", "16", "--eval-every", "1", "--checkpoint-every", "1"]);
    c.args(["--keep-checkpoints", "2", "--log-every", "3", "--threads", "1", "--no-progress"]);
    c.args(["--epochs", &EPOCHS.to_string()]);
    c
}

fn resume(run: &Path) -> Command {
    let mut c = common::spectrans();
    c.args(["train", "classify", "--out"]).arg(run).args(["--resume", "--threads", "1", "--no-progress"]);
    c
}

fn succeed(mut c: Command) {
    let out = c.output().expect("the spectrans binary runs");
    assert!(out.status.success(), "{c:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

/// The step of the checkpoint `latest` points to (0 before the first one), read without loading it.
fn latest_step(run: &Path) -> u64 {
    std::fs::read_link(run.join("checkpoints").join(checkpoint::LATEST))
        .ok()
        .and_then(|name| name.to_str()?.strip_prefix("step-")?.parse().ok())
        .unwrap_or(0)
}

/// Whether process `pid` left a half-written checkpoint or `latest` pointer (the temporaries of
/// `checkpoint::publish` end in `.tmp<pid>`).
fn left_a_temporary(run: &Path, pid: u32) -> bool {
    let tail = format!(".tmp{pid}");
    std::fs::read_dir(run.join("checkpoints"))
        .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().ends_with(&tail)))
        .unwrap_or(false)
}

/// `checkpoints/latest` must load whole: model folder, optimiser state and trainer state, the
/// trainer's step matching the folder's name.
fn assert_latest_loads(run: &Path, kill: usize) {
    let dir = checkpoint::latest(run)
        .unwrap_or_else(|e| panic!("kill {kill}: checkpoints/latest unreadable: {e}"))
        .unwrap_or_else(|| panic!("kill {kill}: no checkpoint"));
    spectrans_models::load_folder::<f32>(&dir).unwrap_or_else(|e| panic!("kill {kill}: model: {e}"));
    OptimState::<f32>::load(dir.join(checkpoint::OPTIMIZER_FILE))
        .unwrap_or_else(|e| panic!("kill {kill}: optimizer state: {e}"));
    let state = checkpoint::read_state(&dir).unwrap_or_else(|e| panic!("kill {kill}: trainer state: {e}"));
    assert!(dir.ends_with(checkpoint::step_dir_name(state.step)), "kill {kill}: {dir:?} holds step {}", state.step);
}

/// (step, train loss) of every training line of `metrics.jsonl`, losses as bit patterns.
fn train_curve(run: &Path) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "train")
        .map(|v| (v["step"].as_u64().unwrap(), v["train_loss"].as_f64().unwrap().to_bits()))
        .collect()
}

#[test]
fn sigkill_at_60_seeded_moments_never_loses_the_run_and_resume_repeats_the_uninterrupted_curve() {
    let dir = common::TempDir::new("crash", "kill");
    let (reference, run) = (dir.path("reference"), dir.path("run"));
    // the first kill may land before the first checkpoint: then the run is started afresh
    let mut rng = Rng::seed(0x5151_4b11);
    let mut started = false;
    let mut kills_mid_startup = 0;
    let mut kills_mid_write = 0;
    for kill in 0..KILLS {
        let before = latest_step(&run);
        let mut cmd = if started {
            resume(&run)
        } else {
            let mut c = fresh(&run);
            c.arg("--overwrite"); // a kill before the first checkpoint leaves a run with none
            c
        };
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        // wait for 0, 1 or 2 more checkpoints (4 steps each), then 0-20 ms more
        let wait_for = before + 4 * rng.below(3);
        while latest_step(&run) < wait_for {
            assert!(child.try_wait().unwrap().is_none(), "kill {kill}: the run ended before it was killed");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_micros(rng.below(20_000)));
        let pid = child.id();
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(status.code().is_none(), "kill {kill}: the run exited by itself ({status}) before the kill");
        if latest_step(&run) == before {
            kills_mid_startup += 1;
        }
        kills_mid_write += usize::from(left_a_temporary(&run, pid));
        if latest_step(&run) > 0 {
            started = true;
            assert_latest_loads(&run, kill);
        }
    }
    assert!(latest_step(&run) > 0, "no kill came after the first checkpoint");
    // both runs stop at the same step, a few checkpoints past the last kill
    let end = (latest_step(&run) + 10).to_string();
    succeed({
        let mut c = resume(&run);
        c.args(["--max-steps", &end]);
        c
    });
    succeed({
        let mut c = fresh(&reference);
        c.args(["--max-steps", &end]);
        c
    });
    let (want, got) = (train_curve(&reference), train_curve(&run));
    assert_eq!(want.len() as u64, end.parse::<u64>().unwrap() / 3);
    assert_eq!(got, want, "the resumed run's losses must equal the uninterrupted run's bit for bit");
    eprintln!(
        "{KILLS} kills survived ({kills_mid_startup} before the run's next checkpoint, \
         {kills_mid_write} in the middle of writing one)"
    );
}
