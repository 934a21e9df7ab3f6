#![no_main]
//! Fuzz target `http_upgrade`: see `wsaudit_fuzz::http_upgrade` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsaudit_fuzz::http_upgrade(data));
