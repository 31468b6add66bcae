//! Small safetensors helpers shared by the optimiser state and the data cache: little-endian
//! encoding of f32/f64 buffers, checked decoding, and atomic file writes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView, View};
use safetensors::SafeTensors;
use spectrans_tensor::{DType, Float};

use crate::error::{Result, TrainError};

/// An owned tensor ready for [`safetensors::serialize`].
pub(crate) struct Blob {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Blob {
    /// Encodes `values` (of shape `shape`) in the element type `T`.
    pub(crate) fn new<T: Float>(values: &[T], shape: &[usize]) -> Self {
        let mut bytes = Vec::with_capacity(std::mem::size_of_val(values));
        match T::DTYPE {
            DType::F32 => values.iter().for_each(|v| bytes.extend((v.as_f64() as f32).to_le_bytes())),
            DType::F64 => values.iter().for_each(|v| bytes.extend(v.as_f64().to_le_bytes())),
        }
        Blob { dtype: safetensors_dtype::<T>(), shape: shape.to_vec(), bytes }
    }
}

impl View for Blob {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// The safetensors dtype of `T`.
pub(crate) fn safetensors_dtype<T: Float>() -> Dtype {
    match T::DTYPE {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
    }
}

/// Serialises named tensors plus string metadata.
pub(crate) fn serialize(
    tensors: Vec<(String, Blob)>,
    metadata: HashMap<String, String>,
    what: &str,
) -> Result<Vec<u8>> {
    safetensors::serialize(tensors, Some(metadata))
        .map_err(|e| TrainError::format(what, format!("cannot serialise: {e}")))
}

/// Parses a safetensors buffer, mapping any corruption to [`TrainError::Format`] naming `file`.
pub(crate) fn deserialize<'a>(bytes: &'a [u8], file: &str) -> Result<(SafeTensors<'a>, HashMap<String, String>)> {
    let tensors = SafeTensors::deserialize(bytes)
        .map_err(|e| TrainError::format(file, format!("not a valid safetensors file: {e}")))?;
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| TrainError::format(file, format!("bad safetensors header: {e}")))?;
    Ok((tensors, meta.metadata().clone().unwrap_or_default()))
}

/// Decodes tensor `name` of `tensors` (stored as f32 or f64) into `T`, checking its shape.
pub(crate) fn read_tensor<T: Float>(
    tensors: &SafeTensors<'_>,
    name: &str,
    shape: &[usize],
    file: &str,
) -> Result<Vec<T>> {
    let view: TensorView<'_> =
        tensors.tensor(name).map_err(|e| TrainError::format(file, format!("tensor `{name}`: {e}")))?;
    if view.shape() != shape {
        return Err(TrainError::format(
            file,
            format!("tensor `{name}` has shape {:?}, expected {shape:?}", view.shape()),
        ));
    }
    let data = view.data();
    let out = match view.dtype() {
        Dtype::F32 => {
            data.chunks_exact(4).map(|c| T::of(f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)).collect()
        }
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| T::of(f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])))
            .collect(),
        other => {
            return Err(TrainError::format(file, format!("tensor `{name}` has dtype {other:?}, expected F32 or F64")))
        }
    };
    Ok(out)
}

/// Writes `bytes` to `path` atomically (creating its folder): the models crate's
/// [`spectrans_models::io::write_atomic`] — temporary file, fsync, rename — so a crash mid-write
/// leaves any previous file intact.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(crate::error::io_err(dir))?;
    }
    Ok(spectrans_models::io::write_atomic(path, bytes)?)
}
