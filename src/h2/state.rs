//! Stream states (RFC 9113 section 5.1) as the client's frames see them. The connection keeps
//! its open streams (open, or half-closed (remote) once the request is in) in a map of its own;
//! this is everything else: idle ids above the highest opened, ids skipped below it (closed
//! without ever opening, section 5.1.1), and how recently closed streams ended, which decides
//! what a late frame for them means:
//!
//! ```text
//! closed by           DATA / HEADERS from the client         PRIORITY, WINDOW_UPDATE, RST
//! both END_STREAMs    connection error STREAM_CLOSED         ignored
//! the client's RST    stream error STREAM_CLOSED (once)      ignored
//! the server          ignored (sent before the client knew)  ignored
//! never opened        HEADERS: PROTOCOL_ERROR (5.1.1),       ignored
//!                     DATA: connection error STREAM_CLOSED
//! ```
//!
//! It also counts the streams the client resets while the server still holds them (the rapid
//! reset of CVE-2023-44487). Pure.

use super::frame::{Kind, Reason};
use super::go_away::ConnError;
use std::collections::BTreeMap;

/// Streams the client may reset while the server holds them (waiting for their request body,
/// a delayed answer, mid-body, held), on one connection; one more is GOAWAY ENHANCE_YOUR_CALM.
pub const MAX_CLIENT_RESETS: u64 = 1000;
/// Closed streams whose end is remembered; frames for streams closed longer ago are ignored.
pub const REMEMBERED: usize = 256;

/// How a stream closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// Both ends sent END_STREAM: more DATA or HEADERS from the client is a connection error.
    Ended,
    /// The client reset it: DATA or HEADERS after that is a stream error STREAM_CLOSED.
    ResetByClient,
    /// The server reset or refused it, or finished its answer while the request was still
    /// arriving: what the client sent before it knew is ignored (section 5.1, "closed").
    ByServer,
}

/// What a frame for a stream that is not open means.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// HEADERS on an idle stream: a new stream.
    Open,
    /// Dropped (a DATA frame's bytes still count against the connection's window).
    Ignore,
    /// RST_STREAM with this code.
    Stream(Reason),
    /// GOAWAY: the connection ends.
    Conn(ConnError),
}

/// The client's stream ids that are not open.
#[derive(Debug, Default)]
pub struct States {
    /// The highest id opened (or refused): higher ids are idle.
    last: u32,
    /// Recently closed streams, at most [`REMEMBERED`].
    closed: BTreeMap<u32, Closed>,
    /// Ids at or below this one are forgotten: their frames are ignored.
    floor: u32,
    /// Streams the client reset while the server held them.
    resets: u64,
}

impl States {
    /// The highest stream id opened so far (GOAWAY's last-stream-id on an error).
    pub fn last(&self) -> u32 {
        self.last
    }

    /// Stream `id` opens (it had [`Verdict::Open`]); returns the highest id opened before it.
    pub fn open(&mut self, id: u32) -> u32 {
        let before = self.last;
        self.last = self.last.max(id);
        before
    }

    /// Stream `id` left the open set, ended `how`.
    pub fn close(&mut self, id: u32, how: Closed) {
        if id <= self.floor {
            return;
        }
        self.closed.insert(id, how);
        while self.closed.len() > REMEMBERED {
            match self.closed.pop_first() {
                Some((old, _)) => self.floor = self.floor.max(old),
                None => break,
            }
        }
    }

    /// The client reset stream `id` while the server held it: counts toward
    /// [`MAX_CLIENT_RESETS`], past which the connection ends.
    pub fn client_reset(&mut self, id: u32) -> Result<(), ConnError> {
        self.close(id, Closed::ResetByClient);
        self.resets += 1;
        if self.resets > MAX_CLIENT_RESETS {
            return Err(ConnError::new(
                Reason::ENHANCE_YOUR_CALM,
                "more than 1000 streams reset by the client (rapid reset)",
            ));
        }
        Ok(())
    }

    /// What a frame of `kind` on stream `id` means, `id` not being open.
    pub fn verdict(&mut self, kind: Kind, id: u32) -> Verdict {
        if id > self.last {
            return idle(kind, id);
        }
        if !matches!(kind, Kind::Data | Kind::Headers) {
            return Verdict::Ignore;
        }
        match self.closed.get_mut(&id) {
            Some(Closed::Ended) => Verdict::Conn(ConnError::new(
                Reason::STREAM_CLOSED,
                "DATA or HEADERS on a stream both ends closed",
            )),
            Some(how @ Closed::ResetByClient) => {
                // The server's RST_STREAM closes it on its side too: later frames are ignored.
                *how = Closed::ByServer;
                Verdict::Stream(Reason::STREAM_CLOSED)
            }
            Some(Closed::ByServer) => Verdict::Ignore,
            None if id <= self.floor => Verdict::Ignore,
            None if kind == Kind::Headers => Verdict::Conn(ConnError::new(
                Reason::PROTOCOL_ERROR,
                "HEADERS opening a stream id lower than one already opened",
            )),
            None => Verdict::Conn(ConnError::new(
                Reason::STREAM_CLOSED,
                "DATA on a stream that was never opened",
            )),
        }
    }
}

/// A frame on an idle stream (section 5.1, "idle").
fn idle(kind: Kind, id: u32) -> Verdict {
    let error = |why| Verdict::Conn(ConnError::new(Reason::PROTOCOL_ERROR, why));
    match kind {
        Kind::Headers if id % 2 == 1 => Verdict::Open,
        Kind::Headers => error("HEADERS on an even stream id (the server's)"),
        Kind::Data => error("DATA on an idle stream"),
        Kind::Reset => error("RST_STREAM on an idle stream"),
        Kind::WindowUpdate => error("WINDOW_UPDATE on an idle stream"),
        Kind::Continuation => error("CONTINUATION outside a header block"),
        _ => Verdict::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(v: Verdict) -> (&'static str, Reason) {
        match v {
            Verdict::Conn(e) => ("conn", e.reason),
            Verdict::Stream(r) => ("stream", r),
            Verdict::Open => ("open", Reason::NO_ERROR),
            Verdict::Ignore => ("ignore", Reason::NO_ERROR),
        }
    }

    #[test]
    fn idle_ids_open_with_headers_only() {
        let mut s = States::default();
        assert_eq!(s.verdict(Kind::Headers, 1), Verdict::Open);
        assert_eq!(code(s.verdict(Kind::Headers, 2)).1, Reason::PROTOCOL_ERROR);
        for kind in [Kind::Data, Kind::Reset, Kind::WindowUpdate] {
            assert_eq!(
                code(s.verdict(kind, 1)),
                ("conn", Reason::PROTOCOL_ERROR),
                "{kind:?}"
            );
        }
        assert_eq!(s.verdict(Kind::Priority, 9), Verdict::Ignore);
        assert_eq!(s.open(1), 0);
        assert_eq!(s.open(5), 1);
        assert_eq!(s.last(), 5);
    }

    /// h2spec 5.1/11, 5.1/12, 6.1/2: frames after both ends closed the stream.
    #[test]
    fn data_or_headers_after_both_ends_closed_is_a_connection_error() {
        let mut s = States::default();
        s.open(1);
        s.close(1, Closed::Ended);
        for kind in [Kind::Data, Kind::Headers] {
            assert_eq!(code(s.verdict(kind, 1)), ("conn", Reason::STREAM_CLOSED));
        }
        for kind in [Kind::Priority, Kind::WindowUpdate, Kind::Reset] {
            assert_eq!(s.verdict(kind, 1), Verdict::Ignore, "{kind:?}");
        }
    }

    /// h2spec 5.1/8, 5.1/9: frames after the client's own RST_STREAM.
    #[test]
    fn data_after_the_clients_reset_is_a_stream_error_once_then_ignored() {
        let mut s = States::default();
        s.open(1);
        s.client_reset(1).unwrap();
        assert_eq!(s.verdict(Kind::WindowUpdate, 1), Verdict::Ignore);
        assert_eq!(
            code(s.verdict(Kind::Data, 1)),
            ("stream", Reason::STREAM_CLOSED)
        );
        assert_eq!(s.verdict(Kind::Data, 1), Verdict::Ignore);
        assert_eq!(s.verdict(Kind::Headers, 1), Verdict::Ignore);
    }

    #[test]
    fn frames_in_flight_after_the_servers_reset_are_ignored() {
        let mut s = States::default();
        s.open(3);
        s.close(3, Closed::ByServer);
        assert_eq!(s.verdict(Kind::Data, 3), Verdict::Ignore);
        assert_eq!(s.verdict(Kind::Headers, 3), Verdict::Ignore);
    }

    /// h2spec 5.1.1/2: HEADERS on stream 3 after stream 5.
    #[test]
    fn a_skipped_id_is_closed_and_headers_on_it_is_a_protocol_error() {
        let mut s = States::default();
        assert_eq!(s.verdict(Kind::Headers, 5), Verdict::Open);
        s.open(5);
        assert_eq!(
            code(s.verdict(Kind::Headers, 3)),
            ("conn", Reason::PROTOCOL_ERROR)
        );
        assert_eq!(
            code(s.verdict(Kind::Data, 3)),
            ("conn", Reason::STREAM_CLOSED)
        );
        assert_eq!(s.verdict(Kind::Reset, 3), Verdict::Ignore);
    }

    #[test]
    fn memory_is_bounded_and_forgotten_streams_are_ignored() {
        let mut s = States::default();
        let n = REMEMBERED as u32 * 4;
        for i in 0..n {
            let id = 2 * i + 1;
            s.open(id);
            s.close(id, Closed::Ended);
        }
        assert_eq!(s.closed.len(), REMEMBERED);
        // The oldest are forgotten; the newest are still known.
        assert_eq!(s.verdict(Kind::Data, 1), Verdict::Ignore);
        assert_eq!(s.verdict(Kind::Headers, 2), Verdict::Ignore);
        let newest = 2 * (n - 1) + 1;
        assert_eq!(
            code(s.verdict(Kind::Data, newest)),
            ("conn", Reason::STREAM_CLOSED)
        );
        // A stream closing long after its id: forgotten at once, never kept.
        s.close(1, Closed::Ended);
        assert_eq!(s.closed.len(), REMEMBERED);
    }

    #[test]
    fn the_1001st_client_reset_is_enhance_your_calm() {
        let mut s = States::default();
        for i in 0..MAX_CLIENT_RESETS {
            let id = 2 * u32::try_from(i).unwrap() + 1;
            s.open(id);
            s.client_reset(id).unwrap();
        }
        s.open(2001);
        let e = s.client_reset(2001).unwrap_err();
        assert_eq!(e.reason, Reason::ENHANCE_YOUR_CALM);
        assert!(e.why.contains("rapid reset"), "{e}");
    }
}
