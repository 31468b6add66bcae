//! The `lm` task: a character-level language model with the causal `FNODecoder` on a corpus
//! (by default the Shakespeare text shipped in the repository), 90/10 train/validation split,
//! random training windows, validation bits per character.

use std::path::Path;

use serde::{Deserialize, Serialize};
use spectrans_layers::Ctx;
use spectrans_models::{CharTokenizer, FNODecoder, FnoDecoderConfig, Model, ModelConfig};
use spectrans_tensor::{Reduction, Rng, Tensor};

use super::Resources;
use crate::error::{Result, TrainError};
use crate::metrics::{bits_per_char, perplexity};
use crate::trainer::{RunConfig, Task, TaskConfig};

/// Data and model of the `lm` task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmConfig {
    /// Where the corpus came from (`shakespeare`: the text shipped in the repository, or a path).
    pub corpus: String,
    /// Characters per training window N (the model predicts each next character).
    pub seq_len: usize,
    /// Fraction of the corpus (its end) held out for validation.
    pub val_fraction: f64,
    /// Validation windows evaluated (evenly spaced, non-overlapping).
    pub eval_windows: usize,
    /// Optimiser steps per epoch (each step samples `batch_size` random windows).
    pub steps_per_epoch: u64,
    /// The decoder; `vocab_size` 0 means the corpus alphabet size.
    pub model: FnoDecoderConfig,
}

/// The default preset: a small causal decoder trained for a few minutes on 2 cores.
pub(crate) fn preset_default() -> RunConfig {
    let model = match ModelConfig::from_json(
        r#"{"model_type": "fno_decoder", "vocab_size": 1, "hidden_dim": 128, "num_layers": 4, "modes": 64,
            "max_sequence_length": 128, "mlp_ratio": 2.0, "causal": true, "dropout": 0.0}"#,
    ) {
        Ok(ModelConfig::Decoder(c)) => FnoDecoderConfig { vocab_size: 0, ..c },
        // invariant: a constant config, parsed by the preset test
        other => unreachable!("the built-in lm config parses: {:?}", other.err()),
    };
    let task = TaskConfig::Lm(LmConfig {
        corpus: "shakespeare".into(),
        seq_len: 128,
        val_fraction: 0.1,
        eval_windows: 256,
        steps_per_epoch: 100,
        model,
    });
    super::sequence_preset(task, 12, 1e-2, 50, 2, 2)
}

/// The task: the tokenised corpus split into train and validation, and the decoder.
pub struct LmTask {
    model: Model<f32>,
    tokenizer: CharTokenizer,
    train: Vec<usize>,
    val: Vec<usize>,
    config: LmConfig,
}

impl LmTask {
    /// Tokenises `resources.corpus` and initialises the decoder with `seed`.
    pub fn new(config: &LmConfig, seed: u64, resources: &Resources) -> Result<Self> {
        let text = resources
            .corpus
            .as_deref()
            .ok_or_else(|| TrainError::config("lm", "corpus", "no corpus text was provided"))?;
        let tokenizer = CharTokenizer::from_text(text);
        let model_config = FnoDecoderConfig { vocab_size: tokenizer.vocab_size(), ..config.model.clone() };
        let model = Model::Decoder(FNODecoder::new(&model_config, seed)?);
        Self::with_model(config, model, tokenizer, text)
    }

    /// The task around an existing decoder and its tokenizer.
    pub fn with_model(config: &LmConfig, model: Model<f32>, tokenizer: CharTokenizer, text: &str) -> Result<Self> {
        if !(config.val_fraction > 0.0 && config.val_fraction < 1.0) {
            return Err(TrainError::config(
                "lm",
                "val_fraction",
                format!("must be in (0, 1), got {}", config.val_fraction),
            ));
        }
        if config.seq_len == 0 || config.seq_len > config.model.max_sequence_length {
            return Err(TrainError::config(
                "lm",
                "seq_len",
                format!(
                    "must be in 1..={} (the model's max_sequence_length), got {}",
                    config.model.max_sequence_length, config.seq_len
                ),
            ));
        }
        let ids = tokenizer.encode(text)?;
        let split = ((1.0 - config.val_fraction) * ids.len() as f64) as usize;
        let (train, val) = (ids[..split].to_vec(), ids[split..].to_vec());
        for (name, part) in [("training", &train), ("validation", &val)] {
            if part.len() < config.seq_len + 2 {
                return Err(TrainError::config(
                    "lm",
                    "corpus",
                    format!(
                        "the {name} part has {} characters, fewer than seq_len + 2 = {}",
                        part.len(),
                        config.seq_len + 2
                    ),
                ));
            }
        }
        Ok(LmTask { model, tokenizer, train, val, config: config.clone() })
    }

    fn decoder(&self) -> &FNODecoder<f32> {
        // invariant: `with_model` refuses any other model kind and the field is private
        let Model::Decoder(d) = &self.model else { unreachable!("the lm task holds a decoder") };
        d
    }

    /// Mean cross-entropy (nats) of windows starting at `starts` of `ids`.
    fn window_loss(&self, ctx: &Ctx<f32>, ids: &[usize], starts: &[usize]) -> Result<Tensor<f32>> {
        let n = self.config.seq_len;
        let mut input = Vec::with_capacity(starts.len() * n);
        let mut target = Vec::with_capacity(starts.len() * n);
        for &s in starts {
            input.extend_from_slice(&ids[s..s + n]);
            target.extend_from_slice(&ids[s + 1..s + n + 1]);
        }
        let logits = self.decoder().forward(ctx, &input, starts.len(), n)?;
        Ok(logits.cross_entropy(&target, None, Reduction::Mean)?)
    }
}

impl Task for LmTask {
    fn model(&self) -> &Model<f32> {
        &self.model
    }

    fn train_len(&self) -> usize {
        0
    }

    fn steps_per_epoch(&self, _: usize) -> u64 {
        self.config.steps_per_epoch
    }

    fn loss(&self, ctx: &Ctx<f32>, _: &[usize], batch_size: usize, data_rng: &mut Rng) -> Result<Tensor<f32>> {
        let span = (self.train.len() - self.config.seq_len - 1) as u64;
        let starts: Vec<usize> = (0..batch_size).map(|_| data_rng.below(span) as usize).collect();
        self.window_loss(ctx, &self.train, &starts)
    }

    fn evaluate(&self) -> Result<Vec<(String, f64)>> {
        let n = self.config.seq_len;
        let available = (self.val.len() - 1) / n;
        let count = self.config.eval_windows.clamp(1, available.max(1));
        let starts: Vec<usize> = (0..count).map(|i| i * available / count * n).collect();
        let mut nats = 0.0;
        for chunk in starts.chunks(32) {
            nats += self.window_loss(&Ctx::inference(), &self.val, chunk)?.item()? as f64 * chunk.len() as f64;
        }
        let mean = nats / count as f64;
        Ok(vec![("val_bpc".into(), bits_per_char(mean)), ("val_perplexity".into(), perplexity(mean))])
    }

    fn save_extras(&self, dir: &Path) -> Result<()> {
        Ok(self.tokenizer.save(dir)?)
    }

    fn summary(&self, metrics: &[(String, f64)]) -> String {
        let get = |name: &str| metrics.iter().find(|(k, _)| k == name).map(|m| m.1).unwrap_or(f64::NAN);
        format!(
            "validation bits per character: {:.4} (perplexity {:.3}, {} characters of context)",
            get("val_bpc"),
            get("val_perplexity"),
            self.config.seq_len
        )
    }
}
