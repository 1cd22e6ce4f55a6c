//! What happened, as typed values: the request journal (the library's and the control API's
//! view), and the events the stderr log prints. Bounded: the journal keeps the last N entries
//! and counts the ones it dropped; an entry keeps at most [`MAX_ENTRY_HEADERS`] of headers.

use crate::plan::Plan;
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Most bytes of request header fields (names and values) kept in one journal entry.
pub const MAX_ENTRY_HEADERS: usize = 8 * 1024;
/// How often a waiter looks at its stop flag (see [`Journal::wait_unless`]).
pub const STOP_CHECK: Duration = Duration::from_millis(50);
/// Most memory the journal's entries may take (estimated: their head bytes, and as much again
/// for a plan parsed from the path); past it the oldest entries are dropped, whatever `--journal`
/// says, so clients sending long targets cannot grow the process without bound.
pub const MAX_JOURNAL_BYTES: usize = 64 * 1024 * 1024;
/// Default number of entries the journal keeps.
pub const DEFAULT_JOURNAL: usize = 10_000;

/// How a response or connection ended: [`Request::end`] in the journal, `end` in the log and
/// the control API (as [`End::name`] gives it).
///
/// ```
/// use httpfault::End;
/// assert_eq!(End::PeerGone.name(), "peer-gone");
/// assert_eq!(End::Reset.to_string(), "reset");
/// assert_eq!(End::ALL.len(), 7);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum End {
    /// The whole response was sent.
    Complete,
    /// The connection was reset (RST) by the plan.
    Reset,
    /// The connection was closed cleanly (FIN) by the plan.
    Close,
    /// The connection was left open and silent by the plan.
    Hang,
    /// The client left first.
    PeerGone,
    /// The client was too slow (`--read-timeout`).
    Timeout,
    /// Something failed on the server's side (or upstream's, in proxy mode).
    Error,
}

impl End {
    /// Every value, in the order metrics print them.
    ///
    /// ```
    /// let names: Vec<&str> = httpfault::End::ALL.iter().map(|e| e.name()).collect();
    /// assert_eq!(names[..2], ["complete", "reset"]);
    /// ```
    pub const ALL: [End; 7] = [
        End::Complete,
        End::Reset,
        End::Close,
        End::Hang,
        End::PeerGone,
        End::Timeout,
        End::Error,
    ];

    /// The name in logs, the journal and metrics: `complete`, `reset`, `peer-gone`, ...
    ///
    /// ```
    /// assert_eq!(httpfault::End::Timeout.name(), "timeout");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            End::Complete => "complete",
            End::Reset => "reset",
            End::Close => "close",
            End::Hang => "hang",
            End::PeerGone => "peer-gone",
            End::Timeout => "timeout",
            End::Error => "error",
        }
    }

    pub(crate) fn index(self) -> usize {
        End::ALL.iter().position(|e| *e == self).unwrap_or(0)
    }
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One request as the server saw it: an entry of the journal.
///
/// It is added the moment the request head is complete (so a request that is still hanging
/// is there) and completed when its response ends (`end` and `duration` are `None` until then).
/// A `hang` ends its response as it begins (nothing more is sent): its entry has
/// `end == Some(End::Hang)` while the connection stays open.
///
/// ```
/// use std::io::{Read, Write};
/// use std::time::Duration;
/// let server = httpfault::Server::builder().route("PUT /doc reset=head:12").start()?;
/// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
/// s.write_all(b"PUT /doc HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k1\r\nContent-Length: 2\r\n\r\nhi")
///     .unwrap();
/// let _ = s.read_to_end(&mut Vec::new()); // "HTTP/1.1 200", then a reset
/// let r = &server.wait_for(1, Duration::from_secs(10))[0];
/// assert_eq!((r.method.as_str(), r.target.as_str()), ("PUT", "/doc"));
/// assert_eq!(r.header("idempotency-key"), Some("k1"));
/// assert_eq!(r.route.as_deref(), Some("PUT /doc reset=head:12"));
/// assert_eq!(r.step, Some(1));
/// assert_eq!(r.end, Some(httpfault::End::Reset));
/// assert_eq!(r.bytes, 12);
/// assert!(r.to_json().contains("\"end\": \"reset\""));
/// # Ok::<(), httpfault::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// Counts from 1 for the life of the server.
    pub seq: u64,
    /// When the head was complete, since the server started (one clock for every entry).
    pub t: Duration,
    /// The connection's number (counts from 1).
    pub conn: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// The request method, as received.
    pub method: String,
    /// The request target, as received.
    pub target: String,
    /// The request's header fields as received, up to 8 KiB.
    pub headers: Vec<(String, String)>,
    /// The SPEC of the route that matched, if one did.
    pub route: Option<String>,
    /// Which plan of the route's sequence was used, counted from 1.
    pub step: Option<usize>,
    /// The plan used, in plan syntax (empty for a plain `200 OK`).
    pub plan: String,
    /// The status code sent, `0` when no status line was sent (`reset`, `close`, `hang`
    /// before any byte, `raw`, `garbage`).
    pub status: u16,
    /// Response bytes written.
    pub bytes: u64,
    /// How the response ended; `None` while it goes on.
    pub end: Option<End>,
    /// How long the response took; `None` while it goes on.
    pub duration: Option<Duration>,
    /// TCP mode: bytes relayed from the client to the upstream (`bytes` counts the other
    /// way). 0 in the HTTP modes.
    pub bytes_up: u64,
    /// TCP mode: how the client-to-upstream direction ended (`eof`, `reset`, `cut-reset`,
    /// `cut-close`, `cut-hang`, `peer-gone`, `timeout`, `refused`, ...).
    pub up_end: Option<&'static str>,
    /// TCP mode: how the upstream-to-client direction ended.
    pub down_end: Option<&'static str>,
    /// Proxy and TCP modes: what the upstream did, if it failed (`refused`, `timeout`,
    /// `reset`, `close`).
    pub upstream: Option<&'static str>,
}

impl Request {
    /// The status sent, or `None` when no status line went out.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let server = httpfault::Server::start("status=503")?;
    /// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    /// s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Try: 1\r\nConnection: close\r\n\r\n").unwrap();
    /// s.read_to_end(&mut Vec::new()).unwrap();
    /// let r = &server.wait_for(1, std::time::Duration::from_secs(10))[0];
    /// assert_eq!(r.status_sent(), Some(503));
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn status_sent(&self) -> Option<u16> {
        (self.status != 0).then_some(self.status)
    }

    /// The first header field of that name (case-insensitive).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let server = httpfault::Server::start("status=503")?;
    /// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    /// s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Try: 1\r\nConnection: close\r\n\r\n").unwrap();
    /// s.read_to_end(&mut Vec::new()).unwrap();
    /// let r = &server.wait_for(1, std::time::Duration::from_secs(10))[0];
    /// assert_eq!(r.header("x-try"), Some("1"));
    /// assert_eq!(r.header("x-none"), None);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Most bytes of a request head kept in a journal entry: the request line and the first
/// [`MAX_ENTRY_HEADERS`] bytes of fields, with room for line ends.
const MAX_ENTRY_HEAD: usize = 2 * MAX_ENTRY_HEADERS;

/// A journal entry as the server keeps it: what is known when the head completes, as one copy
/// of the head's bytes (parsed into strings only when someone reads the journal), and the
/// outcome in atomics, so completing an entry takes no lock.
pub struct Entry {
    seq: AtomicU64,
    t: Duration,
    conn: u64,
    peer: SocketAddr,
    /// The head as received (cut at [`MAX_ENTRY_HEAD`]); possibly incomplete for a request
    /// killed by `reuse=`.
    head: Box<[u8]>,
    route: Option<Arc<str>>,
    step: Option<usize>,
    plan: PlanRef,
    status: AtomicU32,
    bytes: AtomicU64,
    /// 0 while the response goes on, else 1 + the index of its [`End`].
    end: AtomicU8,
    micros: AtomicU64,
    /// TCP mode: what happened in each direction.
    tcp: OnceLock<TcpEnds>,
    /// Proxy mode: what the upstream did wrong, if anything.
    trouble: OnceLock<&'static str>,
}

/// How a relayed connection went, each way (TCP mode).
#[derive(Clone, Copy, Debug)]
struct TcpEnds {
    bytes_up: u64,
    up: &'static str,
    down: &'static str,
    upstream: Option<&'static str>,
}

/// The plan an entry ran: an HTTP plan, or a TCP mode plan.
#[derive(Clone, Debug)]
pub enum PlanRef {
    /// Server and proxy modes.
    Http(Arc<Plan>),
    /// TCP mode.
    Tcp(Arc<crate::relay::TcpPlan>),
}

impl From<Arc<Plan>> for PlanRef {
    fn from(p: Arc<Plan>) -> PlanRef {
        PlanRef::Http(p)
    }
}

impl Entry {
    /// A new entry for a request whose head (`head`) completed at `t`.
    pub fn new(
        t: Duration,
        conn: u64,
        peer: SocketAddr,
        head: &[u8],
        route: Option<Arc<str>>,
        step: Option<usize>,
        plan: impl Into<PlanRef>,
    ) -> Entry {
        let line = head
            .iter()
            .position(|&b| b == b'\n')
            .map_or(head.len(), |i| i + 1);
        let keep = head.len().min(line.saturating_add(MAX_ENTRY_HEAD));
        Entry {
            seq: AtomicU64::new(0),
            t,
            conn,
            peer,
            head: head[..keep].into(),
            route,
            step,
            plan: plan.into(),
            status: AtomicU32::new(0),
            tcp: OnceLock::new(),
            trouble: OnceLock::new(),
            bytes: AtomicU64::new(0),
            end: AtomicU8::new(0),
            micros: AtomicU64::new(0),
        }
    }

    /// Estimated memory: the entry, its head bytes, and a plan that may be as large as the
    /// path it was parsed from.
    fn cost(&self) -> usize {
        256 + 2 * self.head.len()
    }

    /// Its number in the journal.
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    fn ended(&self) -> bool {
        self.end.load(Ordering::Acquire) != 0
    }

    /// The method and target, from the request line as far as it arrived.
    pub fn method_target(&self) -> (String, String) {
        let line = self.head.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = trim_leading_newlines(line);
        let mut parts = line.split(|&b| b == b' ');
        let text = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
        (text(parts.next()), text(parts.next()))
    }

    /// The route's SPEC, if one matched.
    pub fn route(&self) -> Option<&str> {
        self.route.as_deref()
    }

    /// The route step.
    pub fn step(&self) -> Option<usize> {
        self.step
    }

    /// The plan used, as plan text.
    pub fn plan_text(&self) -> String {
        match &self.plan {
            PlanRef::Http(p) => p.to_string(),
            PlanRef::Tcp(p) => p.to_string(),
        }
    }

    /// Proxy mode: records what the upstream did wrong (`refused`, `timeout`, `reset`, `close`).
    pub fn set_upstream(&self, trouble: &'static str) {
        let _ = self.trouble.set(trouble);
    }

    /// TCP mode: records bytes relayed upstream and how each direction ended (once).
    pub fn set_tcp(
        &self,
        bytes_up: u64,
        up: &'static str,
        down: &'static str,
        upstream: Option<&'static str>,
    ) {
        let _ = self.tcp.set(TcpEnds {
            bytes_up,
            up,
            down,
            upstream,
        });
    }

    /// Arrival time since the server started.
    pub fn t(&self) -> Duration {
        self.t
    }

    /// The connection number.
    pub fn conn(&self) -> u64 {
        self.conn
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The entry as the public [`Request`].
    pub fn to_request(&self) -> Request {
        let (method, target) = self.method_target();
        let end = match self.end.load(Ordering::Acquire) {
            0 => None,
            n => End::ALL.get(usize::from(n) - 1).copied(),
        };
        Request {
            seq: self.seq(),
            t: self.t,
            conn: self.conn,
            peer: self.peer,
            method,
            target,
            headers: entry_headers(&self.head),
            route: self.route.as_ref().map(|r| r.to_string()),
            step: self.step,
            plan: self.plan_text(),
            bytes_up: self.tcp.get().map_or(0, |t| t.bytes_up),
            up_end: self.tcp.get().map(|t| t.up),
            down_end: self.tcp.get().map(|t| t.down),
            upstream: self
                .tcp
                .get()
                .and_then(|t| t.upstream)
                .or_else(|| self.trouble.get().copied()),
            status: u16::try_from(self.status.load(Ordering::Acquire)).unwrap_or(0),
            bytes: self.bytes.load(Ordering::Acquire),
            duration: end.map(|_| Duration::from_micros(self.micros.load(Ordering::Acquire))),
            end,
        }
    }
}

fn trim_leading_newlines(mut b: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = b {
        b = rest;
    }
    b
}

struct State {
    entries: VecDeque<Arc<Entry>>,
    /// The estimated memory of `entries`.
    bytes: usize,
    next_seq: u64,
    dropped: u64,
    cap: usize,
}

/// The bounded journal, shared by every connection and the control API.
pub struct Journal {
    state: Mutex<State>,
    changed: Condvar,
    /// Threads in [`Journal::wait_for`]: only then does a change take the lock to wake them.
    waiters: AtomicUsize,
    start: Instant,
}

impl Journal {
    /// A journal keeping the last `cap` entries, with `start` as time zero.
    pub fn new(cap: usize, start: Instant) -> Journal {
        Journal {
            state: Mutex::new(State {
                entries: VecDeque::new(),
                bytes: 0,
                next_seq: 1,
                dropped: 0,
                cap,
            }),
            changed: Condvar::new(),
            waiters: AtomicUsize::new(0),
            start,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Time since the server started.
    pub fn since_start(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.start)
    }

    fn wake(&self) {
        // SeqCst pairs with the waiter's increment: either the waiter sees our change when it
        // checks, or we see it waiting and wake it.
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock();
            self.changed.notify_all();
        }
    }

    /// Adds an entry and numbers it; returns it shared.
    pub fn begin(&self, entry: Entry) -> Arc<Entry> {
        let entry = Arc::new(entry);
        let evicted;
        {
            let mut st = self.lock();
            let seq = st.next_seq;
            st.next_seq += 1;
            entry.seq.store(seq, Ordering::Release);
            let cost = entry.cost();
            // A full journal drops one entry a request: that one needs no Vec (an allocation
            // a request once the journal is full), only a burst over the byte limit does.
            let mut out = (None, Vec::new());
            if st.cap == 0 {
                st.dropped += 1;
            } else {
                while !st.entries.is_empty()
                    && (st.entries.len() >= st.cap || st.bytes + cost > MAX_JOURNAL_BYTES)
                {
                    if let Some(old) = st.entries.pop_front() {
                        st.bytes -= old.cost();
                        st.dropped += 1;
                        match out.0 {
                            None => out.0 = Some(old),
                            Some(_) => out.1.push(old),
                        }
                    }
                }
                st.bytes += cost;
                st.entries.push_back(Arc::clone(&entry));
            }
            evicted = out;
        }
        // Freed outside the lock.
        drop(evicted);
        self.wake();
        entry
    }

    /// Records how an entry's response ended (again, if called again: the last call wins).
    pub fn complete(
        &self,
        entry: &Entry,
        status: Option<u16>,
        bytes: u64,
        end: End,
        took: Duration,
    ) {
        entry
            .status
            .store(u32::from(status.unwrap_or(0)), Ordering::Release);
        entry.bytes.store(bytes, Ordering::Release);
        entry.micros.store(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Release,
        );
        let code = u8::try_from(end.index() + 1).unwrap_or(u8::MAX);
        entry.end.store(code, Ordering::SeqCst);
        self.wake();
    }

    fn collect(st: &State, since: u64) -> Vec<Request> {
        st.entries
            .iter()
            .filter(|e| e.seq() > since)
            .map(|e| e.to_request())
            .collect()
    }

    /// The entries after `since` (all with 0), oldest first, and the count of dropped ones.
    pub fn snapshot(&self, since: u64) -> (Vec<Request>, u64) {
        let st = self.lock();
        (Self::collect(&st, since), st.dropped)
    }

    /// Waits up to `timeout` until at least `min` entries after `since` are there (or, with
    /// `complete`, are there and have ended); returns what there is then.
    pub fn wait_for(
        &self,
        since: u64,
        min: usize,
        complete: bool,
        timeout: Duration,
    ) -> (Vec<Request>, u64) {
        self.wait_unless(since, min, complete, timeout, &AtomicBool::new(false))
    }

    /// [`Journal::wait_for`] that also gives up once `stop` is set (looked at every
    /// [`STOP_CHECK`]): a control request's pending `?wait=` must not hold up a stopping
    /// server, which gives each connection thread only a little time to end.
    pub fn wait_unless(
        &self,
        since: u64,
        min: usize,
        complete: bool,
        timeout: Duration,
        stop: &AtomicBool,
    ) -> (Vec<Request>, u64) {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        self.waiters.fetch_add(1, Ordering::SeqCst);
        loop {
            let ready = st
                .entries
                .iter()
                .filter(|e| e.seq() > since && (!complete || e.ended()))
                .count();
            let now = Instant::now();
            if ready >= min || now >= deadline || stop.load(Ordering::Relaxed) {
                break;
            }
            st = self
                .changed
                .wait_timeout(st, (deadline - now).min(STOP_CHECK))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        (Self::collect(&st, since), st.dropped)
    }

    /// Empties the journal (`seq` goes on counting).
    pub fn clear(&self) {
        let old = {
            let mut st = self.lock();
            st.bytes = 0;
            std::mem::take(&mut st.entries)
        };
        drop(old);
        self.wake();
    }

    /// Entries dropped so far.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }
}

/// The request's header fields for a journal entry, as received, up to
/// [`MAX_ENTRY_HEADERS`] bytes (names and values).
pub fn entry_headers(head: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut budget = MAX_ENTRY_HEADERS;
    for (name, value) in crate::request::fields(head) {
        let cost = name.len() + value.len();
        if cost > budget {
            break;
        }
        budget -= cost;
        out.push((
            String::from_utf8_lossy(name).into_owned(),
            String::from_utf8_lossy(value).into_owned(),
        ));
    }
    out
}

/// Writes `s` as a JSON string (RFC 8259 escapes).
pub fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Seconds with microsecond precision: `0.012345`.
pub fn seconds(d: Duration) -> String {
    format!("{}.{:06}", d.as_secs(), d.subsec_micros())
}

impl Request {
    /// The entry as one JSON object, as `GET /__httpfault/requests` shows it.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let server = httpfault::Server::start("status=503")?;
    /// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    /// s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Try: 1\r\nConnection: close\r\n\r\n").unwrap();
    /// s.read_to_end(&mut Vec::new()).unwrap();
    /// let r = &server.wait_for(1, std::time::Duration::from_secs(10))[0];
    /// assert!(r.to_json().contains("\"status\": 503"), "{}", r.to_json());
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn to_json(&self) -> String {
        use std::fmt::Write as _;
        let mut o = String::with_capacity(256);
        let _ = write!(
            o,
            "{{\"seq\": {}, \"t\": {}, \"conn\": {}, \"peer\": ",
            self.seq,
            seconds(self.t),
            self.conn
        );
        json_str(&mut o, &self.peer.to_string());
        o.push_str(", \"method\": ");
        json_str(&mut o, &self.method);
        o.push_str(", \"target\": ");
        json_str(&mut o, &self.target);
        o.push_str(", \"headers\": [");
        for (i, (n, v)) in self.headers.iter().enumerate() {
            o.push_str(if i == 0 { "[" } else { ", [" });
            json_str(&mut o, n);
            o.push_str(", ");
            json_str(&mut o, v);
            o.push(']');
        }
        o.push_str("], \"route\": ");
        match &self.route {
            Some(r) => json_str(&mut o, r),
            None => o.push_str("null"),
        }
        match self.step {
            Some(s) => {
                let _ = write!(o, ", \"step\": {s}");
            }
            None => o.push_str(", \"step\": null"),
        }
        o.push_str(", \"plan\": ");
        json_str(&mut o, &self.plan);
        match self.status_sent() {
            Some(s) => {
                let _ = write!(o, ", \"status\": {s}");
            }
            None => o.push_str(", \"status\": null"),
        }
        let _ = write!(o, ", \"bytes\": {}, \"end\": ", self.bytes);
        match self.end {
            Some(e) => json_str(&mut o, e.name()),
            None => o.push_str("null"),
        }
        match self.duration {
            Some(d) => {
                let _ = write!(o, ", \"ms\": {}", d.as_millis());
            }
            None => o.push_str(", \"ms\": null"),
        }
        if let (Some(up), Some(down)) = (self.up_end, self.down_end) {
            let _ = write!(
                o,
                ", \"bytes_up\": {}, \"up\": \"{up}\", \"down\": \"{down}\"",
                self.bytes_up
            );
        }
        if let Some(u) = self.upstream {
            let _ = write!(o, ", \"upstream\": \"{u}\"");
        }
        o.push('}');
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry::new(
            Duration::from_micros(12_345),
            1,
            "127.0.0.1:50000".parse().unwrap(),
            b"POST /v1/upload HTTP/1.1\r\nHost: x\r\nIdempotency-Key:  k1\r\n\r\n",
            Some("POST /v1/upload reset=1m*2 status=201".into()),
            Some(1),
            Arc::new(Plan::parse("reset=1m").unwrap()),
        )
    }

    #[test]
    fn entries_are_numbered_completed_and_bounded() {
        let j = Journal::new(2, Instant::now());
        let first = j.begin(entry());
        assert_eq!(first.seq(), 1);
        let second = j.begin(entry());
        assert_eq!(second.seq(), 2);
        j.complete(
            &second,
            Some(200),
            1048640,
            End::Reset,
            Duration::from_millis(3),
        );
        assert_eq!(j.begin(entry()).seq(), 3);
        let (list, dropped) = j.snapshot(0);
        assert_eq!(dropped, 1);
        assert_eq!(list.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(list[0].end, Some(End::Reset));
        assert_eq!(list[0].status_sent(), Some(200));
        assert_eq!(list[1].end, None);
        assert_eq!(j.snapshot(2).0.len(), 1);
        // Completing an entry already dropped is harmless.
        j.complete(&first, None, 0, End::Close, Duration::ZERO);
        j.clear();
        assert!(j.snapshot(0).0.is_empty());
        assert_eq!(j.begin(entry()).seq(), 4, "seq goes on after a clear");
        let none = Journal::new(0, Instant::now());
        none.begin(entry());
        assert_eq!(none.snapshot(0), (Vec::new(), 1));
    }

    #[test]
    fn json_entry_has_the_contract_fields() {
        let j = Journal::new(2, Instant::now());
        let json = j.begin(entry()).to_request().to_json();
        assert_eq!(
            json,
            "{\"seq\": 1, \"t\": 0.012345, \"conn\": 1, \"peer\": \"127.0.0.1:50000\", \
             \"method\": \"POST\", \"target\": \"/v1/upload\", \"headers\": [[\"Host\", \"x\"], \
             [\"Idempotency-Key\", \"k1\"]], \"route\": \"POST /v1/upload reset=1m*2 status=201\", \
             \"step\": 1, \"plan\": \"reset=1m\", \"status\": null, \"bytes\": 0, \"end\": null, \
             \"ms\": null}"
        );
        let mut s = String::new();
        json_str(&mut s, "a\"\\\n\u{1}");
        assert_eq!(s, "\"a\\\"\\\\\\n\\u0001\"");
    }

    #[test]
    fn wait_returns_as_soon_as_entries_arrive() {
        let j = std::sync::Arc::new(Journal::new(10, Instant::now()));
        let j2 = j.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            j2.begin(entry());
        });
        let started = Instant::now();
        let (list, _) = j.wait_for(0, 1, false, Duration::from_secs(10));
        assert_eq!(list.len(), 1);
        assert!(started.elapsed() < Duration::from_secs(5));
        t.join().unwrap();
        let (list, _) = j.wait_for(0, 5, false, Duration::from_millis(10));
        assert_eq!(list.len(), 1, "times out with what there is");
    }

    #[test]
    fn a_wait_gives_up_when_told_to_stop() {
        let j = std::sync::Arc::new(Journal::new(10, Instant::now()));
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (j2, stop2) = (j.clone(), stop.clone());
        let started = Instant::now();
        let t = std::thread::spawn(move || {
            j2.wait_unless(0, 1, false, Duration::from_secs(60), &stop2)
                .0
                .len()
        });
        std::thread::sleep(Duration::from_millis(50));
        stop.store(true, Ordering::Relaxed);
        assert_eq!(t.join().unwrap(), 0);
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn headers_are_kept_up_to_the_bound() {
        let head = b"GET / HTTP/1.1\r\nHost:  x \r\nX-A:1\r\n\r\n";
        assert_eq!(
            entry_headers(head),
            vec![("Host".into(), "x".into()), ("X-A".into(), "1".into())]
        );
        let mut big = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..100 {
            big.extend_from_slice(format!("X-{i}: {}\r\n", "v".repeat(200)).as_bytes());
        }
        let kept = entry_headers(&big);
        let total: usize = kept.iter().map(|(n, v)| n.len() + v.len()).sum();
        assert!(
            total <= MAX_ENTRY_HEADERS && kept.len() > 30,
            "{}",
            kept.len()
        );
    }

    /// Long targets cannot grow the journal past its memory bound, whatever its entry count.
    #[test]
    fn memory_is_bounded_as_well_as_the_count() {
        let j = Journal::new(DEFAULT_JOURNAL, Instant::now());
        let head = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(60_000));
        for _ in 0..2_000 {
            let e = Entry::new(
                Duration::ZERO,
                1,
                "127.0.0.1:1".parse().unwrap(),
                head.as_bytes(),
                None,
                None,
                Arc::new(Plan::default()),
            );
            j.begin(e);
        }
        let st = j.lock();
        assert!(st.bytes <= MAX_JOURNAL_BYTES, "{}", st.bytes);
        assert!(
            st.entries.len() < 1_000 && st.entries.len() > 100,
            "{}",
            st.entries.len()
        );
        assert_eq!(st.dropped as usize + st.entries.len(), 2_000);
    }
}
