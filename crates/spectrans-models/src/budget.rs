//! Memory budgets, computed from a configuration with checked arithmetic *before* a model is
//! built or run: the parameter count of every part of a model (attributed to the config fields
//! that size it) and the activations of a forward pass. A configuration or input that needs more
//! than the [memory limit](spectrans_tensor::limits) is refused with an error naming the field,
//! instead of aborting in the allocator or growing until the kernel kills the process.

use spectrans_layers::PositionalKind;
use spectrans_tensor::limits::{self, human};

use crate::config::{BackboneConfig, FnoOperatorConfig, ModelConfig};
use crate::error::{ModelError, Result};

/// One part of a model: its name, the config fields (with values) whose product sizes it, and its
/// parameter count (`None` when the count overflows).
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// The module (e.g. `blocks.*.ffn`).
    pub module: &'static str,
    /// The fields that size it.
    pub factors: Vec<(&'static str, u128)>,
    /// Its number of parameters and buffers.
    pub count: Option<u128>,
}

impl Part {
    fn new(module: &'static str, factors: &[(&'static str, u128)], count: Option<u128>) -> Self {
        Part { module, factors: factors.to_vec(), count }
    }

    /// The field to blame: the largest of the factors.
    fn culprit(&self) -> &'static str {
        self.factors.iter().max_by_key(|(_, v)| *v).map(|(f, _)| *f).unwrap_or(self.module)
    }
}

/// `Σ Π` with overflow checking.
fn mul(xs: &[u128]) -> Option<u128> {
    xs.iter().try_fold(1u128, |a, &x| a.checked_mul(x))
}

fn add(xs: &[Option<u128>]) -> Option<u128> {
    xs.iter().try_fold(0u128, |a, x| a.checked_add((*x)?))
}

pub use crate::config::ffn_width;

/// The parts of a backbone (embedding, positions, blocks, final norm).
pub fn backbone_parts(cfg: &BackboneConfig) -> Result<Vec<Part>> {
    let d = cfg.hidden_dim as u128;
    let l = cfg.num_layers as u128;
    let m = cfg.modes as u128;
    let s = cfg.max_sequence_length as u128;
    let h = ffn_width(cfg)? as u128;
    let (hd, nl, md, sl) = (("hidden_dim", d), ("num_layers", l), ("modes", m), ("max_sequence_length", s));
    let mut parts = Vec::new();
    if let Some(v) = cfg.vocab_size {
        let v = v as u128;
        parts.push(Part::new("embedding", &[("vocab_size", v), hd], mul(&[v, d])));
    }
    match cfg.positional_kind() {
        PositionalKind::Sinusoidal | PositionalKind::Learned => {
            parts.push(Part::new("positional_encoding", &[sl, hd], mul(&[s, d])))
        }
        PositionalKind::Rotary => parts.push(Part::new("positional_encoding", &[hd], Some(d / 2))),
        PositionalKind::None => {}
    }
    // the spectral path: D·M·2 (causal), D·D·M·2 (1-D), 2·D·D·M·M·2 (2-D)
    let spectral = if cfg.causal {
        mul(&[l, d, m, 2])
    } else if cfg.spatial_dim.is_some() {
        mul(&[l, 4, d, d, m, m])
    } else {
        mul(&[l, d, d, m, 2])
    };
    parts.push(Part::new("blocks.*.fno.spectral", &[nl, hd, md], spectral));
    // pointwise path D·D + D, norm1 and norm2 2·D each
    parts.push(Part::new("blocks.*.fno.linear, norms", &[nl, hd], d.checked_add(5).and_then(|k| mul(&[l, d, k]))));
    let ffn_field = if cfg.ffn_hidden_dim.is_some() { "ffn_hidden_dim" } else { "mlp_ratio" };
    let ffn = mul(&[2, d, h]).and_then(|w| w.checked_add(h + d)).and_then(|w| w.checked_mul(l));
    parts.push(Part::new("blocks.*.ffn", &[nl, hd, (ffn_field, h)], ffn));
    parts.push(Part::new("final_norm", &[hd], mul(&[2, d])));
    Ok(parts)
}

/// The parts of an operator (lifting, Fourier layers, projections).
pub fn operator_parts(c: &FnoOperatorConfig) -> Result<Vec<Part>> {
    let w = c.width as u128;
    let m = c.modes as u128;
    let l = c.num_layers as u128;
    let p = c.projection_dim as u128;
    let inputs = (c.in_channels as u128).checked_add(c.grid_channels()? as u128);
    let (wd, md, nl, pd) = (("width", w), ("modes", m), ("num_layers", l), ("projection_dim", p));
    let spectral = if c.spatial_dims == 2 { mul(&[l, 4, w, w, m, m]) } else { mul(&[l, 2, w, w, m]) };
    Ok(vec![
        Part::new("lifting", &[("in_channels", c.in_channels as u128), wd], inputs.and_then(|i| mul(&[i + 1, w]))),
        Part::new("fourier_layers.*.spectral_conv", &[nl, wd, md], spectral),
        Part::new("fourier_layers.*.linear", &[nl, wd], mul(&[l, w, w + 1])),
        Part::new("projection1", &[wd, pd], mul(&[w + 1, p])),
        Part::new(
            "projection2",
            &[pd, ("out_channels", c.out_channels as u128)],
            mul(&[p + 1, c.out_channels as u128]),
        ),
    ])
}

/// Every part of the model a configuration describes, heads included.
pub fn model_parts(cfg: &ModelConfig) -> Result<Vec<Part>> {
    let mut parts = match (cfg, cfg.backbone()) {
        (ModelConfig::Operator(c), _) => return operator_parts(c),
        (_, Some(bb)) => backbone_parts(&bb)?,
        (_, None) => Vec::new(),
    };
    let (d, head) = match cfg {
        ModelConfig::Transformer(c) => (c.hidden_dim, c.num_classes.map(|n| ("num_classes", n))),
        ModelConfig::Decoder(c) => (c.hidden_dim, Some(("vocab_size", c.vocab_size))),
        _ => (0, None),
    };
    if let Some((field, n)) = head {
        let (d, n) = (d as u128, n as u128);
        let module = if field == "vocab_size" { "lm_head" } else { "output_head" };
        parts.push(Part::new(module, &[("hidden_dim", d), (field, n)], d.checked_add(1).and_then(|k| mul(&[k, n]))));
    }
    Ok(parts)
}

/// The total parameter count of `parts` (`None` on overflow).
pub fn total(parts: &[Part]) -> Option<u128> {
    add(&parts.iter().map(|p| p.count).collect::<Vec<_>>())
}

/// Refuses a model whose parameters (of `elem_bytes` each) overflow or exceed the memory limit;
/// the error names the field that sizes the largest part, its value, and the bytes needed.
pub fn check_parts(parts: &[Part], elem_bytes: usize) -> Result<()> {
    let bytes = total(parts).and_then(|n| n.checked_mul(elem_bytes as u128));
    let limit = limits::memory_limit()?;
    let fits = matches!(bytes, Some(b) if b <= limit.bytes);
    if fits {
        return Ok(());
    }
    // blame the part that overflows, else the largest
    let worst = parts.iter().find(|p| p.count.is_none()).or_else(|| parts.iter().max_by_key(|p| p.count));
    let Some(worst) = worst else { return Ok(()) };
    let field = worst.culprit();
    let sizes: Vec<String> = worst
        .factors
        .iter()
        .map(|(f, v)| match *f {
            "mlp_ratio" => format!("FFN width {v} (hidden_dim × mlp_ratio)"),
            _ => format!("{f} {v}"),
        })
        .collect();
    let need = match bytes {
        Some(b) => format!("needs {} ({b} bytes) of parameters, more than {limit}", human(b)),
        None => "has a parameter count that overflows".to_string(),
    };
    Err(ModelError::config(
        field,
        format!("too large: the model {need}; its largest part is {} ({})", worst.module, sizes.join(" × ")),
    ))
}

/// Refuses a forward pass whose widest activation — `rows` positions of `width` values of
/// `elem_bytes` each, times `copies` live at once — overflows or exceeds the memory limit.
/// `what` describes the input (its shape) in the error.
pub fn check_activations(what: &str, rows: &[usize], width: usize, copies: usize, elem_bytes: usize) -> Result<()> {
    let bytes = rows.iter().chain([&width, &copies, &elem_bytes]).try_fold(1u128, |a, &x| a.checked_mul(x as u128));
    limits::check_bytes(&format!("input: {what} (activations of width {width})"), bytes).map_err(ModelError::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Model;
    use spectrans_layers::Module;

    fn parameters(json: &str) -> (u128, u128) {
        let cfg = ModelConfig::from_json(json).unwrap();
        let model = Model::<f32>::from_config(&cfg, 0).unwrap();
        let mut n: usize = model.named_parameters().iter().map(|(_, p)| p.value().numel()).sum();
        n += model.named_buffers().iter().map(|(_, b)| b.value().numel()).sum::<usize>();
        (total(&model_parts(&cfg).unwrap()).unwrap(), n as u128)
    }

    #[test]
    fn the_budget_counts_exactly_the_parameters_built() {
        for json in [
            r#"{"model_type": "fno_encoder", "hidden_dim": 16, "num_layers": 2, "modes": 4, "max_sequence_length": 16}"#,
            r#"{"model_type": "fno_encoder", "hidden_dim": 6, "num_layers": 1, "modes": 2, "max_sequence_length": 8,
                "positional_encoding_type": "learned", "ffn_hidden_dim": 5}"#,
            r#"{"model_type": "fno_encoder", "hidden_dim": 6, "num_layers": 1, "modes": 2, "positional_encoding_type": "rotary", "mlp_ratio": 1.5}"#,
            r#"{"model_type": "fno_transformer", "vocab_size": 50, "hidden_dim": 8, "num_layers": 1, "modes": 3,
                "max_sequence_length": 16, "num_classes": 3, "use_positional_encoding": false}"#,
            r#"{"model_type": "fno_transformer", "hidden_dim": 8, "num_layers": 2, "modes": 2, "use_2d": true,
                "spatial_dim": 4, "max_sequence_length": 16}"#,
            r#"{"model_type": "fno_decoder", "vocab_size": 11, "hidden_dim": 8, "num_layers": 2, "modes": 3, "max_sequence_length": 32}"#,
            r#"{"model_type": "fno_decoder", "vocab_size": 11, "hidden_dim": 8, "num_layers": 1, "modes": 3, "causal": false}"#,
            r#"{"model_type": "fno_operator", "width": 8, "modes": 3, "num_layers": 2, "projection_dim": 16}"#,
            r#"{"model_type": "fno_operator", "width": 4, "modes": 2, "num_layers": 1, "spatial_dims": 2, "grid": "periodic", "in_channels": 3}"#,
        ] {
            let (estimated, built) = parameters(json);
            assert_eq!(estimated, built, "{json}");
        }
    }

    #[test]
    fn absurd_fields_are_named_and_sized() {
        let cases = [
            (
                r#"{"model_type": "fno_encoder", "hidden_dim": 16, "max_sequence_length": 1000000000000}"#,
                "max_sequence_length",
            ),
            (r#"{"model_type": "fno_encoder", "hidden_dim": 1099511627776}"#, "hidden_dim"),
            (r#"{"model_type": "fno_encoder", "hidden_dim": 16, "modes": 1000000000000}"#, "modes"),
            (r#"{"model_type": "fno_encoder", "hidden_dim": 16, "num_layers": 100000000000}"#, "num_layers"),
            (r#"{"model_type": "fno_encoder", "hidden_dim": 16, "ffn_hidden_dim": 100000000000000}"#, "ffn_hidden_dim"),
            (r#"{"model_type": "fno_encoder", "hidden_dim": 16, "mlp_ratio": 1e15}"#, "mlp_ratio"),
            (r#"{"model_type": "fno_decoder", "vocab_size": 1125899906842624}"#, "vocab_size"),
            (r#"{"model_type": "fno_operator", "width": 18446744073709551615}"#, "width"),
        ];
        for (json, field) in cases {
            let cfg = ModelConfig::from_json(json).unwrap();
            let e = check_parts(&model_parts(&cfg).unwrap(), 4).unwrap_err().to_string();
            assert!(e.starts_with(&format!("config: invalid `{field}`")), "{json}: {e}");
            assert!(e.contains("bytes") || e.contains("overflows"), "{e}");
        }
    }

    #[test]
    fn an_ffn_width_that_rounds_to_zero_is_refused() {
        // refused when the configuration is read
        let e = ModelConfig::from_json(r#"{"model_type": "fno_encoder", "hidden_dim": 8, "mlp_ratio": 0.01}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`mlp_ratio`") && e.contains("0.08"), "{e}");
    }

    #[test]
    fn activations_over_the_limit_are_refused() {
        let e = check_activations("input_ids [1, 1000000000000]", &[1, 1 << 40], 1 << 30, 2, 4).unwrap_err();
        assert!(e.to_string().contains("input_ids [1, 1000000000000]"), "{e}");
        assert!(check_activations("tiny", &[2, 3], 4, 2, 4).is_ok());
    }
}
