use proptest::prelude::*;

use super::*;
use crate::simd;
use crate::Rng;

/// Levels this CPU can run.
fn levels() -> Vec<SimdLevel> {
    SimdLevel::ALL.into_iter().filter(|&l| l <= simd::detected()).collect()
}

/// `c (m × n, row-major) (+)= A · B` with `gemm` on a pool of `threads` threads; operands given
/// as (data, row stride, column stride).
fn on_threads<T: GemmElement>(
    threads: usize,
    level: SimdLevel,
    (m, n, k): (usize, usize, usize),
    c: &mut [T],
    accumulate: bool,
    (a, a_rs, a_cs): (&[T], isize, isize),
    (b, b_rs, b_cs): (&[T], isize, isize),
) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let (va, vb) = (View { ptr: a.as_ptr(), rs: a_rs, cs: a_cs }, View { ptr: b.as_ptr(), rs: b_rs, cs: b_cs });
    // SAFETY: the views and `c` hold every element of the m × k, k × n and m × n matrices.
    pool.install(|| unsafe { gemm(level, m, n, k, c.as_mut_ptr(), n as isize, 1, accumulate, va, vb, threads) });
}

/// Runs `gemm` at `level` on row-major or transposed operands, against a naive f64 product.
#[allow(clippy::too_many_arguments)]
fn check<T: GemmElement + Into<f64> + From<f32>>(
    level: SimdLevel,
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
    accumulate: bool,
    threads: usize,
    tol: f64,
) {
    let mut rng = Rng::seed((m * 31 + n * 7 + k) as u64);
    let mut draw = |len: usize| -> Vec<T> { (0..len).map(|_| T::from(rng.uniform() as f32 * 2.0 - 1.0)).collect() };
    let (a, b, c0) = (draw(m * k), draw(k * n), draw(m * n));
    let (a_rs, a_cs) = if ta { (1, m as isize) } else { (k as isize, 1) };
    let (b_rs, b_cs) = if tb { (1, k as isize) } else { (n as isize, 1) };
    let mut c = c0.clone();
    on_threads(threads, level, (m, n, k), &mut c, accumulate, (&a, a_rs, a_cs), (&b, b_rs, b_cs));
    for i in 0..m {
        for j in 0..n {
            let mut want: f64 = if accumulate { c0[i * n + j].into() } else { 0.0 };
            for p in 0..k {
                let av: f64 = a[(i as isize * a_rs + p as isize * a_cs) as usize].into();
                let bv: f64 = b[(p as isize * b_rs + j as isize * b_cs) as usize].into();
                want += av * bv;
            }
            let got: f64 = c[i * n + j].into();
            assert!(
                (got - want).abs() <= tol * (1.0 + want.abs()) * (k as f64).sqrt().max(1.0),
                "{level} {m}x{k}·{k}x{n} ta={ta} tb={tb} acc={accumulate} threads={threads}: c[{i},{j}] = {got}, want {want}"
            );
        }
    }
}

#[test]
fn blocked_shapes_match_the_naive_product_at_every_level() {
    // depths past KC, rows past MC, columns past one panel, and edge tiles everywhere
    for level in levels() {
        for &(m, n, k) in &[(1, 1, 1), (7, 17, 3), (200, 40, 300), (13, 70, 513), (385, 33, 64)] {
            for threads in [1, 2] {
                check::<f32>(level, m, n, k, false, false, false, threads, 1e-6);
                check::<f64>(level, m, n, k, true, true, true, threads, 1e-14);
            }
        }
    }
}

#[test]
fn column_major_destination_matches_row_major() {
    // a transposed destination takes the other orientation's edge stores (and, for m < n or
    // m > n, the orientation choice sees the destination's strides)
    for level in levels() {
        for &(m, n, k) in &[(16, 70, 256), (70, 16, 256), (31, 29, 7)] {
            let mut rng = Rng::seed(3);
            let a: Vec<f32> = (0..m * k).map(|_| rng.uniform() as f32).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.uniform() as f32).collect();
            let (va, vb) =
                (View { ptr: a.as_ptr(), rs: k as isize, cs: 1 }, View { ptr: b.as_ptr(), rs: n as isize, cs: 1 });
            let mut row_major = vec![0.0f32; m * n];
            let mut col_major = vec![0.0f32; m * n];
            unsafe {
                gemm(level, m, n, k, row_major.as_mut_ptr(), n as isize, 1, false, va, vb, 1);
                gemm(level, m, n, k, col_major.as_mut_ptr(), 1, m as isize, false, va, vb, 1);
            }
            for i in 0..m {
                for j in 0..n {
                    let (r, c) = (row_major[i * n + j], col_major[j * m + i]);
                    assert!((r - c).abs() <= 1e-5 * (1.0 + r.abs()), "{level} {m}x{k}x{n} [{i},{j}]: {r} vs {c}");
                }
            }
        }
    }
}

#[test]
fn zero_depth_overwrites_or_keeps() {
    for level in levels() {
        let mut c = vec![f32::NAN; 6];
        let v = View { ptr: std::ptr::null(), rs: 0, cs: 0 };
        unsafe { gemm(level, 2, 3, 0, c.as_mut_ptr(), 3, 1, false, v, v, 1) };
        assert_eq!(c, vec![0.0; 6]);
        let mut c = vec![5.0f32; 6];
        unsafe { gemm(level, 2, 3, 0, c.as_mut_ptr(), 3, 1, true, v, v, 1) };
        assert_eq!(c, vec![5.0; 6]);
    }
}

#[test]
fn overwrite_never_reads_the_destination() {
    for level in levels() {
        let (m, n, k) = (9, 19, 5);
        let a = vec![1.0f32; m * k];
        let b = vec![2.0f32; k * n];
        let mut c = vec![f32::NAN; m * n];
        unsafe {
            gemm(
                level,
                m,
                n,
                k,
                c.as_mut_ptr(),
                n as isize,
                1,
                false,
                View { ptr: a.as_ptr(), rs: k as isize, cs: 1 },
                View { ptr: b.as_ptr(), rs: n as isize, cs: 1 },
                1,
            )
        };
        assert!(c.iter().all(|&v| v == 10.0), "{level}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_shapes_and_layouts(
        m in 1usize..40, n in 1usize..40, k in 1usize..300,
        ta: bool, tb: bool, acc: bool, two_threads: bool,
    ) {
        for level in levels() {
            check::<f64>(level, m, n, k, ta, tb, acc, 1 + two_threads as usize, 1e-14);
            check::<f32>(level, m, n, k, ta, tb, acc, 1 + two_threads as usize, 1e-6);
        }
    }
}

#[test]
fn packing_buffers_are_kept_between_calls() {
    let big = buffer::<f32>(1, 1000);
    f32::return_buffer(1, big);
    assert!(f32::take_buffer(1).capacity() >= 1000, "the returned buffer is the one taken next");
}

#[test]
fn depth_split_products_match_the_naive_product_and_ignore_the_thread_count() {
    // small outputs over long depths are cut into shares of the depth (4 at k = 4·4·KC, 2 at
    // 2·4·KC + a partial block); every layout and both destination modes, against f64
    let k32 = 4 * DEPTH_BLOCKS_PER_SHARE * f32::KC;
    assert_eq!(depth_shares::<f32>(64, 64, k32), 4);
    assert_eq!(depth_shares::<f32>(64, 64, 2 * DEPTH_BLOCKS_PER_SHARE * f32::KC + 37), 2);
    assert_eq!(depth_shares::<f32>(512, 512, k32), 1, "a large output is split over rows, not depth");
    for level in levels() {
        for threads in [1, 2, 3] {
            check::<f32>(level, 13, 21, k32, true, false, true, threads, 1e-6);
            check::<f32>(level, 6, 40, 2 * DEPTH_BLOCKS_PER_SHARE * f32::KC + 37, false, true, false, threads, 1e-6);
            check::<f64>(level, 9, 5, 4 * DEPTH_BLOCKS_PER_SHARE * f64::KC + 3, true, true, true, threads, 1e-14);
        }
        // the shares and the order of their sum depend on the shape only: bit-identical results
        let (m, n, k) = (24, 40, k32 + 100);
        let mut rng = Rng::seed(11);
        let a: Vec<f32> = (0..m * k).map(|_| rng.uniform() as f32 - 0.5).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.uniform() as f32 - 0.5).collect();
        let run = |threads: usize| {
            let mut c = vec![0.0f32; m * n];
            on_threads(threads, level, (m, n, k), &mut c, false, (&a, 1, m as isize), (&b, n as isize, 1));
            c.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(2), "{level}: 1 vs 2 threads");
        assert_eq!(run(1), run(3), "{level}: 1 vs 3 threads");
    }
}

#[test]
fn row_major_b_under_few_rows_is_read_in_place() {
    // the per-mode products of the spectral mixing (2B rows · a row-major I × 2O weight block):
    // full panels of B are streamed from its rows, a partial last panel is packed; depths past
    // KC, both destination modes, 1 and 2 threads
    let row_major = |rs| View { ptr: std::ptr::null::<f32>(), rs, cs: 1 };
    for level in levels() {
        let mr = f32::kernel(level).mr;
        assert!(reads_b_in_place(16, row_major(512), mr));
        assert!(!reads_b_in_place(IN_PLACE_B_TILES * mr + 1, row_major(512), mr), "{level}: many rows pack B");
        assert!(!reads_b_in_place(16, View { ptr: std::ptr::null::<f32>(), rs: 1, cs: 512 }, mr));
        for &(m, n, k) in &[(16, 512, 256), (16, 517, 300), (24, 40, 600), (5, 33, 9)] {
            // the orientation that reads B in place is the one `blocked` keeps (where it applies)
            let (a, b) = (View { ptr: std::ptr::null::<f32>(), rs: k as isize, cs: 1 }, row_major(n as isize));
            let shape = (mr, f32::kernel(level).nr);
            let transpose = |v: View<f32>| View { ptr: v.ptr, rs: v.cs, cs: v.rs };
            if reads_b_in_place(m, b, mr) {
                assert!(
                    overhead((m, n, k), a, b, 1, shape)
                        <= overhead((n, m, k), transpose(b), transpose(a), n as isize, shape)
                );
            }
            for threads in [1, 2] {
                check::<f32>(level, m, n, k, false, false, true, threads, 1e-6);
                check::<f64>(level, m, n, k, true, false, false, threads, 1e-14);
            }
        }
    }
}
