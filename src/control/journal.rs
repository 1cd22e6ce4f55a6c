//! What happened, as typed values: the request journal (the library's and the control API's
//! view), and the events the stderr log prints. Bounded: the journal keeps the last N entries
//! and counts the ones it dropped; an entry keeps at most [`MAX_ENTRY_HEADERS`] of headers.

use crate::plan::alloc_size;
use crate::plan::{EndKind, Plan};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::Waker;
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

impl From<EndKind> for End {
    /// How a plan's ending (`reset`, `close`, `hang`) ends the exchange.
    fn from(kind: EndKind) -> End {
        match kind {
            EndKind::Reset => End::Reset,
            EndKind::Close => End::Close,
            EndKind::Hang => End::Hang,
        }
    }
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
    /// The protocol the request came over: `"HTTP/1.0"`, `"HTTP/1.1"` or `"HTTP/2"` (prior
    /// knowledge, an `Upgrade: h2c`, or ALPN `h2`); `None` for an entry that is not an HTTP
    /// request (a TLS handshake fault, a TCP mode connection) or whose request line ended
    /// before its version.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let server = httpfault::Server::start("status=204")?;
    /// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    /// s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    /// s.read_to_end(&mut Vec::new()).unwrap();
    /// let r = &server.wait_for(1, std::time::Duration::from_secs(10))[0];
    /// assert_eq!(r.version, Some("HTTP/1.0"));
    /// assert!(r.to_json().contains("\"version\": \"HTTP/1.0\""));
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub version: Option<&'static str>,
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
    /// HTTP/2: the stream identifier of the exchange (`None` for HTTP/1.x).
    pub stream: Option<u32>,
    /// Bytes of the request body the server read (decoded: without chunk framing). 0 when
    /// the request had no body or none of it was read (a plan that answers without reading,
    /// proxy mode, which forwards the body unread).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::time::Duration;
    /// let server = httpfault::Server::start("status=201")?;
    /// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    /// s.write_all(b"POST /charge HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc").unwrap();
    /// s.read_to_end(&mut Vec::new()).unwrap();
    /// let r = &server.wait_for(1, Duration::from_secs(10))[0];
    /// assert_eq!(r.body_len, 3);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub body_len: u64,
    /// The SHA-256 of the request body (lowercase hex, of the decoded bytes for a chunked
    /// body), when the server read the whole body and it is at most 16 MiB (hashing is
    /// bounded: a larger body is only counted in `body_len`); `None` for a request without a
    /// body (no `Content-Length` or chunked framing), one read only in part or not at all.
    /// A retried upload can be checked to carry the same bytes.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::time::Duration;
    /// let server = httpfault::Server::builder().route("POST /charge reset*2 status=201").start()?;
    /// for _ in 0..3 {
    ///     let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    ///     s.write_all(b"POST /charge HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc").unwrap();
    ///     let _ = s.read_to_end(&mut Vec::new());
    /// }
    /// let seen = server.wait_for(3, Duration::from_secs(10));
    /// let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    /// assert!(seen.iter().all(|r| r.body_sha256.as_deref() == Some(abc)));
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub body_sha256: Option<String>,
    /// The request came over TLS (`--tls`).
    pub tls: bool,
    /// TLS: the server name the client sent (SNI), if any.
    pub sni: Option<String>,
    /// `httpfault toxiproxy`: the proxy that relayed the connection.
    pub proxy: Option<String>,
    /// `httpfault toxiproxy`: the toxics that applied to the connection (their toxicity
    /// drawn in favour), in the order they first did.
    pub toxics: Vec<String>,
    /// A WebSocket connection (its upgrade request's entry), once it ended: messages each
    /// way and the close codes (JSON: `ws: {"in", "out", "close_sent", "close_received"}`).
    pub ws: Option<WsStats>,
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
    /// HTTP/2: the stream.
    stream: OnceLock<u32>,
    /// Request body bytes read.
    body_len: AtomicU64,
    /// The body's SHA-256, once all of it was read.
    body_sha256: OnceLock<[u8; 32]>,
    /// Its completion has been counted for the journal's waiters (only touched under the
    /// journal's lock; see [`Journal::complete`]).
    applied: AtomicBool,
    /// What the entry costs beyond its head bytes: the plan, when the entry is its only
    /// long-lived owner (a plan parsed from the path or a header).
    plan_cost: usize,
    /// Over TLS: `Some`, with the server name the client sent, if any.
    tls: Option<Option<Arc<str>>>,
    /// `httpfault toxiproxy`: the proxy's name.
    proxy: OnceLock<Arc<str>>,
    /// `httpfault toxiproxy`: the toxics that applied.
    toxics: OnceLock<Vec<String>>,
    /// A WebSocket connection: its messages and close codes, once it ends.
    ws: OnceLock<WsStats>,
}

/// How a WebSocket connection went: the journal entry of its upgrade request carries it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WsStats {
    /// Complete messages received from the client.
    pub messages_in: u64,
    /// Complete messages the server sent.
    pub messages_out: u64,
    /// The code of the close frame the server sent, if it sent one.
    pub close_sent: Option<u16>,
    /// The code of the client's close frame, if one came (1005 for one without a code).
    pub close_received: Option<u16>,
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
    Tcp(Arc<crate::plan::tcp::TcpPlan>),
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
        // Empty lines before a request line are allowed (RFC 9112, 2.2) and not part of it.
        let head = trim_leading_newlines(head);
        let line = head
            .iter()
            .position(|&b| b == b'\n')
            .map_or(head.len(), |i| i + 1);
        let keep = head.len().min(line.saturating_add(MAX_ENTRY_HEAD));
        let plan: PlanRef = plan.into();
        // A plan that the route table or the server also holds costs this entry nothing; one
        // parsed for this request alone (path or header plan: held only by the caller's
        // selection and this entry) lives as long as the entry.
        let plan_cost = match &plan {
            PlanRef::Http(p) if Arc::strong_count(p) <= 2 => plan_cost(p),
            _ => 0,
        };
        Entry {
            seq: AtomicU64::new(0),
            t,
            conn,
            peer,
            head: head[..keep].into(),
            route,
            step,
            plan,
            plan_cost,
            body_len: AtomicU64::new(0),
            body_sha256: OnceLock::new(),
            applied: AtomicBool::new(false),
            status: AtomicU32::new(0),
            tcp: OnceLock::new(),
            trouble: OnceLock::new(),
            stream: OnceLock::new(),
            tls: None,
            proxy: OnceLock::new(),
            toxics: OnceLock::new(),
            ws: OnceLock::new(),
            bytes: AtomicU64::new(0),
            end: AtomicU8::new(0),
            micros: AtomicU64::new(0),
        }
    }

    /// The memory the entry holds: itself and its `Arc`, its head bytes, a plan only it keeps,
    /// and its slot in the journal, each allocation rounded as malloc rounds it.
    fn cost(&self) -> usize {
        alloc_size(std::mem::size_of::<Entry>() + 16)
            + alloc_size(self.head.len())
            + self.plan_cost
            + std::mem::size_of::<Arc<Entry>>()
    }

    /// Records the request body: `len` bytes read, and its digest when all of it was read.
    pub fn set_body(&self, len: u64, sha256: Option<[u8; 32]>) {
        self.body_len.store(len, Ordering::Release);
        if let Some(d) = sha256 {
            let _ = self.body_sha256.set(d);
        }
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

    /// The protocol version, the last word of the request line when it is one this server
    /// speaks (an HTTP/2 exchange's line is built as `METHOD PATH HTTP/2`).
    pub fn version(&self) -> Option<&'static str> {
        let line = trim_leading_newlines(&self.head);
        let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let last = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
        ["HTTP/1.0", "HTTP/1.1", "HTTP/2"]
            .into_iter()
            .find(|v| v.as_bytes() == last)
    }

    /// The method, from the request line (empty if it is not text).
    pub fn method(&self) -> &str {
        let line = trim_leading_newlines(&self.head);
        let end = line
            .iter()
            .position(|&b| b == b' ' || b == b'\n')
            .unwrap_or(line.len());
        std::str::from_utf8(&line[..end]).unwrap_or_default()
    }

    /// The route's SPEC, if one matched.
    pub fn route(&self) -> Option<&str> {
        self.route.as_deref()
    }

    /// The route's SPEC, shared.
    pub fn route_arc(&self) -> Option<&Arc<str>> {
        self.route.as_ref()
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

    /// HTTP/2: records the stream of the exchange (once).
    pub fn set_stream(&self, stream: u32) {
        let _ = self.stream.set(stream);
    }

    /// HTTP/2: the stream of the exchange.
    pub fn stream(&self) -> Option<u32> {
        self.stream.get().copied()
    }

    /// Marks the entry as a request over TLS, with the server name the client sent.
    pub fn with_tls(mut self, tls: Option<Option<Arc<str>>>) -> Entry {
        self.tls = tls;
        self
    }

    /// Over TLS: `Some`, with the server name the client sent.
    pub fn tls(&self) -> Option<Option<&str>> {
        self.tls.as_ref().map(|s| s.as_deref())
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

    /// `httpfault toxiproxy`: records the proxy that relays the connection (once).
    pub fn set_proxy(&self, name: &Arc<str>) {
        let _ = self.proxy.set(Arc::clone(name));
    }

    /// WebSocket: records how the connection went (once, when it ends).
    pub fn set_ws(&self, stats: WsStats) {
        let _ = self.ws.set(stats);
    }

    /// `httpfault toxiproxy`: records the toxics that applied (once, when it ends).
    pub fn set_toxics(&self, names: Vec<String>) {
        let _ = self.toxics.set(names);
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

    /// The entry as the public [`Request`], with the values of credential fields redacted
    /// unless `secrets` (see [`redact`]).
    pub fn to_request(&self, secrets: bool) -> Request {
        let (method, target) = self.method_target();
        let mut headers = entry_headers(&self.head);
        if !secrets {
            for (name, value) in &mut headers {
                if let Some(r) = redact(name, value) {
                    *value = r;
                }
            }
        }
        let end = match self.end.load(Ordering::Acquire) {
            0 => None,
            n => End::ALL.get(usize::from(n) - 1).copied(),
        };
        Request {
            seq: self.seq(),
            t: self.t,
            conn: self.conn,
            peer: self.peer,
            version: self.version(),
            method,
            target,
            headers,
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
            stream: self.stream(),
            tls: self.tls.is_some(),
            sni: self.tls.clone().flatten().map(|s| s.to_string()),
            proxy: self.proxy.get().map(|p| p.to_string()),
            toxics: self.toxics.get().cloned().unwrap_or_default(),
            ws: self.ws.get().copied(),
            status: u16::try_from(self.status.load(Ordering::Acquire)).unwrap_or(0),
            bytes: self.bytes.load(Ordering::Acquire),
            duration: end.map(|_| Duration::from_micros(self.micros.load(Ordering::Acquire))),
            end,
            body_len: self.body_len.load(Ordering::Acquire),
            body_sha256: self.body_sha256.get().map(|d| crate::sha256::hex(d)),
        }
    }
}

/// The header fields whose values the journal does not show unless asked to
/// (`--journal-secrets`): they carry credentials.
pub const SECRET_FIELDS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// The redacted value of a credential field (`None` for other fields): `Authorization` and
/// `Proxy-Authorization` keep their scheme (`Bearer [redacted]`), `Cookie` keeps nothing.
pub fn redact(name: &str, value: &str) -> Option<String> {
    if !SECRET_FIELDS.iter().any(|s| s.eq_ignore_ascii_case(name)) {
        return None;
    }
    let scheme = value
        .split_once(' ')
        .map(|(s, _)| s)
        .filter(|_| !name.eq_ignore_ascii_case("cookie"));
    Some(match scheme {
        Some(s) => format!("{s} [redacted]"),
        None => "[redacted]".to_string(),
    })
}

/// The memory a plan holds: the struct and every allocation in it, as each step of the step
/// table counts its own value (a plan of many short steps costs several times its text:
/// `header=a:b` is 10 bytes of text and over 100 of plan).
pub fn plan_cost(p: &Plan) -> usize {
    alloc_size(std::mem::size_of::<Plan>() + 16)
        + crate::plan::steps::STEPS
            .iter()
            .map(|s| (s.cost)(p))
            .sum::<usize>()
}

fn trim_leading_newlines(mut b: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = b {
        b = rest;
    }
    b
}

struct State {
    entries: VecDeque<Arc<Entry>>,
    /// The memory of `entries` (see [`Entry::cost`]).
    bytes: usize,
    next_seq: u64,
    dropped: u64,
    cap: usize,
    /// Pending waits for ended entries, each with its own count, kept up to date as entries
    /// end and go.
    waiters: Vec<Slot>,
    /// Pending waits for entries (ended or not), by id: their count is known from the first
    /// and last numbers in the journal, so they need no count of their own...
    started: HashMap<u64, Slot>,
    /// ...only the number the last entry must reach before the count can be enough: the
    /// smallest comes first, so an entry looks at the waits it may complete and no other.
    ahead: BinaryHeap<Reverse<(u64, u64)>>,
    next_waiter: u64,
    /// The server stopped: every wait returns.
    closed: bool,
}

/// One pending wait: "at least `min` entries after `since` (ended ones, with `complete`)".
struct Slot {
    id: u64,
    since: u64,
    min: usize,
    complete: bool,
    /// The entries there now that it counts.
    have: usize,
    signal: Arc<Signal>,
}

/// How a waiter learns that its condition held: a flag, and the waker to call (a parked
/// thread's, or an async task's).
#[derive(Default)]
pub struct Signal {
    ready: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    /// Has the condition held (or the server stopped)?
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Sets the waker to call when ready (the latest one wins, as `Future::poll` requires).
    pub fn set_waker(&self, waker: &Waker) {
        let mut slot = self.waker.lock().unwrap_or_else(|e| e.into_inner());
        match &*slot {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }

    /// Calls the waker without setting the flag (a deadline passed: the waiter looks again).
    pub fn nudge(&self) {
        let waker = self.waker.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn fire(&self) -> Option<Waker> {
        self.ready.store(true, Ordering::Release);
        self.waker.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Wakes a parked thread: the blocking waits use the same signal as async ones.
struct ThreadWaker(std::thread::Thread);

impl std::task::Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// A registered wait; unregister it with [`Journal::unregister`].
pub struct WaitId {
    id: u64,
    /// Its signal.
    pub signal: Arc<Signal>,
}

impl State {
    /// Entries that are still here: their numbers form one run, from the front to the back.
    fn holds(&self, seq: u64) -> bool {
        match (self.entries.front(), self.entries.back()) {
            (Some(f), Some(b)) => f.seq() <= seq && seq <= b.seq(),
            _ => false,
        }
    }

    /// Entries here numbered after `since` (they form one run of numbers).
    fn started_after(&self, since: u64) -> usize {
        match (self.entries.front(), self.entries.back()) {
            (Some(f), Some(b)) if b.seq() > since => {
                usize::try_from(b.seq() - since.max(f.seq() - 1)).unwrap_or(usize::MAX)
            }
            _ => 0,
        }
    }

    /// After an entry numbered `back` came: fires the waits for entries whose count is now
    /// enough; a wait whose count fell short (older entries were dropped) waits for as many
    /// more entries as it lacks.
    fn check_started(&mut self, back: u64, wake: &mut Vec<Waker>) {
        while let Some(&Reverse((at, id))) = self.ahead.peek() {
            if at > back {
                break;
            }
            self.ahead.pop();
            let Some(w) = self.started.get(&id) else {
                continue; // ended
            };
            let have = self.started_after(w.since);
            if have >= w.min {
                wake.extend(w.signal.fire());
            } else {
                let lack = u64::try_from(w.min - have).unwrap_or(u64::MAX);
                self.ahead.push(Reverse((back.saturating_add(lack), id)));
            }
        }
    }

    /// Where the first entry after `since` is.
    fn first_after(&self, since: u64) -> usize {
        self.entries.partition_point(|e| e.seq() <= since)
    }

    /// Counts an ended entry for the waiters that wait for ended entries, once.
    fn apply(&mut self, e: &Entry, wake: &mut Vec<Waker>) {
        if e.applied.swap(true, Ordering::Relaxed) {
            return;
        }
        if !self.holds(e.seq()) {
            return;
        }
        let seq = e.seq();
        for w in &mut self.waiters {
            if w.complete && seq > w.since {
                w.have += 1;
                if w.have >= w.min && !w.signal.ready() {
                    wake.extend(w.signal.fire());
                }
            }
        }
    }
}

/// The bounded journal, shared by every connection and the control API.
///
/// Waits are counted, not polled, and a change wakes only the waits whose count it makes
/// enough. A wait for entries (ended or not) needs no count of its own: the first and last
/// numbers in the journal give it, and the waits sit in a heap by the number the last entry
/// must reach, so a new entry looks only at the waits it may complete (`O(log W)`). A wait
/// for ended entries keeps its own count, updated as entries end or are dropped: an ending
/// costs a few integer operations per such wait. Nothing recounts the journal under the
/// lock.
pub struct Journal {
    state: Mutex<State>,
    /// Pending waits (mirrors `waiters.len()`): a completion takes the lock only if some.
    waiting: AtomicUsize,
    /// Show credential fields as they are (`--journal-secrets`).
    secrets: AtomicBool,
    start: Instant,
}

/// Most entries copied out under the lock at a time by [`Journal::page`]: the lock is held
/// only to clone this many `Arc`s, and a slow reader holds at most this many entries.
pub const PAGE: usize = 32;

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
                waiters: Vec::new(),
                started: HashMap::new(),
                ahead: BinaryHeap::new(),
                next_waiter: 0,
                closed: false,
            }),
            waiting: AtomicUsize::new(0),
            secrets: AtomicBool::new(false),
            start,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Shows `Authorization`, `Proxy-Authorization` and `Cookie` values as received.
    pub fn keep_secrets(&self, keep: bool) {
        self.secrets.store(keep, Ordering::Relaxed);
    }

    fn secrets(&self) -> bool {
        self.secrets.load(Ordering::Relaxed)
    }

    /// Time since the server started.
    pub fn since_start(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.start)
    }

    fn wake_all(&self, wake: Vec<Waker>) {
        for w in wake {
            w.wake();
        }
    }

    /// Adds an entry and numbers it; returns it shared.
    pub fn begin(&self, entry: Entry) -> Arc<Entry> {
        let entry = Arc::new(entry);
        // A full journal drops one entry a request: that one is kept apart, so it needs no Vec
        // (an allocation a request once the journal is full); only a burst over the byte limit
        // fills `evicted`.
        let mut first_evicted: Option<Arc<Entry>> = None;
        let mut evicted = Vec::new();
        let mut wake = Vec::new();
        {
            let mut st = self.lock();
            let seq = st.next_seq;
            st.next_seq += 1;
            entry.seq.store(seq, Ordering::Release);
            let cost = entry.cost();
            if st.cap == 0 {
                st.dropped += 1;
            } else {
                while !st.entries.is_empty()
                    && (st.entries.len() >= st.cap || st.bytes + cost > MAX_JOURNAL_BYTES)
                {
                    if let Some(old) = st.entries.pop_front() {
                        st.bytes -= old.cost();
                        st.dropped += 1;
                        match first_evicted {
                            None => first_evicted = Some(old),
                            Some(_) => evicted.push(old),
                        }
                    }
                }
                st.bytes += cost;
                st.entries.push_back(Arc::clone(&entry));
                // Waits for ended entries lose the dropped ones they counted.
                if !st.waiters.is_empty() && first_evicted.is_some() {
                    for w in &mut st.waiters {
                        for old in first_evicted.iter().chain(&evicted) {
                            if old.seq() > w.since && old.applied.load(Ordering::Relaxed) {
                                w.have = w.have.saturating_sub(1);
                            }
                        }
                    }
                }
                if !st.ahead.is_empty() {
                    st.check_started(seq, &mut wake);
                }
            }
        }
        // Freed and woken outside the lock.
        drop(first_evicted);
        drop(evicted);
        self.wake_all(wake);
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
        // SeqCst with the waiter count: either a wait registering now sees this entry ended
        // in its scan, or this sees the wait and counts the entry for it under the lock (the
        // `applied` flag, only touched under the lock, makes it count once either way).
        let before = entry.end.swap(code, Ordering::SeqCst);
        if before == 0 && self.waiting.load(Ordering::SeqCst) > 0 {
            let mut wake = Vec::new();
            self.lock().apply(entry, &mut wake);
            self.wake_all(wake);
        }
    }

    /// Registers a wait for at least `min` entries after `since` (ended ones with
    /// `complete`); its signal fires at once if they are there already.
    pub fn register(&self, since: u64, min: usize, complete: bool) -> WaitId {
        let signal = Arc::new(Signal::default());
        let mut wake = Vec::new();
        {
            let mut st = self.lock();
            let id = st.next_waiter;
            st.next_waiter += 1;
            self.waiting.fetch_add(1, Ordering::SeqCst);
            let from = st.first_after(since);
            let have = if complete {
                st.entries
                    .range(from..)
                    .filter(|e| e.applied.load(Ordering::Relaxed))
                    .count()
            } else {
                st.started_after(since)
            };
            let slot = Slot {
                id,
                since,
                min,
                complete,
                have,
                signal: Arc::clone(&signal),
            };
            if complete {
                st.waiters.push(slot);
            } else {
                st.started.insert(id, slot);
                if have < min {
                    let back = st.next_seq - 1;
                    let lack = u64::try_from(min - have).unwrap_or(u64::MAX);
                    st.ahead.push(Reverse((back.saturating_add(lack), id)));
                }
            }
            // Ended entries nobody counted yet (they ended while no one waited).
            let unapplied: Vec<Arc<Entry>> = st
                .entries
                .range(from..)
                .filter(|e| e.ended() && !e.applied.load(Ordering::Relaxed))
                .cloned()
                .collect();
            for e in &unapplied {
                st.apply(e, &mut wake);
            }
            if st.closed || have >= min {
                wake.extend(signal.fire());
            }
            drop(st);
            drop(unapplied);
            self.wake_all(wake);
            WaitId { id, signal }
        }
    }

    /// Ends a wait.
    pub fn unregister(&self, wait: &WaitId) {
        let mut st = self.lock();
        if st.started.remove(&wait.id).is_some() {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        } else if let Some(i) = st.waiters.iter().position(|w| w.id == wait.id) {
            st.waiters.swap_remove(i);
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Every wait returns now and later ones at once: the server is stopping.
    pub fn close(&self) {
        let mut wake = Vec::new();
        {
            let mut st = self.lock();
            st.closed = true;
            for w in st.waiters.iter().chain(st.started.values()) {
                wake.extend(w.signal.fire());
            }
            st.ahead.clear();
        }
        self.wake_all(wake);
    }

    /// The entries after `since` (all with 0), oldest first, and the count of dropped ones.
    /// The lock is held only to copy the `Arc`s; entries are read outside it.
    pub fn snapshot(&self, since: u64) -> (Vec<Request>, u64) {
        let (list, dropped) = {
            let st = self.lock();
            let from = st.first_after(since);
            let list: Vec<Arc<Entry>> = st.entries.range(from..).cloned().collect();
            (list, st.dropped)
        };
        let secrets = self.secrets();
        (
            list.iter().map(|e| e.to_request(secrets)).collect(),
            dropped,
        )
    }

    /// Up to [`PAGE`] entries numbered after `after` and up to `upto`, oldest first: what a
    /// streamed read of the journal takes at a time.
    pub fn page(&self, after: u64, upto: u64) -> Vec<Arc<Entry>> {
        let st = self.lock();
        let from = st.first_after(after);
        st.entries
            .range(from..)
            .take(PAGE)
            .take_while(|e| e.seq() <= upto)
            .cloned()
            .collect()
    }

    /// The number of the latest entry (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.lock().next_seq - 1
    }

    /// An entry as the public [`Request`], redacted as this journal says.
    pub fn request_of(&self, e: &Entry) -> Request {
        e.to_request(self.secrets())
    }

    /// Waits until at least `min` entries after `since` are there (ended ones with
    /// `complete`), `deadline` passes, the journal closes, or `go_on` says to stop (asked
    /// every [`STOP_CHECK`]: the server stopping, a long-poll's client leaving). True if the
    /// entries are there.
    pub fn wait(
        &self,
        since: u64,
        min: usize,
        complete: bool,
        deadline: Instant,
        go_on: &mut dyn FnMut() -> bool,
    ) -> bool {
        let wait = self.register(since, min, complete);
        wait.signal
            .set_waker(&Waker::from(Arc::new(ThreadWaker(std::thread::current()))));
        loop {
            if wait.signal.ready() {
                break;
            }
            let now = Instant::now();
            if now >= deadline || !go_on() {
                break;
            }
            std::thread::park_timeout((deadline - now).min(STOP_CHECK));
        }
        self.unregister(&wait);
        wait.signal.ready()
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
        self.wait(since, min, complete, deadline, &mut || {
            !stop.load(Ordering::Relaxed)
        });
        self.snapshot(since)
    }

    /// Empties the journal (`seq` goes on counting).
    pub fn clear(&self) {
        let old = {
            let mut st = self.lock();
            st.bytes = 0;
            for w in &mut st.waiters {
                w.have = 0;
            }
            std::mem::take(&mut st.entries)
        };
        drop(old);
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
    for (name, value) in crate::http::request::fields(head) {
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

pub use crate::log::json_str;

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
        o.push_str(", \"version\": ");
        match self.version {
            Some(v) => json_str(&mut o, v),
            None => o.push_str("null"),
        }
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
        if let Some(s) = self.stream {
            let _ = write!(o, ", \"stream\": {s}");
        }
        if let Some(p) = &self.proxy {
            o.push_str(", \"proxy\": ");
            json_str(&mut o, p);
            o.push_str(", \"toxics\": [");
            for (i, t) in self.toxics.iter().enumerate() {
                if i > 0 {
                    o.push_str(", ");
                }
                json_str(&mut o, t);
            }
            o.push(']');
        }
        let _ = write!(o, ", \"body_len\": {}, \"body_sha256\": ", self.body_len);
        match &self.body_sha256 {
            Some(h) => json_str(&mut o, h),
            None => o.push_str("null"),
        }
        if let Some(w) = &self.ws {
            let code = |c: Option<u16>| c.map_or("null".to_string(), |c| c.to_string());
            let _ = write!(
                o,
                ", \"ws\": {{\"in\": {}, \"out\": {}, \"close_sent\": {}, \"close_received\": {}}}",
                w.messages_in,
                w.messages_out,
                code(w.close_sent),
                code(w.close_received)
            );
        }
        if self.tls {
            o.push_str(", \"tls\": true, \"sni\": ");
            match &self.sni {
                Some(s) => json_str(&mut o, s),
                None => o.push_str("null"),
            }
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
    fn version_is_the_last_word_of_the_request_line_when_it_is_one() {
        let version = |head: &[u8]| {
            let plan = Arc::new(Plan::parse("ok").unwrap());
            let peer = "127.0.0.1:1".parse().unwrap();
            Entry::new(Duration::ZERO, 1, peer, head, None, None, plan).version()
        };
        assert_eq!(
            version(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some("HTTP/1.1")
        );
        assert_eq!(version(b"\r\nGET / HTTP/1.0\n\n"), Some("HTTP/1.0"));
        // An HTTP/2 exchange's text head, as h2::conn builds it.
        assert_eq!(
            version(b"POST /x HTTP/2\r\nhost: x\r\n\r\n"),
            Some("HTTP/2")
        );
        for other in [
            &b"TLS localhost\r\n"[..],
            b"TCP 127.0.0.1:9\r\n",
            b"GET / HTTP/1.",
            b"GET / HTTP/3\r\n\r\n",
            b"",
            b"\xff\xfe HTTP/1.1x\r\n",
        ] {
            assert_eq!(version(other), None, "{other:?}");
        }
    }

    #[test]
    fn json_entry_has_the_contract_fields() {
        let j = Journal::new(2, Instant::now());
        let json = j.begin(entry()).to_request(false).to_json();
        assert_eq!(
            json,
            "{\"seq\": 1, \"t\": 0.012345, \"conn\": 1, \"peer\": \"127.0.0.1:50000\", \
             \"method\": \"POST\", \"target\": \"/v1/upload\", \"version\": \"HTTP/1.1\", \
             \"headers\": [[\"Host\", \"x\"], \
             [\"Idempotency-Key\", \"k1\"]], \"route\": \"POST /v1/upload reset=1m*2 status=201\", \
             \"step\": 1, \"plan\": \"reset=1m\", \"status\": null, \"bytes\": 0, \"end\": null, \
             \"ms\": null, \"body_len\": 0, \"body_sha256\": null}"
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
        // Each holds its 60 KB head: about 1100 fit.
        assert!(
            st.entries.len() < 1_500 && st.entries.len() > 100,
            "{}",
            st.entries.len()
        );
        assert_eq!(st.dropped as usize + st.entries.len(), 2_000);
    }

    /// Counts the wakes of a waker.
    struct Count(AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counted(j: &Journal, since: u64, min: usize, complete: bool) -> (WaitId, Arc<Count>) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let w = j.register(since, min, complete);
        w.signal.set_waker(&Waker::from(Arc::clone(&count)));
        (w, count)
    }

    /// Issue 16, item 11: a change wakes only the waits whose condition now holds, each once,
    /// and counts are kept as entries come, end, are dropped and cleared (no recount).
    #[test]
    fn a_change_wakes_only_the_waits_whose_condition_holds() {
        let j = Journal::new(4, Instant::now());
        let far: Vec<_> = (0..100).map(|_| counted(&j, 0, 1_000, false)).collect();
        let (three, woke3) = counted(&j, 0, 3, false);
        let (after2, woke_after2) = counted(&j, 2, 1, false);
        let (ended2, woke_ended2) = counted(&j, 0, 2, true);
        let e1 = j.begin(entry());
        let e2 = j.begin(entry());
        assert_eq!(woke3.0.load(Ordering::SeqCst), 0);
        assert!(!after2.signal.ready());
        let e3 = j.begin(entry());
        assert_eq!(woke3.0.load(Ordering::SeqCst), 1, "the third entry");
        assert_eq!(
            woke_after2.0.load(Ordering::SeqCst),
            1,
            "entry 3 is after 2"
        );
        assert!(three.signal.ready() && after2.signal.ready());
        j.begin(entry());
        assert_eq!(woke3.0.load(Ordering::SeqCst), 1, "woken once");
        // Ended entries: one, the same one again, then a second.
        j.complete(&e1, Some(200), 1, End::Complete, Duration::ZERO);
        j.complete(&e1, Some(200), 1, End::Complete, Duration::ZERO);
        assert!(!ended2.signal.ready(), "an entry ended twice counts once");
        j.complete(&e2, Some(200), 1, End::Complete, Duration::ZERO);
        assert_eq!(woke_ended2.0.load(Ordering::SeqCst), 1);
        assert!(far
            .iter()
            .all(|(w, c)| !w.signal.ready() && c.0.load(Ordering::SeqCst) == 0));
        // A new wait counts what ended before it came, and dropped entries leave its count:
        // the journal keeps 4, so e1 and e2 go as two more come.
        let (late, _) = counted(&j, 0, 3, true);
        j.complete(&e3, None, 0, End::Reset, Duration::ZERO);
        assert!(late.signal.ready(), "e1, e2, e3 ended");
        let (late2, _) = counted(&j, 0, 2, true);
        assert!(late2.signal.ready());
        j.unregister(&late2);
        j.begin(entry());
        j.begin(entry());
        let (gone, _) = counted(&j, 0, 2, true);
        assert!(!gone.signal.ready(), "only e3 of the ended ones is left");
        // A journal of 4 never holds 5: that wait stays pending as entries come and go, while
        // a wait for 2 after the newest is woken by the second entry after it.
        let (never, _) = counted(&j, 0, 5, false);
        let (next2, woke_next2) = counted(&j, j.last_seq(), 2, false);
        for _ in 0..10 {
            j.begin(entry());
        }
        assert!(!never.signal.ready());
        assert_eq!(woke_next2.0.load(Ordering::SeqCst), 1);
        assert!(next2.signal.ready());
        j.clear();
        let (cleared, _) = counted(&j, 0, 1, false);
        assert!(!cleared.signal.ready());
        for (w, _) in far.iter().chain([(three, woke3)].iter()) {
            j.unregister(w);
        }
        j.close();
        assert!(cleared.signal.ready(), "a closed journal ends every wait");
        assert!(j.register(0, 5, false).signal.ready());
    }

    /// Issue 16, item 14: credentials are redacted unless kept.
    #[test]
    fn credential_fields_are_redacted_unless_kept() {
        let j = Journal::new(2, Instant::now());
        let head = b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\n\
            proxy-authorization: Basic dXNlcjpwdw==\r\nCookie: sid=1; a=2\r\nX-Api-Key: k\r\n\r\n";
        let e = Entry::new(
            Duration::ZERO,
            1,
            "127.0.0.1:1".parse().unwrap(),
            head,
            None,
            None,
            Arc::new(Plan::default()),
        );
        let e = j.begin(e);
        let r = j.request_of(&e);
        assert_eq!(r.header("authorization"), Some("Bearer [redacted]"));
        assert_eq!(r.header("proxy-authorization"), Some("Basic [redacted]"));
        assert_eq!(r.header("cookie"), Some("[redacted]"));
        assert_eq!(r.header("x-api-key"), Some("k"));
        assert!(!r.to_json().contains("abc") && !r.to_json().contains("sid=1"));
        j.keep_secrets(true);
        let r = j.request_of(&e);
        assert_eq!(r.header("authorization"), Some("Bearer abc"));
        assert_eq!(r.header("cookie"), Some("sid=1; a=2"));
        assert_eq!(redact("Authorization", "opaque"), Some("[redacted]".into()));
    }

    /// Issue 16, item 15: empty lines before the request line are not the request line.
    #[test]
    fn a_request_after_empty_lines_has_its_method_and_target() {
        let e = Entry::new(
            Duration::ZERO,
            1,
            "127.0.0.1:1".parse().unwrap(),
            b"\r\n\n\r\nPOST /x?y HTTP/1.1\r\nHost: h\r\n\r\n",
            None,
            None,
            Arc::new(Plan::default()),
        );
        assert_eq!(e.method_target(), ("POST".into(), "/x?y".into()));
        assert_eq!(e.to_request(false).header("host"), Some("h"));
    }

    /// Issue 16, item 13: a plan parsed for one request is counted at what it holds in
    /// memory (many times its text for short steps); a shared plan costs nothing.
    #[test]
    fn an_entry_costs_what_its_plan_holds() {
        let text = vec!["header=a:b"; 1000].join("/");
        let plan = Arc::new(Plan::parse(&text).unwrap());
        let entry = || {
            Entry::new(
                Duration::ZERO,
                1,
                "127.0.0.1:1".parse().unwrap(),
                b"GET / HTTP/1.1\r\n\r\n",
                None,
                None,
                Arc::clone(&plan),
            )
        };
        let alone = entry();
        assert!(
            alone.cost() > 8 * text.len(),
            "{} for {}",
            alone.cost(),
            text.len()
        );
        let _held_elsewhere = Arc::clone(&plan);
        let shared = entry();
        assert!(shared.cost() < 1024, "{}", shared.cost());
    }

    /// Issue 26: a `file=` body is counted once, by the plan that holds its bytes alone; the
    /// plans of later requests for the same file share them (one copy) and cost their path.
    #[test]
    fn a_file_body_costs_its_bytes_once() {
        let path = std::env::temp_dir().join(format!("httpfault-cost-{}", std::process::id()));
        std::fs::write(&path, vec![b'x'; 1 << 20]).unwrap();
        let files = crate::plan::Files::requests(None).operator();
        let text = format!(
            "file={}",
            crate::plan::units::Encoded(path.to_str().unwrap().as_bytes())
        );
        let entry = || {
            let plan = Arc::new(Plan::parse_with(&text, &files).unwrap());
            Entry::new(
                Duration::ZERO,
                1,
                "127.0.0.1:1".parse().unwrap(),
                b"GET / HTTP/1.1\r\n\r\n",
                None,
                None,
                plan,
            )
        };
        let first = entry();
        assert!(first.cost() > 1 << 20, "{}", first.cost());
        let later: Vec<Entry> = (0..100).map(|_| entry()).collect();
        for e in &later {
            assert!(e.cost() < 4096, "{}", e.cost());
        }
        let (PlanRef::Http(a), PlanRef::Http(b)) = (&first.plan, &later[99].plan) else {
            panic!("HTTP plans")
        };
        let (crate::plan::Body::File(a), crate::plan::Body::File(b)) = (&a.body, &b.body) else {
            panic!("file bodies")
        };
        assert!(Arc::ptr_eq(&a.bytes, &b.bytes), "one copy of the file");
        let _ = std::fs::remove_file(&path);
    }
}
