#![no_main]
//! Fuzz target `tls`: see `wsaudit_fuzz::tls` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsaudit_fuzz::tls(data));
