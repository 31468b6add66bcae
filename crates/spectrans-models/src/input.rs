//! Model inputs read from a safetensors file (what `spectrans forward` runs on): `input_ids`
//! (I64/I32, (B, N)) or `inputs_embeds` (F32/F64), and an optional `attention_mask` (integers 0
//! and 1, (B, N)). Every malformed file is an error naming the file and the tensor at fault.

use std::path::Path;

use spectrans_layers::FftFloat;
use spectrans_tensor::Tensor;

use crate::backbone::Input;
use crate::error::{ModelError, Result};
use crate::io::{parse_tensors, read_tensors, TensorFile};

/// The tokens or embeddings of an input file.
#[derive(Debug, Clone)]
pub enum InputData<T: FftFloat> {
    /// `input_ids`, row-major (batch, len).
    Ids {
        /// The ids (all ≥ 0).
        ids: Vec<usize>,
        /// Number of sequences B.
        batch: usize,
        /// Sequence length N.
        len: usize,
    },
    /// `inputs_embeds`, any rank (the model checks it).
    Embeds(Tensor<T>),
}

/// A validated input file: the data and the optional attention mask (true = real token).
#[derive(Debug, Clone)]
pub struct InputFile<T: FftFloat> {
    /// `input_ids` or `inputs_embeds`.
    pub data: InputData<T>,
    /// `attention_mask`, row-major, shaped like the ids (or the first two axes of rank-3 embeddings).
    pub attention_mask: Option<Vec<bool>>,
}

impl<T: FftFloat> InputFile<T> {
    /// Reads and validates the input file at `path`.
    pub fn read(path: &Path) -> Result<Self> {
        Self::from_tensors(read_tensors::<T>(path)?, &path.display().to_string())
    }

    /// Parses and validates safetensors bytes (`origin` names them in errors).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use spectrans_models::io::serialize_tensors;
    /// use spectrans_models::{InputData, InputFile};
    /// use spectrans_tensor::{DType, Tensor};
    /// let ids = [("input_ids".to_string(), vec![1, 3], vec![4, 0, 2])];
    /// let bytes = serialize_tensors::<f32>(&[], &ids, DType::F32, HashMap::new())?;
    /// let input = InputFile::<f32>::parse(&bytes, "in.safetensors")?;
    /// assert!(matches!(input.data, InputData::Ids { batch: 1, len: 3, .. }));
    /// let negative = [("input_ids".to_string(), vec![1, 1], vec![-1])];
    /// let bytes = serialize_tensors::<f32>(&[], &negative, DType::F32, HashMap::new())?;
    /// assert!(InputFile::<f32>::parse(&bytes, "in").unwrap_err().to_string().contains("negative id -1"));
    /// # Ok::<(), spectrans_models::ModelError>(())
    /// ```
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self> {
        Self::from_tensors(parse_tensors::<T>(bytes, origin)?, origin)
    }

    /// Validates the tensors of an input file (`origin` names it in errors).
    pub fn from_tensors(file: TensorFile<T>, origin: &str) -> Result<Self> {
        let bad = |reason: String| ModelError::Input(format!("{origin}: {reason}"));
        if file.floats.contains_key("attention_mask") {
            return Err(bad("attention_mask must be an integer tensor (I64) of 0 and 1, found a float tensor".into()));
        }
        let mask = match file.ints.get("attention_mask") {
            Some((shape, v)) => {
                if let Some(bad_value) = v.iter().find(|&&m| m != 0 && m != 1) {
                    return Err(bad(format!("attention_mask must hold 0 or 1, found {bad_value}")));
                }
                Some((shape.clone(), v.iter().map(|&m| m == 1).collect::<Vec<bool>>()))
            }
            None => None,
        };
        let check_mask = |want: &[usize]| match &mask {
            Some((shape, _)) if shape.as_slice() != want => {
                Err(bad(format!("attention_mask has shape {shape:?}, expected {want:?}")))
            }
            _ => Ok(()),
        };
        let data = match (file.ints.get("input_ids"), file.floats.get("inputs_embeds")) {
            (Some(_), Some(_)) => return Err(bad("holds both input_ids and inputs_embeds; keep one".into())),
            (Some((shape, ids)), None) => {
                if shape.len() != 2 {
                    return Err(bad(format!("input_ids must be (B, N), got shape {shape:?}")));
                }
                if let Some(neg) = ids.iter().find(|&&i| i < 0) {
                    return Err(bad(format!("input_ids holds a negative id {neg}")));
                }
                check_mask(shape)?;
                InputData::Ids { ids: ids.iter().map(|&i| i as usize).collect(), batch: shape[0], len: shape[1] }
            }
            (None, Some(x)) => {
                if x.rank() == 3 {
                    check_mask(&x.shape()[..2])?;
                }
                InputData::Embeds(x.clone())
            }
            (None, None) if file.ints.contains_key("inputs_embeds") => {
                return Err(bad("inputs_embeds must be a float tensor (F32 or F64), found an integer tensor".into()))
            }
            (None, None) if file.floats.contains_key("input_ids") => {
                return Err(bad("input_ids must be an integer tensor (I64 or I32), found a float tensor".into()))
            }
            (None, None) => {
                let found: Vec<&str> = file.floats.keys().chain(file.ints.keys()).map(String::as_str).collect();
                return Err(bad(format!(
                    "needs a tensor named input_ids (I64) or inputs_embeds (float); found {found:?}"
                )));
            }
        };
        Ok(InputFile { data, attention_mask: mask.map(|(_, v)| v) })
    }

    /// The model input these tensors describe.
    pub fn input(&self) -> Input<'_, T> {
        match &self.data {
            InputData::Ids { ids, batch, len } => Input::Ids { ids, batch: *batch, len: *len },
            InputData::Embeds(x) => Input::Embeds(x),
        }
    }

    /// The attention mask, if the file has one.
    pub fn mask(&self) -> Option<&[bool]> {
        self.attention_mask.as_deref()
    }
}
