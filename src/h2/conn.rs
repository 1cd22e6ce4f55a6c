//! One HTTP/2 connection: a single thread reads frames through the [`Wire`] with deadlines and
//! drives every stream's timeline from a small scheduler (each stream has a wake-up time or
//! waits for flow-control window). Every stream is an exchange (`exchange.rs`): its plan is
//! chosen, journaled and run as HTTP/1's are, and its faults touch only that stream unless they
//! are connection faults (`goaway`, `ping-timeout`, `maxstreams`). What each frame does is in
//! `recv.rs`, sending the answers in `send.rs`, and each connection concern is a small state
//! machine of its own: `state.rs` (stream states), `flow_control.rs`, `settings.rs`,
//! `ping_pong.rs`, `go_away.rs`.
//!
//! Limits (what a client can make the server hold): frames of at most 16 KiB (the default
//! SETTINGS_MAX_FRAME_SIZE, which the server keeps), so the input buffer holds at most one frame
//! and its header beyond what was read; a header block of at most [`MAX_HEADER_BLOCK`] bytes
//! across at most [`MAX_CONTINUATIONS`] CONTINUATION frames; a decoded header list of at most
//! [`MAX_HEADER_LIST`]; an HPACK table of [`TABLE_SIZE`]; [`MAX_STREAMS`] streams at once, each
//! keeping at most [`MAX_KEPT_BODY`] request bytes; [`MAX_CLIENT_RESETS`] streams reset by the
//! client; every frame costs work linear in its size, and the frames queued to answer a batch of
//! input (SETTINGS and PING acknowledgements) are never larger than that input.
//!
//! Time (`--read-timeout`, T): the preface must arrive within T; a connection with no stream
//! open ends (GOAWAY) T after its last progress (a stream opened, request DATA, an answer
//! ended), whatever else it sends; a frame or header block begun must be whole within T; a
//! stream waiting for more of its request body, or for window to send its answer, waits T at
//! most for each (then RST_STREAM CANCEL, journaled as `timeout`).
//!
//! [`MAX_HEADER_BLOCK`]: super::recv::MAX_HEADER_BLOCK
//! [`MAX_CONTINUATIONS`]: super::recv::MAX_CONTINUATIONS
//! [`MAX_HEADER_LIST`]: super::settings::MAX_HEADER_LIST
//! [`TABLE_SIZE`]: super::settings::TABLE_SIZE
//! [`MAX_STREAMS`]: super::settings::MAX_STREAMS
//! [`MAX_KEPT_BODY`]: super::response::MAX_KEPT_BODY
//! [`MAX_CLIENT_RESETS`]: super::state::MAX_CLIENT_RESETS

use super::flow_control::{RecvWindow, SendWindow};
use super::frame::{self, Error, Head, Kind, Reason, Reset, HEAD_LEN, PREFACE};
use super::go_away::{ConnError, GoAway};
use super::hpack::{self, Decoder};
use super::ping_pong::PingPong;
use super::request;
use super::settings::{Local, Remote, RECV_WINDOW, TABLE_SIZE};
use super::state::{Closed, States};
use super::stream::Stream;
use crate::control::ctx::Ctx;
use crate::control::journal::End;
use crate::log::Val;
use crate::plan::Plan;
use crate::wire::{Fill, Wire};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Input buffer: a frame of the largest size the server accepts, and its header, and more.
const INPUT_CAP: usize = 64 * 1024;
/// The longest single wait when nothing is due (held streams): the loop just goes round.
const LONG_WAIT: Duration = Duration::from_secs(3600);

/// What the connection brings to every stream: over TLS, the server name the client sent and
/// the plan its SNI route chose for the connection.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The SNI route's plan, in place of the default plan on this connection.
    pub plan: Option<Arc<Plan>>,
    /// Over TLS: `Some`, with the server name the client sent (journal entries say so).
    pub tls: Option<Option<Arc<str>>>,
}

/// The request that arrived over HTTP/1.1 with `Upgrade: h2c`: it becomes stream 1.
pub struct Upgrade {
    /// Request fields as HTTP/2 has them (`:method`, `:path`, `:scheme`, `:authority`, ...).
    pub fields: hpack::Fields,
    /// The `HTTP2-Settings` header, decoded (a SETTINGS payload).
    pub settings: Vec<u8>,
}

/// Why the connection ends.
pub(super) enum Stop {
    /// The client closed or reset it, or the server stops.
    PeerGone,
    /// GOAWAY sent: FIN after the output.
    Close,
    /// Idle past the read timeout.
    Idle,
}

/// An open header block: HEADERS and the CONTINUATIONs so far.
pub(super) struct Block {
    pub stream: u32,
    pub end_stream: bool,
    pub bytes: Vec<u8>,
    pub continuations: usize,
    /// When its HEADERS came: the block must be whole within the read timeout.
    pub since: Instant,
}

pub(super) struct Conn<'c, W: Wire + ?Sized> {
    pub ctx: &'c Ctx,
    pub wire: &'c mut W,
    pub id: u64,
    pub peer: SocketAddr,
    pub out: Vec<u8>,
    pub decoder: Decoder,
    /// The open streams (open, or half-closed (remote)).
    pub streams: BTreeMap<u32, Stream>,
    /// Every other stream id.
    pub states: States,
    /// The connection's window for the server's DATA.
    pub send_window: SendWindow,
    /// The connection's window for the client's DATA.
    pub recv_window: RecvWindow,
    pub local: Local,
    pub remote: Remote,
    pub block: Option<Block>,
    pub go_away: GoAway,
    pub ping: PingPong,
    /// `--once`: this connection holds the one request; it ends after that stream.
    pub won: &'c mut bool,
    pub origin: Origin,
    /// The last progress: a stream opened, request DATA, an answer ended.
    pub progress: Instant,
    /// When the first bytes of a frame not yet whole arrived.
    pub partial_since: Option<Instant>,
}

/// Serves an HTTP/2 connection on `wire` until it ends. The client's preface is expected at
/// the front of the wire's input (it may still be arriving): anything else is the connection
/// error RFC 9113 section 3.4 names (GOAWAY PROTOCOL_ERROR), as after TLS's ALPN chose `h2`.
/// With `upgrade`, the server first answers the HTTP/1.1 request that asked for `h2c` as
/// stream 1 (the `101` is already sent). `won` is `--once`'s flag: set when this connection
/// takes the one request; `origin` what the connection (TLS) brings to its streams.
pub fn serve<W: Wire + ?Sized>(
    ctx: &Ctx,
    wire: &mut W,
    id: u64,
    peer: SocketAddr,
    upgrade: Option<Upgrade>,
    won: &mut bool,
    origin: Origin,
) {
    let mut out = Vec::with_capacity(1024);
    let local = Local::start(&mut out);
    let now = wire.now();
    let mut c = Conn {
        ctx,
        wire,
        id,
        peer,
        out,
        decoder: Decoder::new(TABLE_SIZE),
        streams: BTreeMap::new(),
        states: States::default(),
        send_window: SendWindow::new(frame::DEFAULT_WINDOW),
        recv_window: RecvWindow::new(RECV_WINDOW),
        local,
        remote: Remote::default(),
        block: None,
        go_away: GoAway::default(),
        ping: PingPong::default(),
        won,
        origin,
        progress: now,
        partial_since: None,
    };
    let stop = c.run(upgrade);
    c.finish(stop);
}

impl<W: Wire + ?Sized> Conn<'_, W> {
    fn run(&mut self, upgrade: Option<Upgrade>) -> Stop {
        if let Some(up) = upgrade {
            self.upgrade(up);
        }
        if !self.flush() {
            return Stop::PeerGone;
        }
        if let Err(stop) = self.read_preface() {
            return stop;
        }
        loop {
            if let Err(stop) = self.read_frames() {
                return stop;
            }
            if let Err(stop) = self.run_streams() {
                return stop;
            }
            if !self.flush() {
                return Stop::PeerGone;
            }
            if *self.won && self.streams.is_empty() && self.states.last() > 0 {
                GoAway::close(self.states.last(), Reason::NO_ERROR, "", &mut self.out);
                self.flush();
                return Stop::Close;
            }
            if self.go_away.is_going_away() && self.streams.is_empty() {
                return Stop::Close;
            }
            if let Err(stop) = self.fill() {
                return stop;
            }
        }
    }

    /// The `Upgrade: h2c` request: its `HTTP2-Settings` apply, and it is stream 1.
    fn upgrade(&mut self, up: Upgrade) {
        let head = Head {
            len: u32::try_from(up.settings.len()).unwrap_or(u32::MAX),
            kind: Kind::Settings,
            flags: 0,
            stream: 0,
        };
        if let Ok(s) = frame::Settings::load(&head, &up.settings) {
            self.remote.apply(&s.values);
        }
        let before = self.states.open(1);
        let req = request::upgraded(&up.fields);
        self.open(1, before, req, &up.fields, true);
    }

    /// Waits for input until something is due: a stream's timer, or the end of a wait for the
    /// client (see the module's "Time").
    fn fill(&mut self) -> Result<(), Stop> {
        let now = self.wire.now();
        let window = self.send_window.available();
        let busy = self.streams.values().any(|s| s.ready(now, window));
        let due = self.next_deadline(now);
        // A deadline already passed still gets a short read, so input is never starved by
        // streams that always have something to send.
        let deadline = if busy { now } else { due };
        let deadline = deadline.max(now + Duration::from_millis(1));
        match self.wire.fill(deadline, INPUT_CAP) {
            Fill::Data(_) if self.wire.now() < due => Ok(()),
            // Input that never pauses (a PING flood answered at once) must not keep a wait
            // from ending: what is due is due whatever arrived meanwhile.
            Fill::Data(_) | Fill::Timeout => self.expire(),
            Fill::Full => self.conn_error(ConnError::new(
                Reason::FRAME_SIZE_ERROR,
                "frame larger than 16384",
            )),
            Fill::Eof | Fill::Gone => Err(Stop::PeerGone),
        }
    }

    /// The earliest time something is due.
    fn next_deadline(&self, now: Instant) -> Instant {
        let t = self.ctx.settings.read_timeout;
        let mut next = now + LONG_WAIT;
        for s in self.streams.values() {
            let due = [s.wake, s.client_deadline(t)];
            next = due.into_iter().flatten().fold(next, Instant::min);
        }
        if self.streams.is_empty() {
            next = next.min(self.progress + t);
        }
        if let Some(at) = self.frame_begun() {
            next = next.min(at + t);
        }
        next
    }

    /// Since when a frame or a header block has been arriving and is not whole yet.
    fn frame_begun(&self) -> Option<Instant> {
        let block = self.block.as_ref().map(|b| b.since);
        match (self.partial_since, block) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Ends what waited too long for the client: the connection when a frame stays partial
    /// or no stream is open, or each stream whose wait is over.
    fn expire(&mut self) -> Result<(), Stop> {
        let now = self.wire.now();
        let t = self.ctx.settings.read_timeout;
        if self.frame_begun().is_some_and(|at| now >= at + t) {
            return self.timed_out("read timeout: a frame not whole within --read-timeout");
        }
        let late: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| s.client_deadline(t).is_some_and(|d| d <= now))
            .map(|(&id, _)| id)
            .collect();
        for id in late {
            if let Some(mut s) = self.streams.remove(&id) {
                Reset::encode(id, Reason::CANCEL, &mut self.out);
                self.report(&mut s, End::Timeout);
                self.states.close(id, Closed::ByServer);
            }
        }
        if self.streams.is_empty() && now >= self.progress + t {
            GoAway::close(self.states.last(), Reason::NO_ERROR, "", &mut self.out);
            self.flush();
            return Err(Stop::Idle);
        }
        Ok(())
    }

    /// GOAWAY NO_ERROR for a client too slow to finish a frame; logged.
    fn timed_out(&mut self, why: &str) -> Result<(), Stop> {
        GoAway::close(self.states.last(), Reason::NO_ERROR, why, &mut self.out);
        self.flush();
        self.event("h2-timeout", "no_error", why);
        Err(Stop::Close)
    }

    fn read_preface(&mut self) -> Result<(), Stop> {
        let deadline = self.wire.now() + self.ctx.settings.read_timeout;
        loop {
            let input = self.wire.input();
            let n = input.len().min(PREFACE.len());
            if input[..n] != PREFACE[..n] {
                // Not HTTP/2 after all (section 3.4): a connection error before anything else.
                return self.conn_error(ConnError::new(
                    Reason::PROTOCOL_ERROR,
                    "bad connection preface",
                ));
            }
            if n == PREFACE.len() {
                self.wire.consume(n);
                self.progress = self.wire.now();
                return Ok(());
            }
            match self.wire.fill(deadline, INPUT_CAP) {
                Fill::Data(_) => {}
                Fill::Timeout => return Err(Stop::Idle),
                _ => return Err(Stop::PeerGone),
            }
        }
    }

    /// Sends GOAWAY for a connection error (last-stream-id: the highest stream seen), logs it,
    /// and ends.
    pub(super) fn conn_error<T>(&mut self, e: ConnError) -> Result<T, Stop> {
        GoAway::close(self.states.last(), e.reason, e.why, &mut self.out);
        self.flush();
        self.event("h2-error", &e.reason.to_string(), e.why);
        Err(Stop::Close)
    }

    fn event(&self, name: &str, code: &str, why: &str) {
        let peer = self.peer.to_string();
        self.ctx.conn_event(
            name,
            &[
                ("conn", Val::Num(self.id)),
                ("peer", Val::Str(&peer)),
                ("code", Val::Str(code)),
                ("reason", Val::Str(why)),
            ],
        );
    }

    pub(super) fn flush(&mut self) -> bool {
        if self.out.is_empty() {
            return true;
        }
        let ok = self.wire.write_all(&self.out).is_ok();
        self.out.clear();
        if self.out.capacity() > 256 * 1024 {
            self.out = Vec::with_capacity(1024);
        }
        ok
    }

    /// Handles every complete frame in the input.
    fn read_frames(&mut self) -> Result<(), Stop> {
        let mut whole = false;
        while let Some(head) = Head::parse(self.wire.input()) {
            if head.len > frame::DEFAULT_MAX_FRAME {
                return self.conn_error(ConnError::new(
                    Reason::FRAME_SIZE_ERROR,
                    "frame larger than 16384",
                ));
            }
            let total = HEAD_LEN + head.len as usize;
            if self.wire.input().len() < total {
                break;
            }
            whole = true;
            let payload = self.wire.input()[HEAD_LEN..total].to_vec();
            self.wire.consume(total);
            match self.frame(&head, &payload) {
                Ok(()) => {}
                Err(Error::Conn(reason, why)) => {
                    return self.conn_error(ConnError::new(reason, why))
                }
                Err(Error::Stream(id, reason)) => self.stream_error(id, reason),
            }
        }
        // What is left is the start of a frame: it has until the read timeout to be whole.
        self.partial_since = match self.partial_since {
            _ if self.wire.input().is_empty() => None,
            Some(at) if !whole => Some(at),
            _ => Some(self.wire.now()),
        };
        self.give_window();
        Ok(())
    }

    /// The connection ends: streams not reported yet end with it.
    fn finish(&mut self, stop: Stop) {
        let end = match stop {
            Stop::PeerGone => End::PeerGone,
            Stop::Close | Stop::Idle => End::Close,
        };
        let streams = std::mem::take(&mut self.streams);
        for mut s in streams.into_values() {
            self.report(&mut s, end);
        }
        match stop {
            Stop::PeerGone => {}
            Stop::Close | Stop::Idle => self.wire.close(true),
        }
    }
}
