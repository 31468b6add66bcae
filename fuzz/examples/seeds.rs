//! Writes the starting corpus of every target: `cargo run --example seeds -- <dir>` (in `fuzz/`).

fn main() -> std::io::Result<()> {
    let root = std::env::args().nth(1).unwrap_or_else(|| "corpus".into());
    spectrans_fuzz::write_seeds(std::path::Path::new(&root))
}
