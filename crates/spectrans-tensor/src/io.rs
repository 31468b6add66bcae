//! safetensors files, the one place of the stack that reads and writes them: model weights,
//! optimiser state and data caches all go through [`parse`] and [`encode`].
//!
//! - Float tensors stored as F32 or F64 are converted to `T`; C64 (complex64, as the canonical
//!   FNO's spectral weights) becomes a real tensor with a trailing re/im axis of 2; I64/I32 are
//!   kept as integer ids. Every tensor's stored type is recorded in [`TensorFile::dtypes`].
//! - Corrupt or truncated bytes are a [`TensorError::File`] naming the origin, never a panic.
//! - [`write_atomic`] writes through a temporary file, fsync and rename, so a crash mid-write
//!   leaves any previous file intact.
//!
//! ```
//! use std::collections::HashMap;
//! use spectrans_tensor::{io, DType, Tensor};
//! let w = Tensor::<f64>::from_vec(vec![1.5, -2.0, 3.25], &[3])?;
//! let meta = HashMap::from([("note".to_string(), "demo".to_string())]);
//! let bytes = io::encode(&[("w", &w)], &[], DType::F32, meta)?;
//! let file = io::parse::<f64>(&bytes, "demo.safetensors")?;
//! assert_eq!(file.floats["w"].to_vec(), vec![1.5, -2.0, 3.25]);
//! assert_eq!(file.dtypes["w"], "F32");
//! assert_eq!(file.take("w", &[3], "demo.safetensors")?.shape(), &[3]);
//! assert!(io::parse::<f32>(&bytes[..10], "demo.safetensors").is_err());
//! # Ok::<(), spectrans_tensor::TensorError>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Result, TensorError};
use crate::float::{DType, Float};
use crate::tensor::Tensor;

/// The contents of a safetensors file.
#[derive(Debug, Default)]
pub struct TensorFile<T: Float> {
    /// Floating-point tensors by name, converted to `T`.
    pub floats: BTreeMap<String, Tensor<T>>,
    /// Integer tensors by name: shape and values.
    pub ints: BTreeMap<String, (Vec<usize>, Vec<i64>)>,
    /// The stored type of every tensor (`"F32"`, `"F64"`, `"C64"`, `"I64"`, `"I32"`).
    pub dtypes: BTreeMap<String, &'static str>,
    /// The `__metadata__` strings.
    pub metadata: HashMap<String, String>,
}

impl<T: Float> TensorFile<T> {
    /// The float tensor `name`, checked to have `shape`; `origin` names the file in errors.
    pub fn take(&self, name: &str, shape: &[usize], origin: &str) -> Result<Tensor<T>> {
        let t = self.floats.get(name).ok_or_else(|| TensorError::file(origin, format!("no float tensor `{name}`")))?;
        if t.shape() != shape {
            return Err(TensorError::file(
                origin,
                format!("tensor `{name}` has shape {:?}, expected {shape:?}", t.shape()),
            ));
        }
        Ok(t.clone())
    }
}

/// Little-endian values of `N` bytes each.
fn words<const N: usize>(data: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    // `chunks_exact(N)` yields slices of exactly N bytes, so the conversion cannot fail
    data.chunks_exact(N).map(|c| <[u8; N]>::try_from(c).unwrap_or([0; N]))
}

/// Parses safetensors bytes; `origin` names them in errors.
pub fn parse<T: Float>(bytes: &[u8], origin: &str) -> Result<TensorFile<T>> {
    let bad = |reason: String| TensorError::file(origin, reason);
    let st = SafeTensors::deserialize(bytes).map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| bad(format!("unreadable header: {e}")))?;
    let mut out = TensorFile { metadata: meta.metadata().clone().unwrap_or_default(), ..Default::default() };
    for (name, view) in st.tensors() {
        let mut shape = view.shape().to_vec();
        let data = view.data();
        let f32s = || words::<4>(data).map(|w| T::of(f32::from_le_bytes(w) as f64)).collect::<Vec<T>>();
        let dtype = match view.dtype() {
            Dtype::F32 => {
                out.floats.insert(name.clone(), Tensor::from_vec(f32s(), &shape)?);
                "F32"
            }
            Dtype::F64 => {
                let v = words::<8>(data).map(|w| T::of(f64::from_le_bytes(w))).collect();
                out.floats.insert(name.clone(), Tensor::from_vec(v, &shape)?);
                "F64"
            }
            Dtype::C64 => {
                shape.push(2);
                out.floats.insert(name.clone(), Tensor::from_vec(f32s(), &shape)?);
                "C64"
            }
            Dtype::I64 => {
                out.ints.insert(name.clone(), (shape, words::<8>(data).map(i64::from_le_bytes).collect()));
                "I64"
            }
            Dtype::I32 => {
                let v = words::<4>(data).map(|w| i32::from_le_bytes(w) as i64).collect();
                out.ints.insert(name.clone(), (shape, v));
                "I32"
            }
            other => {
                return Err(bad(format!(
                    "tensor {name:?} has unsupported dtype {other:?} (expected F32, F64, C64, I64 or I32)"
                )))
            }
        };
        out.dtypes.insert(name, dtype);
    }
    Ok(out)
}

/// Encodes float tensors (stored as `dtype`), integer tensors (as I64) and metadata as
/// safetensors bytes. The bytes depend only on the arguments (tensors sorted by name), so the
/// same content always gives the same file.
pub fn encode<T: Float>(
    floats: &[(&str, &Tensor<T>)],
    ints: &[(&str, &[usize], &[i64])],
    dtype: DType,
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let mut buffers: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(floats.len() + ints.len());
    for (name, t) in floats {
        let (dt, bytes) = match dtype {
            DType::F32 => (Dtype::F32, t.data().iter().flat_map(|v| (v.as_f64() as f32).to_le_bytes()).collect()),
            DType::F64 => (Dtype::F64, t.data().iter().flat_map(|v| v.as_f64().to_le_bytes()).collect()),
        };
        buffers.push((name, dt, t.shape().to_vec(), bytes));
    }
    for (name, shape, v) in ints {
        buffers.push((name, Dtype::I64, shape.to_vec(), v.iter().flat_map(|x| x.to_le_bytes()).collect()));
    }
    let mut views = Vec::with_capacity(buffers.len());
    for (name, dt, shape, bytes) in &buffers {
        let view = TensorView::new(*dt, shape.clone(), bytes)
            .map_err(|e| TensorError::file(*name, format!("cannot serialise: {e}")))?;
        views.push((name.to_string(), view));
    }
    // an empty metadata map is left out (safetensors writes no `__metadata__` then)
    safetensors::serialize(views, (!metadata.is_empty()).then_some(metadata))
        .map_err(|e| TensorError::file("<memory>", format!("cannot serialise: {e}")))
}

/// Reads and parses a safetensors file, refused before reading when the file (with its tensors
/// converted, about twice its size) would not fit in memory (see [`limits`](crate::limits)).
pub fn read<T: Float>(path: &Path) -> Result<TensorFile<T>> {
    let name = path.display().to_string();
    let len = std::fs::metadata(path).map_err(|e| TensorError::file(&name, e.to_string()))?.len();
    crate::limits::check_bytes(&name, (len as u128).checked_mul(2))?;
    let bytes = std::fs::read(path).map_err(|e| TensorError::file(&name, e.to_string()))?;
    parse(&bytes, &name)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder (which must exist),
/// fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// Writes `bytes` to a new file `path` and fsyncs it (for files inside a folder that is itself
/// published atomically, such as a checkpoint).
pub fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let t = Tensor::<f64>::from_vec(vec![1.5, -2.0, 3.25], &[3]).unwrap();
        let meta = HashMap::from([("k".to_string(), "v".to_string())]);
        let bytes = encode(&[("a", &t)], &[("ids", &[2], &[4, -1])], DType::F32, meta).unwrap();
        let f = parse::<f64>(&bytes, "mem").unwrap();
        assert_eq!(f.floats["a"].to_vec(), t.to_vec());
        assert_eq!(f.ints["ids"], (vec![2], vec![4, -1]));
        assert_eq!((f.dtypes["a"], f.dtypes["ids"]), ("F32", "I64"));
        assert_eq!(f.metadata["k"], "v");
        let e = f.take("a", &[4], "mem").unwrap_err().to_string();
        assert!(e.contains("`a`") && e.contains("[3]") && e.contains("[4]"), "{e}");
        assert!(f.take("b", &[3], "mem").unwrap_err().to_string().contains("`b`"));
        for cut in [0, 4, 8, 20, bytes.len() - 1] {
            let e = parse::<f32>(&bytes[..cut], "mem").unwrap_err();
            assert!(e.to_string().starts_with("mem: "), "{e}");
        }
        // f64 storage keeps every bit
        let third = Tensor::<f64>::from_vec(vec![1.0 / 3.0], &[1]).unwrap();
        let b = encode(&[("x", &third)], &[], DType::F64, HashMap::new()).unwrap();
        assert_eq!(parse::<f64>(&b, "mem").unwrap().floats["x"].to_vec(), vec![1.0 / 3.0]);
        // complex64 reads as (…, 2) re/im
        let re_im = [1.5f32, -2.0, 0.25, 4.0];
        let data: Vec<u8> = re_im.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = TensorView::new(Dtype::C64, vec![2], &data).unwrap();
        let c = safetensors::serialize([("w", view)], None).unwrap();
        let f = parse::<f64>(&c, "mem").unwrap();
        assert_eq!(f.floats["w"].shape(), &[2, 2]);
        assert_eq!(f.floats["w"].to_vec(), vec![1.5, -2.0, 0.25, 4.0]);
        let mut lying = bytes.clone();
        lying[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(parse::<f32>(&lying, "mem").is_err());
    }

    #[test]
    fn encoding_is_deterministic_and_writes_are_atomic() {
        let a = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
        let b = Tensor::<f32>::from_vec(vec![3.0], &[1]).unwrap();
        let meta = || HashMap::from([("k".to_string(), "v".to_string())]);
        let one = encode(&[("a", &a), ("b", &b)], &[], DType::F32, meta()).unwrap();
        let two = encode(&[("b", &b), ("a", &a)], &[], DType::F32, meta()).unwrap();
        assert_eq!(one, two);
        let dir = std::env::temp_dir().join(format!("spectrans-io-{}", std::process::id()));
        let path = dir.join("x.safetensors");
        assert!(write_atomic(&path, &one).is_err(), "the folder must exist");
        std::fs::create_dir_all(&dir).unwrap();
        write_atomic(&path, &one).unwrap();
        assert_eq!(read::<f32>(&path).unwrap().floats["b"].to_vec(), vec![3.0]);
        let e = read::<f32>(&dir.join("missing.safetensors")).unwrap_err().to_string();
        assert!(e.contains("missing.safetensors"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
