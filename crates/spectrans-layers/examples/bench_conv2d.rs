//! Times forward + backward of one 2-D FNO layer (spectral conv + pointwise path), f32.
//!
//! `RAYON_NUM_THREADS=1 cargo run --release -p spectrans-layers --example bench_conv2d -- 43 85`
//! (grid sizes as arguments; B = 20, C = 32, 12 modes per axis).

use std::time::Instant;

use spectrans_layers::{Activation, Ctx, FourierNeuralOperator, Module};
use spectrans_tensor::{Rng, Tape, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<usize> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() { vec![43, 85] } else { sizes };
    let (b, c, modes) = (20, 32, 12);
    let fno = FourierNeuralOperator::<f32>::new_2d(c, modes, Activation::Gelu, &mut Rng::seed(0))?;
    for s in sizes {
        let x = Tensor::<f32>::randn(&[b, s, s, c], 0.0, 1.0, &mut Rng::seed(1));
        let step = || -> Result<(), Box<dyn std::error::Error>> {
            let tape = Tape::new();
            let ctx = Ctx::train(&tape, 0);
            let y = fno.forward_2d(&ctx, &x)?;
            y.mean(&[], false)?.backward()?;
            fno.zero_grad();
            Ok(())
        };
        step()?;
        let reps = (2_000_000 / (s * s)).clamp(3, 50);
        let t = Instant::now();
        for _ in 0..reps {
            step()?;
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
        println!(
            "H=W={s:4}  B={b} C={c} modes={modes}  fwd+bwd {ms:8.2} ms  ({reps} reps, {} threads)",
            rayon::current_num_threads()
        );
    }
    Ok(())
}
