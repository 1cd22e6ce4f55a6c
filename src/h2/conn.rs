//! One HTTP/2 connection: a single thread reads frames through the [`Wire`] with deadlines and
//! drives every stream's timeline from a small scheduler (each stream has a wake-up time or
//! waits for flow-control window). Every stream is an exchange: its plan is chosen, journaled
//! and run as HTTP/1's are, and its faults touch only that stream unless they are connection
//! faults (`goaway`, `ping-timeout`, `maxstreams`).
//!
//! Limits (what a client can make the server hold): frames of at most 16 KiB (the default
//! SETTINGS_MAX_FRAME_SIZE, which the server keeps), so the input buffer holds at most one frame
//! and its header beyond what was read; a header block of at most [`MAX_HEADER_BLOCK`] bytes
//! across at most [`MAX_CONTINUATIONS`] CONTINUATION frames; a decoded header list of at most
//! [`MAX_HEADER_LIST`]; an HPACK table of [`TABLE_SIZE`]; [`MAX_STREAMS`] streams at once, each
//! keeping at most [`MAX_KEPT_BODY`] request bytes; every frame costs work linear in its
//! size, and the frames queued to answer a batch of input (SETTINGS and PING acknowledgements)
//! are never larger than that input.

use super::frame::{
    self, flag, Continuation, Data, GoAway, Head, Headers, Kind, Ping, Priority, Reason, Reset,
    Setting, Settings, WindowUpdate, HEAD_LEN, PREFACE,
};
use super::hpack::{self, DecodeError, Decoder};
use super::response::{self, Answer, Cut, Req, MAX_KEPT_BODY};
use crate::control;
use crate::control::ctx::{BadPlan, Ctx};
use crate::control::journal::{End, Entry};
use crate::http1::exchange::MAX_HASHED_BODY;
use crate::log::Val;
use crate::plan::steps::Proto;
use crate::plan::{Body, Plan};
use crate::sha256::Sha256;
use crate::wire::{Fill, Wire};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Streams open at once (SETTINGS_MAX_CONCURRENT_STREAMS unless a plan says less).
pub const MAX_STREAMS: u32 = 100;
/// The HPACK dynamic table size the server allows (SETTINGS_HEADER_TABLE_SIZE, the default).
pub const TABLE_SIZE: usize = 4096;
/// Decoded header list (SETTINGS_MAX_HEADER_LIST_SIZE): names, values and 32 a field.
pub const MAX_HEADER_LIST: usize = 16 * 1024;
/// Most bytes of one header block (HEADERS and its CONTINUATIONs); more is ENHANCE_YOUR_CALM.
pub const MAX_HEADER_BLOCK: usize = 64 * 1024;
/// Most CONTINUATION frames in one header block (the CONTINUATION flood of 2024).
pub const MAX_CONTINUATIONS: usize = 64;
/// Streams a client may open and reset before the server answers them (rapid reset).
const MAX_EARLY_RESETS: u64 = 1000;
/// The receive window the server gives back to at once (and its initial stream window).
const RECV_WINDOW: u32 = frame::DEFAULT_WINDOW;
/// Most DATA bytes written for one stream in one turn of the loop, so streams take turns.
const TURN: usize = 64 * 1024;
/// Input buffer: a frame of the largest size the server accepts, and its header, and more.
const INPUT_CAP: usize = 64 * 1024;

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

/// Where a stream is.
#[derive(Debug, PartialEq, Eq)]
enum Phase {
    /// The request body is still arriving.
    Request,
    /// The answer is ready; HEADERS at `wake`.
    Head,
    /// DATA at `wake` (or when window opens).
    Body,
    /// Sent all it will send; kept until the client resets it or leaves (stall, hang).
    Held,
}

struct Stream {
    plan: Arc<Plan>,
    entry: Option<Arc<Entry>>,
    arrived: Instant,
    /// The highest stream id opened before this one (GOAWAY's last-stream-id for `goaway=`).
    before: u32,
    /// The request as HTTP/1-style text, for `echo`.
    text_head: Vec<u8>,
    grpc_req: bool,
    head_only: bool,
    body: Vec<u8>,
    body_len: u64,
    /// The journal's `body_sha256`, hashed as DATA arrives (`None`: no body, or past
    /// [`MAX_HASHED_BODY`]).
    sha: Option<Sha256>,
    /// The request body passed [`MAX_KEPT_BODY`] while the plan needs it kept.
    too_large: bool,
    req_done: bool,
    /// Request bytes received and not given back as stream window.
    unacked: u32,
    send_window: i64,
    phase: Phase,
    wake: Option<Instant>,
    answer: Option<Answer>,
    sent: u64,
    status: Option<u16>,
    /// Pauses still to come: (body offset, duration), in offset order.
    pauses: Vec<(u64, Duration)>,
    body_start: Option<Instant>,
    /// The outcome went to the journal already (hang, stall: reported when they begin).
    reported: bool,
    /// An answer the server makes itself (bad plan, too large): not a plan's.
    own: bool,
    /// A control API request (method, target): answered by `control::handle` once its body
    /// is in, and not journaled, as over HTTP/1.1.
    control: Option<(String, String)>,
}

/// Why the connection ends.
enum Stop {
    /// The client closed or reset it, or the server stops.
    PeerGone,
    /// GOAWAY sent: FIN after the output.
    Close,
    /// Idle past the read timeout.
    Idle,
}

struct Conn<'c, W: Wire + ?Sized> {
    ctx: &'c Ctx,
    wire: &'c mut W,
    id: u64,
    peer: SocketAddr,
    out: Vec<u8>,
    decoder: Decoder,
    streams: BTreeMap<u32, Stream>,
    last_stream: u32,
    conn_window: i64,
    /// Connection-level request bytes not given back yet.
    conn_unacked: u32,
    peer_window: u32,
    peer_frame: usize,
    /// An open header block: stream, END_STREAM, bytes so far, CONTINUATIONs so far.
    block: Option<(u32, bool, Vec<u8>, usize)>,
    /// GOAWAY sent with this last-stream-id: later streams are refused.
    goaway: Option<u32>,
    ping_timeout: bool,
    max_streams: u32,
    /// The first stream's plan was seen (its `maxstreams` applies to the connection).
    first: bool,
    early_resets: u64,
    /// `--once`: this connection holds the one request; it ends after that stream.
    won: &'c mut bool,
    origin: Origin,
}

/// Serves an HTTP/2 connection on `wire` until it ends. The client's preface is expected at
/// the front of the wire's input (it may still be arriving); with `upgrade`, the server first
/// answers the HTTP/1.1 request that asked for `h2c` as stream 1 (the `101` is already sent).
/// `won` is `--once`'s flag: set when this connection takes the one request; `origin` what
/// the connection (TLS) brings to its streams.
pub fn serve<W: Wire + ?Sized>(
    ctx: &Ctx,
    wire: &mut W,
    id: u64,
    peer: SocketAddr,
    upgrade: Option<Upgrade>,
    won: &mut bool,
    origin: Origin,
) {
    let mut c = Conn {
        ctx,
        wire,
        id,
        peer,
        out: Vec::with_capacity(1024),
        decoder: Decoder::new(TABLE_SIZE),
        streams: BTreeMap::new(),
        last_stream: 0,
        conn_window: i64::from(frame::DEFAULT_WINDOW),
        conn_unacked: 0,
        peer_window: frame::DEFAULT_WINDOW,
        peer_frame: frame::DEFAULT_MAX_FRAME as usize,
        block: None,
        goaway: None,
        ping_timeout: false,
        max_streams: MAX_STREAMS,
        first: false,
        early_resets: 0,
        won,
        origin,
    };
    let stop = c.run(upgrade);
    c.finish(stop);
}

impl<W: Wire + ?Sized> Conn<'_, W> {
    fn run(&mut self, upgrade: Option<Upgrade>) -> Stop {
        Settings::encode(
            &[
                Setting::MaxConcurrentStreams(MAX_STREAMS),
                Setting::InitialWindowSize(RECV_WINDOW),
                Setting::MaxHeaderListSize(MAX_HEADER_LIST as u32),
                Setting::EnablePush(0),
            ],
            &mut self.out,
        );
        if let Some(up) = upgrade {
            let head = Head {
                len: up.settings.len() as u32,
                kind: Kind::Settings,
                flags: 0,
                stream: 0,
            };
            if let Ok(s) = Settings::load(&head, &up.settings) {
                let _ = self.apply_settings(&s.values);
            }
            self.last_stream = 1;
            self.open(1, 0, up.fields, true);
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
            if *self.won && self.streams.is_empty() && self.last_stream > 0 {
                GoAway::encode(self.last_stream, Reason::NO_ERROR, b"", &mut self.out);
                self.flush();
                return Stop::Close;
            }
            if self.goaway.is_some() && self.streams.is_empty() {
                return Stop::Close;
            }
            if let Err(stop) = self.fill() {
                return stop;
            }
        }
    }

    /// Waits for input until the next stream wakes up (or the idle limit with no streams).
    fn fill(&mut self) -> Result<(), Stop> {
        let now = self.wire.now();
        let busy = self.streams.values().any(|s| self.ready(s, now));
        let next = self.streams.values().filter_map(|s| s.wake).min();
        let deadline = if busy {
            now
        } else if let Some(w) = next {
            w
        } else if self.streams.is_empty() {
            now + self.ctx.settings.read_timeout
        } else {
            // Streams waiting for the client (window, body) or held: no limit but the client.
            now + Duration::from_secs(3600)
        };
        // A deadline already passed still gets a short read, so input is never starved by
        // streams that always have something to send.
        let deadline = deadline.max(now + Duration::from_millis(1));
        match self.wire.fill(deadline, INPUT_CAP) {
            Fill::Data(_) => Ok(()),
            Fill::Timeout if self.streams.is_empty() && next.is_none() && !busy => {
                // Idle past the read timeout with nothing open.
                let now2 = self.wire.now();
                if now2 >= now + self.ctx.settings.read_timeout {
                    GoAway::encode(self.last_stream, Reason::NO_ERROR, b"", &mut self.out);
                    self.flush();
                    return Err(Stop::Idle);
                }
                Ok(())
            }
            Fill::Timeout => Ok(()),
            Fill::Full => self.conn_error(Reason::FRAME_SIZE_ERROR, "frame too large"),
            Fill::Eof | Fill::Gone => Err(Stop::PeerGone),
        }
    }

    /// A stream that could send now, without waiting.
    fn ready(&self, s: &Stream, now: Instant) -> bool {
        match s.phase {
            Phase::Head => s.wake.map_or(true, |w| w <= now),
            Phase::Body => {
                s.wake.map_or(true, |w| w <= now)
                    && (self.body_left(s) == 0 || (s.send_window > 0 && self.conn_window > 0))
            }
            _ => false,
        }
    }

    fn body_left(&self, s: &Stream) -> u64 {
        s.answer
            .as_ref()
            .map_or(0, |a| a.body.len().saturating_sub(s.sent))
    }

    fn read_preface(&mut self) -> Result<(), Stop> {
        let deadline = self.wire.now() + self.ctx.settings.read_timeout;
        loop {
            let input = self.wire.input();
            let n = input.len().min(PREFACE.len());
            if input[..n] != PREFACE[..n] {
                // Not HTTP/2 after all: a connection error before anything else.
                return self.conn_error(Reason::PROTOCOL_ERROR, "bad connection preface");
            }
            if n == PREFACE.len() {
                self.wire.consume(n);
                return Ok(());
            }
            match self.wire.fill(deadline, INPUT_CAP) {
                Fill::Data(_) => {}
                Fill::Timeout => return Err(Stop::Idle),
                _ => return Err(Stop::PeerGone),
            }
        }
    }

    /// Sends GOAWAY with `reason` (last-stream-id: the highest stream seen) and ends.
    fn conn_error<T>(&mut self, reason: Reason, why: &str) -> Result<T, Stop> {
        GoAway::encode(self.last_stream, reason, why.as_bytes(), &mut self.out);
        self.flush();
        let peer = self.peer.to_string();
        let code = reason.to_string();
        self.ctx.conn_event(
            "h2-error",
            &[
                ("conn", Val::Num(self.id)),
                ("peer", Val::Str(&peer)),
                ("code", Val::Str(&code)),
                ("reason", Val::Str(why)),
            ],
        );
        Err(Stop::Close)
    }

    fn flush(&mut self) -> bool {
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
        while let Some(head) = Head::parse(self.wire.input()) {
            if head.len > frame::DEFAULT_MAX_FRAME {
                return self.conn_error(Reason::FRAME_SIZE_ERROR, "frame larger than 16384");
            }
            let total = HEAD_LEN + head.len as usize;
            if self.wire.input().len() < total {
                break;
            }
            let payload = self.wire.input()[HEAD_LEN..total].to_vec();
            self.wire.consume(total);
            match self.frame(&head, &payload) {
                Ok(()) => {}
                Err(frame::Error::Conn(reason)) => {
                    return self.conn_error(reason, "malformed frame")
                }
                Err(frame::Error::Stream(id, reason)) => self.stream_error(id, reason),
            }
        }
        self.give_window();
        Ok(())
    }

    /// RST_STREAM for a stream error; the stream, if open, ends as `error`.
    fn stream_error(&mut self, id: u32, reason: Reason) {
        Reset::encode(id, reason, &mut self.out);
        if let Some(mut s) = self.streams.remove(&id) {
            self.report(&mut s, End::Error);
        }
    }

    fn frame(&mut self, head: &Head, payload: &[u8]) -> Result<(), frame::Error> {
        if let Some((id, ..)) = self.block {
            // Inside a header block only its CONTINUATIONs may come (section 6.10).
            if head.kind != Kind::Continuation || head.stream != id {
                return Err(frame::Error::Conn(Reason::PROTOCOL_ERROR));
            }
        }
        match head.kind {
            Kind::Data => self.data(Data::load(head, payload)?),
            Kind::Headers => {
                let h = Headers::load(head, payload)?;
                if h.fragment.len() > MAX_HEADER_BLOCK {
                    return Err(frame::Error::Conn(Reason::ENHANCE_YOUR_CALM));
                }
                self.block = Some((h.stream, h.end_stream, h.fragment.to_vec(), 0));
                if h.end_headers {
                    self.end_block()?;
                }
                Ok(())
            }
            Kind::Continuation => {
                let c = Continuation::load(head, payload)?;
                let Some((_, _, block, count)) = self.block.as_mut() else {
                    return Err(frame::Error::Conn(Reason::PROTOCOL_ERROR));
                };
                *count += 1;
                if block.len() + c.fragment.len() > MAX_HEADER_BLOCK || *count > MAX_CONTINUATIONS {
                    return Err(frame::Error::Conn(Reason::ENHANCE_YOUR_CALM));
                }
                block.extend_from_slice(c.fragment);
                if c.end_headers {
                    self.end_block()?;
                }
                Ok(())
            }
            Kind::Priority => Priority::load(head, payload).map(drop),
            Kind::Reset => {
                let r = Reset::load(head, payload)?;
                if r.stream > self.last_stream {
                    // RST_STREAM on an idle stream (section 6.4).
                    return Err(frame::Error::Conn(Reason::PROTOCOL_ERROR));
                }
                if let Some(mut s) = self.streams.remove(&r.stream) {
                    if s.answer.is_none() {
                        self.early_resets += 1;
                        if self.early_resets > MAX_EARLY_RESETS {
                            return Err(frame::Error::Conn(Reason::ENHANCE_YOUR_CALM));
                        }
                    }
                    self.report(&mut s, End::PeerGone);
                }
                Ok(())
            }
            Kind::Settings => {
                let s = Settings::load(head, payload)?;
                if !s.ack {
                    self.apply_settings(&s.values).map_err(frame::Error::Conn)?;
                    Settings::encode_ack(&mut self.out);
                }
                Ok(())
            }
            Kind::PushPromise => Err(frame::Error::Conn(Reason::PROTOCOL_ERROR)),
            Kind::Ping => {
                let p = Ping::load(head, payload)?;
                if !p.ack && !self.ping_timeout {
                    Ping::encode_ack(&p.data, &mut self.out);
                }
                Ok(())
            }
            Kind::GoAway => {
                GoAway::load(head, payload)?;
                Ok(())
            }
            Kind::WindowUpdate => {
                let w = WindowUpdate::load(head, payload)?;
                let inc = i64::from(w.increment);
                if w.stream == 0 {
                    self.conn_window += inc;
                    if self.conn_window > i64::from(frame::MAX_WINDOW) {
                        return Err(frame::Error::Conn(Reason::FLOW_CONTROL_ERROR));
                    }
                } else if let Some(s) = self.streams.get_mut(&w.stream) {
                    s.send_window += inc;
                    if s.send_window > i64::from(frame::MAX_WINDOW) {
                        return Err(frame::Error::Stream(w.stream, Reason::FLOW_CONTROL_ERROR));
                    }
                } else if w.stream > self.last_stream {
                    return Err(frame::Error::Conn(Reason::PROTOCOL_ERROR));
                }
                Ok(())
            }
            Kind::Unknown(_) => Ok(()),
        }
    }

    fn apply_settings(&mut self, values: &[Setting]) -> Result<(), Reason> {
        for v in values {
            match *v {
                Setting::InitialWindowSize(w) => {
                    // Changes every open stream's window by the difference (section 6.9.2).
                    let delta = i64::from(w) - i64::from(self.peer_window);
                    self.peer_window = w;
                    for s in self.streams.values_mut() {
                        s.send_window += delta;
                        if s.send_window > i64::from(frame::MAX_WINDOW) {
                            return Err(Reason::FLOW_CONTROL_ERROR);
                        }
                    }
                }
                Setting::MaxFrameSize(n) => self.peer_frame = n as usize,
                _ => {}
            }
        }
        Ok(())
    }

    fn data(&mut self, d: Data<'_>) -> Result<(), frame::Error> {
        // Flow control counts the whole payload, whatever becomes of the stream.
        self.conn_unacked += d.flow_len;
        let recv_limit = i64::from(RECV_WINDOW);
        if i64::from(self.conn_unacked) > recv_limit {
            return Err(frame::Error::Conn(Reason::FLOW_CONTROL_ERROR));
        }
        if d.stream > self.last_stream {
            return Err(frame::Error::Conn(Reason::PROTOCOL_ERROR));
        }
        let Some(s) = self.streams.get_mut(&d.stream) else {
            // A stream already answered or reset: its DATA is dropped (its window came back
            // on the connection above).
            return Ok(());
        };
        if s.req_done {
            return Err(frame::Error::Stream(d.stream, Reason::STREAM_CLOSED));
        }
        s.unacked += d.flow_len;
        if i64::from(s.unacked) > recv_limit {
            return Err(frame::Error::Stream(d.stream, Reason::FLOW_CONTROL_ERROR));
        }
        s.body_len += d.data.len() as u64;
        if s.body_len > MAX_HASHED_BODY {
            s.sha = None;
        } else if let Some(h) = s.sha.as_mut() {
            h.update(d.data);
        }
        let keep = matches!(s.plan.body, Body::Echo) || s.grpc_req || s.control.is_some();
        if keep && !s.too_large {
            if s.body.len() + d.data.len() > MAX_KEPT_BODY {
                s.too_large = true;
                s.body = Vec::new();
            } else {
                s.body.extend_from_slice(d.data);
            }
        }
        if d.end_stream {
            self.request_done(d.stream);
        }
        Ok(())
    }

    /// Gives back window for what was read: the connection's always, a stream's unless its
    /// plan says `window=0` (then its upload stalls once the initial window is used).
    fn give_window(&mut self) {
        if self.conn_unacked > 0 {
            WindowUpdate::encode(0, self.conn_unacked, &mut self.out);
            self.conn_unacked = 0;
        }
        for (&id, s) in self.streams.iter_mut() {
            if s.unacked > 0 && !s.req_done && !s.plan.h2.window0 {
                WindowUpdate::encode(id, s.unacked, &mut self.out);
                s.unacked = 0;
            }
        }
    }

    /// A complete header block: a new stream, or the request's trailers.
    fn end_block(&mut self) -> Result<(), frame::Error> {
        let Some((id, end_stream, block, _)) = self.block.take() else {
            return Ok(());
        };
        // Decoded whatever becomes of the stream: the table must stay in step.
        let fields = match self.decoder.decode(&block, MAX_HEADER_LIST) {
            Ok(f) => Some(f),
            Err(DecodeError::ListTooLarge) => None,
            Err(_) => return Err(frame::Error::Conn(Reason::COMPRESSION_ERROR)),
        };
        if id <= self.last_stream {
            // Trailers of a request (they must end the stream), or a closed stream.
            return match self.streams.get(&id) {
                Some(s) if !s.req_done && end_stream => {
                    self.request_done(id);
                    Ok(())
                }
                Some(_) => Err(frame::Error::Stream(id, Reason::PROTOCOL_ERROR)),
                // A stream the server already answered or reset: frames for it may still be
                // on their way (RFC 9113 section 5.4.2); the block was decoded, so ignore it.
                None => Ok(()),
            };
        }
        if id % 2 == 0 {
            return Err(frame::Error::Conn(Reason::PROTOCOL_ERROR));
        }
        let before = self.last_stream;
        self.last_stream = id;
        if self.goaway.is_some_and(|last| id > last) || *self.won {
            return Err(frame::Error::Stream(id, Reason::REFUSED_STREAM));
        }
        if self.streams.len() >= self.max_streams as usize {
            return Err(frame::Error::Stream(id, Reason::REFUSED_STREAM));
        }
        let Some(fields) = fields else {
            // Over SETTINGS_MAX_HEADER_LIST_SIZE: 431, as HTTP/1 answers a head too large.
            self.open(
                id,
                before,
                vec![(b":method".to_vec(), b"GET".to_vec())],
                end_stream,
            );
            if let Some(s) = self.streams.get_mut(&id) {
                s.own = true;
                s.plan = Arc::new(own_plan(431, "request header fields too large"));
            }
            return Ok(());
        };
        if !valid_request(&fields) {
            return Err(frame::Error::Stream(id, Reason::PROTOCOL_ERROR));
        }
        self.open(id, before, fields, end_stream);
        Ok(())
    }

    /// Opens stream `id` for a request: chooses its plan and journals it. `before` is the
    /// stream opened before it (GOAWAY's last-stream-id when its plan says `goaway=`).
    fn open(&mut self, id: u32, before: u32, fields: hpack::Fields, end_stream: bool) {
        let arrived = self.wire.now();
        let get = |name: &[u8]| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        let method = get(b":method").unwrap_or_default();
        let path = get(b":path").unwrap_or_else(|| "/".into());
        let grpc_req = get(b"content-type").is_some_and(|c| c.starts_with("application/grpc"));
        let text_head = text_head(&method, &path, &fields);
        let ctx = self.ctx;
        if ctx.settings.once && !*self.won && !ctx.is_control(&path) {
            if !ctx.registry.try_win(self.id) {
                // Another connection took the one request.
                Reset::encode(id, Reason::REFUSED_STREAM, &mut self.out);
                return;
            }
            *self.won = true;
            ctx.stop_listening();
        }
        let control = ctx
            .is_control(&path)
            .then(|| (method.clone(), path.clone()));
        let (plan, route, step, own) = if control.is_some() {
            (ctx.healthy(), None, None, true)
        } else {
            let conn_plan = self.origin.plan.as_ref();
            match ctx.select(&method, &path, None, conn_plan).and_then(|sel| {
                sel.plan.check_protocol(Proto::H2).map_err(BadPlan)?;
                Ok(sel)
            }) {
                Ok(sel) => (sel.plan, sel.route, sel.step, false),
                Err(BadPlan(e)) => {
                    let reason = format!("bad plan: {e}");
                    let peer = self.peer.to_string();
                    ctx.conn_event(
                        "bad-plan",
                        &[
                            ("conn", Val::Num(self.id)),
                            ("peer", Val::Str(&peer)),
                            ("stream", Val::Num(u64::from(id))),
                            ("target", Val::Str(&path)),
                            ("reason", Val::Str(&reason)),
                        ],
                    );
                    (Arc::new(own_plan(400, &reason)), None, None, true)
                }
            }
        };
        let entry = if control.is_some() {
            None
        } else {
            let t = ctx.journal.since_start(arrived);
            let logged = if own {
                ctx.healthy()
            } else {
                Arc::clone(&plan)
            };
            let e = Entry::new(t, self.id, self.peer, &text_head, route, step, logged);
            let e = ctx.begin(e.with_tls(self.origin.tls.clone()));
            e.set_stream(id);
            Some(e)
        };
        if !own && !self.first {
            self.first = true;
            if let Some(n) = plan.h2.maxstreams {
                self.max_streams = n.min(MAX_STREAMS);
                Settings::encode(&[Setting::MaxConcurrentStreams(n)], &mut self.out);
            }
        }
        if plan.h2.ping_timeout {
            self.ping_timeout = true;
        }
        if plan.h2.goaway_keep && self.goaway.is_none() {
            GoAway::encode(id, Reason::NO_ERROR, b"", &mut self.out);
            self.goaway = Some(id);
        }
        let stream = Stream {
            plan,
            entry,
            arrived,
            before,
            head_only: method == "HEAD",
            text_head,
            grpc_req,
            body: Vec::new(),
            body_len: 0,
            sha: (!end_stream).then(Sha256::default),
            too_large: false,
            req_done: false,
            unacked: 0,
            send_window: i64::from(self.peer_window),
            phase: Phase::Request,
            wake: None,
            answer: None,
            sent: 0,
            status: None,
            pauses: Vec::new(),
            body_start: None,
            reported: false,
            own,
            control,
        };
        let drain = stream.plan.drain;
        self.streams.insert(id, stream);
        if end_stream {
            self.request_done(id);
        } else if !drain {
            self.prepare(id);
        }
    }

    fn request_done(&mut self, id: u32) {
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        s.req_done = true;
        if let Some(e) = &s.entry {
            e.set_body(s.body_len, s.sha.take().map(Sha256::finish));
        }
        if s.phase == Phase::Request {
            self.prepare(id);
        }
    }

    /// The request is in (or the plan does not wait for it): work out the answer.
    fn prepare(&mut self, id: u32) {
        let now = self.wire.now();
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        if s.too_large {
            s.own = true;
            s.plan = Arc::new(own_plan(413, "request body too large to keep"));
        } else if let Some((method, target)) = &s.control {
            let r = control::handle(self.ctx, method, target, &s.body);
            s.plan = Arc::new(Plan {
                status: Some(r.status),
                body: Body::Text(r.body),
                headers: vec![("content-type".into(), r.content_type.into())],
                ..crate::plan::HEALTHY
            });
        }
        let req = Req {
            head_only: s.head_only,
            grpc: s.grpc_req,
            text_head: &s.text_head,
            body: &s.body,
        };
        let answer = response::answer(&s.plan, &req);
        let len = answer.body.len();
        let mut delay = s.plan.delay.unwrap_or_default();
        let mut pauses = Vec::new();
        for &(off, d) in &s.plan.pauses {
            match response::body_offset(off, len) {
                Some(o) => pauses.push((o.min(len), d)),
                // `head:N`: before HEADERS, the head being one frame.
                None => delay += d,
            }
        }
        pauses.sort_by_key(|p| p.0);
        s.pauses = pauses;
        s.answer = Some(answer);
        s.phase = Phase::Head;
        s.wake = Some(now + delay);
        s.body = Vec::new();
    }

    /// Moves every stream whose time has come as far as it can go now.
    fn run_streams(&mut self) -> Result<(), Stop> {
        let now = self.wire.now();
        let ids: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| self.ready(s, now))
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            self.advance(id, now)?;
            if self.out.len() >= TURN && !self.flush() {
                return Err(Stop::PeerGone);
            }
        }
        Ok(())
    }

    fn advance(&mut self, id: u32, now: Instant) -> Result<(), Stop> {
        let Some(mut s) = self.streams.remove(&id) else {
            return Ok(());
        };
        let keep = match s.phase {
            Phase::Head => self.send_head(id, &mut s, now)?,
            Phase::Body => self.send_body(id, &mut s, now)?,
            _ => true,
        };
        if keep {
            self.streams.insert(id, s);
        }
        Ok(())
    }

    /// Sends HEADERS (or the cut that comes before them). False when the stream is over.
    fn send_head(&mut self, id: u32, s: &mut Stream, now: Instant) -> Result<bool, Stop> {
        let Some(a) = s.answer.as_ref() else {
            return Ok(false);
        };
        if let Some((cut, None)) = a.cut {
            return self.cut(id, s, cut);
        }
        let mut block = Vec::new();
        hpack::encoder::field(&mut block, b":status", a.status.to_string().as_bytes());
        for (n, v) in &a.fields {
            hpack::encoder::field(&mut block, n.as_bytes(), v);
        }
        if a.trailers_only {
            for (n, v) in &a.trailers {
                hpack::encoder::field(&mut block, n.as_bytes(), v);
            }
        }
        let empty = a.body.len() == 0 && a.trailers.is_empty() && a.cut.is_none();
        let end = (empty || a.trailers_only) && !a.headers_only;
        Headers::encode(id, &block, end, self.peer_frame, &mut self.out);
        s.status = Some(a.status);
        if end {
            self.complete(s);
            return Ok(false);
        }
        if a.headers_only {
            self.hold(s);
            return Ok(true);
        }
        s.phase = Phase::Body;
        s.body_start = Some(now);
        s.wake = None;
        self.send_body(id, s, now)
    }

    /// Sends what DATA may go now; false when the stream is over.
    fn send_body(&mut self, id: u32, s: &mut Stream, now: Instant) -> Result<bool, Stop> {
        let Some(a) = s.answer.as_ref() else {
            return Ok(false);
        };
        let len = a.body.len();
        let cut_at = a.cut.and_then(|(c, at)| at.map(|at| (c, at)));
        let mut budget = TURN;
        loop {
            // A pause due here comes first.
            if let Some(&(off, d)) = s.pauses.first() {
                if off <= s.sent {
                    s.pauses.remove(0);
                    s.wake = Some(now + d);
                    if d > Duration::ZERO {
                        return Ok(true);
                    }
                    continue;
                }
            }
            if let Some((cut, at)) = cut_at {
                if s.sent >= at {
                    return self.cut(id, s, cut);
                }
            }
            let Some(a) = s.answer.as_ref() else {
                return Ok(false);
            };
            if s.sent >= len {
                return Ok(self.end_body(id, s));
            }
            let mut stop_at = len;
            if let Some((_, at)) = cut_at {
                stop_at = stop_at.min(at);
            }
            if let Some(&(off, _)) = s.pauses.first() {
                stop_at = stop_at.min(off);
            }
            let mut n = (stop_at - s.sent)
                .min(budget as u64)
                .min(self.peer_frame as u64);
            if let (Some(rate), Some(start)) = (s.plan.rate, s.body_start) {
                let elapsed = now.saturating_duration_since(start).as_secs_f64();
                let allowed = ((rate as f64) * elapsed) as u64;
                let due = allowed.saturating_sub(s.sent);
                if due == 0 {
                    let next = crate::shape::rate_time(s.sent + 1, rate);
                    s.wake = Some(start + next);
                    return Ok(true);
                }
                n = n.min(due);
            }
            let window = s.send_window.min(self.conn_window);
            if window <= 0 {
                s.wake = None;
                return Ok(true);
            }
            let n = n.min(window as u64) as usize;
            let last = s.sent + n as u64 == len
                && a.trailers.is_empty()
                && cut_at.map_or(true, |(_, at)| at > len);
            let start = self.out.len();
            Head::encode(
                Kind::Data,
                if last { flag::END_STREAM } else { 0 },
                id,
                n,
                &mut self.out,
            );
            a.body.read(s.sent, n, &mut self.out);
            debug_assert_eq!(self.out.len() - start, HEAD_LEN + n);
            s.sent += n as u64;
            s.send_window -= n as i64;
            self.conn_window -= n as i64;
            budget -= n;
            if last {
                self.complete(s);
                return Ok(false);
            }
            if budget == 0 {
                s.wake = Some(now);
                return Ok(true);
            }
        }
    }

    /// The body is all sent: trailers, or an empty END_STREAM.
    fn end_body(&mut self, id: u32, s: &mut Stream) -> bool {
        let Some(a) = s.answer.as_ref() else {
            return false;
        };
        if a.trailers.is_empty() {
            Data::encode(id, b"", true, &mut self.out);
        } else {
            let mut block = Vec::new();
            for (n, v) in &a.trailers {
                hpack::encoder::field(&mut block, n.as_bytes(), v);
            }
            Headers::encode(id, &block, true, self.peer_frame, &mut self.out);
        }
        self.complete(s);
        false
    }

    /// Carries out a cut. False when the stream is over.
    fn cut(&mut self, id: u32, s: &mut Stream, cut: Cut) -> Result<bool, Stop> {
        match cut {
            Cut::Rst(code) => {
                self.report(s, End::Reset);
                Reset::encode(id, Reason(code), &mut self.out);
                Ok(false)
            }
            Cut::EndEarly => {
                self.report(s, End::Close);
                Data::encode(id, b"", true, &mut self.out);
                Ok(false)
            }
            Cut::Stall => {
                self.hold(s);
                Ok(true)
            }
            Cut::GoAway(code) => {
                self.report(s, End::Close);
                GoAway::encode(s.before, Reason(code), b"", &mut self.out);
                self.flush();
                Err(Stop::Close)
            }
        }
    }

    fn hold(&mut self, s: &mut Stream) {
        self.report(s, End::Hang);
        s.phase = Phase::Held;
        s.wake = None;
    }

    fn complete(&mut self, s: &mut Stream) {
        self.report(s, End::Complete);
    }

    /// Journals how the stream ended (once).
    fn report(&self, s: &mut Stream, end: End) {
        if s.reported {
            return;
        }
        s.reported = true;
        if let Some(e) = &s.entry {
            self.ctx.end(e, s.status, s.sent, end, s.arrived.elapsed());
        }
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

/// A plain answer the server makes itself (bad plan, too large, control API).
fn own_plan(status: u16, reason: &str) -> Plan {
    let mut body = reason.as_bytes().to_vec();
    body.push(b'\n');
    Plan {
        status: Some(status),
        body: Body::Text(body),
        headers: vec![("content-type".into(), "text/plain".into())],
        ..crate::plan::HEALTHY
    }
}

/// A request's fields are well formed (RFC 9113 section 8.3.1): `:method`, and `:path` unless
/// CONNECT; lowercase names; pseudo-fields first; no connection-specific fields.
fn valid_request(fields: &hpack::Fields) -> bool {
    let mut regular = false;
    let mut method = false;
    let mut path = false;
    let mut connect = false;
    for (n, v) in fields {
        if n.iter().any(u8::is_ascii_uppercase) || n.is_empty() {
            return false;
        }
        if n[0] == b':' {
            if regular {
                return false;
            }
            match n.as_slice() {
                b":method" => {
                    method = true;
                    connect = v == b"CONNECT";
                }
                b":path" => path = !v.is_empty(),
                b":scheme" | b":authority" => {}
                _ => return false,
            }
        } else {
            regular = true;
            if matches!(
                n.as_slice(),
                b"connection"
                    | b"keep-alive"
                    | b"proxy-connection"
                    | b"transfer-encoding"
                    | b"upgrade"
            ) || (n == b"te" && v != b"trailers")
            {
                return false;
            }
        }
    }
    method && (path || connect)
}

/// The request as HTTP/1-style text: the journal's head and what `echo` sends back.
fn text_head(method: &str, path: &str, fields: &hpack::Fields) -> Vec<u8> {
    let mut t = format!("{method} {path} HTTP/2\r\n").into_bytes();
    for (n, v) in fields {
        let name: &[u8] = match n.as_slice() {
            b":authority" => b"host",
            n if n.first() == Some(&b':') => continue,
            n => n,
        };
        t.extend_from_slice(name);
        t.extend_from_slice(b": ");
        t.extend(
            v.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        t.extend_from_slice(b"\r\n");
    }
    t.extend_from_slice(b"\r\n");
    t
}
