//! Times one Darcy solve (conjugate-gradient iterations, residual) on each fine grid and the
//! generation of a few samples. Run in release:
//! `cargo run --release -p spectrans-data --example darcy_timing [n_samples]`.

use std::time::Instant;

use spectrans_data::{generate_darcy, DarcySolver, DarcySpec, NeumannRandomField};
use spectrans_tensor::Rng;

fn main() -> Result<(), spectrans_data::DataError> {
    let n_samples: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(8);
    for n in [85, 141, 211, 421] {
        let start = Instant::now();
        let z = NeumannRandomField::default().sample(n, &mut Rng::seed(0))?;
        let field_s = start.elapsed().as_secs_f64();
        let a: Vec<f64> = z.iter().map(|&v| if v >= 0.0 { 12.0 } else { 3.0 }).collect();
        let start = Instant::now();
        let (_, report) = DarcySolver::new(&a, n)?.solve(&vec![1.0; n * n], 1e-10)?;
        let solve_s = start.elapsed().as_secs_f64();
        println!(
            "n = {n}: field {:.1} ms, solve {:.1} ms, {} CG iterations, relative residual {:.2e}",
            1e3 * field_s,
            1e3 * solve_s,
            report.iterations,
            report.relative_residual
        );
    }
    for fine in [211, 421] {
        let spec = DarcySpec::new(0, n_samples, fine, 1, 0);
        let start = Instant::now();
        generate_darcy(&spec)?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{n_samples} samples at {fine}², {} threads: {secs:.2} s ({:.1} ms/sample)",
            rayon::current_num_threads(),
            1e3 * secs / n_samples as f64
        );
    }
    Ok(())
}
