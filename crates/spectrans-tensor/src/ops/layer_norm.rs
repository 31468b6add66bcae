//! Layer normalisation over the last axis: one fused row kernel forward and one fused backward.
//!
//! Forward reads each row once into cache, computes its mean and biased variance (two passes over
//! the cached row, numerically stable), and writes `(x − mean)·rstd·w + b`. Only the per-row mean
//! and `rstd = 1/√(var + eps)` are saved (plus the input, which is shared, not copied). Rows are
//! split across rayon's threads in fixed groups, so results never depend on the thread count.

use rayon::prelude::*;

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::par::{vectorised, PAR_THRESHOLD};
use crate::tensor::tape::Backward;
use crate::tensor::Tensor;

/// Elements per parallel task (rounded to whole rows).
const TASK_ELEMS: usize = 1 << 13;
/// Most partial sums of the weight/bias gradients the backward keeps (one per row group).
const MAX_GROUPS: usize = 64;

/// Σ f(x) with eight independent accumulators (vectorisable), combined in a fixed order.
#[inline(always)]
fn lane_sum<T: Float>(x: &[T], f: impl Fn(T) -> T) -> T {
    const L: usize = 8;
    let mut acc = [T::zero(); L];
    let chunks = x.chunks_exact(L);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..L {
            acc[i] += f(c[i]);
        }
    }
    let mut tail = T::zero();
    for &v in rest {
        tail += f(v);
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Σ a·b with eight independent accumulators, combined in a fixed order.
#[inline(always)]
fn lane_dot<T: Float>(a: &[T], b: &[T]) -> T {
    const L: usize = 8;
    let mut acc = [T::zero(); L];
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let mut tail = T::zero();
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    for (x, y) in ca.zip(cb) {
        for i in 0..L {
            acc[i] += x[i] * y[i];
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Mean and `1/√(var + eps)` of one row (biased variance, two passes).
#[inline(always)]
fn row_stats<T: Float>(x: &[T], eps: T) -> (T, T) {
    let inv_d = T::one() / T::of(x.len() as f64);
    let mean = lane_sum(x, |v| v) * inv_d;
    let var = lane_sum(x, |v| (v - mean) * (v - mean)) * inv_d;
    (mean, T::one() / (var + eps).sqrt())
}

/// Normalises one row into `out`, applying the optional affine weight and bias.
#[inline(always)]
fn normalize_row<T: Float>(x: &[T], out: &mut [T], mean: T, rstd: T, w: Option<&[T]>, b: Option<&[T]>) {
    match (w, b) {
        (Some(w), Some(b)) => {
            for (((o, &v), &wi), &bi) in out.iter_mut().zip(x).zip(w).zip(b) {
                *o = (v - mean) * rstd * wi + bi;
            }
        }
        (Some(w), None) => {
            for ((o, &v), &wi) in out.iter_mut().zip(x).zip(w) {
                *o = (v - mean) * rstd * wi;
            }
        }
        (None, Some(b)) => {
            for ((o, &v), &bi) in out.iter_mut().zip(x).zip(b) {
                *o = (v - mean) * rstd + bi;
            }
        }
        (None, None) => {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = (v - mean) * rstd;
            }
        }
    }
}

vectorised! {
    /// Normalises the rows of `x` (as many as `out` holds) into `out`, writing each row's mean and
    /// rstd to `stats`.
    fn normalize_rows<T: Float>(
        x: &[T],
        d: usize,
        out: &mut [T],
        stats: &mut [T],
        eps: T,
        w: Option<&[T]>,
        b: Option<&[T]>,
    ) {
        for ((orow, st), xr) in out.chunks_exact_mut(d).zip(stats.chunks_exact_mut(2)).zip(x.chunks_exact(d)) {
            let (mean, rstd) = row_stats(xr, eps);
            normalize_row(xr, orow, mean, rstd, w, b);
            st[0] = mean;
            st[1] = rstd;
        }
    }
}

/// Number of rows per parallel task for rows of length `d`.
fn rows_per_task(d: usize) -> usize {
    TASK_ELEMS.div_ceil(d.max(1)).max(1)
}

/// The forward kernel: normalised output and per-row `[mean, rstd]` pairs.
fn layer_norm_kernel<T: Float>(x: &[T], d: usize, eps: T, w: Option<&[T]>, b: Option<&[T]>) -> (Vec<T>, Vec<T>) {
    let rows = x.len() / d;
    let mut out = vec![T::zero(); x.len()];
    let mut stats = vec![T::zero(); 2 * rows];
    let group = rows_per_task(d);
    let task = |(gi, (og, sg)): (usize, (&mut [T], &mut [T]))| {
        let x0 = gi * group * d;
        normalize_rows(&x[x0..x0 + og.len()], d, og, sg, eps, w, b);
    };
    if x.len() < PAR_THRESHOLD {
        out.chunks_mut(group * d).zip(stats.chunks_mut(group * 2)).enumerate().for_each(task);
    } else {
        out.par_chunks_mut(group * d).zip(stats.par_chunks_mut(group * 2)).enumerate().for_each(task);
    }
    (out, stats)
}

/// Backward of [`Tensor::layer_norm`]: holds the input, the affine weight and the per-row stats.
struct LayerNormBackward<T: Float> {
    x: Tensor<T>,
    weight: Option<Tensor<T>>,
    has_bias: bool,
    stats: Vec<T>,
}

vectorised! {
    /// Gradients for a group of rows: `x`, `stats` and `g` are the group's rows (and their mean,
    /// rstd pairs); writes dx rows into `dx` (when given) and adds the group's contributions to
    /// `dw` / `db` (each either empty or of length `d`). `scratch` holds `2·d` elements.
    fn backward_rows<T: Float>(
        x: &[T],
        w: Option<&[T]>,
        stats: &[T],
        g: &[T],
        d: usize,
        dx: Option<&mut [T]>,
        dw: &mut [T],
        db: &mut [T],
        scratch: &mut [T],
    ) {
        let mut dx = dx;
        let inv_d = T::one() / T::of(d as f64);
        let (xh, gy) = scratch.split_at_mut(d);
        for (r, gr) in g.chunks_exact(d).enumerate() {
            let (mean, rstd) = (stats[2 * r], stats[2 * r + 1]);
            let xr = &x[r * d..(r + 1) * d];
            xh.iter_mut().zip(xr).for_each(|(h, &v)| *h = (v - mean) * rstd);
            if !dw.is_empty() {
                dw.iter_mut().zip(gr).zip(xh.iter()).for_each(|((a, &gj), &hj)| *a += gj * hj);
            }
            if !db.is_empty() {
                db.iter_mut().zip(gr).for_each(|(a, &gj)| *a += gj);
            }
            let Some(dx) = dx.as_deref_mut() else {
                continue;
            };
            match w {
                Some(w) => gy.iter_mut().zip(gr).zip(w).for_each(|((o, &gj), &wj)| *o = gj * wj),
                None => gy.copy_from_slice(gr),
            }
            // dx = rstd·(gy − mean(gy) − x̂·mean(gy·x̂))
            let c1 = lane_sum(gy, |v| v) * inv_d;
            let c2 = lane_dot(gy, xh) * inv_d;
            for ((o, &gj), &hj) in dx[r * d..(r + 1) * d].iter_mut().zip(gy.iter()).zip(xh.iter()) {
                *o = rstd * (gj - c1 - hj * c2);
            }
        }
    }
}

impl<T: Float> Backward<T> for LayerNormBackward<T> {
    fn name(&self) -> &'static str {
        "layer_norm"
    }

    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let shape = &self.x.shape;
        let d = shape[shape.len() - 1];
        let rows = self.stats.len() / 2;
        let need_x = needs[0];
        let need_w = self.weight.is_some() && needs[1];
        let need_b = self.has_bias && needs[needs.len() - 1];
        let mut dx = if need_x { vec![T::zero(); self.x.numel()] } else { Vec::new() };
        let (mut dw, mut db) = (vec![T::zero(); d], vec![T::zero(); d]);
        if d > 0 && rows > 0 {
            // Fixed row groups (independent of the thread count): each yields its own partial
            // dw/db, then the partials are added in group order, so results are deterministic.
            let group = rows_per_task(d).max(rows.div_ceil(MAX_GROUPS));
            let groups = rows.div_ceil(group);
            let pd = |need: bool| if need { d } else { 0 };
            let part_len = pd(need_w) + pd(need_b);
            let stride = part_len.max(1); // keeps one chunk per group even with no partials
            let mut partials = vec![T::zero(); groups * stride];
            let gd = g.data();
            let task = |gi: usize, dxg: Option<&mut [T]>, part: &mut [T]| {
                let (pw, pb) = part[..part_len].split_at_mut(pd(need_w));
                let r0 = gi * group;
                let r1 = (r0 + group).min(rows);
                let mut scratch = vec![T::zero(); 2 * d];
                let (x, w) = (&self.x.data()[r0 * d..r1 * d], self.weight.as_ref().map(|w| w.data()));
                let stats = &self.stats[2 * r0..2 * r1];
                backward_rows(x, w, stats, &gd[r0 * d..r1 * d], d, dxg, pw, pb, &mut scratch);
            };
            let parallel = self.x.numel() >= PAR_THRESHOLD;
            match (need_x, parallel) {
                (true, true) => dx
                    .par_chunks_mut(group * d)
                    .zip(partials.par_chunks_mut(stride))
                    .enumerate()
                    .for_each(|(gi, (dxg, part))| task(gi, Some(dxg), part)),
                (true, false) => dx
                    .chunks_mut(group * d)
                    .zip(partials.chunks_mut(stride))
                    .enumerate()
                    .for_each(|(gi, (dxg, part))| task(gi, Some(dxg), part)),
                (false, true) => {
                    partials.par_chunks_mut(stride).enumerate().for_each(|(gi, part)| task(gi, None, part))
                }
                (false, false) => partials.chunks_mut(stride).enumerate().for_each(|(gi, part)| task(gi, None, part)),
            }
            for part in partials.chunks_exact(stride) {
                let (pw, pb) = part[..part_len].split_at(pd(need_w));
                dw.iter_mut().zip(pw).for_each(|(a, &p)| *a += p);
                db.iter_mut().zip(pb).for_each(|(a, &p)| *a += p);
            }
        }
        let mut out = vec![need_x.then(|| Tensor::from_parts(dx, shape.clone()))];
        if self.weight.is_some() {
            out.push(need_w.then(|| Tensor::from_parts(dw, vec![d])));
        }
        if self.has_bias {
            out.push(need_b.then(|| Tensor::from_parts(db, vec![d])));
        }
        Ok(out)
    }
}

/// Checks that an affine parameter has shape `[d]`.
fn check_affine<T: Float>(what: &str, x: &[usize], p: Option<&Tensor<T>>) -> Result<()> {
    match p {
        Some(p) if p.shape != [x[x.len() - 1]] => Err(TensorError::mismatch(
            "layer_norm",
            x,
            &p.shape,
            format!("{what} must have shape [{}] (the size of the input's last axis)", x[x.len() - 1]),
        )),
        _ => Ok(()),
    }
}

impl<T: Float> Tensor<T> {
    /// Layer normalisation over the last axis, as torch's `layer_norm` with
    /// `normalized_shape = [D]`: `y = (x − mean)/√(var + eps)·weight + bias`, with the biased
    /// variance. `eps` must be finite and ≥ 0.
    ///
    /// # Shapes
    /// `self`: `(…, D)` with rank ≥ 1; `weight`, `bias`: `(D,)`. The result has the shape of `self`.
    ///
    /// ```
    /// use spectrans_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 3.0, 10.0, 30.0], &[2, 2])?;
    /// let b = Tensor::<f64>::from_vec(vec![0.5, 0.5], &[2])?;
    /// let y = x.layer_norm(None, Some(&b), 0.0)?;
    /// assert_eq!(y.to_vec(), vec![-0.5, 1.5, -0.5, 1.5]);
    /// # Ok::<(), spectrans_tensor::TensorError>(())
    /// ```
    pub fn layer_norm(&self, weight: Option<&Tensor<T>>, bias: Option<&Tensor<T>>, eps: f64) -> Result<Tensor<T>> {
        if self.rank() == 0 {
            return Err(TensorError::bad_shape(
                "layer_norm",
                &self.shape,
                "needs rank >= 1 (normalises the last axis)",
            ));
        }
        if !(eps >= 0.0 && eps.is_finite()) {
            return Err(TensorError::invalid("layer_norm", format!("eps must be finite and >= 0, got {eps}")));
        }
        check_affine("weight", &self.shape, weight)?;
        check_affine("bias", &self.shape, bias)?;
        let d = self.shape[self.rank() - 1];
        let (out, stats) = if self.numel() == 0 {
            (Vec::new(), Vec::new())
        } else {
            layer_norm_kernel(self.data(), d, T::of(eps), weight.map(|w| w.data()), bias.map(|b| b.data()))
        };
        let value = Tensor::from_parts(out, self.shape.clone());
        let mut inputs = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        if !Tensor::any_tracked(&inputs) {
            return Ok(value);
        }
        let backward =
            LayerNormBackward { x: self.detach(), weight: weight.map(Tensor::detach), has_bias: bias.is_some(), stats };
        Tensor::from_op(value, &inputs, backward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{analytic_gradients, assert_gradients, small_shape, tensor_from};
    use crate::tensor::tape::Parameter;
    use proptest::prelude::*;

    /// Inputs whose rows are never nearly constant (alternating signs, magnitudes in [0.5, 1.5]),
    /// so the variance stays well away from 0 and finite differences stay accurate.
    fn spread(shape: &[usize], seed: u64) -> Tensor<f64> {
        let u = tensor_from::<f64>(shape, seed, 0.5, 1.5);
        let v = u.data().iter().enumerate().map(|(i, &m)| if i % 2 == 0 { m } else { -m }).collect();
        Tensor::from_vec(v, shape).unwrap()
    }

    /// Two-pass layer norm from the definition, in f64.
    fn naive(x: &[f64], d: usize, w: Option<&[f64]>, b: Option<&[f64]>, eps: f64) -> Vec<f64> {
        let mut out = Vec::with_capacity(x.len());
        for row in x.chunks(d) {
            let mean = row.iter().sum::<f64>() / d as f64;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
            for (j, &v) in row.iter().enumerate() {
                let y = (v - mean) / (var + eps).sqrt();
                out.push(y * w.map_or(1.0, |w| w[j]) + b.map_or(0.0, |b| b[j]));
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn grad_layer_norm(lead in small_shape(2), d in prop::sample::select(vec![1usize, 2, 3, 5, 8, 17]), seed in 0u64..1000) {
            let mut shape = lead;
            shape.push(d);
            let x = spread(&shape, seed);
            let w = tensor_from::<f64>(&[d], seed + 1, 0.5, 1.5);
            let b = tensor_from::<f64>(&[d], seed + 2, -1.0, 1.0);
            assert_gradients(&[x.clone(), w.clone(), b.clone()], |v| v[0].layer_norm(Some(&v[1]), Some(&v[2]), 1e-5));
            assert_gradients(&[x.clone(), w], |v| v[0].layer_norm(Some(&v[1]), None, 1e-5));
            assert_gradients(&[x.clone(), b], |v| v[0].layer_norm(None, Some(&v[1]), 1e-5));
            assert_gradients(&[x], |v| v[0].layer_norm(None, None, 1e-5));
        }

        #[test]
        fn values_match_two_pass_naive(lead in small_shape(3), d in 1usize..40, seed in 0u64..1000) {
            let mut shape = lead;
            shape.push(d);
            let x = tensor_from::<f64>(&shape, seed, -3.0, 3.0);
            let w = tensor_from::<f64>(&[d], seed + 1, -2.0, 2.0);
            let b = tensor_from::<f64>(&[d], seed + 2, -1.0, 1.0);
            for (wo, bo) in [(Some(&w), Some(&b)), (Some(&w), None), (None, Some(&b)), (None, None)] {
                let y = x.layer_norm(wo, bo, 1e-5).unwrap();
                let e = naive(x.data(), d, wo.map(|t| t.data()), bo.map(|t| t.data()), 1e-5);
                for (a, e) in y.data().iter().zip(&e) {
                    prop_assert!((a - e).abs() < 1e-12, "{} vs {}", a, e);
                }
            }
        }
    }

    #[test]
    fn large_f32_input_matches_f64_naive() {
        // 80 rows of 512 > PAR_THRESHOLD elements: the parallel path, with an offset mean
        let x = tensor_from::<f64>(&[2, 40, 512], 3, 99.0, 101.0);
        let w = tensor_from::<f64>(&[512], 4, 0.5, 1.5);
        let b = tensor_from::<f64>(&[512], 5, -1.0, 1.0);
        let e = naive(x.data(), 512, Some(w.data()), Some(b.data()), 1e-5);
        let y = x.cast::<f32>().layer_norm(Some(&w.cast()), Some(&b.cast()), 1e-5).unwrap();
        let worst = y.data().iter().zip(&e).map(|(&a, e)| (a as f64 - e).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-4, "max abs error {worst}");
    }

    #[test]
    fn large_backward_equals_row_by_row_backward() {
        // The parallel, grouped backward must agree with small sequential backwards of each row.
        let (rows, d) = (150, 300);
        let x = tensor_from::<f64>(&[rows, d], 6, -2.0, 2.0);
        let w = tensor_from::<f64>(&[d], 7, 0.5, 1.5);
        let b = tensor_from::<f64>(&[d], 8, -1.0, 1.0);
        let f = |v: &[Tensor<f64>]| v[0].layer_norm(Some(&v[1]), Some(&v[2]), 1e-5);
        let (_, r, big) = analytic_gradients(&[x.clone(), w.clone(), b.clone()], f, 1).unwrap();
        let (mut dw, mut db) = (vec![0.0; d], vec![0.0; d]);
        for i in 0..rows {
            let xi = Tensor::from_vec(x.data()[i * d..(i + 1) * d].to_vec(), &[1, d]).unwrap();
            let ri = Tensor::from_vec(r.data()[i * d..(i + 1) * d].to_vec(), &[1, d]).unwrap();
            let (pw, pb) = (Parameter::new(w.clone()), Parameter::new(b.clone()));
            let (px, tape) = (Parameter::new(xi), crate::Tape::new());
            let y = tape.watch(&px).layer_norm(Some(&tape.watch(&pw)), Some(&tape.watch(&pb)), 1e-5).unwrap();
            y.backward_with(&ri).unwrap();
            for (a, e) in big[0].data()[i * d..(i + 1) * d].iter().zip(px.grad().unwrap().data()) {
                assert!((a - e).abs() < 1e-12, "dx row {i}: {a} vs {e}");
            }
            dw.iter_mut().zip(pw.grad().unwrap().data()).for_each(|(a, g)| *a += g);
            db.iter_mut().zip(pb.grad().unwrap().data()).for_each(|(a, g)| *a += g);
        }
        for (a, e) in big[1].data().iter().zip(&dw).chain(big[2].data().iter().zip(&db)) {
            assert!((a - e).abs() < 1e-10, "{a} vs {e}");
        }
    }

    #[test]
    fn only_affine_parameters_tracked() {
        // x constant, weight and bias watched: dx is skipped, dw and db still right.
        let x = spread(&[3, 4], 9);
        let w = tensor_from::<f64>(&[4], 10, 0.5, 1.5);
        let b = tensor_from::<f64>(&[4], 11, -1.0, 1.0);
        assert_gradients(&[w.clone(), b.clone()], |v| x.layer_norm(Some(&v[0]), Some(&v[1]), 1e-5));
        assert_gradients(&[w], |v| x.layer_norm(Some(&v[0]), Some(&b), 1e-5));
    }

    #[test]
    fn empty_inputs_do_not_panic() {
        let w = Tensor::<f32>::ones(&[0]);
        assert_eq!(Tensor::<f32>::zeros(&[3, 0]).layer_norm(Some(&w), None, 1e-5).unwrap().shape(), &[3, 0]);
        assert_eq!(Tensor::<f32>::zeros(&[0, 4]).layer_norm(None, None, 1e-5).unwrap().shape(), &[0, 4]);
    }

    #[test]
    fn bad_arguments_are_errors() {
        let x = Tensor::<f32>::zeros(&[2, 3]);
        let e = x.layer_norm(Some(&Tensor::ones(&[2])), None, 1e-5).unwrap_err();
        assert!(matches!(e, TensorError::ShapeMismatch { op: "layer_norm", .. }));
        assert_eq!(
            e.to_string(),
            "layer_norm: incompatible shapes [2, 3] and [2]: weight must have shape [3] (the size of the input's last axis)"
        );
        let e = x.layer_norm(None, Some(&Tensor::ones(&[1, 3])), 1e-5).unwrap_err();
        assert!(e.to_string().contains("[1, 3]: bias must have shape [3]"), "{e}");
        let e = Tensor::<f32>::scalar(1.0).layer_norm(None, None, 1e-5).unwrap_err();
        assert!(matches!(e, TensorError::BadShape { op: "layer_norm", .. }), "{e}");
        let e = x.layer_norm(None, None, -1.0).unwrap_err();
        assert_eq!(e, TensorError::invalid("layer_norm", "eps must be finite and >= 0, got -1"));
        assert!(x.layer_norm(None, None, f64::NAN).is_err());
    }
}
