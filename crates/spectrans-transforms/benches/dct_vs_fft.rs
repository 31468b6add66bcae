//! The measurement behind the DCT implementation choice: a cached rustdct DCT-II against a
//! realfft real FFT of the same length (the floor for any FFT-based DCT), single thread, f32.
//!
//! Also times this crate's FFT-based `dct2` per lane (64 lanes, tensor overheads included).
//!
//! Run: `cargo bench -p spectrans-transforms --bench dct_vs_fft`

use std::time::Instant;

use num_complex::Complex;
use spectrans_tensor::{Rng, Tensor};
use spectrans_transforms::{dct2, plan, rfft, DctNorm, Norm};

fn median_ns(mut f: impl FnMut()) -> f64 {
    for _ in 0..50 {
        f();
    }
    let mut t: Vec<f64> = (0..201)
        .map(|_| {
            let s = Instant::now();
            for _ in 0..20 {
                f();
            }
            s.elapsed().as_nanos() as f64 / 20.0
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

fn main() {
    for n in [64usize, 100, 127, 256, 1000, 1024, 4096] {
        let dct = plan::dct::<f32>(n);
        let mut buf: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut scratch = vec![0.0f32; dct.get_scratch_len()];
        let t_dct = median_ns(|| dct.process_dct2_with_scratch(std::hint::black_box(&mut buf), &mut scratch));
        let rf = plan::real_fft::<f32>(n);
        let mut input: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut out = vec![Complex::new(0.0f32, 0.0); n / 2 + 1];
        let mut cs = vec![Complex::new(0.0f32, 0.0); rf.get_scratch_len()];
        let t_fft = median_ns(|| {
            rf.process_with_scratch(std::hint::black_box(&mut input), &mut out, &mut cs).expect("lengths match");
        });
        // this crate's FFT-based dct2 on 64 lanes (per lane, including tensor overheads)
        let x = Tensor::<f32>::randn(&[64, n], 0.0, 1.0, &mut Rng::seed(1));
        let t_ours = median_ns(|| {
            std::hint::black_box(dct2(&x, -1, DctNorm::None).expect("valid shape"));
        }) / 64.0;
        let t_rfft = median_ns(|| {
            std::hint::black_box(rfft(&x, -1, None, Norm::Backward).expect("valid shape"));
        }) / 64.0;
        println!(
            "{{\"n\": {n}, \"rustdct_dct2_ns\": {t_dct:.0}, \"realfft_ns\": {t_fft:.0}, \"rustdct_over_realfft\": {:.2}, \"ours_dct2_ns_per_lane\": {t_ours:.0}, \"ours_rfft_ns_per_lane\": {t_rfft:.0}}}",
            t_dct / t_fft
        );
    }
}
