#![no_main]
//! See `hotline_ingest::fuzz::calendar`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hotline_ingest::fuzz::calendar(data));
