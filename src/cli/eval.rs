//! `spectrans eval`: metrics of a model folder written by `spectrans train`.

use std::path::{Path, PathBuf};

use spectrans_tasks::EvalOptions;

/// Evaluates `model_dir` on its task's held-out data; operator models at `resolution` if given.
pub fn run(
    model_dir: &Path,
    resolution: Option<usize>,
    data_dir: Option<PathBuf>,
    corpus: Option<&Path>,
) -> Result<(), String> {
    let options = EvalOptions { resolution, data_dir, corpus: corpus.map(Path::to_path_buf) };
    let line = spectrans_tasks::evaluate(model_dir, &options).map_err(|e| e.to_string())?;
    println!("{line}");
    Ok(())
}
