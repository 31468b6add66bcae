//! The binary's allocator: mimalloc, which keeps freed pages for reuse where glibc's malloc returns
//! every large tensor buffer to the kernel and page-faults it back on the next step (measured in
//! `docs/benchmarks.md`), told never to purge freed pages (by default it returns them to the OS
//! after 1 s, and a training step's buffers are freed and wanted again a step later), with a
//! count of allocation calls for `spectrans bench` (`allocs_per_step`). Library users keep
//! whatever allocator their program chooses.

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

/// mimalloc's option index of `purge_delay` (`mi_option_purge_delay` in mimalloc.h, v2 and v3; the
/// Rust bindings do not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc to keep freed pages for reuse (purge delay −1: never return them to the OS),
/// unless `MIMALLOC_PURGE_DELAY` sets a delay of its own.
pub fn keep_freed_pages() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: setting an option is thread-safe in mimalloc; -1 is a documented value.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn purge_delay_is_the_option_we_think() {
        // the default purge delay is 10 ms in mimalloc v2 and 1000 ms in v3 (what
        // libmimalloc-sys 0.1.49 builds): the index names that option
        let v = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert!(v == 10 || v == 1000 || std::env::var_os("MIMALLOC_PURGE_DELAY").is_some(), "option 15 reads {v}");
    }
}
