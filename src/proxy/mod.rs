//! Proxy mode: one request forwarded to the upstream and its response relayed to the client,
//! shaped by the plan as it passes (delay, pauses, rate, added headers, `length=`, and endings
//! at offsets of the relayed bytes). Bodies stream both ways through fixed buffers, bytes
//! unchanged; the pure parts (heads, framing) are in `upstream.rs`.
//!
//! Each client connection has its own upstream connection ([`UpConn`]), opened for its first
//! forwarded request and kept while both sides keep alive. The outcome is reported before the
//! client's connection ends, as in the executor, so a client that saw the end finds it in the
//! journal.

pub mod upstream;

use crate::control::journal::End;
use crate::http::request::{BodyLen, ChunkedScanner, Version};
use crate::http1::exchange::{self, BodyError, Carry, Exchange, Next, Outcome};
use crate::http1::response::{clamp_len, rate_time, simple_response};
use crate::plan::{Body, EndKind, Ending, Length, Offset, Plan, HEALTHY};
use crate::sys;
use crate::wire::{is_timeout, Fill, Wire, BODY_BUF};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use upstream::{BodyScanner, Framing, LengthEdit, ResponseScan};

/// Size of the buffer for bytes read from the upstream: a response of any size passes through
/// this much memory.
const UP_BUF: usize = 64 * 1024;
/// Largest single write to the client.
const WRITE_PIECE: usize = 64 * 1024;
/// The interim response httpfault sends itself to `Expect: 100-continue`.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
/// How often a wait without limit on the upstream looks whether the client left.
const CLIENT_CHECK: Duration = Duration::from_secs(1);
/// Longest single blocking read on the upstream, so a stopping server is noticed.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// The plan makes its own response (`status`, `text`, `body`, `echo`, `raw`, `garbage`, and
/// `chunked`/`badchunk`, which frame a body httpfault makes), or `forward=no`: the executor
/// answers as in server mode and the upstream is not contacted.
pub fn answers_itself(plan: &Plan) -> bool {
    !plan.forward
        || plan.status.is_some()
        || plan.body != Body::Default
        || plan.replace.is_some()
        || plan.chunked.is_some()
        || plan.badchunk
        // The request-side and protocol-oddity steps make their own exchange, as in server
        // mode: a cut inside the request body never reaches the upstream (a lost request).
        || matches!(
            plan.ending,
            Some(crate::plan::Ending {
                at: Some(Offset::Req(_)),
                ..
            })
        )
        || plan.expect.is_some()
        || !plan.info.is_empty()
        || !plan.trailers.is_empty()
        || plan.extra.is_some()
        || plan.lf
        || plan.gzip.is_some()
        || plan.readrate.is_some()
        || plan.ranges
}

/// What went wrong with the upstream, as the log's `upstream=` field says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trouble {
    /// No connection could be made.
    Refused,
    /// No response head within `--read-timeout` (or a stalled body).
    Timeout,
    /// The upstream reset its connection.
    Reset,
    /// The upstream closed its connection early.
    Close,
    /// The upstream sent something that cannot be relayed.
    Bad,
}

impl Trouble {
    /// The log value.
    pub fn name(self) -> &'static str {
        match self {
            Trouble::Refused => "refused",
            Trouble::Timeout => "timeout",
            Trouble::Reset => "reset",
            Trouble::Close => "close",
            Trouble::Bad => "bad",
        }
    }
}

/// What one read from the upstream brought.
enum Got {
    Data,
    Eof,
    Reset,
    Timeout,
    Stopped,
    /// Request body bytes went up (or the upstream stopped taking them).
    Pumped,
    /// The request body cannot be read from the client.
    Client(BodyError),
}

/// A client connection's upstream connection and the bytes read from it not yet relayed.
pub struct UpConn {
    stream: TcpStream,
    /// An `https://` upstream: the TLS client over `stream`; every read and write below goes
    /// through it.
    #[cfg(feature = "tls")]
    tls: Option<Box<rustls::ClientConnection>>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The read timeout set on the socket, to skip needless `setsockopt` calls.
    timeout: Option<Duration>,
    /// The buffer the rebuilt response head is written to, kept from response to response.
    spare: Vec<u8>,
}

impl UpConn {
    fn connect(f: &Forward<'_>, timeout: Duration) -> io::Result<UpConn> {
        let stream = TcpStream::connect_timeout(&f.addr, timeout)?;
        // Heads go out as soon as they are written; the relay batches bodies itself.
        let _ = stream.set_nodelay(true);
        // An upstream that stops reading must not hold the connection for ever.
        let _ = stream.set_write_timeout(Some(timeout));
        #[cfg(feature = "tls")]
        let tls = match f.tls {
            None => None,
            Some(t) => Some(Box::new(handshake(&stream, t, timeout)?)),
        };
        Ok(UpConn {
            stream,
            #[cfg(feature = "tls")]
            tls,
            buf: Vec::new(),
            start: 0,
            end: 0,
            timeout: None,
            spare: Vec::new(),
        })
    }

    /// Reads what the upstream sent (plaintext, over TLS).
    fn read_some(&mut self, at: usize) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            return tls_read(tls, &self.stream, &mut self.buf[at..]);
        }
        self.stream.read(&mut self.buf[at..])
    }

    /// Writes all of `bytes` to the upstream, blocking (bounded by the write timeout).
    fn send_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            let mut rest = bytes;
            while !rest.is_empty() {
                let n = tls.writer().write(rest)?;
                rest = &rest[n..];
                while tls.wants_write() {
                    tls.write_tls(&mut &self.stream)?;
                }
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
            }
            while tls.wants_write() {
                tls.write_tls(&mut &self.stream)?;
            }
            return Ok(());
        }
        (&self.stream).write_all(bytes)
    }

    /// Sends what goes without blocking; `WouldBlock` when nothing does. Over TLS, bytes
    /// taken are encrypted and may wait in rustls for the next call (see
    /// [`UpConn::wants_write`]).
    fn send_now(&mut self, bytes: &[u8]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            flush_now(tls, &self.stream)?;
            let n = tls.writer().write(&bytes[..bytes.len().min(16 * 1024)])?;
            match flush_now(tls, &self.stream) {
                Err(e) if !is_timeout(&e) => return Err(e),
                _ => return Ok(n),
            }
        }
        sys::send_now(&self.stream, bytes)
    }

    /// TLS records made but not sent yet.
    fn wants_write(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return tls.wants_write();
        }
        false
    }

    /// Plaintext already decrypted and waiting: a poll on the socket would not see it.
    fn has_buffered(&mut self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            return tls.process_new_packets().map_or(true, |s| {
                s.plaintext_bytes_to_read() > 0 || s.peer_has_closed()
            });
        }
        false
    }

    /// Ends the request direction (TLS: `close_notify` first).
    fn shutdown_write(&mut self) {
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            tls.send_close_notify();
            while tls.wants_write() {
                if tls.write_tls(&mut &self.stream).is_err() {
                    break;
                }
            }
        }
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    fn input(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        crate::wire::consume_window(&mut self.start, &mut self.end, n);
    }

    /// A kept connection the upstream closed, reset or wrote to while idle cannot carry a
    /// request: bytes nobody asked for would become the next answer. One `poll`, no wait.
    fn is_stale(&self) -> bool {
        if !self.input().is_empty() {
            return true;
        }
        let mut fds = [sys::Interest {
            fd: self.stream.as_raw_fd(),
            read: true,
            ..Default::default()
        }];
        sys::poll_io(&mut fds, Duration::ZERO).map_or(true, |()| fds[0].readable)
    }

    /// Makes room at the end of the buffer (which is never more than [`UP_BUF`]); false if it
    /// is full of bytes not yet consumed.
    fn make_room(&mut self) -> bool {
        if self.buf.len() < UP_BUF {
            self.buf.resize(UP_BUF, 0);
        }
        if self.end == self.buf.len() {
            if self.start == 0 {
                return false;
            }
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        true
    }

    /// Reads more into the buffer, until `deadline`.
    fn fill(&mut self, deadline: Instant, stop: &AtomicBool) -> Got {
        if !self.make_room() {
            // Full: the caller consumes before reading more; say "data" so it does.
            return Got::Data;
        }
        loop {
            if stop.load(Ordering::Relaxed) {
                return Got::Stopped;
            }
            let now = Instant::now();
            if now >= deadline {
                return Got::Timeout;
            }
            let wait = (deadline - now).clamp(Duration::from_millis(1), STOP_CHECK);
            // Within 2 ms of the wanted timeout is close enough (a much shorter one left from
            // a short wait would make every read wake early).
            let slack = Duration::from_millis(2);
            let fine = self
                .timeout
                .is_some_and(|cur| cur <= wait + slack && cur + slack >= wait);
            if !fine && self.stream.set_read_timeout(Some(wait)).is_ok() {
                self.timeout = Some(wait);
            }
            if self.wants_write() {
                // The end of a request body still in rustls: the answer waits for it.
                if self.send_all(&[]).is_err() {
                    return Got::Reset;
                }
            }
            match self.read_some(self.end) {
                Ok(0) => return Got::Eof,
                Ok(n) => {
                    self.end += n;
                    return Got::Data;
                }
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Got::Reset,
            }
        }
    }

    /// [`UpConn::fill`] that also moves the request body up while it waits, so an upstream
    /// that answers while it still reads (an echo) does not deadlock the two directions.
    /// `Pumped`: body bytes moved (the caller's wait starts again); `Client`: the request body
    /// cannot be read.
    fn fill_pumping<W: Wire>(
        &mut self,
        deadline: Instant,
        stop: &AtomicBool,
        pump: &mut Pump,
        wire: &mut W,
    ) -> Got {
        if pump.done() {
            if pump.raw {
                // A half-closed tunnel: the client's FIN is not a client leaving.
                return self.fill(deadline, stop);
            }
            // No limit on the wait may be set: look now and then whether the client left.
            loop {
                let step = deadline.min(Instant::now() + CLIENT_CHECK);
                match self.fill(step, stop) {
                    Got::Timeout if step < deadline => {
                        if !wire.wait(Instant::now() + Duration::from_millis(1)) {
                            return Got::Client(BodyError::PeerGone);
                        }
                    }
                    got => return got,
                }
            }
        }
        loop {
            if stop.load(Ordering::Relaxed) {
                return Got::Stopped;
            }
            match pump.push(self, wire) {
                Err(e) => return Got::Client(e),
                Ok(true) => return Got::Pumped,
                Ok(false) if pump.done() => return Got::Pumped,
                Ok(false) => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return if pump.wants_client() {
                    Got::Client(BodyError::Timeout)
                } else {
                    Got::Timeout
                };
            }
            let room = self.make_room();
            if room && self.has_buffered() {
                return self.fill(deadline, stop);
            }
            if pump.wants_client() && wire.pending() {
                match wire.fill(Instant::now() + Duration::from_millis(1), BODY_BUF) {
                    Fill::Data(_) | Fill::Full | Fill::Timeout => continue,
                    Fill::Eof | Fill::Gone => return Got::Client(BodyError::PeerGone),
                }
            }
            let mut fds = [
                sys::Interest {
                    fd: self.stream.as_raw_fd(),
                    read: room,
                    write: pump.wants_upstream() || self.wants_write(),
                    ..Default::default()
                },
                sys::Interest {
                    fd: wire.fd().unwrap_or(-1),
                    read: pump.wants_client(),
                    ..Default::default()
                },
            ];
            if sys::poll_io(&mut fds, (deadline - now).min(STOP_CHECK)).is_err() {
                return Got::Reset;
            }
            if fds[0].readable {
                return self.fill(deadline, stop);
            }
            if fds[1].readable {
                match wire.fill(Instant::now() + Duration::from_millis(1), BODY_BUF) {
                    Fill::Data(_) | Fill::Full | Fill::Timeout => {}
                    Fill::Eof if pump.raw => {
                        // The client closed its side of a tunnel: so does the proxy toward
                        // the upstream, once what it sent has gone up.
                        pump.scanned = true;
                        return match pump.push(self, wire) {
                            Err(e) => Got::Client(e),
                            Ok(_) => Got::Pumped,
                        };
                    }
                    Fill::Eof | Fill::Gone => return Got::Client(BodyError::PeerGone),
                }
            }
        }
    }
}

/// The request body on its way up, bytes unchanged (chunk framing included), moved whenever
/// the proxy waits on the upstream.
struct Pump {
    /// Bytes left of a `Content-Length` body.
    left: u64,
    /// Follows a chunked body.
    scanner: Option<ChunkedScanner>,
    /// Bytes at the front of the client's input known to be body and not yet sent.
    ready: usize,
    /// Every body byte has been seen.
    scanned: bool,
    /// The upstream stopped taking the body; the rest stays unread.
    broken: bool,
    /// A tunnel after `101`: every byte from the client goes up until it closes its side.
    raw: bool,
    /// The upstream was told (FIN) that the client closed its side of the tunnel.
    shut: bool,
}

impl Pump {
    fn new(body: BodyLen) -> Pump {
        let (left, scanner, scanned) = match body {
            BodyLen::None => (0, None, true),
            BodyLen::Length(n) => (n, None, n == 0),
            // Strict: the framing goes up unchanged, so it must read one way only.
            BodyLen::Chunked => (0, Some(ChunkedScanner::strict()), false),
        };
        Pump {
            left,
            scanner,
            ready: 0,
            scanned,
            broken: false,
            raw: false,
            shut: false,
        }
    }

    /// The client's side of a tunnel.
    fn tunnel() -> Pump {
        Pump {
            raw: true,
            scanned: false,
            ..Pump::new(BodyLen::None)
        }
    }

    /// Nothing more will go up.
    fn done(&self) -> bool {
        self.broken || (self.scanned && self.ready == 0)
    }

    /// The whole body went up.
    fn complete(&self) -> bool {
        !self.broken && self.scanned && self.ready == 0
    }

    fn wants_client(&self) -> bool {
        !self.done() && self.ready == 0
    }

    fn wants_upstream(&self) -> bool {
        !self.broken && self.ready > 0
    }

    /// Sends what fits now without blocking; true if any byte went up.
    fn push<W: Wire>(&mut self, up: &mut UpConn, wire: &mut W) -> Result<bool, BodyError> {
        let mut moved = false;
        while !self.done() {
            if self.ready == 0 {
                let avail = wire.input();
                if avail.is_empty() {
                    break;
                }
                let (used, done) = match &mut self.scanner {
                    None if self.raw => (avail.len(), false),
                    None => {
                        let k = clamp_len(self.left, avail.len());
                        self.left -= k as u64;
                        (k, self.left == 0)
                    }
                    Some(s) => s.feed(avail).map_err(BodyError::Bad)?,
                };
                self.ready = used;
                self.scanned = done;
                continue;
            }
            match up.send_now(&wire.input()[..self.ready]) {
                Ok(n) => {
                    wire.consume(n);
                    self.ready -= n;
                    moved |= n > 0;
                    if n == 0 {
                        break;
                    }
                }
                Err(e) if is_timeout(&e) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.broken = true;
                    moved = true;
                }
            }
        }
        if self.raw && self.scanned && self.ready == 0 && !self.shut {
            self.shut = true;
            up.shutdown_write();
        }
        Ok(moved)
    }

    /// After the response: sends the rest of the body (the upstream answered early), each
    /// wait bounded by `timeout`. False if it could not all go (the client's connection then
    /// closes, the upstream's is not reused).
    fn finish<W: Wire>(
        &mut self,
        up: &mut UpConn,
        wire: &mut W,
        timeout: Duration,
        stop: &AtomicBool,
    ) -> bool {
        while !self.done() {
            match up.fill_pumping(Instant::now() + timeout, stop, self, wire) {
                Got::Pumped => {}
                _ => return false,
            }
        }
        self.complete()
    }
}

/// What the proxy needs besides the executor's [`Exchange`].
pub struct Forward<'a> {
    /// The upstream's address.
    pub addr: SocketAddr,
    /// The request's method (framing of the response depends on it).
    pub method: &'a str,
    /// The server's stop flag.
    pub stop: &'a AtomicBool,
    /// An `https://` upstream.
    #[cfg(feature = "tls")]
    pub tls: Option<&'a crate::control::ctx::UpstreamTls>,
    /// `--upstream-idle`: longest silence of the upstream within a relayed body (then the
    /// client is cut with an RST); `None` for no limit.
    pub idle: Option<Duration>,
}

/// The TLS handshake with an `https://` upstream, bounded by `timeout`.
#[cfg(feature = "tls")]
fn handshake(
    stream: &TcpStream,
    t: &crate::control::ctx::UpstreamTls,
    timeout: Duration,
) -> io::Result<rustls::ClientConnection> {
    let mut conn = rustls::ClientConnection::new(t.config.clone(), t.name.clone())
        .map_err(io::Error::other)?;
    stream.set_read_timeout(Some(timeout))?;
    let mut s = stream;
    while conn.is_handshaking() {
        conn.complete_io(&mut s)?;
    }
    Ok(conn)
}

/// Reads plaintext from a TLS upstream: what rustls holds first, else more from the socket.
#[cfg(feature = "tls")]
fn tls_read(
    tls: &mut rustls::ClientConnection,
    stream: &TcpStream,
    buf: &mut [u8],
) -> io::Result<usize> {
    loop {
        match tls.reader().read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            // The upstream closed without close_notify: its side is over all the same (the
            // framing says whether the response was whole).
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
            Err(e) => return Err(e),
        }
        let mut s = stream;
        if tls.read_tls(&mut s)? == 0 {
            return Ok(0);
        }
        tls.process_new_packets()
            .map_err(|e| io::Error::new(io::ErrorKind::ConnectionReset, e))?;
        flush_now(tls, stream).or_else(|e| if is_timeout(&e) { Ok(()) } else { Err(e) })?;
    }
}

/// Sends the TLS records rustls holds without blocking; `WouldBlock` if some must wait.
#[cfg(feature = "tls")]
fn flush_now(tls: &mut rustls::ClientConnection, stream: &TcpStream) -> io::Result<()> {
    struct Now<'s>(&'s TcpStream);
    impl Write for Now<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            sys::send_now(self.0, buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    while tls.wants_write() {
        if tls.write_tls(&mut Now(stream))? == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
    }
    Ok(())
}

/// Forwards the request at the front of `wire`'s input to the upstream (connecting `up` if
/// needed) and relays the response shaped by `plan`. `report` gets the outcome before the
/// client's connection ends; `note` is told of upstream failures (for the log).
///
/// The upstream connection is kept for the next request only after a response relayed whole
/// and framed by itself; after any error answer (502, 504), a dropped answer or a cut it is
/// closed, so a late or unsolicited answer can never reach the next request.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub fn forward<W: Wire>(
    f: &Forward<'_>,
    x: &Exchange<'_>,
    plan: &Plan,
    up: &mut Option<UpConn>,
    wire: &mut W,
    buf: &mut Vec<u8>,
    report: &mut dyn FnMut(&Outcome),
    note: &mut dyn FnMut(Trouble, &str),
) -> Result<Next, BodyError> {
    let mut reusable = false;
    let result = forward_inner(f, x, plan, up, wire, buf, report, note, &mut reusable);
    if !reusable || !matches!(result, Ok(Next::KeepAlive(_))) {
        *up = None;
    }
    result
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

#[allow(clippy::too_many_arguments)]
fn forward_inner<W: Wire>(
    f: &Forward<'_>,
    x: &Exchange<'_>,
    plan: &Plan,
    slot: &mut Option<UpConn>,
    wire: &mut W,
    buf: &mut Vec<u8>,
    report: &mut dyn FnMut(&Outcome),
    note: &mut dyn FnMut(Trouble, &str),
    reusable: &mut bool,
) -> Result<Next, BodyError> {
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
                let trouble = if is_timeout(&e) {
                    Trouble::Timeout
                } else {
                    Trouble::Refused
                };
                let reason = format!("cannot connect to upstream {}: {e}", f.addr);
                note(trouble, &reason);
                return answer_error(x, wire, buf, 502, &reason, report);
            }
        }
    }
    // The rebuilt request head goes into the connection's reused buffer (free again once the
    // head went up, before the relay uses it).
    let upgrade = upstream::forward_request_into(&wire.input()[..x.head_len], x.close, buf);
    wire.consume(x.head_len);

    let mut w = Waiting {
        interim: 0,
        sent_continue: false,
        delayed: false,
        pump: Pump::new(x.body),
    };
    let got = match await_head(f, x, plan, slot, wire, buf, may_retry, &mut w, report, note) {
        Ok(got) => got,
        Err(done) => return done,
    };
    if let Some(Ending { kind, at: None }) = plan.ending {
        // The lost response: the upstream did the work and the client never learns it. The
        // ending comes as soon as the head is here; the rest of the answer (an endless stream,
        // maybe) goes with the upstream connection, closed now (a `hang` may last long).
        *slot = None;
        if let Some(d) = plan.delay {
            if !wire.wait(Instant::now() + d) {
                report(&gone(None, w.interim));
                return Ok(Next::Done);
            }
        }
        let out = Outcome {
            status: None,
            bytes: w.interim,
            end: end_of(kind),
        };
        finish(wire, kind, &out, report);
        return Ok(Next::Done);
    }
    let Some(up) = slot.as_mut() else {
        return Ok(Next::Done);
    };

    if got.framing == Framing::Tunnel {
        if !upgrade || got.status != 101 {
            let reason = "upstream switched protocols unasked";
            note(Trouble::Bad, reason);
            let complete = w.pump.complete();
            return answer_late(x, wire, 502, reason, w.interim, complete, report);
        }
        // From here on the client's bytes go up raw, and the plan shapes the bytes coming
        // down after the 101 head as it shapes a body.
        w.pump = Pump::tunnel();
    }
    relay_response(f, x, plan, up, wire, buf, got, w, report, note, reusable)
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
#[allow(clippy::too_many_arguments)]
fn await_head<W: Wire>(
    f: &Forward<'_>,
    x: &Exchange<'_>,
    plan: &Plan,
    slot: &mut Option<UpConn>,
    wire: &mut W,
    out_head: &[u8],
    mut may_retry: bool,
    w: &mut Waiting,
    report: &mut dyn FnMut(&Outcome),
    note: &mut dyn FnMut(Trouble, &str),
) -> Result<FinalHead, Result<Next, BodyError>> {
    let lost = matches!(plan.ending, Some(Ending { at: None, .. }));
    'attempt: loop {
        let Some(up) = slot.as_mut() else {
            return Err(Ok(Next::Done));
        };
        if let Err(e) = up.send_all(out_head) {
            if may_retry {
                may_retry = false;
                if let Ok(c) = UpConn::connect(f, x.read_timeout) {
                    *slot = Some(c);
                    continue 'attempt;
                }
            }
            // The upstream went away: the rest of the request is not sent; what it answered
            // (if anything) is still read below.
            note(
                Trouble::Reset,
                &format!("writing the request head to upstream: {e}"),
            );
            w.pump.broken = true;
        } else {
            let wants_continue = x.expect_continue && x.version == Version::Http11;
            if !w.sent_continue
                && wants_continue
                && x.body != BodyLen::None
                && wire.input().is_empty()
            {
                // The client holds its body back until told to send it; the upstream's own
                // `100 Continue` (sent to the forwarded `Expect`) is then not relayed twice.
                if wire.write_all(CONTINUE).is_err() {
                    return Err(Err(BodyError::PeerGone));
                }
                w.interim = CONTINUE.len() as u64;
                w.sent_continue = true;
            }
        }

        // The response head, after any interim responses, scanned as it arrives.
        let mut deadline = Instant::now() + x.read_timeout;
        let mut scan = ResponseScan::default();
        loop {
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
            match parsed {
                Ok(Some((len, status, true, _, _))) => {
                    may_retry = false;
                    let skip = lost || (status == 100 && w.sent_continue);
                    if !skip {
                        let relayed = upstream::relay_response_head(
                            &up.input()[..len],
                            &[],
                            LengthEdit::Keep,
                            false,
                        );
                        if !delay_once(plan, wire, &mut w.delayed)
                            || wire.write_all(&relayed).is_err()
                        {
                            report(&gone(None, w.interim));
                            return Err(Ok(Next::Done));
                        }
                        w.interim += relayed.len() as u64;
                    }
                    up.consume(len);
                    scan = ResponseScan::default();
                    continue;
                }
                Ok(Some((len, status, false, framing, close))) => {
                    // Rebuilt straight from the upstream's buffer into a reused one.
                    let tunnel = framing == Framing::Tunnel;
                    let edit = length_edit(plan, tunnel);
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
                    return Ok(FinalHead {
                        head,
                        status,
                        framing,
                        close,
                        client_close,
                    });
                }
                Ok(None) => {}
                Err(e) => {
                    let reason = format!("bad response from upstream: {e}");
                    note(Trouble::Bad, &reason);
                    let complete = w.pump.complete();
                    return Err(answer_late(
                        x, wire, 502, &reason, w.interim, complete, report,
                    ));
                }
            }
            let got = up.fill_pumping(deadline, f.stop, &mut w.pump, wire);
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
                Got::Stopped => {
                    report(&gone(None, w.interim));
                    return Err(Ok(Next::Done));
                }
            };
            if may_retry && nothing_yet && trouble != Trouble::Timeout {
                may_retry = false;
                if let Ok(c) = UpConn::connect(f, x.read_timeout) {
                    *slot = Some(c);
                    continue 'attempt;
                }
            }
            note(trouble, what);
            let code = if trouble == Trouble::Timeout {
                504
            } else {
                502
            };
            let complete = w.pump.complete();
            return Err(answer_late(
                x, wire, code, what, w.interim, complete, report,
            ));
        }
    }
}

/// Relays the final response (or, after a 101, the tunnel) shaped by the plan, then decides
/// what becomes of both connections.
#[allow(clippy::too_many_arguments)]
fn relay_response<W: Wire>(
    f: &Forward<'_>,
    x: &Exchange<'_>,
    plan: &Plan,
    up: &mut UpConn,
    wire: &mut W,
    buf: &mut Vec<u8>,
    got: FinalHead,
    mut w: Waiting,
    report: &mut dyn FnMut(&Outcome),
    note: &mut dyn FnMut(Trouble, &str),
    reusable: &mut bool,
) -> Result<Next, BodyError> {
    let tunnel = got.framing == Framing::Tunnel;
    let client_close = got.client_close;
    let relay = Relay {
        plan,
        head: &got.head,
        status: got.status,
        framing: got.framing,
        interim: w.interim,
        idle: f.idle,
        stop: f.stop,
    };
    let ended = relay.run(up, &mut w.pump, wire, buf, &mut w.delayed, report, note);
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
            *reusable =
                pumped && !got.close && got.framing != Framing::UntilClose && up.input().is_empty();
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
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

/// `delay=DUR` before the first relayed byte: false if the client left meanwhile.
fn delay_once<W: Wire>(plan: &Plan, wire: &mut W, delayed: &mut bool) -> bool {
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

fn end_of(kind: EndKind) -> End {
    match kind {
        EndKind::Reset => End::Reset,
        EndKind::Close => End::Close,
        EndKind::Hang => End::Hang,
    }
}

/// Reports, then ends the client's connection: RST after every relayed byte was acknowledged,
/// FIN after reading what the client still sends, or silence.
fn finish<W: Wire>(wire: &mut W, kind: EndKind, out: &Outcome, report: &mut dyn FnMut(&Outcome)) {
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

/// How a relay ended.
enum Relayed {
    /// The whole response went out; the connection may go on.
    Complete,
    /// The client's connection was ended (plan ending, upstream failure, client gone).
    Ended,
    /// The body broke its framing before any byte of the response went out: the client can
    /// still be answered `502`.
    BadBeforeAny(crate::proxy::upstream::ResponseError),
}

/// One response relayed: the rebuilt head, then the upstream's body as it arrives.
struct Relay<'a> {
    plan: &'a Plan,
    head: &'a [u8],
    status: u16,
    framing: Framing,
    interim: u64,
    /// Longest silence of the upstream within a body before the client is cut (with an RST);
    /// `None`: no limit, the upstream's timing is relayed as it is.
    idle: Option<Duration>,
    stop: &'a AtomicBool,
}

impl Relay<'_> {
    /// The stream is the rebuilt head followed by the body as the upstream frames it; offsets
    /// count bytes of that stream, so `reset=1m` cuts after exactly 1 MiB of relayed body.
    #[allow(clippy::too_many_arguments)]
    fn run<W: Wire>(
        &self,
        up: &mut UpConn,
        pump: &mut Pump,
        wire: &mut W,
        buf: &mut Vec<u8>,
        delayed: &mut bool,
        report: &mut dyn FnMut(&Outcome),
        note: &mut dyn FnMut(Trouble, &str),
    ) -> Relayed {
        let plan = self.plan;
        let head_len = self.head.len() as u64;
        let total = match self.framing {
            Framing::None => Some(head_len),
            Framing::Length(n) => Some(head_len.saturating_add(n)),
            _ => None,
        };
        let place = |off: Offset| -> u64 {
            let at = match off {
                Offset::Body(n) => head_len.saturating_add(n),
                Offset::Head(n) => n,
                Offset::End => u64::MAX,
                // Plans that cut the request answer themselves (`answers_itself`).
                Offset::Req(_) => 0,
            };
            total.map_or(at, |t| at.min(t))
        };
        // Where the plan's ending cuts; without one (or past the end), the whole response.
        let limit = plan.ending.and_then(|e| e.at).map_or(u64::MAX, place);
        let mut pauses: Vec<(u64, Duration)> = plan
            .pauses
            .iter()
            .map(|(off, d)| (place(*off), *d))
            .filter(|(at, _)| *at <= limit)
            .collect();
        pauses.sort_by_key(|(at, _)| *at);
        let mut pauses = pauses.into_iter().peekable();
        let piece_cap = match plan.rate {
            // About 50 writes a second, so the pace is smooth and the syscalls few.
            Some(rate) => clamp_len((rate / 50).max(1), WRITE_PIECE),
            None => WRITE_PIECE,
        };
        let status_if = |sent: u64| (sent > 0).then_some(self.status);
        let outcome = |sent: u64, end: End| Outcome {
            status: status_if(sent),
            bytes: self.interim + sent,
            end,
        };

        let mut scanner = BodyScanner::new(self.framing);
        // Bytes at the front of the upstream buffer known to be body, not yet relayed.
        let mut pending: usize = 0;
        let mut body_done = scanner.is_done();
        let mut sent: u64 = 0;
        let mut clock: Option<Instant> = None;
        if !delay_once(plan, wire, delayed) {
            report(&outcome(0, End::PeerGone));
            return Relayed::Ended;
        }
        loop {
            while let Some(&(at, d)) = pauses.peek() {
                if at > sent {
                    break;
                }
                pauses.next();
                if !wire.wait(Instant::now() + d) {
                    report(&outcome(sent, End::PeerGone));
                    return Relayed::Ended;
                }
                if let Some(c) = clock.as_mut() {
                    // A pause does not count against the rate.
                    *c += d;
                }
            }
            if sent >= limit {
                break;
            }
            let in_head = sent < head_len;
            if !in_head && pending == 0 {
                if body_done {
                    break;
                }
                // Scan what is buffered, else read more.
                if !up.input().is_empty() {
                    // Bytes after the response stay in the buffer, unrelayed, and keep the
                    // upstream connection from being reused.
                    match scanner.feed(up.input()) {
                        Ok((used, done)) => (pending, body_done) = (used, done),
                        Err(e) if sent == 0 => return Relayed::BadBeforeAny(e),
                        Err(e) => {
                            return bad_body(e, &outcome(sent, End::Error), wire, report, note)
                        }
                    }
                    continue;
                }
                let deadline = match self.idle {
                    Some(d) => Instant::now() + d,
                    None => far_future(),
                };
                let got = up.fill_pumping(deadline, self.stop, pump, wire);
                let (trouble, what) = match got {
                    Got::Data | Got::Pumped => continue,
                    Got::Client(e) => {
                        // The request body broke off while the response was relayed: a cut
                        // the proxy makes itself, so an RST.
                        let end = match e {
                            BodyError::PeerGone => {
                                report(&outcome(sent, End::PeerGone));
                                return Relayed::Ended;
                            }
                            BodyError::Timeout => End::Timeout,
                            _ => End::Error,
                        };
                        finish(wire, EndKind::Reset, &outcome(sent, end), report);
                        return Relayed::Ended;
                    }
                    Got::Eof if scanner.ends_at_close() => {
                        body_done = true;
                        continue;
                    }
                    Got::Eof => (Trouble::Close, "upstream closed mid-response"),
                    Got::Reset => (Trouble::Reset, "upstream reset mid-response"),
                    Got::Timeout => (
                        Trouble::Timeout,
                        "upstream silent mid-response for longer than --upstream-idle",
                    ),
                    Got::Stopped => {
                        report(&outcome(sent, End::PeerGone));
                        return Relayed::Ended;
                    }
                };
                // Ended the way the upstream ended, after what arrived was relayed; a silence
                // the proxy gave up on is its own cut: an RST.
                note(trouble, what);
                let kind = match trouble {
                    Trouble::Close => EndKind::Close,
                    _ => EndKind::Reset,
                };
                let end = match trouble {
                    Trouble::Reset => End::Reset,
                    Trouble::Close => End::Close,
                    Trouble::Timeout => End::Timeout,
                    _ => End::Error,
                };
                finish(wire, kind, &outcome(sent, end), report);
                return Relayed::Ended;
            }
            let stop = pauses.peek().map_or(limit, |&(at, _)| at.min(limit));
            let room = clamp_len(stop - sent, piece_cap);
            if let Some(rate) = plan.rate {
                let start = *clock.get_or_insert_with(Instant::now);
                if !wire.wait(start + rate_time(sent, rate)) {
                    report(&outcome(sent, End::PeerGone));
                    return Relayed::Ended;
                }
            }
            // The rest of the head, and body bytes that fit after it (one write for a small
            // response: one segment, one wake-up for the client).
            let (head_part, body_part) = if in_head {
                let from = clamp_len(sent, self.head.len());
                let h = (self.head.len() - from).min(room);
                let whole = from + h == self.head.len();
                if whole && pending == 0 && !body_done && !up.input().is_empty() {
                    match scanner.feed(up.input()) {
                        Ok((used, done)) => (pending, body_done) = (used, done),
                        Err(e) if sent == 0 => return Relayed::BadBeforeAny(e),
                        Err(e) => {
                            return bad_body(e, &outcome(sent, End::Error), wire, report, note)
                        }
                    }
                }
                let b = if whole { pending.min(room - h) } else { 0 };
                (&self.head[from..from + h], b)
            } else {
                (&self.head[..0], pending.min(room))
            };
            let n = head_part.len() + body_part;
            let after = sent + n as u64;
            // Nothing is left after this piece: no ending or pause to come, the head out, the
            // body complete and this piece its last bytes.
            let rest_empty = after >= head_len && body_part == pending;
            let last = plan.ending.is_none() && pauses.peek().is_none() && body_done && rest_empty;
            if last {
                // Reported before the last byte goes out: a client that has the whole
                // response finds it complete in the journal.
                report(&outcome(after, End::Complete));
            }
            let piece: &[u8] = if head_part.is_empty() {
                &up.input()[..body_part]
            } else if body_part == 0 {
                head_part
            } else {
                buf.clear();
                buf.extend_from_slice(head_part);
                buf.extend_from_slice(&up.input()[..body_part]);
                buf
            };
            if let Err(e) = wire.write_all(piece) {
                let end = if is_timeout(&e) {
                    End::Timeout
                } else {
                    End::PeerGone
                };
                report(&outcome(sent, end));
                return Relayed::Ended;
            }
            up.consume(body_part);
            pending -= body_part;
            sent = after;
            if last {
                return Relayed::Complete;
            }
        }
        match plan.ending {
            Some(e) => {
                if e.kind == EndKind::Hang {
                    // The client is held, perhaps for long; the upstream is let go now.
                    let _ = up.stream.shutdown(Shutdown::Both);
                }
                finish(wire, e.kind, &outcome(sent, end_of(e.kind)), report);
                Relayed::Ended
            }
            None => {
                report(&outcome(sent, End::Complete));
                Relayed::Complete
            }
        }
    }
}

/// The upstream's body broke its own framing after bytes of the response reached the client:
/// say so, report the error, and cut the client's connection with an RST after what was
/// relayed (a FIN could pass for the end of a body delimited by the close).
fn bad_body<W: Wire>(
    e: crate::proxy::upstream::ResponseError,
    out: &Outcome,
    wire: &mut W,
    report: &mut dyn FnMut(&Outcome),
    note: &mut dyn FnMut(Trouble, &str),
) -> Relayed {
    note(
        Trouble::Bad,
        &format!("bad response body from upstream: {e}"),
    );
    finish(wire, EndKind::Reset, out, report);
    Relayed::Ended
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Plan {
        Plan::parse(text).unwrap()
    }

    #[test]
    fn content_steps_and_forward_no_answer_without_the_upstream() {
        for text in [
            "status=503",
            "text=hi",
            "body=1k",
            "echo",
            "raw=x",
            "garbage=4",
            "chunked",
            "badchunk",
            "forward=no",
            "forward=no/reset",
        ] {
            assert!(answers_itself(&plan(text)), "{text}");
        }
        for text in [
            "",
            "reset",
            "close=1m",
            "hang=head:10",
            "delay=1s/rate=1k/pause=5,1s",
            "header=X-A:1/length=5",
            "keepalive=no/idle=1s",
            "reuse=reset",
            "times=2/reset",
            "chance=0.5/close",
            "forward=yes/reset",
        ] {
            assert!(!answers_itself(&plan(text)), "{text}");
        }
    }

    #[test]
    fn forward_no_prints_back() {
        let p = plan("reset/forward=no");
        assert!(!p.forward);
        assert_eq!(Plan::parse(&p.to_string()).unwrap(), p);
        assert!(p.to_string().contains("forward=no"));
        assert!(plan("forward=yes").forward);
        assert!(Plan::parse("forward=maybe").is_err());
        assert!(Plan::parse("forward").is_err());
    }

    #[test]
    fn a_pump_moves_only_the_body() {
        let p = Pump::new(BodyLen::None);
        assert!(p.done() && p.complete() && !p.wants_client());
        let p = Pump::new(BodyLen::Length(0));
        assert!(p.complete());
        let mut q = Pump::new(BodyLen::Length(5));
        assert!(q.wants_client() && !q.wants_upstream() && !q.done());
        q.broken = true;
        assert!(q.done() && !q.complete());
        assert!(Pump::new(BodyLen::Chunked).wants_client());
    }
}
