//! The lane driver shared by every transform: applies a 1-D kernel to each lane (1-D signal)
//! along one axis of a contiguous row-major buffer, in parallel, without per-lane allocation.
//!
//! A buffer of shape (outer, len, inner) has `outer · inner` lanes. When `inner == 1` the lanes
//! are contiguous and are handed over one by one. Otherwise (a middle axis, e.g. the sequence
//! axis N of an FNO activation (B, N, D)) a tile of up to [`TILE`] neighbouring lanes (fewer for
//! very long lanes, to stay in cache) is gathered
//! into a contiguous scratch, transformed, and scattered back: a tile transpose that reads and
//! writes whole runs of `TILE` consecutive elements, instead of a full transpose copy of the
//! tensor. Work is split into contiguous groups of lanes or tiles, one scratch per group; each
//! output element is written by exactly one lane computation, so results never depend on timing.

use num_complex::Complex;
use rayon::prelude::*;

/// Lanes gathered per tile for a middle axis (16 `f32` = one 64-byte cache line per row read).
pub(crate) const TILE: usize = 16;
/// Fewest lanes per tile (16 bytes of `f32` per row read).
const MIN_TILE: usize = 4;
/// Lane elements per tile above which the tile narrows.
const TILE_ELEMENTS: usize = 1 << 15;
/// Below this many elements touched, a transform runs on the calling thread.
pub(crate) const PAR_MIN_ELEMENTS: usize = 1 << 14;

/// The (outer, len, inner) split of `shape` around `axis`.
pub(crate) fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

/// A raw pointer that may be shared between the tasks writing disjoint parts of one buffer.
#[derive(Clone, Copy)]
pub(crate) struct SharedOut<B>(pub(crate) *mut B);
// SAFETY: tasks only write disjoint index sets through it (each output element belongs to one tile).
unsafe impl<B: Send> Send for SharedOut<B> {}
unsafe impl<B: Send> Sync for SharedOut<B> {}
impl<B> SharedOut<B> {
    pub(crate) fn get(self) -> *mut B {
        self.0
    }
}

/// Splits `count` work items into contiguous groups: one per task of the thread pool (a few per
/// thread for balance), or a single group when the work is small.
pub(crate) fn group_size(count: usize, elements: usize) -> usize {
    let threads = rayon::current_num_threads();
    if elements < PAR_MIN_ELEMENTS || threads <= 1 {
        return count.max(1);
    }
    count.div_ceil(threads * 4).max(1)
}

/// Applies `f(scratch, lane_in, lane_out)` to every lane of `src` (shape (outer, len_in, inner))
/// and returns the buffer of shape (outer, len_out, inner). `lane_in` is a private copy the
/// kernel may overwrite; `lane_out` must be fully written. `init` makes one kernel scratch per
/// task.
#[allow(clippy::too_many_arguments)]
pub(crate) fn map_lanes<A, B, S>(
    src: &[A],
    outer: usize,
    inner: usize,
    len_in: usize,
    len_out: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &mut [A], &mut [B]) + Sync,
) -> Vec<B>
where
    A: Copy + Default + Send + Sync,
    B: Copy + Default + Send + Sync,
{
    debug_assert_eq!(src.len(), outer * len_in * inner);
    let mut dst = vec![B::default(); outer * len_out * inner];
    if dst.is_empty() {
        return dst;
    }
    let elements = src.len() + dst.len();
    if inner == 1 {
        let lanes = outer;
        let per = group_size(lanes, elements);
        let body = |(g, chunk): (usize, &mut [B])| {
            let mut s = init();
            let mut buf = vec![A::default(); len_in];
            for (i, out) in chunk.chunks_mut(len_out).enumerate() {
                let lane = g * per + i;
                buf.copy_from_slice(&src[lane * len_in..(lane + 1) * len_in]);
                f(&mut s, &mut buf, out);
            }
        };
        if per >= lanes {
            body((0, &mut dst));
        } else {
            dst.par_chunks_mut(per * len_out).enumerate().for_each(body);
        }
        return dst;
    }
    // Long lanes: fewer per tile, so a tile (in and out) stays within ~256 KB of f32 scratch.
    let tile = (TILE_ELEMENTS / len_in.max(len_out).max(1)).clamp(MIN_TILE, TILE);
    let tiles = inner.div_ceil(tile);
    let tasks = outer * tiles;
    let per = group_size(tasks, elements);
    let out = SharedOut(dst.as_mut_ptr());
    let body = |g: usize| {
        let mut s = init();
        let mut in_tile = vec![A::default(); tile * len_in];
        let mut out_tile = vec![B::default(); tile * len_out];
        for task in g * per..((g + 1) * per).min(tasks) {
            let (o, d0) = (task / tiles, (task % tiles) * tile);
            let t = tile.min(inner - d0);
            for j in 0..len_in {
                let row = &src[(o * len_in + j) * inner + d0..][..t];
                for (l, &v) in row.iter().enumerate() {
                    in_tile[l * len_in + j] = v;
                }
            }
            for l in 0..t {
                f(&mut s, &mut in_tile[l * len_in..(l + 1) * len_in], &mut out_tile[l * len_out..(l + 1) * len_out]);
            }
            for k in 0..len_out {
                // SAFETY: row k of tile (o, d0) is `t` elements inside `dst`, written by this task only.
                let row = unsafe { std::slice::from_raw_parts_mut(out.get().add((o * len_out + k) * inner + d0), t) };
                for (l, v) in row.iter_mut().enumerate() {
                    *v = out_tile[l * len_out + k];
                }
            }
        }
    };
    let groups = tasks.div_ceil(per);
    if groups == 1 {
        body(0);
    } else {
        (0..groups).into_par_iter().for_each(body);
    }
    dst
}

/// Views interleaved (re, im) pairs as complex numbers.
pub(crate) fn as_complex<F>(x: &[F]) -> &[Complex<F>] {
    debug_assert!(x.len().is_multiple_of(2));
    // SAFETY: `Complex<F>` is `repr(C)` { re: F, im: F }: same alignment as F, twice the size.
    unsafe { std::slice::from_raw_parts(x.as_ptr() as *const Complex<F>, x.len() / 2) }
}

/// Turns a buffer of complex numbers into the interleaved (re, im) buffer, without copying.
pub(crate) fn complex_into_interleaved<F>(v: Vec<Complex<F>>) -> Vec<F> {
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: `Complex<F>` is `repr(C)` of two F: the allocation of `cap` complex numbers is the
    // allocation of `2·cap` values of F with the same alignment, so the layout is unchanged.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr() as *mut F, v.len() * 2, v.capacity() * 2) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reverses each lane and pads/truncates it: checks the gather/scatter index arithmetic on
    /// both paths (contiguous and tiled), including partial tiles and parallel groups.
    #[test]
    fn lanes_are_gathered_and_scattered_exactly() {
        for &(outer, len_in, inner, len_out) in &[
            (3, 5, 1, 7),
            (2, 4, 3, 2),
            (2, 9, 37, 9),
            (1, 64, 600, 33),
            (700, 40, 1, 40),
            (0, 3, 2, 2),
            (2, 9000, 6, 8999),
        ] {
            let src: Vec<f64> = (0..outer * len_in * inner).map(|i| i as f64).collect();
            let out = map_lanes(
                &src,
                outer,
                inner,
                len_in,
                len_out,
                || (),
                |_, lane, o| {
                    lane.reverse();
                    for (k, v) in o.iter_mut().enumerate() {
                        *v = lane.get(k).copied().unwrap_or(-1.0);
                    }
                },
            );
            assert_eq!(out.len(), outer * len_out * inner);
            for o in 0..outer {
                for k in 0..len_out {
                    for d in 0..inner {
                        let want = if k < len_in { src[(o * len_in + len_in - 1 - k) * inner + d] } else { -1.0 };
                        assert_eq!(out[(o * len_out + k) * inner + d], want, "{outer} {len_in} {inner} {len_out}");
                    }
                }
            }
        }
    }

    #[test]
    fn complex_views_round_trip() {
        let v = vec![1.0f32, 2.0, 3.0, 4.0];
        let c = as_complex(&v);
        assert_eq!(c[1], Complex::new(3.0, 4.0));
        assert_eq!(complex_into_interleaved(c.to_vec()), v);
    }
}
