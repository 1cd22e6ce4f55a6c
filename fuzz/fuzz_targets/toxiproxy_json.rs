//! Fuzz target `toxiproxy_json`: see `httpfault_fuzz::toxiproxy_json` for the properties it
//! asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| httpfault_fuzz::toxiproxy_json(data));
