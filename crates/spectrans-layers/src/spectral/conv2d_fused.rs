//! The fused 2-D spectral convolution: only the kept modes are computed, by truncated DFT
//! matrices applied as GEMMs, with a hand-written backward.
//!
//! On a channels-last grid x (B, H, W, I) with R kept first-axis rows (rows `0..m1` and
//! `H−m1..H`, or only row 0 when H = 1) and `m2` kept second-axis bins:
//! 1. along W, per (b, h): `Z1 (2·m2 × I) = A1 (2·m2 × W) · x_bh (W × I)` — rows (re/im, k2);
//! 2. along H, per b: `X (2R × m2·I) = A2 (2R × 2H) · Z1_b (2H × m2·I)` — a complex DFT written
//!    as a real GEMM on rows (h, re/im);
//! 3. per mode (r, k2) the complex channel mixing `Y = X · W` as four real (B × I)·(I × O) GEMMs;
//! 4. the inverse along H (`A3`, 1/H folded in) and the real c2r inverse along W (`A4`, 1/W and
//!    the one-sided weights 1 at DC/Nyquist, 2 elsewhere folded in; the imaginary parts of the DC
//!    and Nyquist bins get coefficient exactly 0, as torch's irfft ignores them).
//!
//! This is the same linear map as rfft2 → keep the corners → mix → zero-filled irfft2, up to
//! float rounding, at a cost proportional to the kept modes rather than to full transforms; the
//! backward applies the transposed tables. The tables are built once per geometry and cached for
//! the whole process.
//!
//! No FFT fallback for large grids: the forward costs about `4·m2` multiply-adds per input value
//! along W (and `8·m1` per kept column along H), against full-size rfft2/irfft2 plus the copies
//! of the composed path. Measured forward+backward of a whole 2-D FNO layer (B = 20, C = 32,
//! 12 modes, f32, 1 thread, Xeon with AVX-512, example `bench_conv2d`): 43² 112 → 47 ms,
//! 85² 331 → 151 ms, 141² 1292 → 443 ms; the fused path stays ahead as the grid grows, so
//! there is no size at which switching back would pay for these mode counts.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use spectrans_tensor::{Backward, Float, Result, Tensor};

use crate::spectral::lanes::SharedMut;

/// The kept first-axis rows: `0..m1` then `h−m1..h`, or only row 0 when `m1 == 0` (H = 1).
fn kept_rows(h: usize, m1: usize) -> Vec<usize> {
    if m1 == 0 {
        vec![0]
    } else {
        (0..m1).chain(h - m1..h).collect()
    }
}

/// (cos, sin) of 2π·k·n/len, exact at multiples of a quarter turn.
fn cis(k: usize, n: usize, len: usize) -> (f64, f64) {
    let r = (k * n) % len;
    if (4 * r).is_multiple_of(len) {
        return [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)][4 * r / len];
    }
    let a = 2.0 * std::f64::consts::PI * r as f64 / len as f64;
    (a.cos(), a.sin())
}

/// The four DFT tables of one geometry, row-major.
struct Tables<T> {
    /// (2·m2, W): rows (re, k2) = cos, (im, k2) = −sin.
    a1: Vec<T>,
    /// (2R, 2H): rows (re/im, r), columns (h, re/im).
    a2: Vec<T>,
    /// (2H, 2R): rows (h, re/im), columns (re/im, r), times 1/H.
    a3: Vec<T>,
    /// (W, 2·m2): columns (re/im, k2), times c_k2 / W.
    a4: Vec<T>,
}

impl<T: Float> Tables<T> {
    fn new(h: usize, w: usize, m1: usize, m2: usize) -> Self {
        let rows = kept_rows(h, m1);
        let r_n = rows.len();
        let mut a1 = vec![0.0; 2 * m2 * w];
        for k in 0..m2 {
            for n in 0..w {
                let (c, s) = cis(k, n, w);
                a1[k * w + n] = c;
                a1[(m2 + k) * w + n] = -s;
            }
        }
        let (mut a2, mut a3) = (vec![0.0; 4 * r_n * h], vec![0.0; 4 * r_n * h]);
        let inv_h = 1.0 / h as f64;
        for (r, &k1) in rows.iter().enumerate() {
            for p in 0..h {
                let (c, s) = cis(k1, p, h);
                // X = Σ (c − i s)(a + i b) = (c a + s b) + i (c b − s a)
                a2[r * 2 * h + 2 * p] = c;
                a2[r * 2 * h + 2 * p + 1] = s;
                a2[(r_n + r) * 2 * h + 2 * p] = -s;
                a2[(r_n + r) * 2 * h + 2 * p + 1] = c;
                // z = Σ (c + i s)(Yr + i Yi) / H = (c Yr − s Yi) + i (s Yr + c Yi)
                a3[2 * p * 2 * r_n + r] = c * inv_h;
                a3[2 * p * 2 * r_n + r_n + r] = -s * inv_h;
                a3[(2 * p + 1) * 2 * r_n + r] = s * inv_h;
                a3[(2 * p + 1) * 2 * r_n + r_n + r] = c * inv_h;
            }
        }
        let mut a4 = vec![0.0; w * 2 * m2];
        for n in 0..w {
            for k in 0..m2 {
                let edge = k == 0 || 2 * k == w;
                let weight = if edge { 1.0 } else { 2.0 } / w as f64;
                let (c, s) = cis(k, n, w);
                a4[n * 2 * m2 + k] = weight * c;
                a4[n * 2 * m2 + m2 + k] = if edge { 0.0 } else { -weight * s };
            }
        }
        let cast = |v: Vec<f64>| v.into_iter().map(T::of).collect();
        Tables { a1: cast(a1), a2: cast(a2), a3: cast(a3), a4: cast(a4) }
    }
}

type TableKey = (TypeId, usize, usize, usize, usize);

/// The process-wide table cache, one entry per (element type, H, W, m1, m2).
fn tables<T: Float>(h: usize, w: usize, m1: usize, m2: usize) -> Arc<Tables<T>> {
    static CACHE: OnceLock<Mutex<HashMap<TableKey, Arc<dyn Any + Send + Sync>>>> = OnceLock::new();
    let key = (TypeId::of::<T>(), h, w, m1, m2);
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(t) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        if let Ok(t) = t.clone().downcast::<Tables<T>>() {
            return t;
        }
    }
    let t = Arc::new(Tables::<T>::new(h, w, m1, m2));
    cache.lock().unwrap_or_else(|e| e.into_inner()).insert(key, t.clone());
    t
}

/// `out_j (r × p) = A (r × n) · in_j (n × p)` for every contiguous block j, A with strides
/// `a_st`; blocks in parallel (chunks of them per task).
fn table_gemm<T: Float>(a: &[T], a_st: (isize, isize), (r, n, p): (usize, usize, usize), input: &[T], out: &mut [T]) {
    let blocks = out.len() / (r * p).max(1);
    if blocks == 0 || r * p == 0 {
        return;
    }
    if n == 0 {
        out.iter_mut().for_each(|v| *v = T::zero());
        return;
    }
    let threads = rayon::current_num_threads();
    let inner = if blocks >= threads { 1 } else { threads };
    let chunk = blocks.div_ceil(4 * threads).max(1);
    out.par_chunks_mut(chunk * r * p).enumerate().for_each(|(ci, oc)| {
        for (jj, o) in oc.chunks_mut(r * p).enumerate() {
            let j = ci * chunk + jj;
            // SAFETY: block j of `input` is n × p contiguous; `o` is r × p; A is r × n with a_st.
            unsafe {
                T::gemm(
                    r,
                    p,
                    n,
                    o.as_mut_ptr(),
                    p as isize,
                    1,
                    false,
                    a.as_ptr(),
                    a_st.0,
                    a_st.1,
                    input[j * n * p..].as_ptr(),
                    p as isize,
                    1,
                    inner,
                );
            }
        }
    });
}

/// Geometry of one call.
#[derive(Clone, Copy)]
struct Geom {
    b: usize,
    h: usize,
    w: usize,
    i: usize,
    o: usize,
    /// kept rows R
    r: usize,
    m1: usize,
    m2: usize,
}

impl Geom {
    /// Offset of mode (r, k2), real part, in a spectrum (B, 2, R, m2, C), and the batch stride.
    fn spec(&self, c: usize, r: usize, k2: usize) -> (usize, usize) {
        ((r * self.m2 + k2) * c, 2 * self.r * self.m2 * c)
    }
}

/// Packs the per-mode (2I × 2O) blocks [[Re W, Im W], [−Im W, Re W]] for modes (r, k2), r-major.
fn pack<T: Float>(g: &Geom, wp: &[T], wn: Option<&[T]>, (mw1, mw2): (usize, usize)) -> Vec<T> {
    let (i_n, o_n) = (g.i, g.o);
    let blk = 4 * i_n * o_n;
    let mut packed = vec![T::zero(); g.r * g.m2 * blk];
    packed.par_chunks_mut(blk).enumerate().for_each(|(q, p)| {
        let (r, k2) = (q / g.m2, q % g.m2);
        let (src, row) = match wn {
            Some(wn) if r >= g.m1 => (wn, r - g.m1),
            _ => (wp, r),
        };
        let c = 2 * o_n;
        for i in 0..i_n {
            for o in 0..o_n {
                let s = (((i * o_n + o) * mw1 + row) * mw2 + k2) * 2;
                let (re, im) = (src[s], src[s + 1]);
                p[i * c + o] = re;
                p[i * c + o_n + o] = im;
                p[(i_n + i) * c + o] = -im;
                p[(i_n + i) * c + o_n + o] = re;
            }
        }
    });
    packed
}

/// Per mode: `Y = [Xr | Xi] · P` (forward) or `dX = [dYr | dYi] · Pᵀ` (adjoint), strided
/// spectra (B, 2, R, m2, C); modes in parallel, each writing only its own (b, ·, r, k2, ·) cells.
fn mix<T: Float>(g: &Geom, src: &[T], c_in: usize, packed: &[T], c_out: usize, transpose: bool) -> Vec<T> {
    let mut dst = vec![T::zero(); g.b * 2 * g.r * g.m2 * c_out];
    let out = SharedMut(dst.as_mut_ptr());
    let blk = 4 * g.i * g.o;
    let pc = 2 * g.o as isize; // row stride of a packed block
    (0..g.r * g.m2).into_par_iter().for_each(|q| {
        let (r, k2) = (q / g.m2, q % g.m2);
        let (si, sb) = g.spec(c_in, r, k2);
        let (di, db) = g.spec(c_out, r, k2);
        let (s_im, d_im) = (g.r * g.m2 * c_in, g.r * g.m2 * c_out);
        let p = &packed[q * blk..];
        for (dpart, spart) in [(0usize, 0usize), (0, 1), (1, 0), (1, 1)] {
            // forward: Y_d += X_s · P[s block rows, d block cols]; adjoint: dX_d += dY_s · P[d, s]ᵀ
            let (rhs, rs, cs) = if transpose {
                (&p[dpart * g.i * 2 * g.o + spart * g.o..], 1, pc)
            } else {
                (&p[spart * g.i * 2 * g.o + dpart * g.o..], pc, 1)
            };
            // SAFETY: mode q writes only cells (·, dpart, r, k2, ·) of `dst`, which no other mode
            // touches; all offsets are inside the buffers.
            unsafe {
                T::gemm(
                    g.b,
                    c_out,
                    c_in,
                    out.at(di + dpart * d_im),
                    db as isize,
                    1,
                    spart == 1,
                    src[si + spart * s_im..].as_ptr(),
                    sb as isize,
                    1,
                    rhs.as_ptr(),
                    rs,
                    cs,
                    1,
                );
            }
        }
    });
    dst
}

/// The fused 2-D spectral convolution of a channels-last grid x (B, H, W, I) with `weights`
/// (I, O, m1w, m2w, 2) for rows 0..m1 and `weights_neg` for rows H−m1..H (`None` when H = 1:
/// only row 0, from `weights`). `m1 = min(m1w, H/2)`, `m2 = min(m2w, W/2+1)`, as the caller
/// computed them.
pub(crate) fn spectral_conv2d<T: Float>(
    x: &Tensor<T>,
    weights: &Tensor<T>,
    weights_neg: Option<&Tensor<T>>,
    m1: usize,
    m2: usize,
) -> Result<Tensor<T>> {
    let s = x.shape();
    let ws = weights.shape();
    let (b, h, w, i) = (s[0], s[1], s[2], s[3]);
    let o = ws[1];
    let r = kept_rows(h, m1).len();
    let g = Geom { b, h, w, i, o, r, m1, m2 };
    let t = tables::<T>(h, w, m1, m2);
    // 1. along W: (B·H) blocks (W × I) → (2·m2 × I)
    let mut z1 = vec![T::zero(); b * h * 2 * m2 * i];
    table_gemm(&t.a1, (w as isize, 1), (2 * m2, w, i), x.data(), &mut z1);
    // 2. along H: B blocks (2H × m2·I) → (2R × m2·I)
    let mut xs = vec![T::zero(); b * 2 * r * m2 * i];
    table_gemm(&t.a2, (2 * h as isize, 1), (2 * r, 2 * h, m2 * i), &z1, &mut xs);
    drop(z1);
    // 3. mixing
    let packed = pack(&g, weights.data(), weights_neg.map(|t| t.data()), (ws[2], ws[3]));
    let ys = mix(&g, &xs, i, &packed, o, false);
    // 4. inverse along H, then c2r along W
    let mut z2 = vec![T::zero(); b * 2 * h * m2 * o];
    table_gemm(&t.a3, (2 * r as isize, 1), (2 * h, 2 * r, m2 * o), &ys, &mut z2);
    let mut y = vec![T::zero(); b * h * w * o];
    table_gemm(&t.a4, (2 * m2 as isize, 1), (w, 2 * m2, o), &z2, &mut y);
    let value = Tensor::from_vec(y, &[b, h, w, o])?;
    let mut inputs = vec![x, weights];
    inputs.extend(weights_neg);
    if !Tensor::any_tracked(&inputs) {
        return Ok(value);
    }
    let saved = Conv2dBackward { g, tables: t, xs, packed, wshape: ws.to_vec(), neg: weights_neg.is_some() };
    Tensor::from_op(value, &inputs, saved)
}

struct Conv2dBackward<T> {
    g: Geom,
    tables: Arc<Tables<T>>,
    xs: Vec<T>,
    packed: Vec<T>,
    wshape: Vec<usize>,
    neg: bool,
}

impl<T: Float> Backward<T> for Conv2dBackward<T> {
    fn name(&self) -> &'static str {
        "spectral_conv2d"
    }

    fn backward(&self, gy: &Tensor<T>, needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let (g, t) = (&self.g, &self.tables);
        let (b, h, w, i, o, r, m2) = (g.b, g.h, g.w, g.i, g.o, g.r, g.m2);
        // adjoints of step 4: Aᵀ as strided tables
        let mut dz2 = vec![T::zero(); b * h * 2 * m2 * o];
        table_gemm(&t.a4, (1, 2 * m2 as isize), (2 * m2, w, o), gy.data(), &mut dz2);
        let mut dys = vec![T::zero(); b * 2 * r * m2 * o];
        table_gemm(&t.a3, (1, 2 * r as isize), (2 * r, 2 * h, m2 * o), &dz2, &mut dys);
        drop(dz2);
        let gx = if needs[0] {
            let dxs = mix(g, &dys, o, &self.packed, i, true);
            let mut dz1 = vec![T::zero(); b * h * 2 * m2 * i];
            table_gemm(&t.a2, (1, 2 * h as isize), (2 * h, 2 * r, m2 * i), &dxs, &mut dz1);
            let mut dx = vec![T::zero(); b * h * w * i];
            table_gemm(&t.a1, (1, w as isize), (w, 2 * m2, i), &dz1, &mut dx);
            Some(Tensor::from_vec(dx, &[b, h, w, i])?)
        } else {
            None
        };
        let need_w = needs[1] || (self.neg && needs.get(2).copied().unwrap_or(false));
        if !need_w {
            return Ok(if self.neg { vec![gx, None, None] } else { vec![gx, None] });
        }
        // dP_q = [Xr | Xi]ᵀ · [dYr | dYi]  (2I × 2O) per mode
        let blk = 4 * i * o;
        let mut dp = vec![T::zero(); r * m2 * blk];
        dp.par_chunks_mut(blk).enumerate().for_each(|(q, p)| {
            let (rr, k2) = (q / m2, q % m2);
            let (si, sb) = g.spec(i, rr, k2);
            let (di, db) = g.spec(o, rr, k2);
            let (s_im, d_im) = (r * m2 * i, r * m2 * o);
            for (a, c) in [(0usize, 0usize), (0, 1), (1, 0), (1, 1)] {
                // SAFETY: block (a, c) of this mode's own (2I × 2O) chunk; reads inside the spectra.
                unsafe {
                    T::gemm(
                        i,
                        o,
                        b,
                        p[a * i * 2 * o + c * o..].as_mut_ptr(),
                        2 * o as isize,
                        1,
                        false,
                        self.xs[si + a * s_im..].as_ptr(),
                        1,
                        sb as isize,
                        dys[di + c * d_im..].as_ptr(),
                        db as isize,
                        1,
                        1,
                    );
                }
            }
        });
        let (mw1, mw2) = (self.wshape[2], self.wshape[3]);
        let fold = |rows: std::ops::Range<usize>| -> Result<Tensor<T>> {
            let mut out = vec![T::zero(); i * o * mw1 * mw2 * 2];
            out.par_chunks_mut(o * mw1 * mw2 * 2).enumerate().for_each(|(ii, wi)| {
                for (row, rr) in rows.clone().enumerate() {
                    for k2 in 0..m2 {
                        let p = &dp[(rr * m2 + k2) * blk..];
                        let c = 2 * o;
                        for oo in 0..o {
                            let re = p[ii * c + oo] + p[(i + ii) * c + o + oo];
                            let im = p[ii * c + o + oo] - p[(i + ii) * c + oo];
                            let s = ((oo * mw1 + row) * mw2 + k2) * 2;
                            wi[s] = re;
                            wi[s + 1] = im;
                        }
                    }
                }
            });
            Tensor::from_vec(out, &self.wshape)
        };
        let top = if self.neg { 0..g.m1 } else { 0..1 };
        let gw = if needs[1] { Some(fold(top)?) } else { None };
        if !self.neg {
            return Ok(vec![gx, gw]);
        }
        let gn = if needs[2] { Some(fold(g.m1..2 * g.m1)?) } else { None };
        Ok(vec![gx, gw, gn])
    }
}
