//! Fuzz target `chunked`: see `httpfault_fuzz::chunked` for the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| httpfault_fuzz::chunked(data));
