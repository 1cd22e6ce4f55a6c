//! HTTP/1.1 message syntax (RFC 9112), pure: request heads, header fields, chunked framing.
//! No I/O. Shared by the server's HTTP/1.1 engine, proxy mode and the journal.

pub mod fields;
pub mod request;
pub mod response;
