//! One Stockham pass of radix 2, 3, 4 or 5 over a tile of lanes held as split (re, im) planes.
//!
//! A pass of radix p on a sub-transform of length L = p·`sub` with stride `s` reads, for every
//! j < `sub` and r < p, the block of rows (j + r·sub)·s .. +s, takes the p-point DFT across r,
//! multiplies output k by the twiddle ω_L^{jk} and writes it to the rows (p·j + k)·s .. +s
//! (decimation in frequency, self-sorting). Each block is `blk` = s·W contiguous values (W lanes
//! per row), so the inner loops are unit-stride over lanes and vectorise.
//!
//! `INV` selects the sign of the exponent: forward e^{−2πi/p}, inverse e^{+2πi/p}.

use spectrans_tensor::Float;

/// Lanes processed per step: the loads go to local arrays first, so the compiler vectorises the
/// arithmetic without having to prove that input and output planes do not overlap.
pub(super) const V: usize = 16;

/// `V` values of `x` from `q`.
#[inline(always)]
pub(super) fn load<F: Copy>(x: &[F], q: usize) -> [F; V] {
    let mut v = [x[q]; V];
    v.copy_from_slice(&x[q..q + V]);
    v
}

/// Where a pass reads its blocks: the planes of a tile, or (first pass) the input rows.
pub(super) trait Input<F> {
    /// The real and imaginary parts of block `i` (`blk` values each).
    fn block(&self, i: usize) -> (&[F], &[F]);
}

/// Blocks of `blk` values of split (re, im) planes.
pub(super) struct PlaneInput<'a, F> {
    pub(super) re: &'a [F],
    pub(super) im: &'a [F],
    pub(super) blk: usize,
}

impl<F> Input<F> for PlaneInput<'_, F> {
    #[inline(always)]
    fn block(&self, i: usize) -> (&[F], &[F]) {
        (&self.re[i * self.blk..][..self.blk], &self.im[i * self.blk..][..self.blk])
    }
}

/// The packed real input of a full tile read in place (first pass, stride 1): block i is
/// z_i = x_{2i} + i·x_{2i+1}, rows 2i and 2i+1 of the source, `w` lanes from `base`.
pub(super) struct RowInput<'a, F> {
    pub(super) src: &'a [F],
    pub(super) base: usize,
    pub(super) row_stride: usize,
    pub(super) w: usize,
}

impl<F> Input<F> for RowInput<'_, F> {
    #[inline(always)]
    fn block(&self, i: usize) -> (&[F], &[F]) {
        let at = self.base + 2 * i * self.row_stride;
        (&self.src[at..][..self.w], &self.src[at + self.row_stride..][..self.w])
    }
}

/// The input and the output planes of one pass.
pub(super) struct Planes<'a, F, I> {
    pub(super) x: &'a I,
    pub(super) yr: &'a mut [F],
    pub(super) yi: &'a mut [F],
}

/// Multiplies (re, im) by (wr, wi).
#[inline(always)]
fn cmul<F: Float>(re: F, im: F, wr: F, wi: F) -> (F, F) {
    (re * wr - im * wi, re * wi + im * wr)
}

/// i·(re, im) for the inverse direction, −i·(re, im) for the forward one.
#[inline(always)]
fn rot<F: Float, const INV: bool>(re: F, im: F) -> (F, F) {
    if INV {
        (-im, re)
    } else {
        (im, -re)
    }
}

/// Splits the `p·blk` output rows of butterfly group `j` into `P` blocks.
#[inline(always)]
fn out_blocks<F, const P: usize>(y: &mut [F], j: usize, blk: usize) -> [&mut [F]; P] {
    let mut rest = &mut y[P * j * blk..(P * j + P) * blk];
    std::array::from_fn(|_| {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(blk);
        rest = tail;
        head
    })
}

/// The `P` input blocks of butterfly group `j`: real parts, imaginary parts.
#[inline(always)]
#[allow(clippy::type_complexity)]
fn in_blocks<F, I: Input<F>, const P: usize>(x: &I, j: usize, sub: usize) -> ([&[F]; P], [&[F]; P]) {
    let blocks: [(&[F], &[F]); P] = std::array::from_fn(|r| x.block(j + r * sub));
    (std::array::from_fn(|r| blocks[r].0), std::array::from_fn(|r| blocks[r].1))
}

/// Writes `V` values to `y` from `q`.
#[inline(always)]
fn store<F: Copy>(y: &mut [F], q: usize, v: &[F; V]) {
    y[q..q + V].copy_from_slice(v);
}

/// A radix-2 pass.
#[inline(always)]
pub(super) fn radix2<F: Float, I: Input<F>>(p: Planes<'_, F, I>, sub: usize, blk: usize, tw: (&[F], &[F])) {
    for j in 0..sub {
        let ([x0r, x1r], [x0i, x1i]) = in_blocks::<F, I, 2>(p.x, j, sub);
        let [y0r, y1r] = out_blocks::<F, 2>(p.yr, j, blk);
        let [y0i, y1i] = out_blocks::<F, 2>(p.yi, j, blk);
        let (wr, wi) = (tw.0[j], tw.1[j]);
        for q in (0..blk).step_by(V) {
            let (a0r, a0i, a1r, a1i) = (load(x0r, q), load(x0i, q), load(x1r, q), load(x1i, q));
            let mut o = [[F::zero(); V]; 4];
            for l in 0..V {
                o[0][l] = a0r[l] + a1r[l];
                o[1][l] = a0i[l] + a1i[l];
                (o[2][l], o[3][l]) = cmul(a0r[l] - a1r[l], a0i[l] - a1i[l], wr, wi);
            }
            store(y0r, q, &o[0]);
            store(y0i, q, &o[1]);
            store(y1r, q, &o[2]);
            store(y1i, q, &o[3]);
        }
    }
}

/// A radix-4 pass.
#[inline(always)]
pub(super) fn radix4<F: Float, I: Input<F>, const INV: bool>(
    p: Planes<'_, F, I>,
    sub: usize,
    blk: usize,
    tw: (&[F], &[F]),
) {
    for j in 0..sub {
        let ([x0r, x1r, x2r, x3r], [x0i, x1i, x2i, x3i]) = in_blocks::<F, I, 4>(p.x, j, sub);
        let [y0r, y1r, y2r, y3r] = out_blocks::<F, 4>(p.yr, j, blk);
        let [y0i, y1i, y2i, y3i] = out_blocks::<F, 4>(p.yi, j, blk);
        let w = &tw.0[3 * j..3 * j + 3];
        let v = &tw.1[3 * j..3 * j + 3];
        for q in (0..blk).step_by(V) {
            let a = [load(x0r, q), load(x0i, q), load(x1r, q), load(x1i, q)];
            let b = [load(x2r, q), load(x2i, q), load(x3r, q), load(x3i, q)];
            let mut o = [[F::zero(); V]; 8];
            for l in 0..V {
                let (t0r, t0i) = (a[0][l] + b[0][l], a[1][l] + b[1][l]);
                let (t1r, t1i) = (a[0][l] - b[0][l], a[1][l] - b[1][l]);
                let (t2r, t2i) = (a[2][l] + b[2][l], a[3][l] + b[3][l]);
                let (t3r, t3i) = rot::<F, INV>(a[2][l] - b[2][l], a[3][l] - b[3][l]);
                o[0][l] = t0r + t2r;
                o[1][l] = t0i + t2i;
                (o[2][l], o[3][l]) = cmul(t1r + t3r, t1i + t3i, w[0], v[0]);
                (o[4][l], o[5][l]) = cmul(t0r - t2r, t0i - t2i, w[1], v[1]);
                (o[6][l], o[7][l]) = cmul(t1r - t3r, t1i - t3i, w[2], v[2]);
            }
            for (y, o) in [&mut *y0r, &mut *y0i, &mut *y1r, &mut *y1i, &mut *y2r, &mut *y2i, &mut *y3r, &mut *y3i]
                .into_iter()
                .zip(&o)
            {
                store(y, q, o);
            }
        }
    }
}

/// A radix-3 pass.
#[inline(always)]
pub(super) fn radix3<F: Float, I: Input<F>, const INV: bool>(
    p: Planes<'_, F, I>,
    sub: usize,
    blk: usize,
    tw: (&[F], &[F]),
) {
    let half = F::of(0.5);
    let s = F::of(3f64.sqrt() / 2.0);
    for j in 0..sub {
        let ([x0r, x1r, x2r], [x0i, x1i, x2i]) = in_blocks::<F, I, 3>(p.x, j, sub);
        let [y0r, y1r, y2r] = out_blocks::<F, 3>(p.yr, j, blk);
        let [y0i, y1i, y2i] = out_blocks::<F, 3>(p.yi, j, blk);
        let w = &tw.0[2 * j..2 * j + 2];
        let v = &tw.1[2 * j..2 * j + 2];
        for q in (0..blk).step_by(V) {
            let a = [load(x0r, q), load(x0i, q), load(x1r, q), load(x1i, q), load(x2r, q), load(x2i, q)];
            let mut o = [[F::zero(); V]; 6];
            for l in 0..V {
                let (sr, si) = (a[2][l] + a[4][l], a[3][l] + a[5][l]);
                let (tr, ti) = (a[0][l] - half * sr, a[1][l] - half * si);
                let (ur, ui) = rot::<F, INV>(s * (a[2][l] - a[4][l]), s * (a[3][l] - a[5][l]));
                o[0][l] = a[0][l] + sr;
                o[1][l] = a[1][l] + si;
                (o[2][l], o[3][l]) = cmul(tr + ur, ti + ui, w[0], v[0]);
                (o[4][l], o[5][l]) = cmul(tr - ur, ti - ui, w[1], v[1]);
            }
            for (y, o) in [&mut *y0r, &mut *y0i, &mut *y1r, &mut *y1i, &mut *y2r, &mut *y2i].into_iter().zip(&o) {
                store(y, q, o);
            }
        }
    }
}

/// A radix-5 pass.
#[inline(always)]
pub(super) fn radix5<F: Float, I: Input<F>, const INV: bool>(
    p: Planes<'_, F, I>,
    sub: usize,
    blk: usize,
    tw: (&[F], &[F]),
) {
    let tau = std::f64::consts::TAU;
    let (c1, c2) = (F::of((tau / 5.0).cos()), F::of((2.0 * tau / 5.0).cos()));
    let (s1, s2) = (F::of((tau / 5.0).sin()), F::of((2.0 * tau / 5.0).sin()));
    for j in 0..sub {
        let ([x0r, x1r, x2r, x3r, x4r], [x0i, x1i, x2i, x3i, x4i]) = in_blocks::<F, I, 5>(p.x, j, sub);
        let [y0r, y1r, y2r, y3r, y4r] = out_blocks::<F, 5>(p.yr, j, blk);
        let [y0i, y1i, y2i, y3i, y4i] = out_blocks::<F, 5>(p.yi, j, blk);
        let w = &tw.0[4 * j..4 * j + 4];
        let v = &tw.1[4 * j..4 * j + 4];
        for q in (0..blk).step_by(V) {
            let a = [load(x0r, q), load(x0i, q), load(x1r, q), load(x1i, q), load(x2r, q)];
            let b = [load(x2i, q), load(x3r, q), load(x3i, q), load(x4r, q), load(x4i, q)];
            let mut o = [[F::zero(); V]; 10];
            for l in 0..V {
                let (a0r, a0i) = (a[0][l], a[1][l]);
                let (s14r, s14i) = (a[2][l] + b[3][l], a[3][l] + b[4][l]);
                let (d14r, d14i) = (a[2][l] - b[3][l], a[3][l] - b[4][l]);
                let (s23r, s23i) = (a[4][l] + b[1][l], b[0][l] + b[2][l]);
                let (d23r, d23i) = (a[4][l] - b[1][l], b[0][l] - b[2][l]);
                let (t1r, t1i) = (a0r + c1 * s14r + c2 * s23r, a0i + c1 * s14i + c2 * s23i);
                let (t2r, t2i) = (a0r + c2 * s14r + c1 * s23r, a0i + c2 * s14i + c1 * s23i);
                let (u1r, u1i) = rot::<F, INV>(s1 * d14r + s2 * d23r, s1 * d14i + s2 * d23i);
                let (u2r, u2i) = rot::<F, INV>(s2 * d14r - s1 * d23r, s2 * d14i - s1 * d23i);
                o[0][l] = a0r + s14r + s23r;
                o[1][l] = a0i + s14i + s23i;
                (o[2][l], o[3][l]) = cmul(t1r + u1r, t1i + u1i, w[0], v[0]);
                (o[4][l], o[5][l]) = cmul(t2r + u2r, t2i + u2i, w[1], v[1]);
                (o[6][l], o[7][l]) = cmul(t2r - u2r, t2i - u2i, w[2], v[2]);
                (o[8][l], o[9][l]) = cmul(t1r - u1r, t1i - u1i, w[3], v[3]);
            }
            for (y, o) in [
                &mut *y0r, &mut *y0i, &mut *y1r, &mut *y1i, &mut *y2r, &mut *y2i, &mut *y3r, &mut *y3i, &mut *y4r,
                &mut *y4i,
            ]
            .into_iter()
            .zip(&o)
            {
                store(y, q, o);
            }
        }
    }
}
