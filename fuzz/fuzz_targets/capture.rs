#![no_main]
//! Fuzz target `capture`: see `wsaudit_fuzz::capture` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsaudit_fuzz::capture(data));
