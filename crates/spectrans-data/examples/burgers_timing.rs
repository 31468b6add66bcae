//! Times the generation of the paper's Burgers data (1000 train + 200 test samples on the 8192-point
//! grid). Run in release: `cargo run --release -p spectrans-data --example burgers_timing [n_samples]`.

use std::time::Instant;

use spectrans_data::{generate_with, BurgersSpec};

fn main() -> Result<(), spectrans_data::DataError> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1200);
    let spec = BurgersSpec::new(n, 8192, 1, 0);
    let start = Instant::now();
    let (u0, u1) = generate_with(&spec)?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} samples at {} points, {} steps, {} threads: {secs:.2} s ({:.1} ms/sample); u1 {:?}",
        spec.resolution_fine,
        spec.time_steps,
        rayon::current_num_threads(),
        1e3 * secs / n as f64,
        u1.shape()
    );
    assert_eq!(u0.shape(), u1.shape());
    Ok(())
}
