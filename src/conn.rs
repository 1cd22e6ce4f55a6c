//! One connection: read a request, pick its plan, run it, carry out how it ends, log the
//! outcome, and loop while the connection is kept alive.

use crate::log::Val;
use crate::plan::{self, EndKind, Plan, HEALTHY};
use crate::request::{self, BodyLen, ChunkedScanner, RequestError, Version};
use crate::respond::{self, End, Outcome, Sink};
use crate::server::Shared;
use crate::sys;
use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Most request body bytes kept for `echo`; a larger body gets a 413.
pub const MAX_ECHO_BODY: u64 = 1024 * 1024;
/// Most request body bytes read and thrown away; a larger body gets a 413.
pub const MAX_BODY: u64 = 1024 * 1024 * 1024;
/// How long a clean close waits for the client to close its side too.
const LINGER: Duration = Duration::from_secs(2);
/// Most bytes a clean close reads from a client that goes on sending.
const LINGER_BYTES: usize = 16 * 1024 * 1024;
/// First size of the request buffer; it grows as a head or an echoed body needs.
const INITIAL_BUF: usize = 256;

/// Why no request could be read.
enum NoRequest {
    /// The client closed between requests: nothing to report.
    Closed,
    /// The client closed or reset in the middle of a head.
    PeerGone,
    /// `--read-timeout` passed before a complete head.
    Timeout,
    /// `idle=DUR` passed with no new request.
    Idle,
    /// Bytes of a new request arrived on a connection marked `reuse=`.
    Reused(EndKind),
    /// The request cannot be served.
    Bad(RequestError),
}

/// The parts of a request head kept after its bytes are gone.
struct Head {
    method: String,
    target: String,
    version: Version,
    len: usize,
    body: BodyLen,
    close: bool,
    expect_continue: bool,
}

/// What the previous response left for the next request on this connection.
#[derive(Clone, Copy, Default)]
struct Carry {
    idle: Option<Duration>,
    reuse: Option<EndKind>,
}

/// The real socket as the executor's sink.
struct SocketSink<'a>(&'a TcpStream);

impl Sink for SocketSink<'_> {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        (&*self.0).write_all(bytes)
    }
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn sleep_until(&mut self, when: Instant) {
        let now = Instant::now();
        if when > now {
            std::thread::sleep(when - now);
        }
    }
}

pub struct Conn<'s> {
    stream: TcpStream,
    id: u64,
    peer: SocketAddr,
    shared: &'s Shared,
    /// Request bytes; `buf[..len]` are filled. Kept initialised so reads need no `unsafe`.
    buf: Vec<u8>,
    len: usize,
    /// Write buffer the executor reuses.
    out: Vec<u8>,
    /// The read timeout now set on the socket, to skip needless `setsockopt` calls.
    timeout: Option<Duration>,
    winner: bool,
}

/// Serves a connection until it ends.
pub fn serve(stream: TcpStream, id: u64, peer: SocketAddr, shared: &Shared) {
    if let Some(once) = &shared.once {
        if !once.register(id, &stream) {
            return; // the one request was already taken: close
        }
    }
    // A client that stops reading must not hold a thread for ever: a write that cannot go on
    // for --read-timeout ends the connection.
    let _ = stream.set_write_timeout(Some(shared.read_timeout));
    let mut conn = Conn {
        stream,
        id,
        peer,
        shared,
        buf: Vec::new(),
        len: 0,
        out: Vec::new(),
        timeout: None,
        winner: false,
    };
    conn.run();
    if let Some(once) = &shared.once {
        if conn.winner {
            once.finish();
        } else {
            once.unregister(id);
        }
    }
}

impl Conn<'_> {
    fn run(&mut self) {
        let mut carry = Carry::default();
        loop {
            let head = match self.read_head(carry) {
                Ok(head) => head,
                Err(why) => return self.no_request(why),
            };
            let started = Instant::now();
            if let Some(once) = &self.shared.once {
                if !self.winner {
                    if !once.try_win(self.id) {
                        return; // another connection won: close without an answer
                    }
                    self.winner = true;
                }
            }
            match self.serve_request(&head, started) {
                Some(next) => carry = next,
                None => return,
            }
        }
    }

    /// Answers one request. `Some(carry)` when the connection goes on to the next request.
    fn serve_request(&mut self, head: &Head, started: Instant) -> Option<Carry> {
        let path = request::target_path(&head.target);
        let parsed: Result<Cow<'_, Plan>, plan::PlanError> = if plan::path_is_plan(path) {
            Plan::parse(path).map(Cow::Owned)
        } else {
            Ok(Cow::Borrowed(&self.shared.plan))
        };
        let plan = match parsed {
            Ok(plan) => plan,
            Err(e) => {
                // The request's body must be read before the next request can be.
                let body_end = match self.read_body(head, false) {
                    Ok(end) => end,
                    Err(why) => {
                        self.no_request(why);
                        return None;
                    }
                };
                self.consume(body_end);
                let reason = format!("bad plan: {e}");
                let keep = !head.close && !self.winner;
                let outcome = self.simple_response(400, &reason, !keep);
                self.log_request(head, None, 400, outcome, started, Some(&reason));
                if keep && outcome.end != End::PeerGone {
                    return Some(Carry::default());
                }
                self.close_clean(true);
                return None;
            }
        };
        let plan = self.effective(&plan, path);

        let body_end = if plan.drain {
            match self.read_body(head, matches!(plan.body, plan::Body::Echo)) {
                Ok(end) => end,
                Err(why) => {
                    self.no_request(why);
                    return None;
                }
            }
        } else {
            head.len
        };
        let seed = match plan.replace {
            Some(plan::Replace::Garbage(_)) => self.shared.next_random(),
            _ => 0,
        };
        let req = respond::Request {
            head_only: head.method == "HEAD",
            close: head.close || self.winner,
            raw: &self.buf[..body_end],
            seed,
        };
        let outcome = respond::run(&plan, &req, &mut SocketSink(&self.stream), &mut self.out);
        self.consume(body_end);
        let status = plan.status_code();
        match outcome.end {
            End::Complete { keep_alive: true } => {
                self.log_request(head, Some(&plan), status, outcome, started, None);
                Some(Carry {
                    idle: plan.idle,
                    reuse: plan.reuse,
                })
            }
            End::Complete { keep_alive: false } | End::Cut(EndKind::Close) => {
                // Logged first: `ms` is the response's time, not the wait for the client's FIN.
                self.log_request(head, Some(&plan), status, outcome, started, None);
                self.close_clean(plan.drain);
                None
            }
            End::Cut(EndKind::Reset) => {
                self.reset();
                self.log_request(head, Some(&plan), status, outcome, started, None);
                None
            }
            End::Cut(EndKind::Hang) => {
                self.log_request(head, Some(&plan), status, outcome, started, None);
                self.hang();
                None
            }
            End::PeerGone | End::TimedOut => {
                self.log_request(head, Some(&plan), status, outcome, started, None);
                None
            }
        }
    }

    /// The plan that applies to this request after `times` and `chance`.
    fn effective<'p>(&self, plan: &'p Plan, path: &str) -> Cow<'p, Plan> {
        if let Some(n) = plan.times {
            if self.shared.count_request(path) > n {
                return Cow::Owned(HEALTHY);
            }
        }
        if let Some(p) = plan.chance {
            if self.shared.next_chance() >= p {
                return Cow::Owned(HEALTHY);
            }
        }
        Cow::Borrowed(plan)
    }

    /// Sets the socket's read timeout, unless the one in force already ends in time.
    fn set_timeout(&mut self, want: Option<Duration>) {
        let fine = match (self.timeout, want) {
            (None, None) => true,
            // A timeout up to 2 ms longer than wanted is close enough; a shorter one only
            // wakes the loop early, which then sets a new one.
            (Some(cur), Some(w)) => {
                cur <= w + Duration::from_millis(2) && cur + Duration::from_secs(1) > w
            }
            _ => false,
        };
        if fine {
            return;
        }
        // A zero timeout is an error for std; the deadline check before the read handles it.
        let want = want.map(|w| w.max(Duration::from_millis(1)));
        if self.stream.set_read_timeout(want).is_ok() {
            self.timeout = want;
        }
    }

    /// Reads once into the free end of the buffer, growing it up to `cap` bytes.
    fn read_more(&mut self, cap: usize) -> io::Result<usize> {
        if self.len == self.buf.len() {
            let grown = (self.buf.len() * 2).clamp(INITIAL_BUF, cap.max(INITIAL_BUF));
            if grown <= self.buf.len() {
                return Err(io::Error::new(io::ErrorKind::OutOfMemory, "buffer limit"));
            }
            self.buf.resize(grown, 0);
        }
        let n = self.stream.read(&mut self.buf[self.len..])?;
        self.len += n;
        Ok(n)
    }

    /// Drops the first `n` bytes of the buffer (a served request), keeping any pipelined
    /// bytes after them.
    fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// Reads until a complete request head is in the buffer.
    fn read_head(&mut self, carry: Carry) -> Result<Head, NoRequest> {
        let start = Instant::now();
        let head_deadline = start + self.shared.read_timeout;
        let idle_deadline = carry.idle.map(|d| start + d);
        loop {
            if self.len > 0 {
                if let Some(kind) = carry.reuse {
                    return Err(NoRequest::Reused(kind));
                }
                match request::parse_head(&self.buf[..self.len]) {
                    Ok(Some(h)) => {
                        return Ok(Head {
                            method: h.method.to_string(),
                            target: h.target.to_string(),
                            version: h.version,
                            len: h.len,
                            body: h.body,
                            close: h.close,
                            expect_continue: h.expect_continue,
                        })
                    }
                    Ok(None) => {}
                    Err(e) => return Err(NoRequest::Bad(e)),
                }
            }
            let deadline = match idle_deadline {
                Some(idle) if self.len == 0 => idle.min(head_deadline),
                _ => head_deadline,
            };
            let now = Instant::now();
            if now >= deadline {
                let idle_over = self.len == 0 && idle_deadline.is_some_and(|d| d <= now);
                return Err(if idle_over {
                    NoRequest::Idle
                } else {
                    NoRequest::Timeout
                });
            }
            self.set_timeout(Some(deadline - now));
            match self.read_more(request::MAX_HEAD) {
                Ok(0) if self.len == 0 => return Err(NoRequest::Closed),
                Ok(0) => return Err(NoRequest::PeerGone),
                Ok(_) => {}
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(NoRequest::PeerGone),
            }
        }
    }

    /// Reads the request body, keeping it in the buffer after the head when `keep` (for
    /// `echo`), else throwing it away as it arrives. Returns where the request ends in the
    /// buffer. A slow body is fine as long as each read comes within `--read-timeout`.
    fn read_body(&mut self, head: &Head, keep: bool) -> Result<usize, NoRequest> {
        let (mut left, mut scanner) = match head.body {
            BodyLen::None => return Ok(head.len),
            BodyLen::Length(n) => (n, None),
            BodyLen::Chunked => (0, Some(ChunkedScanner::default())),
        };
        let limit = if keep { MAX_ECHO_BODY } else { MAX_BODY };
        if scanner.is_none() && left > limit {
            return Err(NoRequest::Bad(RequestError::BodyTooLarge));
        }
        if head.expect_continue && head.version == Version::Http11 && self.len == head.len {
            let _ = (&self.stream).write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let mut pos = head.len;
        let mut seen: u64 = 0;
        loop {
            let avail = &self.buf[pos..self.len];
            let (used, done) = match &mut scanner {
                None => {
                    let k = clamp(left, avail.len());
                    left -= k as u64;
                    (k, left == 0)
                }
                Some(s) => s.feed(avail).map_err(NoRequest::Bad)?,
            };
            pos += used;
            seen += used as u64;
            if done {
                return Ok(pos);
            }
            if seen > limit {
                return Err(NoRequest::Bad(RequestError::BodyTooLarge));
            }
            if !keep {
                // Everything scanned is body: forget it, keep the buffer small.
                self.len = head.len;
                pos = head.len;
            }
            self.set_timeout(Some(self.shared.read_timeout));
            let cap = if keep {
                head.len + clamp(MAX_ECHO_BODY + 64 * 1024, usize::MAX)
            } else {
                head.len + 64 * 1024
            };
            match self.read_more(cap) {
                Ok(0) => return Err(NoRequest::PeerGone),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(NoRequest::Timeout),
                Err(_) => return Err(NoRequest::PeerGone),
            }
        }
    }

    /// Ends a connection on which no request could be served, saying why in the log.
    fn no_request(&mut self, why: NoRequest) {
        match why {
            NoRequest::Closed => {}
            NoRequest::PeerGone => self.log_event("peer-gone", "peer-gone", None),
            NoRequest::Timeout => {
                self.log_event("timeout", "timeout", None);
                self.close_clean(false);
            }
            NoRequest::Idle => {
                self.log_event("idle", "close", None);
                self.close_clean(false);
            }
            NoRequest::Reused(EndKind::Reset) => {
                self.reset();
                self.log_event("reuse", "reset", None);
            }
            NoRequest::Reused(_) => {
                self.close_clean(true);
                self.log_event("reuse", "close", None);
            }
            NoRequest::Bad(e) => {
                let reason = e.to_string();
                self.simple_response(e.status(), &reason, true);
                self.close_clean(true);
                self.log_event("bad-request", "close", Some((e.status(), &reason)));
            }
        }
    }

    /// A small well-formed response whose body is `reason` and a newline.
    fn simple_response(&mut self, status: u16, reason: &str, close: bool) -> Outcome {
        let mut body = reason.as_bytes().to_vec();
        body.push(b'\n');
        let plan = Plan {
            status: Some(status),
            body: plan::Body::Text(body),
            keepalive: close.then_some(false),
            ..HEALTHY
        };
        let req = respond::Request {
            head_only: false,
            close,
            raw: &[],
            seed: 0,
        };
        respond::run(&plan, &req, &mut SocketSink(&self.stream), &mut self.out)
    }

    /// Waits until the client has acknowledged every byte sent, then resets the connection.
    /// A reset throws away unacknowledged data, so without the wait the client could miss
    /// the end of a byte-exact prefix.
    fn reset(&mut self) {
        let deadline = Instant::now() + self.shared.read_timeout;
        let mut nap = Duration::from_micros(50);
        while let Ok(n) = sys::unacked_bytes(&self.stream) {
            if n == 0 || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(5));
        }
        let _ = sys::set_linger_zero(&self.stream);
        // The RST goes out when the descriptor closes, as the connection is dropped.
    }

    /// Closes with a FIN. With `linger`, first reads whatever the client still sends until it
    /// closes too (bounded): closing with unread bytes makes Linux send an RST instead.
    fn close_clean(&mut self, linger: bool) {
        let _ = self.stream.shutdown(Shutdown::Write);
        if !linger {
            return;
        }
        let deadline = Instant::now() + LINGER;
        let mut total = 0;
        self.len = 0;
        while total < LINGER_BYTES {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            self.set_timeout(Some(deadline - now));
            match self.read_more(64 * 1024) {
                Ok(0) => break,
                Ok(n) => {
                    total += n;
                    self.len = 0;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    /// Holds the connection open and silent until the client leaves (FIN or RST). Nothing is
    /// read meanwhile, so an upload under `drain=no` stalls as it should. The buffers are
    /// freed first: thousands of held connections stay cheap.
    fn hang(&mut self) {
        self.buf = Vec::new();
        self.out = Vec::new();
        self.len = 0;
        let _ = sys::wait_for_hangup(&self.stream);
    }

    fn log_request(
        &self,
        head: &Head,
        plan: Option<&Plan>,
        status: u16,
        outcome: Outcome,
        started: Instant,
        reason: Option<&str>,
    ) {
        let log = &self.shared.log;
        if !log.enabled() {
            return;
        }
        let peer = self.peer.to_string();
        let plan_text = plan.map(|p| p.to_string()).unwrap_or_default();
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut fields = vec![
            ("conn", Val::Num(self.id)),
            ("peer", Val::Str(&peer)),
            ("method", Val::Str(&head.method)),
            ("target", Val::Str(&head.target)),
            ("plan", Val::Str(&plan_text)),
            ("status", Val::Num(u64::from(status))),
            ("bytes", Val::Num(outcome.bytes)),
            ("end", Val::Str(outcome.end.name())),
            ("ms", Val::Num(ms)),
        ];
        if let Some(r) = reason {
            fields.push(("reason", Val::Str(r)));
        }
        log.event("request", &fields);
    }

    fn log_event(&self, event: &str, end: &str, bad: Option<(u16, &str)>) {
        let log = &self.shared.log;
        if !log.enabled() {
            return;
        }
        let peer = self.peer.to_string();
        let mut fields = vec![
            ("conn", Val::Num(self.id)),
            ("peer", Val::Str(&peer)),
            ("end", Val::Str(end)),
        ];
        if let Some((status, reason)) = bad {
            fields.push(("status", Val::Num(u64::from(status))));
            fields.push(("reason", Val::Str(reason)));
        }
        log.event(event, &fields);
    }
}

fn clamp(left: u64, cap: usize) -> usize {
    usize::try_from(left).map_or(cap, |l| l.min(cap))
}

/// A read timeout shows up as `WouldBlock` on Unix (`TimedOut` elsewhere).
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
