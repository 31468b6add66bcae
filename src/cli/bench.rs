//! `spectrans bench`: the peer benchmark cases (`benches/cases.json`, the same file as the PyTorch
//! peer's), timed with the peer's definitions so the two can be compared side by side:
//! forward = eval mode with no tape; train step = zero grads + forward + loss + backward + AdamW
//! (lr 1e-3); median of `REPS` (default 5) runs after 2 warm-ups. One JSON line per case.
//!
//! Decoder cases run twice: the reference (non-causal) operator, as the peer, and the exactly
//! causal decoder (`"causal": true`). Operator cases (`"kind": "operator"`) are the canonical FNO1d
//! of Li et al. as the peer's: input (a(x), x) with x = j/(N−1), `hidden` = width, projection
//! 128, relative-L2 loss, Adam (lr 1e-3, weight decay 1e-4).
//!
//! Each line also gives the SIMD level the kernels ran at (`simd`, see `SPECTRANS_SIMD`), and for
//! the timed train steps the minor page faults and allocator calls per step
//! (`minor_faults_per_step`, `allocs_per_step`) and the process's peak resident memory
//! (`peak_rss_bytes`; Linux, else null). `--only forward|train` times one of the two (the other
//! is null), for profiling.

use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};
use spectrans_layers::{Ctx, Module};
use spectrans_models::{Input, Model, ModelConfig};
use spectrans_tensor::{simd, Reduction, Rng, Tape, Tensor};
use spectrans_train::metrics::relative_l2;
use spectrans_train::optim::{Adam, AdamConfig, AdamW, AdamWConfig, Optimizer};

/// The cases shipped with the repository (a copy of the peer's `cases.json`).
const CASES: &str = include_str!("../../benches/cases.json");

struct Case {
    name: String,
    kind: String,
    batch: usize,
    seq: usize,
    hidden: usize,
    layers: usize,
    modes: usize,
    vocab: Option<usize>,
    classes: Option<usize>,
}

fn parse_cases(text: &str) -> Result<Vec<Case>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("cases.json: {e}"))?;
    let obj = v.as_object().ok_or("cases.json: must be an object of cases")?;
    let mut out = Vec::new();
    for (name, c) in obj {
        let get = |k: &str| c.get(k).and_then(Value::as_u64).map(|x| x as usize);
        let need = |k: &str| get(k).ok_or(format!("cases.json: case {name} lacks `{k}`"));
        out.push(Case {
            name: name.clone(),
            kind: c.get("kind").and_then(Value::as_str).ok_or(format!("cases.json: case {name} lacks `kind`"))?.into(),
            batch: need("batch")?,
            seq: need("seq")?,
            hidden: need("hidden")?,
            layers: need("layers")?,
            modes: need("modes")?,
            vocab: get("vocab_size"),
            classes: get("num_classes"),
        });
    }
    Ok(out)
}

fn config(c: &Case, causal: bool) -> Result<ModelConfig, String> {
    let mut j = json!({
        "hidden_dim": c.hidden, "num_layers": c.layers, "max_sequence_length": c.seq, "modes": c.modes,
    });
    // invariant: `json!({...})` just built an object
    let m = j.as_object_mut().expect("object");
    match c.kind.as_str() {
        "encoder" => {
            m.insert("model_type".into(), "fno_encoder".into());
        }
        "classifier" => {
            m.insert("model_type".into(), "fno_transformer".into());
            m.insert("vocab_size".into(), c.vocab.into());
            m.insert("num_classes".into(), c.classes.into());
        }
        "decoder" => {
            m.insert("model_type".into(), "fno_decoder".into());
            m.insert("vocab_size".into(), c.vocab.into());
            m.insert("causal".into(), causal.into());
        }
        "operator" => {
            j = json!({
                "model_type": "fno_operator", "in_channels": 1, "out_channels": 1, "width": c.hidden,
                "modes": c.modes, "num_layers": c.layers, "projection_dim": 128, "grid": "vertices",
                "spatial_dims": 1,
            });
        }
        other => return Err(format!("cases.json: case {} has unknown kind {other:?}", c.name)),
    }
    ModelConfig::from_json(&j.to_string()).map_err(|e| format!("case {}: {e}", c.name))
}

fn median_time(reps: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<f64, String> {
    for _ in 0..2 {
        f()?;
    }
    let mut ts = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        f()?;
        ts.push(t.elapsed().as_secs_f64());
    }
    ts.sort_by(f64::total_cmp);
    Ok(ts[ts.len() / 2])
}

/// This process's minor page faults so far (field 10 of `/proc/self/stat`), where readable.
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // the command name (field 2) may hold spaces; fields after it are counted from its ')'
    stat[stat.rfind(')')? + 1..].split_whitespace().nth(7)?.parse().ok()
}

/// This process's peak resident memory (`VmHWM` of `/proc/self/status`), where readable.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// Which phases `spectrans bench` times (`--only`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Phases {
    /// Only the forward pass (no optimiser is built; train fields are null).
    Forward,
    /// Only the train step (`forward_s` is null).
    Train,
}

/// The train step's timings and steady-state counters.
struct TrainStats {
    seconds: f64,
    faults: Option<f64>,
    allocs: f64,
}

/// Runs one case; returns its JSON line.
fn run_case(c: &Case, causal: bool, reps: usize, only: Option<Phases>) -> Result<Value, String> {
    let cfg = config(c, causal)?;
    let model = Model::<f32>::from_config(&cfg, 0).map_err(|e| e.to_string())?;
    let mut rng = Rng::seed(0);
    let (b, n) = (c.batch, c.seq);
    let operator = c.kind == "operator";
    let ids: Vec<usize> = (0..b * n).map(|_| rng.below(c.vocab.unwrap_or(1) as u64) as usize).collect();
    let labels: Vec<usize> = (0..b).map(|_| rng.below(c.classes.unwrap_or(1) as u64) as usize).collect();
    let channels = if operator { 1 } else { c.hidden };
    let x = Tensor::<f32>::randn(&[b, n, channels], 0.0, 1.0, &mut rng);
    let target = Tensor::<f32>::randn(&[b, n, channels], 0.0, 1.0, &mut rng);
    let embeds = c.kind == "encoder" || operator;
    let input = |_: ()| if embeds { Input::Embeds(&x) } else { Input::Ids { ids: &ids, batch: b, len: n } };
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let forward_s = match only {
        Some(Phases::Train) => None,
        _ => Some(median_time(reps, || {
            model.forward(&Ctx::inference(), input(()), None).map(drop).map_err(|e| err(&e))
        })?),
    };
    let train = if only == Some(Phases::Forward) {
        None
    } else {
        let mut opt: Box<dyn Optimizer<f32>> = if operator {
            Box::new(
                Adam::new(model.parameters(), AdamConfig { lr: 1e-3, weight_decay: 1e-4, ..Default::default() })
                    .map_err(|e| err(&e))?,
            )
        } else {
            Box::new(
                AdamW::new(model.parameters(), AdamWConfig { lr: 1e-3, ..Default::default() }).map_err(|e| err(&e))?,
            )
        };
        let tape = Tape::new();
        let mut step = || {
            opt.zero_grad();
            let ctx = Ctx::train(&tape, 0);
            let out = model.forward(&ctx, input(()), None).map_err(|e| err(&e))?;
            let loss = match c.kind.as_str() {
                "encoder" => out.mul(&out).and_then(|s| s.mean(&[], false)),
                "operator" => relative_l2(&out, &target),
                "classifier" => out.cross_entropy(&labels, None, Reduction::Mean),
                _ => out.cross_entropy(&ids, None, Reduction::Mean),
            }
            .map_err(|e| err(&e))?;
            loss.backward().map_err(|e| err(&e))?;
            opt.step().map_err(|e| err(&e))
        };
        let seconds = median_time(reps, &mut step)?;
        // steady state: page faults and allocator calls over two more steps, after the timed ones
        let (faults, allocs) = (minor_faults(), crate::ALLOCATOR.allocations());
        step()?;
        step()?;
        let faults = minor_faults().zip(faults).map(|(after, before)| (after - before) as f64 / 2.0);
        Some(TrainStats { seconds, faults, allocs: (crate::ALLOCATOR.allocations() - allocs) as f64 / 2.0 })
    };
    let round = |t: f64| (t * 1e6).round() / 1e6;
    let name = if causal { format!("{}-causal", c.name) } else { c.name.clone() };
    Ok(json!({
        "case": name, "impl": "rust", "threads": rayon::current_num_threads(), "causal": causal,
        "simd": simd::level().name(),
        "forward_s": forward_s.map(round), "train_step_s": train.as_ref().map(|t| round(t.seconds)),
        "minor_faults_per_step": train.as_ref().and_then(|t| t.faults),
        "allocs_per_step": train.as_ref().map(|t| t.allocs),
        "peak_rss_bytes": peak_rss_bytes(),
    }))
}

/// Runs the named cases (all when empty), printing one JSON line each.
pub fn run(names: &[String], cases_file: Option<&Path>, only: Option<Phases>) -> Result<(), String> {
    let text = match cases_file {
        Some(p) => std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
        None => CASES.to_string(),
    };
    let cases = parse_cases(&text)?;
    for n in names {
        if !cases.iter().any(|c| &c.name == n) {
            let known: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
            return Err(format!("unknown benchmark case {n:?}; known: {}", known.join(", ")));
        }
    }
    let reps = match std::env::var("REPS") {
        Ok(v) => {
            v.parse::<usize>().ok().filter(|&r| r > 0).ok_or(format!("REPS must be a positive integer, got {v:?}"))?
        }
        Err(_) => 5,
    };
    for c in cases.iter().filter(|c| names.is_empty() || names.contains(&c.name)) {
        let variants: &[bool] = if c.kind == "decoder" { &[false, true] } else { &[false] };
        for &causal in variants {
            // on a pool thread, so the kernels' parallel calls do not each hand work over from outside
            println!("{}", spectrans_tensor::on_pool(|| run_case(c, causal, reps, only))?);
        }
    }
    Ok(())
}
