//! From an unpickled `data.pkl` and the archive's storages to named tensors: choosing the
//! state_dict (top level, or nested under `state_dict` / `model`), bounds-checking every strided
//! view against its storage, and converting the elements (half precisions widened, complex
//! numbers split into a trailing re/im axis of 2).

use std::collections::BTreeMap;

use spectrans_tensor::{DType, Float, Tensor};

use super::pickle::{Dtype, Pickle, TensorRef, Value};
use crate::io::TensorFile;

/// Most dimensions a tensor may have.
const MAX_RANK: usize = 32;
/// Elements a view may hold beyond its storage's (a broadcast view repeats elements; beyond this
/// a lying header would make us allocate far more than the file holds).
const MAX_REPEATED: u64 = 1 << 24;
/// Elements all tensors of a file may hold together, beyond twice the file's length in bytes
/// (tied weights view one storage twice; thousands of views of one large storage would otherwise
/// allocate far more than the file holds).
const SLACK: u64 = 1 << 24;

/// The elements of a tensor, widened.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Floating-point elements (float16, bfloat16, float32, float64, and the re/im parts of
    /// complex numbers).
    Float(Vec<f64>),
    /// Integer and bool elements.
    Int(Vec<i64>),
}

/// One tensor of a state_dict, contiguous, in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchTensor {
    /// The shape (a complex tensor gets a trailing axis of 2: re, im).
    pub shape: Vec<usize>,
    /// The torch dtype it was stored as (`float32`, `complex64`, `int64`, ...).
    pub dtype: &'static str,
    /// The elements.
    pub values: Values,
}

/// The tensors of a `torch.save` file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateDict {
    /// Tensors by state_dict key.
    pub tensors: BTreeMap<String, TorchTensor>,
    /// The top-level key the state_dict was found under (`state_dict` or `model`), if nested.
    pub nested_under: Option<String>,
}

impl StateDict {
    /// The precision that keeps every float tensor exact: F64 when any was stored as float64 or
    /// complex128, F32 otherwise (float16 and bfloat16 widen exactly to F32).
    pub fn precision(&self) -> DType {
        let wide = self.tensors.values().any(|t| matches!(t.dtype, "float64" | "complex128"));
        if wide {
            DType::F64
        } else {
            DType::F32
        }
    }

    /// The tensors as a [`TensorFile`] (floats converted to `T`, integers kept as ids).
    pub fn into_tensor_file<T: Float>(self) -> crate::Result<TensorFile<T>> {
        let mut out = TensorFile::default();
        for (name, t) in self.tensors {
            match t.values {
                Values::Float(v) => {
                    out.floats.insert(name, Tensor::from_vec(v.into_iter().map(T::of).collect(), &t.shape)?);
                }
                Values::Int(v) => {
                    out.ints.insert(name, (t.shape, v));
                }
            }
        }
        Ok(out)
    }
}

fn str_key(k: &Value) -> Option<&str> {
    match k {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

/// Picks the state_dict out of the unpickled object and reads every tensor of it; `storage`
/// gives the bytes of a storage key, `file_len` bounds the elements read (see [`SLACK`]).
pub(crate) fn collect<'a>(
    pickle: &Pickle,
    file_len: usize,
    storage: impl Fn(&str) -> Result<Option<&'a [u8]>, String>,
) -> Result<StateDict, String> {
    let root = pickle.root.as_ref().ok_or("the pickle holds no object")?;
    let Value::Dict(top) = root else {
        return Err(format!("the pickle holds {}, not a state_dict (a dict of tensors)", root.kind()));
    };
    let top = &pickle.dicts[*top];
    let nested = ["state_dict", "model"].into_iter().find_map(|want| {
        top.iter().find_map(|(k, v)| match v {
            Value::Dict(d) if str_key(k) == Some(want) => Some((want, *d)),
            _ => None,
        })
    });
    let all_tensors = top.iter().all(|(_, v)| matches!(v, Value::Tensor(_)));
    let (entries, nested_under) = match nested {
        Some((key, d)) if !all_tensors => (&pickle.dicts[d], Some(key.to_string())),
        _ => (top, None),
    };
    let mut out = StateDict { nested_under, ..Default::default() };
    let mut budget = (file_len as u64).saturating_mul(2).saturating_add(SLACK);
    for (k, v) in entries {
        let name = str_key(k).ok_or_else(|| format!("a state_dict key is {}, not a string", k.kind()))?;
        let t = match v {
            Value::Tensor(t) => t,
            other if out.nested_under.is_none() && !all_tensors => {
                let keys: Vec<&str> = top.iter().filter_map(|(k, _)| str_key(k)).collect();
                return Err(format!(
                    "entry {name:?} is {}, not a tensor: expected a state_dict, or a dict with a `state_dict` or \
                     `model` entry holding one (top-level keys: {keys:?})",
                    other.kind()
                ));
            }
            other => return Err(format!("state_dict entry {name:?} is {}, not a tensor", other.kind())),
        };
        let bytes = storage(&t.storage.key)?
            .ok_or_else(|| format!("tensor {name:?}: its storage data/{} is not in the archive", t.storage.key))?;
        let tensor = read_tensor(t, bytes, &mut budget).map_err(|e| format!("tensor {name:?}: {e}"))?;
        out.tensors.insert(name.to_string(), tensor);
    }
    Ok(out)
}

/// Calls `f` with the storage index of every element of a strided view, in row-major order.
fn for_each_index(size: &[usize], stride: &[usize], offset: usize, mut f: impl FnMut(usize)) {
    if size.contains(&0) {
        return;
    }
    let mut idx = vec![0usize; size.len()];
    let mut at = offset;
    loop {
        f(at);
        let mut d = size.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            at += stride[d];
            if idx[d] < size[d] {
                break;
            }
            at -= stride[d] * size[d];
            idx[d] = 0;
        }
    }
}

fn usize_of(v: u64, what: &str) -> Result<usize, String> {
    usize::try_from(v).map_err(|_| format!("{what} {v} does not fit the address space"))
}

/// Reads a strided view out of its storage's bytes, checking every bound first.
fn read_tensor(t: &TensorRef, bytes: &[u8], budget: &mut u64) -> Result<TorchTensor, String> {
    let st = &t.storage;
    let dtype = st.dtype;
    if t.size.len() > MAX_RANK {
        return Err(format!("{} dimensions (at most {MAX_RANK})", t.size.len()));
    }
    let need = st.numel.checked_mul(dtype.size() as u64).filter(|&n| n <= bytes.len() as u64).ok_or_else(|| {
        format!(
            "its storage holds {} bytes, fewer than the {} {} elements it claims",
            bytes.len(),
            st.numel,
            dtype.name()
        )
    })?;
    let numel = t.size.iter().try_fold(1u64, |n, &s| n.checked_mul(s)).ok_or("its shape overflows")?;
    let shape_err = || format!("shape {:?} with strides {:?} at offset {}", t.size, t.stride, t.offset);
    if numel > 0 {
        let last = t
            .size
            .iter()
            .zip(&t.stride)
            .try_fold(t.offset, |acc, (&s, &k)| (s - 1).checked_mul(k).and_then(|x| acc.checked_add(x)));
        match last {
            Some(last) if last < st.numel => {}
            _ => {
                return Err(format!("{} reaches past its storage of {} elements ({need} bytes)", shape_err(), st.numel))
            }
        }
        if numel > st.numel && numel > MAX_REPEATED {
            return Err(format!("{} repeats its storage of {} elements too often", shape_err(), st.numel));
        }
    }
    let parts = if matches!(dtype, Dtype::C64 | Dtype::C128) { 2 } else { 1 };
    *budget = budget.checked_sub(numel.saturating_mul(parts)).ok_or_else(|| {
        format!("{}: the file's tensors would hold far more elements than the file has bytes", shape_err())
    })?;
    let size: Vec<usize> = t.size.iter().map(|&s| usize_of(s, "a size")).collect::<Result<_, _>>()?;
    // the stride of a dimension of size 1 is never used (and may be anything): 0 keeps sums small
    let stride: Vec<usize> = (t.stride.iter().zip(&size))
        .map(|(&k, &s)| if s == 1 { Ok(0) } else { usize_of(k, "a stride") })
        .collect::<Result<_, _>>()?;
    let offset = usize_of(t.offset, "a storage offset")?;
    let n = usize_of(numel, "an element count")?;
    let w = dtype.size();
    let at = |i: usize| &bytes[i * w..i * w + w];
    let mut shape = size.clone();
    let values = match dtype {
        Dtype::F32 | Dtype::F64 | Dtype::F16 | Dtype::BF16 | Dtype::C64 | Dtype::C128 => {
            let complex = matches!(dtype, Dtype::C64 | Dtype::C128);
            let mut v = Vec::with_capacity(if complex { 2 * n } else { n });
            for_each_index(&size, &stride, offset, |i| {
                let b = at(i);
                match dtype {
                    Dtype::F32 => v.push(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64),
                    Dtype::F64 => v.push(f64::from_le_bytes(b.try_into().expect("8 bytes"))),
                    Dtype::F16 => v.push(f16_to_f32(u16::from_le_bytes([b[0], b[1]])) as f64),
                    Dtype::BF16 => v.push(f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16) as f64),
                    Dtype::C64 => {
                        v.push(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64);
                        v.push(f32::from_le_bytes([b[4], b[5], b[6], b[7]]) as f64);
                    }
                    _ => {
                        v.push(f64::from_le_bytes(b[..8].try_into().expect("8 bytes")));
                        v.push(f64::from_le_bytes(b[8..].try_into().expect("8 bytes")));
                    }
                }
            });
            if complex {
                shape.push(2);
            }
            Values::Float(v)
        }
        _ => {
            let mut v = Vec::with_capacity(n);
            for_each_index(&size, &stride, offset, |i| {
                let b = at(i);
                v.push(match dtype {
                    Dtype::I64 => i64::from_le_bytes(b.try_into().expect("8 bytes")),
                    Dtype::I32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]).into(),
                    Dtype::I16 => i16::from_le_bytes([b[0], b[1]]).into(),
                    Dtype::I8 => i8::from_le_bytes([b[0]]).into(),
                    _ => b[0].into(),
                })
            });
            Values::Int(v)
        }
    };
    Ok(TorchTensor { shape, dtype: dtype.name(), values })
}

/// IEEE 754 half precision to single precision (exact: every half is a float).
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // subnormal: value = frac · 2⁻²⁴
            let v = frac as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000 | (frac << 13),
        _ => sign | ((exp + 112) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_conversions_are_exact() {
        for (h, f) in [
            (0x3c00u16, 1.0f32),
            (0xc000, -2.0),
            (0x3555, 0.333_251_95),
            (0x7bff, 65504.0),
            (0x0001, 5.960_464_5e-8),
            (0x0400, 6.103_515_6e-5),
            (0x8000, -0.0),
        ] {
            assert_eq!(f16_to_f32(h), f, "{h:#06x}");
        }
        assert!(f16_to_f32(0x7c00).is_infinite() && f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn strided_views_visit_elements_in_row_major_order() {
        let mut seen = Vec::new();
        // a transposed 2×3 matrix (3×2 view) at offset 1
        for_each_index(&[3, 2], &[1, 3], 1, |i| seen.push(i));
        assert_eq!(seen, [1, 4, 2, 5, 3, 6]);
        seen.clear();
        for_each_index(&[], &[], 7, |i| seen.push(i));
        assert_eq!(seen, [7]);
        seen.clear();
        for_each_index(&[2, 0], &[1, 1], 0, |i| seen.push(i));
        assert!(seen.is_empty());
    }
}
