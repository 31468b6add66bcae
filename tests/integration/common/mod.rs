//! Helpers shared by the integration tests: scratch folders and running the `spectrans` binary.
#![allow(dead_code)] // each test crate uses a subset

pub mod bad;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use spectrans::layers::FftFloat;
use spectrans::tensor::Tensor;

/// A fresh, empty folder `spectrans-<suite>-<pid>-<tag>` in the system temporary folder.
pub fn scratch(suite: &str, tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spectrans-{suite}-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A [`scratch`] folder removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(suite: &str, tag: &str) -> Self {
        TempDir(scratch(suite, tag))
    }

    /// `name` inside the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `spectrans` binary of this build (without an inherited `RUST_BACKTRACE`, so error output
/// is the user's one line).
pub fn spectrans() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spectrans"));
    c.env_remove("RUST_BACKTRACE");
    c
}

/// Runs `spectrans forward --model M --input I --output O [extra…]`.
pub fn forward(model: &Path, input: &Path, output: &Path, extra: &[&str]) -> Output {
    spectrans()
        .args(["forward", "--model"])
        .arg(model)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .args(extra)
        .output()
        .unwrap()
}

/// max |ours − reference| / max |reference|: the relative error of a parity check.
pub fn rel_err<T: FftFloat>(ours: &Tensor<T>, reference: &Tensor<T>) -> f64 {
    assert_eq!(ours.shape(), reference.shape());
    let scale = reference.data().iter().fold(0.0f64, |m, v| m.max(v.as_f64().abs()));
    let diff =
        ours.data().iter().zip(reference.data()).fold(0.0f64, |m, (a, b)| m.max((a.as_f64() - b.as_f64()).abs()));
    diff / scale.max(f64::MIN_POSITIVE)
}

/// Runs `spectrans args…`, asserts it succeeded (printing both streams if not), returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = spectrans().args(args).output().expect("the spectrans binary runs");
    assert!(
        out.status.success(),
        "spectrans {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
