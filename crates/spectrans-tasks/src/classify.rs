//! The `classify` task: which of K frequency bands carries the dominant sinusoid of a noisy
//! signal with distractors. The signal is quantised into tokens; only global (spectral) context
//! tells the bands apart. An `FNOTransformer` with mean pooling; test accuracy.

use std::path::Path;

use serde::{Deserialize, Serialize};
use spectrans_layers::{Ctx, Module, Pooling};
use spectrans_models::{load_folder, FNOTransformer, FnoTransformerConfig, Input, Model, ModelConfig};
use spectrans_tensor::{Reduction, Rng, Tensor};
use spectrans_train::metrics::accuracy;
use spectrans_train::trainer::{Batch, Metrics, Task};

use crate::error::{Result, TaskError};
use crate::resources::{widest, Footprint, Need};
use crate::run::sequence_preset;
use crate::{model_folder, EvalOptions, Overrides, RunConfig, TaskConfig, TaskKind};

/// Data and model of the `classify` task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifyConfig {
    /// Training sequences.
    pub n_train: usize,
    /// Test sequences.
    pub n_test: usize,
    /// Sequence length.
    pub seq_len: usize,
    /// Frequencies per band; class k dominates at a frequency in `1 + k·band_width ..= (k+1)·band_width`.
    pub band_width: usize,
    /// Amplitude of each of the two distractor sinusoids (the dominant one has amplitude 1).
    pub distractor: f64,
    /// Standard deviation of the white noise.
    pub noise: f64,
    /// Quantisation levels of the signal (the vocabulary size).
    pub levels: usize,
    /// Seed of the data.
    pub data_seed: u64,
    /// The classifier (`num_classes` = K bands, `vocab_size` = `levels`).
    pub model: FnoTransformerConfig,
}

/// The default preset: 4 bands, sequences of 64 tokens, well above chance in about a minute.
fn preset_default() -> RunConfig {
    let model = FnoTransformerConfig {
        vocab_size: Some(32),
        hidden_dim: 64,
        num_layers: 2,
        modes: 24,
        max_sequence_length: 64,
        num_classes: Some(4),
        pooling: Pooling::Mean,
        use_positional_encoding: false,
        ..Default::default()
    };
    let task = TaskConfig::Classify(ClassifyConfig {
        n_train: 2000,
        n_test: 500,
        seq_len: 64,
        band_width: 4,
        distractor: 0.6,
        noise: 0.5,
        levels: 32,
        data_seed: 99,
        model,
    });
    sequence_preset(task, 10, 2e-3, 30, 1, 5)
}

/// `n` labelled sequences (tokens row-major, labels) drawn from `seed`.
pub fn generate(c: &ClassifyConfig, n: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let k = c.model.num_classes.unwrap_or(1).max(1);
    let mut master = Rng::seed(seed);
    let (mut tokens, mut labels) = (Vec::with_capacity(n * c.seq_len), Vec::with_capacity(n));
    let two_pi = 2.0 * std::f64::consts::PI;
    for _ in 0..n {
        let mut rng = master.fork();
        let label = rng.below(k as u64) as usize;
        let freq =
            |band: usize, rng: &mut Rng| (1 + band * c.band_width + rng.below(c.band_width as u64) as usize) as f64;
        let mut waves = vec![(1.0, freq(label, &mut rng), two_pi * rng.uniform())];
        for _ in 0..2 {
            let other = (label + 1 + rng.below((k - 1).max(1) as u64) as usize) % k;
            waves.push((c.distractor, freq(other, &mut rng), two_pi * rng.uniform()));
        }
        for t in 0..c.seq_len {
            let x = t as f64 / c.seq_len as f64;
            let v: f64 =
                waves.iter().map(|(a, f, p)| a * (two_pi * f * x + p).sin()).sum::<f64>() + c.noise * rng.normal();
            let q = ((v + 3.0) / 6.0 * (c.levels - 1) as f64).round().clamp(0.0, (c.levels - 1) as f64);
            tokens.push(q as usize);
        }
        labels.push(label);
    }
    (tokens, labels)
}

/// The `classify` task in the registry.
pub struct Classify;

impl TaskKind for Classify {
    type Config = ClassifyConfig;
    const NAME: &'static str = "classify";
    const ABOUT: &'static str = "synthetic frequency-band classification (FNOTransformer, accuracy)";
    const PRESETS: &'static [&'static str] = &["default"];
    const OPTIONS: &'static [&'static str] = &["--n-train", "--n-test", "--seq-len", "--width", "--modes", "--layers"];

    fn preset(preset: &str) -> Option<RunConfig> {
        (preset == "default").then(preset_default)
    }

    fn apply(k: &mut ClassifyConfig, o: &Overrides) -> Result<()> {
        k.n_train = o.n_train.unwrap_or(k.n_train);
        k.n_test = o.n_test.unwrap_or(k.n_test);
        o.apply_model(&mut k.model.hidden_dim, &mut k.model.modes, &mut k.model.num_layers);
        if let Some(n) = o.seq_len {
            (k.seq_len, k.model.max_sequence_length) = (n, n);
        }
        Ok(())
    }

    fn validate(c: &ClassifyConfig) -> Result<()> {
        let classes = c.model.num_classes.unwrap_or(0);
        if classes < 2 || c.band_width == 0 || c.levels < 2 || c.n_train == 0 || c.n_test == 0 {
            return Err(TaskError::config(
                "classify",
                "config",
                "needs num_classes >= 2, band_width >= 1, levels >= 2, n_train and n_test >= 1",
            ));
        }
        if c.model.vocab_size != Some(c.levels) || c.seq_len > c.model.max_sequence_length {
            return Err(TaskError::config(
                "classify",
                "model",
                format!("needs vocab_size = levels = {} and max_sequence_length >= seq_len = {}", c.levels, c.seq_len),
            ));
        }
        Ok(ModelConfig::Transformer(c.model.clone()).validate()?)
    }

    fn footprint(k: &ClassifyConfig) -> Result<Footprint> {
        let n = ("n_train + n_test", (k.n_train as u128) + (k.n_test as u128));
        let len = ("seq_len", k.seq_len as u128);
        let model = ModelConfig::Transformer(k.model.clone());
        let width = widest(&model);
        Ok(Footprint {
            model,
            data: Some(Need::new("the classification data", vec![n, len], 8)),
            positions: len,
            width: ("hidden_dim", width),
            layers: k.model.num_layers,
        })
    }

    fn build(c: &ClassifyConfig, seed: u64) -> Result<Box<dyn Task<f32>>> {
        Ok(Box::new(ClassifyTask::new(c, seed)?))
    }

    fn evaluate(c: &ClassifyConfig, model_dir: &Path, options: &EvalOptions) -> Result<String> {
        if options.resolution.is_some() || options.corpus.is_some() {
            return Err(TaskError::config(
                "eval",
                "options",
                "--resolution and --corpus do not apply to a classify model",
            ));
        }
        let task = ClassifyTask::with_model(c, load_folder::<f32>(model_dir)?.model)?;
        Ok(task.summary(&task.test_metrics()?))
    }
}

/// The task: generated train and test sequences, and the classifier.
pub struct ClassifyTask {
    model: Model<f32>,
    train: (Vec<usize>, Vec<usize>),
    test: (Vec<usize>, Vec<usize>),
    seq_len: usize,
}

impl ClassifyTask {
    /// Generates the data and initialises the classifier with `seed`.
    pub fn new(config: &ClassifyConfig, seed: u64) -> Result<Self> {
        let model = Model::Transformer(FNOTransformer::new(&config.model, seed)?);
        Self::with_model(config, model)
    }

    /// The task around an existing classifier.
    pub fn with_model(c: &ClassifyConfig, model: Model<f32>) -> Result<Self> {
        Classify::validate(c)?;
        if !matches!(model, Model::Transformer(_)) {
            return Err(TaskError::config("classify", "model", "the model folder does not hold an FNOTransformer"));
        }
        let train = generate(c, c.n_train, c.data_seed);
        let test = generate(c, c.n_test, c.data_seed ^ 0x7e57);
        Ok(ClassifyTask { model, train, test, seq_len: c.seq_len })
    }

    fn logits(&self, ctx: &Ctx<f32>, tokens: &[usize], rows: &[usize]) -> Result<Tensor<f32>> {
        let n = self.seq_len;
        let ids: Vec<usize> = rows.iter().flat_map(|&r| tokens[r * n..(r + 1) * n].iter().copied()).collect();
        Ok(self.model.forward(ctx, Input::Ids { ids: &ids, batch: rows.len(), len: n }, None)?)
    }
}

impl ClassifyTask {
    fn batch_loss(&self, ctx: &Ctx<f32>, indices: &[usize]) -> Result<Tensor<f32>> {
        let targets: Vec<usize> = indices.iter().map(|&i| self.train.1[i]).collect();
        Ok(self.logits(ctx, &self.train.0, indices)?.cross_entropy(&targets, None, Reduction::Mean)?)
    }

    fn test_metrics(&self) -> Result<Metrics> {
        let n = self.test.1.len();
        let (mut hits, mut nats) = (0.0, 0.0);
        let all: Vec<usize> = (0..n).collect();
        for rows in all.chunks(100) {
            let logits = self.logits(&Ctx::inference(), &self.test.0, rows)?;
            let targets: Vec<usize> = rows.iter().map(|&i| self.test.1[i]).collect();
            hits += accuracy(&logits, &targets)? * rows.len() as f64;
            nats += logits.cross_entropy(&targets, None, Reduction::Sum)?.item()? as f64;
        }
        Ok(vec![("test_accuracy".into(), hits / n as f64), ("test_loss".into(), nats / n as f64)])
    }
}

impl Task<f32> for ClassifyTask {
    fn module(&self) -> &dyn Module<f32> {
        &self.model
    }

    fn train_len(&self) -> usize {
        self.train.1.len()
    }

    fn loss(&self, ctx: &Ctx<f32>, batch: Batch<'_>) -> spectrans_train::Result<Tensor<f32>> {
        Ok(self.batch_loss(ctx, batch.indices)?)
    }

    fn evaluate(&self) -> spectrans_train::Result<Metrics> {
        Ok(self.test_metrics()?)
    }

    fn save_model(&self, dir: &Path) -> spectrans_train::Result<()> {
        Ok(model_folder::save(&self.model, dir)?)
    }

    fn load_model(&self, dir: &Path) -> spectrans_train::Result<()> {
        Ok(model_folder::load(&self.model, dir)?)
    }

    fn higher_is_better(&self) -> bool {
        true
    }

    fn summary(&self, metrics: &[(String, f64)]) -> String {
        let acc = metrics.iter().find(|(k, _)| k == "test_accuracy").map(|m| m.1).unwrap_or(f64::NAN);
        let classes = match &self.model {
            Model::Transformer(m) => m.config.num_classes.unwrap_or(0),
            _ => 0,
        };
        format!(
            "test accuracy: {acc:.4} ({} test sequences, chance {:.2})",
            self.test.1.len(),
            1.0 / classes.max(1) as f64
        )
    }
}
