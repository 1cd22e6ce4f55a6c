//! One response relayed to the client: the rebuilt head, then the upstream's body as it
//! arrives, shaped by the plan through the one byte timeline ([`crate::shape`]): pauses, pace
//! and the cut at offsets of the relayed stream, in bytes or in messages (the upstream's
//! events or gRPC messages). Bytes pass unchanged, framing included.

use super::forward::{delay_once, far_future, finish, Req};
use super::upconn::{Got, Pump, UpConn};
use super::Trouble;
use crate::control::journal::End;
use crate::control::journal::WsStats;
use crate::http::response::{BodyScanner, Framing, ResponseError};
use crate::http1::exchange::{BodyError, Outcome};
use crate::plan::EndKind;
use crate::shape::{self, Next, Timeline};
use crate::wire::{is_timeout, Wire};
use crate::ws::tally::Tally;
use std::cell::Cell;
use std::net::Shutdown;
use std::time::{Duration, Instant};

/// How a relay ended.
pub enum Relayed {
    /// The whole response went out; the connection may go on.
    Complete,
    /// The client's connection was ended (plan ending, upstream failure, client gone).
    Ended,
    /// The body broke its framing before any byte of the response went out: the client can
    /// still be answered `502`.
    BadBeforeAny(ResponseError),
}

/// One response relayed: the rebuilt head, then the upstream's body as it arrives.
pub struct Relay<'a> {
    pub head: &'a [u8],
    pub status: u16,
    pub framing: Framing,
    pub interim: u64,
    /// Longest silence of the upstream within a body before the client is cut (with an RST);
    /// `None`: no limit, the upstream's timing is relayed as it is.
    pub idle: Option<Duration>,
}

/// The relay's moving parts while it runs.
struct Run<'r> {
    relay: &'r Relay<'r>,
    /// A WebSocket tunnel: the messages and close code relayed down, and the counts both
    /// ways so far (what its journal entry says when it ends).
    ws: Option<(Tally, &'r Cell<WsStats>)>,
    timeline: Timeline,
    scanner: BodyScanner,
    /// Bytes at the front of the upstream buffer known to be body (and fed), not yet relayed.
    pending: usize,
    body_done: bool,
    sent: u64,
}

impl Relay<'_> {
    /// The stream is the rebuilt head followed by the body as the upstream frames it; offsets
    /// count bytes of that stream, so `reset=1m` cuts after exactly 1 MiB of relayed body.
    /// A WebSocket tunnel's journal entry gets its `ws` counts before its outcome.
    pub fn run<W: Wire>(
        &self,
        req: &mut Req<'_, '_, W>,
        up: &mut UpConn,
        pump: &mut Pump,
        delayed: &mut bool,
    ) -> Relayed {
        if pump.dir.is_none() {
            return self.run_with(req, up, pump, delayed, None);
        }
        let stats = Cell::new(WsStats::default());
        let entry = req.f.entry;
        let report = &mut *req.report;
        let mut report_ws = |o: &Outcome| {
            entry.set_ws(stats.get());
            report(o);
        };
        let mut sub = Req {
            f: req.f,
            x: req.x,
            plan: req.plan,
            wire: &mut *req.wire,
            buf: &mut *req.buf,
            report: &mut report_ws,
            note: &mut *req.note,
        };
        self.run_with(&mut sub, up, pump, delayed, Some(&stats))
    }

    fn run_with<W: Wire>(
        &self,
        req: &mut Req<'_, '_, W>,
        up: &mut UpConn,
        pump: &mut Pump,
        delayed: &mut bool,
        stats: Option<&Cell<WsStats>>,
    ) -> Relayed {
        let head_len = self.head.len() as u64;
        let total = match self.framing {
            Framing::None => Some(head_len),
            Framing::Length(n) => Some(head_len.saturating_add(n)),
            _ => None,
        };
        let framing = match self.framing {
            Framing::Chunked => shape::Framing::Chunked,
            // A WebSocket tunnel: `3msg` counts the upstream's WebSocket messages.
            Framing::Tunnel if crate::ws::handshake::is_upgrade(self.head) => {
                shape::Framing::WebSocket
            }
            _ => shape::Framing::Plain,
        };
        let scanner = BodyScanner::new(self.framing);
        let mut r = Run {
            relay: self,
            ws: stats.map(|s| (Tally::default(), s)),
            timeline: shape::of_plan(req.plan, head_len, total, framing),
            body_done: scanner.is_done(),
            scanner,
            pending: 0,
            sent: 0,
        };
        r.timeline.feed(self.head);
        if !delay_once(req.plan, req.wire, delayed) {
            (req.report)(&r.outcome(0, End::PeerGone));
            return Relayed::Ended;
        }
        let cut = loop {
            // Body bytes already here are scanned at once, so a small response goes out in
            // one write with its head (one segment, one wake-up for the client).
            if r.pending == 0 && !r.body_done && !up.input().is_empty() {
                if let Err(ended) = r.scan(req, up) {
                    return ended;
                }
            }
            let now = Instant::now();
            let next = match r.body_done && r.pending == 0 && r.sent >= r.timeline.fed() {
                true => r.timeline.at_end(r.sent, now),
                false => r.timeline.next(r.sent, now),
            };
            match next {
                Next::Wait(until) => {
                    if !req.wire.wait(until) {
                        (req.report)(&r.outcome(r.sent, End::PeerGone));
                        return Relayed::Ended;
                    }
                }
                Next::Cut(kind) => break Some(kind),
                Next::Feed if r.body_done => break None,
                Next::Feed => {
                    if let Err(ended) = r.read_more(req, up, pump) {
                        return ended;
                    }
                }
                Next::Write(up_to) => {
                    if let Some(ended) = r.write(req, up, up_to) {
                        return ended;
                    }
                }
            }
        };
        match cut {
            Some(kind) => {
                if kind == EndKind::Hang {
                    // The client is held, perhaps for long; the upstream is let go now.
                    let _ = up.stream.shutdown(Shutdown::Both);
                }
                let out = r.outcome(r.sent, End::from(kind));
                finish(req.wire, kind, &out, req.report);
                Relayed::Ended
            }
            None => {
                (req.report)(&r.outcome(r.sent, End::Complete));
                Relayed::Complete
            }
        }
    }
}

impl Run<'_> {
    fn outcome(&self, sent: u64, end: End) -> Outcome {
        Outcome {
            status: (sent > 0).then_some(self.relay.status),
            bytes: self.relay.interim + sent,
            end,
        }
    }

    /// Scans the upstream's buffered bytes for body (bytes after the response stay there,
    /// unrelayed, and keep the upstream connection from being reused), and feeds them to the
    /// timeline.
    fn scan<W: Wire>(&mut self, req: &mut Req<'_, '_, W>, up: &UpConn) -> Result<(), Relayed> {
        match self.scanner.feed(up.input()) {
            Ok((used, done)) => {
                (self.pending, self.body_done) = (used, done);
                self.timeline.feed(&up.input()[..used]);
                Ok(())
            }
            Err(e) if self.sent == 0 => Err(Relayed::BadBeforeAny(e)),
            Err(e) => Err(bad_body(e, &self.outcome(self.sent, End::Error), req)),
        }
    }

    /// Every fed byte is out: reads more of the body from the upstream (moving the request
    /// body up meanwhile), or ends the client's connection the way the upstream ended.
    fn read_more<W: Wire>(
        &mut self,
        req: &mut Req<'_, '_, W>,
        up: &mut UpConn,
        pump: &mut Pump,
    ) -> Result<(), Relayed> {
        if !up.input().is_empty() {
            return self.scan(req, up);
        }
        let deadline = match self.relay.idle {
            Some(d) => Instant::now() + d,
            None => far_future(),
        };
        let sent = self.sent;
        let got = up.fill_pumping(deadline, req.f.stop, pump, req.wire);
        if let (Some((_, stats)), Some(d)) = (&self.ws, &pump.dir) {
            stats.set(WsStats {
                messages_in: d.tally.messages,
                close_received: d.tally.close,
                ..stats.get()
            });
        }
        if matches!(got, Got::Eof) && up.ended_without_close_notify() {
            // The client's connection ends as the upstream's did: a bare FIN, so a body
            // framed by the close shows its truncation inside TLS too.
            req.wire.set_close_notify(false);
        }
        let (trouble, what) = match got {
            Got::Data | Got::Pumped => return Ok(()),
            Got::Client(e) => {
                // The request body broke off while the response was relayed: a cut the proxy
                // makes itself, so an RST.
                let end = match e {
                    BodyError::PeerGone => {
                        (req.report)(&self.outcome(sent, End::PeerGone));
                        return Err(Relayed::Ended);
                    }
                    BodyError::Timeout => End::Timeout,
                    _ => End::Error,
                };
                finish(
                    req.wire,
                    EndKind::Reset,
                    &self.outcome(sent, end),
                    req.report,
                );
                return Err(Relayed::Ended);
            }
            Got::Eof if self.scanner.ends_at_close() => {
                self.body_done = true;
                return Ok(());
            }
            Got::Eof => (Trouble::Close, "upstream closed mid-response"),
            Got::Reset => (Trouble::Reset, "upstream reset mid-response"),
            Got::Timeout => (
                Trouble::Timeout,
                "upstream silent mid-response for longer than --upstream-idle",
            ),
            Got::Stopped => {
                (req.report)(&self.outcome(sent, End::PeerGone));
                return Err(Relayed::Ended);
            }
            Got::Cut(kind) => return Err(self.cut_up(req, up, kind)),
        };
        // Ended the way the upstream ended, after what arrived was relayed; a silence the
        // proxy gave up on is its own cut: an RST.
        (req.note)(trouble, what);
        let (kind, end) = match trouble {
            Trouble::Close => (EndKind::Close, End::Close),
            Trouble::Reset => (EndKind::Reset, End::Reset),
            Trouble::Timeout => (EndKind::Reset, End::Timeout),
            _ => (EndKind::Reset, End::Error),
        };
        finish(req.wire, kind, &self.outcome(sent, end), req.report);
        Err(Relayed::Ended)
    }

    /// Writes the stream's bytes up to `up_to`: the rest of the head, then relayed body.
    fn write<W: Wire>(
        &mut self,
        req: &mut Req<'_, '_, W>,
        up: &mut UpConn,
        up_to: u64,
    ) -> Option<Relayed> {
        let head = self.relay.head;
        let from = usize::try_from(self.sent)
            .unwrap_or(usize::MAX)
            .min(head.len());
        let to = usize::try_from(up_to).unwrap_or(usize::MAX).min(head.len());
        let head_part = &head[from..to];
        let body_part = usize::try_from(up_to - self.sent)
            .unwrap_or(usize::MAX)
            .saturating_sub(head_part.len())
            .min(self.pending);
        let after = self.sent + (head_part.len() + body_part) as u64;
        if let Some((tally, stats)) = &mut self.ws {
            tally.feed(&up.input()[..body_part]);
            stats.set(WsStats {
                messages_out: tally.messages,
                close_sent: tally.close,
                ..stats.get()
            });
        }
        // Nothing is left after this piece: no ending or pause to come, the body complete and
        // this piece its last bytes. Reported before the last byte goes out: a client that
        // has the whole response finds it complete in the journal.
        let last = self.body_done
            && body_part == self.pending
            && after >= head.len() as u64
            && !self.timeline.has_cut()
            && self.timeline.clear_after(after);
        if last {
            (req.report)(&self.outcome(after, End::Complete));
        }
        let piece: &[u8] = if head_part.is_empty() {
            &up.input()[..body_part]
        } else if body_part == 0 {
            head_part
        } else {
            req.buf.clear();
            req.buf.extend_from_slice(head_part);
            req.buf.extend_from_slice(&up.input()[..body_part]);
            req.buf
        };
        if let Err(e) = req.wire.write_all(piece) {
            let end = if is_timeout(&e) {
                End::Timeout
            } else {
                End::PeerGone
            };
            (req.report)(&self.outcome(self.sent, end));
            return Some(Relayed::Ended);
        }
        up.consume(body_part);
        self.pending -= body_part;
        self.sent = after;
        last.then_some(Relayed::Complete)
    }

    /// A tunnel's client-to-upstream direction reached the plan's cut (`up:reset=2msg`): the
    /// upstream's connection ends that way (an RST once it acknowledged every byte, a FIN, or
    /// closed while the client is held), and so does the client's.
    fn cut_up<W: Wire>(&self, req: &mut Req<'_, '_, W>, up: &mut UpConn, kind: EndKind) -> Relayed {
        match kind {
            EndKind::Reset => up.reset_after_acks(req.x.read_timeout),
            EndKind::Close => up.shutdown_write(),
            EndKind::Hang => {
                // Every byte admitted goes (an `https://` upstream's last records), then none.
                let _ = up.send_all(&[]);
                let _ = up.stream.shutdown(Shutdown::Both);
            }
        }
        let out = self.outcome(self.sent, End::from(kind));
        finish(req.wire, kind, &out, req.report);
        if kind == EndKind::Close {
            // What the upstream still sends is read and dropped until it closes too (bounded):
            // closing with unread bytes would turn its FIN into an RST.
            up.drain(req.f.stop);
        }
        Relayed::Ended
    }
}

/// The upstream's body broke its own framing after bytes of the response reached the client:
/// say so, report the error, and cut the client's connection with an RST after what was
/// relayed (a FIN could pass for the end of a body delimited by the close).
fn bad_body<W: Wire>(e: ResponseError, out: &Outcome, req: &mut Req<'_, '_, W>) -> Relayed {
    (req.note)(
        Trouble::Bad,
        &format!("bad response body from upstream: {e}"),
    );
    finish(req.wire, EndKind::Reset, out, req.report);
    Relayed::Ended
}
