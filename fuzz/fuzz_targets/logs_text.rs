#![no_main]
//! Fuzz target `logs_text`: see `wsaudit_fuzz::logs_text` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsaudit_fuzz::logs_text(data));
