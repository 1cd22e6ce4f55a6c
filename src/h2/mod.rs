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

/// Decodes base64url without padding (RFC 4648 section 5), as `HTTP2-Settings` carries a
/// SETTINGS payload; `None` on a bad character.
pub fn base64url(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in text.iter().filter(|&&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
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

    #[test]
    fn base64url_decodes_settings() {
        // curl's HTTP2-Settings: SETTINGS_MAX_CONCURRENT_STREAMS=100, INITIAL_WINDOW_SIZE...
        assert_eq!(base64url(b"AAMAAABkAAQCAAAAAAIAAAAA").unwrap().len(), 18);
        assert_eq!(base64url(b"AAMAAABk").unwrap(), [0, 3, 0, 0, 0, 100]);
        assert_eq!(base64url(b"A*"), None);
    }
}
