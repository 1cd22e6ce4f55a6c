//! One request through the proxy, phase by phase: the upstream connection (kept or new), the
//! request head and body on their way up, the wait for the final response head (interim ones
//! relayed), then the relay ([`super::relay`]) and what becomes of both connections.

use super::relay::{Relay, Relayed};
use super::upconn::{Got, Pump, UpConn};
use super::updir::UpDir;
use super::{Forward, Trouble, CONTINUE, STOP_CHECK};
use crate::control::journal::End;
use crate::http::request::{BodyLen, Version};
use crate::http::response::{self as upstream, Framing, LengthEdit, ResponseScan};
use crate::http1::exchange::{self, BodyError, Carry, Exchange, Next, Outcome};
use crate::http1::response::simple_response;
use crate::plan::{Body, EndKind, Ending, Length, Plan, HEALTHY};
use crate::wire::{Fill, Wire, BODY_BUF};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Forwards the request at the front of `wire`'s input to the upstream (connecting `up` if
/// needed) and relays the response shaped by `plan`. `report` gets the outcome before the
/// client's connection ends; `note` is told of upstream failures (for the log).
///
/// The upstream connection is kept for the next request only after a response relayed whole
/// and framed by itself; after any error answer (502, 504), a dropped answer or a cut it is
/// closed, so a late or unsolicited answer can never reach the next request.
#[inline(never)]
pub fn forward<W: Wire>(
    req: &mut Req<'_, '_, W>,
    up: &mut Option<UpConn>,
) -> Result<Next, BodyError> {
    let mut reusable = false;
    let result = req.forward_inner(up, &mut reusable);
    if !reusable || !matches!(result, Ok(Next::KeepAlive(_))) {
        *up = None;
    }
    result
}

/// One request on its way through the proxy: what every phase (the wait for the response
/// head, the relay) needs.
pub struct Req<'r, 'w, W> {
    /// The upstream and the proxy's settings.
    pub f: &'r Forward<'r>,
    /// The request as the executor sees it.
    pub x: &'r Exchange<'r>,
    /// Its plan.
    pub plan: &'r Plan,
    /// The client's connection.
    pub wire: &'w mut W,
    /// A reused buffer.
    pub buf: &'w mut Vec<u8>,
    /// Gets the outcome before the client's connection ends.
    pub report: &'w mut dyn FnMut(&Outcome),
    /// Is told of upstream failures (for the log).
    pub note: &'w mut dyn FnMut(Trouble, &str),
}

/// Methods that may be sent again without asking (RFC 9110, 9.2.2). A request crossing the
/// close of a kept upstream connection is retried only if its method is one of these.
fn is_idempotent(method: &str) -> bool {
    matches!(
        method,
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
    )
}

/// What the wait for the response head leaves for the relay.
struct Waiting {
    /// Interim bytes (100 Continue, 103) already sent to the client.
    interim: u64,
    sent_continue: bool,
    /// `delay=` was served.
    delayed: bool,
    /// The request body on its way up.
    pump: Pump,
    /// The final response head, once read.
    head: Option<FinalHead>,
}

/// What a look at the upstream's buffer found.
enum Scanned {
    /// The final head (in [`Waiting::head`]).
    Final,
    /// An interim head, relayed and consumed: look again.
    Interim,
    /// No complete head yet.
    More,
}

fn up_of(slot: &mut Option<UpConn>) -> Result<&mut UpConn, Result<Next, BodyError>> {
    slot.as_mut().ok_or(Ok(Next::Done))
}

/// A final response head from the upstream, consumed from its buffer.
struct FinalHead {
    /// The head rebuilt for the client (in the upstream connection's reused buffer).
    head: Vec<u8>,
    status: u16,
    framing: Framing,
    /// The upstream ends its connection after this response.
    close: bool,
    /// The client's connection ends after this response.
    client_close: bool,
}

impl<W: Wire> Req<'_, '_, W> {
    fn forward_inner(
        &mut self,
        slot: &mut Option<UpConn>,
        reusable: &mut bool,
    ) -> Result<Next, BodyError> {
        let (f, x, plan) = (self.f, self.x, self.plan);
        // A kept connection the upstream closed, or wrote to unasked, while idle is not used.
        if slot.as_ref().is_some_and(UpConn::is_stale) {
            *slot = None;
        }
        // It may still be closed by the upstream just as the request goes out; the request is then
        // sent once more on a new connection only if that is safe (RFC 9112, 9.3.1).
        let may_retry = slot.is_some() && x.body == BodyLen::None && is_idempotent(f.method);
        if slot.is_none() {
            match UpConn::connect(f, x.read_timeout) {
                Ok(c) => *slot = Some(c),
                Err(e) => {
                    if f.stop.load(Ordering::Relaxed) {
                        (self.report)(&gone(None, 0));
                        return Ok(Next::Done);
                    }
                    // No answer in time (the connect and an https:// upstream's handshake
                    // share one deadline): 504; any other failure: 502.
                    let reason = e.reason(f.addr);
                    (self.note)(e.trouble(), &reason);
                    return answer_error(x, self.wire, self.buf, e.status(), &reason, self.report);
                }
            }
        }
        // The rebuilt request head goes into the connection's reused buffer (free again once the
        // head went up, before the relay uses it).
        let upgrade =
            upstream::forward_request_into(&self.wire.input()[..x.head_len], x.close, self.buf);
        self.wire.consume(x.head_len);

        let mut w = Waiting {
            interim: 0,
            sent_continue: false,
            delayed: false,
            pump: Pump::new(x.body),
            head: None,
        };
        let got = match self.await_head(slot, may_retry, &mut w) {
            Ok(got) => got,
            Err(done) => return done,
        };
        if let Some(Ending { kind, at: None }) = plan.ending {
            // The lost response: the upstream did the work and the client never learns it. The
            // ending comes as soon as the head is here; the rest of the answer (an endless stream,
            // maybe) goes with the upstream connection, closed now (a `hang` may last long).
            *slot = None;
            if let Some(d) = plan.delay {
                if !self.wire.wait(Instant::now() + d) {
                    (self.report)(&gone(None, w.interim));
                    return Ok(Next::Done);
                }
            }
            let out = Outcome {
                status: None,
                bytes: w.interim,
                end: End::from(kind),
            };
            finish(self.wire, kind, &out, self.report);
            return Ok(Next::Done);
        }
        let Some(up) = slot.as_mut() else {
            return Ok(Next::Done);
        };

        if got.framing == Framing::Tunnel {
            if !upgrade || got.status != 101 {
                let reason = "upstream switched protocols unasked";
                (self.note)(Trouble::Bad, reason);
                let complete = w.pump.complete();
                return answer_late(x, self.wire, 502, reason, w.interim, complete, self.report);
            }
            // From here on the client's bytes go up raw, and the plan shapes the bytes coming
            // down after the 101 head as it shapes a body.
            // A WebSocket tunnel: the client's direction has its own timeline (`up:`) and
            // tally.
            let ws = crate::ws::handshake::is_upgrade(&got.head);
            w.pump = Pump::tunnel(ws.then(|| Box::new(UpDir::new(plan))));
        }
        self.relay_response(up, got, w, reusable)
    }

    /// What becomes of the upstream's `Content-Length` (the plan's `length=`; a tunnel's head is
    /// relayed as it is).
    fn length_edit(plan: &Plan, tunnel: bool) -> LengthEdit {
        match plan.length {
            _ if tunnel => LengthEdit::Keep,
            Length::Auto => LengthEdit::Keep,
            Length::Declared(n) => LengthEdit::Set(n),
            Length::Omitted => LengthEdit::Remove,
        }
    }

    /// Sends the request head (and, while it waits, the body) and reads the final response head,
    /// relaying interim ones. `Err`: the exchange is over (answered 502 or 504, or the client
    /// left); the upstream connection is not to be reused.
    fn await_head(
        &mut self,
        slot: &mut Option<UpConn>,
        mut may_retry: bool,
        w: &mut Waiting,
    ) -> Result<FinalHead, Result<Next, BodyError>> {
        loop {
            let up = up_of(slot)?;
            if let Err(e) = self.send_head(up, w)? {
                // A kept connection the upstream closed just as the request went out: once
                // more on a new connection, when that is safe (RFC 9112 section 9.3.1).
                if may_retry {
                    may_retry = false;
                    if let Ok(c) = UpConn::connect(self.f, self.x.read_timeout) {
                        *slot = Some(c);
                        continue;
                    }
                }
                // The upstream went away: the rest of the request is not sent; what it
                // answered (if anything) is still read below.
                let reason = format!("writing the request head to upstream: {e}");
                (self.note)(Trouble::Reset, &reason);
                w.pump.broken = true;
            }
            let up = up_of(slot)?;
            let Some((trouble, what)) = self.read_head(up, w, may_retry)? else {
                return w.head.take().ok_or(Ok(Next::Done));
            };
            // Nothing came on a kept connection: the same retry, once.
            may_retry = false;
            if let Ok(c) = UpConn::connect(self.f, self.x.read_timeout) {
                *slot = Some(c);
                continue;
            }
            return Err(self.upstream_failed(trouble, what, w));
        }
    }

    /// Sends the request head (`Ok(Err(e))`: the upstream did not take it); tells the client
    /// to send its body (`100 Continue`) when it waits for that.
    fn send_head(
        &mut self,
        up: &mut UpConn,
        w: &mut Waiting,
    ) -> Result<std::io::Result<()>, Result<Next, BodyError>> {
        let x = self.x;
        if let Err(e) = up.send_all(self.buf) {
            return Ok(Err(e));
        }
        let wants_continue = x.expect_continue && x.version == Version::Http11;
        if !w.sent_continue
            && wants_continue
            && x.body != BodyLen::None
            && self.wire.input().is_empty()
        {
            // The client holds its body back until told to send it; the upstream's own
            // `100 Continue` (sent to the forwarded `Expect`) is then not relayed twice.
            if self.wire.write_all(CONTINUE).is_err() {
                return Err(Err(BodyError::PeerGone));
            }
            w.interim = CONTINUE.len() as u64;
            w.sent_continue = true;
        }
        Ok(Ok(()))
    }

    /// Reads the final response head, relaying interim ones, while the request body goes up.
    /// `Ok(None)`: the final head is in `w.head`. `Ok(Some((trouble, reason)))`: the upstream
    /// failed before a head (a retry may be tried when `may_retry` and nothing came).
    fn read_head(
        &mut self,
        up: &mut UpConn,
        w: &mut Waiting,
        may_retry: bool,
    ) -> Result<Option<(Trouble, &'static str)>, Result<Next, BodyError>> {
        let (f, x) = (self.f, self.x);
        let mut deadline = Instant::now() + x.read_timeout;
        let mut scan = ResponseScan::default();
        loop {
            match self.scan_head(up, &mut scan, w)? {
                Scanned::Final => return Ok(None),
                Scanned::Interim => continue,
                Scanned::More => {}
            }
            let got = up.fill_pumping(deadline, f.stop, &mut w.pump, self.wire);
            let nothing_yet = up.input().is_empty();
            let (trouble, what) = match got {
                Got::Data => continue,
                Got::Pumped => {
                    // The client is still sending: the wait for the head starts after it.
                    deadline = Instant::now() + x.read_timeout;
                    continue;
                }
                Got::Client(e) => return Err(Err(e)),
                Got::Timeout => (
                    Trouble::Timeout,
                    "no response head from upstream within the read timeout",
                ),
                Got::Eof => (
                    Trouble::Close,
                    "upstream closed the connection before a response head",
                ),
                Got::Reset => (
                    Trouble::Reset,
                    "upstream reset the connection before a response head",
                ),
                // (A cut of a tunnel's direction: no tunnel before the final head.)
                Got::Stopped | Got::Cut(_) => {
                    (self.report)(&gone(None, w.interim));
                    return Err(Ok(Next::Done));
                }
            };
            if may_retry && nothing_yet && trouble != Trouble::Timeout {
                return Ok(Some((trouble, what)));
            }
            return Err(self.upstream_failed(trouble, what, w));
        }
    }

    /// Looks for a complete head in what the upstream sent: an interim one is relayed (unless
    /// the response is to be dropped) and consumed; a final one is rebuilt into `w.head`.
    fn scan_head(
        &mut self,
        up: &mut UpConn,
        scan: &mut ResponseScan,
        w: &mut Waiting,
    ) -> Result<Scanned, Result<Next, BodyError>> {
        let (f, x, plan) = (self.f, self.x, self.plan);
        // Owned facts of a complete head, so the buffer can be consumed.
        let parsed = scan.scan(up.input()).map(|h| {
            h.map(|h| {
                (
                    h.len,
                    h.status,
                    h.is_interim(),
                    h.framing(f.method),
                    h.close,
                )
            })
        });
        let (len, status, interim, framing, close) = match parsed {
            Ok(Some(head)) => head,
            Ok(None) => return Ok(Scanned::More),
            Err(e) => {
                let reason = format!("bad response from upstream: {e}");
                (self.note)(Trouble::Bad, &reason);
                let complete = w.pump.complete();
                return Err(answer_late(
                    x,
                    self.wire,
                    502,
                    &reason,
                    w.interim,
                    complete,
                    self.report,
                ));
            }
        };
        if interim {
            // A dropped answer relays nothing; the upstream's own 100 is not relayed twice.
            let lost = matches!(plan.ending, Some(Ending { at: None, .. }));
            let skip = lost || (status == 100 && w.sent_continue);
            if !skip {
                let relayed =
                    upstream::relay_response_head(&up.input()[..len], &[], LengthEdit::Keep, false);
                if !delay_once(plan, self.wire, &mut w.delayed)
                    || self.wire.write_all(&relayed).is_err()
                {
                    (self.report)(&gone(None, w.interim));
                    return Err(Ok(Next::Done));
                }
                w.interim += relayed.len() as u64;
            }
            up.consume(len);
            *scan = ResponseScan::default();
            return Ok(Scanned::Interim);
        }
        // Rebuilt straight from the upstream's buffer into a reused one.
        let tunnel = framing == Framing::Tunnel;
        let edit = Self::length_edit(plan, tunnel);
        let client_close = x.close
            || plan.keepalive == Some(false)
            || framing == Framing::UntilClose
            || edit != LengthEdit::Keep
            || w.pump.broken;
        let mut head = std::mem::take(&mut up.spare);
        upstream::relay_response_head_into(
            &up.input()[..len],
            &plan.headers,
            edit,
            client_close && !tunnel,
            &mut head,
        );
        up.consume(len);
        w.head = Some(FinalHead {
            head,
            status,
            framing,
            close,
            client_close,
        });
        Ok(Scanned::Final)
    }

    /// The upstream failed before a response head: noted, and answered 502 (504 for a
    /// silence past `--read-timeout`).
    fn upstream_failed(
        &mut self,
        trouble: Trouble,
        what: &str,
        w: &Waiting,
    ) -> Result<Next, BodyError> {
        (self.note)(trouble, what);
        let code = if trouble == Trouble::Timeout {
            504
        } else {
            502
        };
        let complete = w.pump.complete();
        answer_late(
            self.x,
            self.wire,
            code,
            what,
            w.interim,
            complete,
            self.report,
        )
    }

    /// Relays the final response (or, after a 101, the tunnel) shaped by the plan, then decides
    /// what becomes of both connections.
    fn relay_response(
        &mut self,
        up: &mut UpConn,
        got: FinalHead,
        mut w: Waiting,
        reusable: &mut bool,
    ) -> Result<Next, BodyError> {
        let (f, x, plan) = (self.f, self.x, self.plan);
        let tunnel = got.framing == Framing::Tunnel;
        let client_close = got.client_close;
        let relay = Relay {
            head: &got.head,
            status: got.status,
            framing: got.framing,
            interim: w.interim,
            idle: f.idle,
        };
        let ended = relay.run(self, up, &mut w.pump, &mut w.delayed);
        let Req {
            wire, report, note, ..
        } = self;
        let wire: &mut W = wire;
        // The head's buffer serves the next response.
        up.spare = got.head;
        match ended {
            Relayed::Complete if tunnel => {
                // The upstream closed its side: so does the client's, and what the client still
                // sends goes up until it closes too (a half-closed tunnel, as in TCP mode).
                wire.close(false);
                if !w.pump.done() {
                    tunnel_rest_up(up, wire, f.stop);
                }
                Ok(Next::Done)
            }
            Relayed::Complete => {
                // An upstream that answered before the whole body arrived still gets the rest.
                let pumped = w.pump.finish(up, wire, x.read_timeout, f.stop);
                *reusable = pumped
                    && !got.close
                    && got.framing != Framing::UntilClose
                    && up.input().is_empty();
                if client_close || !pumped {
                    wire.close(true);
                    Ok(Next::Done)
                } else {
                    Ok(Next::KeepAlive(Carry {
                        idle: plan.idle,
                        reuse: plan.reuse,
                    }))
                }
            }
            Relayed::Ended => Ok(Next::Done),
            Relayed::BadBeforeAny(e) => {
                let reason = format!("bad response body from upstream: {e}");
                note(Trouble::Bad, &reason);
                let complete = w.pump.complete();
                answer_late(x, wire, 502, &reason, w.interim, complete, report)
            }
        }
    }
}

/// After the upstream closed its side of a tunnel: the client's bytes go up until it closes
/// too (or resets, or the server stops).
fn tunnel_rest_up<W: Wire>(up: &mut UpConn, wire: &mut W, stop: &AtomicBool) {
    loop {
        if !wire.input().is_empty() {
            if up.send_all(wire.input()).is_err() {
                return;
            }
            let n = wire.input().len();
            wire.consume(n);
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match wire.fill(Instant::now() + STOP_CHECK, BODY_BUF) {
            Fill::Data(_) | Fill::Full | Fill::Timeout => {}
            Fill::Eof => {
                up.shutdown_write();
                return;
            }
            Fill::Gone => return,
        }
    }
}

/// A deadline that never comes: waits end with data, the peer, or the server stopping.
pub(super) fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

/// `delay=DUR` before the first relayed byte: false if the client left meanwhile.
pub(super) fn delay_once<W: Wire>(plan: &Plan, wire: &mut W, delayed: &mut bool) -> bool {
    if *delayed {
        return true;
    }
    *delayed = true;
    match plan.delay {
        Some(d) => wire.wait(Instant::now() + d),
        None => true,
    }
}

fn gone(status: Option<u16>, bytes: u64) -> Outcome {
    Outcome {
        status,
        bytes,
        end: End::PeerGone,
    }
}

/// Reports, then ends the client's connection: RST after every relayed byte was acknowledged,
/// FIN after reading what the client still sends, or silence.
pub(super) fn finish<W: Wire>(
    wire: &mut W,
    kind: EndKind,
    out: &Outcome,
    report: &mut dyn FnMut(&Outcome),
) {
    match kind {
        EndKind::Reset => {
            wire.await_acks();
            report(out);
            wire.reset();
        }
        EndKind::Close => {
            report(out);
            wire.close(true);
        }
        EndKind::Hang => {
            report(out);
            wire.hang();
        }
    }
}

/// An upstream failure answered before anything was forwarded: the executor reads the
/// request body and answers `status` with the one-line reason.
fn answer_error<W: Wire>(
    x: &Exchange<'_>,
    wire: &mut W,
    buf: &mut Vec<u8>,
    status: u16,
    reason: &str,
    report: &mut dyn FnMut(&Outcome),
) -> Result<Next, BodyError> {
    let mut body = reason.as_bytes().to_vec();
    body.push(b'\n');
    let plan = Plan {
        status: Some(status),
        body: Body::Text(body),
        headers: vec![("Content-Type".into(), "text/plain".into())],
        ..HEALTHY
    };
    let mut report_error = |o: &Outcome| {
        report(&Outcome {
            end: if o.end == End::Complete {
                End::Error
            } else {
                o.end
            },
            ..*o
        })
    };
    exchange::run(x, &plan, wire, buf, &mut report_error)
}

/// An upstream failure answered after the request was forwarded (and its body read): a small
/// response with `Connection: close` unless the connection can go on.
fn answer_late<W: Wire>(
    x: &Exchange<'_>,
    wire: &mut W,
    status: u16,
    reason: &str,
    interim: u64,
    body_complete: bool,
    report: &mut dyn FnMut(&Outcome),
) -> Result<Next, BodyError> {
    let mut body = reason.as_bytes().to_vec();
    body.push(b'\n');
    let close = x.close || !body_complete;
    let bytes = if x.head_only {
        let full = simple_response(status, "text/plain", &body, close);
        let cut = full.len() - body.len();
        full[..cut].to_vec()
    } else {
        simple_response(status, "text/plain", &body, close)
    };
    let out = Outcome {
        status: Some(status),
        bytes: interim + bytes.len() as u64,
        end: End::Error,
    };
    report(&out);
    if wire.write_all(&bytes).is_err() {
        report(&gone(Some(status), interim));
        return Ok(Next::Done);
    }
    if close {
        wire.close(true);
        Ok(Next::Done)
    } else {
        Ok(Next::KeepAlive(Carry::default()))
    }
}
