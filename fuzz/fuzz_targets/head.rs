//! Fuzz target `head`: see `httpfault_fuzz::head` for the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| httpfault_fuzz::head(data));
