#![no_main]
//! Fuzz target `frame_header`: see `wsaudit_fuzz::frame_header` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsaudit_fuzz::frame_header(data));
