//! Shape arithmetic shared by the kernels: element counts, strides, axes and broadcasting.

use crate::error::{Result, TensorError};

/// Number of elements of a shape (1 for a scalar of rank 0).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major (C order) strides of a contiguous tensor of this shape, in elements.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Resolves a possibly negative axis (`-1` is the last) against `shape`.
pub fn normalize_axis(op: &'static str, axis: isize, shape: &[usize]) -> Result<usize> {
    let rank = shape.len() as isize;
    let a = if axis < 0 { axis + rank } else { axis };
    if a < 0 || a >= rank {
        return Err(TensorError::BadAxis { op, axis, rank: shape.len(), shape: shape.to_vec() });
    }
    Ok(a as usize)
}

/// Resolves a list of axes, rejecting duplicates. An empty list means every axis.
pub fn normalize_axes(op: &'static str, axes: &[isize], shape: &[usize]) -> Result<Vec<usize>> {
    if axes.is_empty() {
        return Ok((0..shape.len()).collect());
    }
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let n = normalize_axis(op, a, shape)?;
        if out.contains(&n) {
            return Err(TensorError::invalid(op, format!("axis {a} is listed twice in {axes:?}")));
        }
        out.push(n);
    }
    out.sort_unstable();
    Ok(out)
}

/// The numpy broadcast of two shapes.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
        let db = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(TensorError::mismatch(
                op,
                a,
                b,
                format!("dimension {da} vs {db} cannot broadcast (aligned from the right)"),
            ));
        };
    }
    Ok(out)
}

/// Strides to read a tensor of shape `src` as if it had the broadcast shape `dst` (0 on broadcast axes).
pub fn broadcast_strides(src: &[usize], dst: &[usize]) -> Vec<usize> {
    let s = strides(src);
    let off = dst.len() - src.len();
    (0..dst.len()).map(|i| if i < off || src[i - off] == 1 { 0 } else { s[i - off] }).collect()
}

/// Calls `f(out_index, a_index, b_index)` for every element of `out_shape`, reading `a` and `b`
/// through (possibly broadcast) strides. Iterates in row-major order of the output.
pub fn for_each_broadcast(
    out_shape: &[usize],
    a_strides: &[usize],
    b_strides: &[usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let rank = out_shape.len();
    let n = numel(out_shape);
    if n == 0 {
        return;
    }
    if rank == 0 {
        f(0, 0, 0);
        return;
    }
    let last = out_shape[rank - 1];
    let (sa, sb) = (a_strides[rank - 1], b_strides[rank - 1]);
    let mut idx = vec![0usize; rank];
    let (mut ia, mut ib) = (0usize, 0usize);
    let mut o = 0;
    while o < n {
        for j in 0..last {
            f(o + j, ia + j * sa, ib + j * sb);
        }
        o += last;
        // advance the outer index (all axes but the last)
        let mut ax = rank - 1;
        while ax > 0 {
            ax -= 1;
            idx[ax] += 1;
            ia += a_strides[ax];
            ib += b_strides[ax];
            if idx[ax] < out_shape[ax] {
                break;
            }
            ia -= a_strides[ax] * out_shape[ax];
            ib -= b_strides[ax] * out_shape[ax];
            idx[ax] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_rules() {
        assert_eq!(broadcast_shapes("t", &[2, 1, 3], &[4, 1]).unwrap(), vec![2, 4, 3]);
        assert_eq!(broadcast_shapes("t", &[], &[5]).unwrap(), vec![5]);
        let e = broadcast_shapes("add", &[2, 3], &[4]).unwrap_err();
        assert!(e.to_string().contains("add") && e.to_string().contains("[2, 3]"));
    }

    #[test]
    fn axes() {
        assert_eq!(normalize_axis("t", -1, &[2, 3]).unwrap(), 1);
        assert!(matches!(normalize_axis("t", 2, &[2, 3]), Err(TensorError::BadAxis { .. })));
        assert!(normalize_axes("t", &[0, -2], &[2, 3]).is_err());
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
    }

    #[test]
    fn broadcast_iteration_matches_naive() {
        let out = [2, 3, 2];
        let sa = broadcast_strides(&[3, 1], &out);
        let sb = broadcast_strides(&[2, 1, 2], &out);
        let mut seen = vec![];
        for_each_broadcast(&out, &sa, &sb, |o, a, b| seen.push((o, a, b)));
        assert_eq!(seen.len(), 12);
        assert_eq!(seen[5], (5, 2, 1)); // index (0,2,1): a[2,0]=2, b[0,0,1]=1
        assert_eq!(seen[7], (7, 0, 3)); // index (1,0,1): a[0]=0, b[1,0,1]=3
    }
}
