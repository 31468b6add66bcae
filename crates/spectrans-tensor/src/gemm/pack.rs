//! Packing of GEMM operands into the depth-major panels the micro-kernels stream: A in panels of
//! `mr` rows (`panel[p·mr + i] = A[i, p]`), B in panels of `nr` columns (`panel[p·nr + j] =
//! B[p, j]`), zero-padded past the matrix edge so that every tile is full.

/// The largest panel width packed (the widest kernel's `nr`).
const MAX_MR: usize = 16;

/// A strided read-only matrix view: element (r, c) at `ptr + r·rs + c·cs`.
#[derive(Clone, Copy)]
pub(crate) struct View<T> {
    pub ptr: *const T,
    pub rs: isize,
    pub cs: isize,
}

// SAFETY: a view is only read, and only while the caller of `gemm` keeps the operand alive.
unsafe impl<T: Sync> Send for View<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for View<T> {}

impl<T: Copy> View<T> {
    /// Element (r, c).
    ///
    /// # Safety
    /// (r, c) must be inside the matrix.
    #[inline(always)]
    unsafe fn at(&self, r: usize, c: usize) -> T {
        // SAFETY: by the caller's contract.
        unsafe { *self.ptr.offset(r as isize * self.rs + c as isize * self.cs) }
    }
}

/// Packs rows `r0..r0 + rows` × depth `p0..p0 + kc` of `a` into `out` as panels of `mr` rows.
///
/// # Safety
/// The block must lie inside `a`; `out` holds `ceil(rows / mr)·mr·kc` elements.
pub(crate) unsafe fn pack_a<T: Copy + Default>(
    a: View<T>,
    r0: usize,
    rows: usize,
    p0: usize,
    kc: usize,
    mr: usize,
    out: &mut [T],
) {
    debug_assert!(mr <= MAX_MR, "panel width {mr} over MAX_MR");
    for (panel, dst) in out.chunks_exact_mut(mr * kc).take(rows.div_ceil(mr)).enumerate() {
        let i0 = panel * mr;
        let h = mr.min(rows - i0);
        if a.rs == 1 && h == mr {
            // column-major A (a transposed operand): each depth step is `mr` contiguous values
            for (p, d) in dst.chunks_exact_mut(mr).enumerate() {
                for (i, v) in d.iter_mut().enumerate() {
                    // SAFETY: inside the block.
                    *v = unsafe { a.at(r0 + i0 + i, p0 + p) };
                }
            }
            continue;
        }
        if a.cs == 1 {
            // row-major A: read the h rows as contiguous slices, write each depth step's `mr`
            // values together (sequential reads and writes)
            // SAFETY: rows i0..i0 + h, depths p0..p0 + kc lie inside the block.
            let rows: [&[T]; MAX_MR] = std::array::from_fn(|i| unsafe {
                if i < h {
                    std::slice::from_raw_parts(a.ptr.offset((r0 + i0 + i) as isize * a.rs + p0 as isize), kc)
                } else {
                    &[]
                }
            });
            for (p, d) in dst.chunks_exact_mut(mr).enumerate() {
                for (i, v) in d.iter_mut().enumerate() {
                    *v = if i < h { rows[i][p] } else { T::default() };
                }
            }
            continue;
        }
        for i in 0..mr {
            if i < h {
                for p in 0..kc {
                    // SAFETY: inside the block.
                    dst[p * mr + i] = unsafe { a.at(r0 + i0 + i, p0 + p) };
                }
            } else {
                for p in 0..kc {
                    dst[p * mr + i] = T::default();
                }
            }
        }
    }
}

/// Packs depth `p0..p0 + kc` × columns `c0..c0 + cols` of `b` into `out` as panels of `nr`
/// columns: the A packing of Bᵀ (`panel[p·nr + j] = Bᵀ[j, p] = B[p, j]`).
///
/// # Safety
/// The block must lie inside `b`; `out` holds `ceil(cols / nr)·nr·kc` elements.
pub(crate) unsafe fn pack_b<T: Copy + Default>(
    b: View<T>,
    p0: usize,
    kc: usize,
    c0: usize,
    cols: usize,
    nr: usize,
    out: &mut [T],
) {
    let bt = View { ptr: b.ptr, rs: b.cs, cs: b.rs };
    // SAFETY: the same block, seen transposed.
    unsafe { pack_a(bt, c0, cols, p0, kc, nr, out) }
}
