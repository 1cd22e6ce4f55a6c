//! HTTP/2 (RFC 9113), served on the same listener as HTTP/1.1 (prior knowledge, `Upgrade: h2c`)
//! and over TLS when ALPN chooses `h2`. The connection is a loop and a few small state machines,
//! as hyperium/h2's `proto/` is:
//!
//! ```text
//! conn.rs          the connection loop: preface, reading frames, deadlines, GOAWAY on errors
//! recv.rs          what each frame from the client does (section 6)
//! send.rs          each stream's answer on the wire: HEADERS, paced DATA, cuts, trailers
//! exchange.rs      a stream as an exchange: its plan, its journal entry, its answer
//! stream.rs        one open stream's data, and the waits it is in
//! state.rs         stream states (section 5.1) for ids not open; rapid-reset counting
//! flow_control.rs  send and receive windows (sections 5.2, 6.9)
//! settings.rs      the server's SETTINGS and what the client's change (section 6.5)
//! ping_pong.rs     PING answers (section 6.7)
//! go_away.rs       GOAWAY: graceful, and connection errors with their debug text (6.8)
//! request.rs       a request's fields: the malformed ones (section 8), its text for the journal
//! response.rs      what one stream answers, from its plan (pure)
//! frame/, hpack/   the frame layer (one file per frame type) and HPACK (RFC 7541)
//! mem.rs           a connection in memory over a virtual clock (fuzzing)
//! ```
//!
//! Everything runs over any [`Wire`]: the plain socket, or a TLS session.
//!
//! [`Wire`]: crate::wire::Wire

mod conn;
mod exchange;
mod flow_control;
pub mod frame;
mod go_away;
pub mod hpack;
pub mod mem;
mod ping_pong;
mod recv;
mod request;
mod response;
mod send;
mod settings;
mod state;
mod stream;

pub use conn::{serve, Origin, Upgrade};
pub use frame::PREFACE;
pub use recv::{MAX_CONTINUATIONS, MAX_HEADER_BLOCK};
pub use settings::{MAX_HEADER_LIST, MAX_STREAMS, TABLE_SIZE};
pub use state::MAX_CLIENT_RESETS;

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
