//! Resumable optimiser state: per-parameter step counts and moment buffers, serialisable to a
//! safetensors file (buffers as tensors, everything else as JSON metadata).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use spectrans_tensor::{io, Float, Parameter, Tensor};

use crate::error::{Result, TrainError};

/// The state an optimiser keeps for one parameter.
#[derive(Debug, Clone)]
pub struct ParamState<T: Float> {
    /// Number of updates applied to this parameter (0: never updated, no buffers yet).
    pub step: u64,
    /// Named buffers (e.g. `exp_avg`, `exp_avg_sq`, `momentum_buffer`), each shaped like the parameter.
    pub buffers: Vec<(String, Tensor<T>)>,
}

/// A snapshot of an optimiser, for resumable training checkpoints.
///
/// ```
/// use spectrans_tensor::{Parameter, Tensor};
/// use spectrans_train::optim::{Adam, AdamConfig, OptimState, Optimizer};
/// let p = Parameter::new(Tensor::<f32>::ones(&[3]));
/// let opt = Adam::new(vec![p], AdamConfig::default())?;
/// let bytes = opt.state().to_safetensors()?;
/// let back = OptimState::<f32>::from_safetensors(&bytes, "memory")?;
/// assert_eq!(back.kind, "adam");
/// # Ok::<(), spectrans_train::TrainError>(())
/// ```
#[derive(Debug, Clone)]
pub struct OptimState<T: Float> {
    /// Which optimiser wrote it (`"sgd"`, `"adam"`, `"adamw"`).
    pub kind: String,
    /// The base learning rate at the time of the snapshot.
    pub lr: f64,
    /// One entry per parameter, in the order the optimiser was given them.
    pub params: Vec<ParamState<T>>,
}

const META_KEY: &str = "spectrans.optim_state";
const FORMAT: &str = "spectrans-optim-state/1";

#[derive(Serialize, Deserialize)]
struct Meta {
    format: String,
    kind: String,
    lr: f64,
    params: Vec<MetaParam>,
}

#[derive(Serialize, Deserialize)]
struct MetaParam {
    step: u64,
    buffers: Vec<(String, Vec<usize>)>,
}

impl<T: Float> OptimState<T> {
    /// Encodes the state as a safetensors image: tensor `"{i}.{buffer}"` per buffer, and the
    /// kind, learning rate, step counts and buffer list as JSON under metadata key
    /// `spectrans.optim_state`.
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let mut names = Vec::new();
        let mut params = Vec::with_capacity(self.params.len());
        for (i, p) in self.params.iter().enumerate() {
            let mut buffers = Vec::with_capacity(p.buffers.len());
            for (name, t) in &p.buffers {
                names.push((format!("{i}.{name}"), t));
                buffers.push((name.clone(), t.shape().to_vec()));
            }
            params.push(MetaParam { step: p.step, buffers });
        }
        let meta = Meta { format: FORMAT.into(), kind: self.kind.clone(), lr: self.lr, params };
        let json = serde_json::to_string(&meta).map_err(|e| TrainError::format("optimizer state", e.to_string()))?;
        let tensors: Vec<(&str, &Tensor<T>)> = names.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        Ok(io::encode(&tensors, &[], T::DTYPE, HashMap::from([(META_KEY.to_string(), json)]))?)
    }

    /// Decodes an image written by [`OptimState::to_safetensors`]; `file` names the source in errors.
    /// Buffers stored in the other float type are converted.
    pub fn from_safetensors(bytes: &[u8], file: &str) -> Result<Self> {
        let contents = io::parse::<T>(bytes, file)?;
        let json = contents
            .metadata
            .get(META_KEY)
            .ok_or_else(|| TrainError::format(file, format!("no `{META_KEY}` metadata: not an optimizer state")))?;
        let meta: Meta = serde_json::from_str(json)
            .map_err(|e| TrainError::format(file, format!("bad `{META_KEY}` metadata: {e}")))?;
        if meta.format != FORMAT {
            return Err(TrainError::format(file, format!("unknown format `{}`, expected `{FORMAT}`", meta.format)));
        }
        let mut params = Vec::with_capacity(meta.params.len());
        for (i, p) in meta.params.into_iter().enumerate() {
            let mut buffers = Vec::with_capacity(p.buffers.len());
            for (name, shape) in p.buffers {
                let t = contents.take(&format!("{i}.{name}"), &shape, file)?;
                buffers.push((name, t));
            }
            params.push(ParamState { step: p.step, buffers });
        }
        Ok(OptimState { kind: meta.kind, lr: meta.lr, params })
    }

    /// Writes [`OptimState::to_safetensors`] to `path` atomically (temporary file + rename),
    /// creating its folder.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(crate::error::io_err(dir))?;
        }
        io::write_atomic(path, &self.to_safetensors()?).map_err(crate::error::io_err(path))
    }

    /// Reads a file written by [`OptimState::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(crate::error::io_err(path))?;
        Self::from_safetensors(&bytes, &path.display().to_string())
    }

    /// Checks that this state fits an optimiser of `kind` over `params`, whose updated parameters
    /// carry exactly the buffers `names`; returns each parameter's step and buffer values.
    pub(crate) fn check(&self, kind: &str, params: &[Parameter<T>], names: &[&str]) -> Result<Vec<(u64, Vec<Vec<T>>)>> {
        if self.kind != kind {
            return Err(TrainError::State(format!("written by a `{}` optimizer, loading into `{kind}`", self.kind)));
        }
        if self.params.len() != params.len() {
            return Err(TrainError::State(format!(
                "holds {} parameters, the optimizer has {}",
                self.params.len(),
                params.len()
            )));
        }
        let mut out = Vec::with_capacity(params.len());
        for (i, (s, p)) in self.params.iter().zip(params).enumerate() {
            let got: Vec<&str> = s.buffers.iter().map(|(n, _)| n.as_str()).collect();
            let want: &[&str] = if s.step == 0 { &[] } else { names };
            if got != want {
                return Err(TrainError::State(format!(
                    "parameter {i} (step {}) has buffers {got:?}, expected {want:?}",
                    s.step
                )));
            }
            let shape = p.shape();
            let mut bufs = Vec::with_capacity(s.buffers.len());
            for (name, t) in &s.buffers {
                if t.shape() != shape.as_slice() {
                    return Err(TrainError::State(format!(
                        "parameter {i} buffer `{name}` has shape {:?}, the parameter has shape {shape:?}",
                        t.shape()
                    )));
                }
                bufs.push(t.to_vec());
            }
            out.push((s.step, bufs));
        }
        Ok(out)
    }
}

/// Wraps a buffer as a named state tensor.
pub(crate) fn buffer<T: Float>(name: &str, data: &[T], shape: &[usize]) -> (String, Tensor<T>) {
    // `data` always has the parameter's element count (kept in lock-step with it by the optimisers).
    let t = Tensor::from_vec(data.to_vec(), shape).unwrap_or_else(|_| Tensor::zeros(shape));
    (name.to_string(), t)
}
