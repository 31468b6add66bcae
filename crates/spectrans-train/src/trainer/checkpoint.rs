//! Training checkpoints in a run folder: `checkpoints/step-XXXXXXXX/` (model folder files,
//! `optimizer.safetensors`, `trainer.json`), written into a temporary folder, fsynced and renamed
//! into place, then published by an atomically replaced `latest` pointer; the last K are kept.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use spectrans_tensor::Rng;

use crate::error::{io_err, Result, TrainError};

/// Name of the trainer state file in a checkpoint.
pub const TRAINER_FILE: &str = "trainer.json";
/// Name of the optimiser state file in a checkpoint.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// The pointer to the newest checkpoint inside `checkpoints/` (a symbolic link on Unix).
pub const LATEST: &str = "latest";

/// Where the loop stands: everything besides the weights and the optimiser needed to continue a
/// run bit for bit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainerState {
    /// Optimiser steps taken.
    pub step: u64,
    /// Completed epochs.
    pub epoch: u64,
    /// Steps taken in the current epoch.
    pub position_in_epoch: u64,
    /// The shuffling stream as it was at the start of the current epoch (its permutation is
    /// drawn again on resume).
    pub shuffle_rng: [u64; 4],
    /// The dropout stream.
    pub dropout_rng: [u64; 4],
    /// The stream of a task that samples its own batches ([`Batch::rng`](super::Batch::rng)).
    pub data_rng: [u64; 4],
    /// The learning rate of the last step.
    pub lr: f64,
    /// The best value of the headline evaluation metric so far, with its step.
    pub best_metric: Option<(f64, u64)>,
    /// Sum and count of the training losses since the last log line.
    pub log_window: (f64, u64),
    /// Wall time spent training so far, in seconds (accumulated across resumes).
    pub elapsed_s: f64,
}

impl TrainerState {
    /// The state before the first step of a run seeded by `seed`.
    pub fn start(seed: u64) -> Self {
        let mut master = Rng::seed(seed ^ 0x5eed_7a11);
        TrainerState {
            step: 0,
            epoch: 0,
            position_in_epoch: 0,
            shuffle_rng: master.fork().state(),
            dropout_rng: master.fork().state(),
            data_rng: master.fork().state(),
            lr: 0.0,
            best_metric: None,
            log_window: (0.0, 0),
            elapsed_s: 0.0,
        }
    }

    /// Parses the text of a `trainer.json` (`origin` names it in errors).
    pub fn from_json(text: &str, origin: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| TrainError::format(origin, format!("not a trainer state: {e}")))
    }
}

/// Writes `bytes` to `path` and fsyncs it (inside a folder that is not yet published).
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    spectrans_tensor::io::write_synced(path, bytes).map_err(io_err(path))
}

fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir).and_then(|f| f.sync_all()).map_err(io_err(dir))
}

/// The folder name of the checkpoint at `step`.
pub fn step_dir_name(step: u64) -> String {
    format!("step-{step:08}")
}

/// Publishes a checkpoint: `fill` writes the files into a fresh temporary folder, which is then
/// fsynced, renamed to `checkpoints/step-XXXXXXXX`, and pointed to by `latest`; checkpoints beyond
/// the newest `keep` are deleted. A crash at any point leaves the previous `latest` loadable.
pub fn publish(run: &Path, step: u64, keep: usize, fill: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
    let root = run.join("checkpoints");
    fs::create_dir_all(&root).map_err(io_err(&root))?;
    let name = step_dir_name(step);
    let target = root.join(&name);
    if !target.join(TRAINER_FILE).exists() {
        let tmp = root.join(format!(".{name}.tmp{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
        }
        fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
        fill(&tmp)?;
        for entry in fs::read_dir(&tmp).map_err(io_err(&tmp))? {
            let p = entry.map_err(io_err(&tmp))?.path();
            fs::File::open(&p).and_then(|f| f.sync_all()).map_err(io_err(&p))?;
        }
        sync_dir(&tmp)?;
        if target.exists() {
            fs::remove_dir_all(&target).map_err(io_err(&target))?;
        }
        fs::rename(&tmp, &target).map_err(io_err(&target))?;
    }
    set_latest(&root, &name)?;
    sync_dir(&root)?;
    prune(&root, keep, &name)?;
    Ok(target)
}

/// Points `checkpoints/latest` at `name` atomically (a new link renamed over the old one).
fn set_latest(root: &Path, name: &str) -> Result<()> {
    let tmp = root.join(format!(".latest.tmp{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    #[cfg(unix)]
    std::os::unix::fs::symlink(name, &tmp).map_err(io_err(&tmp))?;
    #[cfg(not(unix))]
    fs::write(&tmp, name).map_err(io_err(&tmp))?;
    let latest = root.join(LATEST);
    fs::rename(&tmp, &latest).map_err(io_err(&latest))
}

/// Deletes all but the newest `keep` checkpoints (never `current`) and stale temporary folders.
fn prune(root: &Path, keep: usize, current: &str) -> Result<()> {
    let mut steps = Vec::new();
    for entry in fs::read_dir(root).map_err(io_err(root))? {
        let entry = entry.map_err(io_err(root))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("step-") {
            steps.push(name);
        } else if name.starts_with(".step-") && !name.ends_with(&format!(".tmp{}", std::process::id())) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    steps.sort();
    let excess = steps.len().saturating_sub(keep);
    for name in steps.into_iter().take(excess).filter(|n| n != current) {
        let p = root.join(name);
        fs::remove_dir_all(&p).map_err(io_err(&p))?;
    }
    Ok(())
}

/// The folder of the newest published checkpoint of a run, if any.
pub fn latest(run: &Path) -> Result<Option<PathBuf>> {
    let root = run.join("checkpoints");
    let pointer = root.join(LATEST);
    if fs::symlink_metadata(&pointer).is_err() {
        return Ok(None);
    }
    let name = match fs::read_link(&pointer) {
        Ok(target) => target,
        Err(_) => PathBuf::from(fs::read_to_string(&pointer).map_err(io_err(&pointer))?.trim()),
    };
    let dir = root.join(name);
    if !dir.join(TRAINER_FILE).is_file() {
        return Err(TrainError::format(
            pointer.display().to_string(),
            format!("points to {} which is not a checkpoint", dir.display()),
        ));
    }
    Ok(Some(dir))
}

/// Reads `trainer.json` of a checkpoint.
pub fn read_state(dir: &Path) -> Result<TrainerState> {
    let path = dir.join(TRAINER_FILE);
    let text = fs::read_to_string(&path).map_err(io_err(&path))?;
    TrainerState::from_json(&text, &path.display().to_string())
}

/// Copies the model files of a checkpoint (every file but the optimiser and trainer state) into
/// `dest`, replaced atomically: written beside it and renamed over it.
pub fn export_model(checkpoint: &Path, dest: &Path) -> Result<()> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io_err(parent))?;
    let tmp = parent.join(format!(".model.tmp{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
    for entry in fs::read_dir(checkpoint).map_err(io_err(checkpoint))? {
        let from = entry.map_err(io_err(checkpoint))?.path();
        let Some(name) = from.file_name() else { continue };
        if from.is_file() && name != OPTIMIZER_FILE && name != TRAINER_FILE {
            let bytes = fs::read(&from).map_err(io_err(&from))?;
            write_synced(&tmp.join(name), &bytes)?;
        }
    }
    sync_dir(&tmp)?;
    if dest.exists() {
        fs::remove_dir_all(dest).map_err(io_err(dest))?;
    }
    fs::rename(&tmp, dest).map_err(io_err(dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trainer_state_reads_back_bit_for_bit() {
        // found by fuzzing: without serde_json's float_roundtrip, "2.0000000000000002e74" read back as 2e74
        let mut rng = Rng::seed(11);
        let mut values = vec!["2.0000000000000002e74".parse::<f64>().unwrap(), 0.1 + 0.2, -0.0, 5e-324, f64::MAX];
        values.extend((0..2000).map(|_| f64::from_bits(rng.next_u64())).filter(|v| v.is_finite()));
        for v in values {
            let state = TrainerState { lr: v, log_window: (v, 3), best_metric: Some((v, 1)), ..TrainerState::start(1) };
            let text = serde_json::to_string_pretty(&state).unwrap();
            let back = TrainerState::from_json(&text, "trainer.json").unwrap();
            for (a, b) in [(back.lr, v), (back.log_window.0, v), (back.best_metric.unwrap().0, v)] {
                assert_eq!(a.to_bits(), b.to_bits(), "{v:e} read back as {a:e}");
            }
        }
    }

    #[test]
    fn publish_keeps_the_last_k_and_latest_points_to_the_newest() {
        let run = std::env::temp_dir().join(format!("spectrans-ckpt-{}", std::process::id()));
        let _ = fs::remove_dir_all(&run);
        assert_eq!(latest(&run).unwrap(), None);
        for step in [3, 7, 11, 20] {
            publish(&run, step, 2, |d| write_synced(&d.join(TRAINER_FILE), format!("{step}").as_bytes())).unwrap();
        }
        let dir = latest(&run).unwrap().unwrap();
        assert!(dir.ends_with("step-00000020"));
        let mut names: Vec<String> = fs::read_dir(run.join("checkpoints"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into())
            .collect();
        names.sort();
        assert_eq!(names, vec!["latest", "step-00000011", "step-00000020"]);
        // a failing writer leaves the previous checkpoint published
        let e = publish(&run, 21, 2, |_| Err(TrainError::format("x", "disk full"))).unwrap_err();
        assert!(e.to_string().contains("disk full"));
        assert!(latest(&run).unwrap().unwrap().ends_with("step-00000020"));
        fs::remove_dir_all(&run).unwrap();
    }
}
