//! `spectrans info`: configuration, the weights file read, parameter counts per module, FLOPs per token.

use std::collections::BTreeMap;
use std::path::Path;

use spectrans_layers::Module;
use spectrans_models::{load_folder, ModelConfig};

/// Prints the summary of a model folder.
pub fn run(model_dir: &Path, seq_len: Option<usize>) -> Result<(), String> {
    let loaded = load_folder::<f32>(model_dir).map_err(|e| e.to_string())?;
    for note in &loaded.notes {
        eprintln!("note: {note}");
    }
    let model = &loaded.model;
    let cfg = model.config();
    println!("{}", cfg.to_json());
    if let Some(weights) = &loaded.weights {
        println!("weights read from {}", weights.display());
    }
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
    let n = seq_len.unwrap_or(match cfg.backbone() {
        Some(bb) => bb.max_sequence_length,
        None => 1024,
    });
    println!("forward FLOPs per position at N = {n}: {:.3} MFLOP", flops_per_position(&cfg, n.max(1)) / 1e6);
    Ok(())
}

/// Forward FLOPs per sequence position (or grid point) at length `n` (reference.md §14): dense
/// GEMMs 2D² + 4DH per block, spectral mixing 8MD² per sequence (so 8MD²/N per position), FFTs
/// ≈ 5D·log₂N, element-wise work ≈ 30D; plus the head.
fn flops_per_position(cfg: &ModelConfig, n: usize) -> f64 {
    let nf = n as f64;
    let log_n = nf.log2().max(1.0);
    if let ModelConfig::Operator(c) = cfg {
        let (w, m) = (c.width as f64, c.modes.min(n / 2 + 1) as f64);
        let grid = c.grid_channels().unwrap_or(0) as f64;
        let layer = 2.0 * w * w + 8.0 * m * w * w / nf + 5.0 * w * log_n + 10.0 * w;
        let lift = 2.0 * (c.in_channels as f64 + grid) * w;
        let proj = 2.0 * w * c.projection_dim as f64 + 2.0 * c.projection_dim as f64 * c.out_channels as f64;
        return lift + layer * c.num_layers as f64 + proj;
    }
    // invariant: the operator returned above; every other model has a backbone
    let bb = cfg.backbone().expect("sequence models have a backbone");
    let (d, m) = (bb.hidden_dim as f64, bb.modes.min(n / 2 + 1) as f64);
    let h = bb.block().ffn_width().unwrap_or(0) as f64;
    let spectral =
        if bb.causal { 2.0 * 5.0 * d * (2.0 * nf).log2() + 8.0 * d } else { 8.0 * m * d * d / nf + 5.0 * d * log_n };
    let per_block = 2.0 * d * d + 4.0 * d * h + spectral + 30.0 * d;
    let head = match cfg {
        ModelConfig::Decoder(c) => 2.0 * d * c.vocab_size as f64,
        ModelConfig::Transformer(c) => 2.0 * d * c.num_classes.unwrap_or(0) as f64 / nf,
        _ => 0.0,
    };
    per_block * bb.num_layers as f64 + head
}
