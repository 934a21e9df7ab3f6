#![no_main]
//! Fuzz target `keylog`: see `wsaudit_fuzz::keylog` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsaudit_fuzz::keylog(data));
