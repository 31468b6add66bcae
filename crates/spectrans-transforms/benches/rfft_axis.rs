//! rfft(axis=1) + irfft(axis=1, n=N) of (B, N, D) f32 tensors — the FNO spectral path's
//! transforms — for the shapes of the peer cases, one JSON line per shape with the median time.
//!
//! Run: `THREADS=2 cargo bench -p spectrans-transforms --bench rfft_axis`
//! (compare with `THREADS=2 python3 benches/torch/rfft_axis_torch.py` in the same session).
//! The cases file is `$SPECTRANS_CASES`, else `/work/shared/peer/cases.json`, else the built-in
//! copy of its shapes. Allocation is mimalloc's, as in the `spectrans` binary.

use std::time::Instant;

/// The allocator of the `spectrans` binary: glibc's malloc returns each freed multi-megabyte
/// output to the kernel and page-faults it back on the next call, which would be timed here.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use spectrans_tensor::{Rng, Tensor};
use spectrans_transforms::{irfft, rfft, Norm};

const BUILTIN: &[(&str, usize, usize, usize)] = &[
    ("enc-small", 8, 256, 128),
    ("enc-base", 8, 1024, 256),
    ("cls-seed", 32, 100, 512),
    ("dec-lm", 8, 512, 256),
    ("enc-long", 1, 16384, 64),
];

fn cases() -> Vec<(String, usize, usize, usize)> {
    let path = std::env::var("SPECTRANS_CASES").unwrap_or_else(|_| "/work/shared/peer/cases.json".into());
    let parsed = std::fs::read_to_string(&path).ok().and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok());
    let Some(serde_json::Value::Object(map)) = parsed else {
        return BUILTIN.iter().map(|&(n, b, s, h)| (n.to_string(), b, s, h)).collect();
    };
    map.iter()
        .filter_map(|(name, c)| {
            let get = |k: &str| c.get(k).and_then(|v| v.as_u64()).map(|v| v as usize);
            Some((name.clone(), get("batch")?, get("seq")?, get("hidden")?))
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let threads: usize = std::env::var("THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(2);
    rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().expect("the global pool is set once");
    let mut rng = Rng::seed(0);
    for (name, b, n, d) in cases() {
        let x = Tensor::<f32>::randn(&[b, n, d], 0.0, 1.0, &mut rng);
        let run = || {
            let spec = rfft(&x, 1, None, Norm::Backward).expect("valid shape");
            irfft(&spec, 1, Some(n), Norm::Backward).expect("valid shape")
        };
        for _ in 0..3 {
            std::hint::black_box(run());
        }
        let mut times = Vec::new();
        let start = Instant::now();
        while times.len() < 10 || (times.len() < 50 && start.elapsed().as_secs_f64() < 2.0) {
            let t = Instant::now();
            std::hint::black_box(run());
            times.push(t.elapsed().as_secs_f64());
        }
        println!(
            "{{\"impl\": \"rust\", \"case\": \"{name}\", \"batch\": {b}, \"seq\": {n}, \"hidden\": {d}, \"threads\": {threads}, \"reps\": {}, \"median_s\": {:.6e}}}",
            times.len(),
            median(times)
        );
    }
}
