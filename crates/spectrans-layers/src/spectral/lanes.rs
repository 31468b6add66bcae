//! Shared plumbing of the fused spectral ops: memory layouts of (batch, length, channel) signals
//! and the gather/scatter of channel tiles, so FFTs run on contiguous rows without a full
//! transpose of the tensor; and the one parallel driver over those tiles ([`Layout::par_tiles`],
//! [`Layout::par_channel_tiles`]) that every fused spectral op runs its per-tile work through.

use rayon::prelude::*;

/// How a batch of multi-channel signals of length N sits in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub batch: usize,
    pub len: usize,
    pub channels: usize,
    pub batch_stride: usize,
    pub len_stride: usize,
    pub channel_stride: usize,
}

impl Layout {
    /// (B, N, C) — the FNO block layout.
    pub fn channels_last(batch: usize, len: usize, channels: usize) -> Self {
        Layout { batch, len, channels, batch_stride: len * channels, len_stride: channels, channel_stride: 1 }
    }

    /// (B, C, N) — spectrans' `SpectralConv1d` layout.
    pub fn channels_first(batch: usize, channels: usize, len: usize) -> Self {
        Layout { batch, len, channels, batch_stride: channels * len, len_stride: 1, channel_stride: len }
    }

    /// The same layout with another channel count.
    pub fn with_channels(self, channels: usize) -> Self {
        if self.channel_stride == 1 {
            Layout::channels_last(self.batch, self.len, channels)
        } else {
            Layout::channels_first(self.batch, channels, self.len)
        }
    }

    /// The tensor shape of this layout.
    pub fn shape(&self) -> Vec<usize> {
        if self.channel_stride == 1 {
            vec![self.batch, self.len, self.channels]
        } else {
            vec![self.batch, self.channels, self.len]
        }
    }
}

/// Channels handled together by one task: one cache line of f32 per length step.
pub(crate) const TILE: usize = 16;

/// Positions moved per block by [`gather_tile_as`] and [`scatter_tile_as`]: the tile's lanes lie
/// `row_len` apart (often a power of two, an FFT length, so that they alias in the same L1 sets),
/// so each lane's run of a block is written (or read) whole before the next lane's, like a
/// blocked transpose.
const BLOCK: usize = 16;

/// One task of [`Layout::par_tiles`]: channels `c0..c0 + width` of batch item `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tile {
    pub b: usize,
    pub c0: usize,
    pub width: usize,
}

impl Layout {
    /// Runs `body` once per (batch item, tile of up to [`TILE`] channels), in parallel, each
    /// worker with its own state from `init` (FFT buffers and scratch). Each tile owns its
    /// lanes, so a body that writes only its own lanes gives results independent of timing.
    pub fn par_tiles<S>(&self, init: impl Fn() -> S + Sync + Send, body: impl Fn(&mut S, Tile) + Sync + Send) {
        let (batch, channels) = (self.batch, self.channels);
        let tiles = channels.div_ceil(TILE);
        (0..batch * tiles).into_par_iter().for_each_init(init, |state, task| {
            let c0 = (task % tiles) * TILE;
            body(state, Tile { b: task / tiles, c0, width: TILE.min(channels - c0) })
        });
    }

    /// [`Self::par_tiles`] over channel tiles only: one task handles a tile for every batch item
    /// (for reductions over the batch, such as weight gradients). `body` gets `(c0, width)`.
    pub fn par_channel_tiles<S>(
        &self,
        init: impl Fn() -> S + Sync + Send,
        body: impl Fn(&mut S, usize, usize) + Sync + Send,
    ) {
        let channels = self.channels;
        (0..channels.div_ceil(TILE)).into_par_iter().for_each_init(init, |state, t| {
            let c0 = t * TILE;
            body(state, c0, TILE.min(channels - c0))
        });
    }
}

/// A raw pointer that tasks may share because each writes a disjoint set of indices.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut<T>(pub *mut T);
unsafe impl<T: Send> Send for SharedMut<T> {}
unsafe impl<T: Send> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    /// The pointer to element `i` (a method, so closures capture the whole `Sync` wrapper).
    pub fn at(&self, i: usize) -> *mut T {
        // SAFETY: callers stay inside the allocation the pointer came from.
        unsafe { self.0.add(i) }
    }
}

/// Copies channels `c0..c0 + width` of batch item `b` into the rows of `tile` (row `l` starts at
/// `l * row_len`; entries `lay.len..row_len` of each row are zeroed: zero padding).
pub(crate) fn gather_tile<T: Copy + Default>(
    x: &[T],
    lay: &Layout,
    b: usize,
    c0: usize,
    width: usize,
    tile: &mut [T],
    row_len: usize,
) {
    gather_tile_as(x, lay, b, c0, width, tile, row_len, |v| v)
}

/// [`gather_tile`] converting each element with `conv` (e.g. f32 → f64).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gather_tile_as<S: Copy, T: Copy + Default>(
    x: &[S],
    lay: &Layout,
    b: usize,
    c0: usize,
    width: usize,
    tile: &mut [T],
    row_len: usize,
    conv: impl Fn(S) -> T,
) {
    let n = lay.len;
    let base = b * lay.batch_stride + c0 * lay.channel_stride;
    for j0 in (0..n).step_by(BLOCK) {
        let j1 = (j0 + BLOCK).min(n);
        for l in 0..width {
            let src = base + l * lay.channel_stride;
            for (j, t) in (j0..j1).zip(&mut tile[l * row_len + j0..l * row_len + j1]) {
                *t = conv(x[src + j * lay.len_stride]);
            }
        }
    }
    if row_len > n {
        for l in 0..width {
            tile[l * row_len + n..(l + 1) * row_len].iter_mut().for_each(|v| *v = T::default());
        }
    }
}

/// Writes `scale ×` the first `lay.len` entries of each tile row back to channels `c0..c0 + width`
/// of batch item `b`.
///
/// # Safety
/// `dst` must point to a buffer laid out as `lay`, and no other task may write these lanes.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn scatter_tile<T: Copy + std::ops::Mul<Output = T>>(
    dst: &SharedMut<T>,
    lay: &Layout,
    b: usize,
    c0: usize,
    width: usize,
    tile: &[T],
    row_len: usize,
    scale: T,
) {
    scatter_tile_as(dst, lay, b, c0, width, tile, row_len, |v| v * scale)
}

/// [`scatter_tile`] writing `conv(value)` (e.g. scale and convert f64 → f32).
///
/// # Safety
/// As [`scatter_tile`].
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn scatter_tile_as<S: Copy, T>(
    dst: &SharedMut<T>,
    lay: &Layout,
    b: usize,
    c0: usize,
    width: usize,
    tile: &[S],
    row_len: usize,
    conv: impl Fn(S) -> T,
) {
    let base = b * lay.batch_stride + c0 * lay.channel_stride;
    for j0 in (0..lay.len).step_by(BLOCK) {
        let j1 = (j0 + BLOCK).min(lay.len);
        for l in 0..width {
            let d = base + l * lay.channel_stride;
            for (j, &v) in (j0..j1).zip(&tile[l * row_len + j0..l * row_len + j1]) {
                // SAFETY: inside `dst` by the caller's contract.
                unsafe { *dst.at(d + j * lay.len_stride) = conv(v) };
            }
        }
    }
}
