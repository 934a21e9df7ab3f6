#![no_main]
//! Fuzz target `conn_table`: see `wsaudit_fuzz::conn_table` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsaudit_fuzz::conn_table(data));
