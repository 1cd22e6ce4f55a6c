//! GOAWAY from the server (RFC 9113 section 6.8): the graceful kind (`goaway-keep`: the stream
//! that asked is answered, later ones are refused, the connection closes when the last stream is
//! done), and the one that ends a connection at once: a connection error (section 5.4.1) with
//! the code the RFC names and debug data saying which rule broke, a `goaway=CODE` cut, the end of
//! a `--once` connection, a read timeout. Pure.

use super::frame::{self, Reason};
use std::fmt;

/// A connection error: GOAWAY with this code, and debug data that says why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnError {
    /// The error code.
    pub reason: Reason,
    /// Which rule broke, as the GOAWAY's debug data and the log line say.
    pub why: &'static str,
}

impl ConnError {
    /// A connection error of `reason` because of `why`.
    pub const fn new(reason: Reason, why: &'static str) -> ConnError {
        ConnError { reason, why }
    }
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.why)
    }
}

/// The server's GOAWAY state.
#[derive(Debug, Default)]
pub struct GoAway {
    /// The last-stream-id of the graceful GOAWAY sent, if one was.
    last: Option<u32>,
}

impl GoAway {
    /// `goaway-keep` on stream `id`: GOAWAY NO_ERROR with last-stream-id `id` (once: a later
    /// one would have to name a lower id, and `id` is the highest yet).
    pub fn graceful(&mut self, id: u32, out: &mut Vec<u8>) {
        if self.last.is_none() {
            frame::GoAway::encode(id, Reason::NO_ERROR, b"", out);
            self.last = Some(id);
        }
    }

    /// A graceful GOAWAY went out: the connection ends when its streams are done.
    pub fn is_going_away(&self) -> bool {
        self.last.is_some()
    }

    /// A new stream `id` comes after the last-stream-id the server announced: refused.
    pub fn refuses(&self, id: u32) -> bool {
        self.last.is_some_and(|last| id > last)
    }

    /// Appends the GOAWAY that ends the connection now: `last` is the highest stream the
    /// server may have acted on.
    pub fn close(last: u32, reason: Reason, why: &str, out: &mut Vec<u8>) {
        frame::GoAway::encode(last, reason, why.as_bytes(), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h2::frame::Head;

    #[test]
    fn goaway_keep_refuses_only_later_streams_and_is_sent_once() {
        let mut g = GoAway::default();
        assert!(!g.is_going_away() && !g.refuses(99));
        let mut out = Vec::new();
        g.graceful(5, &mut out);
        assert_eq!(out.len(), 9 + 8);
        assert_eq!(&out[9..], [0, 0, 0, 5, 0, 0, 0, 0]);
        g.graceful(7, &mut out);
        assert_eq!(out.len(), 17, "only one graceful GOAWAY");
        assert!(g.is_going_away());
        assert!(!g.refuses(5) && g.refuses(7));
    }

    #[test]
    fn a_connection_error_carries_its_code_and_why_as_debug_data() {
        let e = ConnError::new(Reason::FLOW_CONTROL_ERROR, "DATA beyond the window");
        assert_eq!(e.to_string(), "flow_control_error: DATA beyond the window");
        let mut out = Vec::new();
        GoAway::close(3, e.reason, e.why, &mut out);
        let head = Head::parse(&out).unwrap();
        let g = frame::GoAway::load(&head, &out[9..]).unwrap();
        assert_eq!((g.last_stream, g.reason), (3, Reason::FLOW_CONTROL_ERROR));
        assert_eq!(&out[17..], b"DATA beyond the window");
    }
}
