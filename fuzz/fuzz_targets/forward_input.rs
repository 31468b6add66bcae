//! `cargo fuzz run forward_input`: see [`spectrans_fuzz::forward_input`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spectrans_fuzz::forward_input(data));
