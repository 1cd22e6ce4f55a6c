//! A small HTTP/1.1 upstream for proxy tests: std only, blocking sockets, one thread per
//! connection. Use it from a test file with
//!
//! ```ignore
//! #[path = "upstream_server/mod.rs"]
//! mod upstream_server;
//! let up = upstream_server::Upstream::start();   // 127.0.0.1:0
//! // point httpfault at up.url(), then check up.hits("/bytes/10"), up.requests(), ...
//! ```
//!
//! It serves keep-alive (HTTP/1.1 by default, HTTP/1.0 with `Connection: keep-alive`), answers
//! `Expect: 100-continue` with `100 Continue`, counts requests per path (the target without its
//! query) as soon as their head has arrived, and records each request's head and its body's
//! length, FNV-1a hash and whether it is the [`pattern`]. It stops on drop: the listener closes,
//! open connections are shut down, every thread is joined.
//!
//! What each path answers (N, K: byte counts; MS: milliseconds; bodies are the [`pattern`]
//! from offset 0, generated as they are sent, so `/bytes/1073741824` costs no memory):
//!
//! | path | answer |
//! |---|---|
//! | `/bytes/N` | `200`, `Content-Length: N`, N bytes |
//! | `/chunked/N?size=S&trailer=1` | `200`, chunked, chunks of S bytes (default 4096); with `trailer=1` a trailer `X-Body-Hash: HEX` (the FNV-1a of the body, 16 hex digits) |
//! | `/close/N` | `200`, `Connection: close`, no length, N bytes, then FIN |
//! | `/slow/MS` | nothing for MS ms, then `200` with the body `slow` |
//! | `/rst/N/K` | `200`, `Content-Length: N`, K bytes, then RST |
//! | `/fin/N/K` | `200`, `Content-Length: N`, K bytes, then FIN |
//! | `/status/CODE` | status CODE (200 to 599) with the body `status CODE` (none for 204 and 304) |
//! | `/info` | `103 Early Hints` with a `Link`, then `200` with the body `info` |
//! | `/echo` | `200` with the request body streamed back as it arrives (same `Content-Length`, or chunked for a chunked request) |
//! | `/headers` | `200` with the request head as received as the body |
//! | `/gap/MS` | `200`, `Connection: close`, no length: `first` LF, nothing for MS ms (an SSE stream's quiet spell), `second` LF, then FIN |
//! | `/extra/MS` | `200` with the body `ok`, then MS ms later an unsolicited second response (`Content-Length: 5`, `extra`) on the same connection |
//! | any, with `Connection: upgrade` and `Upgrade: P` | `101 Switching Protocols` (`Upgrade: P`), then every byte received is echoed until EOF |
//! | the same with `Upgrade: collect` | `101`, then every byte received is kept until the peer's FIN, then sent back (after the FIN: a half-closed tunnel must still carry it), then FIN |
//! | anything else | `404` with the body `not found` |
//!
//! `HEAD` gets the same head as `GET` without the body. Every response but `/close/N` has a
//! length or is chunked, so the connection stays open unless the request asked to close.

// Each test binary uses a different part.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Most bytes of a request head.
pub const MAX_HEAD: usize = 64 * 1024;
/// A connection silent for this long is closed, so a forgotten client cannot hold a thread.
pub const IDLE: Duration = Duration::from_secs(60);
/// Requests remembered by [`Upstream::requests`]; later ones are still counted by `hits`.
pub const MAX_SEEN: usize = 10_000;
/// Bytes per read and per write of a body.
const BLOCK: usize = 64 * 1024;
/// The pattern repeats every this many bytes: a prime, so a body shifted by any offset that is
/// not a multiple of it does not match.
const PERIOD: usize = 251;

/// Byte `i` of every generated body is `i % 251`. Fills `out` with the bytes at `offset..`.
pub fn pattern(offset: u64, out: &mut [u8]) {
    let mut off = offset;
    for chunk in out.chunks_mut(BLOCK) {
        let start = phase(off);
        chunk.copy_from_slice(&table()[start..start + chunk.len()]);
        off += chunk.len() as u64;
    }
}

/// `bytes` are the pattern at `offset..` (a compare, fast even in debug builds).
pub fn is_pattern(offset: u64, bytes: &[u8]) -> bool {
    let mut off = offset;
    bytes.chunks(BLOCK).all(|chunk| {
        let start = phase(off);
        off += chunk.len() as u64;
        chunk == &table()[start..start + chunk.len()]
    })
}

fn phase(offset: u64) -> usize {
    (offset % PERIOD as u64) as usize
}

/// The pattern from phase 0, long enough to slice any block at any phase.
fn table() -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    TABLE.get_or_init(|| (0..BLOCK + PERIOD).map(|i| (i % PERIOD) as u8).collect())
}

/// FNV-1a, 64 bits: the hash the upstream records for request bodies and sends in
/// `X-Body-Hash`. Feed it in any pieces.
#[derive(Clone, Copy, Debug)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn update(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }

    pub fn finish(self) -> u64 {
        self.0
    }
}

/// The FNV-1a hash of the first `n` bytes of the pattern (what `/bytes/n` sends).
pub fn pattern_hash(n: u64) -> u64 {
    let mut h = Fnv::default();
    let mut buf = vec![0u8; BLOCK];
    let mut off = 0;
    while off < n {
        let len = (n - off).min(BLOCK as u64) as usize;
        pattern(off, &mut buf[..len]);
        h.update(&buf[..len]);
        off += len as u64;
    }
    h.finish()
}

/// One request as the upstream received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Which connection it came on (1 for the first accepted), to check reuse.
    pub conn: u64,
    pub method: String,
    pub target: String,
    /// The target without its query.
    pub path: String,
    /// The head exactly as received, blank line included.
    pub head: Vec<u8>,
    /// Body bytes received (decoded, for a chunked body).
    pub body_len: u64,
    /// FNV-1a of those bytes.
    pub body_hash: u64,
    /// The body is the [`pattern`] from offset 0 (true for no body).
    pub body_is_pattern: bool,
    /// The whole body arrived (false until it has, and for `/rst`, which does not read it).
    pub complete: bool,
}

#[derive(Default)]
struct State {
    hits: HashMap<String, u64>,
    seen: Vec<Seen>,
}

struct Shared {
    stop: AtomicBool,
    state: Mutex<State>,
    changed: Condvar,
    /// A clone of every open connection, so stopping can shut them down. A connection removes
    /// its own before it ends, so the clone never keeps a socket open (which would turn an
    /// intended RST into nothing at all).
    open: Mutex<HashMap<u64, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    conns: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking connection thread must not take the whole test server down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running upstream on 127.0.0.1 with a port chosen by the kernel.
pub struct Upstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Upstream {
    /// Binds 127.0.0.1:0 and starts accepting. Panics if it cannot (a test-setup failure).
    pub fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            open: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
            conns: AtomicU64::new(0),
        });
        let s = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("upstream-accept".into())
            .spawn(move || accept_loop(listener, s))
            .expect("spawn the accept thread");
        Upstream {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests to `path` (without query) whose head has arrived.
    pub fn hits(&self, path: &str) -> u64 {
        lock(&self.shared.state)
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Waits until `hits(path) >= n`; false if `timeout` passed first.
    pub fn wait_hits(&self, path: &str, n: u64, timeout: Duration) -> bool {
        self.wait_for(timeout, |s| s.hits.get(path).copied().unwrap_or(0) >= n)
    }

    /// Every request so far (up to [`MAX_SEEN`]), oldest first.
    pub fn requests(&self) -> Vec<Seen> {
        lock(&self.shared.state).seen.clone()
    }

    /// Waits until at least `n` requests were recorded with their whole body; false if
    /// `timeout` passed first.
    pub fn wait_complete(&self, n: usize, timeout: Duration) -> bool {
        self.wait_for(timeout, |s| {
            s.seen.iter().filter(|r| r.complete).count() >= n
        })
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.conns.load(Ordering::SeqCst)
    }

    fn wait_for(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.shared.state);
        loop {
            if done(&state) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop; it sees `stop` and ends, closing the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for stream in lock(&self.shared.open).values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for t in threads {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(_) => {
                // Out of descriptors or an aborted handshake: try again shortly.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let id = shared.conns.fetch_add(1, Ordering::SeqCst) + 1;
        let Ok(clone) = stream.try_clone() else {
            continue;
        };
        lock(&shared.open).insert(id, clone);
        let s = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name(format!("upstream-{id}"))
            .stack_size(256 * 1024)
            .spawn(move || {
                let ending = serve(&s, id, &stream);
                // Our clone goes first, so dropping `stream` is the last close of the socket.
                lock(&s.open).remove(&id);
                finish(stream, ending);
            });
        let mut threads = lock(&shared.threads);
        threads.retain(|t| !t.is_finished());
        match spawned {
            Ok(t) => threads.push(t),
            Err(_) => {
                lock(&shared.open).remove(&id);
            }
        }
    }
}

/// How a connection ends.
enum Ending {
    /// Close at once (the peer is gone, or nothing more can be done).
    Drop,
    /// Send FIN, then read and discard until the peer closes, so the close stays a FIN even if
    /// the peer sends more.
    Fin,
    /// Close with request bytes left unread: Linux then sends RST instead of FIN.
    Rst,
}

fn finish(mut stream: TcpStream, ending: Ending) {
    match ending {
        Ending::Drop | Ending::Rst => drop(stream),
        Ending::Fin => {
            let _ = stream.shutdown(Shutdown::Write);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut sink = [0u8; 4096];
            while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
        }
    }
}

/// A request head, parsed just enough to answer it.
struct Req {
    method: String,
    target: String,
    path: String,
    http10: bool,
    head: Vec<u8>,
    body: Framing,
    close: bool,
    upgrade: Option<String>,
    expect_continue: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
}

fn serve(shared: &Shared, id: u64, stream: &TcpStream) -> Ending {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE));
    let _ = stream.set_write_timeout(Some(IDLE));
    let mut s = stream;
    loop {
        let head = match read_head(&mut s) {
            Ok(Some(head)) => head,
            Ok(None) => return Ending::Drop,
            Err(_) => return Ending::Drop,
        };
        let Some(req) = parse(head) else {
            let _ = consume_last_head_byte(&mut s);
            let _ = s.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return Ending::Fin;
        };
        let index = record_head(shared, id, &req);
        let segs: Vec<&str> = req.path.split('/').skip(1).collect();
        let num = |i: usize| segs.get(i).and_then(|v| v.parse::<u64>().ok());

        // `/rst` must leave the head's last byte unread; every other route reads it now.
        if segs.first() == Some(&"rst") && req.upgrade.is_none() {
            if let (Some(n), Some(k)) = (num(1), num(2)) {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n");
                let _ = send_head_and_pattern(&mut s, &head, k.min(n), &req);
                return Ending::Rst;
            }
        }
        if consume_last_head_byte(&mut s).is_err() {
            return Ending::Drop;
        }
        if req.expect_continue
            && req.body != Framing::None
            && s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err()
        {
            return Ending::Drop;
        }
        if let Some(protocol) = &req.upgrade {
            record_body(shared, index, &Body::default());
            let head = format!(
                "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: {protocol}\r\n\r\n"
            );
            if s.write_all(head.as_bytes()).is_err() {
                return Ending::Drop;
            }
            if protocol == "collect" {
                return tunnel_collect(&mut s);
            }
            return tunnel_echo(&mut s);
        }
        if segs.first() == Some(&"echo") {
            let mut body = Body::default();
            let ok = echo(&mut s, &req, &mut body).is_ok();
            record_body(shared, index, &body);
            if !ok {
                return Ending::Drop;
            }
            if req.close {
                return Ending::Fin;
            }
            continue;
        }
        let body = match read_body(&mut s, req.body) {
            Ok(body) => body,
            Err(_) => return Ending::Drop,
        };
        record_body(shared, index, &body);
        let close = req.close;
        let result = match (segs.first().copied(), num(1), num(2)) {
            (Some("bytes"), Some(n), None) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n{}\r\n",
                    conn(&req)
                );
                send_head_and_pattern(&mut s, &head, n, &req)
            }
            (Some("chunked"), Some(n), None) => send_chunked(&mut s, &req, n),
            (Some("close"), Some(n), None) => {
                let head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
                let _ = send_head_and_pattern(&mut s, head, n, &req);
                return Ending::Fin;
            }
            (Some("fin"), Some(n), Some(k)) => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n");
                let _ = send_head_and_pattern(&mut s, &head, k.min(n), &req);
                return Ending::Fin;
            }
            (Some("slow"), Some(ms), None) => {
                let until = Instant::now() + Duration::from_millis(ms);
                while Instant::now() < until && !shared.stop.load(Ordering::SeqCst) {
                    let left = until.saturating_duration_since(Instant::now());
                    thread::sleep(left.min(Duration::from_millis(10)));
                }
                send_text(&mut s, &req, "200 OK", "slow")
            }
            (Some("gap"), Some(ms), None) => {
                let head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nfirst\n";
                if s.write_all(head.as_bytes()).is_err() {
                    return Ending::Drop;
                }
                nap(shared, Duration::from_millis(ms));
                let _ = s.write_all(b"second\n");
                return Ending::Fin;
            }
            (Some("extra"), Some(ms), None) => {
                send_text(&mut s, &req, "200 OK", "ok").and_then(|()| {
                    nap(shared, Duration::from_millis(ms));
                    s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra")
                })
            }
            (Some("status"), Some(code @ 200..=599), None) => {
                let status = format!("{code} Status");
                if code == 204 || code == 304 {
                    let head = format!("HTTP/1.1 {status}\r\n{}\r\n", conn(&req));
                    s.write_all(head.as_bytes())
                } else {
                    send_text(&mut s, &req, &status, &format!("status {code}"))
                }
            }
            (Some("info"), None, None) => s
                .write_all(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
                .and_then(|()| send_text(&mut s, &req, "200 OK", "info")),
            (Some("headers"), None, None) => {
                let text = String::from_utf8_lossy(&req.head).into_owned();
                send_text(&mut s, &req, "200 OK", &text)
            }
            _ => send_text(&mut s, &req, "404 Not Found", "not found"),
        };
        if result.is_err() {
            return Ending::Drop;
        }
        if close {
            return Ending::Fin;
        }
    }
}

/// `Connection: close` CRLF when the request asked to close, `Connection: keep-alive` CRLF for
/// an HTTP/1.0 request that keeps alive, else nothing.
fn conn(req: &Req) -> &'static str {
    match (req.close, req.http10) {
        (true, _) => "Connection: close\r\n",
        (false, true) => "Connection: keep-alive\r\n",
        (false, false) => "",
    }
}

fn send_text(s: &mut &TcpStream, req: &Req, status: &str, body: &str) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n",
        body.len(),
        conn(req)
    )
    .into_bytes();
    if req.method != "HEAD" {
        out.extend_from_slice(body.as_bytes());
    }
    s.write_all(&out)
}

/// The head, then `n` bytes of the pattern (none for `HEAD`), the first block in the same write
/// as the head, so a short answer is one segment.
fn send_head_and_pattern(s: &mut &TcpStream, head: &str, n: u64, req: &Req) -> io::Result<()> {
    let n = if req.method == "HEAD" { 0 } else { n };
    let mut buf = Vec::with_capacity(head.len() + BLOCK);
    buf.extend_from_slice(head.as_bytes());
    let mut off = 0u64;
    loop {
        let len = (n - off).min((BLOCK + head.len() - buf.len()) as u64) as usize;
        let start = buf.len();
        buf.resize(start + len, 0);
        pattern(off, &mut buf[start..]);
        off += len as u64;
        s.write_all(&buf)?;
        buf.clear();
        if off >= n {
            return Ok(());
        }
    }
}

fn send_chunked(s: &mut &TcpStream, req: &Req, n: u64) -> io::Result<()> {
    let query = req.target.split_once('?').map_or("", |(_, q)| q);
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    };
    let size = param("size")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&v| v > 0)
        .unwrap_or(4096)
        .min(BLOCK as u64);
    let trailer = param("trailer") == Some("1");
    let mut head = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n{}",
        conn(req)
    );
    if trailer {
        head.push_str("Trailer: X-Body-Hash\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    if req.method == "HEAD" {
        return Ok(());
    }
    let mut hash = Fnv::default();
    let mut data = vec![0u8; size as usize];
    let mut off = 0u64;
    while off < n {
        let len = (n - off).min(size) as usize;
        pattern(off, &mut data[..len]);
        hash.update(&data[..len]);
        let mut out = format!("{len:x}\r\n").into_bytes();
        out.extend_from_slice(&data[..len]);
        out.extend_from_slice(b"\r\n");
        s.write_all(&out)?;
        off += len as u64;
    }
    let end = if trailer {
        format!("0\r\nX-Body-Hash: {:016x}\r\n\r\n", hash.finish())
    } else {
        "0\r\n\r\n".to_string()
    };
    s.write_all(end.as_bytes())
}

/// Sleeps for `d`, or less if the upstream stops.
fn nap(shared: &Shared, d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until && !shared.stop.load(Ordering::SeqCst) {
        let left = until.saturating_duration_since(Instant::now());
        thread::sleep(left.min(Duration::from_millis(10)));
    }
}

/// After a `101` for `Upgrade: collect`: every byte received is kept until the peer's FIN,
/// then all of them go back, then FIN.
fn tunnel_collect(s: &mut &TcpStream) -> Ending {
    let mut got = Vec::new();
    let mut buf = vec![0u8; BLOCK];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) if got.len() + n <= MAX_HEAD => got.extend_from_slice(&buf[..n]),
            Ok(_) | Err(_) => return Ending::Drop,
        }
    }
    thread::sleep(Duration::from_millis(100));
    if s.write_all(&got).is_err() {
        return Ending::Drop;
    }
    Ending::Fin
}

/// After a `101`: every byte received goes back until the peer closes, then FIN.
fn tunnel_echo(s: &mut &TcpStream) -> Ending {
    let mut buf = vec![0u8; BLOCK];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ending::Fin,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    return Ending::Drop;
                }
            }
            Err(_) => return Ending::Drop,
        }
    }
}

/// What arrived of a request body.
struct Body {
    len: u64,
    hash: Fnv,
    is_pattern: bool,
    complete: bool,
}

impl Default for Body {
    fn default() -> Self {
        Body {
            len: 0,
            hash: Fnv::default(),
            is_pattern: true,
            complete: true,
        }
    }
}

impl Body {
    fn add(&mut self, bytes: &[u8]) {
        self.is_pattern = self.is_pattern && is_pattern(self.len, bytes);
        self.hash.update(bytes);
        self.len += bytes.len() as u64;
    }
}

/// Reads a whole request body, keeping only its length, hash and pattern check.
fn read_body(s: &mut &TcpStream, framing: Framing) -> io::Result<Body> {
    let mut body = Body::default();
    let mut pieces = BodyPieces::new(framing);
    let mut buf = vec![0u8; BLOCK];
    while let Some(n) = pieces.next(s, &mut buf)? {
        body.add(&buf[..n]);
    }
    Ok(body)
}

/// The request body streamed back: each piece is written as soon as it was read.
fn echo(s: &mut &TcpStream, req: &Req, body: &mut Body) -> io::Result<()> {
    body.complete = false;
    let head = match req.body {
        Framing::Chunked => format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n{}\r\n",
            conn(req)
        ),
        Framing::Length(n) => format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n{}\r\n",
            conn(req)
        ),
        Framing::None => format!("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n{}\r\n", conn(req)),
    };
    s.write_all(head.as_bytes())?;
    let mut pieces = BodyPieces::new(req.body);
    let mut buf = vec![0u8; BLOCK];
    while let Some(n) = pieces.next(s, &mut buf)? {
        body.add(&buf[..n]);
        if req.body == Framing::Chunked {
            s.write_all(format!("{n:x}\r\n").as_bytes())?;
            s.write_all(&buf[..n])?;
            s.write_all(b"\r\n")?;
        } else {
            s.write_all(&buf[..n])?;
        }
    }
    if req.body == Framing::Chunked {
        s.write_all(b"0\r\n\r\n")?;
    }
    body.complete = true;
    Ok(())
}

/// Reads a request body piece by piece, never past its end (the next request's bytes stay in
/// the socket). Chunked framing is decoded: size lines byte by byte, data in blocks.
struct BodyPieces {
    framing: Framing,
    /// Bytes left in the body (`Length`) or in the current chunk (`Chunked`).
    left: u64,
    done: bool,
}

impl BodyPieces {
    fn new(framing: Framing) -> Self {
        BodyPieces {
            framing,
            left: match framing {
                Framing::Length(n) => n,
                _ => 0,
            },
            done: framing == Framing::None,
        }
    }

    /// The next piece of data in `buf[..n]`, or `None` at the end of the body.
    fn next(&mut self, s: &mut &TcpStream, buf: &mut [u8]) -> io::Result<Option<usize>> {
        if self.done {
            return Ok(None);
        }
        if self.framing == Framing::Chunked && self.left == 0 {
            let size = read_line(s)?;
            let size = size.split(';').next().unwrap_or("").trim();
            self.left = u64::from_str_radix(size, 16).map_err(|_| bad("chunk size"))?;
            if self.left == 0 {
                // Trailer fields, up to the empty line.
                while !read_line(s)?.is_empty() {}
                self.done = true;
                return Ok(None);
            }
        }
        if self.left == 0 {
            self.done = true;
            return Ok(None);
        }
        let want = self.left.min(buf.len() as u64) as usize;
        let n = s.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= n as u64;
        if self.framing == Framing::Chunked && self.left == 0 && !read_line(s)?.is_empty() {
            return Err(bad("chunk data longer than its size"));
        }
        Ok(Some(n))
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bad {what}"))
}

/// One line (LF or CRLF end, not included), read a byte at a time so nothing past it is taken.
fn read_line(s: &mut &TcpStream) -> io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if s.read(&mut byte)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if byte[0] == b'\n' {
            break;
        }
        line.push(byte[0]);
        if line.len() > 8192 {
            return Err(bad("line (too long)"));
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| bad("line (not UTF-8)"))
}

/// The end of a head: just past the first empty line after a non-empty one.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    let mut seen_line = false;
    for (i, &b) in buf.iter().enumerate() {
        if b == b'\n' {
            let line = &buf[line_start..i];
            let empty = line.is_empty() || line == b"\r";
            if empty && seen_line {
                return Some(i + 1);
            }
            seen_line |= !empty;
            line_start = i + 1;
        }
    }
    None
}

/// Reads one request head, using `peek` so that nothing after it is taken from the socket, and
/// leaving its very last byte unread: the caller either reads it ([`consume_last_head_byte`]) or
/// closes with it unread, which makes Linux send RST. `Ok(None)`: the peer closed between
/// requests.
fn read_head(s: &mut &TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    let mut buf = vec![0u8; MAX_HEAD];
    loop {
        let room = MAX_HEAD - head.len();
        if room == 0 {
            return Err(bad("head (too large)"));
        }
        let n = s.peek(&mut buf[..room])?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        let old = head.len();
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head_end(&head) {
            // The end was not in what came before, so it lies in the peeked bytes.
            head.truncate(end);
            s.read_exact(&mut buf[..end - old - 1])?;
            return Ok(Some(head));
        }
        s.read_exact(&mut buf[..n])?;
    }
}

fn consume_last_head_byte(s: &mut &TcpStream) -> io::Result<()> {
    s.read_exact(&mut [0u8; 1])
}

fn parse(head: Vec<u8>) -> Option<Req> {
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
    let mut first = lines.next()?.split(' ');
    let (method, target, version) = (first.next()?, first.next()?, first.next()?);
    let http10 = version == "HTTP/1.0";
    let mut body = Framing::None;
    let mut close = http10;
    let mut conn_upgrade = false;
    let mut upgrade = None;
    let mut expect_continue = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let has = |token: &str| {
            value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        };
        match name.to_ascii_lowercase().as_str() {
            "content-length" if body != Framing::Chunked => {
                body = match value.parse().ok()? {
                    0 => Framing::None,
                    n => Framing::Length(n),
                }
            }
            "transfer-encoding" if has("chunked") => body = Framing::Chunked,
            "connection" => {
                if has("close") {
                    close = true;
                } else if has("keep-alive") {
                    close = false;
                }
                conn_upgrade |= has("upgrade");
            }
            "upgrade" => upgrade = Some(value.to_string()),
            "expect" => expect_continue = value.eq_ignore_ascii_case("100-continue"),
            _ => {}
        }
    }
    let path = target.split('?').next().unwrap_or("").to_string();
    Some(Req {
        method: method.to_string(),
        target: target.to_string(),
        path,
        http10,
        head,
        body,
        close,
        upgrade: upgrade.filter(|_| conn_upgrade),
        expect_continue,
    })
}

/// Counts the hit and remembers the head; returns where the body's record goes.
fn record_head(shared: &Shared, conn: u64, req: &Req) -> Option<usize> {
    let mut state = lock(&shared.state);
    *state.hits.entry(req.path.clone()).or_insert(0) += 1;
    let index = (state.seen.len() < MAX_SEEN).then(|| {
        state.seen.push(Seen {
            conn,
            method: req.method.clone(),
            target: req.target.clone(),
            path: req.path.clone(),
            head: req.head.clone(),
            body_len: 0,
            body_hash: Fnv::default().finish(),
            body_is_pattern: true,
            complete: false,
        });
        state.seen.len() - 1
    });
    shared.changed.notify_all();
    index
}

fn record_body(shared: &Shared, index: Option<usize>, body: &Body) {
    let mut state = lock(&shared.state);
    if let Some(seen) = index.and_then(|i| state.seen.get_mut(i)) {
        seen.body_len = body.len;
        seen.body_hash = body.hash.finish();
        seen.body_is_pattern = body.is_pattern;
        seen.complete = body.complete;
    }
    shared.changed.notify_all();
}
