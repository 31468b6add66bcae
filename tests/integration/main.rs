//! The integration tests, in one test binary: each module was its own test crate, but every
//! crate linked (and monomorphised) the whole stack again, which was most of CI's build time.
//! `cargo test --release --test integration golden::` runs one module.

mod common;

mod bad_inputs;
mod bad_inputs_cli;
mod bad_inputs_sizes;
mod bad_torch_files;
mod causality;
mod cli_decoder;
mod cli_forward;
mod cli_info;
mod crash_safety;
mod darcy_task;
mod determinism;
mod fuzz_regressions;
mod golden;
mod layering;
mod module_cycles;
mod torch_checkpoints;
mod train_cli;
