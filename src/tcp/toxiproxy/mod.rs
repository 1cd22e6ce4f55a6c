//! toxiproxy's HTTP API over TCP mode's relay.

pub mod json;
