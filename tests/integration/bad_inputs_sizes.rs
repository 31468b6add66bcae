//! Absurd sizes (configs, input shapes, generation lengths, tensor shapes, safetensors headers,
//! training runs) and other bad input of the library: each is an `Err` naming the field, shape or
//! file, refused before anything is allocated — never a panic, an abort or an out-of-memory kill.

use crate::common;

use crate::common::bad::*;
use spectrans::layers::{Ctx, Module};
use spectrans::models::{load_folder, CharTokenizer, Input, Sampling};
use spectrans::tensor::{Parameter, Tape, Tensor};
use spectrans_tasks::TaskConfig;

fn cases() -> Vec<Case> {
    vec![
        // ---- absurd sizes: refused before anything is allocated, naming the field
        case(
            "max_sequence_length 10^12 (sinusoidal table)",
            || config(r#"{"model_type": "fno_encoder", "hidden_dim": 16, "max_sequence_length": 1000000000000}"#),
            &["`max_sequence_length`", "bytes", "positional_encoding"],
        ),
        case(
            "max_sequence_length 10^12 (learned table)",
            || config(&with(LEARNED, r#""max_sequence_length": 1000000000000"#)),
            &["`max_sequence_length`", "bytes"],
        ),
        case(
            "max_sequence_length 1e12 written as a float",
            || config(&with(ENCODER, r#""max_sequence_length": 1e12"#)),
            &["`max_sequence_length`", "floating point"],
        ),
        case(
            "max_sequence_length u64::MAX",
            || config(&with(LEARNED, r#""max_sequence_length": 18446744073709551615"#)),
            &["`max_sequence_length`"],
        ),
        case(
            "hidden_dim 2^40",
            || config(&with(ENCODER, r#""hidden_dim": 1099511627776"#)),
            &["`hidden_dim`", "bytes"],
        ),
        case(
            "hidden_dim 2^64 (beyond usize)",
            || config(&with(ENCODER, r#""hidden_dim": 18446744073709551616"#)),
            &["`hidden_dim`"],
        ),
        case(
            "vocab_size 2^50 (decoder)",
            || config(&with(DECODER, r#""vocab_size": 1125899906842624"#)),
            &["`vocab_size`", "bytes"],
        ),
        case(
            "vocab_size 2^50 (transformer)",
            || config(&with(CLASSIFIER, r#""vocab_size": 1125899906842624"#)),
            &["`vocab_size`", "bytes"],
        ),
        case("modes 2^40", || config(&with(ENCODER, r#""modes": 1099511627776"#)), &["`modes`", "bytes"]),
        case("num_layers 2^40", || config(&with(ENCODER, r#""num_layers": 1099511627776"#)), &["`num_layers`"]),
        case(
            "ffn_hidden_dim 2^46",
            || config(&with(ENCODER, r#""ffn_hidden_dim": 70368744177664"#)),
            &["`ffn_hidden_dim`", "bytes"],
        ),
        case("mlp_ratio 10^15", || config(&with(ENCODER, r#""mlp_ratio": 1e15"#)), &["`mlp_ratio`", "FFN width"]),
        case("mlp_ratio 1e300", || config(&with(ENCODER, r#""mlp_ratio": 1e300"#)), &["`mlp_ratio`", "1e300"]),
        case(
            "mlp_ratio giving an FFN width of 0",
            || config(&with(ENCODER, r#""mlp_ratio": 0.01"#)),
            &["`mlp_ratio`", "0.16"],
        ),
        case(
            "num_classes 2^50",
            || config(&with(CLASSIFIER, r#""num_classes": 1125899906842624"#)),
            &["`num_classes`", "bytes"],
        ),
        case(
            "spatial_dim 2^32 (spatial_dim² overflows)",
            || config(&with(CLASSIFIER, r#""use_2d": true, "spatial_dim": 4294967296"#)),
            &["`max_sequence_length`", "18446744073709551616"],
        ),
        case(
            "2-D blocks with modes 2^20 (modes² weights)",
            || {
                config(
                    r#"{"model_type": "fno_transformer", "hidden_dim": 16, "use_2d": true, "spatial_dim": 4,
                        "max_sequence_length": 16, "modes": 1048576}"#,
                )
            },
            &["`modes`", "bytes"],
        ),
        case("operator width 2^40", || operator(r#""width": 1099511627776"#), &["`width`", "bytes"]),
        case("operator modes 2^40", || operator(r#""modes": 1099511627776"#), &["`modes`", "bytes"]),
        case("operator num_layers 2^40", || operator(r#""num_layers": 1099511627776"#), &["`num_layers`"]),
        case(
            "operator projection_dim 2^50",
            || operator(r#""projection_dim": 1125899906842624"#),
            &["`projection_dim`"],
        ),
        case("operator out_channels 2^50", || operator(r#""out_channels": 1125899906842624"#), &["`out_channels`"]),
        case(
            "operator in_channels usize::MAX",
            || operator(r#""in_channels": 18446744073709551615"#),
            &["`in_channels`"],
        ),
        case("operator spatial_dims 3", || operator(r#""spatial_dims": 3"#), &["`spatial_dims`", "3"]),
        case("operator grid \"polar\"", || operator(r#""grid": "polar""#), &["`grid`", "polar"]),
        case("operator width 0", || operator(r#""width": 0"#), &["`width`", "at least 1"]),
        // ---- inputs of absurd or broken shape
        case(
            "ids batch·len overflows",
            || ids(CLASSIFIER, &[1, 2], usize::MAX, 2, None),
            &["input_ids of shape [18446744073709551615, 2]", "bytes"],
        ),
        case(
            "ids (B, N) = (2^30, 2^30) claimed over 2 ids",
            || ids(DECODER, &[1, 2], 1 << 30, 1 << 30, None),
            &["input_ids of shape [1073741824, 1073741824]", "bytes"],
        ),
        case(
            "infinity in inputs_embeds",
            || run(ENCODER, Input::Embeds(&Tensor::full(&[1, 2, 16], f32::INFINITY)), None),
            &["inputs_embeds", "infinite"],
        ),
        case("operator input NaN", || operator_input(&Tensor::full(&[1, 8, 1], f32::NAN)), &["FNOOperator", "NaN"]),
        case(
            "operator input rank 2",
            || operator_input(&Tensor::ones(&[8, 1])),
            &["FNOOperator", "(B, S, 1)", "[8, 1]"],
        ),
        case("operator input 2 channels", || operator_input(&Tensor::ones(&[1, 8, 2])), &["(B, S, 1)", "[1, 8, 2]"]),
        case("operator input of 0 points", || operator_input(&Tensor::ones(&[1, 0, 1])), &["empty input", "[1, 0, 1]"]),
        case(
            "finite checks name the first non-finite module",
            || {
                let model = build(ENCODER).unwrap();
                let w = model.named_parameters().into_iter().find(|(n, _)| n == "blocks.0.ffn.0.weight").unwrap().1;
                w.set_value(Tensor::full(&w.shape(), 1e38)).unwrap();
                let ctx = Ctx::inference().with_finite_checks();
                model
                    .forward(&ctx, Input::Embeds(&Tensor::ones(&[1, 4, 16])), None)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
            &["non-finite output", "`blocks.0`"],
        ),
        // ---- generation
        case(
            "generate: max_new_tokens usize::MAX",
            || generate(&[1], usize::MAX, greedy()),
            &["`max_new_tokens`", "overflows"],
        ),
        case(
            "generate: max_new_tokens 10^15 (no positional table to cap it)",
            || generate(&[1], 1_000_000_000_000_000, greedy()),
            &["max_new_tokens 1000000000000000", "bytes"],
        ),
        case("generate: empty prompt", || generate(&[], 3, greedy()), &["non-empty prompt"]),
        case(
            "generate: prompt token = vocab",
            || generate(&[1, 50], 3, greedy()),
            &["prompt token 50", "vocabulary of 50"],
        ),
        case(
            "generate: NaN temperature",
            || generate(&[1], 3, Sampling { temperature: f64::NAN, top_k: None, top_p: None }),
            &["`temperature`", "NaN"],
        ),
        case(
            "generate: top_k 0",
            || generate(&[1], 3, Sampling { temperature: 1.0, top_k: Some(0), top_p: None }),
            &["`top_k`"],
        ),
        case(
            "generate: top_p 0",
            || generate(&[1], 3, Sampling { temperature: 1.0, top_k: None, top_p: Some(0.0) }),
            &["`top_p`", "0"],
        ),
        // ---- tensors and the tape
        case(
            "try_zeros of 2^80 elements",
            || Tensor::<f32>::try_zeros(&[1 << 40, 1 << 40]).map(|_| ()).map_err(|e| e.to_string()),
            &["tensor of shape [1099511627776, 1099511627776]", "overflows"],
        ),
        case(
            "try_full of 2^62 f64",
            || Tensor::<f64>::try_full(&[1 << 62], 1.0).map(|_| ()).map_err(|e| e.to_string()),
            &["tensor of shape [4611686018427387904] (f64)", "bytes"],
        ),
        case(
            "from_vec of the wrong length",
            || Tensor::<f32>::from_vec(vec![1.0; 5], &[2, 3]).map(|_| ()).map_err(|e| e.to_string()),
            &["from_vec", "[2, 3]", "needs 6 elements, got 5"],
        ),
        case(
            "mul_scalar on a tensor of a consumed tape",
            || {
                let w = Parameter::new(Tensor::<f32>::ones(&[2]));
                let tape = Tape::new();
                let x = tape.watch(&w);
                x.mul(&x).and_then(|y| y.sum(&[], false)).and_then(|l| l.backward()).unwrap();
                x.mul_scalar(2.0).map(|_| ()).map_err(|e| e.to_string())
            },
            &["before the last backward pass"],
        ),
        // ---- files
        case(
            "header claiming a 2^60-element tensor",
            || folder_with_weights("2^60", &lying(r#""final_norm.weight""#, "[1152921504606846976]", "[0,64]", 64)),
            &["model.safetensors", "not a valid safetensors file"],
        ),
        case(
            "header whose shape product overflows",
            || folder_with_weights("overflow", &lying(r#""w""#, "[4294967296,4294967296,4294967296]", "[0,8]", 8)),
            &["model.safetensors", "not a valid safetensors file"],
        ),
        case(
            "header with offsets past the end",
            || folder_with_weights("past-end", &lying(r#""w""#, "[4]", "[0,1099511627776]", 16)),
            &["model.safetensors", "not a valid safetensors file"],
        ),
        case(
            "unsupported dtype (BF16)",
            || {
                let header = r#"{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#;
                folder_with_weights("bf16", &raw_file(header, 4))
            },
            &["model.safetensors", "unsupported dtype", "BF16"],
        ),
        case(
            "NaN in a parameter of the weights file",
            || {
                let w = edited_state(|f, _| {
                    let t = f.iter_mut().find(|(n, _)| n == "blocks.0.norm1.weight").unwrap();
                    t.1 = Tensor::full(&[16], f32::NAN);
                });
                folder_with_weights("nan", &w)
            },
            &["model.safetensors", "NaN or infinite values in 1: blocks.0.norm1.weight"],
        ),
        case("config.json that is an array", || config("[1, 2]"), &["config.json", "JSON object"]),
        case("config.json that is empty", || config(""), &["config.json", "JSON"]),
        case(
            "config.json that is a folder",
            || {
                let dir = common::TempDir::new("bad-inputs", "config-dir");
                std::fs::create_dir(dir.path("config.json")).unwrap();
                load_folder::<f32>(&dir.0).map(|_| ()).map_err(|e| e.to_string())
            },
            &["config.json"],
        ),
        case(
            "corrupt tokenizer.json",
            || {
                let dir = common::TempDir::new("bad-inputs", "tokenizer");
                std::fs::write(dir.path("tokenizer.json"), "{\"kind\": 3}").unwrap();
                CharTokenizer::load(&dir.0).map(|_| ()).map_err(|e| e.to_string())
            },
            &["tokenizer.json", "not a tokenizer file"],
        ),
        // ---- training configurations
        case(
            "run: batch_size 2^50",
            || run_config("classify", |c| c.train.batch_size = 1 << 50),
            &["batch_size", "bytes"],
        ),
        case(
            "run: n_train 2^45 (burgers)",
            || run_config("burgers", |c| burgers(c).n_train = 1 << 45),
            &["n_train", "Burgers data"],
        ),
        case(
            "run: resolution_fine 2^50 (burgers)",
            || run_config("burgers", |c| burgers(c).resolution_fine = 1 << 50),
            &["invalid resolution", "bytes"],
        ),
        case("run: subsample 0 (burgers)", || run_config("burgers", |c| burgers(c).subsample = 0), &["subsample"]),
        case(
            "run: model modes 0 (classify)",
            || {
                run_config("classify", |c| {
                    let TaskConfig::Classify(k) = &mut c.task else { unreachable!() };
                    k.model.modes = 0;
                })
            },
            &["`modes`", "at least 1"],
        ),
        case(
            "run: hidden_dim 2^40 (lm)",
            || {
                run_config("lm", |c| {
                    let TaskConfig::Lm(l) = &mut c.task else { unreachable!() };
                    l.model.hidden_dim = 1 << 40;
                })
            },
            &["hidden_dim", "bytes"],
        ),
        case("run: keep_checkpoints 0", || run_config("lm", |c| c.train.keep_checkpoints = 0), &["keep_checkpoints"]),
    ]
}

#[test]
fn every_absurd_size_is_a_named_error_not_an_abort() {
    let cases = cases();
    assert!(cases.len() >= 55, "{} cases", cases.len());
    let failures = check(&cases);
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
