//! Load a model folder (`config.json` + `model.safetensors`) and run a forward pass.
//!
//! `cargo run --release --example run_model_folder [DIR]`: with a folder, loads it; without one,
//! first writes a fresh `FNOEncoder` into a temporary folder with `save_folder`, then loads that
//! back and checks the loaded model computes exactly what the saved one did.

use std::path::PathBuf;

use spectrans::layers::Ctx;
use spectrans::models::{
    load_folder, save_folder, FNOEncoder, FnoEncoderConfig, Input, Model, ModelConfig, ModelError,
};
use spectrans::tensor::{Rng, Tensor};

/// A (B, N, ·) input the model accepts: ids below the vocabulary, or random embeddings.
fn run(model: &Model<f32>, batch: usize, len: usize) -> Result<Tensor<f32>, ModelError> {
    let ctx = Ctx::inference();
    let mut rng = Rng::seed(1);
    let width = |c: &ModelConfig| match c {
        ModelConfig::Transformer(c) => (c.vocab_size, c.hidden_dim),
        ModelConfig::Encoder(c) => (None, c.hidden_dim),
        ModelConfig::Decoder(c) => (Some(c.vocab_size), c.hidden_dim),
        ModelConfig::Operator(c) => (None, c.in_channels),
    };
    match width(&model.config()) {
        (Some(vocab), _) => {
            let ids: Vec<usize> = (0..batch * len).map(|i| (i * 7 + 3) % vocab).collect();
            model.forward(&ctx, Input::Ids { ids: &ids, batch, len }, None)
        }
        (None, d) => model.forward(&ctx, Input::Embeds(&Tensor::randn(&[batch, len, d], 0.0, 1.0, &mut rng)), None),
    }
}

fn main() -> Result<(), ModelError> {
    let (dir, saved) = match std::env::args_os().nth(1) {
        Some(dir) => (PathBuf::from(dir), None),
        None => {
            let dir = std::env::temp_dir().join(format!("spectrans-example-{}", std::process::id()));
            let cfg = FnoEncoderConfig {
                hidden_dim: 32,
                num_layers: 2,
                modes: 8,
                max_sequence_length: 64,
                ..Default::default()
            };
            let model = Model::Encoder(FNOEncoder::<f32>::new(&cfg, 42)?);
            save_folder(&model, &dir)?;
            println!("wrote a fresh FNOEncoder to {}", dir.display());
            (dir, Some(model))
        }
    };
    let loaded = load_folder::<f32>(&dir)?;
    for note in &loaded.notes {
        println!("note: {note}");
    }
    println!("loaded {} from {}", loaded.model.config().model_type(), dir.display());
    let out = run(&loaded.model, 2, 24)?;
    let rms = (out.data().iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / out.numel() as f64).sqrt();
    println!("forward: output shape {:?}, rms {rms:.4}", out.shape());
    if let Some(original) = saved {
        let before = run(&original, 2, 24)?;
        assert_eq!(before.to_vec(), out.to_vec(), "the loaded model must compute what the saved one did");
        println!("the loaded model's output is bit-identical to the saved model's");
        std::fs::remove_dir_all(&dir).map_err(|source| ModelError::Io { path: dir.display().to_string(), source })?;
    }
    Ok(())
}
