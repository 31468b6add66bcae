//! Reading and writing safetensors files: float tensors as `Tensor<T>` (F32/F64 converted to
//! `T`; C64 as a trailing re/im axis of 2), integer tensors (I64/I32) as ids. Corrupt or truncated files are errors, never panics.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use spectrans_tensor::{DType, Float, Tensor};

use crate::error::{ModelError, Result};

/// The contents of a safetensors file.
#[derive(Debug, Default)]
pub struct TensorFile<T: Float> {
    /// Floating-point tensors by name.
    pub floats: BTreeMap<String, Tensor<T>>,
    /// Integer tensors by name: shape and values.
    pub ints: BTreeMap<String, (Vec<usize>, Vec<i64>)>,
    /// The `__metadata__` strings.
    pub metadata: HashMap<String, String>,
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

/// Parses safetensors bytes (`origin` names them in errors).
pub fn parse_tensors<T: Float>(bytes: &[u8], origin: &str) -> Result<TensorFile<T>> {
    let bad = |reason: String| ModelError::checkpoint(origin, reason);
    let st = SafeTensors::deserialize(bytes).map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| bad(format!("unreadable header: {e}")))?;
    let mut out = TensorFile { metadata: meta.metadata().clone().unwrap_or_default(), ..Default::default() };
    for (name, view) in st.tensors() {
        let shape = view.shape().to_vec();
        let data = view.data();
        match view.dtype() {
            Dtype::F32 => {
                let v =
                    data.chunks_exact(4).map(|c| T::of(f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)).collect();
                out.floats.insert(name, Tensor::from_vec(v, &shape)?);
            }
            Dtype::F64 => {
                let v = data
                    .chunks_exact(8)
                    // invariant: `chunks_exact(n)` yields slices of exactly n bytes
                    .map(|c| T::of(f64::from_le_bytes(c.try_into().expect("chunks of 8"))))
                    .collect();
                out.floats.insert(name, Tensor::from_vec(v, &shape)?);
            }
            Dtype::C64 => {
                // complex64 (as the canonical FNO's spectral weights): a trailing re/im axis of 2,
                // the layout the spectral convolutions use
                let v =
                    data.chunks_exact(4).map(|c| T::of(f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)).collect();
                let mut shape = shape;
                shape.push(2);
                out.floats.insert(name, Tensor::from_vec(v, &shape)?);
            }
            Dtype::I64 => {
                // invariant: `chunks_exact(n)` yields slices of exactly n bytes
                let v = data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("chunks of 8"))).collect();
                out.ints.insert(name, (shape, v));
            }
            Dtype::I32 => {
                let v = data
                    .chunks_exact(4)
                    // invariant: `chunks_exact(n)` yields slices of exactly n bytes
                    .map(|c| i32::from_le_bytes(c.try_into().expect("chunks of 4")) as i64)
                    .collect();
                out.ints.insert(name, (shape, v));
            }
            other => {
                return Err(bad(format!(
                    "tensor {name:?} has unsupported dtype {other:?} (expected F32, F64, C64, I64 or I32)"
                )))
            }
        }
    }
    Ok(out)
}

/// Serialises tensors (as `dtype`) and integer tensors with metadata into safetensors bytes.
pub fn serialize_tensors<T: Float>(
    floats: &[(String, Tensor<T>)],
    ints: &[(String, Vec<usize>, Vec<i64>)],
    dtype: DType,
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let mut buffers: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, t) in floats {
        let bytes = match dtype {
            DType::F32 => t.data().iter().flat_map(|v| (v.as_f64() as f32).to_le_bytes()).collect(),
            DType::F64 => t.data().iter().flat_map(|v| v.as_f64().to_le_bytes()).collect(),
        };
        let dt = if dtype == DType::F32 { Dtype::F32 } else { Dtype::F64 };
        buffers.push((name.clone(), dt, t.shape().to_vec(), bytes));
    }
    for (name, shape, v) in ints {
        buffers.push((name.clone(), Dtype::I64, shape.clone(), v.iter().flat_map(|x| x.to_le_bytes()).collect()));
    }
    let mut views = Vec::with_capacity(buffers.len());
    for (name, dt, shape, bytes) in &buffers {
        let view = TensorView::new(*dt, shape.clone(), bytes)
            .map_err(|e| ModelError::checkpoint(name.clone(), format!("cannot serialise: {e}")))?;
        views.push((name.clone(), view));
    }
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| ModelError::checkpoint("<memory>", format!("cannot serialise: {e}")))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let io = |source| ModelError::Io { path: path.display().to_string(), source };
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let t = Tensor::<f64>::from_vec(vec![1.5, -2.0, 3.25], &[3]).unwrap();
        let bytes = serialize_tensors(
            &[("a".into(), t.clone())],
            &[("ids".into(), vec![2], vec![4, -1])],
            DType::F32,
            HashMap::from([("k".into(), "v".into())]),
        )
        .unwrap();
        let f = parse_tensors::<f64>(&bytes, "mem").unwrap();
        assert_eq!(f.floats["a"].to_vec(), t.to_vec());
        assert_eq!(f.ints["ids"], (vec![2], vec![4, -1]));
        assert_eq!(f.metadata["k"], "v");
        for cut in [0, 4, 8, 20, bytes.len() - 1] {
            let e = parse_tensors::<f32>(&bytes[..cut], "mem").unwrap_err();
            assert!(e.to_string().starts_with("checkpoint mem: "), "{e}");
        }
        // complex64 reads as (…, 2) re/im
        let re_im = [1.5f32, -2.0, 0.25, 4.0];
        let data: Vec<u8> = re_im.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = TensorView::new(Dtype::C64, vec![2], &data).unwrap();
        let c = safetensors::serialize([("w", view)], None).unwrap();
        let f = parse_tensors::<f64>(&c, "mem").unwrap();
        assert_eq!(f.floats["w"].shape(), &[2, 2]);
        assert_eq!(f.floats["w"].to_vec(), vec![1.5, -2.0, 0.25, 4.0]);
        let mut lying = bytes.clone();
        lying[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(parse_tensors::<f32>(&lying, "mem").is_err());
    }
}
