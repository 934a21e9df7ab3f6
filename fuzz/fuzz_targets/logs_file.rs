#![no_main]
//! Fuzz target `logs_file`: see `wsaudit_fuzz::logs_file` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsaudit_fuzz::logs_file(data));
