//! The measurement behind the DCT implementation choice: a cached rustdct DCT-II against a
//! realfft real FFT of the same length (the floor for any FFT-based DCT), single thread, f32.
//!
//! Run: `cargo bench -p spectrans-transforms --bench dct_vs_fft`

use std::time::Instant;

use num_complex::Complex;
use spectrans_transforms::plan;

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
        let t_dct = median_ns(|| {
            dct.process_dct2_with_scratch(std::hint::black_box(&mut buf), &mut scratch)
        });
        let rf = plan::real_fft::<f32>(n);
        let mut input: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut out = vec![Complex::new(0.0f32, 0.0); n / 2 + 1];
        let mut cs = vec![Complex::new(0.0f32, 0.0); rf.get_scratch_len()];
        let t_fft = median_ns(|| {
            rf.process_with_scratch(std::hint::black_box(&mut input), &mut out, &mut cs)
                .expect("lengths match");
        });
        println!("{{\"n\": {n}, \"rustdct_dct2_ns\": {t_dct:.0}, \"realfft_ns\": {t_fft:.0}, \"ratio\": {:.2}}}", t_dct / t_fft);
    }
}
