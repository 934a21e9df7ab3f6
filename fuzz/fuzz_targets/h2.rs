#![no_main]
//! Fuzz target `h2`: see `wsaudit_fuzz::h2` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsaudit_fuzz::h2(data));
