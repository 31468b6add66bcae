//! The memory a training run needs — data, model with gradients and optimiser moments, and the
//! activations a step records — computed with checked arithmetic from the run configuration and
//! refused, naming the field, before any data is generated or any model is built.

use spectrans_models::budget;
use spectrans_models::ModelConfig;
use spectrans_tensor::limits::{self, human};

use crate::error::{Result, TaskError};

/// Values per parameter during training: the value, its gradient and two Adam moments.
const PER_PARAMETER: u128 = 4;
/// Tensors of the widest size recorded per layer on the tape during a training step (an upper
/// estimate: norms, spectral and pointwise paths, FFN, activations and their saved inputs).
const TAPE_PER_LAYER: u128 = 12;

/// One memory need: what it is, the fields (with values) that size it, and its bytes.
#[derive(Debug, Clone)]
pub struct Need {
    /// What holds the memory (e.g. "the Burgers data").
    pub what: &'static str,
    /// The configuration fields that size it, with their values.
    pub factors: Vec<(&'static str, u128)>,
    /// Its bytes (none when the product overflows).
    pub bytes: Option<u128>,
}

impl Need {
    /// A need of `bytes_per_item` bytes for each of the product of `factors`.
    pub fn new(what: &'static str, factors: Vec<(&'static str, u128)>, bytes_per_item: u128) -> Self {
        let bytes = factors.iter().try_fold(bytes_per_item, |a, (_, x)| a.checked_mul(*x));
        Need { what, factors, bytes }
    }
}

/// What a task holds in memory while it trains: the model, the data, and the sizes of one
/// training step's activations per example.
#[derive(Debug, Clone)]
pub struct Footprint {
    /// The model's configuration (its parameters are counted exactly).
    pub model: ModelConfig,
    /// The data set held in memory, if any.
    pub data: Option<Need>,
    /// Positions per example (grid points or tokens), with the field that sets them.
    pub positions: (&'static str, u128),
    /// The widest activation per position, with its field.
    pub width: (&'static str, u128),
    /// Layers recording activations.
    pub layers: usize,
}

fn product(xs: &[u128]) -> Option<u128> {
    xs.iter().try_fold(1u128, |a, &x| a.checked_mul(x))
}

/// Checks that a task with `footprint` fits in memory at `batch_size` (the
/// [memory limit](spectrans_tensor::limits)), naming the field that sizes the largest need.
pub(crate) fn check(footprint: &Footprint, batch_size: usize) -> Result<()> {
    let batch = ("batch_size", batch_size as u128);
    let Footprint { model, data, positions, width, layers } = footprint.clone();
    let parts = budget::model_parts(&model)?;
    let params = budget::total(&parts);
    let mut needs = vec![Need {
        what: "the model with its gradients and optimiser state",
        factors: parts
            .iter()
            .max_by_key(|p| p.count)
            .map(|p| p.factors.iter().filter(|(f, _)| *f != "mlp_ratio").copied().collect())
            .unwrap_or_default(),
        bytes: params.and_then(|p| product(&[p, PER_PARAMETER, 4])),
    }];
    needs.extend(data);
    let layers = ("num_layers", layers as u128);
    needs.push(Need {
        what: "the activations of one training step",
        factors: vec![batch, positions, width, layers],
        bytes: product(&[batch.1, positions.1, width.1, layers.1 + 1, TAPE_PER_LAYER, 4]),
    });
    let total = needs.iter().try_fold(0u128, |a, n| a.checked_add(n.bytes?));
    let limit = limits::memory_limit()?;
    if matches!(total, Some(t) if t <= limit.bytes) {
        return Ok(());
    }
    let worst = needs.iter().find(|n| n.bytes.is_none()).or_else(|| needs.iter().max_by_key(|n| n.bytes));
    let Some(worst) = worst else { return Ok(()) };
    let field = worst.factors.iter().max_by_key(|(_, v)| *v).map(|(f, _)| *f).unwrap_or("batch_size");
    let sizes: Vec<String> = worst.factors.iter().map(|(f, v)| format!("{f} {v}")).collect();
    let need = match total {
        Some(t) => format!("needs {} ({t} bytes), more than {limit}", human(t)),
        None => "has a memory need that overflows".into(),
    };
    Err(TaskError::config(
        "train",
        field,
        format!("too large: the run {need}; the largest part is {} ({})", worst.what, sizes.join(" × ")),
    ))
}

/// The widest activation of a sequence model: its hidden or FFN dimension.
pub(crate) fn widest(cfg: &ModelConfig) -> u128 {
    let Some(bb) = cfg.backbone() else { return 0 };
    let h = budget::ffn_width(&bb).unwrap_or(usize::MAX);
    bb.hidden_dim.max(h) as u128
}

#[cfg(test)]
mod tests {
    use crate::{RunConfig, TaskConfig};

    #[test]
    fn presets_fit_and_absurd_sizes_are_named() {
        let mut c = RunConfig::preset("classify", "default").unwrap();
        c.train.batch_size = 1 << 50;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.starts_with("train: invalid batch_size: too large") && e.contains("bytes"), "{e}");
        let mut c = RunConfig::preset("burgers", "default").unwrap();
        let TaskConfig::Burgers(b) = &mut c.task else { unreachable!() };
        b.n_train = 1 << 45;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("invalid n_train + n_test") && e.contains("Burgers data"), "{e}");
        let mut c = RunConfig::preset("lm", "default").unwrap();
        let TaskConfig::Lm(l) = &mut c.task else { unreachable!() };
        l.model.hidden_dim = 1 << 40;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("invalid hidden_dim"), "{e}");
    }
}
