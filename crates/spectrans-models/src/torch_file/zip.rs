//! A small, strict reader of the uncompressed ("stored") zip archives `torch.save` writes: the
//! end-of-central-directory record (zip64 too), the central directory, and each entry's local
//! header. Every offset and size from the file is checked against the bytes at hand before it
//! is used, so a lying header is an error, never a panic or a large allocation.

use std::collections::BTreeMap;

/// Signature of a local file header ("PK\x03\x04").
pub(crate) const LOCAL_MAGIC: [u8; 4] = *b"PK\x03\x04";
const CENTRAL_MAGIC: u32 = 0x0201_4b50;
const EOCD_MAGIC: u32 = 0x0605_4b50;
const EOCD64_LOCATOR_MAGIC: u32 = 0x0706_4b50;
const EOCD64_MAGIC: u32 = 0x0606_4b50;
const EOCD_LEN: usize = 22;
const CENTRAL_LEN: usize = 46;
const LOCAL_LEN: usize = 30;

/// The entries of an archive: name → the entry's bytes (borrowed from the archive) or, for a
/// compressed entry, its compression method (an error only once its bytes are asked for:
/// TorchScript archives compress their code, and are recognised by their entry names).
#[derive(Debug, Default)]
pub(crate) struct Entries<'a>(BTreeMap<String, Result<&'a [u8], u16>>);

impl<'a> Entries<'a> {
    /// The entry names.
    pub(crate) fn names(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }

    /// The bytes of a stored entry; `None` when absent; an error when compressed.
    pub(crate) fn get(&self, name: &str) -> Result<Option<&'a [u8]>, String> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Ok(data)) => Ok(Some(data)),
            Some(Err(method)) => Err(format!(
                "zip entry {name:?} is compressed (method {method}); torch.save stores entries uncompressed"
            )),
        }
    }
}

/// Little-endian reads that fail (with what was being read) instead of panicking.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn slice(&self, at: usize, len: usize, what: &str) -> Result<&'a [u8], String> {
        at.checked_add(len).and_then(|end| self.bytes.get(at..end)).ok_or_else(|| {
            format!("truncated zip archive: {what} at byte {at} runs past the end ({} bytes)", self.bytes.len())
        })
    }
    fn u16(&self, at: usize, what: &str) -> Result<u16, String> {
        let s = self.slice(at, 2, what)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&self, at: usize, what: &str) -> Result<u32, String> {
        let s = self.slice(at, 4, what)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&self, at: usize, what: &str) -> Result<u64, String> {
        let s = self.slice(at, 8, what)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(s);
        Ok(u64::from_le_bytes(b))
    }
}

fn to_usize(v: u64, what: &str) -> Result<usize, String> {
    usize::try_from(v).map_err(|_| format!("zip {what} {v} does not fit this machine's address space"))
}

/// An offset read from the file, checked to lie inside it (so adding a field offset to it cannot
/// overflow).
fn inside(r: &Reader, v: u64, what: &str) -> Result<usize, String> {
    to_usize(v, what).ok().filter(|&at| at < r.bytes.len()).ok_or_else(|| {
        format!("truncated or corrupt zip archive: {what} {v} is past the end ({} bytes)", r.bytes.len())
    })
}

/// Where the central directory is and how many entries it claims.
struct Directory {
    offset: usize,
    size: usize,
    entries: u64,
}

/// Finds the end-of-central-directory record (searching back over a comment of up to 64 KiB)
/// and, when the archive is zip64, the zip64 record it points to.
fn directory(r: &Reader) -> Result<Directory, String> {
    let len = r.bytes.len();
    if len < EOCD_LEN {
        return Err(format!("truncated zip archive: {len} bytes, too short for an end-of-central-directory record"));
    }
    let lowest = len.saturating_sub(EOCD_LEN + usize::from(u16::MAX));
    let at = (lowest..=len - EOCD_LEN)
        .rev()
        .find(|&i| r.u32(i, "end record").ok() == Some(EOCD_MAGIC))
        .ok_or("truncated or corrupt zip archive: no end-of-central-directory record")?;
    let mut dir = Directory {
        entries: u64::from(r.u16(at + 10, "entry count")?),
        size: r.u32(at + 12, "directory size")? as usize,
        offset: r.u32(at + 16, "directory offset")? as usize,
    };
    let zip64 = dir.entries == 0xffff || dir.size == 0xffff_ffff || dir.offset == 0xffff_ffff;
    if zip64 && at >= 20 && r.u32(at - 20, "zip64 locator")? == EOCD64_LOCATOR_MAGIC {
        let rec = inside(r, r.u64(at - 12, "zip64 end record offset")?, "zip64 end record offset")?;
        if r.u32(rec, "zip64 end record")? != EOCD64_MAGIC {
            return Err(format!("corrupt zip archive: no zip64 end record at byte {rec}"));
        }
        dir.entries = r.u64(rec + 32, "zip64 entry count")?;
        dir.size = to_usize(r.u64(rec + 40, "zip64 directory size")?, "directory size")?;
        dir.offset = to_usize(r.u64(rec + 48, "zip64 directory offset")?, "directory offset")?;
    }
    Ok(dir)
}

/// Reads the zip64 extended-information extra field: the 64-bit values of the fields that are
/// saturated (0xffffffff) in the central header, in their fixed order.
fn zip64_extra(extra: &[u8], wanted: [bool; 3]) -> Result<[Option<u64>; 3], String> {
    let r = Reader { bytes: extra };
    let mut at = 0;
    while at + 4 <= extra.len() {
        let (id, size) = (r.u16(at, "extra field id")?, usize::from(r.u16(at + 2, "extra field size")?));
        let body = r.slice(at + 4, size, "extra field")?;
        if id == 0x0001 {
            let b = Reader { bytes: body };
            let mut out = [None; 3];
            let mut pos = 0;
            for (slot, want) in out.iter_mut().zip(wanted) {
                if want {
                    *slot = Some(b.u64(pos, "zip64 extra value")?);
                    pos += 8;
                }
            }
            return Ok(out);
        }
        at += 4 + size;
    }
    Ok([None; 3])
}

/// Reads every entry of a stored (uncompressed) zip archive. Duplicate names, compressed or
/// encrypted entries and entries outside the archive are errors.
pub(crate) fn entries(bytes: &[u8]) -> Result<Entries<'_>, String> {
    let r = Reader { bytes };
    let dir = directory(&r)?;
    let central = r.slice(dir.offset, dir.size, "central directory")?;
    let c = Reader { bytes: central };
    let mut out = Entries::default();
    let mut at = 0;
    for i in 0..dir.entries {
        if c.u32(at, "central directory entry")? != CENTRAL_MAGIC {
            return Err(format!("corrupt zip archive: central directory entry {i} has a bad signature"));
        }
        let flags = c.u16(at + 8, "flags")?;
        let method = c.u16(at + 10, "compression method")?;
        let mut size = u64::from(c.u32(at + 20, "compressed size")?);
        let raw_size = u64::from(c.u32(at + 24, "uncompressed size")?);
        let name_len = usize::from(c.u16(at + 28, "name length")?);
        let extra_len = usize::from(c.u16(at + 30, "extra length")?);
        let comment_len = usize::from(c.u16(at + 32, "comment length")?);
        let mut local = u64::from(c.u32(at + 42, "local header offset")?);
        let name_bytes = c.slice(at + CENTRAL_LEN, name_len, "entry name")?;
        let name = String::from_utf8(name_bytes.to_vec())
            .map_err(|_| format!("corrupt zip archive: entry {i} has a name that is not UTF-8"))?;
        let extra = c.slice(at + CENTRAL_LEN + name_len, extra_len, "extra field")?;
        let wide = [raw_size == 0xffff_ffff, size == 0xffff_ffff, local == 0xffff_ffff];
        if wide.iter().any(|&w| w) {
            let [_, s, l] = zip64_extra(extra, wide)?;
            size = s.unwrap_or(size);
            local = l.unwrap_or(local);
        }
        if flags & 1 != 0 {
            return Err(format!("zip entry {name:?} is encrypted"));
        }
        let local = inside(&r, local, "local header offset")?;
        if r.u32(local, "local header")?.to_le_bytes() != LOCAL_MAGIC {
            return Err(format!("corrupt zip archive: entry {name:?} has no local header at byte {local}"));
        }
        let local_name = usize::from(r.u16(local + 26, "local name length")?);
        let local_extra = usize::from(r.u16(local + 28, "local extra length")?);
        let start = local
            .checked_add(LOCAL_LEN + local_name + local_extra)
            .ok_or_else(|| format!("corrupt zip archive: entry {name:?} starts past the address space"))?;
        let data = r.slice(start, to_usize(size, "entry size")?, &format!("entry {name:?}"))?;
        let entry = if method == 0 { Ok(data) } else { Err(method) };
        if out.0.insert(name.clone(), entry).is_some() {
            return Err(format!("corrupt zip archive: entry {name:?} appears twice"));
        }
        at = at
            .checked_add(CENTRAL_LEN + name_len + extra_len + comment_len)
            .ok_or("corrupt zip archive: central directory overflows")?;
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A stored zip archive of `files`, laid out as a zip writer would (local headers, central
    /// directory, end record); for tests of the readers above it.
    pub(crate) fn build(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in files {
            let offset = out.len() as u32;
            out.extend_from_slice(&LOCAL_MAGIC);
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            central.extend_from_slice(&CENTRAL_MAGIC.to_le_bytes());
            central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]);
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let dir_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&EOCD_MAGIC.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&dir_offset.to_le_bytes());
        out.extend_from_slice(&[0; 2]);
        out
    }

    #[test]
    fn reads_entries_back() {
        let zip = build(&[("a/data.pkl", b"xyz"), ("a/data/0", &[1, 2, 3, 4])]);
        let e = entries(&zip).unwrap();
        assert_eq!(e.get("a/data.pkl").unwrap(), Some(&b"xyz"[..]));
        assert_eq!(e.get("a/data/0").unwrap(), Some(&[1u8, 2, 3, 4][..]));
        assert_eq!(e.get("a/none").unwrap(), None);
    }

    #[test]
    fn every_truncation_and_lie_is_an_error() {
        let zip = build(&[("a/data.pkl", b"xyz"), ("a/data/0", &[1, 2, 3, 4])]);
        for cut in 0..zip.len() {
            assert!(entries(&zip[..cut]).is_err(), "cut at {cut}");
        }
        let eocd = zip.len() - EOCD_LEN;
        let mut lie = zip.clone();
        lie[eocd + 10..eocd + 12].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(entries(&lie).unwrap_err().contains("central directory entry"));
        let mut lie = zip.clone();
        lie[eocd + 16..eocd + 20].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert!(entries(&lie).unwrap_err().contains("truncated zip archive"));
        // a huge size in the central header of the first entry
        let mut lie = zip.clone();
        let dir = u32::from_le_bytes(zip[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
        lie[dir + 20..dir + 24].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert!(entries(&lie).unwrap_err().contains("runs past the end"));
        let mut lie = zip.clone();
        lie[dir + 42..dir + 46].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert!(entries(&lie).unwrap_err().contains("local header offset 4294967280 is past the end"));
        let mut compressed = zip.clone();
        compressed[dir + 10] = 8;
        let e = entries(&compressed).unwrap();
        assert!(e.get("a/data.pkl").unwrap_err().contains("compressed (method 8)"));
        assert!(e.get("a/data/0").is_ok());
    }
}
