//! The part every FNO model shares: optional embedding, positional encoding, the FNO blocks and
//! the final LayerNorm (eps 1e-12, as spectrans).

use std::sync::Arc;

use spectrans_layers::{Ctx, Embedding, FNOBlock, FftFloat, LayerNorm, Module, PositionalEncoding, Visitor};
use spectrans_tensor::{checkpoint, Rng, Tensor, TensorError};

use crate::budget;
use crate::config::BackboneConfig;
use crate::error::{ModelError, Result};

/// The input of a model: token ids or embeddings.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a, T: FftFloat> {
    /// Token ids, row-major (batch, len).
    Ids {
        /// The ids.
        ids: &'a [usize],
        /// Number of sequences.
        batch: usize,
        /// Sequence length.
        len: usize,
    },
    /// Embeddings (B, N, D).
    Embeds(&'a Tensor<T>),
}

/// Embedding → positional encoding → dropout → blocks → final norm.
pub struct Backbone<T: FftFloat> {
    /// Token embedding (`embedding.weight`), when the model takes ids.
    pub embedding: Option<Embedding<T>>,
    /// Positional encoding (`positional_encoding.*`).
    pub positional_encoding: Option<PositionalEncoding<T>>,
    /// The FNO blocks (`blocks.{i}.*`), shared so checkpointed segments can own them.
    pub blocks: Vec<Arc<FNOBlock<T>>>,
    /// The final LayerNorm (`final_norm.*`, eps 1e-12).
    pub final_norm: LayerNorm<T>,
    /// The configuration it was built from.
    pub config: BackboneConfig,
}

impl<T: FftFloat> Backbone<T> {
    /// Builds and initialises the backbone (spectrans' construction order, which is also the
    /// state-dict order).
    pub fn new(cfg: &BackboneConfig, rng: &mut Rng) -> Result<Self> {
        cfg.validate()?;
        budget::check_parts(&budget::backbone_parts(cfg)?, std::mem::size_of::<T>())?;
        let d = cfg.hidden_dim;
        let embedding = cfg.vocab_size.map(|v| Embedding::new(v, d, rng));
        let positional_encoding = PositionalEncoding::new(cfg.positional_kind(), d, cfg.max_sequence_length, rng)?;
        let block_cfg = cfg.block();
        let blocks = (0..cfg.num_layers)
            .map(|_| FNOBlock::new(&block_cfg, rng).map(Arc::new))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Backbone {
            embedding,
            positional_encoding,
            blocks,
            final_norm: LayerNorm::new(d, 1e-12),
            config: cfg.clone(),
        })
    }

    /// Hidden states after the final norm.
    ///
    /// # Shapes
    /// ids (B, N) or embeddings (B, N, D) → (B, N, D).
    pub fn forward(&self, ctx: &Ctx<T>, input: Input<'_, T>) -> Result<Tensor<T>> {
        spectrans_tensor::on_pool(|| self.forward_on_pool(ctx, input))
    }

    /// [`Self::forward`], run on a pool thread so its kernels fork from there.
    fn forward_on_pool(&self, ctx: &Ctx<T>, input: Input<'_, T>) -> Result<Tensor<T>> {
        let d = self.config.hidden_dim;
        let h = match input {
            Input::Ids { ids, batch, len } => {
                let Some(emb) = &self.embedding else {
                    return Err(ModelError::Input(
                        "this model has no embedding layer but input_ids was provided".into(),
                    ));
                };
                if batch == 0 || len == 0 {
                    return Err(ModelError::Input(format!("empty input: input_ids of shape [{batch}, {len}]")));
                }
                self.check_activations(&format!("input_ids of shape [{batch}, {len}]"), batch, len)?;
                let h = emb.forward(ctx, ids, &[batch, len])?;
                ctx.check_output(|| "embedding".into(), &h)?;
                h
            }
            Input::Embeds(x) => {
                let s = x.shape();
                if s.len() != 3 || s[2] != d {
                    return Err(ModelError::Input(format!("inputs_embeds must be (B, N, {d}), got shape {s:?}")));
                }
                if s[0] == 0 || s[1] == 0 {
                    return Err(ModelError::Input(format!("empty input: inputs_embeds of shape {s:?}")));
                }
                self.check_activations(&format!("inputs_embeds of shape {s:?}"), s[0], s[1])?;
                if x.has_non_finite() {
                    return Err(ModelError::Input("inputs_embeds contains NaN or infinite values".into()));
                }
                x.clone()
            }
        };
        let h = match &self.positional_encoding {
            Some(pe) => {
                let h = pe.forward(ctx, &h)?;
                ctx.check_output(|| "positional_encoding".into(), &h)?;
                h
            }
            None => h,
        };
        let mut h = ctx.dropout(&h, self.config.dropout)?;
        for (i, block) in self.blocks.iter().enumerate() {
            h = if self.config.gradient_checkpointing && ctx.tape().is_some() {
                checkpointed(ctx, block, &h)?
            } else {
                block.forward(ctx, &h)?
            };
            ctx.check_output(|| format!("blocks.{i}"), &h)?;
        }
        let h = self.final_norm.forward(ctx, &h)?;
        ctx.check_output(|| "final_norm".into(), &h)?;
        Ok(h)
    }

    /// Refuses a (batch, len) input whose activations (about four of the widest, D or the FFN
    /// width, live at once) do not fit in memory.
    fn check_activations(&self, what: &str, batch: usize, len: usize) -> Result<()> {
        let width = budget::ffn_width(&self.config)?.max(self.config.hidden_dim);
        budget::check_activations(what, &[batch, len], width, 4, std::mem::size_of::<T>())
    }
}

/// Runs a block as a checkpointed segment: recomputed during backward, identical values and
/// gradients. Dropout inside draws from a stream forked from the context's, so the recomputation
/// sees the same masks; the recomputation (the call with a tape) leaves batch normalisation's
/// running statistics alone, so each batch is counted once.
fn checkpointed<T: FftFloat>(ctx: &Ctx<T>, block: &Arc<FNOBlock<T>>, h: &Tensor<T>) -> Result<Tensor<T>> {
    let block = block.clone();
    let mode = ctx.mode();
    let rng = ctx.fork_rng();
    let out = checkpoint(ctx.tape(), std::slice::from_ref(h), move |inputs, tape| {
        let inner = Ctx::new(tape, mode, rng.clone());
        let inner = if tape.is_some() { inner.without_statistics_updates() } else { inner };
        block.forward(&inner, &inputs[0]).map_err(|e| TensorError::invalid("checkpoint", e.to_string()))
    })?;
    Ok(out)
}

impl<T: FftFloat> Module<T> for Backbone<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        if let Some(e) = &self.embedding {
            e.visit(&format!("{prefix}embedding."), v);
        }
        if let Some(p) = &self.positional_encoding {
            p.visit(&format!("{prefix}positional_encoding."), v);
        }
        for (i, b) in self.blocks.iter().enumerate() {
            b.visit(&format!("{prefix}blocks.{i}."), v);
        }
        self.final_norm.visit(&format!("{prefix}final_norm."), v);
    }
}
