//! The binary's allocator: mimalloc, which keeps freed pages for reuse where glibc's malloc returns
//! every large tensor buffer to the kernel and page-faults it back on the next step (measured in
//! `docs/benchmarks.md`), with a count of allocation calls for `spectrans bench`
//! (`allocs_per_step`). Library users keep whatever allocator their program chooses.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering};

/// mimalloc, counting allocations (one relaxed atomic add per call).
pub struct CountingMimalloc {
    count: AtomicU64,
}

impl CountingMimalloc {
    /// The allocator, with a count of zero.
    pub const fn new() -> Self {
        CountingMimalloc { count: AtomicU64::new(0) }
    }

    /// Allocation calls (alloc, alloc_zeroed, realloc) so far.
    pub fn allocations(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

// SAFETY: every call is forwarded unchanged to mimalloc, a correct global allocator.
unsafe impl GlobalAlloc for CountingMimalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.count.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded from the caller.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.count.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded from the caller.
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.count.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded from the caller.
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
}
