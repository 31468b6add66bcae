//! Text generation with an [`FNODecoder`]: greedy, temperature, top-k and top-p sampling from a
//! seeded stream, stopping at a length or an end token.
//!
//! A causal decoder generates incrementally: every operation of a block is position-wise except
//! the causal convolution, whose output at t is `Σ_{j ≤ t} k[j]·u[t − j]` with a fixed kernel. So
//! each layer keeps the history of its convolution input `u` and a new token costs
//! O(L·(D² + D·H) + L·t·D) instead of a whole forward pass over the sequence. A non-causal
//! (spectrans) decoder has no such form — every position sees every other — so it recomputes
//! the full forward pass per token.

use spectrans_layers::{BlockState, Ctx, FftFloat};
use spectrans_tensor::{Rng, Tensor};

use crate::error::{ModelError, Result};
use crate::models::FNODecoder;

/// How the next token is chosen from the logits.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    /// Softmax temperature; 0 means greedy (argmax).
    pub temperature: f64,
    /// Keep only the k most likely tokens.
    pub top_k: Option<usize>,
    /// Keep the smallest set of most likely tokens whose probability reaches p (nucleus).
    pub top_p: Option<f64>,
}

impl Sampling {
    /// Greedy decoding.
    pub fn greedy() -> Self {
        Sampling { temperature: 0.0, top_k: None, top_p: None }
    }

    fn validate(&self) -> Result<()> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(ModelError::config(
                "temperature",
                format!("must be finite and >= 0, got {}", self.temperature),
            ));
        }
        if self.top_k == Some(0) {
            return Err(ModelError::config("top_k", "must be at least 1"));
        }
        if let Some(p) = self.top_p {
            if !(p > 0.0 && p <= 1.0) {
                return Err(ModelError::config("top_p", format!("must be in (0, 1], got {p}")));
            }
        }
        Ok(())
    }

    /// Picks a token from `logits` (an error when they are empty).
    pub fn pick(&self, logits: &[f64], rng: &mut Rng) -> Result<usize> {
        if logits.is_empty() {
            return Err(ModelError::Input("sampling needs at least one logit, got none".into()));
        }
        let argmax =
            || logits.iter().enumerate().fold((0, f64::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b }).0;
        if self.temperature == 0.0 {
            return Ok(argmax());
        }
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        if let Some(k) = self.top_k {
            order.truncate(k.min(order.len()));
        }
        let top = logits[order[0]];
        let mut probs: Vec<f64> = order.iter().map(|&i| ((logits[i] - top) / self.temperature).exp()).collect();
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= total);
        if let Some(p) = self.top_p {
            let mut acc = 0.0;
            let keep = probs.iter().position(|&q| {
                acc += q;
                acc >= p
            });
            let keep = keep.map(|i| i + 1).unwrap_or(probs.len());
            order.truncate(keep);
            probs.truncate(keep);
            let total: f64 = probs.iter().sum();
            probs.iter_mut().for_each(|q| *q /= total);
        }
        let u = rng.uniform();
        let mut acc = 0.0;
        for (i, &q) in order.iter().zip(&probs) {
            acc += q;
            if u < acc {
                return Ok(*i);
            }
        }
        // rounding left the cumulative sum below u: the last candidate (`order` is not empty:
        // logits are not, and top_k ≥ 1 and top_p keep at least one)
        Ok(order.last().copied().unwrap_or_else(argmax))
    }
}

/// Options of [`FNODecoder::generate`].
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Tokens to generate at most.
    pub max_new_tokens: usize,
    /// Token choice.
    pub sampling: Sampling,
    /// Stop after emitting this token.
    pub end_token: Option<usize>,
    /// Seed of the sampling stream.
    pub seed: u64,
}

/// Incremental state of a causal decoder over one sequence.
pub struct Incremental<'m, T: FftFloat> {
    model: &'m FNODecoder<T>,
    layers: Vec<BlockState<T>>,
    pos: usize,
}

impl<'m, T: FftFloat> Incremental<'m, T> {
    /// A fresh state for `model` (which must be causal) able to hold `capacity` positions.
    pub fn new(model: &'m FNODecoder<T>, capacity: usize) -> Result<Self> {
        if !model.config.causal {
            return Err(ModelError::Input("incremental decoding needs a causal decoder (causal = true)".into()));
        }
        let layers =
            model.backbone.blocks.iter().map(|b| Ok(b.incremental_state(capacity)?)).collect::<Result<Vec<_>>>()?;
        Ok(Incremental { model, layers, pos: 0 })
    }

    /// Feeds one token; returns the next-token logits (V).
    pub fn step(&mut self, token: usize) -> Result<Vec<T>> {
        let ctx = Ctx::inference();
        let bb = &self.model.backbone;
        let d = bb.config.hidden_dim;
        let t = self.pos;
        let emb =
            bb.embedding.as_ref().ok_or_else(|| ModelError::Input("the decoder has no embedding layer".into()))?;
        let mut h = emb.forward(&ctx, &[token], &[1, 1])?;
        if let Some(pe) = &bb.positional_encoding {
            h = add_position(pe, &ctx, &h, t, d)?;
        }
        for (block, state) in bb.blocks.iter().zip(&mut self.layers) {
            h = block.step(&ctx, state, &h)?;
        }
        let h = bb.final_norm.forward(&ctx, &h)?;
        let logits = self.model.lm_head.forward(&ctx, &h)?;
        self.pos += 1;
        Ok(logits.to_vec())
    }
}

/// Applies the positional encoding of position `t` to a (1, 1, D) hidden state. Encodings are
/// position-wise, so this evaluates the layer on a length-(t + 1) sequence and keeps row t:
/// O(t·D), the same order as the causal-convolution step.
fn add_position<T: FftFloat>(
    pe: &spectrans_layers::PositionalEncoding<T>,
    ctx: &Ctx<T>,
    h: &Tensor<T>,
    t: usize,
    d: usize,
) -> Result<Tensor<T>> {
    let zeros = Tensor::zeros(&[1, t + 1, d]);
    let row = pe.forward(ctx, &zeros)?.narrow(1, t, 1)?;
    Ok(match pe {
        spectrans_layers::PositionalEncoding::Rotary { .. } => {
            // rotary acts multiplicatively: apply it to h placed at position t
            let mut placed = vec![T::zero(); (t + 1) * d];
            placed[t * d..].copy_from_slice(h.data());
            pe.forward(ctx, &Tensor::from_vec(placed, &[1, t + 1, d])?)?.narrow(1, t, 1)?
        }
        _ => h.add(&row)?,
    })
}

impl<T: FftFloat> FNODecoder<T> {
    /// Generates up to `max_new_tokens` tokens after `prompt` (non-empty); returns only the new
    /// tokens (ending with `end_token` if it was produced). Deterministic for a given seed.
    ///
    /// ```
    /// use spectrans_models::{FNODecoder, GenerateOptions, ModelConfig, Sampling};
    /// let ModelConfig::Decoder(cfg) = ModelConfig::from_json(
    ///     r#"{"model_type": "fno_decoder", "vocab_size": 11, "hidden_dim": 8, "num_layers": 1,
    ///         "modes": 3, "max_sequence_length": 32}"#)? else { unreachable!() };
    /// let model = FNODecoder::<f32>::new(&cfg, 0)?;
    /// let opts = GenerateOptions { max_new_tokens: 5, sampling: Sampling::greedy(), end_token: None, seed: 0 };
    /// let out = model.generate(&[1, 2, 3], &opts)?;
    /// assert_eq!(out.len(), 5);
    /// # Ok::<(), spectrans_models::ModelError>(())
    /// ```
    pub fn generate(&self, prompt: &[usize], opts: &GenerateOptions) -> Result<Vec<usize>> {
        opts.sampling.validate()?;
        if prompt.is_empty() {
            return Err(ModelError::Input("generation needs a non-empty prompt".into()));
        }
        let v = self.config.vocab_size;
        if let Some(&bad) = prompt.iter().find(|&&i| i >= v) {
            return Err(ModelError::Input(format!("prompt token {bad} is out of range for a vocabulary of {v}")));
        }
        let table_limit = match self.backbone.positional_encoding {
            Some(spectrans_layers::PositionalEncoding::Sinusoidal { .. })
            | Some(spectrans_layers::PositionalEncoding::Learned { .. }) => Some(self.config.max_sequence_length),
            _ => None,
        };
        let Some(mut total) = prompt.len().checked_add(opts.max_new_tokens) else {
            return Err(ModelError::config("max_new_tokens", format!("{} overflows", opts.max_new_tokens)));
        };
        if let Some(limit) = table_limit {
            if prompt.len() > limit {
                return Err(ModelError::Input(format!(
                    "prompt of {} tokens exceeds max_sequence_length {limit}",
                    prompt.len()
                )));
            }
            total = total.min(limit);
        }
        // the sequence, and per layer the kernels and the convolution-input history (D per position)
        let per_position = (self.config.num_layers as u128) * (self.config.hidden_dim as u128) * 2 + 1;
        let bytes = (total as u128).checked_mul(per_position).and_then(|n| n.checked_mul(size_of::<T>() as u128));
        spectrans_tensor::limits::check_bytes(&format!("max_new_tokens {}", opts.max_new_tokens), bytes)?;
        let mut rng = Rng::seed(opts.seed);
        let mut seq = prompt.to_vec();
        let mut out = Vec::new();
        if self.config.causal {
            let mut state = Incremental::new(self, total)?;
            let mut logits = Vec::new();
            for &tok in prompt {
                logits = state.step(tok)?;
            }
            while seq.len() < total {
                let l: Vec<f64> = logits.iter().map(|v| v.as_f64()).collect();
                let next = opts.sampling.pick(&l, &mut rng)?;
                seq.push(next);
                out.push(next);
                if Some(next) == opts.end_token || seq.len() == total {
                    break;
                }
                logits = state.step(next)?;
            }
        } else {
            let ctx = Ctx::inference();
            while seq.len() < total {
                let n = seq.len();
                let logits = self.forward(&ctx, &seq, 1, n)?;
                let l: Vec<f64> = logits.data()[(n - 1) * v..].iter().map(|x| x.as_f64()).collect();
                let next = opts.sampling.pick(&l, &mut rng)?;
                seq.push(next);
                out.push(next);
                if Some(next) == opts.end_token {
                    break;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;

    fn model<T: FftFloat>(causal: bool, pe: &str) -> FNODecoder<T> {
        let json = format!(
            r#"{{"model_type": "fno_decoder", "vocab_size": 13, "hidden_dim": 8, "num_layers": 2, "modes": 4,
                "max_sequence_length": 24, "causal": {causal}, "positional_encoding_type": "{pe}"}}"#
        );
        let ModelConfig::Decoder(cfg) = ModelConfig::from_json(&json).unwrap() else { unreachable!() };
        let m = FNODecoder::<T>::new(&cfg, 7).unwrap();
        for (name, p) in spectrans_layers::Module::named_parameters(&m) {
            if name.contains("causal_conv") {
                p.update(|v, _| v.iter_mut().for_each(|x| *x *= T::of(5.0)));
            }
        }
        m
    }

    #[test]
    fn incremental_logits_equal_the_full_forward() {
        for pe in ["sinusoidal", "learned", "rotary", "none"] {
            let m = model::<f64>(true, pe);
            let ids = [3usize, 1, 4, 1, 5, 9, 2, 6, 5, 3];
            let full = m.forward(&Ctx::inference(), &ids, 1, ids.len()).unwrap();
            let mut st = Incremental::new(&m, ids.len()).unwrap();
            for (t, &tok) in ids.iter().enumerate() {
                let l = st.step(tok).unwrap();
                for (a, b) in l.iter().zip(&full.data()[t * 13..(t + 1) * 13]) {
                    assert!((a - b).abs() < 1e-10, "pe {pe} position {t}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn greedy_is_the_argmax_of_a_full_forward_at_each_step() {
        for causal in [true, false] {
            let m = model::<f64>(causal, "sinusoidal");
            let opts = GenerateOptions { max_new_tokens: 12, sampling: Sampling::greedy(), end_token: None, seed: 0 };
            let prompt = [2usize, 7, 1];
            let out = m.generate(&prompt, &opts).unwrap();
            assert_eq!(out.len(), 12);
            let mut seq = prompt.to_vec();
            for &tok in &out {
                let n = seq.len();
                let logits = m.forward(&Ctx::inference(), &seq, 1, n).unwrap();
                let row = &logits.data()[(n - 1) * 13..n * 13];
                let best = (0..13).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
                assert_eq!(tok, best, "causal={causal} at length {n}");
                seq.push(tok);
            }
        }
    }

    #[test]
    fn sampling_is_deterministic_under_a_seed_and_respects_limits() {
        let m = model::<f32>(true, "sinusoidal");
        let s = Sampling { temperature: 1.3, top_k: Some(5), top_p: Some(0.9) };
        let opts = GenerateOptions { max_new_tokens: 30, sampling: s.clone(), end_token: None, seed: 42 };
        let a = m.generate(&[1, 2], &opts).unwrap();
        assert_eq!(a, m.generate(&[1, 2], &opts).unwrap());
        assert_eq!(a.len(), 22, "the sinusoidal table of 24 positions bounds the sequence");
        let b = m.generate(&[1, 2], &GenerateOptions { seed: 43, ..opts.clone() }).unwrap();
        assert_ne!(a, b);
        let stop = m.generate(&[1, 2], &GenerateOptions { end_token: Some(a[3]), ..opts }).unwrap();
        assert!(stop.len() <= 4 && *stop.last().unwrap() == a[3]);
    }

    #[test]
    fn top_k_one_is_greedy_and_bad_options_are_errors() {
        let logits = [0.1, 2.0, -1.0, 1.9];
        let mut rng = Rng::seed(0);
        let s = Sampling { temperature: 5.0, top_k: Some(1), top_p: None };
        assert!((0..50).all(|_| s.pick(&logits, &mut rng).unwrap() == 1));
        let s = Sampling { temperature: 1.0, top_k: None, top_p: Some(1e-9) };
        assert!((0..50).all(|_| s.pick(&logits, &mut rng).unwrap() == 1));
        let m = model::<f32>(true, "none");
        let bad = |s: Sampling| GenerateOptions { max_new_tokens: 2, sampling: s, end_token: None, seed: 0 };
        let e = m.generate(&[1], &bad(Sampling { temperature: -1.0, top_k: None, top_p: None })).unwrap_err();
        assert!(e.to_string().contains("temperature"));
        assert!(m.generate(&[1], &bad(Sampling { temperature: 1.0, top_k: Some(0), top_p: None })).is_err());
        assert!(m.generate(&[1], &bad(Sampling { temperature: 1.0, top_k: None, top_p: Some(1.5) })).is_err());
        assert!(m.generate(&[], &bad(Sampling::greedy())).is_err());
        assert!(m.generate(&[13], &bad(Sampling::greedy())).unwrap_err().to_string().contains("13"));
    }
}
