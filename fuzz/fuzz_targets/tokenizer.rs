//! `cargo fuzz run tokenizer`: see [`spectrans_fuzz::tokenizer`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spectrans_fuzz::tokenizer(data));
