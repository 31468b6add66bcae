//! Packing of GEMM operands into the depth-major panels the micro-kernels stream: A in panels of
//! `mr` rows (`panel[p·mr + i] = A[i, p]`), B in panels of `nr` columns (`panel[p·nr + j] =
//! B[p, j]`), zero-padded past the matrix edge so that every tile is full.

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
    /// The address of element (r, c), computed with wrapping arithmetic (reading it is up to
    /// the caller).
    #[inline(always)]
    pub fn ptr_at(&self, r: usize, c: usize) -> *const T {
        self.ptr.wrapping_offset(r as isize * self.rs + c as isize * self.cs)
    }

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
    // a panel width known at compile time turns each depth step into fixed-size moves
    // SAFETY (every arm): forwarded from the caller.
    unsafe {
        match mr {
            4 => pack_panels::<T, 4>(a, r0, rows, p0, kc, out),
            6 => pack_panels::<T, 6>(a, r0, rows, p0, kc, out),
            8 => pack_panels::<T, 8>(a, r0, rows, p0, kc, out),
            16 => pack_panels::<T, 16>(a, r0, rows, p0, kc, out),
            _ => unreachable!("no kernel has a panel width of {mr}"),
        }
    }
}

/// [`pack_a`] for a panel width `MR`.
///
/// # Safety
/// As [`pack_a`].
unsafe fn pack_panels<T: Copy + Default, const MR: usize>(
    a: View<T>,
    r0: usize,
    rows: usize,
    p0: usize,
    kc: usize,
    out: &mut [T],
) {
    for (panel, dst) in out.chunks_exact_mut(MR * kc).take(rows.div_ceil(MR)).enumerate() {
        let i0 = r0 + panel * MR;
        let h = MR.min(rows - panel * MR);
        // SAFETY: rows i0..i0 + h and depths p0..p0 + kc lie inside the block.
        let start = unsafe { a.ptr.offset(i0 as isize * a.rs + p0 as isize * a.cs) };
        if a.rs == 1 && h == MR {
            // column-major A (a transposed operand): each depth step is MR contiguous values
            for (p, d) in dst.chunks_exact_mut(MR).enumerate() {
                // SAFETY: depth p of the panel's MR contiguous rows.
                let src: &[T; MR] = unsafe { &*start.offset(p as isize * a.cs).cast::<[T; MR]>() };
                d.copy_from_slice(src);
            }
        } else if a.cs == 1 {
            // row-major A: the h rows as contiguous slices, each depth step's MR values written
            // together (sequential reads and writes)
            // SAFETY: row i < h of the panel holds kc contiguous values.
            let src: [&[T]; MR] = std::array::from_fn(|i| unsafe {
                std::slice::from_raw_parts(start.offset(i as isize * a.rs), if i < h { kc } else { 0 })
            });
            if h == MR {
                for (p, d) in dst.chunks_exact_mut(MR).enumerate() {
                    let d: &mut [T; MR] = d.try_into().expect("chunks of MR");
                    *d = std::array::from_fn(|i| src[i][p]);
                }
            } else {
                for (p, d) in dst.chunks_exact_mut(MR).enumerate() {
                    for (i, v) in d.iter_mut().enumerate() {
                        *v = if i < h { src[i][p] } else { T::default() };
                    }
                }
            }
        } else {
            for (p, d) in dst.chunks_exact_mut(MR).enumerate() {
                for (i, v) in d.iter_mut().enumerate() {
                    // SAFETY: inside the block for i < h.
                    *v = if i < h { unsafe { a.at(i0 + i, p0 + p) } } else { T::default() };
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
