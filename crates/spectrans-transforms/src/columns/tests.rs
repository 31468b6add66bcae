use super::*;
use spectrans_tensor::Rng;

/// The naive real DFT of every lane, with the kernels' padding, truncation and scaling.
fn naive_r2c(src: &[f64], g: &Geometry<f64>, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; g.outer * g.len_out * g.inner * 2];
    for o in 0..g.outer {
        for d in 0..g.inner {
            for k in 0..g.len_out.min(n / 2 + 1) {
                let (mut re, mut im) = (0.0, 0.0);
                for j in 0..g.len_in.min(n) {
                    let x = src[(o * g.len_in + j) * g.inner + d];
                    let angle = -std::f64::consts::TAU * (j * k % n) as f64 / n as f64;
                    re += x * angle.cos();
                    im += x * angle.sin();
                }
                let edge = k == 0 || 2 * k == n;
                let s = if edge { g.scale } else { g.scale * g.interior };
                let at = ((o * g.len_out + k) * g.inner + d) * 2;
                out[at] = re * s;
                out[at + 1] = if edge { 0.0 } else { im * s };
            }
        }
    }
    out
}

/// The naive inverse real DFT of every lane (Im of DC/Nyquist ignored, interior bins scaled).
fn naive_c2r(src: &[f64], g: &Geometry<f64>, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; g.outer * g.len_out * g.inner];
    for o in 0..g.outer {
        for d in 0..g.inner {
            for j in 0..g.len_out.min(n) {
                let mut sum = 0.0;
                for k in 0..g.len_in.min(n / 2 + 1) {
                    let at = ((o * g.len_in + k) * g.inner + d) * 2;
                    let (re, im) = (src[at], src[at + 1]);
                    let angle = std::f64::consts::TAU * (j * k % n) as f64 / n as f64;
                    if k == 0 || 2 * k == n {
                        sum += re * angle.cos();
                    } else {
                        sum += 2.0 * g.interior * (re * angle.cos() - im * angle.sin());
                    }
                }
                out[(o * g.len_out + j) * g.inner + d] = sum * g.scale;
            }
        }
    }
    out
}

fn random(len: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::seed(seed);
    (0..len).map(|_| rng.normal()).collect()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= tol * scale, "{what}: element {i}: {a} vs {b}");
    }
}

/// An interleaved-spectrum geometry.
fn interleaved<F>(outer: usize, inner: usize, (len_in, len_out): (usize, usize), scale: F, interior: F) -> Geometry<F> {
    Geometry { outer, inner, len_in, len_out, scale, interior, spectrum: Spectrum::Interleaved }
}

/// Geometries covering every radix, partial and multiple tiles, padding and truncation on both
/// sides, and the scaling of both directions.
const CASES: &[(usize, usize, usize, usize, usize)] = &[
    // (outer, n, inner, len_in delta, len_out delta)
    (2, 2, 5, 0, 0),
    (1, 4, 16, 0, 0),
    (3, 8, 17, 0, 0),
    (2, 12, 33, 0, 0),
    (1, 20, 64, 0, 0),
    (2, 30, 9, 0, 0),
    (1, 100, 70, 0, 0),
    (2, 48, 6, 3, 2),
    (1, 64, 40, 5, 7),
    (2, 90, 8, 0, 1),
    (1, 1000, 20, 0, 0),
    (1, 2 * 4 * 4 * 4 * 4 * 4 * 2, 4, 0, 0),
];

#[test]
fn forward_matches_the_naive_dft() {
    for (i, &(outer, n, inner, extra_in, extra_out)) in CASES.iter().enumerate() {
        for (len_in, len_out) in
            [(n + extra_in, n / 2 + 1 + extra_out), (n - extra_in.min(n - 1), n / 2 + 1 - extra_out.min(n / 2))]
        {
            let g = interleaved(outer, inner, (len_in, len_out), 0.5, 2.0);
            let src = random(outer * len_in * inner, i as u64);
            let plan = column_plan::<f64>(n, false).expect("a column length");
            let got = plan.r2c(&src, g);
            assert_close(&got, &naive_r2c(&src, &g, n), 1e-12, &format!("r2c n={n} {len_in}→{len_out} inner={inner}"));
            let g32 = interleaved(outer, inner, (len_in, len_out), 0.5f32, 2.0);
            let src32: Vec<f32> = src.iter().map(|&v| v as f32).collect();
            let got32: Vec<f64> =
                column_plan::<f32>(n, false).unwrap().r2c(&src32, g32).iter().map(|&v| v as f64).collect();
            assert_close(&got32, &got, 2e-5, &format!("r2c f32 n={n}"));
        }
    }
}

#[test]
fn inverse_matches_the_naive_dft() {
    for (i, &(outer, n, inner, extra_in, extra_out)) in CASES.iter().enumerate() {
        let bins = n / 2 + 1;
        for (len_in, len_out) in
            [(bins + extra_in, n + extra_out), (bins - extra_in.min(bins - 1), n - extra_out.min(n - 1))]
        {
            let g = interleaved(outer, inner, (len_in, len_out), 0.25, 0.5);
            // random imaginary parts on DC and Nyquist too: they must be ignored
            let src = random(outer * len_in * inner * 2, 100 + i as u64);
            let plan = column_plan::<f64>(n, true).expect("a column length");
            let got = plan.c2r(&src, g);
            assert_close(&got, &naive_c2r(&src, &g, n), 1e-12, &format!("c2r n={n} {len_in}→{len_out} inner={inner}"));
        }
    }
}

#[test]
fn plans_exist_for_even_lengths_with_small_prime_factors_only() {
    assert_eq!(factorize(1), Some(vec![]));
    assert_eq!(factorize(2 * 16 * 3 * 25), Some(vec![4, 4, 2, 3, 5, 5]));
    assert!(factorize(7).is_none());
    assert!(column_plan::<f32>(7, false).is_none());
    assert!(column_plan::<f32>(14, false).is_none());
    assert!(column_plan::<f32>(0, false).is_none());
    assert!(Arc::ptr_eq(&column_plan::<f32>(24, true).unwrap(), &column_plan::<f32>(24, true).unwrap()));
}

/// Results do not depend on the thread count, even where the tile width does (one long row of
/// 64 lanes is split into narrower tiles so that every thread gets one).
#[test]
fn parallel_groups_give_the_same_bits_as_one_thread() {
    for (outer, n, inner) in [(8, 256, 96), (1, 4096, 64)] {
        let g = interleaved(outer, inner, (n, n / 2 + 1), 1.0f32, 1.0);
        let src: Vec<f32> = random(outer * n * inner, 7).iter().map(|&v| v as f32).collect();
        assert!(src.len() * 2 >= crate::lanes::PAR_MIN_ELEMENTS, "the case must reach the parallel path");
        let plan = column_plan::<f32>(n, false).unwrap();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let (serial, w1) = pool.install(|| (plan.r2c(&src, g), plan.tile_width(outer, inner)));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let (parallel, w3) = pool.install(|| (plan.r2c(&src, g), plan.tile_width(outer, inner)));
        assert_eq!(serial, parallel, "n={n}");
        if outer == 1 {
            assert!(w3 < w1, "the long case must narrow its tiles for 3 threads ({w1} vs {w3})");
        }
    }
}

/// rfft/irfft along the middle axis of a (B, N, D) tensor with D ≥ [`MIN_INNER`] take the column
/// path: their gradients (the other direction of the same kernels) against finite differences.
#[test]
fn gradients_on_the_column_path_match_finite_differences() {
    use crate::{irfft, rfft, Norm};
    use spectrans_tensor::gradcheck::{assert_gradients, tensor_from};
    for (i, &(b, len, d, n)) in [(2, 12, 5, 12), (1, 10, 17, 16), (2, 9, 4, 6), (1, 30, 6, 30)].iter().enumerate() {
        for norm in [Norm::Backward, Norm::Ortho, Norm::Forward] {
            let x = tensor_from::<f64>(&[b, len, d], i as u64, -1.0, 1.0);
            assert_gradients(&[x], |v| rfft(&v[0], 1, Some(n), norm).map_err(Into::into));
            let z = tensor_from::<f64>(&[b, len / 2 + 1, d, 2], 10 + i as u64, -1.0, 1.0);
            assert_gradients(&[z], |v| irfft(&v[0], 1, Some(n), norm).map_err(Into::into));
        }
    }
    assert!(column_plan::<f64>(12, false).is_some() && column_plan::<f64>(30, true).is_some());
}

/// Every element is computed by the same sequence of scalar operations whatever the vector width
/// (no reductions, no implicit FMA), so the kernels compiled for each vector extension this CPU
/// has must agree bit for bit with the baseline build.
#[test]
fn every_vector_extension_gives_the_same_bits() {
    let available: Vec<Isa> =
        [Isa::Avx512, Isa::Avx2, Isa::Baseline].into_iter().filter(|&i| i as u8 >= isa() as u8).collect();
    assert!(available.contains(&Isa::Baseline));
    for &(outer, n, inner) in &[(2, 100, 70), (1, 48, 33), (3, 30, 9)] {
        let g = interleaved(outer, inner, (n, n / 2 + 1), 1.0f32, 1.0);
        let src: Vec<f32> = random(outer * n * inner, 3).iter().map(|&v| v as f32).collect();
        let (fwd, inv) = (column_plan::<f32>(n, false).unwrap(), column_plan::<f32>(n, true).unwrap());
        let spectra: Vec<Vec<f32>> = available.iter().map(|&i| fwd.r2c_on(i, &src, g)).collect();
        assert!(spectra.windows(2).all(|w| w[0] == w[1]), "r2c differs between {available:?}");
        let g = Geometry { len_in: n / 2 + 1, len_out: n, ..g };
        let signals: Vec<Vec<f32>> = available.iter().map(|&i| inv.c2r_on(i, &spectra[0], g)).collect();
        assert!(signals.windows(2).all(|w| w[0] == w[1]), "c2r differs between {available:?}");
    }
}

/// The bin-major layout holds the same numbers as the interleaved one, rearranged, both ways.
#[test]
fn bin_major_layout_matches_interleaved() {
    for &(outer, n, inner, bins) in &[(2, 12, 5, 7), (3, 100, 70, 32), (1, 16, 16, 3), (2, 30, 9, 20)] {
        let src = random(outer * n * inner, 11);
        let g = interleaved(outer, inner, (n, bins), 0.5, 2.0);
        let inter = column_plan::<f64>(n, false).unwrap().r2c(&src, g);
        let binmaj = crate::plan::rfft_lanes_bin_major(&src, (outer, n, inner), bins, 0.5, 2.0).unwrap();
        for k in 0..bins {
            for o in 0..outer {
                for d in 0..inner {
                    let at = ((o * bins + k) * inner + d) * 2;
                    let bm = (k * outer + o) * 2 * inner + d;
                    assert_eq!((inter[at], inter[at + 1]), (binmaj[bm], binmaj[bm + inner]), "n={n} k={k}");
                }
            }
        }
        let back = crate::plan::irfft_lanes_bin_major(&binmaj, (outer, n, inner), bins, 0.25, 0.5).unwrap();
        let g = Geometry { len_in: bins, len_out: n, scale: 0.25, interior: 0.5, ..g };
        assert_eq!(back, column_plan::<f64>(n, true).unwrap().c2r(&inter, g), "n={n}");
    }
    assert!(crate::plan::rfft_lanes_bin_major(&[0.0f32; 21], (1, 7, 3), 2, 1.0, 1.0).is_none());
    assert!(crate::plan::rfft_lanes_bin_major(&[0.0f32; 28], (1, 7, 4), 2, 1.0, 1.0).is_none());
}
