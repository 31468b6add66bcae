//! The bad-input suites' shared part: small models, config and file builders, and the runner
//! that checks every case is an `Err` naming what it must (never a panic).

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use spectrans::layers::{Ctx, Module};
use spectrans::models::io::serialize_tensors;
use spectrans::models::{load_folder, save_folder, GenerateOptions, Input, Model, ModelConfig, Sampling};
use spectrans::tensor::{DType, Tensor};
use spectrans_tasks::{RunConfig, TaskConfig};

pub type Outcome = Result<(), String>;
/// A named bad input, its action, and the words its error message must contain.
pub type Case = (&'static str, Box<dyn Fn() -> Outcome>, Vec<&'static str>);
/// Float tensors of a safetensors file to write.
pub type Floats = Vec<(String, Tensor<f32>)>;
/// Integer tensors (name, shape, values) of a safetensors file to write.
pub type Ints = Vec<(String, Vec<usize>, Vec<i64>)>;

/// Parses a config and builds the model it describes.
pub fn build(json: &str) -> Result<Model<f32>, String> {
    let cfg = ModelConfig::from_json(json).map_err(|e| e.to_string())?;
    Model::from_config(&cfg, 0).map_err(|e| e.to_string())
}

pub fn config(json: &str) -> Outcome {
    build(json).map(|_| ())
}

pub const ENCODER: &str =
    r#"{"model_type": "fno_encoder", "hidden_dim": 16, "num_layers": 1, "modes": 4, "max_sequence_length": 16}"#;
pub const LEARNED: &str = r#"{"model_type": "fno_encoder", "hidden_dim": 16, "num_layers": 1, "modes": 4,
                          "max_sequence_length": 16, "positional_encoding_type": "learned"}"#;
pub const CLASSIFIER: &str = r#"{"model_type": "fno_transformer", "vocab_size": 50, "hidden_dim": 16, "num_layers": 1,
                             "modes": 4, "max_sequence_length": 16, "num_classes": 3, "pooling": "mean"}"#;
pub const DECODER: &str = r#"{"model_type": "fno_decoder", "vocab_size": 50, "hidden_dim": 16, "num_layers": 1,
                          "modes": 4, "max_sequence_length": 16, "causal": false}"#;

/// Builds `model_json` and runs it in inference mode.
pub fn run(model_json: &str, input: Input<'_, f32>, mask: Option<&[bool]>) -> Outcome {
    let model = build(model_json).expect("the model of a bad-input case is valid");
    model.forward(&Ctx::inference(), input, mask).map(|_| ()).map_err(|e| e.to_string())
}

pub fn embeds(model_json: &str, shape: &[usize]) -> Outcome {
    run(model_json, Input::Embeds(&Tensor::ones(shape)), None)
}

pub fn ids(model_json: &str, ids: &[usize], batch: usize, len: usize, mask: Option<&[bool]>) -> Outcome {
    run(model_json, Input::Ids { ids, batch, len }, mask)
}

pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 33) as u8
        })
        .collect()
}

/// A valid encoder folder (saved by this crate) whose weights file is then replaced by `weights`.
pub fn folder_with_weights(tag: &str, weights: &[u8]) -> Outcome {
    let dir = super::TempDir::new("bad-inputs", tag);
    save_folder(&build(ENCODER).unwrap(), &dir.0).unwrap();
    std::fs::write(dir.path("model.safetensors"), weights).unwrap();
    load_folder::<f32>(&dir.0).map(|_| ()).map_err(|e| e.to_string())
}

/// The encoder's state dict as PyTorch would save it, edited by `edit`.
pub fn edited_state(edit: impl FnOnce(&mut Floats, &mut Ints)) -> Vec<u8> {
    let model = build(ENCODER).unwrap();
    let mut floats: Floats = model.named_parameters().into_iter().map(|(n, p)| (n, p.value())).collect();
    floats.extend(model.named_buffers().into_iter().map(|(n, b)| (n, b.value())));
    let mut ints = Vec::new();
    edit(&mut floats, &mut ints);
    serialize_tensors(&floats, &ints, DType::F32, HashMap::new()).unwrap()
}

pub fn valid_weights() -> Vec<u8> {
    edited_state(|_, _| {})
}

/// `json` (a config) with `fields` added or overriding the earlier ones (JSON keeps the last).
pub fn with(json: &str, fields: &str) -> String {
    format!("{}, {fields}}}", json.trim_end().trim_end_matches('}'))
}

/// Builds an operator with `fields` set.
pub fn operator(fields: &str) -> Outcome {
    config(&format!(r#"{{"model_type": "fno_operator", {fields}}}"#))
}

/// Runs a small 1-D operator on `x`.
pub fn operator_input(x: &Tensor<f32>) -> Outcome {
    let Model::Operator(op) = build(r#"{"model_type": "fno_operator", "width": 4, "modes": 2, "num_layers": 1}"#)
        .expect("the operator of a bad-input case is valid")
    else {
        unreachable!("an operator config builds an operator")
    };
    op.forward(&Ctx::inference(), x).map(|_| ()).map_err(|e| e.to_string())
}

pub fn greedy() -> Sampling {
    Sampling::greedy()
}

/// Generates with a rotary decoder (no positional table, so nothing caps the length).
pub fn generate(prompt: &[usize], max_new_tokens: usize, sampling: Sampling) -> Outcome {
    let Model::Decoder(d) = build(&with(DECODER, r#""positional_encoding_type": "rotary", "causal": true"#))
        .expect("the decoder of a bad-input case is valid")
    else {
        unreachable!("a decoder config builds a decoder")
    };
    let opts = GenerateOptions { max_new_tokens, sampling, end_token: None, seed: 0 };
    d.generate(prompt, &opts).map(|_| ()).map_err(|e| e.to_string())
}

/// A safetensors file: the header `header` (JSON) and `data` zero bytes.
pub fn raw_file(header: &str, data: usize) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, data));
    bytes
}

/// A safetensors file whose header claims one F32 tensor `name` (quoted) of `shape`.
pub fn lying(name: &str, shape: &str, offsets: &str, data: usize) -> Vec<u8> {
    raw_file(&format!(r#"{{{name}:{{"dtype":"F32","shape":{shape},"data_offsets":{offsets}}}}}"#), data)
}

/// Validates a preset run configuration of `task` edited by `edit`.
pub fn run_config(task: &str, edit: impl FnOnce(&mut RunConfig)) -> Outcome {
    let mut c = RunConfig::preset(task, "default").expect("the presets exist");
    edit(&mut c);
    c.validate().map_err(|e| e.to_string())
}

pub fn burgers(c: &mut RunConfig) -> &mut spectrans_tasks::burgers::BurgersConfig {
    let TaskConfig::Burgers(b) = &mut c.task else { unreachable!("a burgers preset holds a burgers task") };
    b
}

/// A bad-input case: a name, an action, and the words its error message must contain.
pub fn case(name: &'static str, f: impl Fn() -> Outcome + 'static, words: &[&'static str]) -> Case {
    (name, Box::new(f), words.to_vec())
}

/// Runs every case; returns the failures (a panic, an accepted input, a message lacking a word).
pub fn check(cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, action, words) in cases {
        match catch_unwind(AssertUnwindSafe(action)) {
            Err(_) => failures.push(format!("{name}: PANICKED")),
            Ok(Ok(())) => failures.push(format!("{name}: accepted")),
            Ok(Err(msg)) => {
                println!("{name:<56} {msg}");
                let absent: Vec<&&str> = words.iter().filter(|w| !msg.contains(**w)).collect();
                if !absent.is_empty() {
                    failures.push(format!("{name}: message {msg:?} lacks {absent:?}"));
                }
            }
        }
    }
    println!("checked {} bad inputs", cases.len());
    failures
}
