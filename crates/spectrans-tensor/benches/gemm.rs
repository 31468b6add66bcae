//! GEMM candidates on the f32 products of an FNO transformer, 2 threads (`GEMM_BENCH_THREADS`).
//!
//! Candidates: the `gemm` crate (`Parallelism::Rayon(2)`), `matrixmultiply::sgemm` (threading
//! feature, `MATMUL_NUM_THREADS=2`), and our `Tensor::matmul_t` (which allocates its output and
//! dispatches to `Float::gemm`). Variants, with `rows = B·N`:
//! - `nn`: x (rows, k) · W (k, n)
//! - `nt`: x (rows, k) · Wᵀ, W stored (n, k) — the `Linear` forward
//! - `tn`: Xᵀ · G, X (rows, k), G (rows, n) → (k, n) — the `Linear` weight gradient
//!
//! Prints one JSON line per (candidate, variant, shape) with the median wall time and GFLOP/s.
//! Every candidate is timed from a thread of the rayon pool, as the models call their products
//! (`on_pool`): a call from outside the pool would pay for waking it on every product.
//! Run with `cargo bench -p spectrans-tensor --bench gemm` (`--no-default-features` drops the
//! `avx512` feature, leaving `gemm` its AVX2 kernels); `GEMM_BENCH_QUICK=1` keeps only rows = 1024;
//! `GEMM_BENCH_CANDIDATES=gemm,ours` restricts the candidates; `-- --serve` reads
//! `rows inner outer` lines from stdin (for `benches/torch/compare_gemm.py`, which interleaves
//! this binary with `gemm_torch.py` shape by shape so both see the same machine load).

use std::hint::black_box;
use std::time::{Duration, Instant};

use spectrans_tensor::{on_pool, Rng, Tensor, Transpose};

/// The allocator of the `spectrans` binary, so that `ours` (which allocates its output, as a
/// `Linear` does) reuses freed pages as there instead of faulting them in on every call.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Threads for every candidate: 2, or `GEMM_BENCH_THREADS`.
fn threads() -> usize {
    std::env::var("GEMM_BENCH_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2)
}
const ROWS: [usize; 3] = [1024, 4096, 8192];
const INNER_OUTER: [(usize, usize); 7] =
    [(64, 64), (128, 128), (256, 256), (256, 512), (512, 512), (512, 1024), (1024, 1024)];
/// Timing budget per measurement (after one warm-up call), and the run-count bounds.
const BUDGET: Duration = Duration::from_millis(250);
const MIN_RUNS: usize = 5;
const MAX_RUNS: usize = 50;

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Nn,
    Nt,
    Tn,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Nn => "nn",
            Variant::Nt => "nt",
            Variant::Tn => "tn",
        }
    }
}

/// Operands of one product in row-major storage, with the GEMM geometry m×k · k×n.
struct Case {
    variant: Variant,
    lhs: Tensor<f32>,
    rhs: Tensor<f32>,
    m: usize,
    k: usize,
    n: usize,
    /// (row, col) strides of op(lhs) and op(rhs) in elements.
    lhs_strides: (isize, isize),
    rhs_strides: (isize, isize),
    trans: Transpose,
}

impl Case {
    fn new(variant: Variant, rows: usize, inner: usize, outer: usize, rng: &mut Rng) -> Case {
        let x = Tensor::<f32>::randn(&[rows, inner], 0.0, 1.0, rng);
        match variant {
            Variant::Nn => Case {
                variant,
                lhs: x,
                rhs: Tensor::randn(&[inner, outer], 0.0, 0.05, rng),
                m: rows,
                k: inner,
                n: outer,
                lhs_strides: (inner as isize, 1),
                rhs_strides: (outer as isize, 1),
                trans: Transpose::Neither,
            },
            Variant::Nt => Case {
                variant,
                lhs: x,
                rhs: Tensor::randn(&[outer, inner], 0.0, 0.05, rng),
                m: rows,
                k: inner,
                n: outer,
                lhs_strides: (inner as isize, 1),
                rhs_strides: (1, inner as isize),
                trans: Transpose::Rhs,
            },
            Variant::Tn => Case {
                variant,
                lhs: x,
                rhs: Tensor::randn(&[rows, outer], 0.0, 1.0, rng),
                m: inner,
                k: rows,
                n: outer,
                lhs_strides: (1, inner as isize),
                rhs_strides: (outer as isize, 1),
                trans: Transpose::Lhs,
            },
        }
    }

    fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.k as f64 * self.n as f64
    }
}

/// Median seconds of `f` over as many runs as fit the budget (bounded), after one warm-up.
fn median_seconds(mut f: impl FnMut()) -> (f64, usize) {
    f();
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < MIN_RUNS || (times.len() < MAX_RUNS && start.elapsed() < BUDGET) {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times.len())
}

fn run_gemm_crate(c: &Case, dst: &mut [f32]) {
    let (a, b) = (c.lhs.data(), c.rhs.data());
    // SAFETY: the strides address exactly the m×k, k×n and m×n row-major buffers.
    unsafe {
        gemm::gemm(
            c.m,
            c.n,
            c.k,
            dst.as_mut_ptr(),
            1,
            c.n as isize,
            false,
            a.as_ptr(),
            c.lhs_strides.1,
            c.lhs_strides.0,
            b.as_ptr(),
            c.rhs_strides.1,
            c.rhs_strides.0,
            1.0,
            1.0,
            false,
            false,
            false,
            if threads() > 1 { gemm::Parallelism::Rayon(threads()) } else { gemm::Parallelism::None },
        );
    }
}

fn run_matrixmultiply(c: &Case, dst: &mut [f32]) {
    let (a, b) = (c.lhs.data(), c.rhs.data());
    // SAFETY: as above.
    unsafe {
        matrixmultiply::sgemm(
            c.m,
            c.k,
            c.n,
            1.0,
            a.as_ptr(),
            c.lhs_strides.0,
            c.lhs_strides.1,
            b.as_ptr(),
            c.rhs_strides.0,
            c.rhs_strides.1,
            0.0,
            dst.as_mut_ptr(),
            c.n as isize,
            1,
        );
    }
}

fn run_ours(c: &Case) -> Tensor<f32> {
    c.lhs.matmul_t(&c.rhs, c.trans).expect("shapes agree")
}

fn main() {
    // matrixmultiply reads its thread count once, on first use.
    std::env::set_var("MATMUL_NUM_THREADS", threads().to_string());
    rayon::ThreadPoolBuilder::new().num_threads(threads()).build_global().expect("rayon pool is set once");
    let wanted = std::env::var("GEMM_BENCH_CANDIDATES").unwrap_or_else(|_| "gemm,matrixmultiply,ours".into());
    let wanted: Vec<String> = wanted.split(',').map(str::to_owned).collect();
    let mut rng = Rng::seed(7);
    if std::env::args().any(|a| a == "--serve") {
        // driven by benches/torch/compare_gemm.py: one "rows inner outer" line in, results + "done" out
        for line in std::io::stdin().lines() {
            let line = line.expect("stdin is readable");
            let v: Vec<usize> = line.split_whitespace().map(|t| t.parse().expect("three integers")).collect();
            if let [rows, inner, outer] = v[..] {
                on_pool(|| bench_shape(rows, inner, outer, &wanted, &mut rng));
            }
            println!("done");
        }
        return;
    }
    let rows_list: &[usize] = if std::env::var_os("GEMM_BENCH_QUICK").is_some() { &ROWS[..1] } else { &ROWS };
    for &rows in rows_list {
        for &(inner, outer) in &INNER_OUTER {
            on_pool(|| bench_shape(rows, inner, outer, &wanted, &mut rng));
        }
    }
}

/// What `Float::gemm` runs at this process's SIMD level: the `gemm` crate at AVX-512 (but for
/// x·Wᵀ with few rows), our kernels at AVX2 and below.
fn ours_kernel() -> String {
    use spectrans_tensor::simd;
    if cfg!(feature = "avx512") && simd::level() == simd::SimdLevel::Avx512 {
        "gemm crate, avx512; spectrans kernel for x·Wᵀ with ≤ 64 rows".into()
    } else {
        format!("spectrans kernel, {}", simd::level())
    }
}

/// Times every wanted candidate on the three variants of one shape, printing a JSON line each.
fn bench_shape(rows: usize, inner: usize, outer: usize, wanted: &[String], rng: &mut Rng) {
    let kernel = if cfg!(feature = "avx512") { "gemm+x86-v4" } else { "gemm" };
    for variant in [Variant::Nn, Variant::Nt, Variant::Tn] {
        let c = Case::new(variant, rows, inner, outer, rng);
        let mut dst = vec![0.0f32; c.m * c.n];
        let reference = run_ours(&c);
        for cand in wanted {
            let (secs, runs) = match cand.as_str() {
                "gemm" => median_seconds(|| run_gemm_crate(&c, black_box(&mut dst))),
                "matrixmultiply" => median_seconds(|| run_matrixmultiply(&c, black_box(&mut dst))),
                "ours" => median_seconds(|| {
                    black_box(run_ours(&c));
                }),
                other => panic!("unknown candidate {other}"),
            };
            if cand != "ours" {
                check_close(&dst, reference.data(), cand, &c);
            }
            let label = match cand.as_str() {
                "gemm" => kernel.to_owned(),
                "ours" => format!("ours({})", ours_kernel()),
                other => other.to_owned(),
            };
            println!(
                "{{\"lib\":\"rust\",\"candidate\":\"{label}\",\"variant\":\"{}\",\"rows\":{rows},\"inner\":{inner},\
                 \"outer\":{outer},\"m\":{},\"k\":{},\"n\":{},\"threads\":{},\"runs\":{runs},\
                 \"median_s\":{secs:.6e},\"gflops\":{:.2}}}",
                c.variant.name(),
                c.m,
                c.k,
                c.n,
                threads(),
                c.flops() / secs / 1e9,
            );
        }
    }
}

/// Guards against a candidate computing something else (wrong strides): relative L∞ error.
fn check_close(got: &[f32], want: &[f32], cand: &str, c: &Case) {
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    let err = got.iter().zip(want).fold(0.0f32, |m, (g, w)| m.max((g - w).abs()));
    assert!(err / scale < 1e-3, "{cand} {} {}x{}x{}: relative error {}", c.variant.name(), c.m, c.k, c.n, err / scale);
}
