#![no_main]
//! Fuzz target `logs_json`: see `wsaudit_fuzz::logs_json` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsaudit_fuzz::logs_json(data));
