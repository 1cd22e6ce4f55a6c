//! Fuzz target `units`: see `httpfault_fuzz::units` for the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| httpfault_fuzz::units(data));
