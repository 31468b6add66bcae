//! The `lm` task: a character-level language model with the causal `FNODecoder` on a corpus
//! (by default the Shakespeare text shipped in the repository), 90/10 train/validation split,
//! random training windows, validation bits per character.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use spectrans_layers::{Ctx, Module};
use spectrans_models::{
    load_folder, CharTokenizer, FNODecoder, FnoDecoderConfig, GenerateOptions, Model, ModelConfig, Sampling,
};
use spectrans_tensor::{Reduction, Tensor};
use spectrans_train::metrics::{bits_per_char, perplexity};
use spectrans_train::trainer::{Batch, Metrics, Task};

use crate::error::{Result, TaskError};
use crate::resources::{widest, Footprint};
use crate::run::sequence_preset;
use crate::{model_folder, EvalOptions, Overrides, RunConfig, TaskConfig, TaskKind};

/// The shipped language-model corpus (gzip).
const SHAKESPEARE_GZ: &[u8] = include_bytes!("../../../data/shakespeare.txt.gz");

/// The corpus text: `path` (gzip if it ends in .gz), or the shipped Shakespeare for `None`.
pub fn corpus_text(path: Option<&Path>) -> Result<String> {
    let (bytes, name): (std::borrow::Cow<[u8]>, String) = match path {
        Some(p) => (
            std::fs::read(p)
                .map_err(|e| TaskError::File { path: p.display().to_string(), reason: e.to_string() })?
                .into(),
            p.display().to_string(),
        ),
        None => (SHAKESPEARE_GZ.into(), "data/shakespeare.txt.gz".to_string()),
    };
    let bad = |reason: String| TaskError::File { path: name.clone(), reason };
    if name.ends_with(".gz") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .map_err(|e| bad(format!("not a gzip-compressed UTF-8 text: {e}")))?;
        Ok(text)
    } else {
        String::from_utf8(bytes.into_owned()).map_err(|e| bad(format!("not UTF-8: {e}")))
    }
}

/// The corpus of an `lm` configuration: the shipped text for `shakespeare`, else the file it names.
pub fn config_corpus(l: &LmConfig) -> Result<String> {
    corpus_text((l.corpus != "shakespeare").then(|| Path::new(&l.corpus)))
}

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
fn preset_default() -> RunConfig {
    // vocab_size 0: the corpus alphabet's size, known once the corpus is read
    let model = FnoDecoderConfig {
        vocab_size: 0,
        hidden_dim: 128,
        num_layers: 4,
        modes: 64,
        max_sequence_length: 128,
        mlp_ratio: 2.0,
        causal: true,
        dropout: 0.0,
        ..Default::default()
    };
    let task = TaskConfig::Lm(LmConfig {
        corpus: "shakespeare".into(),
        seq_len: 128,
        val_fraction: 0.1,
        eval_windows: 256,
        steps_per_epoch: 100,
        model,
    });
    sequence_preset(task, 12, 1e-2, 50, 2, 2)
}

/// The `lm` task in the registry.
pub struct Lm;

impl TaskKind for Lm {
    type Config = LmConfig;
    const NAME: &'static str = "lm";
    const ABOUT: &'static str = "character-level language model (causal FNODecoder, bits per character)";
    const PRESETS: &'static [&'static str] = &["default"];
    const OPTIONS: &'static [&'static str] =
        &["--seq-len", "--steps-per-epoch", "--corpus", "--width", "--modes", "--layers"];

    fn preset(preset: &str) -> Option<RunConfig> {
        (preset == "default").then(preset_default)
    }

    fn apply(l: &mut LmConfig, o: &Overrides) -> Result<()> {
        o.apply_model(&mut l.model.hidden_dim, &mut l.model.modes, &mut l.model.num_layers);
        l.steps_per_epoch = o.steps_per_epoch.unwrap_or(l.steps_per_epoch);
        if let Some(n) = o.seq_len {
            (l.seq_len, l.model.max_sequence_length) = (n, n);
        }
        if let Some(p) = &o.corpus {
            std::fs::metadata(p)
                .map_err(|e| TaskError::config("train", "--corpus", format!("{}: {e}", p.display())))?;
            l.corpus = p.display().to_string();
        }
        Ok(())
    }

    fn validate(l: &LmConfig) -> Result<()> {
        if !(l.val_fraction > 0.0 && l.val_fraction < 1.0) {
            return Err(TaskError::config("lm", "val_fraction", format!("must be in (0, 1), got {}", l.val_fraction)));
        }
        if l.seq_len == 0 || l.seq_len > l.model.max_sequence_length {
            return Err(TaskError::config(
                "lm",
                "seq_len",
                format!(
                    "must be in 1..={} (the model's max_sequence_length), got {}",
                    l.model.max_sequence_length, l.seq_len
                ),
            ));
        }
        // the vocabulary is the corpus alphabet, known once the corpus is read
        let model = FnoDecoderConfig { vocab_size: l.model.vocab_size.max(1), ..l.model.clone() };
        Ok(ModelConfig::Decoder(model).validate()?)
    }

    fn footprint(l: &LmConfig) -> Result<Footprint> {
        let model = ModelConfig::Decoder(FnoDecoderConfig { vocab_size: l.model.vocab_size.max(1), ..l.model.clone() });
        let width = widest(&model);
        Ok(Footprint {
            model,
            data: None,
            positions: ("seq_len", l.seq_len as u128),
            width: ("hidden_dim", width),
            layers: l.model.num_layers,
        })
    }

    fn build(l: &LmConfig, seed: u64) -> Result<Box<dyn Task<f32>>> {
        Ok(Box::new(LmTask::new(l, seed, &config_corpus(l)?)?))
    }

    fn evaluate(l: &LmConfig, model_dir: &Path, options: &EvalOptions) -> Result<String> {
        if options.resolution.is_some() {
            return Err(TaskError::config("eval", "resolution", "applies to operator models, not to an lm model"));
        }
        let text = match &options.corpus {
            Some(p) => corpus_text(Some(p))?,
            None => config_corpus(l)?,
        };
        let model = load_folder::<f32>(model_dir)?.model;
        let tok = CharTokenizer::load(model_dir)?;
        let l = LmConfig { model: FnoDecoderConfig { vocab_size: tok.vocab_size(), ..l.model.clone() }, ..l.clone() };
        let task = LmTask::with_model(&l, model, tok, &text)?;
        Ok(task.summary(&task.val_metrics()?))
    }

    fn after_training(_: &LmConfig, model_dir: &Path) -> Result<Option<String>> {
        let loaded = load_folder::<f32>(model_dir)?;
        let Model::Decoder(model) = &loaded.model else { return Ok(None) };
        let tok = CharTokenizer::load(model_dir)?;
        let prompt = "Ham.\n";
        let Ok(ids) = tok.encode(prompt) else { return Ok(None) };
        let opts = GenerateOptions {
            max_new_tokens: 300,
            sampling: Sampling { temperature: 0.8, top_k: None, top_p: None },
            end_token: None,
            seed: 0,
        };
        let out = model.generate(&ids, &opts)?;
        Ok(Some(format!("sample (temperature 0.8):\n{prompt}{}", tok.decode(&out)?)))
    }
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
    /// Tokenises the corpus `text` and initialises the decoder with `seed`.
    pub fn new(config: &LmConfig, seed: u64, text: &str) -> Result<Self> {
        let tokenizer = CharTokenizer::from_text(text);
        let model_config = FnoDecoderConfig { vocab_size: tokenizer.vocab_size(), ..config.model.clone() };
        let model = Model::Decoder(FNODecoder::new(&model_config, seed)?);
        Self::with_model(config, model, tokenizer, text)
    }

    /// The task around an existing decoder and its tokenizer.
    pub fn with_model(config: &LmConfig, model: Model<f32>, tokenizer: CharTokenizer, text: &str) -> Result<Self> {
        Lm::validate(config)?;
        if !matches!(model, Model::Decoder(_)) {
            return Err(TaskError::config("lm", "model", "the model folder does not hold an FNODecoder"));
        }
        let ids = tokenizer.encode(text)?;
        let split = ((1.0 - config.val_fraction) * ids.len() as f64) as usize;
        let (train, val) = (ids[..split].to_vec(), ids[split..].to_vec());
        for (name, part) in [("training", &train), ("validation", &val)] {
            if part.len() < config.seq_len + 2 {
                return Err(TaskError::config(
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

impl LmTask {
    fn val_metrics(&self) -> Result<Metrics> {
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
}

impl Task<f32> for LmTask {
    fn module(&self) -> &dyn Module<f32> {
        &self.model
    }

    fn train_len(&self) -> usize {
        0
    }

    fn steps_per_epoch(&self, _: usize) -> u64 {
        self.config.steps_per_epoch
    }

    fn loss(&self, ctx: &Ctx<f32>, batch: Batch<'_>) -> spectrans_train::Result<Tensor<f32>> {
        let span = (self.train.len() - self.config.seq_len - 1) as u64;
        let starts: Vec<usize> = (0..batch.size).map(|_| batch.rng.below(span) as usize).collect();
        Ok(self.window_loss(ctx, &self.train, &starts)?)
    }

    fn evaluate(&self) -> spectrans_train::Result<Metrics> {
        Ok(self.val_metrics()?)
    }

    fn save_model(&self, dir: &Path) -> spectrans_train::Result<()> {
        model_folder::save(&self.model, dir)?;
        Ok(self.tokenizer.save(dir).map_err(TaskError::from)?)
    }

    fn load_model(&self, dir: &Path) -> spectrans_train::Result<()> {
        Ok(model_folder::load(&self.model, dir)?)
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
