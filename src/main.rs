//! The `spectrans` command-line tool. Every failure prints one line naming the file, field or
//! shape at fault and exits with a non-zero code.

mod alloc_count;
mod cli;

/// mimalloc, counting allocations (see [`alloc_count`]).
#[global_allocator]
static ALLOCATOR: alloc_count::CountingMimalloc = alloc_count::CountingMimalloc::new();

fn main() {
    alloc_count::keep_freed_pages();
    if let Err(e) = spectrans_tensor::simd::env_cap().and_then(|_| cli::run()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
