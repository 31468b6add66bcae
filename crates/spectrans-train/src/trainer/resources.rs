//! The memory a training run needs — data, model with gradients and optimiser moments, and the
//! activations a step records — computed with checked arithmetic from the run configuration and
//! refused, naming the field, before any data is generated or any model is built.

use spectrans_models::budget;
use spectrans_models::{FnoDecoderConfig, ModelConfig};
use spectrans_tensor::limits::{self, human};

use crate::error::{Result, TrainError};
use crate::trainer::{RunConfig, TaskConfig};

/// Values per parameter during training: the value, its gradient and two Adam moments.
const PER_PARAMETER: u128 = 4;
/// Tensors of the widest size recorded per layer on the tape during a training step (an upper
/// estimate: norms, spectral and pointwise paths, FFN, activations and their saved inputs).
const TAPE_PER_LAYER: u128 = 12;

/// One memory need: what it is, the fields (with values) that size it, and its bytes.
struct Need {
    what: &'static str,
    factors: Vec<(&'static str, u128)>,
    bytes: Option<u128>,
}

fn product(xs: &[u128]) -> Option<u128> {
    xs.iter().try_fold(1u128, |a, &x| a.checked_mul(x))
}

/// Checks that the run fits in memory (the [memory limit](spectrans_tensor::limits)).
pub(crate) fn check(c: &RunConfig) -> Result<()> {
    let batch = ("batch_size", c.batch_size as u128);
    let (model, data, positions, width, layers) = match &c.task {
        TaskConfig::Burgers(b) => {
            let n = ("n_train + n_test", (b.n_train as u128) + (b.n_test as u128));
            let fine = ("resolution_fine", b.resolution_fine as u128);
            // u0 and u1 in f64, plus their subsampled f32 copies
            let data = Need { what: "the Burgers data", factors: vec![n, fine], bytes: product(&[n.1, fine.1, 24]) };
            let res = (b.resolution_fine / b.subsample.max(1)) as u128;
            let width = b.model.width.max(b.model.projection_dim) as u128;
            (
                ModelConfig::Operator(b.model.clone()),
                Some(data),
                ("resolution", res),
                ("width", width),
                b.model.num_layers,
            )
        }
        TaskConfig::Classify(k) => {
            let n = ("n_train + n_test", (k.n_train as u128) + (k.n_test as u128));
            let len = ("seq_len", k.seq_len as u128);
            let data =
                Need { what: "the classification data", factors: vec![n, len], bytes: product(&[n.1, len.1, 8]) };
            let full = ModelConfig::Transformer(k.model.clone());
            let w = widest(&full);
            (full, Some(data), len, ("hidden_dim", w), k.model.num_layers)
        }
        TaskConfig::Lm(l) => {
            // the vocabulary is the corpus alphabet, known once the corpus is read: count one
            let full =
                ModelConfig::Decoder(FnoDecoderConfig { vocab_size: l.model.vocab_size.max(1), ..l.model.clone() });
            let w = widest(&full);
            (full, None, ("seq_len", l.seq_len as u128), ("hidden_dim", w), l.model.num_layers)
        }
    };
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
    Err(TrainError::config(
        "train",
        field,
        format!("too large: the run {need}; the largest part is {} ({})", worst.what, sizes.join(" × ")),
    ))
}

/// The widest per-position activation of a sequence model: D or the FFN width.
fn widest(cfg: &ModelConfig) -> u128 {
    let Some(bb) = cfg.backbone() else { return 0 };
    let h = budget::ffn_width(&bb).unwrap_or(usize::MAX);
    bb.hidden_dim.max(h) as u128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_fit_and_absurd_sizes_are_named() {
        for (task, preset) in [("burgers", "default"), ("classify", "default"), ("lm", "default")] {
            check(&RunConfig::preset(task, preset).unwrap()).unwrap();
        }
        let mut c = RunConfig::preset("classify", "default").unwrap();
        c.batch_size = 1 << 50;
        let e = check(&c).unwrap_err().to_string();
        assert!(e.starts_with("train: invalid batch_size: too large") && e.contains("bytes"), "{e}");
        let mut c = RunConfig::preset("burgers", "default").unwrap();
        let TaskConfig::Burgers(b) = &mut c.task else { unreachable!() };
        b.n_train = 1 << 45;
        let e = check(&c).unwrap_err().to_string();
        assert!(e.contains("invalid n_train + n_test") && e.contains("Burgers data"), "{e}");
        let mut c = RunConfig::preset("lm", "default").unwrap();
        let TaskConfig::Lm(l) = &mut c.task else { unreachable!() };
        l.model.hidden_dim = 1 << 40;
        let e = check(&c).unwrap_err().to_string();
        assert!(e.contains("invalid hidden_dim"), "{e}");
    }
}
