#![no_main]
//! See `hotline_ingest::fuzz::config`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hotline_ingest::fuzz::config(data));
