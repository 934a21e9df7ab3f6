#![no_main]
//! Fuzz target `close_payload`: see `wsaudit_fuzz::close_payload` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsaudit_fuzz::close_payload(data));
