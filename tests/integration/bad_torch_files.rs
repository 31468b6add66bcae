//! Bad and hostile `torch.save` files: each gives one clear error naming the file and the fault,
//! never a panic, whether parsed from bytes, loaded from a model folder or run by the CLI. The
//! hostile files were written by PyTorch (`tests/fixtures/torch/make_fixtures.py`, `bad/`); the
//! rest are byte-level damage to a good file done here.

use crate::common;

use std::path::PathBuf;

use spectrans::models::load_folder;
use spectrans::models::torch_file::parse;

fn bad(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch/bad").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (case, file bytes, fragments the error must contain).
fn cases() -> Vec<(&'static str, Vec<u8>, Vec<&'static str>)> {
    let good = bad("good.pt");
    let mut wrong_magic = good.clone();
    wrong_magic[..4].copy_from_slice(b"GIF8");
    let mut safetensors = 16u64.to_le_bytes().to_vec();
    safetensors.extend_from_slice(b"{\"__metadata__\":{}}");
    vec![
        (
            "legacy pre-1.6 format",
            bad("legacy.pt"),
            vec!["legacy torch.save format (PyTorch < 1.6)", "re-save with torch >= 1.6"],
        ),
        (
            "a global off the allow-list",
            bad("evil_global.pt"),
            vec!["`posix.system`", "allow-list", "nothing is executed"],
        ),
        (
            "absurd shape",
            bad("absurd_shape.pt"),
            vec!["tensor \"w\"", "[2147483648, 2147483648]", "reaches past its storage of 4 elements"],
        ),
        ("broadcast bomb", bad("broadcast_bomb.pt"), vec!["tensor \"w\"", "repeats its storage of 4 elements"]),
        (
            "storage shorter than it claims",
            bad("short_storage.pt"),
            vec!["tensor \"w\"", "holds 8 bytes, fewer than the 4 float32 elements"],
        ),
        ("TorchScript archive", bad("torchscript.pt"), vec!["TorchScript", "state_dict"]),
        ("big-endian archive", bad("big_endian.pt"), vec!["big-endian", "little-endian"]),
        ("compressed entries", bad("compressed.pt"), vec!["compressed (method 8)"]),
        ("no data.pkl", bad("no_pickle.pt"), vec!["no <archive>/data.pkl"]),
        ("truncated pickle", bad("truncated_pickle.pt"), vec!["good/data.pkl", "truncated pickle"]),
        ("truncated archive", good[..good.len() / 2].to_vec(), vec!["truncated or corrupt zip archive"]),
        ("end record cut", good[..good.len() - 5].to_vec(), vec!["zip archive"]),
        ("wrong magic", wrong_magic, vec!["not a torch.save file: no zip signature"]),
        ("empty file", Vec::new(), vec!["empty file"]),
        ("a safetensors file named .pt", safetensors, vec!["safetensors file; name it model.safetensors"]),
        ("a bare pickle", b"\x80\x02}q\x00.".to_vec(), vec!["bare pickle"]),
    ]
}

#[test]
fn each_bad_file_gets_its_own_clear_error() {
    assert!(parse(&bad("good.pt"), "good.pt").is_ok(), "the base of the damaged files is good");
    for (case, bytes, want) in cases() {
        let e = parse(&bytes, "model.pt").err().unwrap_or_else(|| panic!("{case}: parsed")).to_string();
        assert!(e.starts_with("checkpoint model.pt: "), "{case}: {e}");
        for w in want {
            assert!(e.contains(w), "{case}: `{w}` not in: {e}");
        }
    }
}

#[test]
fn bad_files_in_a_model_folder_fail_with_one_error_line_naming_the_file() {
    let config =
        r#"{"model_type": "fno_encoder", "hidden_dim": 4, "num_layers": 1, "modes": 2, "max_sequence_length": 8}"#;
    for (i, (case, bytes, want)) in cases().into_iter().enumerate() {
        let dir = common::TempDir::new("bad-torch", &i.to_string());
        std::fs::write(dir.path("config.json"), config).unwrap();
        std::fs::write(dir.path("model.pt"), &bytes).unwrap();
        let e = load_folder::<f32>(&dir.0).err().unwrap_or_else(|| panic!("{case}: loaded")).to_string();
        assert!(e.contains(&dir.path("model.pt").display().to_string()) && e.contains(want[0]), "{case}: {e}");
        let out = common::spectrans().args(["info", "--model"]).arg(&dir.0).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.lines().count() == 1 && err.starts_with("error: "), "{case}: {err}");
        let out = common::spectrans().args(["convert", "--model"]).arg(&dir.0).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.lines().count() == 1 && err.contains(want[0]), "{case}: {err}");
        assert!(!dir.path("model.safetensors").exists(), "{case}: nothing written");
    }
}

#[test]
fn every_truncation_and_many_byte_flips_of_real_files_are_errors_or_values_never_panics() {
    for name in ["good.pt", "torchscript.pt"] {
        let good = bad(name);
        for cut in 0..good.len() {
            assert!(parse(&good[..cut], name).is_err(), "{name} cut at {cut}");
        }
        // xorshift-chosen single-byte damage anywhere: parse must return (Ok or Err), not panic
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..4000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let mut damaged = good.clone();
            let at = (s % good.len() as u64) as usize;
            damaged[at] ^= 1 << (s >> 61);
            let _ = parse(&damaged, name);
        }
    }
}
