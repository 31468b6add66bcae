//! The three models of spectrans: [`FNOTransformer`], [`FNOEncoder`], [`FNODecoder`], and
//! [`Model`], any of them behind one type.

use spectrans_layers::{ClassificationHead, Ctx, FftFloat, Linear, Module, Pooling, Visitor};
use spectrans_tensor::{Rng, Tensor};

use crate::backbone::{Backbone, Input};
use crate::budget;
use crate::config::{BackboneConfig, FnoDecoderConfig, FnoEncoderConfig, FnoTransformerConfig, ModelConfig};
use crate::error::{ModelError, Result};
use crate::operator::FNOOperator;

/// Validates a sequence model's configuration and checks that its parameters fit in memory
/// before anything is allocated; returns its backbone configuration.
fn checked_backbone<T: FftFloat>(full: &ModelConfig) -> Result<BackboneConfig> {
    full.validate()?;
    budget::check_parts(&budget::model_parts(full)?, std::mem::size_of::<T>())?;
    full.backbone().ok_or_else(|| ModelError::config("model_type", "the operator has no sequence backbone"))
}

/// spectrans' `FNOTransformer`: a sequence model over ids or embeddings, with a classification
/// head (first-position pooling by default) when `num_classes` is set.
pub struct FNOTransformer<T: FftFloat> {
    /// Embedding, positions, blocks, final norm.
    pub backbone: Backbone<T>,
    /// `output_head.classifier.*`, when `num_classes` is set.
    pub output_head: Option<ClassificationHead<T>>,
    /// The configuration.
    pub config: FnoTransformerConfig,
}

impl<T: FftFloat> FNOTransformer<T> {
    /// Builds and initialises the model (seeded).
    ///
    /// ```
    /// use spectrans_layers::Ctx;
    /// use spectrans_models::{FNOTransformer, FnoTransformerConfig, Input, ModelConfig};
    /// let cfg = r#"{"model_type": "fno_transformer", "vocab_size": 50, "hidden_dim": 16,
    ///              "num_layers": 2, "modes": 4, "max_sequence_length": 32, "num_classes": 3}"#;
    /// let ModelConfig::Transformer(cfg) = ModelConfig::from_json(cfg)? else { unreachable!() };
    /// let model = FNOTransformer::<f32>::new(&cfg, 0)?;
    /// let ids = vec![1usize; 2 * 10];
    /// let logits = model.forward(&Ctx::inference(), Input::Ids { ids: &ids, batch: 2, len: 10 }, None)?;
    /// assert_eq!(logits.shape(), &[2, 3]);
    /// # Ok::<(), spectrans_models::ModelError>(())
    /// ```
    pub fn new(config: &FnoTransformerConfig, seed: u64) -> Result<Self> {
        let full = ModelConfig::Transformer(config.clone());
        let bb = checked_backbone::<T>(&full)?;
        let mut rng = Rng::seed(seed);
        let backbone = Backbone::new(&bb, &mut rng)?;
        let pooling: Pooling = config.pooling;
        let output_head = config
            .num_classes
            .map(|c| ClassificationHead::new(config.hidden_dim, c, pooling, config.dropout, &mut rng));
        Ok(FNOTransformer { backbone, output_head, config: config.clone() })
    }

    /// Class logits (B, C) with a head, hidden states (B, N, D) without. The attention mask (B·N
    /// booleans, true = real token) is used by mean/max pooling; "cls" pooling ignores it.
    ///
    /// # Shapes
    /// ids (B, N) or embeddings (B, N, D) → (B, C) or (B, N, D).
    pub fn forward(&self, ctx: &Ctx<T>, input: Input<'_, T>, attention_mask: Option<&[bool]>) -> Result<Tensor<T>> {
        let h = self.backbone.forward(ctx, input)?;
        match &self.output_head {
            Some(head) => {
                let logits = head.forward(ctx, &h, attention_mask)?;
                ctx.check_output(|| "output_head".into(), &logits)?;
                Ok(logits)
            }
            None => Ok(h),
        }
    }
}

impl<T: FftFloat> Module<T> for FNOTransformer<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        self.backbone.visit(prefix, v);
        if let Some(h) = &self.output_head {
            h.visit(&format!("{prefix}output_head."), v);
        }
    }
}

/// spectrans' `FNOEncoder`: embeddings in, hidden states out.
pub struct FNOEncoder<T: FftFloat> {
    /// Positions, blocks, final norm (no embedding).
    pub backbone: Backbone<T>,
    /// The configuration.
    pub config: FnoEncoderConfig,
}

impl<T: FftFloat> FNOEncoder<T> {
    /// Builds and initialises the encoder (seeded).
    ///
    /// ```
    /// use spectrans_layers::Ctx;
    /// use spectrans_models::{FNOEncoder, ModelConfig};
    /// use spectrans_tensor::Tensor;
    /// let ModelConfig::Encoder(cfg) = ModelConfig::from_json(
    ///     r#"{"model_type": "fno_encoder", "hidden_dim": 8, "num_layers": 1, "modes": 3, "max_sequence_length": 16}"#)?
    /// else { unreachable!() };
    /// let enc = FNOEncoder::<f64>::new(&cfg, 1)?;
    /// assert_eq!(enc.forward(&Ctx::inference(), &Tensor::ones(&[2, 16, 8]))?.shape(), &[2, 16, 8]);
    /// # Ok::<(), spectrans_models::ModelError>(())
    /// ```
    pub fn new(config: &FnoEncoderConfig, seed: u64) -> Result<Self> {
        let full = ModelConfig::Encoder(config.clone());
        let backbone = Backbone::new(&checked_backbone::<T>(&full)?, &mut Rng::seed(seed))?;
        Ok(FNOEncoder { backbone, config: config.clone() })
    }

    /// Hidden states.
    ///
    /// # Shapes
    /// `inputs_embeds` (B, N, D) → (B, N, D).
    pub fn forward(&self, ctx: &Ctx<T>, inputs_embeds: &Tensor<T>) -> Result<Tensor<T>> {
        self.backbone.forward(ctx, Input::Embeds(inputs_embeds))
    }
}

impl<T: FftFloat> Module<T> for FNOEncoder<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        self.backbone.visit(prefix, v);
    }
}

/// spectrans' `FNODecoder`: token ids in, next-token logits out (`lm_head`).
///
/// `causal = true` (the default) is exactly causal: each block's spectral path is a
/// [`CausalSpectralConv1d`](spectrans_layers::CausalSpectralConv1d), so logits at position t depend
/// only on tokens ≤ t. `causal = false` is spectrans' operator (circular spectral mixing: position t
/// sees every position), which spectrans checkpoints load into.
pub struct FNODecoder<T: FftFloat> {
    /// Embedding, positions, blocks, final norm.
    pub backbone: Backbone<T>,
    /// `lm_head`: D → V.
    pub lm_head: Linear<T>,
    /// The configuration.
    pub config: FnoDecoderConfig,
}

impl<T: FftFloat> FNODecoder<T> {
    /// Builds and initialises the decoder (seeded).
    pub fn new(config: &FnoDecoderConfig, seed: u64) -> Result<Self> {
        let full = ModelConfig::Decoder(config.clone());
        let bb = checked_backbone::<T>(&full)?;
        let mut rng = Rng::seed(seed);
        let backbone = Backbone::new(&bb, &mut rng)?;
        let lm_head = Linear::new(config.hidden_dim, config.vocab_size, &mut rng);
        Ok(FNODecoder { backbone, lm_head, config: config.clone() })
    }

    /// Next-token logits.
    ///
    /// # Shapes
    /// ids (B, N) → (B, N, V).
    pub fn forward(&self, ctx: &Ctx<T>, ids: &[usize], batch: usize, len: usize) -> Result<Tensor<T>> {
        let what = format!("input_ids of shape [{batch}, {len}]");
        budget::check_activations(&what, &[batch, len], self.config.vocab_size, 1, std::mem::size_of::<T>())?;
        let h = self.backbone.forward(ctx, Input::Ids { ids, batch, len })?;
        let logits = self.lm_head.forward(ctx, &h)?;
        ctx.check_output(|| "lm_head".into(), &logits)?;
        Ok(logits)
    }
}

impl<T: FftFloat> Module<T> for FNODecoder<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        self.backbone.visit(prefix, v);
        self.lm_head.visit(&format!("{prefix}lm_head."), v);
    }
}

/// Any of the three models.
pub enum Model<T: FftFloat> {
    /// An `FNOTransformer`.
    Transformer(FNOTransformer<T>),
    /// An `FNOEncoder`.
    Encoder(FNOEncoder<T>),
    /// An `FNODecoder`.
    Decoder(FNODecoder<T>),
    /// An `FNOOperator`.
    Operator(FNOOperator<T>),
}

impl<T: FftFloat> Model<T> {
    /// Builds the model a configuration describes (seeded initialisation).
    pub fn from_config(config: &ModelConfig, seed: u64) -> Result<Self> {
        Ok(match config {
            ModelConfig::Transformer(c) => Model::Transformer(FNOTransformer::new(c, seed)?),
            ModelConfig::Encoder(c) => Model::Encoder(FNOEncoder::new(c, seed)?),
            ModelConfig::Decoder(c) => Model::Decoder(FNODecoder::new(c, seed)?),
            ModelConfig::Operator(c) => Model::Operator(FNOOperator::new(c, seed)?),
        })
    }

    /// The configuration.
    pub fn config(&self) -> ModelConfig {
        match self {
            Model::Transformer(m) => ModelConfig::Transformer(m.config.clone()),
            Model::Encoder(m) => ModelConfig::Encoder(m.config.clone()),
            Model::Decoder(m) => ModelConfig::Decoder(m.config.clone()),
            Model::Operator(m) => ModelConfig::Operator(m.config.clone()),
        }
    }

    /// Runs the model on ids or embeddings, whichever it accepts.
    ///
    /// # Shapes
    /// Transformer: (B, C) or (B, N, D); encoder: (B, N, D); decoder: (B, N, V); operator:
    /// (B, S, in) → (B, S, out).
    pub fn forward(&self, ctx: &Ctx<T>, input: Input<'_, T>, attention_mask: Option<&[bool]>) -> Result<Tensor<T>> {
        match (self, input) {
            (Model::Transformer(m), _) => m.forward(ctx, input, attention_mask),
            (Model::Encoder(m), Input::Embeds(x)) => m.forward(ctx, x),
            (Model::Encoder(_), Input::Ids { .. }) => {
                Err(ModelError::Input("FNOEncoder takes inputs_embeds, not input_ids".into()))
            }
            (Model::Decoder(m), Input::Ids { ids, batch, len }) => m.forward(ctx, ids, batch, len),
            (Model::Decoder(_), Input::Embeds(_)) => {
                Err(ModelError::Input("FNODecoder takes input_ids, not inputs_embeds".into()))
            }
            (Model::Operator(m), Input::Embeds(x)) => m.forward(ctx, x),
            (Model::Operator(_), Input::Ids { .. }) => {
                Err(ModelError::Input("FNOOperator takes a float input (B, S, channels), not input_ids".into()))
            }
        }
    }
}

impl<T: FftFloat> Module<T> for Model<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        match self {
            Model::Transformer(m) => m.visit(prefix, v),
            Model::Encoder(m) => m.visit(prefix, v),
            Model::Decoder(m) => m.visit(prefix, v),
            Model::Operator(m) => m.visit(prefix, v),
        }
    }
}
