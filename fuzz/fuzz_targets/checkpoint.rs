//! `cargo fuzz run checkpoint`: see [`spectrans_fuzz::checkpoint`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spectrans_fuzz::checkpoint(data));
