#![no_main]
//! Fuzz target `reassembler`: see `wsaudit_fuzz::reassembler` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsaudit_fuzz::reassembler(data));
