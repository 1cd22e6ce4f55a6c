//! Fuzz target `plan`: see `httpfault_fuzz::plan` for the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| httpfault_fuzz::plan(data));
