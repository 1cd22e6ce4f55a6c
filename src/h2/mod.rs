//! HTTP/2 over cleartext (RFC 9113), served on the same listener as HTTP/1.1: the frame layer
//! (`frame/`, one file per frame type), HPACK (`hpack/`), the answer of one stream
//! (`response.rs`) and the connection loop (`conn.rs`), which runs over any [`Wire`]: the
//! plain socket, or a TLS session whose ALPN chose `h2`.
//!
//! [`Wire`]: crate::wire::Wire

mod conn;
pub mod frame;
pub mod hpack;
pub mod mem;
mod response;

pub use conn::{
    serve, Origin, Upgrade, MAX_CONTINUATIONS, MAX_HEADER_BLOCK, MAX_HEADER_LIST, MAX_STREAMS,
    TABLE_SIZE,
};
pub use frame::PREFACE;

use crate::wire::Wire;

/// Where the input stands against the client connection preface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preface {
    /// The whole preface is there: HTTP/2 with prior knowledge.
    Complete,
    /// What is there is the start of the preface: read more to tell.
    Partial,
    /// Not the preface: HTTP/1.x.
    No,
}

/// Checks the front of a connection's first bytes for the HTTP/2 preface.
pub fn preface(input: &[u8]) -> Preface {
    let n = input.len().min(PREFACE.len());
    if input[..n] != PREFACE[..n] {
        Preface::No
    } else if n == PREFACE.len() {
        Preface::Complete
    } else {
        Preface::Partial
    }
}

/// Refuses a connection that opened with the preface: the server's SETTINGS, then GOAWAY
/// (HTTP_1_1_REQUIRED, last stream 0: nothing was processed, RFC 9113 section 6.8) with
/// `reason` as its debug data, then a clean close that reads what the client still sends.
pub fn refuse<W: Wire + ?Sized>(wire: &mut W, reason: &str) {
    let mut out = Vec::with_capacity(64);
    frame::Settings::encode(&[], &mut out);
    frame::GoAway::encode(0, frame::Reason(0xd), reason.as_bytes(), &mut out);
    if wire.write_all(&out).is_ok() {
        wire.close(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preface_is_told_apart_from_http1() {
        assert_eq!(preface(b""), Preface::Partial);
        assert_eq!(preface(b"PRI * HTTP/2"), Preface::Partial);
        assert_eq!(preface(PREFACE), Preface::Complete);
        assert_eq!(preface(b"GET / HTTP/1.1\r\n"), Preface::No);
        assert_eq!(preface(b"PRI * HTTP/1.1\r\n"), Preface::No);
    }
}
