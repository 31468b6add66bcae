//! The `spectrans` command-line tool. Every failure prints one line naming the file, field or
//! shape at fault and exits with a non-zero code.

mod cli;

/// The binary's allocator: mimalloc keeps freed pages for reuse, where glibc's malloc returns
/// every large tensor buffer to the kernel and page-faults it back on the next step (measured in
/// `docs/benchmarks.md`). Library users keep whatever allocator their program chooses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if let Err(e) = cli::run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
