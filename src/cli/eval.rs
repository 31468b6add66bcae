//! `spectrans eval`: metrics of a model folder written by `spectrans train`.

use std::path::{Path, PathBuf};

use spectrans_models::{load_folder, CharTokenizer};
use spectrans_train::tasks::{burgers, ClassifyTask, LmTask};
use spectrans_train::trainer::{checkpoint::TRAINING_FILE, RunConfig, Task, TaskConfig};

use super::train::{corpus_text, lm_corpus};

/// Evaluates `model_dir` on its task's held-out data; burgers models at `resolution` if given.
pub fn run(
    model_dir: &Path,
    resolution: Option<usize>,
    data_dir: Option<PathBuf>,
    corpus: Option<&Path>,
) -> Result<(), String> {
    let path = model_dir.join(TRAINING_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e} (eval needs a model folder written by `spectrans train`)", path.display()))?;
    let config = RunConfig::from_json(&text, &path.display().to_string()).map_err(|e| e.to_string())?;
    config.validate().map_err(|e| format!("{}: {e}", path.display()))?;
    let model = load_folder::<f32>(model_dir).map_err(|e| e.to_string())?.model;
    if resolution.is_some() && !matches!(config.task, TaskConfig::Burgers(_)) {
        return Err(format!("--resolution applies to burgers operator models, not to a {} model", config.task.name()));
    }
    let line = match &config.task {
        TaskConfig::Burgers(b) => {
            let mut b = b.clone();
            if let Some(d) = data_dir {
                b.data_dir = d;
            }
            let s = resolution.unwrap_or(b.resolution_fine / b.subsample);
            burgers::evaluate_at(&b, model, s).map_err(|e| e.to_string())?.1
        }
        TaskConfig::Classify(c) => {
            let task = ClassifyTask::with_model(c, model).map_err(|e| e.to_string())?;
            task.summary(&task.evaluate().map_err(|e| e.to_string())?)
        }
        TaskConfig::Lm(l) => {
            let text = match corpus {
                Some(p) => corpus_text(Some(p))?,
                None => lm_corpus(l)?,
            };
            let tok = CharTokenizer::load(model_dir).map_err(|e| e.to_string())?;
            let mut l = l.clone();
            l.model.vocab_size = tok.vocab_size();
            let task = LmTask::with_model(&l, model, tok, &text).map_err(|e| e.to_string())?;
            task.summary(&task.evaluate().map_err(|e| e.to_string())?)
        }
    };
    println!("{line}");
    Ok(())
}
