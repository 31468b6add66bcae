//! # spectrans-models
//!
//! The FNO Transformer family of spectrans in Rust — [`FNOTransformer`], [`FNOEncoder`],
//! [`FNODecoder`] — built from serde configurations with spectrans' keyword names, in `f32` or
//! `f64`, and model folders (`config.json` + `model.safetensors`, or a `torch.save` file read
//! without Python by [`torch_file`]) that load PyTorch spectrans `state_dict`s directly and give
//! the same numbers.
//!
//! ```
//! use spectrans_layers::Ctx;
//! use spectrans_models::{Model, ModelConfig, Input};
//! use spectrans_tensor::Tensor;
//! let cfg = ModelConfig::from_json(r#"{"model_type": "fno_encoder", "hidden_dim": 16, "num_layers": 2,
//!                                       "modes": 4, "max_sequence_length": 32}"#)?;
//! let model = Model::<f32>::from_config(&cfg, 0)?;
//! let x = Tensor::ones(&[2, 24, 16]);
//! assert_eq!(model.forward(&Ctx::inference(), Input::Embeds(&x), None)?.shape(), &[2, 24, 16]);
//! # Ok::<(), spectrans_models::ModelError>(())
//! ```

#![warn(missing_docs)]

mod backbone;
pub mod budget;
pub mod checkpoint;
mod config;
mod error;
mod generate;
mod input;
pub mod io;
mod models;
mod operator;
mod tokenizer;
pub mod torch_file;

pub use backbone::{Backbone, Input};
pub use checkpoint::weights;
pub use checkpoint::{load_folder, load_or_init, load_parts, load_state, save_folder, Loaded};
pub use config::{BackboneConfig, FnoDecoderConfig, FnoEncoderConfig, FnoTransformerConfig, ModelConfig};
pub use config::{FnoOperatorConfig, GridEncoding};
pub use error::{ModelError, Result};
pub use generate::{GenerateOptions, Incremental, Sampling};
pub use input::{InputData, InputFile};
pub use models::{FNODecoder, FNOEncoder, FNOTransformer, Model};
pub use operator::FNOOperator;
pub use tokenizer::{CharTokenizer, TOKENIZER_FILE};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
