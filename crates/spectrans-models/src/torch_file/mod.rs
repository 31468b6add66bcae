//! Reading PyTorch `torch.save` files (`model.pt`, `model.pth`, `pytorch_model.bin`) without
//! Python: the zip archive (`<archive>/data.pkl` + `<archive>/data/<key>` storages) through a
//! strict stored-zip reader, `data.pkl` through a restricted pickle reader that executes nothing
//! and knows only the globals a state_dict uses, then every tensor bounds-checked against its
//! storage. Storages of float32/float64/float16/bfloat16, complex64/complex128 (split into a
//! trailing re/im axis) and integers are read; big-endian archives, the legacy pre-1.6 format and
//! TorchScript archives are refused with a message saying what to do.

mod pickle;
mod state;
mod zip;

use std::path::Path;

pub use state::{StateDict, TorchTensor, Values};

use crate::error::{ModelError, Result};

/// The pickled magic number that opens a legacy (PyTorch < 1.6) `torch.save` file.
const LEGACY_MAGIC: [u8; 14] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/// Says what a file that is not a zip archive is, as well as its first bytes tell.
fn not_a_zip(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        "empty file, not a torch.save archive".into()
    } else if bytes.starts_with(&LEGACY_MAGIC) {
        "legacy torch.save format (PyTorch < 1.6): re-save with torch >= 1.6 (`torch.save(torch.load(path), path)`), \
         which writes the zip format read here"
            .into()
    } else if bytes[0] == 0x80 {
        "a bare pickle, not a torch.save zip archive (save with torch.save from torch >= 1.6)".into()
    } else if bytes.len() > 8 && bytes[8] == b'{' {
        "this looks like a safetensors file; name it model.safetensors".into()
    } else {
        "not a torch.save file: no zip signature at its start".into()
    }
}

/// Parses a whole `torch.save` file held in `bytes` into its state_dict (`origin` names the file
/// in errors). Any malformed, truncated or hostile input is an error, never a panic.
///
/// ```
/// let e = spectrans_models::torch_file::parse(b"not a checkpoint", "x.pt").unwrap_err();
/// assert!(e.to_string().starts_with("checkpoint x.pt: not a torch.save file"));
/// ```
pub fn parse(bytes: &[u8], origin: &str) -> Result<StateDict> {
    parse_inner(bytes).map_err(|reason| ModelError::checkpoint(origin, reason))
}

/// Reads and parses a `torch.save` file.
pub fn read(path: &Path) -> Result<StateDict> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io { path: path.display().to_string(), source })?;
    parse(&bytes, &path.display().to_string())
}

fn parse_inner(bytes: &[u8]) -> std::result::Result<StateDict, String> {
    if !bytes.starts_with(&zip::LOCAL_MAGIC) {
        return Err(not_a_zip(bytes));
    }
    let entries = zip::entries(bytes)?;
    if entries.names().any(|n| n.ends_with("/constants.pkl") || n.contains("/code/")) {
        return Err("a TorchScript archive (torch.jit.save), not a state_dict: save `model.state_dict()` with \
                    torch.save instead"
            .into());
    }
    let mut pickles = entries.names().filter(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1);
    let pkl = match (pickles.next(), pickles.next()) {
        (Some(p), None) => p.clone(),
        (Some(a), Some(b)) => return Err(format!("the archive holds two state pickles, {a} and {b}")),
        (None, _) => return Err("the zip archive has no <archive>/data.pkl entry: not a torch.save file".into()),
    };
    let prefix = &pkl[..pkl.len() - "data.pkl".len()];
    if let Some(order) = entries.get(&format!("{prefix}byteorder"))? {
        match order.trim_ascii() {
            b"little" => {}
            b"big" => {
                return Err("saved on a big-endian machine (byteorder \"big\"); only little-endian archives are read: \
                            re-save it on a little-endian machine"
                    .into())
            }
            other => return Err(format!("unknown byteorder {:?}", String::from_utf8_lossy(other))),
        }
    }
    let program = entries.get(&pkl)?.ok_or("data.pkl vanished")?;
    let pickle = pickle::load(program).map_err(|e| format!("{pkl}: {e}"))?;
    state::collect(&pickle, bytes.len(), |key| entries.get(&format!("{prefix}data/{key}")))
}

#[cfg(test)]
mod tests;
