//! `cargo fuzz run resume`: see [`spectrans_fuzz::resume`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spectrans_fuzz::resume(data));
