//! The real ↔ half-length complex steps around the complex FFT of a tile, and the (de)interleaving
//! of complex rows, all in chunks of [`V`] lanes held in local arrays so they vectorise (plain
//! loops, no closures: a closure would not inherit the caller's `target_feature`).

use spectrans_tensor::Float;

use super::butterflies::{load, V};

/// Copies `t` values of `src` to `dst`: in `V`-chunks the compiler inlines, then the rest.
#[inline(always)]
pub(super) fn copy_lanes<F: Float>(src: &[F], dst: &mut [F], t: usize) {
    let full = t / V * V;
    for q in (0..full).step_by(V) {
        dst[q..q + V].copy_from_slice(&load(src, q));
    }
    dst[full..t].copy_from_slice(&src[full..t]);
}

/// Where the forward transform writes one spectrum row of a tile (`t` lanes).
pub(super) enum RowSink<'a, F> {
    /// Interleaved (re, im) pairs.
    Pairs(&'a mut [F]),
    /// Separate real and imaginary rows.
    Split(&'a mut [F], &'a mut [F]),
}

impl<F: Float> RowSink<'_, F> {
    /// Writes lanes q..q+V of (re, im) — those below `t`.
    #[inline(always)]
    pub(super) fn put(&mut self, q: usize, t: usize, re: &[F; V], im: &[F; V]) {
        let n = V.min(t - q);
        match self {
            RowSink::Pairs(out) if n == V => {
                // straight into the output through a fixed-size view: a shuffle, no stack round trip
                let (pairs, _) = out[2 * q..2 * (q + V)].as_chunks_mut::<2>();
                for (l, pair) in pairs.iter_mut().enumerate() {
                    *pair = [re[l], im[l]];
                }
            }
            RowSink::Pairs(out) => {
                for l in 0..n {
                    out[2 * (q + l)] = re[l];
                    out[2 * (q + l) + 1] = im[l];
                }
            }
            RowSink::Split(r, i) if n == V => {
                r[q..q + V].copy_from_slice(re);
                i[q..q + V].copy_from_slice(im);
            }
            RowSink::Split(r, i) => {
                r[q..q + n].copy_from_slice(&re[..n]);
                i[q..q + n].copy_from_slice(&im[..n]);
            }
        }
    }

    /// Writes zeros to the whole row.
    pub(super) fn fill_zero(&mut self) {
        match self {
            RowSink::Pairs(out) => out.fill(F::zero()),
            RowSink::Split(r, i) => {
                r.fill(F::zero());
                i.fill(F::zero());
            }
        }
    }
}

/// The real bin X_0 = Re Z_0 + Im Z_0 (`sign` 1) or X_m = Re Z_0 − Im Z_0 (`sign` −1) of row 0
/// of a tile (`w` lanes), times `scale`, written to `out` (`t` lanes).
#[inline(always)]
pub(super) fn edge_row<F: Float>((zr, zi): (&[F], &[F]), sign: F, scale: F, out: &mut RowSink<'_, F>, t: usize) {
    for q in (0..t).step_by(V) {
        let (a, b) = (load(zr, q), load(zi, q));
        let mut re = [F::zero(); V];
        for l in 0..V {
            re[l] = (a[l] + sign * b[l]) * scale;
        }
        out.put(q, t, &re, &[F::zero(); V]);
    }
}

/// Reads `t` lanes of a spectrum row held as separate real and imaginary rows into the planes,
/// times `scale`; `keep_im` false writes 0 to the imaginary plane.
#[inline(always)]
pub(super) fn copy_split<F: Float>(
    (sr, si): (&[F], &[F]),
    scale: F,
    keep_im: bool,
    re: &mut [F],
    im: &mut [F],
    t: usize,
) {
    for (r, &v) in re[..t].iter_mut().zip(&sr[..t]) {
        *r = v * scale;
    }
    if keep_im {
        for (r, &v) in im[..t].iter_mut().zip(&si[..t]) {
            *r = v * scale;
        }
    } else {
        im[..t].fill(F::zero());
    }
}

/// Reads `t` interleaved (re, im) pairs of `src` into the planes, times `scale`; `keep_im`
/// false writes 0 to the imaginary plane. Lanes `t..` of the planes are left as they are.
#[inline(always)]
pub(super) fn deinterleave<F: Float>(src: &[F], scale: F, keep_im: bool, re: &mut [F], im: &mut [F], t: usize) {
    let full = t / V * V;
    for q in (0..full).step_by(V) {
        let mut pairs = [[F::zero(); 2]; V];
        pairs.as_flattened_mut().copy_from_slice(&src[2 * q..2 * q + 2 * V]);
        let (mut r, mut i) = ([F::zero(); V], [F::zero(); V]);
        for l in 0..V {
            r[l] = pairs[l][0] * scale;
            i[l] = if keep_im { pairs[l][1] * scale } else { F::zero() };
        }
        re[q..q + V].copy_from_slice(&r);
        im[q..q + V].copy_from_slice(&i);
    }
    for l in full..t {
        re[l] = src[2 * l] * scale;
        im[l] = if keep_im { src[2 * l + 1] * scale } else { F::zero() };
    }
}

/// Forward split of row k (0 < k < m) of a tile, written to `out` (`t` lanes): with
/// a = Z_k, b = Z_{m−k} (rows of `w` lanes) and (c, s) = e^{−2πik/n},
/// X_k = mid · (½(a + conj b) − ½i·(c + is)(a − conj b)).
#[inline(always)]
pub(super) fn forward_row<F: Float>(
    (ar, ai): (&[F], &[F]),
    (br, bi): (&[F], &[F]),
    (c, s): (F, F),
    mid: F,
    out: &mut RowSink<'_, F>,
    t: usize,
) {
    let half = F::of(0.5) * mid;
    let (c, s) = (c * half, s * half);
    for q in (0..t).step_by(V) {
        let (zr, zi, yr, yi) = (load(ar, q), load(ai, q), load(br, q), load(bi, q));
        let (mut xr, mut xi) = ([F::zero(); V], [F::zero(); V]);
        for l in 0..V {
            // E = ½(a + conj b), O = (a − conj b)/(2i); X = E + (c + is)·O
            let (er, ei) = (zr[l] + yr[l], zi[l] - yi[l]);
            let (dr, di) = (zi[l] + yi[l], yr[l] - zr[l]);
            xr[l] = er * half + c * dr - s * di;
            xi[l] = ei * half + c * di + s * dr;
        }
        out.put(q, t, &xr, &xi);
    }
}

/// Inverse merge of row k (0 ≤ k < m): with x = X_k, y = X_{m−k} (rows of `w` lanes) and
/// (c, s) = e^{2πik/n}, Z_k = (x + conj y) + i·(c + is)(x − conj y).
#[inline(always)]
pub(super) fn inverse_row<F: Float>(
    (ar, ai): (&[F], &[F]),
    (br, bi): (&[F], &[F]),
    (c, s): (F, F),
    (zr, zi): (&mut [F], &mut [F]),
    w: usize,
) {
    debug_assert!(w.is_multiple_of(V));
    for q in (0..w).step_by(V) {
        let (xr, xi, yr, yi) = (load(ar, q), load(ai, q), load(br, q), load(bi, q));
        let (mut or, mut oi) = ([F::zero(); V], [F::zero(); V]);
        for l in 0..V {
            let (er, ei) = (xr[l] + yr[l], xi[l] - yi[l]);
            let (dr, di) = (xr[l] - yr[l], xi[l] + yi[l]);
            let (pr, pi) = (c * dr - s * di, c * di + s * dr);
            or[l] = er - pi;
            oi[l] = ei + pr;
        }
        zr[q..q + V].copy_from_slice(&or);
        zi[q..q + V].copy_from_slice(&oi);
    }
}
