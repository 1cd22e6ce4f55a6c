//! One WebSocket connection after its `101`: a single loop reads the client's frames and
//! sends the server's (echoes, pongs, `ws-send`'s messages, `ws-ping`'s pings, close frames),
//! every server byte along one byte timeline (`src/shape.rs`), so `reset=3msg`,
//! `pause=3msg,2s`, `rate` and `close=100` act on the server's frames exactly. Every wait is
//! bounded: `idle=DUR` (default `--read-timeout`) with no bytes either way ends the connection
//! with a close frame 1001; a closing handshake the server began waits at most
//! `--read-timeout` for the client's close frame.

use super::frame::{self, Event, Fail, Reader, BINARY, CONT, PING, PONG, TEXT};
use super::{Action, Start};
use crate::control::budget::Reserved;
use crate::control::ctx::Ctx;
use crate::control::journal::{End, WsStats};
use crate::log::Val;
use crate::plan::{EndKind, Plan, WsBad};
use crate::shape::{self, Framing, Next, Timeline, WRITE_PIECE};
use crate::wire::{Fill, Wire};
use std::time::Instant;

/// Bytes of a message (and the frame bringing it) a connection holds without drawing on the
/// server's echo budget; beyond it every connection's large messages share that budget (the
/// 64 MiB `echo` and the control API's bodies draw on too).
const FREE_MESSAGE_BYTES: u64 = 64 * 1024;

/// The payload of the server's pings (`ws-ping`, and between `ws-frag`'s frames).
const PING_PAYLOAD: &[u8] = b"httpfault";

/// Printable filler (as `body=SIZE`'s): byte `i` of a message is `FILLER[i % 64]`.
const FILLER: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

/// How the connection ended: the journal's end and what the wire does then.
struct Stop(End, Action);

/// A server message's payload.
#[derive(Clone, Copy)]
enum Payload<'a> {
    Bytes(&'a [u8]),
    /// This many bytes of printable filler.
    Filler(u64),
}

impl Payload<'_> {
    fn len(&self) -> u64 {
        match self {
            Payload::Bytes(b) => b.len() as u64,
            Payload::Filler(n) => *n,
        }
    }

    /// Appends bytes `from..to` of the payload.
    fn put(&self, out: &mut Vec<u8>, from: u64, to: u64) {
        match self {
            Payload::Bytes(b) => out.extend_from_slice(&b[from as usize..to as usize]),
            Payload::Filler(_) => {
                out.extend((from..to).map(|i| FILLER[(i % 64) as usize]));
            }
        }
    }
}

struct Ws<'a, W: ?Sized> {
    ctx: &'a Ctx,
    /// The echo budget taken for a large message on its way in.
    reserved: Option<Reserved<'a>>,
    wire: &'a mut W,
    plan: &'a Plan,
    tl: Timeline,
    /// Server frame bytes written (the timeline's offsets).
    sent: u64,
    stats: WsStats,
    reader: Reader,
    /// Bytes went either way (the idle bound counts from here).
    active: Instant,
    /// The server sent its close frame: it waits for the client's until then.
    closing: Option<Instant>,
    /// `ws-send`: messages sent so far, and when the next is due.
    sent_messages: u64,
    next_send: Option<Instant>,
    /// `ws-ping`: when the next ping is due.
    next_ping: Option<Instant>,
    out: Vec<u8>,
    /// The client's frames broke the protocol.
    failed: Option<Fail>,
}

/// Runs the connection: (how it ended, what the wire does, server frame bytes, stats).
pub(super) fn run<W: Wire + ?Sized>(
    ctx: &Ctx,
    wire: &mut W,
    plan: &Plan,
    max_message: u64,
    start: &Start,
) -> (End, Action, u64, WsStats) {
    let now = wire.now();
    let mut ws = Ws {
        ctx,
        reserved: None,
        plan,
        tl: shape::of_plan(plan, 0, None, Framing::WebSocket),
        sent: 0,
        stats: WsStats::default(),
        reader: Reader::new(max_message),
        active: now,
        closing: None,
        sent_messages: 0,
        next_send: plan.ws.send.map(|_| now),
        next_ping: plan.ws.ping.map(|d| now + d),
        out: Vec::new(),
        failed: None,
        wire,
    };
    let Stop(end, action) = match ws.opening().and_then(|()| ws.serve()) {
        Ok(never) => match never {},
        Err(stop) => stop,
    };
    if let Some(fail) = ws.failed_with() {
        log_fail(ctx, start, fail);
    }
    (end, action, ws.sent, ws.stats)
}

fn log_fail(ctx: &Ctx, start: &Start, fail: Fail) {
    let peer = start.entry.peer().to_string();
    ctx.conn_event(
        "ws-protocol-error",
        &[
            ("conn", Val::Num(start.entry.conn())),
            ("peer", Val::Str(&peer)),
            ("code", Val::Num(u64::from(fail.code))),
            ("reason", Val::Str(fail.reason)),
        ],
    );
}

/// Uninhabited: the loop only ends by a [`Stop`].
enum Never {}

impl<W: Wire + ?Sized> Ws<'_, W> {
    /// What the plan sends right after the handshake: `ws-bad`, `ws-big`, `ws-close@0`.
    fn opening(&mut self) -> Result<(), Stop> {
        if let Some(kind) = self.plan.ws.bad {
            let bad = bad_frame(kind);
            self.emit(&bad)?;
        }
        if let Some(n) = self.plan.ws.big {
            self.message(true, Payload::Filler(n))?;
        }
        self.close_if_due()
    }

    /// The loop: what is due, then the client's frames until the next thing is due.
    fn serve(&mut self) -> Result<Never, Stop> {
        let idle = self.plan.idle.unwrap_or(self.ctx.settings.read_timeout);
        // Frames that came right behind the upgrade request, in its reads.
        self.frames()?;
        loop {
            let now = self.wire.now();
            if self.closing.is_none() {
                if self.next_send.is_some_and(|t| t <= now) {
                    self.send_next()?;
                    continue;
                }
                if let Some(t) = self.next_ping.filter(|t| *t <= now) {
                    self.next_ping = self.plan.ws.ping.map(|d| (t + d).max(now));
                    self.control(PING, PING_PAYLOAD)?;
                    continue;
                }
            }
            let idle_at = self.active + idle;
            if self.closing.is_some_and(|t| t <= now) {
                return Err(Stop(End::Timeout, Action::Close(false)));
            }
            if self.closing.is_none() && idle_at <= now {
                self.close(1001, b"idle")?;
                continue;
            }
            // Closing: only the client's close frame (or the bound on it) is awaited.
            let deadline = match self.closing {
                Some(t) => t,
                None => [self.next_send, self.next_ping, Some(idle_at)]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap_or(idle_at),
            };
            match self.wire.fill(deadline, self.reader.cap()) {
                Fill::Data(_) => {
                    self.active = self.wire.now();
                    self.frames()?;
                    self.reserve()?;
                }
                Fill::Eof | Fill::Gone => return Err(Stop(End::PeerGone, Action::None)),
                Fill::Full => {
                    let fail = Fail {
                        code: 1009,
                        reason: "message too big",
                    };
                    return Err(self.fail(fail));
                }
                Fill::Timeout => {}
            }
        }
    }

    /// The client's complete frames at the front of the input.
    fn frames(&mut self) -> Result<(), Stop> {
        loop {
            let (n, event) = match self.reader.next(self.wire.input()) {
                Ok(Some(got)) => got,
                Ok(None) => return Ok(()),
                Err(fail) => return Err(self.fail(fail)),
            };
            self.wire.consume(n);
            self.event(event)?;
        }
    }

    /// A large message on its way in (the frame at the front of the input, and what the reader
    /// holds of its message) draws on the server's echo budget while it is held; when the
    /// budget is spent, the connection is closed with 1013 (try again later).
    fn reserve(&mut self) -> Result<(), Stop> {
        let input = self.wire.input();
        let frame = match frame::parse_head(input, u64::MAX) {
            Ok(Some(h)) => (h.len as u64).saturating_add(h.payload),
            _ => input.len() as u64,
        };
        let need = self.reader.held().saturating_add(frame);
        if need <= FREE_MESSAGE_BYTES {
            self.reserved = None;
            return Ok(());
        }
        if self.reserved.as_ref().is_some_and(|r| r.bytes() >= need) {
            return Ok(());
        }
        self.reserved = None;
        match self.ctx.echo_budget.reserve(need) {
            Some(r) => {
                self.reserved = Some(r);
                Ok(())
            }
            None => Err(self.fail(Fail {
                code: 1013,
                reason: "message memory in use by other connections; try again",
            })),
        }
    }

    fn event(&mut self, event: Event) -> Result<(), Stop> {
        match event {
            Event::Message { text, data } => {
                self.stats.messages_in += 1;
                if self.closing.is_none() {
                    self.message(text, Payload::Bytes(&data))?;
                    self.close_if_due()?;
                }
                self.reader.recycle(data);
            }
            Event::Ping(p) if !self.plan.ws.no_pong && self.closing.is_none() => {
                self.control(PONG, &p)?;
            }
            Event::Ping(_) | Event::Pong | Event::Fragment => {}
            Event::Close(code, reason) => {
                self.stats.close_received = Some(code.unwrap_or(1005));
                if self.closing.is_some() {
                    return Err(Stop(End::Complete, Action::Close(true)));
                }
                if self.plan.ws.close_no_reply {
                    return Err(Stop(End::Hang, Action::Hang));
                }
                // The close frame echoes the client's code (none for none).
                let mut f = Vec::new();
                match code {
                    Some(c) => frame::close(&mut f, c, &reason),
                    None => frame::frame(&mut f, true, frame::CLOSE, b""),
                }
                self.stats.close_sent = Some(code.unwrap_or(1005));
                self.emit(&f)?;
                return Err(Stop(End::Complete, Action::Close(true)));
            }
        }
        Ok(())
    }

    /// The client broke the protocol: a close frame with the code the RFC asks for, then FIN.
    fn fail(&mut self, fail: Fail) -> Stop {
        self.failed = Some(fail);
        let mut f = Vec::new();
        frame::close(&mut f, fail.code, fail.reason.as_bytes());
        self.stats.close_sent = Some(fail.code);
        match self.emit(&f) {
            Ok(()) => Stop(End::Close, Action::Close(true)),
            Err(stop) => stop,
        }
    }

    fn failed_with(&self) -> Option<Fail> {
        self.failed
    }

    /// `ws-send`'s next message, and when the one after is due.
    fn send_next(&mut self) -> Result<(), Stop> {
        let Some(send) = self.plan.ws.send else {
            self.next_send = None;
            return Ok(());
        };
        self.sent_messages += 1;
        let k = self.sent_messages;
        let now = self.wire.now();
        self.next_send = (k < send.n).then(|| {
            // On the schedule; from now when more than an interval late (a client that
            // stopped reading), so a stalled stream never bursts to catch up.
            let due = self.next_send.unwrap_or(now) + send.every;
            match due + send.every < now {
                true => now,
                false => due,
            }
        });
        let text = k.to_string();
        let payload = match send.size {
            Some(n) => Payload::Filler(n),
            None => Payload::Bytes(text.as_bytes()),
        };
        self.message(true, payload)?;
        self.active = self.wire.now();
        self.close_if_due()
    }

    /// `ws-close=CODE,REASON@N` once N server messages are out.
    fn close_if_due(&mut self) -> Result<(), Stop> {
        match &self.plan.ws.close {
            Some(c) if self.closing.is_none() && self.stats.messages_out >= c.after => {
                let (code, reason) = (c.code, c.reason.clone());
                self.close(code, &reason)
            }
            _ => Ok(()),
        }
    }

    /// Sends a close frame and starts waiting for the client's.
    fn close(&mut self, code: u16, reason: &[u8]) -> Result<(), Stop> {
        let mut f = Vec::new();
        frame::close(&mut f, code, reason);
        self.stats.close_sent = Some(code);
        self.closing = Some(self.wire.now() + self.ctx.settings.read_timeout);
        self.emit(&f)
    }

    /// A control frame.
    fn control(&mut self, opcode: u8, payload: &[u8]) -> Result<(), Stop> {
        let mut f = Vec::new();
        frame::frame(&mut f, true, opcode, payload);
        self.emit(&f)
    }

    /// A data message, in `ws-frag`'s N frames with a ping between two; counted once its
    /// last byte is out.
    fn message(&mut self, text: bool, payload: Payload<'_>) -> Result<(), Stop> {
        let len = payload.len();
        let frames = u64::from(self.plan.ws.frag.unwrap_or(1)).min(len.max(1));
        let mut from = 0;
        for i in 0..frames {
            let to = match i + 1 == frames {
                true => len,
                false => from + len / frames,
            };
            let opcode = match (i, text) {
                (0, true) => TEXT,
                (0, false) => BINARY,
                _ => CONT,
            };
            if i > 0 {
                self.control(PING, PING_PAYLOAD)?;
            }
            let last = i + 1 == frames;
            self.out.clear();
            frame::header(&mut self.out, last, opcode, to - from);
            let mut at = from;
            loop {
                let piece = (to - at).min(WRITE_PIECE as u64);
                payload.put(&mut self.out, at, at + piece);
                at += piece;
                let out = std::mem::take(&mut self.out);
                let r = self.emit(&out);
                self.out = out;
                if last && at == to && self.sent == self.tl.fed() {
                    self.stats.messages_out += 1;
                }
                r?;
                self.out.clear();
                if at == to {
                    break;
                }
            }
            from = to;
        }
        Ok(())
    }

    /// Sends bytes along the timeline: its pauses, pace and cut.
    fn emit(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        let base = self.tl.fed();
        self.tl.feed(bytes);
        loop {
            let now = self.wire.now();
            match self.tl.next(self.sent, now) {
                Next::Write(upto) => {
                    let (from, to) = ((self.sent - base) as usize, (upto - base) as usize);
                    if self.wire.write_all(&bytes[from..to]).is_err() {
                        return Err(Stop(End::PeerGone, Action::None));
                    }
                    self.sent = upto;
                }
                Next::Wait(t) => {
                    if !self.wire.wait(t) {
                        return Err(Stop(End::PeerGone, Action::None));
                    }
                }
                Next::Cut(kind) => {
                    return Err(match kind {
                        EndKind::Reset => Stop(End::Reset, Action::Reset),
                        EndKind::Close => Stop(End::Close, Action::Close(true)),
                        EndKind::Hang => Stop(End::Hang, Action::Hang),
                    })
                }
                Next::Feed => return Ok(()),
            }
        }
    }
}

/// `ws-bad=KIND`'s frame.
fn bad_frame(kind: WsBad) -> Vec<u8> {
    let mut f = Vec::new();
    match kind {
        WsBad::Mask => {
            let mask = [1, 2, 3, 4];
            f.extend_from_slice(&[0x81, 0x83]);
            f.extend_from_slice(&mask);
            f.extend(b"bad".iter().zip(mask).map(|(b, m)| b ^ m));
        }
        WsBad::Rsv => f.extend_from_slice(&[0xC1, 3, b'b', b'a', b'd']),
        WsBad::Opcode => f.extend_from_slice(&[0x83, 3, b'b', b'a', b'd']),
        WsBad::Utf8 => f.extend_from_slice(&[0x81, 2, 0xFF, 0xFE]),
        WsBad::Len => {
            f.extend_from_slice(&[0x82, 127]);
            f.extend_from_slice(&((1u64 << 63) | 3).to_be_bytes());
            f.extend_from_slice(b"bad");
        }
        WsBad::ControlLen => {
            frame::header(&mut f, true, PING, 126);
            f.extend_from_slice(&[b'p'; 126]);
        }
        WsBad::Frag => f.extend_from_slice(&[0x80, 3, b'b', b'a', b'd']),
    }
    f
}
