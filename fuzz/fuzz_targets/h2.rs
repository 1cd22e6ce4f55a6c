//! Fuzz target `h2`: see `httpfault_fuzz::h2` for the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| httpfault_fuzz::h2(data));
