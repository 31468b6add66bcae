//! Fuzzing entry points of the spectrans loaders. Each takes arbitrary bytes, feeds them to the
//! library the way a user's file would be, and may see `Ok` or `Err` — never a panic, a hang or an
//! unbounded allocation. The `cargo fuzz` targets in `fuzz_targets/` call these functions, and the
//! root package's `tests/integration/fuzz_regressions.rs` includes this file to replay the committed corpus
//! (`tests/fuzz_corpus/<target>/`) through the same code in the normal `cargo test`.
//!
//! Configurations are capped before a model is built ([`small_enough`]): a valid but absurd
//! `config.json` (a width of 10⁹) is a memory bomb that only the library's resource checks can
//! refuse, which is not what these targets test.

use std::path::Path;

use spectrans_layers::{Ctx, Module};
use spectrans_models::io::parse_tensors;
use spectrans_models::{load_parts, CharTokenizer, InputFile, Model, ModelConfig};
use spectrans_tensor::{Tape, Tensor};
use spectrans_train::optim::{Adam, AdamConfig, AdamW, AdamWConfig, OptimState, Optimizer, Sgd, SgdConfig};
use spectrans_train::trainer::TrainerState;

/// A fuzzing entry point: arbitrary bytes in, a panic is a bug.
pub type Entry = fn(&[u8]);

/// The fuzz targets, by name (each is a function of this module and a folder of the corpus).
pub const TARGETS: [(&str, Entry); 6] = [
    ("checkpoint", checkpoint),
    ("torch_file", torch_file),
    ("config", config),
    ("forward_input", forward_input),
    ("tokenizer", tokenizer),
    ("resume", resume),
];

/// Splits `[len: u16 LE][len bytes][rest]` into its two parts (`None` when too short).
pub fn split_frame(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = data.split_first_chunk::<2>()?;
    let len = u16::from_le_bytes(*len) as usize;
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// Builds a frame that [`split_frame`] splits back into `head` and `tail`.
pub fn frame(head: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut out = (head.len() as u16).to_le_bytes().to_vec();
    out.extend_from_slice(head);
    out.extend_from_slice(tail);
    out
}

/// Whether every size a configuration declares is small (so building it is cheap).
pub fn small_enough(cfg: &ModelConfig) -> bool {
    let Some(bb) = cfg.backbone() else {
        let ModelConfig::Operator(c) = cfg else { return false };
        return c.in_channels <= 8
            && c.out_channels <= 8
            && c.width <= 32
            && c.modes <= 32
            && c.num_layers <= 4
            && c.projection_dim <= 64;
    };
    let extra_ok = match cfg {
        ModelConfig::Transformer(c) => c.num_classes.unwrap_or(0) <= 64,
        _ => true,
    };
    extra_ok
        && bb.hidden_dim <= 64
        && bb.num_layers <= 4
        && bb.max_sequence_length <= 256
        && bb.modes <= 256
        && bb.vocab_size.unwrap_or(0) <= 512
        && bb.block().ffn_width().unwrap_or(0) <= 256
        && bb.spatial_dim.unwrap_or(0) <= 16
}

/// Runs `model` once on a small input of the kind it takes (ids or embeddings of a fitting shape).
pub fn probe_forward(model: &Model<f32>) {
    let ctx = Ctx::inference();
    let cfg = model.config();
    let _ = match (&cfg, cfg.backbone()) {
        (ModelConfig::Operator(c), _) => {
            let shape: Vec<usize> =
                if c.spatial_dims == 2 { vec![1, 4, 4, c.in_channels] } else { vec![1, 8, c.in_channels] };
            model.forward(&ctx, spectrans_models::Input::Embeds(&Tensor::ones(&shape)), None)
        }
        (_, Some(bb)) => {
            let len = if bb.spatial_dim.is_some() { bb.max_sequence_length } else { bb.max_sequence_length.min(8) };
            match bb.vocab_size {
                Some(v) => {
                    let ids: Vec<usize> = (0..2 * len).map(|i| i % v).collect();
                    let mask: Vec<bool> = (0..2 * len).map(|i| i % 3 != 2).collect();
                    model.forward(&ctx, spectrans_models::Input::Ids { ids: &ids, batch: 2, len }, Some(&mask))
                }
                None => {
                    let x = Tensor::ones(&[2, len, bb.hidden_dim]);
                    model.forward(&ctx, spectrans_models::Input::Embeds(&x), None)
                }
            }
        }
        (_, None) => return,
    };
}

/// `model.safetensors` with the `config.json` it belongs to: a frame of the configuration text and
/// the weights bytes, loaded as `load_folder` would, then run once.
pub fn checkpoint(data: &[u8]) {
    let Some((head, weights)) = split_frame(data) else { return };
    let Ok(text) = std::str::from_utf8(head) else { return };
    let Ok(cfg) = ModelConfig::from_json(text) else { return };
    if !small_enough(&cfg) {
        return;
    }
    let Ok(file) = parse_tensors::<f32>(weights, "model.safetensors") else { return };
    if let Ok(loaded) = load_parts::<f32>(cfg, &file, "model.safetensors") {
        probe_forward(&loaded.model);
    }
}

/// A `torch.save` file (`model.pt`): the restricted zip + pickle reader, then the conversion to
/// named tensors that a model folder loads.
pub fn torch_file(data: &[u8]) {
    if let Ok(state) = spectrans_models::torch_file::parse(data, "model.pt") {
        let _ = state.into_tensor_file::<f32>();
    }
}

/// `config.json` text: parsed (and its JSON must parse back to the same configuration), then,
/// when its sizes are small, built and run once.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(cfg) = ModelConfig::from_json(text) else { return };
    let again = ModelConfig::from_json(&cfg.to_json()).expect("a valid configuration's JSON parses back");
    assert_eq!(again, cfg, "the JSON of a configuration parses back to it");
    if small_enough(&cfg) {
        if let Ok(model) = Model::<f32>::from_config(&cfg, 0) {
            probe_forward(&model);
        }
    }
}

thread_local! {
    /// Small models of every kind, for the inputs of `spectrans forward`.
    static MODELS: Vec<Model<f32>> = [
        r#"{"model_type": "fno_transformer", "vocab_size": 8, "hidden_dim": 8, "num_layers": 1, "modes": 4,
            "max_sequence_length": 16, "num_classes": 3, "pooling": "mean"}"#,
        r#"{"model_type": "fno_transformer", "hidden_dim": 8, "num_layers": 1, "modes": 3,
            "max_sequence_length": 16, "use_2d": true, "spatial_dim": 4, "num_classes": 2, "pooling": "max"}"#,
        r#"{"model_type": "fno_encoder", "hidden_dim": 8, "num_layers": 1, "modes": 4, "max_sequence_length": 16,
            "positional_encoding_type": "learned"}"#,
        r#"{"model_type": "fno_decoder", "vocab_size": 8, "hidden_dim": 8, "num_layers": 1, "modes": 4,
            "max_sequence_length": 16, "positional_encoding_type": "rotary"}"#,
        r#"{"model_type": "fno_operator", "width": 4, "modes": 3, "num_layers": 1, "projection_dim": 4}"#,
        r#"{"model_type": "fno_operator", "in_channels": 2, "width": 4, "modes": 2, "num_layers": 1,
            "projection_dim": 4, "spatial_dims": 2, "grid": "periodic"}"#,
    ]
    .iter()
    .map(|c| Model::from_config(&ModelConfig::from_json(c).expect("a valid configuration"), 0).expect("a small model"))
    .collect();
}

/// The input file of `spectrans forward`, validated and run through small models of every kind.
pub fn forward_input(data: &[u8]) {
    let Ok(file) = InputFile::<f32>::parse(data, "input.safetensors") else { return };
    MODELS.with(|models| {
        for model in models {
            let _ = model.forward(&Ctx::inference(), file.input(), file.mask());
        }
    });
}

/// `tokenizer.json` text, a NUL byte, then text to encode (and bytes to decode as ids): a text
/// that encodes must decode back to itself.
pub fn tokenizer(data: &[u8]) {
    let (json, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(json) = std::str::from_utf8(json) else { return };
    let Ok(tok) = CharTokenizer::from_json(json, "tokenizer.json") else { return };
    let text = String::from_utf8_lossy(rest);
    if let Ok(ids) = tok.encode(&text) {
        assert_eq!(tok.decode(&ids).expect("encoded ids decode"), text, "decode(encode(t)) == t");
    }
    let ids: Vec<usize> = rest.iter().map(|&b| b as usize).collect();
    let _ = tok.decode(&ids);
}

thread_local! {
    /// The model whose optimiser states the `resume` target loads.
    static RESUME_MODEL: Model<f32> = Model::from_config(&resume_model_config(), 0).expect("a small model");
}

/// The configuration of the model the `resume` target's optimiser states belong to.
pub fn resume_model_config() -> ModelConfig {
    ModelConfig::from_json(
        r#"{"model_type": "fno_transformer", "vocab_size": 6, "hidden_dim": 4, "num_layers": 1, "modes": 2,
            "max_sequence_length": 8, "num_classes": 2}"#,
    )
    .expect("a valid configuration")
}

/// The optimiser of `kind` over `params` (the three the trainer can resume).
fn optimizer_of(kind: &str, params: Vec<spectrans_tensor::Parameter<f32>>) -> Option<Box<dyn Optimizer<f32>>> {
    Some(match kind {
        "adam" => Box::new(Adam::new(params, AdamConfig::default()).ok()?),
        "adamw" => Box::new(AdamW::new(params, AdamWConfig::default()).ok()?),
        "sgd" => Box::new(Sgd::new(params, SgdConfig { momentum: 0.9, ..Default::default() }).ok()?),
        _ => return None,
    })
}

/// What `--resume` reads besides the weights: the first byte picks `trainer.json` (even) or
/// `optimizer.safetensors` (odd) for the rest. A trainer state must survive its JSON round trip; an
/// optimiser state is loaded into an optimiser of its kind over a small model, which then steps.
pub fn resume(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else { return };
    if which % 2 == 0 {
        let Ok(text) = std::str::from_utf8(body) else { return };
        let Ok(state) = TrainerState::from_json(text, "trainer.json") else { return };
        let json = serde_json::to_string(&state).expect("a trainer state serialises");
        let back = TrainerState::from_json(&json, "trainer.json").expect("a trainer state's JSON parses back");
        assert_eq!(format!("{back:?}"), format!("{state:?}"), "trainer.json round trip");
        return;
    }
    let Ok(state) = OptimState::<f32>::from_safetensors(body, "optimizer.safetensors") else { return };
    RESUME_MODEL.with(|model| {
        let params = model.parameters();
        let Some(mut opt) = optimizer_of(&state.kind, params.clone()) else { return };
        let before: Vec<Tensor<f32>> = params.iter().map(|p| p.value()).collect();
        if opt.load_state(state).is_ok() {
            let _ = opt.step();
        }
        // leave the shared model as it was for the next input
        for (p, v) in params.iter().zip(before) {
            p.set_value(v).expect("the same shape");
            p.zero_grad();
        }
    });
}

/// Writes valid starting inputs for every target into `root/<target>/`: real model folders of each
/// kind, forward inputs, a tokenizer, trainer and optimiser states.
pub fn write_seeds(root: &Path) -> std::io::Result<()> {
    use spectrans_models::io::serialize_tensors;
    use spectrans_tensor::DType;
    use std::collections::HashMap;
    let dir = |t: &str| -> std::io::Result<std::path::PathBuf> {
        let d = root.join(t);
        std::fs::create_dir_all(&d)?;
        Ok(d)
    };
    let err = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
    let configs = [
        r#"{"model_type": "fno_transformer", "vocab_size": 6, "hidden_dim": 4, "num_layers": 1, "modes": 2, "max_sequence_length": 8, "num_classes": 2}"#,
        r#"{"model_type": "fno_transformer", "hidden_dim": 4, "num_layers": 1, "modes": 2, "max_sequence_length": 9, "use_2d": true, "spatial_dim": 3}"#,
        r#"{"model_type": "fno_encoder", "hidden_dim": 4, "num_layers": 2, "modes": 3, "max_sequence_length": 8, "positional_encoding_type": "learned"}"#,
        r#"{"model_type": "fno_decoder", "vocab_size": 5, "hidden_dim": 4, "num_layers": 1, "modes": 2, "max_sequence_length": 8}"#,
        r#"{"model_type": "fno_decoder", "vocab_size": 5, "hidden_dim": 4, "num_layers": 1, "modes": 2, "max_sequence_length": 8, "causal": false, "ffn_hidden_dim": 3}"#,
        r#"{"model_type": "fno_operator", "width": 3, "modes": 2, "num_layers": 1, "projection_dim": 3}"#,
        r#"{"model_type": "fno_operator", "width": 3, "modes": 2, "num_layers": 1, "projection_dim": 3, "spatial_dims": 2, "grid": "periodic"}"#,
    ];
    let tmp = std::env::temp_dir().join(format!("spectrans-seeds-{}", std::process::id()));
    for (i, text) in configs.iter().enumerate() {
        std::fs::write(dir("config")?.join(format!("seed-{i}")), text)?;
        let cfg = ModelConfig::from_json(text).map_err(|e| err(&e))?;
        let model = Model::<f32>::from_config(&cfg, 1).map_err(|e| err(&e))?;
        spectrans_models::save_folder(&model, &tmp).map_err(|e| err(&e))?;
        let weights = std::fs::read(tmp.join("model.safetensors"))?;
        std::fs::write(dir("checkpoint")?.join(format!("seed-{i}")), frame(text.as_bytes(), &weights))?;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let ids = [("input_ids".to_string(), vec![2, 4], vec![1, 2, 3, 0, 4, 5, 6, 7])];
    let mask = ("attention_mask".to_string(), vec![2, 4], vec![1, 1, 1, 0, 1, 1, 0, 0]);
    let inputs = [
        serialize_tensors::<f32>(&[], &ids, DType::F32, HashMap::new()),
        serialize_tensors::<f32>(&[], &[ids[0].clone(), mask.clone()], DType::F32, HashMap::new()),
        serialize_tensors(
            &[("inputs_embeds".to_string(), Tensor::<f32>::ones(&[1, 4, 8]))],
            &[],
            DType::F32,
            HashMap::new(),
        ),
        serialize_tensors(
            &[("inputs_embeds".to_string(), Tensor::<f64>::ones(&[1, 6, 1]))],
            &[],
            DType::F64,
            HashMap::new(),
        ),
        serialize_tensors(
            &[("inputs_embeds".to_string(), Tensor::<f32>::ones(&[2, 4, 8]))],
            std::slice::from_ref(&mask),
            DType::F32,
            HashMap::new(),
        ),
    ];
    for (i, bytes) in inputs.into_iter().enumerate() {
        std::fs::write(dir("forward_input")?.join(format!("seed-{i}")), bytes.map_err(|e| err(&e))?)?;
    }
    let tok = CharTokenizer::from_text("To be, or not to be: that is the question. ünïcödé");
    let json = serde_json::to_string(&tok).map_err(|e| err(&e))?;
    std::fs::write(dir("tokenizer")?.join("seed-0"), [json.as_bytes(), b"\0not to be"].concat())?;
    let state = serde_json::to_string_pretty(&TrainerState::start(7)).map_err(|e| err(&e))?;
    std::fs::write(dir("resume")?.join("seed-trainer"), [b"\0", state.as_bytes()].concat())?;
    let model = Model::<f32>::from_config(&resume_model_config(), 0).map_err(|e| err(&e))?;
    for kind in ["adam", "adamw", "sgd"] {
        let mut opt = optimizer_of(kind, model.parameters()).ok_or_else(|| err(&kind))?;
        let tape = Tape::new();
        let ctx = Ctx::train(&tape, 0);
        let ids = [1usize, 2, 3, 4, 5, 0];
        let out = model.forward(&ctx, spectrans_models::Input::Ids { ids: &ids, batch: 2, len: 3 }, None);
        out.and_then(|y| Ok(y.sum(&[], false)?.backward()?)).map_err(|e| err(&e))?;
        opt.step().map_err(|e| err(&e))?;
        let bytes = opt.state().to_safetensors().map_err(|e| err(&e))?;
        std::fs::write(dir("resume")?.join(format!("seed-{kind}")), [b"\x01", bytes.as_slice()].concat())?;
    }
    Ok(())
}
