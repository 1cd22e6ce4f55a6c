//! HTTP/2 over cleartext (RFC 9113): the frame layer, HPACK, and a connection loop of its own.
pub mod frame;
pub mod hpack;
