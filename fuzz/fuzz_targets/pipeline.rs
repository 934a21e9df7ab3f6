#![no_main]
//! Fuzz target `pipeline`: see `wsaudit_fuzz::pipeline` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsaudit_fuzz::pipeline(data));
