#![no_main]
//! Fuzz target `logs_access`: see `wsaudit_fuzz::logs_access` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsaudit_fuzz::logs_access(data));
