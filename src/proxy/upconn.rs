//! A client connection's upstream connection (plain or `https://`), the bytes read from it not
//! yet relayed, and the pump that moves the request body up while the proxy waits.

use super::updir::{Admit, UpDir};
use super::{Forward, Trouble, CLIENT_CHECK, STOP_CHECK, UP_BUF};
use crate::http::request::{BodyLen, ChunkedScanner};
use crate::http1::exchange::BodyError;
use crate::http1::response::clamp_len;
use crate::plan::units::DurText;
use crate::sys;
use crate::wire::{is_timeout, Fill, Wire, BODY_BUF};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Longest wait for an upstream to close after the proxy's FIN ([`UpConn::drain`]).
const DRAIN_TIME: Duration = Duration::from_secs(2);
/// Most bytes read and dropped meanwhile.
const DRAIN_BYTES: usize = 1 << 20;

/// What one read from the upstream brought.
pub enum Got {
    Data,
    Eof,
    Reset,
    Timeout,
    Stopped,
    /// Request body bytes went up (or the upstream stopped taking them).
    Pumped,
    /// The request body cannot be read from the client.
    Client(BodyError),
    /// A tunnel's client-to-upstream direction reached the plan's cut (`up:close=2msg`).
    Cut(crate::plan::EndKind),
}

/// Why no upstream connection could be made: each a one-line reason for the `502` or `504`.
#[derive(Debug)]
pub enum ConnectError {
    /// The TCP connect failed (refused, unreachable, ...).
    Connect(io::Error),
    /// No connection, or no finished TLS handshake, within the read timeout (one deadline
    /// for both).
    Timeout { tls: bool, timeout: Duration },
    /// The upstream closed its connection during the TLS handshake.
    #[cfg(feature = "tls")]
    Closed,
    /// The upstream reset its connection during the TLS handshake.
    #[cfg(feature = "tls")]
    Reset,
    /// The TLS handshake failed: a certificate not trusted, an alert, a protocol error.
    #[cfg(feature = "tls")]
    Tls(rustls::Error),
    /// The server is stopping.
    #[cfg(feature = "tls")]
    Stopped,
}

impl ConnectError {
    /// What the log's `upstream=` says.
    pub(super) fn trouble(&self) -> Trouble {
        match self {
            ConnectError::Connect(_) => Trouble::Refused,
            ConnectError::Timeout { .. } => Trouble::Timeout,
            #[cfg(feature = "tls")]
            ConnectError::Closed => Trouble::Close,
            #[cfg(feature = "tls")]
            ConnectError::Reset => Trouble::Reset,
            // No connection to use could be made, as for a refused connect.
            #[cfg(feature = "tls")]
            ConnectError::Tls(_) | ConnectError::Stopped => Trouble::Refused,
        }
    }

    /// The answer: `504 Gateway Timeout` when the upstream did not answer in time, else
    /// `502 Bad Gateway`.
    pub(super) fn status(&self) -> u16 {
        match self {
            ConnectError::Timeout { .. } => 504,
            _ => 502,
        }
    }

    /// The one-line reason, naming the upstream.
    pub(super) fn reason(&self, addr: SocketAddr) -> String {
        match self {
            ConnectError::Connect(e) => format!("cannot connect to upstream {addr}: {e}"),
            ConnectError::Timeout {
                tls: false,
                timeout,
            } => format!(
                "no connection to upstream {addr} within the read timeout ({})",
                DurText(*timeout)
            ),
            ConnectError::Timeout { tls: true, timeout } => format!(
                "no TLS handshake with upstream {addr} within the read timeout ({})",
                DurText(*timeout)
            ),
            #[cfg(feature = "tls")]
            ConnectError::Closed => {
                format!("upstream {addr} closed the connection during the TLS handshake")
            }
            #[cfg(feature = "tls")]
            ConnectError::Reset => {
                format!("upstream {addr} reset the connection during the TLS handshake")
            }
            #[cfg(feature = "tls")]
            ConnectError::Tls(e) => format!(
                "TLS handshake with upstream {addr} failed: {}",
                crate::tls::explain_client_error(e)
            ),
            #[cfg(feature = "tls")]
            ConnectError::Stopped => "the server is stopping".to_string(),
        }
    }
}

/// A client connection's upstream connection and the bytes read from it not yet relayed.
pub struct UpConn {
    pub(super) stream: TcpStream,
    /// An `https://` upstream: the TLS client over `stream`; every read and write below goes
    /// through it.
    #[cfg(feature = "tls")]
    pub(super) tls: Option<Box<rustls::ClientConnection>>,
    /// The TLS upstream's side ended with a bare TCP close, no `close_notify`.
    #[cfg(feature = "tls")]
    pub(super) no_close_notify: bool,
    pub(super) buf: Vec<u8>,
    pub(super) start: usize,
    pub(super) end: usize,
    /// The read timeout set on the socket, to skip needless `setsockopt` calls.
    pub(super) timeout: Option<Duration>,
    /// The buffer the rebuilt response head is written to, kept from response to response.
    pub(super) spare: Vec<u8>,
}

impl UpConn {
    /// Connects (and for an `https://` upstream, completes the TLS handshake) within
    /// `timeout` in all: one deadline for the whole, so an upstream that trickles its
    /// handshake a byte at a time is given up on as surely as a silent one.
    pub(super) fn connect(f: &Forward<'_>, timeout: Duration) -> Result<UpConn, ConnectError> {
        let deadline = Instant::now() + timeout;
        let stream = TcpStream::connect_timeout(&f.addr, timeout).map_err(|e| {
            if is_timeout(&e) {
                ConnectError::Timeout {
                    tls: false,
                    timeout,
                }
            } else {
                ConnectError::Connect(e)
            }
        })?;
        // Heads go out as soon as they are written; the relay batches bodies itself.
        let _ = stream.set_nodelay(true);
        // An upstream that stops reading must not hold the connection for ever.
        let _ = stream.set_write_timeout(Some(timeout));
        #[cfg(feature = "tls")]
        let tls = match f.tls {
            None => None,
            Some(t) => Some(Box::new(handshake(
                &stream,
                t,
                (deadline, timeout),
                f.stop,
            )?)),
        };
        #[cfg(not(feature = "tls"))]
        let _ = deadline;
        Ok(UpConn {
            stream,
            #[cfg(feature = "tls")]
            tls,
            #[cfg(feature = "tls")]
            no_close_notify: false,
            buf: Vec::new(),
            start: 0,
            end: 0,
            timeout: None,
            spare: Vec::new(),
        })
    }

    /// The `https://` upstream ended its connection without `close_notify` (a bare TCP
    /// close): the client's connection must end the same way, so a truncation stays visible.
    pub(super) fn ended_without_close_notify(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.no_close_notify;
        #[cfg(not(feature = "tls"))]
        false
    }

    /// Reads what the upstream sent (plaintext, over TLS).
    pub(super) fn read_some(&mut self, at: usize) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            return tls_read(
                tls,
                &self.stream,
                &mut self.buf[at..],
                &mut self.no_close_notify,
            );
        }
        self.stream.read(&mut self.buf[at..])
    }

    /// Writes all of `bytes` to the upstream, blocking (bounded by the write timeout).
    pub(super) fn send_all(&mut self, bytes: &[u8]) -> io::Result<()> {
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
    pub(super) fn send_now(&mut self, bytes: &[u8]) -> io::Result<usize> {
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
    pub(super) fn wants_write(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return tls.wants_write();
        }
        false
    }

    /// Plaintext already decrypted and waiting: a poll on the socket would not see it.
    pub(super) fn has_buffered(&mut self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            return tls.process_new_packets().map_or(true, |s| {
                s.plaintext_bytes_to_read() > 0 || s.peer_has_closed()
            });
        }
        false
    }

    /// After its FIN: reads and drops what the upstream still sends until it closes too, for
    /// at most [`DRAIN_TIME`] and [`DRAIN_BYTES`].
    pub(super) fn drain(&mut self, stop: &AtomicBool) {
        let deadline = Instant::now() + DRAIN_TIME;
        let mut dropped = 0;
        while dropped < DRAIN_BYTES {
            let n = self.input().len();
            self.consume(n);
            dropped += n;
            match self.fill(deadline, stop) {
                Got::Data => {}
                _ => return,
            }
        }
    }

    /// Waits until every byte sent is acknowledged (at most `limit`: a reset throws away what
    /// is not), then resets the connection: an RST once it closes.
    pub(super) fn reset_after_acks(&mut self, limit: Duration) {
        if self.send_all(&[]).is_err() {
            return;
        }
        let deadline = Instant::now() + limit;
        let mut nap = Duration::from_micros(50);
        while let Ok(n) = sys::unacked_bytes(&self.stream) {
            if n == 0 || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(5));
        }
        let _ = sys::set_linger_zero(&self.stream);
    }

    /// Ends the request direction (TLS: `close_notify` first).
    pub(super) fn shutdown_write(&mut self) {
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

    pub(super) fn input(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(super) fn consume(&mut self, n: usize) {
        crate::wire::consume_window(&mut self.start, &mut self.end, n);
    }

    /// A kept connection the upstream closed, reset or wrote to while idle cannot carry a
    /// request: bytes nobody asked for would become the next answer. One `poll`, no wait.
    pub(super) fn is_stale(&self) -> bool {
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
    pub(super) fn make_room(&mut self) -> bool {
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
    pub(super) fn fill(&mut self, deadline: Instant, stop: &AtomicBool) -> Got {
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
    pub(super) fn fill_pumping<W: Wire>(
        &mut self,
        deadline: Instant,
        stop: &AtomicBool,
        pump: &mut Pump,
        wire: &mut W,
    ) -> Got {
        if let Some(kind) = pump.cut() {
            return Got::Cut(kind);
        }
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
                _ if pump.cut().is_some() => return Got::Pumped,
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
            // A pause of the tunnel's `up:` steps ends within the wait.
            let wait = match pump.hold() {
                Some(t) => (deadline - now).min(t.saturating_duration_since(now)),
                None => deadline - now,
            };
            if sys::poll_io(&mut fds, wait.min(STOP_CHECK)).is_err() {
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
pub struct Pump {
    /// Bytes left of a `Content-Length` body.
    pub(super) left: u64,
    /// Follows a chunked body.
    pub(super) scanner: Option<ChunkedScanner>,
    /// Bytes at the front of the client's input known to be body and not yet sent.
    pub(super) ready: usize,
    /// Every body byte has been seen.
    pub(super) scanned: bool,
    /// The upstream stopped taking the body; the rest stays unread.
    pub(super) broken: bool,
    /// A tunnel after `101`: every byte from the client goes up until it closes its side.
    pub(super) raw: bool,
    /// The upstream was told (FIN) that the client closed its side of the tunnel.
    pub(super) shut: bool,
    /// A WebSocket tunnel's client-to-upstream direction: its `up:` steps and tally.
    pub(super) dir: Option<Box<UpDir>>,
    /// The client's bytes that an `up:` pause holds back: still to go up after its FIN.
    pub(super) held: bool,
}

impl Pump {
    pub(super) fn new(body: BodyLen) -> Pump {
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
            dir: None,
            held: false,
        }
    }

    /// The client's side of a tunnel; `dir` for a WebSocket tunnel.
    pub(super) fn tunnel(dir: Option<Box<UpDir>>) -> Pump {
        Pump {
            raw: true,
            scanned: false,
            dir,
            ..Pump::new(BodyLen::None)
        }
    }

    /// Nothing more will go up.
    pub(super) fn done(&self) -> bool {
        self.broken || (self.scanned && self.ready == 0 && !self.held) || self.cut().is_some()
    }

    /// The tunnel's `up:` cut, once reached.
    pub(super) fn cut(&self) -> Option<crate::plan::EndKind> {
        self.dir.as_ref().and_then(|d| d.cut)
    }

    /// A pause of the tunnel's `up:` steps holds the client's bytes until then.
    fn hold(&self) -> Option<Instant> {
        let d = self.dir.as_ref()?;
        d.holding(Instant::now()).then_some(d.hold?)
    }

    /// The whole body went up.
    pub(super) fn complete(&self) -> bool {
        !self.broken && self.scanned && self.ready == 0
    }

    pub(super) fn wants_client(&self) -> bool {
        !self.done() && self.ready == 0 && !(self.raw && self.scanned) && self.hold().is_none()
    }

    pub(super) fn wants_upstream(&self) -> bool {
        !self.broken && self.ready > 0
    }

    /// Sends what fits now without blocking; true if any byte went up.
    pub(super) fn push<W: Wire>(
        &mut self,
        up: &mut UpConn,
        wire: &mut W,
    ) -> Result<bool, BodyError> {
        let mut moved = false;
        while !self.done() {
            if self.ready == 0 {
                let avail = wire.input();
                if let (true, Some(d)) = (self.raw, self.dir.as_mut()) {
                    // A WebSocket tunnel: its `up:` steps say how much may go now.
                    self.held = !avail.is_empty();
                    match d.admit(avail, Instant::now()) {
                        Admit::Bytes(0) | Admit::Hold(_) | Admit::Cut(_) => break,
                        Admit::Bytes(n) => {
                            self.ready = n;
                            continue;
                        }
                    }
                }
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
                    if let Some(d) = self.dir.as_mut() {
                        d.sent(&wire.input()[..n]);
                    }
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
        if self.raw && self.scanned && self.ready == 0 && !self.shut && self.cut().is_none() {
            self.shut = true;
            up.shutdown_write();
        }
        Ok(moved)
    }

    /// After the response: sends the rest of the body (the upstream answered early), each
    /// wait bounded by `timeout`. False if it could not all go (the client's connection then
    /// closes, the upstream's is not reused).
    pub(super) fn finish<W: Wire>(
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

/// The TLS handshake with an `https://` upstream, all of it before `deadline` (each read
/// waits at most [`STOP_CHECK`], so a stopping server is noticed).
#[cfg(feature = "tls")]
fn handshake(
    stream: &TcpStream,
    t: &crate::control::ctx::UpstreamTls,
    (deadline, timeout): (Instant, Duration),
    stop: &AtomicBool,
) -> Result<rustls::ClientConnection, ConnectError> {
    let mut conn = rustls::ClientConnection::new(t.config.clone(), t.name.clone())
        .map_err(ConnectError::Tls)?;
    let mut s = stream;
    let broken = |e: io::Error| match e.kind() {
        _ if is_timeout(&e) => ConnectError::Timeout { tls: true, timeout },
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => ConnectError::Reset,
        _ => ConnectError::Connect(e),
    };
    while conn.is_handshaking() {
        while conn.wants_write() {
            conn.write_tls(&mut s).map_err(broken)?;
        }
        if !conn.is_handshaking() {
            break;
        }
        if stop.load(Ordering::Relaxed) {
            return Err(ConnectError::Stopped);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(broken(io::ErrorKind::TimedOut.into()));
        }
        let wait = (deadline - now).clamp(Duration::from_millis(1), STOP_CHECK);
        stream.set_read_timeout(Some(wait)).map_err(broken)?;
        match conn.read_tls(&mut s) {
            Ok(0) => return Err(ConnectError::Closed),
            Ok(_) => {
                if let Err(e) = conn.process_new_packets() {
                    // rustls queued an alert saying why: the upstream learns it too.
                    let _ = conn.write_tls(&mut s);
                    return Err(ConnectError::Tls(e));
                }
            }
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(broken(e)),
        }
    }
    Ok(conn)
}

/// Reads plaintext from a TLS upstream: what rustls holds first, else more from the socket.
/// At the end (`Ok(0)`), `no_close_notify` says whether the upstream closed its TCP
/// connection without `close_notify`: the framing says whether the response was whole, and
/// the client's connection must end the same way.
#[cfg(feature = "tls")]
fn tls_read(
    tls: &mut rustls::ClientConnection,
    stream: &TcpStream,
    buf: &mut [u8],
    no_close_notify: &mut bool,
) -> io::Result<usize> {
    let mut eof = false;
    loop {
        match tls.reader().read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                *no_close_notify = true;
                return Ok(0);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && eof => {
                // Cannot be after a TCP close, but an end all the same.
                *no_close_notify = true;
                return Ok(0);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        let mut s = stream;
        // At the TCP close rustls knows whether close_notify came: the read above says.
        eof = tls.read_tls(&mut s)? == 0;
        tls.process_new_packets()
            .map_err(|e| io::Error::new(io::ErrorKind::ConnectionReset, e))?;
        if !eof {
            flush_now(tls, stream).or_else(|e| if is_timeout(&e) { Ok(()) } else { Err(e) })?;
        }
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
