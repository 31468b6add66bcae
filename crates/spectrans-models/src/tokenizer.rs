//! A character-level tokenizer, saved beside a model as `tokenizer.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::io::write_atomic;

/// Name of the tokenizer file in a model folder.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// Maps each character of a fixed alphabet to its index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharTokenizer {
    /// Always `"char"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The alphabet; id i is `vocab[i]`.
    pub vocab: Vec<char>,
}

impl CharTokenizer {
    /// The sorted alphabet of `text`.
    ///
    /// ```
    /// use spectrans_models::CharTokenizer;
    /// let tok = CharTokenizer::from_text("hello");
    /// assert_eq!(tok.vocab_size(), 4);
    /// let ids = tok.encode("hell")?;
    /// assert_eq!(tok.decode(&ids)?, "hell");
    /// assert!(tok.encode("z").is_err());
    /// # Ok::<(), spectrans_models::ModelError>(())
    /// ```
    pub fn from_text(text: &str) -> Self {
        let mut vocab: Vec<char> = text.chars().collect();
        vocab.sort_unstable();
        vocab.dedup();
        CharTokenizer { kind: "char".into(), vocab }
    }

    /// Number of distinct characters.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// The ids of `text`; a character outside the alphabet is an error naming it.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>> {
        text.chars()
            .enumerate()
            .map(|(i, c)| {
                self.vocab.binary_search(&c).map_err(|_| {
                    ModelError::Input(format!("character {c:?} at position {i} is not in the tokenizer's alphabet"))
                })
            })
            .collect()
    }

    /// The text of `ids`; an id outside the alphabet is an error.
    pub fn decode(&self, ids: &[usize]) -> Result<String> {
        ids.iter()
            .map(|&i| {
                self.vocab.get(i).copied().ok_or_else(|| {
                    ModelError::Input(format!("token id {i} is out of range for a vocabulary of {}", self.vocab.len()))
                })
            })
            .collect()
    }

    /// Writes `dir/tokenizer.json`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        // invariant: a struct of strings and chars
        let text = serde_json::to_string(self).expect("a tokenizer always serialises");
        write_atomic(&dir.join(TOKENIZER_FILE), text.as_bytes())
    }

    /// Reads `dir/tokenizer.json`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(TOKENIZER_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|source| ModelError::Io { path: path.display().to_string(), source })?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// Parses and validates the text of a `tokenizer.json` (`origin` names it in errors).
    pub fn from_json(text: &str, origin: &str) -> Result<Self> {
        let tok: CharTokenizer = serde_json::from_str(text)
            .map_err(|e| ModelError::checkpoint(origin, format!("not a tokenizer file: {e}")))?;
        if tok.kind != "char" {
            return Err(ModelError::checkpoint(origin, format!("unknown tokenizer type {:?}", tok.kind)));
        }
        if tok.vocab.windows(2).any(|w| w[0] >= w[1]) {
            return Err(ModelError::checkpoint(origin, "the alphabet must be sorted and unique"));
        }
        Ok(tok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip_and_bad_files() {
        let dir = std::env::temp_dir().join(format!("spectrans-tok-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let tok = CharTokenizer::from_text("To be, or not to be");
        tok.save(&dir).unwrap();
        assert_eq!(CharTokenizer::load(&dir).unwrap(), tok);
        std::fs::write(dir.join(TOKENIZER_FILE), r#"{"type": "char", "vocab": ["b", "a"]}"#).unwrap();
        assert!(CharTokenizer::load(&dir).unwrap_err().to_string().contains("sorted"));
        std::fs::write(dir.join(TOKENIZER_FILE), "garbage").unwrap();
        assert!(CharTokenizer::load(&dir).unwrap_err().to_string().contains("tokenizer.json"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(tok.decode(&[99]).is_err());
    }
}
