//! safetensors files with this crate's error type: thin adapters over [`spectrans_tensor::io`],
//! which does all the encoding and decoding (float tensors as `Tensor<T>`, C64 as a trailing
//! re/im axis of 2, integer tensors as ids). Corrupt or truncated files are errors, never panics.

use std::collections::HashMap;
use std::path::Path;

use spectrans_tensor::{DType, Float, Tensor, TensorError};

use crate::error::{ModelError, Result};

pub use spectrans_tensor::io::TensorFile;

/// A file error of [`spectrans_tensor::io`] as this crate's checkpoint error (same path and reason).
fn checkpoint_error(e: TensorError) -> ModelError {
    match e {
        TensorError::File { path, reason } => ModelError::checkpoint(path, reason),
        other => ModelError::Tensor(other),
    }
}

/// The bytes of a file, refused before reading when the file (with its tensors converted, about
/// twice its size) would not fit in memory.
fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let io = |source| ModelError::Io { path: path.display().to_string(), source };
    let len = std::fs::metadata(path).map_err(io)?.len();
    spectrans_tensor::limits::check_bytes(&path.display().to_string(), (len as u128).checked_mul(2))?;
    std::fs::read(path).map_err(io)
}

/// Reads every tensor of a safetensors file.
pub fn read_tensors<T: Float>(path: &Path) -> Result<TensorFile<T>> {
    let bytes = read_bytes(path)?;
    parse_tensors(&bytes, &path.display().to_string())
}

/// Parses safetensors bytes (`origin` names them in errors) with [`spectrans_tensor::io::parse`].
pub fn parse_tensors<T: Float>(bytes: &[u8], origin: &str) -> Result<TensorFile<T>> {
    spectrans_tensor::io::parse(bytes, origin).map_err(checkpoint_error)
}

/// Serialises tensors (as `dtype`) and integer tensors with metadata into safetensors bytes, with
/// [`spectrans_tensor::io::encode`].
pub fn serialize_tensors<T: Float>(
    floats: &[(String, Tensor<T>)],
    ints: &[(String, Vec<usize>, Vec<i64>)],
    dtype: DType,
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let floats: Vec<(&str, &Tensor<T>)> = floats.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let ints: Vec<(&str, &[usize], &[i64])> = ints.iter().map(|(n, s, v)| (n.as_str(), &s[..], &v[..])).collect();
    spectrans_tensor::io::encode(&floats, &ints, dtype, metadata).map_err(checkpoint_error)
}

/// Writes `bytes` to `path` atomically ([`spectrans_tensor::io::write_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    spectrans_tensor::io::write_atomic(path, bytes)
        .map_err(|source| ModelError::Io { path: path.display().to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapters_round_trip_and_name_the_checkpoint_at_fault() {
        let t = Tensor::<f64>::from_vec(vec![1.5, -2.0, 3.25], &[3]).unwrap();
        let ints = [("ids".to_string(), vec![2], vec![4, -1])];
        let bytes = serialize_tensors(&[("a".into(), t.clone())], &ints, DType::F32, HashMap::new()).unwrap();
        let f = parse_tensors::<f64>(&bytes, "mem").unwrap();
        assert_eq!(f.floats["a"].to_vec(), t.to_vec());
        assert_eq!(f.ints["ids"], (vec![2], vec![4, -1]));
        for cut in [0, 8, bytes.len() - 1] {
            let e = parse_tensors::<f32>(&bytes[..cut], "mem").unwrap_err();
            assert!(e.to_string().starts_with("checkpoint mem: "), "{e}");
        }
        let e = read_tensors::<f32>(Path::new("/nonexistent/w.safetensors")).unwrap_err().to_string();
        assert!(e.starts_with("/nonexistent/w.safetensors: "), "{e}");
    }
}
