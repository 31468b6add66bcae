//! Bad configurations, inputs and files: each is an `Err` (never a panic) whose message names the
//! problem (field, shape, id, tensor or file). Absurd sizes, generation, tensors and training
//! configurations are in `bad_inputs_sizes.rs`, the command line in `bad_inputs_cli.rs`.

use crate::common;

use crate::common::bad::*;
use spectrans::models::{load_folder, FNOEncoder, FnoEncoderConfig, Input, ModelConfig};
use spectrans::tensor::Tensor;

fn cases() -> Vec<Case> {
    vec![
        // ---- inputs
        case("inputs_embeds of rank 2", || embeds(ENCODER, &[2, 16]), &["inputs_embeds", "[2, 16]"]),
        case("inputs_embeds of rank 4", || embeds(ENCODER, &[1, 2, 8, 16]), &["inputs_embeds", "[1, 2, 8, 16]"]),
        case("wrong hidden size", || embeds(ENCODER, &[1, 8, 12]), &["(B, N, 16)", "[1, 8, 12]"]),
        case("token id = vocab", || ids(CLASSIFIER, &[1, 2, 50, 3], 1, 4, None), &["token id 50", "vocabulary of 50"]),
        case("token id ≫ vocab (decoder)", || ids(DECODER, &[7, 1 << 40], 2, 1, None), &["token id 1099511627776"]),
        case("ids do not fill (B, N)", || ids(CLASSIFIER, &[1, 2, 3], 2, 2, None), &["3 ids", "[2, 2]"]),
        case(
            "N > max_sequence_length, sinusoidal",
            || embeds(ENCODER, &[1, 17, 16]),
            &["sequence length 17", "max_sequence_length 16", "sinusoidal"],
        ),
        case(
            "N > max_sequence_length, learned",
            || embeds(LEARNED, &[1, 20, 16]),
            &["sequence length 20", "max_sequence_length 16", "learned"],
        ),
        case("empty batch B = 0 (embeddings)", || embeds(ENCODER, &[0, 8, 16]), &["empty input", "[0, 8, 16]"]),
        case("empty sequence N = 0 (embeddings)", || embeds(ENCODER, &[2, 0, 16]), &["empty input", "[2, 0, 16]"]),
        case("empty batch B = 0 (ids)", || ids(CLASSIFIER, &[], 0, 5, None), &["empty input", "[0, 5]"]),
        case(
            "NaN in inputs_embeds",
            || {
                let mut v = vec![0.5f32; 2 * 4 * 16];
                v[37] = f32::NAN;
                run(ENCODER, Input::Embeds(&Tensor::from_vec(v, &[2, 4, 16]).unwrap()), None)
            },
            &["inputs_embeds", "NaN"],
        ),
        case("input_ids given to an encoder", || ids(ENCODER, &[1, 2], 1, 2, None), &["FNOEncoder", "input_ids"]),
        case("inputs_embeds given to a decoder", || embeds(DECODER, &[1, 4, 16]), &["FNODecoder", "inputs_embeds"]),
        case(
            "input_ids given to a transformer without vocab",
            || {
                ids(
                    r#"{"model_type": "fno_transformer", "hidden_dim": 8, "num_layers": 1, "modes": 2}"#,
                    &[1],
                    1,
                    1,
                    None,
                )
            },
            &["no embedding", "input_ids"],
        ),
        case(
            "attention mask of the wrong length",
            || ids(CLASSIFIER, &[1, 2, 3, 4], 2, 2, Some(&[true; 3])),
            &["attention_mask", "3 entries", "2·2"],
        ),
        case(
            "attention mask with an all-false row, mean pooling",
            || ids(CLASSIFIER, &[1, 2, 3, 4, 5, 6], 2, 3, Some(&[true, true, false, false, false, false])),
            &["attention_mask", "row 1", "masks every position"],
        ),
        // ---- configurations
        case(
            "odd hidden_dim with sinusoidal encoding",
            || config(r#"{"model_type": "fno_encoder", "hidden_dim": 15}"#),
            &["`hidden_dim`", "sinusoidal", "even", "15"],
        ),
        case(
            "odd hidden_dim with rotary encoding",
            || config(r#"{"model_type": "fno_encoder", "hidden_dim": 7, "positional_encoding_type": "rotary"}"#),
            &["`hidden_dim`", "rotary", "even", "7"],
        ),
        case(
            "use_2d with max_sequence_length ≠ spatial_dim²",
            || {
                config(
                    r#"{"model_type": "fno_transformer", "hidden_dim": 8, "use_2d": true, "spatial_dim": 4, "max_sequence_length": 20}"#,
                )
            },
            &["`max_sequence_length`", "spatial_dim", "16", "20"],
        ),
        case(
            "use_2d without spatial_dim",
            || config(r#"{"model_type": "fno_transformer", "hidden_dim": 8, "use_2d": true}"#),
            &["`spatial_dim`", "use_2d"],
        ),
        case(
            "modes = 0",
            || config(r#"{"model_type": "fno_encoder", "hidden_dim": 8, "modes": 0}"#),
            &["`modes`", "at least 1"],
        ),
        case(
            "num_layers = 0",
            || config(r#"{"model_type": "fno_encoder", "hidden_dim": 8, "num_layers": 0}"#),
            &["`num_layers`"],
        ),
        case("hidden_dim = 0", || config(r#"{"model_type": "fno_encoder", "hidden_dim": 0}"#), &["`hidden_dim`"]),
        case(
            "max_sequence_length = 0",
            || config(r#"{"model_type": "fno_encoder", "hidden_dim": 8, "max_sequence_length": 0}"#),
            &["`max_sequence_length`"],
        ),
        case(
            "vocab_size = 0",
            || config(r#"{"model_type": "fno_decoder", "vocab_size": 0, "causal": false}"#),
            &["`vocab_size`"],
        ),
        case(
            "num_classes = 0",
            || config(r#"{"model_type": "fno_transformer", "hidden_dim": 8, "num_classes": 0}"#),
            &["`num_classes`"],
        ),
        case(
            "ffn_hidden_dim = 0",
            || config(r#"{"model_type": "fno_encoder", "hidden_dim": 8, "ffn_hidden_dim": 0}"#),
            &["`ffn_hidden_dim`"],
        ),
        case(
            "negative dropout",
            || config(r#"{"model_type": "fno_encoder", "hidden_dim": 8, "dropout": -0.1}"#),
            &["`dropout`", "-0.1"],
        ),
        case(
            "dropout > 1",
            || config(r#"{"model_type": "fno_encoder", "hidden_dim": 8, "dropout": 1.5}"#),
            &["`dropout`", "1.5"],
        ),
        case(
            "NaN dropout (not expressible in JSON: built from the struct)",
            || {
                let ModelConfig::Encoder(mut c) = ModelConfig::from_json(ENCODER).unwrap() else { unreachable!() };
                c.dropout = f64::NAN;
                FNOEncoder::<f32>::new(&c, 0).map(|_| ()).map_err(|e| e.to_string())
            },
            &["`dropout`", "NaN"],
        ),
        case(
            "mlp_ratio = 0",
            || config(r#"{"model_type": "fno_encoder", "hidden_dim": 8, "mlp_ratio": 0}"#),
            &["`mlp_ratio`", "0"],
        ),
        case(
            "negative mlp_ratio",
            || config(r#"{"model_type": "fno_encoder", "hidden_dim": 8, "mlp_ratio": -2.0}"#),
            &["`mlp_ratio`", "-2"],
        ),
        case(
            "infinite mlp_ratio (built from the struct)",
            || {
                let c = FnoEncoderConfig { mlp_ratio: f64::INFINITY, ..encoder_config() };
                FNOEncoder::<f32>::new(&c, 0).map(|_| ()).map_err(|e| e.to_string())
            },
            &["`mlp_ratio`", "inf"],
        ),
        case(
            "unknown config key",
            || config(r#"{"model_type": "fno_encoder", "hidden_dim": 8, "hiden_dim": 8}"#),
            &["`hiden_dim`", "unknown field"],
        ),
        case(
            "spectrans key that the encoder does not take",
            || config(r#"{"model_type": "fno_encoder", "hidden_dim": 8, "vocab_size": 10}"#),
            &["`vocab_size`", "unknown field"],
        ),
        case(
            "unknown model_type",
            || config(r#"{"model_type": "fno_xyz", "hidden_dim": 8}"#),
            &["`model_type`", "fno_xyz"],
        ),
        case("missing model_type", || config(r#"{"hidden_dim": 8}"#), &["`model_type`", "missing"]),
        case("model_type not a string", || config(r#"{"model_type": 3}"#), &["`model_type`", "string"]),
        case(
            "wrong JSON type for a field (string for a number)",
            || config(r#"{"model_type": "fno_encoder", "hidden_dim": "16"}"#),
            &["`hidden_dim`", "invalid type", "\"16\""],
        ),
        case(
            "wrong JSON type for a field (negative for unsigned)",
            || config(r#"{"model_type": "fno_decoder", "vocab_size": 10, "modes": -4}"#),
            &["`modes`", "-4"],
        ),
        case(
            "wrong JSON type for a field (number for a bool)",
            || config(r#"{"model_type": "fno_decoder", "vocab_size": 10, "causal": 0}"#),
            &["`causal`", "boolean"],
        ),
        case(
            "missing required vocab_size",
            || config(r#"{"model_type": "fno_decoder", "causal": false}"#),
            &["`vocab_size`", "missing"],
        ),
        case(
            "unknown positional_encoding_type",
            || config(r#"{"model_type": "fno_encoder", "hidden_dim": 8, "positional_encoding_type": "absolute"}"#),
            &["`positional_encoding_type`", "absolute"],
        ),
        case(
            "unknown pooling",
            || config(r#"{"model_type": "fno_transformer", "hidden_dim": 8, "pooling": "first"}"#),
            &["`pooling`", "first"],
        ),
        case("config that is not JSON", || config("{hidden_dim: 8"), &["config.json", "JSON"]),
        // ---- files
        case(
            "corrupt safetensors (random bytes)",
            || folder_with_weights("random", &random_bytes(4096, 7)),
            &["model.safetensors", "not a valid safetensors file"],
        ),
        case(
            "truncated safetensors",
            || {
                let w = valid_weights();
                folder_with_weights("truncated", &w[..w.len() - 100])
            },
            &["model.safetensors", "not a valid safetensors file"],
        ),
        case(
            "header length u64::MAX",
            || {
                let mut w = valid_weights();
                w[..8].copy_from_slice(&u64::MAX.to_le_bytes());
                folder_with_weights("lying-header", &w)
            },
            &["model.safetensors"],
        ),
        case("empty weights file", || folder_with_weights("empty", &[]), &["model.safetensors"]),
        case(
            "missing, unexpected and mis-shaped tensors at once",
            || {
                let w = edited_state(|f, _| {
                    f.retain(|(n, _)| n != "blocks.0.norm1.bias");
                    f.push(("blocks.0.fno.gate.weight".into(), Tensor::ones(&[3])));
                    let t = f.iter_mut().find(|(n, _)| n == "final_norm.weight").unwrap();
                    t.1 = Tensor::ones(&[17]);
                });
                folder_with_weights("misfit", &w)
            },
            &[
                "model.safetensors",
                "missing 1: blocks.0.norm1.bias",
                "unexpected 1: blocks.0.fno.gate.weight",
                "final_norm.weight (file [17], model [16])",
            ],
        ),
        case(
            "I64 tensor where a float parameter is expected",
            || {
                let w = edited_state(|f, i| {
                    f.retain(|(n, _)| n != "blocks.0.norm2.weight");
                    i.push(("blocks.0.norm2.weight".into(), vec![16], vec![1; 16]));
                });
                folder_with_weights("int-param", &w)
            },
            &["model.safetensors", "wrong dtype", "blocks.0.norm2.weight", "integer"],
        ),
        case(
            "rank-0 FFN weight (used to infer the FFN width)",
            || {
                let w = edited_state(|f, _| {
                    let t = f.iter_mut().find(|(n, _)| n == "blocks.0.ffn.0.weight").unwrap();
                    t.1 = Tensor::scalar(1.0);
                });
                folder_with_weights("rank0", &w)
            },
            &["mis-shaped", "blocks.0.ffn.0.weight (file []"],
        ),
        case(
            "missing config.json",
            || {
                let dir = common::TempDir::new("bad-inputs", "no-config");
                std::fs::write(dir.path("model.safetensors"), valid_weights()).unwrap();
                load_folder::<f32>(&dir.0).map(|_| ()).map_err(|e| e.to_string())
            },
            &["config.json"],
        ),
        case(
            "missing model.safetensors",
            || {
                let dir = common::TempDir::new("bad-inputs", "no-weights");
                std::fs::write(dir.path("config.json"), ENCODER).unwrap();
                load_folder::<f32>(&dir.0).map(|_| ()).map_err(|e| e.to_string())
            },
            &["model.safetensors"],
        ),
        case(
            "invalid config.json in a folder names the file",
            || {
                let dir = common::TempDir::new("bad-inputs", "bad-config");
                std::fs::write(dir.path("config.json"), r#"{"model_type": "fno_encoder", "modes": 0}"#).unwrap();
                std::fs::write(dir.path("model.safetensors"), valid_weights()).unwrap();
                load_folder::<f32>(&dir.0).map(|_| ()).map_err(|e| e.to_string())
            },
            &["`modes`", "config.json"],
        ),
    ]
}

fn encoder_config() -> FnoEncoderConfig {
    let ModelConfig::Encoder(c) = ModelConfig::from_json(ENCODER).unwrap() else { unreachable!() };
    c
}

#[test]
fn every_bad_input_is_a_named_error_not_a_panic() {
    let cases = cases();
    assert!(cases.len() >= 55, "{} cases", cases.len());
    let failures = check(&cases);
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
