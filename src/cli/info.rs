//! `spectrans info`: configuration, parameter counts per module, FLOPs per token.

use std::collections::BTreeMap;
use std::path::Path;

use spectrans_layers::Module;
use spectrans_models::{load_folder, ModelConfig};

/// Prints the summary of a model folder.
pub fn run(model_dir: &Path, seq_len: Option<usize>) -> Result<(), String> {
    let loaded = load_folder::<f32>(model_dir).map_err(|e| e.to_string())?;
    let model = &loaded.model;
    let cfg = model.config();
    println!("{}", cfg.to_json());
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    let mut order = Vec::new();
    for (name, p) in model.named_parameters() {
        let parts: Vec<&str> = name.split('.').collect();
        let group = if parts[0] == "blocks" { format!("blocks.{}", parts[1]) } else { parts[0].to_string() };
        if !groups.contains_key(&group) {
            order.push(group.clone());
        }
        *groups.entry(group).or_default() += p.numel();
    }
    println!("parameters per module:");
    for g in &order {
        println!("  {g:<24} {:>12}", groups[g]);
    }
    println!("  {:<24} {:>12}", "total", model.num_parameters());
    let bb = cfg.backbone();
    let n = seq_len.unwrap_or(bb.max_sequence_length).max(1);
    let (d, m) = (bb.hidden_dim as f64, bb.modes.min(n / 2 + 1) as f64);
    let h = bb.block().ffn_width().unwrap_or(0) as f64;
    // per block and token (reference.md §14): GEMMs 2D² + 4DH, spectral mixing 8MD²/N, FFTs 5D·log2 N
    let per_block = 2.0 * d * d + 4.0 * d * h + 8.0 * m * d * d / n as f64 + 5.0 * d * (n as f64).log2().max(1.0) + 30.0 * d;
    let head = match &cfg {
        ModelConfig::Decoder(c) => 2.0 * d * c.vocab_size as f64,
        ModelConfig::Transformer(c) => 2.0 * d * c.num_classes.unwrap_or(0) as f64 / n as f64,
        ModelConfig::Encoder(_) => 0.0,
    };
    let total = per_block * bb.num_layers as f64 + head;
    println!("forward FLOPs per token at N = {n}: {:.3} MFLOP", total / 1e6);
    Ok(())
}
