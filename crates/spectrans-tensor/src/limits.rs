//! Memory limits: the bytes one allocation (or one model, input or command) may take, checked
//! with overflow-checked arithmetic *before* anything is allocated, so that an absurd size from a
//! config, a file header or a flag is refused with an error instead of aborting the process.
//!
//! The limit is `SPECTRANS_MAX_BYTES` when set (bytes, or with a `K`, `M`, `G` or `T` suffix:
//! powers of 1024), otherwise `MemAvailable` from `/proc/meminfo`, otherwise unlimited (the
//! fallible allocation of [`try_filled`] still turns an allocator failure into an error).

use std::fmt;

use crate::error::{Result, TensorError};

/// The environment variable that sets (raises or lowers) the memory limit.
pub const MAX_BYTES_ENV: &str = "SPECTRANS_MAX_BYTES";

/// Where the memory limit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    /// The `SPECTRANS_MAX_BYTES` environment variable.
    Env,
    /// `MemAvailable` in `/proc/meminfo`.
    MemAvailable,
    /// Neither is available: no limit beyond what the allocator grants.
    Unlimited,
}

/// The number of bytes a single request may take, and where that number comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit {
    /// The limit in bytes.
    pub bytes: u128,
    /// Its origin.
    pub source: LimitSource,
}

impl fmt::Display for MemoryLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.source {
            LimitSource::Env => write!(f, "the {} allowed by {MAX_BYTES_ENV}", human(self.bytes)),
            LimitSource::MemAvailable => write!(
                f,
                "the {} available (MemAvailable in /proc/meminfo; set {MAX_BYTES_ENV} to change the limit)",
                human(self.bytes)
            ),
            LimitSource::Unlimited => write!(f, "what the allocator can grant"),
        }
    }
}

/// Parses a byte count with an optional `K`/`M`/`G`/`T` suffix (powers of 1024, case-insensitive,
/// an optional trailing `B` or `iB`).
pub fn parse_bytes(text: &str) -> Option<u128> {
    let t = text.trim().to_ascii_uppercase();
    let t = t.strip_suffix("IB").or_else(|| t.strip_suffix('B')).unwrap_or(&t);
    let (digits, shift) = match t.chars().last()? {
        'K' => (&t[..t.len() - 1], 10),
        'M' => (&t[..t.len() - 1], 20),
        'G' => (&t[..t.len() - 1], 30),
        'T' => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    digits.trim().parse::<u64>().ok().and_then(|n| u128::from(n).checked_mul(1u128 << shift))
}

/// The current memory limit: `SPECTRANS_MAX_BYTES`, else `MemAvailable`, else unlimited.
/// An unparsable `SPECTRANS_MAX_BYTES` is an error naming the variable.
pub fn memory_limit() -> Result<MemoryLimit> {
    if let Some(v) = std::env::var_os(MAX_BYTES_ENV) {
        let text = v.to_string_lossy();
        return match parse_bytes(&text) {
            Some(bytes) => Ok(MemoryLimit { bytes, source: LimitSource::Env }),
            None => Err(TensorError::invalid(
                "memory limit",
                format!("{MAX_BYTES_ENV}={text:?} is not a byte count (e.g. 8589934592 or 8G)"),
            )),
        };
    }
    Ok(match mem_available() {
        Some(bytes) => MemoryLimit { bytes, source: LimitSource::MemAvailable },
        None => MemoryLimit { bytes: u128::MAX, source: LimitSource::Unlimited },
    })
}

/// `MemAvailable` from `/proc/meminfo`, in bytes (`None` where the file or the line is absent).
fn mem_available() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// Bytes of `count` elements of `elem_bytes` each, or `None` on overflow.
pub fn bytes_of(count: usize, elem_bytes: usize) -> Option<u128> {
    (count as u128).checked_mul(elem_bytes as u128)
}

/// The element count of `shape` with overflow checking (`None` when it does not fit in `usize`).
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Checks that `bytes` (`None` = the size computation overflowed) fits within the memory limit;
/// the error names `what` and the size.
pub fn check_bytes(what: &str, bytes: Option<u128>) -> Result<()> {
    check_bytes_within(what, bytes, &memory_limit()?)
}

/// [`check_bytes`] against an explicit limit.
pub fn check_bytes_within(what: &str, bytes: Option<u128>, limit: &MemoryLimit) -> Result<()> {
    match bytes {
        None => Err(TensorError::OutOfMemory {
            what: what.to_string(),
            reason: "its size overflows 128-bit arithmetic".into(),
        }),
        Some(b) if b > limit.bytes => Err(TensorError::OutOfMemory {
            what: what.to_string(),
            reason: format!("needs {} ({b} bytes), more than {limit}", human(b)),
        }),
        Some(_) => Ok(()),
    }
}

/// A vector of `count` copies of `value`, allocated fallibly: the size is checked against the
/// memory limit first, then reserved with [`Vec::try_reserve_exact`], so neither an absurd count
/// nor an allocator failure aborts the process. `what` names the request in the error.
pub fn try_filled<T: Clone>(what: &str, count: usize, value: T) -> Result<Vec<T>> {
    let mut v = try_with_capacity(what, count)?;
    v.resize(count, value);
    Ok(v)
}

/// An empty vector with room for exactly `count` elements, allocated fallibly (see [`try_filled`]).
pub fn try_with_capacity<T>(what: &str, count: usize) -> Result<Vec<T>> {
    check_bytes(what, bytes_of(count, std::mem::size_of::<T>()))?;
    let mut v = Vec::new();
    v.try_reserve_exact(count).map_err(|e| TensorError::OutOfMemory {
        what: what.to_string(),
        reason: format!("the allocation of {count} elements failed ({e})"),
    })?;
    Ok(v)
}

/// A byte count for people: `1.5 GiB`, `64.0 TiB`, `512 B`.
pub fn human(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_parse_with_suffixes() {
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert_eq!(parse_bytes("8G"), Some(8 << 30));
        assert_eq!(parse_bytes(" 3 mib "), Some(3 << 20));
        assert_eq!(parse_bytes("2kB"), Some(2048));
        assert_eq!(parse_bytes("1T"), Some(1 << 40));
        for bad in ["", "G", "-1", "1.5G", "lots", "12Q"] {
            assert_eq!(parse_bytes(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn sizes_over_the_limit_or_overflowing_are_named_errors() {
        let limit = MemoryLimit { bytes: 1000, source: LimitSource::Env };
        assert!(check_bytes_within("small", Some(1000), &limit).is_ok());
        let e = check_bytes_within("the table", Some(1001), &limit).unwrap_err().to_string();
        assert!(e.contains("the table") && e.contains("1001 bytes") && e.contains(MAX_BYTES_ENV), "{e}");
        let e = check_bytes_within("the table", None, &limit).unwrap_err().to_string();
        assert!(e.contains("the table") && e.contains("overflow"), "{e}");
        assert_eq!(checked_numel(&[1 << 40, 1 << 30]), None);
        assert_eq!(checked_numel(&[]), Some(1));
        assert_eq!(bytes_of(usize::MAX, 8), Some(usize::MAX as u128 * 8));
    }

    #[test]
    fn absurd_allocations_are_errors_not_aborts() {
        // 2^61 f64 = 16 EiB: more than any memory, refused before the allocator is asked
        let e = try_filled("a huge buffer", 1usize << 61, 0.0f64).unwrap_err().to_string();
        assert!(e.contains("a huge buffer") && e.contains("bytes"), "{e}");
        assert_eq!(try_filled("three", 3, 1u8).unwrap(), vec![1, 1, 1]);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(64 << 40), "64.0 TiB");
    }
}
