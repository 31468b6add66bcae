//! Model configurations: spectrans constructor keyword names and defaults, serde (JSON), every
//! field validated with a message naming it, unknown keys rejected.

use serde::{Deserialize, Serialize};
use spectrans_layers::{FNOBlockConfig, NormKind, Pooling, PositionalKind};

use crate::error::{ModelError, Result};

mod operator;

pub use operator::{FnoOperatorConfig, GridEncoding};

fn d512() -> usize {
    512
}
fn l12() -> usize {
    12
}
fn len2048() -> usize {
    2048
}
fn m32() -> usize {
    32
}
fn r2() -> f64 {
    2.0
}
fn yes() -> bool {
    true
}

/// serde of the closed choices that spectrans writes as strings (positional encoding, pooling):
/// spectrans' exact names; an unknown name is an error listing the allowed ones (the field is
/// named by [`parse_fields`]).
mod names {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};
    use spectrans_layers::{LayerError, Pooling, PositionalKind};
    use std::str::FromStr;

    /// A closed choice with a spectrans name.
    pub trait Named: Copy + FromStr<Err = LayerError> {
        /// The spectrans name.
        fn name(self) -> &'static str;
    }

    impl Named for PositionalKind {
        fn name(self) -> &'static str {
            PositionalKind::name(self)
        }
    }

    impl Named for Pooling {
        fn name(self) -> &'static str {
            Pooling::name(self)
        }
    }

    pub fn serialize<K: Named, S: Serializer>(k: &K, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(k.name())
    }

    pub fn deserialize<'de, K: Named, D: Deserializer<'de>>(d: D) -> std::result::Result<K, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(|e| match e {
            LayerError::Config { reason, .. } => D::Error::custom(reason),
            other => D::Error::custom(other),
        })
    }
}

/// `FNOTransformer` (sequence model, classifier when `num_classes` is set). [`Default`] is
/// spectrans 0.1.0's constructor defaults, the values of fields missing from JSON:
///
/// ```
/// use spectrans_models::FnoTransformerConfig;
/// let c = FnoTransformerConfig { hidden_dim: 64, num_classes: Some(3), ..Default::default() };
/// assert_eq!((c.num_layers, c.modes, c.max_sequence_length), (6, 32, 1024));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FnoTransformerConfig {
    /// Token vocabulary; `None` = inputs are embeddings.
    pub vocab_size: Option<usize>,
    /// Width D.
    pub hidden_dim: usize,
    /// Number of FNO blocks.
    pub num_layers: usize,
    /// Longest sequence (size of positional tables).
    pub max_sequence_length: usize,
    /// Fourier modes per block.
    pub modes: usize,
    /// FFN width ratio.
    pub mlp_ratio: f64,
    /// Real 2-D blocks over a `spatial_dim`² grid.
    pub use_2d: bool,
    /// Side of the 2-D grid.
    pub spatial_dim: Option<usize>,
    /// Classes of the classification head.
    pub num_classes: Option<usize>,
    /// Explicit FFN width.
    pub ffn_hidden_dim: Option<usize>,
    /// Dropout probability.
    pub dropout: f64,
    /// Whether to add positional information.
    pub use_positional_encoding: bool,
    /// sinusoidal | learned | rotary | none (spectrans' no-op "alibi" is refused, naming "none").
    #[serde(with = "names")]
    pub positional_encoding_type: PositionalKind,
    /// Recompute block activations during backward.
    pub gradient_checkpointing: bool,
    /// Pooling of the classification head: cls (spectrans) | mean | max (extension).
    #[serde(with = "names")]
    pub pooling: Pooling,
}

/// `FNOEncoder` (embeddings in, hidden states out). [`Default`] is spectrans 0.1.0's
/// constructor defaults, the values of fields missing from JSON:
///
/// ```
/// use spectrans_models::FnoEncoderConfig;
/// use spectrans_layers::PositionalKind;
/// let c = FnoEncoderConfig { hidden_dim: 256, ..Default::default() };
/// assert_eq!((c.num_layers, c.modes, c.mlp_ratio), (6, 32, 2.0));
/// assert_eq!(c.positional_encoding_type, PositionalKind::Sinusoidal);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FnoEncoderConfig {
    /// Width D.
    pub hidden_dim: usize,
    /// Number of FNO blocks.
    pub num_layers: usize,
    /// Longest sequence.
    pub max_sequence_length: usize,
    /// Fourier modes per block.
    pub modes: usize,
    /// FFN width ratio.
    pub mlp_ratio: f64,
    /// Explicit FFN width.
    pub ffn_hidden_dim: Option<usize>,
    /// Dropout probability.
    pub dropout: f64,
    /// Whether to add positional information.
    pub use_positional_encoding: bool,
    /// sinusoidal | learned | rotary | none (spectrans' no-op "alibi" is refused, naming "none").
    #[serde(with = "names")]
    pub positional_encoding_type: PositionalKind,
    /// Recompute block activations during backward.
    pub gradient_checkpointing: bool,
}

/// `FNODecoder` (token ids in, next-token logits out). `vocab_size` has no spectrans default:
/// JSON must give it, and [`FnoDecoderConfig::new`] takes it; [`Default`] leaves it 0, which
/// validation rejects naming `vocab_size`.
///
/// ```
/// use spectrans_models::FnoDecoderConfig;
/// let c = FnoDecoderConfig { hidden_dim: 64, ..FnoDecoderConfig::new(100) };
/// assert_eq!((c.num_layers, c.max_sequence_length, c.causal), (12, 2048, true));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FnoDecoderConfig {
    /// Token vocabulary (required).
    pub vocab_size: usize,
    /// Width D.
    #[serde(default = "d512")]
    pub hidden_dim: usize,
    /// Number of FNO blocks.
    #[serde(default = "l12")]
    pub num_layers: usize,
    /// Longest sequence.
    #[serde(default = "len2048")]
    pub max_sequence_length: usize,
    /// Fourier modes per block.
    #[serde(default = "m32")]
    pub modes: usize,
    /// FFN width ratio.
    #[serde(default = "r2")]
    pub mlp_ratio: f64,
    /// Exactly causal spectral mixing (true, default) or spectrans' circular operator (false).
    #[serde(default = "yes")]
    pub causal: bool,
    /// Explicit FFN width.
    #[serde(default)]
    pub ffn_hidden_dim: Option<usize>,
    /// Dropout probability.
    #[serde(default)]
    pub dropout: f64,
    /// Whether to add positional information.
    #[serde(default = "yes")]
    pub use_positional_encoding: bool,
    /// sinusoidal | learned | rotary | none (spectrans' no-op "alibi" is refused, naming "none").
    #[serde(default, with = "names")]
    pub positional_encoding_type: PositionalKind,
    /// Recompute block activations during backward.
    #[serde(default)]
    pub gradient_checkpointing: bool,
}

impl Default for FnoTransformerConfig {
    fn default() -> Self {
        FnoTransformerConfig {
            vocab_size: None,
            hidden_dim: 512,
            num_layers: 6,
            max_sequence_length: 1024,
            modes: 32,
            mlp_ratio: 2.0,
            use_2d: false,
            spatial_dim: None,
            num_classes: None,
            ffn_hidden_dim: None,
            dropout: 0.0,
            use_positional_encoding: true,
            positional_encoding_type: PositionalKind::Sinusoidal,
            gradient_checkpointing: false,
            pooling: Pooling::Cls,
        }
    }
}

impl Default for FnoEncoderConfig {
    fn default() -> Self {
        FnoEncoderConfig {
            hidden_dim: 512,
            num_layers: 6,
            max_sequence_length: 1024,
            modes: 32,
            mlp_ratio: 2.0,
            ffn_hidden_dim: None,
            dropout: 0.0,
            use_positional_encoding: true,
            positional_encoding_type: PositionalKind::Sinusoidal,
            gradient_checkpointing: false,
        }
    }
}

impl FnoDecoderConfig {
    /// spectrans 0.1.0's defaults for a vocabulary of `vocab_size` tokens.
    pub fn new(vocab_size: usize) -> Self {
        FnoDecoderConfig { vocab_size, ..Default::default() }
    }
}

impl Default for FnoDecoderConfig {
    fn default() -> Self {
        FnoDecoderConfig {
            vocab_size: 0,
            hidden_dim: d512(),
            num_layers: l12(),
            max_sequence_length: len2048(),
            modes: m32(),
            mlp_ratio: r2(),
            causal: yes(),
            ffn_hidden_dim: None,
            dropout: 0.0,
            use_positional_encoding: yes(),
            positional_encoding_type: PositionalKind::Sinusoidal,
            gradient_checkpointing: false,
        }
    }
}

/// Any model configuration, tagged by `model_type` in JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelConfig {
    /// `"model_type": "fno_transformer"`.
    Transformer(FnoTransformerConfig),
    /// `"model_type": "fno_encoder"`.
    Encoder(FnoEncoderConfig),
    /// `"model_type": "fno_decoder"`.
    Decoder(FnoDecoderConfig),
    /// `"model_type": "fno_operator"`.
    Operator(FnoOperatorConfig),
}

const MODEL_TYPES: &str = "fno_transformer, fno_encoder, fno_decoder or fno_operator";

impl ModelConfig {
    /// Parses a `config.json` text: `model_type` selects the model, unknown keys are errors,
    /// and every field is validated.
    ///
    /// ```
    /// use spectrans_models::ModelConfig;
    /// let c = ModelConfig::from_json(r#"{"model_type": "fno_encoder", "hidden_dim": 16, "modes": 4}"#)?;
    /// assert!(matches!(c, ModelConfig::Encoder(ref e) if e.num_layers == 6));
    /// let e = ModelConfig::from_json(r#"{"model_type": "fno_encoder", "hiden_dim": 16}"#).unwrap_err();
    /// assert!(e.to_string().contains("hiden_dim"));
    /// # Ok::<(), spectrans_models::ModelError>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ModelError::config("config.json", format!("not valid JSON: {e}")))?;
        let serde_json::Value::Object(mut map) = value else {
            return Err(ModelError::config("config.json", "must be a JSON object"));
        };
        let kind = match map.remove("model_type") {
            Some(serde_json::Value::String(s)) => s,
            Some(other) => {
                return Err(ModelError::config("model_type", format!("must be a string ({MODEL_TYPES}), got {other}")))
            }
            None => return Err(ModelError::config("model_type", format!("missing; expected {MODEL_TYPES}"))),
        };
        let cfg = match kind.as_str() {
            "fno_transformer" => ModelConfig::Transformer(parse_fields(map, &kind)?),
            "fno_encoder" => ModelConfig::Encoder(parse_fields(map, &kind)?),
            "fno_decoder" => ModelConfig::Decoder(parse_fields(map, &kind)?),
            "fno_operator" => ModelConfig::Operator(parse_fields(map, &kind)?),
            other => {
                return Err(ModelError::config(
                    "model_type",
                    format!("unknown model type {other:?}; expected {MODEL_TYPES}"),
                ))
            }
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// The JSON text of this configuration, `model_type` included.
    pub fn to_json(&self) -> String {
        let value = match self {
            ModelConfig::Transformer(c) => serde_json::to_value(c),
            ModelConfig::Encoder(c) => serde_json::to_value(c),
            ModelConfig::Decoder(c) => serde_json::to_value(c),
            ModelConfig::Operator(c) => serde_json::to_value(c),
        }
        // invariant: structs of numbers, strings and options (NaN serialises as null)
        .expect("plain config structs always serialise");
        let mut map = serde_json::Map::new();
        map.insert("model_type".into(), self.model_type().into());
        if let serde_json::Value::Object(fields) = value {
            map.extend(fields);
        }
        // invariant: a `Value` always serialises
        serde_json::to_string_pretty(&serde_json::Value::Object(map)).expect("a JSON map always serialises")
    }

    /// The `model_type` string.
    pub fn model_type(&self) -> &'static str {
        match self {
            ModelConfig::Transformer(_) => "fno_transformer",
            ModelConfig::Encoder(_) => "fno_encoder",
            ModelConfig::Decoder(_) => "fno_decoder",
            ModelConfig::Operator(_) => "fno_operator",
        }
    }

    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        if let Some(bb) = self.backbone() {
            bb.validate()?;
        }
        match self {
            ModelConfig::Transformer(c) => {
                positive("num_classes", c.num_classes)?;
                positive("vocab_size", c.vocab_size)?;
                if c.use_2d {
                    let Some(s) = c.spatial_dim else {
                        return Err(ModelError::config("spatial_dim", "must be specified when use_2d is true"));
                    };
                    if s.checked_mul(s) != Some(c.max_sequence_length) {
                        return Err(ModelError::config(
                            "max_sequence_length",
                            format!(
                                "must equal spatial_dim² = {} when use_2d is true, got {}",
                                (s as u128) * (s as u128),
                                c.max_sequence_length
                            ),
                        ));
                    }
                }
                Ok(())
            }
            ModelConfig::Encoder(_) => Ok(()),
            ModelConfig::Decoder(c) => positive("vocab_size", Some(c.vocab_size)),
            ModelConfig::Operator(c) => c.validate(),
        }
    }

    /// The shared part of the sequence models' configurations (`None` for the operator).
    pub fn backbone(&self) -> Option<BackboneConfig> {
        /// The fields every sequence-model config has under the same names.
        macro_rules! common {
            ($c:expr, vocab_size: $v:expr, spatial_dim: $s:expr, causal: $causal:expr) => {
                BackboneConfig {
                    vocab_size: $v,
                    hidden_dim: $c.hidden_dim,
                    num_layers: $c.num_layers,
                    max_sequence_length: $c.max_sequence_length,
                    modes: $c.modes,
                    mlp_ratio: $c.mlp_ratio,
                    ffn_hidden_dim: $c.ffn_hidden_dim,
                    dropout: $c.dropout,
                    use_positional_encoding: $c.use_positional_encoding,
                    positional_encoding_type: $c.positional_encoding_type,
                    gradient_checkpointing: $c.gradient_checkpointing,
                    spatial_dim: $s,
                    causal: $causal,
                }
            };
        }
        Some(match self {
            ModelConfig::Operator(_) => return None,
            ModelConfig::Transformer(c) => {
                common!(c, vocab_size: c.vocab_size, spatial_dim: if c.use_2d { c.spatial_dim } else { None }, causal: false)
            }
            ModelConfig::Encoder(c) => common!(c, vocab_size: None, spatial_dim: None, causal: false),
            ModelConfig::Decoder(c) => common!(c, vocab_size: Some(c.vocab_size), spatial_dim: None, causal: c.causal),
        })
    }
}

/// Deserialises the fields of one model's configuration. The error names the field at fault:
/// serde names unknown, missing and duplicate fields itself; for a value of the wrong JSON type
/// it does not, so each field is then tried alone to find the one that fails.
fn parse_fields<C: serde::de::DeserializeOwned>(
    map: serde_json::Map<String, serde_json::Value>,
    kind: &str,
) -> Result<C> {
    let err = match serde_json::from_value(serde_json::Value::Object(map.clone())) {
        Ok(c) => return Ok(c),
        Err(e) => e.to_string(),
    };
    let names_field = ["unknown field", "missing field", "duplicate field"].iter().any(|p| err.starts_with(p));
    if let Some(field) = err.split('`').nth(1).filter(|_| names_field) {
        return Err(ModelError::config(field, err.clone()));
    }
    let culprit = map.iter().find(|(k, v)| {
        let alone = serde_json::Map::from_iter([((*k).clone(), (*v).clone())]);
        serde_json::from_value::<C>(serde_json::Value::Object(alone))
            .is_err_and(|e| !e.to_string().starts_with("missing field"))
    });
    match culprit {
        Some((field, _)) => Err(ModelError::config(field, err)),
        None => Err(ModelError::config(kind, err)),
    }
}

fn positive(field: &str, v: Option<usize>) -> Result<()> {
    match v {
        Some(0) => Err(ModelError::config(field, "must be at least 1")),
        _ => Ok(()),
    }
}

/// The part of a configuration shared by every model: embedding, positions, blocks, final norm.
#[derive(Debug, Clone, PartialEq)]
pub struct BackboneConfig {
    /// Token vocabulary, if the model embeds ids.
    pub vocab_size: Option<usize>,
    /// Width D.
    pub hidden_dim: usize,
    /// Number of blocks.
    pub num_layers: usize,
    /// Longest sequence.
    pub max_sequence_length: usize,
    /// Fourier modes.
    pub modes: usize,
    /// FFN width ratio.
    pub mlp_ratio: f64,
    /// Explicit FFN width.
    pub ffn_hidden_dim: Option<usize>,
    /// Dropout probability.
    pub dropout: f64,
    /// Whether to add positions.
    pub use_positional_encoding: bool,
    /// The positional encoding kind.
    pub positional_encoding_type: PositionalKind,
    /// Recompute block activations during backward.
    pub gradient_checkpointing: bool,
    /// Side of the 2-D grid for 2-D blocks.
    pub spatial_dim: Option<usize>,
    /// Exactly causal blocks (decoder), with a kernel window of `max_sequence_length`.
    pub causal: bool,
}

impl BackboneConfig {
    /// Checks every field, naming the first invalid one.
    pub fn validate(&self) -> Result<()> {
        if self.hidden_dim == 0 {
            return Err(ModelError::config("hidden_dim", "must be at least 1"));
        }
        if self.num_layers == 0 {
            return Err(ModelError::config("num_layers", "must be at least 1"));
        }
        if self.max_sequence_length == 0 {
            return Err(ModelError::config("max_sequence_length", "must be at least 1"));
        }
        if self.modes == 0 {
            return Err(ModelError::config("modes", "must be at least 1"));
        }
        if !self.mlp_ratio.is_finite() || self.mlp_ratio <= 0.0 {
            return Err(ModelError::config(
                "mlp_ratio",
                format!("must be a finite number > 0, got {}", self.mlp_ratio),
            ));
        }
        positive("ffn_hidden_dim", self.ffn_hidden_dim)?;
        ffn_width(self)?;
        if !(0.0..=1.0).contains(&self.dropout) || self.dropout.is_nan() {
            return Err(ModelError::config("dropout", format!("must be in [0, 1], got {}", self.dropout)));
        }
        let kind = self.positional_kind();
        if matches!(kind, PositionalKind::Sinusoidal | PositionalKind::Rotary) && self.hidden_dim % 2 == 1 {
            return Err(ModelError::config(
                "hidden_dim",
                format!(
                    "{} positional encoding needs an even hidden_dim, got {}",
                    self.positional_encoding_type, self.hidden_dim
                ),
            ));
        }
        Ok(())
    }

    /// The positional encoding kind (`None` when disabled).
    pub fn positional_kind(&self) -> PositionalKind {
        if self.use_positional_encoding {
            self.positional_encoding_type
        } else {
            PositionalKind::None
        }
    }

    /// The configuration of each block.
    pub fn block(&self) -> FNOBlockConfig {
        FNOBlockConfig {
            hidden_dim: self.hidden_dim,
            modes: self.modes,
            mlp_ratio: self.mlp_ratio,
            ffn_hidden_dim: self.ffn_hidden_dim,
            activation: Default::default(),
            dropout: self.dropout,
            norm: NormKind::LayerNorm,
            causal_period: self.causal.then_some(self.max_sequence_length),
            spatial_dim: self.spatial_dim,
        }
    }
}

/// The FFN width of a backbone, as the blocks compute it; an error when it rounds to 0 or
/// does not fit in `usize`.
pub fn ffn_width(cfg: &BackboneConfig) -> Result<usize> {
    if let Some(h) = cfg.ffn_hidden_dim {
        return Ok(h);
    }
    let w = cfg.hidden_dim as f64 * cfg.mlp_ratio;
    if !(w >= 1.0 && w < usize::MAX as f64) {
        return Err(ModelError::config(
            "mlp_ratio",
            format!(
                "hidden_dim {} × mlp_ratio {:?} gives an FFN width of {w:?}, outside 1..{}",
                cfg.hidden_dim,
                cfg.mlp_ratio,
                usize::MAX
            ),
        ));
    }
    Ok(w as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(json: &str) -> String {
        match ModelConfig::from_json(json).unwrap_err() {
            ModelError::Config { field, .. } => field,
            other => panic!("expected a config error, got {other}"),
        }
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        assert_eq!(field_of(r#"{"model_type": "fno_encoder", "hidden_dim": "16"}"#), "hidden_dim");
        assert_eq!(field_of(r#"{"model_type": "fno_decoder", "vocab_size": 10, "causal": 1}"#), "causal");
        // the required vocab_size is missing too: the wrong type is still found
        assert_eq!(field_of(r#"{"model_type": "fno_decoder", "modes": -3}"#), "modes");
        assert_eq!(field_of(r#"{"model_type": "fno_decoder"}"#), "vocab_size");
        assert_eq!(field_of(r#"{"model_type": "fno_encoder", "hiden_dim": 16}"#), "hiden_dim");
        assert_eq!(field_of(r#"{"model_type": "fno_transformer", "dropout": null}"#), "dropout");
        let e = ModelConfig::from_json(r#"{"model_type": "fno_encoder", "mlp_ratio": "2"}"#).unwrap_err();
        assert!(e.to_string().starts_with("config: invalid `mlp_ratio`: invalid type: string \"2\""), "{e}");
    }

    #[test]
    fn closed_choices_are_enums_with_spectrans_names() {
        let err = |json: &str| ModelConfig::from_json(json).unwrap_err().to_string();
        let e = err(r#"{"model_type": "fno_encoder", "positional_encoding_type": "absolute"}"#);
        assert_eq!(
            e,
            "config: invalid `positional_encoding_type`: unknown positional encoding \"absolute\"; \
             expected sinusoidal, learned, rotary or none"
        );
        let e = err(r#"{"model_type": "fno_decoder", "vocab_size": 5, "positional_encoding_type": "alibi"}"#);
        assert!(e.starts_with("config: invalid `positional_encoding_type`: \"alibi\" is an attention bias"), "{e}");
        assert!(e.contains("write \"none\""), "{e}");
        let e = err(r#"{"model_type": "fno_transformer", "pooling": "first"}"#);
        assert_eq!(e, "config: invalid `pooling`: unknown pooling \"first\"; expected cls, mean or max");
        let e = err(r#"{"model_type": "fno_transformer", "pooling": 3}"#);
        assert!(e.contains("`pooling`") && e.contains("expected a string"), "{e}");
        for (kind, pooling) in [(PositionalKind::Rotary, Pooling::Max), (PositionalKind::None, Pooling::Mean)] {
            let c = ModelConfig::Transformer(FnoTransformerConfig {
                positional_encoding_type: kind,
                pooling,
                hidden_dim: 8,
                ..Default::default()
            });
            let json = c.to_json();
            assert!(json.contains(&format!("\"positional_encoding_type\": \"{kind}\"")), "{json}");
            assert!(json.contains(&format!("\"pooling\": \"{pooling}\"")), "{json}");
            assert_eq!(ModelConfig::from_json(&json).unwrap(), c);
        }
    }

    #[test]
    fn defaults_are_the_json_defaults() {
        let parsed = |json: &str| ModelConfig::from_json(json).unwrap();
        assert_eq!(parsed(r#"{"model_type": "fno_encoder"}"#), ModelConfig::Encoder(FnoEncoderConfig::default()));
        assert_eq!(
            parsed(r#"{"model_type": "fno_transformer"}"#),
            ModelConfig::Transformer(FnoTransformerConfig::default())
        );
        assert_eq!(
            parsed(r#"{"model_type": "fno_decoder", "vocab_size": 7}"#),
            ModelConfig::Decoder(FnoDecoderConfig::new(7))
        );
        assert_eq!(
            parsed(r#"{"model_type": "fno_operator"}"#),
            ModelConfig::Operator(crate::FnoOperatorConfig::default())
        );
        let e = ModelConfig::Decoder(FnoDecoderConfig::default()).validate().unwrap_err();
        assert!(e.to_string().contains("vocab_size"), "{e}");
    }
}
