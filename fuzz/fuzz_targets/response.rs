//! Fuzz target `response`: see `httpfault_fuzz::response` for the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| httpfault_fuzz::response(data));
