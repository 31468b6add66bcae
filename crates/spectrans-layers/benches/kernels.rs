//! Criterion micro-benchmarks of the hot kernels of an FNO transformer step, at the shapes of the
//! `dec-lm` / `enc-long`-like peer cases (f32), so that a regression in one kernel shows on its
//! own: the `Linear` products (forward x·Wᵀ and the weight gradient Gᵀ·X), the FNO layer (real
//! FFT, spectral mixing, inverse FFT, pointwise conv, GELU), LayerNorm, and the real FFT along
//! the sequence axis.
//!
//! Run: `cargo bench -p spectrans-layers --bench kernels` (add `-- --save-baseline main` /
//! `-- --baseline main` to compare two commits). Threads: `RAYON_NUM_THREADS`; SIMD level:
//! `SPECTRANS_SIMD`. Allocation is mimalloc's, as in the `spectrans` binary.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use spectrans_layers::{Activation, Ctx, FnoPaths, FourierNeuralOperator};
use spectrans_tensor::{Rng, Tensor, Transpose};
use spectrans_transforms::{irfft, rfft, Norm};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// (batch, sequence, hidden) of the benchmarked activations.
const SHAPES: [(usize, usize, usize); 2] = [(8, 512, 256), (8, 1024, 64)];

fn randn(shape: &[usize], seed: u64) -> Tensor<f32> {
    Tensor::randn(shape, 0.0, 1.0, &mut Rng::seed(seed))
}

fn gemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm");
    // the last: one mode of the spectral mixing ([X_re; X_im] · W̃_k at batch 8, D = 256)
    for &(rows, inner, outer) in
        &[(4096, 256, 256), (4096, 256, 1024), (4096, 1024, 256), (8192, 64, 64), (16, 256, 512)]
    {
        let x = randn(&[rows, inner], 0);
        let w = randn(&[outer, inner], 1);
        let grad = randn(&[rows, outer], 2);
        g.throughput(Throughput::Elements((2 * rows * inner * outer) as u64));
        let id = format!("{rows}x{inner}->{outer}");
        g.bench_function(BenchmarkId::new("linear_forward_nt", &id), |b| {
            b.iter(|| x.matmul_t(&w, Transpose::Rhs).unwrap())
        });
        g.bench_function(BenchmarkId::new("weight_grad_tn", &id), |b| {
            b.iter(|| grad.matmul_t(&x, Transpose::Lhs).unwrap())
        });
        if rows <= 64 {
            // as the mixing stores it: the weight block row-major (inner, outer); at the AVX2 and
            // scalar levels our GEMM reads it in place (≤ 4 tiles of rows), at AVX-512 the gemm
            // crate runs it
            let w_rows = randn(&[inner, outer], 4);
            g.bench_function(BenchmarkId::new("mixing_mode_nn", &id), |b| {
                b.iter(|| x.matmul_t(&w_rows, Transpose::Neither).unwrap())
            });
        }
    }
    g.finish();
}

fn fno_layer(c: &mut Criterion) {
    let mut g = c.benchmark_group("fno_layer_forward");
    for &(b, n, d) in &SHAPES {
        let layer =
            FourierNeuralOperator::<f32>::new(d, 32.min(n / 2), Activation::Gelu, FnoPaths::Both, &mut Rng::seed(0))
                .unwrap();
        let x = randn(&[b, n, d], 3);
        g.throughput(Throughput::Elements((b * n * d) as u64));
        g.bench_function(BenchmarkId::from_parameter(format!("{b}x{n}x{d}")), |bch| {
            bch.iter(|| layer.forward(&Ctx::inference(), &x).unwrap())
        });
    }
    g.finish();
}

fn layer_norm(c: &mut Criterion) {
    let mut g = c.benchmark_group("layer_norm");
    for &(b, n, d) in &SHAPES {
        let x = randn(&[b, n, d], 4);
        let (w, bias) = (randn(&[d], 5), randn(&[d], 6));
        g.throughput(Throughput::Elements((b * n * d) as u64));
        g.bench_function(BenchmarkId::from_parameter(format!("{b}x{n}x{d}")), |bch| {
            bch.iter(|| x.layer_norm(Some(&w), Some(&bias), 1e-5).unwrap())
        });
    }
    g.finish();
}

fn rfft_sequence_axis(c: &mut Criterion) {
    let mut g = c.benchmark_group("rfft_irfft_axis1");
    for &(b, n, d) in &SHAPES {
        let x = randn(&[b, n, d], 7);
        g.throughput(Throughput::Elements((b * n * d) as u64));
        g.bench_function(BenchmarkId::from_parameter(format!("{b}x{n}x{d}")), |bch| {
            bch.iter(|| {
                let f = rfft(&x, 1, None, Norm::Backward).unwrap();
                irfft(&f, 1, Some(n), Norm::Backward).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = kernels;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = gemm, fno_layer, layer_norm, rfft_sequence_axis
}
criterion_main!(kernels);
