//! `cargo fuzz run torch_file`: see [`spectrans_fuzz::torch_file`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spectrans_fuzz::torch_file(data));
