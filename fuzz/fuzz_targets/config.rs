//! `cargo fuzz run config`: see [`spectrans_fuzz::config`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spectrans_fuzz::config(data));
