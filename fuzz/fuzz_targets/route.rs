//! Fuzz target `route`: see `httpfault_fuzz::route` for the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| httpfault_fuzz::route(data));
