//! Fuzz target `ws_frame`: see `httpfault_fuzz::ws_frame` for the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| httpfault_fuzz::ws_frame(data));
