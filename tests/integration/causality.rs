//! Exact causality of the FNODecoder (causal = true): changing tokens after position t leaves
//! every logit at positions ≤ t unchanged, to float round-off (≤ 1e-6 relative in f32, ≤ 1e-12 in
//! f64, relative to the largest logit), for many lengths (odd, even, prime), positions and mode
//! counts. The reference (causal = false) decoder fails the same check, which shows the check
//! can fail.

use spectrans::layers::{Ctx, FftFloat};
use spectrans::models::{FNODecoder, ModelConfig};
use spectrans::tensor::Rng;

fn decoder<T: FftFloat>(modes: usize, causal: bool, pe: &str, seed: u64) -> FNODecoder<T> {
    let json = format!(
        r#"{{"model_type": "fno_decoder", "vocab_size": 23, "hidden_dim": 12, "num_layers": 2, "modes": {modes},
            "max_sequence_length": 40, "causal": {causal}, "positional_encoding_type": "{pe}"}}"#
    );
    let ModelConfig::Decoder(cfg) = ModelConfig::from_json(&json).unwrap() else { unreachable!() };
    let model = FNODecoder::<T>::new(&cfg, seed).unwrap();
    // make the spectral path matter: scale the causal kernels up from their small init
    for (name, p) in spectrans::layers::Module::named_parameters(&model) {
        if name.contains("conv.weights") {
            p.update(|v, _| v.iter_mut().for_each(|x| *x *= T::of(4.0)));
        }
    }
    model
}

/// Max |Δ logit| at positions ≤ t when tokens after t change, over max |logit|.
fn leak<T: FftFloat>(model: &FNODecoder<T>, n: usize, t: usize, seed: u64) -> f64 {
    let mut rng = Rng::seed(seed);
    let ids: Vec<usize> = (0..2 * n).map(|_| rng.below(23) as usize).collect();
    let mut changed = ids.clone();
    for b in 0..2 {
        for i in t + 1..n {
            changed[b * n + i] = (ids[b * n + i] + 1 + rng.below(22) as usize) % 23;
        }
    }
    let ctx = Ctx::inference();
    let a = model.forward(&ctx, &ids, 2, n).unwrap();
    let c = model.forward(&ctx, &changed, 2, n).unwrap();
    let scale = a.data().iter().fold(0f64, |m, v| m.max(v.as_f64().abs()));
    let mut diff = 0f64;
    for b in 0..2 {
        for i in b * n * 23..(b * n + t + 1) * 23 {
            diff = diff.max((a.data()[i].as_f64() - c.data()[i].as_f64()).abs());
        }
    }
    diff / scale
}

#[test]
fn causal_decoder_never_sees_the_future() {
    let mut checked = 0;
    for (i, &n) in [1usize, 2, 7, 8, 13, 16, 31, 40].iter().enumerate() {
        for modes in [1usize, 3, 8, 21] {
            for pe in ["sinusoidal", "learned", "none"] {
                let seed = (i * 100 + modes) as u64;
                let m32 = decoder::<f32>(modes, true, pe, seed);
                let m64 = decoder::<f64>(modes, true, pe, seed);
                for t in [0, n / 3, n / 2, n.saturating_sub(2)] {
                    if t + 1 >= n {
                        continue;
                    }
                    let (e32, e64) = (leak(&m32, n, t, seed), leak(&m64, n, t, seed));
                    assert!(e32 <= 1e-6, "f32 leak {e32:.2e} at n={n} t={t} modes={modes} pe={pe}");
                    assert!(e64 <= 1e-12, "f64 leak {e64:.2e} at n={n} t={t} modes={modes} pe={pe}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 200, "checked {checked} cases");
}

#[test]
fn the_reference_decoder_leaks_the_future() {
    let m = decoder::<f64>(8, false, "sinusoidal", 3);
    let e = leak(&m, 16, 5, 1);
    assert!(e > 1e-4, "the non-causal operator must visibly depend on the future (got {e:.2e})");
}
