#![no_main]
//! Fuzz target `ws_decoder`: see `wsaudit_fuzz::ws_decoder` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsaudit_fuzz::ws_decoder(data));
