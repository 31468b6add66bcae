//! `spectrans generate`: sample text from a character-level decoder.

use std::io::Write;
use std::path::Path;

use spectrans_models::{load_folder, CharTokenizer, GenerateOptions, Model, Sampling};

/// Loads the decoder and its tokenizer, generates, prints prompt + continuation.
pub fn run(
    model_dir: &Path,
    prompt: &str,
    max_new_tokens: usize,
    sampling: Sampling,
    stop: Option<char>,
    seed: u64,
) -> Result<(), String> {
    let loaded = load_folder::<f32>(model_dir).map_err(|e| e.to_string())?;
    let Model::Decoder(model) = &loaded.model else {
        return Err(format!("{}: generate needs an fno_decoder model", model_dir.display()));
    };
    let tok = CharTokenizer::load(model_dir).map_err(|e| e.to_string())?;
    let ids = tok.encode(prompt).map_err(|e| format!("--prompt: {e}"))?;
    let end_token = match stop {
        Some(c) => Some(tok.encode(&c.to_string()).map_err(|e| format!("--stop: {e}"))?[0]),
        None => None,
    };
    let opts = GenerateOptions { max_new_tokens, sampling, end_token, seed };
    let out = model.generate(&ids, &opts).map_err(|e| e.to_string())?;
    let text = tok.decode(&out).map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{prompt}{text}").map_err(|e| format!("stdout: {e}"))
}
