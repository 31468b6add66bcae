//! Element-wise loops, split across rayon's threads when the work is large enough to pay for it.
//! Every split is by fixed contiguous chunks, so results never depend on thread timing.

use rayon::prelude::*;

/// Below this many elements a loop runs on the calling thread.
pub const PAR_THRESHOLD: usize = 1 << 15;
const CHUNK: usize = 1 << 13;

/// `out[i] = f(a[i])`.
pub fn map<T: Copy + Send + Sync, U: Send + Default + Copy>(a: &[T], f: impl Fn(T) -> U + Sync) -> Vec<U> {
    let mut out = vec![U::default(); a.len()];
    if a.len() < PAR_THRESHOLD {
        out.iter_mut().zip(a).for_each(|(o, &x)| *o = f(x));
    } else {
        out.par_chunks_mut(CHUNK)
            .zip(a.par_chunks(CHUNK))
            .for_each(|(o, x)| o.iter_mut().zip(x).for_each(|(o, &x)| *o = f(x)));
    }
    out
}

/// `out[i] = f(a[i], b[i])` for equal-length slices.
pub fn zip<T: Copy + Send + Sync, U: Send + Default + Copy>(a: &[T], b: &[T], f: impl Fn(T, T) -> U + Sync) -> Vec<U> {
    debug_assert_eq!(a.len(), b.len());
    let mut out = vec![U::default(); a.len()];
    if a.len() < PAR_THRESHOLD {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = f(x, y);
        }
    } else {
        out.par_chunks_mut(CHUNK).zip(a.par_chunks(CHUNK)).zip(b.par_chunks(CHUNK)).for_each(|((o, x), y)| {
            for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
                *o = f(x, y);
            }
        });
    }
    out
}

/// `out[i] = f(a[i], b[i], c[i])` for equal-length slices.
pub fn zip3<T: Copy + Send + Sync, U: Send + Default + Copy>(
    a: &[T],
    b: &[T],
    c: &[T],
    f: impl Fn(T, T, T) -> U + Sync,
) -> Vec<U> {
    let mut out = vec![U::default(); a.len()];
    if a.len() < PAR_THRESHOLD {
        for (((o, &x), &y), &z) in out.iter_mut().zip(a).zip(b).zip(c) {
            *o = f(x, y, z);
        }
    } else {
        out.par_chunks_mut(CHUNK).zip(a.par_chunks(CHUNK)).zip(b.par_chunks(CHUNK)).zip(c.par_chunks(CHUNK)).for_each(
            |(((o, x), y), z)| {
                for (((o, &x), &y), &z) in o.iter_mut().zip(x).zip(y).zip(z) {
                    *o = f(x, y, z);
                }
            },
        );
    }
    out
}

/// Runs `f(row_index, row)` over the rows of length `row_len` of `data`, in parallel when large.
pub fn rows_mut<T: Send>(data: &mut [T], row_len: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    if row_len == 0 {
        return;
    }
    if data.len() < PAR_THRESHOLD {
        data.chunks_mut(row_len).enumerate().for_each(|(i, r)| f(i, r));
    } else {
        data.par_chunks_mut(row_len).enumerate().for_each(|(i, r)| f(i, r));
    }
}
