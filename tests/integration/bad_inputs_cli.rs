//! Bad input through the command line: every case exits non-zero (never by a signal or a panic)
//! and prints a clear `error: ` line naming the file, field, flag or shape at fault. The
//! program's own errors are exactly one line; clap's usage errors (a malformed flag value) start
//! with `error: ` and add clap's hint. Absurd sizes are tried for real.

use crate::common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use spectrans::models::io::serialize_tensors;
use spectrans::models::{save_folder, CharTokenizer, Model, ModelConfig};
use spectrans::tensor::{DType, Tensor};

type Floats = Vec<(String, Tensor<f32>)>;
type Ints = Vec<(String, Vec<usize>, Vec<i64>)>;

const CLASSIFIER: &str = r#"{"model_type": "fno_transformer", "vocab_size": 50, "hidden_dim": 16, "num_layers": 1,
                             "modes": 4, "max_sequence_length": 16, "num_classes": 3, "pooling": "mean"}"#;
const ROTARY_DECODER: &str = r#"{"model_type": "fno_decoder", "vocab_size": 5, "hidden_dim": 8, "num_layers": 1,
                                 "modes": 3, "max_sequence_length": 16, "positional_encoding_type": "rotary"}"#;

/// One command-line case: its name, arguments, extra environment, whether clap rejects it (a
/// usage error), and the words its first stderr line must contain.
struct Case {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
    usage: bool,
    words: Vec<&'static str>,
}

fn case(name: &'static str, args: &[&str], words: &[&'static str]) -> Case {
    Case { name, args: args.iter().map(|s| s.to_string()).collect(), env: vec![], usage: false, words: words.to_vec() }
}

fn args(name: &'static str, args: Vec<String>, words: &[&'static str]) -> Case {
    Case { name, args, env: vec![], usage: false, words: words.to_vec() }
}

fn model_folder(dir: &Path, name: &str, json: &str) -> PathBuf {
    let cfg = ModelConfig::from_json(json).unwrap();
    let path = dir.join(name);
    save_folder(&Model::<f32>::from_config(&cfg, 0).unwrap(), &path).unwrap();
    path
}

/// A folder holding only `config.json` with `json` (built by `--init-seed`, never saved).
fn config_folder(dir: &Path, name: &str, json: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("config.json"), json).unwrap();
    path
}

fn write_input(path: &Path, floats: &[(String, Tensor<f32>)], ints: &[(String, Vec<usize>, Vec<i64>)]) {
    std::fs::write(path, serialize_tensors(floats, ints, DType::F32, HashMap::new()).unwrap()).unwrap();
}

/// A safetensors file whose header claims one F32 tensor `name` of `shape` over `data` bytes.
fn lying_file(path: &Path, name: &str, shape: &str, offsets: &str, data: usize) {
    let header = format!(r#"{{"{name}":{{"dtype":"F32","shape":{shape},"data_offsets":{offsets}}}}}"#);
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, data));
    std::fs::write(path, bytes).unwrap();
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

fn cases(dir: &Path) -> Vec<Case> {
    let model = model_folder(dir, "model", CLASSIFIER);
    let corrupt = model_folder(dir, "corrupt", CLASSIFIER);
    std::fs::write(corrupt.join("model.safetensors"), b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}").unwrap();
    // weights with a NaN, and finite weights with which the first block overflows f32 whatever
    // the order of the sums: the FFN's first bias is f32::MAX, so every hidden unit is about
    // f32::MAX (GELU keeps it positive), and its second weight is f32::MAX, so every product in
    // the second matrix product is +inf. (Huge weights on a LayerNorm output, whose entries sum
    // to zero, overflow or not depending on the GEMM kernel's summation order.)
    let nan = model_folder(dir, "nan-weights", CLASSIFIER);
    let huge = model_folder(dir, "huge-weights", CLASSIFIER);
    let nan_weights: &[(&str, f32)] = &[("blocks.0.ffn.0.weight", f32::NAN)];
    let huge_weights: &[(&str, f32)] = &[("blocks.0.ffn.0.bias", f32::MAX), ("blocks.0.ffn.3.weight", f32::MAX)];
    for (folder, values) in [(&nan, nan_weights), (&huge, huge_weights)] {
        let m = Model::<f32>::from_config(&ModelConfig::from_json(CLASSIFIER).unwrap(), 0).unwrap();
        let mut floats: Floats = spectrans::layers::Module::named_parameters(&m)
            .into_iter()
            .map(|(n, prm)| (n, prm.value()))
            .chain(spectrans::layers::Module::named_buffers(&m).into_iter().map(|(n, b)| (n, b.value())))
            .collect();
        for &(name, value) in values {
            let t = floats.iter_mut().find(|(n, _)| n == name).unwrap();
            t.1 = Tensor::full(t.1.shape(), value);
        }
        write_input(&folder.join("model.safetensors"), &floats, &[]);
    }
    let decoder = model_folder(dir, "decoder", ROTARY_DECODER);
    CharTokenizer::from_text("abcd").save(&decoder).unwrap();
    let encoder = model_folder(dir, "encoder", r#"{"model_type": "fno_encoder", "hidden_dim": 8, "num_layers": 1}"#);
    let absurd = |name: &str, fields: &str| {
        config_folder(dir, name, &format!(r#"{{"model_type": "fno_transformer", "vocab_size": 50, {fields}}}"#))
    };
    let long = absurd("long", r#""hidden_dim": 16, "max_sequence_length": 1000000000000"#);
    let wide = absurd("wide", r#""hidden_dim": 1099511627776"#);
    let vocab = absurd("vocab", r#""hidden_dim": 16, "vocab_size": 1125899906842624"#);
    let modes = absurd("modes", r#""hidden_dim": 16, "modes": 1099511627776"#);
    let layers = absurd("layers", r#""hidden_dim": 16, "num_layers": 1099511627776"#);
    let ffn = absurd("ffn", r#""hidden_dim": 16, "ffn_hidden_dim": 70368744177664"#);
    let ratio = absurd("ratio", r#""hidden_dim": 16, "mlp_ratio": 1e300"#);
    let classes = absurd("classes", r#""hidden_dim": 16, "num_classes": 1125899906842624"#);
    let grid = absurd("grid", r#""hidden_dim": 16, "use_2d": true, "spatial_dim": 4294967296"#);
    let float_len = absurd("float-len", r#""hidden_dim": 16, "max_sequence_length": 1e12"#);
    let wide_info = absurd("wide-info", r#""hidden_dim": 1099511627776"#);
    std::fs::copy(model.join("model.safetensors"), wide_info.join("model.safetensors")).unwrap();
    let op_width = config_folder(dir, "op-width", r#"{"model_type": "fno_operator", "width": 1099511627776}"#);
    let ids = |v: Vec<i64>| ("input_ids".to_string(), vec![2, 3], v);
    let good_ids = || ids(vec![1, 2, 3, 4, 5, 6]);
    let inputs: [(&str, Floats, Ints); 12] = [
        ("good", vec![], vec![good_ids()]),
        ("no-input", vec![("x".into(), Tensor::ones(&[2, 3, 16]))], vec![]),
        ("negative", vec![], vec![ids(vec![1, 2, -3, 4, 5, 6])]),
        ("bad-mask", vec![], vec![good_ids(), ("attention_mask".into(), vec![2, 3], vec![1, 1, 2, 1, 0, 1])]),
        ("float-ids", vec![("input_ids".into(), Tensor::ones(&[2, 3]))], vec![]),
        ("mask-shape", vec![], vec![good_ids(), ("attention_mask".into(), vec![3, 2], vec![1; 6])]),
        ("rank3-ids", vec![], vec![("input_ids".into(), vec![1, 2, 3], vec![1; 6])]),
        ("big-id", vec![], vec![ids(vec![1, 2, 3, 4, 5, 50])]),
        ("both", vec![("inputs_embeds".into(), Tensor::ones(&[2, 3, 16]))], vec![good_ids()]),
        ("int-embeds", vec![], vec![("inputs_embeds".into(), vec![2, 3], vec![1; 6])]),
        ("float-mask", vec![("attention_mask".into(), Tensor::ones(&[2, 3]))], vec![good_ids()]),
        ("empty-ids", vec![], vec![("input_ids".into(), vec![0, 3], vec![])]),
    ];
    for (name, f, i) in &inputs {
        write_input(&dir.join(format!("{name}.safetensors")), f, i);
    }
    let input = |name: &str| p(&dir.join(format!("{name}.safetensors")));
    let huge_input = dir.join("huge-input.safetensors");
    lying_file(&huge_input, "input_ids", "[1152921504606846976]", "[0,16]", 16);
    let overflow_input = dir.join("overflow-input.safetensors");
    lying_file(&overflow_input, "input_ids", "[1099511627776,1099511627776,1099511627776]", "[0,16]", 16);
    let past_end = dir.join("past-end.safetensors");
    lying_file(&past_end, "input_ids", "[4]", "[0,1099511627776]", 16);
    let out = p(&dir.join("out.safetensors"));
    let fwd = |m: &Path, i: &str, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> =
            ["forward", "--model", &p(m), "--input", i, "--output", &out].map(String::from).to_vec();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let gen = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["generate", "--model", &p(&decoder)].map(String::from).to_vec();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run_dir = p(&dir.join("run"));
    let train = |task: &str, extra: &[&str]| -> Vec<String> {
        // --max-steps 1 bounds the damage should a case be accepted by mistake
        let mut v: Vec<String> =
            ["train", task, "--no-progress", "--max-steps", "1", "--out", &run_dir].map(String::from).to_vec();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    // a resumable-looking run whose config.json was edited by hand (subsample 0)
    let edited = dir.join("edited-run");
    std::fs::create_dir_all(&edited).unwrap();
    let preset = spectrans_tasks::RunConfig::preset("burgers", "default").unwrap().to_json();
    let subsample = regex_free_replace(&preset, "\"subsample\": ", "0");
    std::fs::write(edited.join("config.json"), subsample).unwrap();
    let with = |mut c: Case, env: &[(&'static str, &'static str)]| {
        c.env = env.to_vec();
        c
    };
    let usage = |mut c: Case| {
        c.usage = true;
        c
    };
    vec![
        // ---- forward: files and tensors
        args("missing model folder", fwd(&dir.join("nowhere"), &input("good"), &[]), &["nowhere", "config.json"]),
        args("corrupt weights", fwd(&corrupt, &input("good"), &[]), &["model.safetensors", "not a valid safetensors"]),
        args("no input tensor", fwd(&model, &input("no-input"), &[]), &["input_ids", "inputs_embeds", "\"x\""]),
        args("negative ids", fwd(&model, &input("negative"), &[]), &["input_ids", "negative id -3"]),
        args("attention_mask value 2", fwd(&model, &input("bad-mask"), &[]), &["attention_mask", "0 or 1", "found 2"]),
        args("input_ids stored as floats", fwd(&model, &input("float-ids"), &[]), &["input_ids", "integer tensor"]),
        args("attention_mask shape", fwd(&model, &input("mask-shape"), &[]), &["attention_mask", "[3, 2]", "[2, 3]"]),
        args("input_ids of rank 3", fwd(&model, &input("rank3-ids"), &[]), &["input_ids", "(B, N)", "[1, 2, 3]"]),
        args("token id = vocabulary", fwd(&model, &input("big-id"), &[]), &["token id 50", "vocabulary of 50"]),
        args("input_ids and inputs_embeds", fwd(&model, &input("both"), &[]), &["both input_ids and inputs_embeds"]),
        args("integer inputs_embeds", fwd(&model, &input("int-embeds"), &[]), &["inputs_embeds", "float tensor"]),
        args("float attention_mask", fwd(&model, &input("float-mask"), &[]), &["attention_mask", "integer tensor"]),
        args("empty input_ids", fwd(&model, &input("empty-ids"), &[]), &["empty input", "[0, 3]"]),
        args("input file missing", fwd(&model, &input("absent"), &[]), &["absent.safetensors"]),
        args("input file is a folder", fwd(&model, &p(dir), &[]), &["bad-inputs-cli"]),
        args("header: 2^60-element tensor", fwd(&model, &p(&huge_input), &[]), &["huge-input.safetensors"]),
        args("header: shape overflows", fwd(&model, &p(&overflow_input), &[]), &["overflow-input.safetensors"]),
        args("header: offsets past the end", fwd(&model, &p(&past_end), &[]), &["past-end.safetensors"]),
        args(
            "output folder missing",
            vec![
                "forward".into(),
                "--model".into(),
                p(&model),
                "--input".into(),
                input("good"),
                "--output".into(),
                p(&dir.join("no/such/out.safetensors")),
            ],
            &["no/such/out"],
        ),
        args("NaN in the weights", fwd(&nan, &input("good"), &[]), &["NaN or infinite", "blocks.0.ffn.0.weight"]),
        args(
            "--check-finite names the module",
            fwd(&huge, &input("good"), &["--check-finite"]),
            &["non-finite output", "`blocks.0`"],
        ),
        usage(args("--dtype f16", fwd(&model, &input("good"), &["--dtype", "f16"]), &["f16", "--dtype"])),
        usage(args("--init-seed -1", fwd(&long, &input("good"), &["--init-seed", "-1"]), &[])),
        usage(case("forward without --input", &["forward", "--model", "m", "--output", "o"], &["required arguments"])),
        usage(case("unknown command", &["fly"], &["fly"])),
        // ---- forward --init-seed: absurd sizes refused before allocating
        args(
            "max_sequence_length 1e12 (integer)",
            fwd(&long, &input("good"), &["--init-seed", "1"]),
            &["`max_sequence_length`", "bytes", "positional_encoding"],
        ),
        args(
            "max_sequence_length 1e12 (float)",
            fwd(&float_len, &input("good"), &["--init-seed", "1"]),
            &["`max_sequence_length`", "floating point"],
        ),
        args("hidden_dim 2^40", fwd(&wide, &input("good"), &["--init-seed", "1"]), &["`hidden_dim`", "bytes"]),
        args("vocab_size 2^50", fwd(&vocab, &input("good"), &["--init-seed", "1"]), &["`vocab_size`", "bytes"]),
        args("modes 2^40", fwd(&modes, &input("good"), &["--init-seed", "1"]), &["`modes`", "bytes"]),
        args("num_layers 2^40", fwd(&layers, &input("good"), &["--init-seed", "1"]), &["`num_layers`", "bytes"]),
        args("ffn_hidden_dim 2^46", fwd(&ffn, &input("good"), &["--init-seed", "1"]), &["`ffn_hidden_dim`"]),
        args("mlp_ratio 1e300", fwd(&ratio, &input("good"), &["--init-seed", "1"]), &["`mlp_ratio`", "FFN width"]),
        args("num_classes 2^50", fwd(&classes, &input("good"), &["--init-seed", "1"]), &["`num_classes`", "bytes"]),
        args("spatial_dim 2^32", fwd(&grid, &input("good"), &["--init-seed", "1"]), &["`max_sequence_length`"]),
        args("operator width 2^40", fwd(&op_width, &input("good"), &["--init-seed", "1"]), &["`width`", "bytes"]),
        with(
            args("SPECTRANS_MAX_BYTES=1K", fwd(&long, &input("good"), &["--init-seed", "1"]), &["SPECTRANS_MAX_BYTES"]),
            &[("SPECTRANS_MAX_BYTES", "1K")],
        ),
        with(
            args("SPECTRANS_MAX_BYTES unparsable", fwd(&model, &input("good"), &[]), &["SPECTRANS_MAX_BYTES", "lots"]),
            &[("SPECTRANS_MAX_BYTES", "lots")],
        ),
        // ---- generate
        usage(args("--max-new-tokens 1e15", gen(&["--prompt", "ab", "--max-new-tokens", "1e15"]), &["1e15"])),
        args(
            "--max-new-tokens 10^15",
            gen(&["--prompt", "ab", "--max-new-tokens", "1000000000000000"]),
            &["max_new_tokens 1000000000000000", "bytes"],
        ),
        args(
            "--max-new-tokens usize::MAX",
            gen(&["--prompt", "ab", "--max-new-tokens", "18446744073709551615"]),
            &["`max_new_tokens`", "overflows"],
        ),
        args("--temperature -1", gen(&["--prompt", "ab", "--temperature=-1"]), &["`temperature`", "-1"]),
        args("--top-k 0", gen(&["--prompt", "ab", "--top-k", "0"]), &["`top_k`"]),
        args("--top-p 1.5", gen(&["--prompt", "ab", "--top-p", "1.5"]), &["`top_p`", "1.5"]),
        args("--top-p NaN", gen(&["--prompt", "ab", "--top-p", "NaN"]), &["`top_p`", "NaN"]),
        args("prompt outside the alphabet", gen(&["--prompt", "abz"]), &["--prompt", "z"]),
        args("empty prompt", gen(&["--prompt", ""]), &["non-empty prompt"]),
        args("--stop outside the alphabet", gen(&["--prompt", "ab", "--stop", "q"]), &["--stop", "q"]),
        args(
            "generate on an encoder",
            vec!["generate".into(), "--model".into(), p(&encoder), "--prompt".into(), "a".into()],
            &["fno_decoder"],
        ),
        args(
            "generate without tokenizer.json",
            vec![
                "generate".into(),
                "--model".into(),
                p(&model_folder(dir, "no-tok", ROTARY_DECODER)),
                "--prompt".into(),
                "a".into(),
            ],
            &["tokenizer.json"],
        ),
        // ---- train and eval
        args("--batch-size 2^50", train("classify", &["--batch-size", "1125899906842624"]), &["batch_size", "bytes"]),
        args("--n-train 2^50 (classify)", train("classify", &["--n-train", "1125899906842624"]), &["n_train", "bytes"]),
        args("--n-train 2^45 (burgers)", train("burgers", &["--n-train", "35184372088832"]), &["n_train", "Burgers"]),
        args("--seq-len 2^40 (classify)", train("classify", &["--seq-len", "1099511627776"]), &["seq_len", "bytes"]),
        args("--width 2^40 (lm)", train("lm", &["--width", "1099511627776"]), &["hidden_dim", "bytes"]),
        args("--layers 2^40 (burgers)", train("burgers", &["--layers", "1099511627776"]), &["num_layers", "bytes"]),
        args("--batch-size 0", train("classify", &["--batch-size", "0"]), &["batch_size", "at least 1"]),
        args("--resolution 3 (burgers)", train("burgers", &["--resolution", "3"]), &["--resolution", "divide"]),
        args("--seq-len on burgers", train("burgers", &["--seq-len", "5"]), &["--seq-len", "burgers"]),
        args("--threads 0", train("classify", &["--threads", "0"]), &["--threads"]),
        args("--preset huge", train("lm", &["--preset", "huge"]), &["preset", "huge"]),
        args("--corpus missing", train("lm", &["--corpus", "/no/such/corpus.txt"]), &["/no/such/corpus.txt"]),
        args("--lr NaN", train("classify", &["--lr", "NaN"]), &["lr", "NaN"]),
        usage(args("--epochs -1", train("classify", &["--epochs=-1"]), &["--epochs"])),
        args(
            "resume of a hand-edited run (subsample 0)",
            vec![
                "train".into(),
                "burgers".into(),
                "--resume".into(),
                "--no-progress".into(),
                "--out".into(),
                p(&edited),
            ],
            &["config.json", "subsample"],
        ),
        args("eval of a missing folder", vec!["eval".into(), "--model".into(), p(&dir.join("nowhere"))], &["nowhere"]),
        args("info of an absurd config", vec!["info".into(), "--model".into(), p(&wide_info)], &["`hidden_dim`"]),
    ]
}

/// `text` with the value after the first `key` replaced by `value` (up to the next comma).
fn regex_free_replace(text: &str, key: &str, value: &str) -> String {
    let start = text.find(key).expect("key present") + key.len();
    let end = start + text[start..].find([',', '\n']).expect("value ends");
    format!("{}{value}{}", &text[..start], &text[end..])
}

#[test]
fn every_cli_failure_is_a_clear_error_and_a_non_zero_exit() {
    let dir = common::TempDir::new("bad-inputs-cli", "all");
    let cases = cases(&dir.0);
    let good = common::forward(&dir.path("model"), &dir.path("good.safetensors"), &dir.path("out.safetensors"), &[]);
    assert!(good.status.success() && good.stderr.is_empty(), "{}", String::from_utf8_lossy(&good.stderr));
    let mut failures = Vec::new();
    for c in &cases {
        let mut cmd = common::spectrans();
        cmd.args(&c.args).current_dir(&dir.0).env_remove("SPECTRANS_MAX_BYTES");
        for (k, v) in &c.env {
            cmd.env(k, v);
        }
        let o = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        let first = stderr.lines().next().unwrap_or("");
        println!("{:<44} {first}", c.name);
        let want_code = if c.usage { 2 } else { 1 };
        if o.status.code() != Some(want_code) {
            failures.push(format!("{}: exit {:?} (want {want_code}): {stderr}", c.name, o.status));
        } else if stderr.contains("panicked") || !first.starts_with("error: ") {
            failures.push(format!("{}: not a clean error: {stderr:?}", c.name));
        } else if !c.usage && stderr.lines().count() != 1 {
            failures.push(format!("{}: more than one line: {stderr:?}", c.name));
        } else if let Some(w) = c.words.iter().find(|w| !first.contains(**w)) {
            failures.push(format!("{}: {first:?} lacks {w:?}", c.name));
        }
    }
    println!("checked {} bad command lines", cases.len());
    assert!(cases.len() >= 60);
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
