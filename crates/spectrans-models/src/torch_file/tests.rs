//! Unit tests of whole-file parsing on archives built here (the fixtures written by PyTorch
//! itself are checked in `tests/integration/torch_checkpoints.rs` and `tests/integration/bad_torch_files.rs`).

use super::*;
use crate::torch_file::zip::tests::build;

/// A tensor of a synthetic state_dict: storage type, storage key, storage numel, offset, size, stride.
struct Spec<'a> {
    name: &'a str,
    storage: &'a str,
    key: &'a str,
    numel: u32,
    offset: u32,
    size: &'a [u32],
    stride: &'a [u32],
}

fn text(out: &mut Vec<u8>, s: &str) {
    out.push(b'X');
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn int(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&[0x8a, 8]); // LONG1 of 8 bytes, as pickle writes large ints
    out.extend_from_slice(&u64::from(v).to_le_bytes());
}

/// `data.pkl` of `OrderedDict(name → _rebuild_tensor_v2(...))`, as torch.save lays it out.
fn pickle(specs: &[Spec]) -> Vec<u8> {
    let mut b = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(".to_vec();
    for s in specs {
        text(&mut b, s.name);
        b.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n((");
        text(&mut b, "storage");
        b.extend_from_slice(format!("ctorch\n{}\n", s.storage).as_bytes());
        text(&mut b, s.key);
        text(&mut b, "cpu");
        int(&mut b, s.numel);
        b.extend_from_slice(b"tQ");
        int(&mut b, s.offset);
        for dims in [s.size, s.stride] {
            b.push(b'(');
            dims.iter().for_each(|&d| int(&mut b, d));
            b.push(b't');
        }
        b.extend_from_slice(b"\x89h\x00)RtR");
    }
    b.extend_from_slice(b"u}b.");
    b
}

fn archive(specs: &[Spec], storages: &[(&str, Vec<u8>)], extra: &[(&str, &[u8])]) -> Vec<u8> {
    let pkl = pickle(specs);
    let names: Vec<String> = storages.iter().map(|(k, _)| format!("archive/data/{k}")).collect();
    let mut files: Vec<(&str, &[u8])> = vec![("archive/data.pkl", &pkl)];
    files.extend(names.iter().zip(storages).map(|(n, (_, d))| (n.as_str(), d.as_slice())));
    files.extend_from_slice(extra);
    build(&files)
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn spec<'a>(name: &'a str, storage: &'a str, numel: u32, size: &'a [u32], stride: &'a [u32]) -> Spec<'a> {
    Spec { name, storage, key: "0", numel, offset: 0, size, stride }
}

#[test]
fn contiguous_strided_and_offset_views() {
    let data = f32s(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let specs = [
        Spec { offset: 1, ..spec("w", "FloatStorage", 7, &[2, 3], &[3, 1]) },
        Spec { offset: 1, ..spec("wt", "FloatStorage", 7, &[3, 2], &[1, 3]) },
        spec("scalar", "FloatStorage", 7, &[], &[]),
    ];
    let sd = parse(&archive(&specs, &[("0", data)], &[("archive/byteorder", b"little")]), "m.pt").unwrap();
    assert_eq!(sd.tensors["w"].values, Values::Float(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    assert_eq!(sd.tensors["wt"].shape, [3, 2]);
    assert_eq!(sd.tensors["wt"].values, Values::Float(vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]));
    assert_eq!(sd.tensors["scalar"].values, Values::Float(vec![0.0]));
    assert_eq!(sd.precision(), spectrans_tensor::DType::F32);
}

#[test]
fn complex_half_and_integer_storages() {
    let c: Vec<u8> = [1.0f64, -1.0, 2.0, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    let h: Vec<u8> = [0x3c00u16, 0xc000].iter().flat_map(|x| x.to_le_bytes()).collect();
    let bf: Vec<u8> = [0x3f80u16, 0x4040].iter().flat_map(|x| x.to_le_bytes()).collect();
    let l: Vec<u8> = [7i64, -3].iter().flat_map(|x| x.to_le_bytes()).collect();
    let specs = [
        Spec { key: "c", ..spec("c", "ComplexDoubleStorage", 2, &[2], &[1]) },
        Spec { key: "h", ..spec("h", "HalfStorage", 2, &[2], &[1]) },
        Spec { key: "bf", ..spec("bf", "BFloat16Storage", 2, &[2], &[1]) },
        Spec { key: "l", ..spec("l", "LongStorage", 2, &[2], &[1]) },
    ];
    let sd = parse(&archive(&specs, &[("c", c), ("h", h), ("bf", bf), ("l", l)], &[]), "m.pt").unwrap();
    assert_eq!(sd.tensors["c"].shape, [2, 2]);
    assert_eq!(sd.tensors["c"].values, Values::Float(vec![1.0, -1.0, 2.0, -2.0]));
    assert_eq!(sd.tensors["h"].values, Values::Float(vec![1.0, -2.0]));
    assert_eq!(sd.tensors["bf"].values, Values::Float(vec![1.0, 3.0]));
    assert_eq!(sd.tensors["l"].values, Values::Int(vec![7, -3]));
    assert_eq!(sd.precision(), spectrans_tensor::DType::F64);
    let file = sd.into_tensor_file::<f32>().unwrap();
    assert_eq!(file.ints["l"], (vec![2], vec![7, -3]));
    assert_eq!(file.floats["h"].to_vec(), vec![1.0, -2.0]);
}

#[test]
fn lying_sizes_are_errors_before_any_allocation() {
    let data = f32s(&[1.0, 2.0, 3.0, 4.0]);
    let cases: &[(Spec, &str)] = &[
        (spec("w", "FloatStorage", 8, &[2], &[1]), "fewer than the 8 float32 elements"),
        (spec("w", "FloatStorage", u32::MAX, &[2], &[1]), "fewer than the 4294967295"),
        (spec("w", "FloatStorage", 4, &[5], &[1]), "reaches past its storage of 4 elements"),
        (Spec { offset: 3, ..spec("w", "FloatStorage", 4, &[2], &[1]) }, "reaches past"),
        (spec("w", "FloatStorage", 4, &[2, 3], &[2, 1]), "reaches past"),
        (spec("w", "FloatStorage", 4, &[1 << 20, 1 << 20], &[0, 0]), "repeats its storage"),
        (spec("w", "FloatStorage", 4, &[u32::MAX, u32::MAX, u32::MAX], &[0, 0, 0]), "shape overflows"),
        (spec("w", "FloatStorage", 4, &[1 << 16; 3], &[1 << 16; 3]), "reaches past"),
        (spec("w", "FloatStorage", 4, &[2], &[1, 1]), "1 sizes but 2 strides"),
        (spec("w", "DoubleStorage", 4, &[4], &[1]), "fewer than the 4 float64"),
        (Spec { key: "9", ..spec("w", "FloatStorage", 4, &[4], &[1]) }, "storage data/9 is not in the archive"),
        (spec("w", "QInt8Storage", 4, &[4], &[1]), "`torch.QInt8Storage`"),
    ];
    for (s, want) in cases {
        let e = parse(&archive(std::slice::from_ref(s), &[("0", data.clone())], &[]), "m.pt").unwrap_err();
        let e = e.to_string();
        assert!(e.starts_with("checkpoint m.pt: ") && e.contains(want), "{want}: {e}");
    }
    // the stride of a size-1 dimension is never used, whatever it says
    let sd =
        parse(&archive(&[spec("w", "FloatStorage", 4, &[1, 2], &[u32::MAX, 1])], &[("0", data.clone())], &[]), "m")
            .unwrap();
    assert_eq!(sd.tensors["w"].values, Values::Float(vec![1.0, 2.0]));
    // broadcast views within the per-tensor limit still may not add up past the file's budget
    let views = [
        spec("a", "FloatStorage", 4, &[1 << 12, 1 << 12], &[0, 0]),
        spec("b", "FloatStorage", 4, &[1 << 12, 1 << 12], &[0, 0]),
    ];
    let e = parse(&archive(&views, &[("0", data.clone())], &[]), "m").unwrap_err().to_string();
    assert!(e.contains("tensor \"b\"") && e.contains("far more elements than the file has bytes"), "{e}");
    // an empty tensor over an empty storage is fine
    let sd = parse(&archive(&[spec("e", "FloatStorage", 0, &[0, 3], &[3, 1])], &[("0", vec![])], &[]), "m").unwrap();
    assert_eq!(sd.tensors["e"].shape, [0, 3]);
}

#[test]
fn archive_level_refusals() {
    let data = f32s(&[1.0]);
    let one = [spec("w", "FloatStorage", 1, &[1], &[1])];
    let big = archive(&one, &[("0", data.clone())], &[("archive/byteorder", b"big")]);
    assert!(parse(&big, "m").unwrap_err().to_string().contains("big-endian"));
    let odd = archive(&one, &[("0", data.clone())], &[("archive/byteorder", b"middle")]);
    assert!(parse(&odd, "m").unwrap_err().to_string().contains("unknown byteorder"));
    let script = build(&[("m/constants.pkl", b"."), ("m/code/__torch__.py", b"")]);
    assert!(parse(&script, "m").unwrap_err().to_string().contains("TorchScript"));
    let empty_zip = build(&[("m/other", b"")]);
    assert!(parse(&empty_zip, "m").unwrap_err().to_string().contains("no <archive>/data.pkl"));
    let mut legacy = LEGACY_MAGIC.to_vec();
    legacy.extend_from_slice(b".");
    assert!(parse(&legacy, "m").unwrap_err().to_string().contains("legacy torch.save format (PyTorch < 1.6)"));
    assert!(parse(b"\x80\x02}.", "m").unwrap_err().to_string().contains("bare pickle"));
    assert!(parse(b"", "m").unwrap_err().to_string().contains("empty file"));
    let good = archive(&one, &[("0", data)], &[]);
    for cut in (0..good.len()).step_by(7) {
        assert!(parse(&good[..cut], "m").is_err(), "cut {cut}");
    }
}

#[test]
fn nested_state_dicts_and_non_tensor_entries() {
    // {"epoch": 3, "state_dict": OrderedDict(w = tensor)}
    let mut b = b"\x80\x02}q\x00(".to_vec();
    text(&mut b, "epoch");
    b.extend_from_slice(b"K\x03");
    text(&mut b, "state_dict");
    let inner = pickle(&[spec("w", "FloatStorage", 1, &[1], &[1])]);
    b.extend_from_slice(&inner[2..inner.len() - 1]); // without PROTO and STOP
    b.extend_from_slice(b"u.");
    let zip = build(&[("ckpt/data.pkl", &b), ("ckpt/data/0", &f32s(&[2.5]))]);
    let sd = parse(&zip, "c.pt").unwrap();
    assert_eq!(sd.nested_under.as_deref(), Some("state_dict"));
    assert_eq!(sd.tensors["w"].values, Values::Float(vec![2.5]));
    // a dict with no tensors and no state_dict entry names its keys
    let mut b = b"\x80\x02}(".to_vec();
    text(&mut b, "epoch");
    b.extend_from_slice(b"K\x03u.");
    let e = parse(&build(&[("a/data.pkl", &b)]), "c.pt").unwrap_err().to_string();
    assert!(e.contains("top-level keys: [\"epoch\"]"), "{e}");
}

#[test]
fn damaged_archives_are_errors_or_values_never_panics() {
    let data = f32s(&[1.0, 2.0, 3.0, 4.0]);
    let specs = [
        spec("w", "FloatStorage", 4, &[2, 2], &[2, 1]),
        Spec { offset: 1, ..spec("v", "FloatStorage", 4, &[3], &[1]) },
    ];
    let good = archive(&specs, &[("0", data)], &[("archive/byteorder", b"little")]);
    assert!(parse(&good, "m").is_ok());
    let mut s = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20_000 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let mut damaged = good.clone();
        let at = (s % good.len() as u64) as usize;
        // a flipped bit, or a byte set to 0 / 0xff (the values that make sizes lie most)
        damaged[at] = match s >> 62 {
            0 => 0,
            1 => 0xff,
            _ => damaged[at] ^ (1 << ((s >> 40) % 8)),
        };
        let _ = parse(&damaged, "m");
    }
}
