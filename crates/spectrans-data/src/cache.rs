//! The on-disk cache of generated data sets: named float tensors in one safetensors file whose
//! name and metadata carry a key describing everything that determines the content, so a file
//! written for another set, another element type or by a crashed run is never mistaken for it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use spectrans_tensor::{io, Float, Tensor};

use crate::error::{DataError, Result};

/// The one metadata key: the cache key of the content (one entry keeps the file's bytes
/// deterministic, whatever the order of a map).
const KEY: &str = "spectrans.cache_key";

/// 64-bit FNV-1a: a small stable hash (the same on every platform and run) for file names.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The cache file of content `key`: `dir/<prefix>_<16 hex digits>.safetensors`.
pub(crate) fn path(dir: &Path, prefix: &str, key: &str) -> PathBuf {
    dir.join(format!("{prefix}_{:016x}.safetensors", fnv1a(key)))
}

/// Writes `tensors` with `key` to `path` atomically.
pub(crate) fn store<T: Float>(path: &Path, key: &str, tensors: &[(&str, &Tensor<T>)]) -> Result<()> {
    let meta = HashMap::from([(KEY.to_string(), key.to_string())]);
    let bytes = io::encode(tensors, &[], T::DTYPE, meta)?;
    let io_error = |source| DataError::Io { path: path.display().to_string(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_error)?;
    }
    io::write_atomic(path, &bytes).map_err(io_error)
}

/// Reads the tensors `names`, each of `shape`, from `path` when it holds content `key` in `T`
/// with only finite values; `None` when the file is missing, and an error (which a caller
/// answers by regenerating) when it is unreadable, corrupt or holds other content.
pub(crate) fn load<T: Float, const N: usize>(
    path: &Path,
    key: &str,
    names: [&str; N],
    shape: &[usize],
) -> Result<Option<[Tensor<T>; N]>> {
    let file = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(DataError::format(&file, format!("cannot read the cache: {e}"))),
    };
    let contents = io::parse::<T>(&bytes, &file)?;
    if contents.metadata.get(KEY).map(String::as_str) != Some(key) {
        return Err(DataError::format(&file, "holds another data set"));
    }
    let mut out = Vec::with_capacity(N);
    for name in names {
        if !contents.dtypes.get(name).is_some_and(|d| d.eq_ignore_ascii_case(T::DTYPE.name())) {
            return Err(DataError::format(&file, format!("tensor `{name}` is missing or not {}", T::DTYPE.name())));
        }
        let t = contents.take(name, shape, &file)?;
        if t.data().iter().any(|v| !v.is_finite()) {
            return Err(DataError::format(&file, format!("tensor `{name}` contains non-finite values")));
        }
        out.push(t);
    }
    // one tensor was pushed per name, so the conversion always succeeds
    Ok(out.try_into().ok())
}

/// The cached tensors of `key`, or `generate()`'s, written to the cache for next time. A cache
/// file that cannot be used is regenerated and replaced, never a panic; the flag tells whether
/// the data came from the file.
pub(crate) fn load_or_generate<T: Float, const N: usize>(
    path: &Path,
    key: &str,
    names: [&str; N],
    shape: &[usize],
    generate: impl FnOnce() -> Result<[Tensor<T>; N]>,
) -> Result<([Tensor<T>; N], bool)> {
    if let Ok(Some(tensors)) = load::<T, N>(path, key, names, shape) {
        return Ok((tensors, true));
    }
    let tensors = generate()?;
    let named: Vec<(&str, &Tensor<T>)> = names.into_iter().zip(tensors.iter()).collect();
    store(path, key, &named)?;
    Ok((tensors, false))
}
