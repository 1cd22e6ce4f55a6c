//! The plan executor. A response is a byte stream (head, then body) with a timeline of events
//! at byte offsets: pauses, the pace of `rate`, and the cut where an ending step stops it.
//! [`run`] writes that stream through a [`Sink`] and says how it ended; the connection then
//! carries out the ending on the socket (RST, FIN, silence, or keep-alive).
//!
//! The executor never touches a socket, so plans are unit-tested against a recorder.

use crate::plan::{Body, EndKind, Ending, Length, Offset, Plan, Replace};
use crate::rng::Rng;
use std::io;
use std::time::{Duration, Instant};

/// The default body.
pub const DEFAULT_BODY: &[u8] = b"Hello, world!";
/// Largest single write. Responses up to this size go out in one `write` call.
const WRITE_PIECE: usize = 64 * 1024;

/// Where the executor sends bytes and waits. The real one is a `TcpStream` with `sleep`; the
/// tests' one records writes against a virtual clock.
pub trait Sink {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    fn now(&self) -> Instant;
    fn sleep_until(&mut self, when: Instant);
}

/// What the executor needs to know about the request.
pub struct Request<'a> {
    /// `HEAD`: send the head only.
    pub head_only: bool,
    /// The client asked to close after this response (HTTP/1.0, `Connection: close`, or the
    /// one-shot winner): answer with `Connection: close` and FIN.
    pub close: bool,
    /// The request exactly as received, head and body, for `echo`.
    pub raw: &'a [u8],
    /// Seed for `garbage`.
    pub seed: u64,
}

/// How a response ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The whole response went out. `keep_alive`: the connection serves the next request;
    /// otherwise it is closed cleanly (FIN).
    Complete { keep_alive: bool },
    /// An ending step cut the response; the connection must now be reset, closed or held.
    Cut(EndKind),
    /// A write failed: the client left.
    PeerGone,
    /// A write blocked longer than the write timeout: the client stopped reading.
    TimedOut,
}

impl End {
    /// The `end` field of the log.
    pub fn name(self) -> &'static str {
        match self {
            End::Complete { .. } => "complete",
            End::Cut(kind) => kind.name(),
            End::PeerGone => "peer-gone",
            End::TimedOut => "timeout",
        }
    }
}

/// What happened: the bytes written and how the response ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub bytes: u64,
    pub end: End,
}

/// The standard reason phrase of a status code; `Unknown` for codes without one.
pub fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => "Unknown",
    }
}

/// Printable filler for `body=SIZE`: byte `i` of the body is `FILLER[i % 64]`.
const FILLER: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

/// A body before chunk framing: bytes produced in order.
enum Plain<'a> {
    Slice(&'a [u8]),
    Filler { len: u64, pos: u64 },
    Random { len: u64, pos: u64, rng: Rng },
}

impl Plain<'_> {
    fn remaining(&self) -> u64 {
        match self {
            Plain::Slice(s) => s.len() as u64,
            Plain::Filler { len, pos } | Plain::Random { len, pos, .. } => len - pos,
        }
    }

    /// Fills the front of `out` and returns how many bytes it wrote.
    fn fill(&mut self, out: &mut [u8]) -> usize {
        match self {
            Plain::Slice(s) => {
                let n = s.len().min(out.len());
                out[..n].copy_from_slice(&s[..n]);
                *s = &s[n..];
                n
            }
            Plain::Filler { len, pos } => {
                let n = clamp_len(*len - *pos, out.len());
                for (i, b) in out[..n].iter_mut().enumerate() {
                    *b = FILLER[((*pos + i as u64) % 64) as usize];
                }
                *pos += n as u64;
                n
            }
            Plain::Random { len, pos, rng } => {
                let n = clamp_len(*len - *pos, out.len());
                for b in &mut out[..n] {
                    *b = rng.next_u64() as u8;
                }
                *pos += n as u64;
                n
            }
        }
    }
}

/// `min(left, cap)` as a usize, without a lossy cast of `left`.
fn clamp_len(left: u64, cap: usize) -> usize {
    usize::try_from(left).map_or(cap, |l| l.min(cap))
}

/// Chunked framing around a plain body, produced lazily so `body=10m/chunked=4` needs no
/// 27 MB buffer. `bad` is the index of the chunk whose size line is `zz` (`badchunk`).
struct Chunker<'a> {
    inner: Plain<'a>,
    size: u64,
    left_in_chunk: u64,
    frame: [u8; 24],
    frame_len: usize,
    frame_pos: usize,
    index: u64,
    bad: Option<u64>,
    finished: bool,
}

/// Length of the size line of a chunk (hex digits + CRLF).
fn size_line_len(size: u64, bad: bool) -> u64 {
    if bad {
        return 4;
    }
    let digits = if size == 0 {
        1
    } else {
        (64 - u64::from(size.leading_zeros())).div_ceil(4)
    };
    digits + 2
}

/// The index of the bad chunk: the second chunk, or the first when there is only one (the
/// terminating `0` chunk when the body is empty).
fn bad_index(body_len: u64, size: u64) -> u64 {
    if body_len > size {
        1
    } else {
        0
    }
}

/// Wire length of a chunked body of `len` bytes in chunks of `size`.
fn chunked_len(len: u64, size: u64, badchunk: bool) -> u64 {
    let full = len / size;
    let rest = len % size;
    let bad = badchunk.then(|| bad_index(len, size));
    let mut total = full * (size_line_len(size, false) + size + 2);
    if rest > 0 {
        total += size_line_len(rest, false) + rest + 2;
    }
    total += 5; // "0\r\n\r\n"
    if let Some(b) = bad {
        let bad_size = if b < full {
            size
        } else if rest > 0 && b == full {
            rest
        } else {
            0
        };
        total = total - size_line_len(bad_size, false) + size_line_len(bad_size, true);
    }
    total
}

impl<'a> Chunker<'a> {
    fn new(inner: Plain<'a>, size: u64, badchunk: bool) -> Chunker<'a> {
        let bad = badchunk.then(|| bad_index(inner.remaining(), size));
        Chunker {
            inner,
            size,
            left_in_chunk: 0,
            frame: [0; 24],
            frame_len: 0,
            frame_pos: 0,
            index: 0,
            bad,
            finished: false,
        }
    }

    fn push_frame(&mut self, bytes: &[u8]) {
        self.frame[self.frame_len..self.frame_len + bytes.len()].copy_from_slice(bytes);
        self.frame_len += bytes.len();
    }

    fn fill(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        while n < out.len() {
            if self.frame_pos < self.frame_len {
                let k = (self.frame_len - self.frame_pos).min(out.len() - n);
                out[n..n + k].copy_from_slice(&self.frame[self.frame_pos..self.frame_pos + k]);
                self.frame_pos += k;
                n += k;
                continue;
            }
            if self.left_in_chunk > 0 {
                let cap = clamp_len(self.left_in_chunk, out.len() - n);
                let k = self.inner.fill(&mut out[n..n + cap]);
                self.left_in_chunk -= k as u64;
                n += k;
                continue;
            }
            if self.finished {
                break;
            }
            // Start the next frame: the CRLF that ends the previous chunk, then a size line.
            self.frame_len = 0;
            self.frame_pos = 0;
            if self.index > 0 {
                self.push_frame(b"\r\n");
            }
            let size = self.size.min(self.inner.remaining());
            if self.bad == Some(self.index) {
                self.push_frame(b"zz");
            } else {
                let mut hex = [0u8; 16];
                let digits = size_line_len(size, false) as usize - 2;
                for (i, d) in hex[..digits].iter_mut().rev().enumerate() {
                    *d = b"0123456789abcdef"[((size >> (4 * i)) & 0xf) as usize];
                }
                self.push_frame(&hex[..digits]);
            }
            self.push_frame(b"\r\n");
            if size == 0 {
                self.push_frame(b"\r\n");
                self.finished = true;
            }
            self.left_in_chunk = size;
            self.index += 1;
        }
        n
    }
}

enum BodySource<'a> {
    Plain(Plain<'a>),
    Chunked(Box<Chunker<'a>>),
}

/// The whole response as a stream: head bytes, then body bytes.
struct Stream<'a> {
    head: Vec<u8>,
    head_pos: usize,
    body: BodySource<'a>,
}

impl Stream<'_> {
    fn fill(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        if self.head_pos < self.head.len() {
            let k = (self.head.len() - self.head_pos).min(out.len());
            out[..k].copy_from_slice(&self.head[self.head_pos..self.head_pos + k]);
            self.head_pos += k;
            n = k;
        }
        while n < out.len() {
            let k = match &mut self.body {
                BodySource::Plain(p) => p.fill(&mut out[n..]),
                BodySource::Chunked(c) => c.fill(&mut out[n..]),
            };
            if k == 0 {
                break;
            }
            n += k;
        }
        n
    }
}

/// A response laid out: its stream, its length, where the body starts, and whether the
/// connection may serve another request after it.
struct Layout<'a> {
    stream: Stream<'a>,
    total: u64,
    head_len: u64,
    keep_alive: bool,
}

fn no_body_status(code: u16) -> bool {
    (100..200).contains(&code) || code == 204 || code == 304
}

fn layout<'a>(plan: &'a Plan, req: &Request<'a>) -> Layout<'a> {
    if let Some(replace) = &plan.replace {
        let body = match replace {
            Replace::Raw(bytes) => Plain::Slice(bytes),
            Replace::Garbage(len) => Plain::Random {
                len: *len,
                pos: 0,
                rng: Rng::new(req.seed),
            },
        };
        let total = body.remaining();
        return Layout {
            stream: Stream {
                head: Vec::new(),
                head_pos: 0,
                body: BodySource::Plain(body),
            },
            total,
            head_len: 0,
            keep_alive: false,
        };
    }
    let code = plan.status_code();
    let plain = match &plan.body {
        Body::Default if no_body_status(code) => Plain::Slice(&[]),
        Body::Default => Plain::Slice(DEFAULT_BODY),
        Body::Filler(len) => Plain::Filler { len: *len, pos: 0 },
        Body::Text(t) => Plain::Slice(t),
        Body::Echo => Plain::Slice(req.raw),
    };
    let plain_len = plain.remaining();
    let wire_len = match plan.chunked {
        Some(size) => chunked_len(plain_len, size, plan.badchunk),
        None => plain_len,
    };
    let keep_alive = !req.close
        && plan.keepalive != Some(false)
        && plan.drain
        && !plan.badchunk
        && (plan.chunked.is_some() || plan.length != Length::Omitted);
    let close_header = req.close || plan.keepalive == Some(false);

    let mut head = Vec::with_capacity(128);
    head.extend_from_slice(b"HTTP/1.1 ");
    push_u64(&mut head, u64::from(code));
    head.push(b' ');
    head.extend_from_slice(reason(code).as_bytes());
    head.extend_from_slice(b"\r\nServer: httpfault\r\n");
    let declared = match plan.length {
        Length::Declared(n) => Some(n),
        Length::Omitted => None,
        Length::Auto if plan.chunked.is_some() => None,
        Length::Auto if no_body_status(code) && plan.body == Body::Default => None,
        Length::Auto => Some(plain_len),
    };
    if let Some(n) = declared {
        head.extend_from_slice(b"Content-Length: ");
        push_u64(&mut head, n);
        head.extend_from_slice(b"\r\n");
    }
    if plan.chunked.is_some() {
        head.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    if close_header {
        head.extend_from_slice(b"Connection: close\r\n");
    }
    for (name, value) in &plan.headers {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let head_len = head.len() as u64;

    let (body, body_len) = if req.head_only {
        (BodySource::Plain(Plain::Slice(&[])), 0)
    } else if let Some(size) = plan.chunked {
        let chunker = Chunker::new(plain, size, plan.badchunk);
        (BodySource::Chunked(Box::new(chunker)), wire_len)
    } else {
        (BodySource::Plain(plain), wire_len)
    };
    Layout {
        stream: Stream {
            head,
            head_pos: 0,
            body,
        },
        total: head_len + body_len,
        head_len,
        keep_alive,
    }
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// An offset as a byte position in the whole response, at most `total`.
fn absolute(offset: Offset, head_len: u64, total: u64) -> u64 {
    match offset {
        Offset::Body(n) => head_len.saturating_add(n).min(total),
        Offset::Head(n) => n.min(total),
        Offset::End => total,
    }
}

/// When byte `k` may go out at `rate` bytes per second.
fn rate_time(k: u64, rate: u64) -> Duration {
    let nanos = u128::from(k) * 1_000_000_000 / u128::from(rate);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Runs `plan` for one request: waits `delay`, writes the response up to its cut with its
/// pauses and pace, and says how it ended. `buf` is a write buffer the caller reuses.
pub fn run<S: Sink>(plan: &Plan, req: &Request<'_>, sink: &mut S, buf: &mut Vec<u8>) -> Outcome {
    if let Some(d) = plan.delay {
        let until = sink.now() + d;
        sink.sleep_until(until);
    }
    // A bare `reset`, `close` or `hang` sends nothing: no response to lay out (this also
    // keeps thousands of held connections from each holding a response head).
    if let Some(Ending { kind, at: None }) = plan.ending {
        if plan.pauses.is_empty() {
            return Outcome {
                bytes: 0,
                end: End::Cut(kind),
            };
        }
    }
    let Layout {
        mut stream,
        total,
        head_len,
        keep_alive,
    } = layout(plan, req);
    let limit = match plan.ending {
        Some(e) => e.at.map_or(0, |at| absolute(at, head_len, total)),
        None => total,
    };
    let mut pauses: Vec<(u64, Duration)> = plan
        .pauses
        .iter()
        .map(|(off, d)| (absolute(*off, head_len, total), *d))
        .filter(|(at, _)| *at <= limit)
        .collect();
    pauses.sort_by_key(|(at, _)| *at);
    let mut pauses = pauses.into_iter().peekable();

    let piece_cap = match plan.rate {
        // About 50 writes a second, so the pace is smooth and the syscalls few.
        Some(rate) => clamp_len((rate / 50).max(1), WRITE_PIECE),
        None => WRITE_PIECE,
    };
    let want = clamp_len(limit, piece_cap);
    if buf.len() < want {
        buf.resize(want, 0);
    }
    let mut sent: u64 = 0;
    let mut clock = sink.now();
    loop {
        while let Some(&(at, d)) = pauses.peek() {
            if at > sent {
                break;
            }
            pauses.next();
            let until = sink.now() + d;
            sink.sleep_until(until);
            // A pause does not count against the rate: the pace resumes where it stopped.
            clock += d;
        }
        if sent >= limit {
            break;
        }
        let stop = pauses.peek().map_or(limit, |&(at, _)| at.min(limit));
        let piece = clamp_len(stop - sent, piece_cap);
        if let Some(rate) = plan.rate {
            sink.sleep_until(clock + rate_time(sent, rate));
        }
        let n = stream.fill(&mut buf[..piece]);
        if n == 0 {
            break;
        }
        if let Err(e) = sink.write_all(&buf[..n]) {
            let timed_out = matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            );
            return Outcome {
                bytes: sent,
                end: if timed_out {
                    End::TimedOut
                } else {
                    End::PeerGone
                },
            };
        }
        sent += n as u64;
    }
    let end = match plan.ending {
        Some(e) => End::Cut(e.kind),
        // raw and garbage end with a clean close unless an ending says otherwise.
        None if plan.replace.is_some() => End::Cut(EndKind::Close),
        None => End::Complete { keep_alive },
    };
    Outcome { bytes: sent, end }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records writes with the virtual time they happened at.
    struct Recorder {
        start: Instant,
        now: Instant,
        writes: Vec<(Duration, Vec<u8>)>,
        fail_after: Option<usize>,
    }

    impl Recorder {
        fn new() -> Recorder {
            let start = Instant::now();
            Recorder {
                start,
                now: start,
                writes: Vec::new(),
                fail_after: None,
            }
        }
        fn bytes(&self) -> Vec<u8> {
            self.writes.iter().flat_map(|(_, b)| b.clone()).collect()
        }
    }

    impl Sink for Recorder {
        fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
            if self.fail_after.is_some_and(|n| self.writes.len() >= n) {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.writes.push((self.now - self.start, bytes.to_vec()));
            Ok(())
        }
        fn now(&self) -> Instant {
            self.now
        }
        fn sleep_until(&mut self, when: Instant) {
            self.now = self.now.max(when);
        }
    }

    fn request() -> Request<'static> {
        Request {
            head_only: false,
            close: false,
            raw: b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n",
            seed: 7,
        }
    }

    fn exec(text: &str) -> (Recorder, Outcome) {
        exec_req(text, &request())
    }

    fn exec_req(text: &str, req: &Request<'_>) -> (Recorder, Outcome) {
        let plan = Plan::parse(text).unwrap();
        let mut rec = Recorder::new();
        let out = run(&plan, req, &mut rec, &mut Vec::new());
        (rec, out)
    }

    const HEAD_13: &str = "HTTP/1.1 200 OK\r\nServer: httpfault\r\nContent-Length: 13\r\n\r\n";

    #[test]
    fn classic_reset_after_six_body_bytes() {
        let (rec, out) = exec("reset=6");
        assert_eq!(rec.bytes(), format!("{HEAD_13}Hello,").as_bytes());
        assert_eq!(rec.writes.len(), 1, "one write for a small response");
        assert_eq!(out.end, End::Cut(EndKind::Reset));
        assert_eq!(out.bytes, HEAD_13.len() as u64 + 6);
    }

    #[test]
    fn healthy_default_keeps_alive() {
        let (rec, out) = exec("");
        assert_eq!(rec.bytes(), format!("{HEAD_13}Hello, world!").as_bytes());
        assert_eq!(out.end, End::Complete { keep_alive: true });
    }

    #[test]
    fn endings_without_offset_send_nothing() {
        for (text, kind) in [
            ("reset", EndKind::Reset),
            ("close", EndKind::Close),
            ("hang", EndKind::Hang),
        ] {
            let (rec, out) = exec(text);
            assert!(rec.bytes().is_empty(), "{text}");
            assert_eq!(
                out,
                Outcome {
                    bytes: 0,
                    end: End::Cut(kind)
                }
            );
        }
    }

    #[test]
    fn offsets_head_body_and_end() {
        let (rec, _) = exec("close=head:10");
        assert_eq!(rec.bytes(), b"HTTP/1.1 2");
        let (rec, _) = exec("hang=end");
        assert_eq!(rec.bytes(), format!("{HEAD_13}Hello, world!").as_bytes());
        let (rec, _) = exec("reset=1000");
        assert_eq!(rec.bytes(), format!("{HEAD_13}Hello, world!").as_bytes());
        let (rec, out) = exec("body=2m/reset=1m");
        let bytes = rec.bytes();
        let head = b"HTTP/1.1 200 OK\r\nServer: httpfault\r\nContent-Length: 2097152\r\n\r\n";
        assert_eq!(&bytes[..head.len()], head);
        assert_eq!(bytes.len() - head.len(), 1 << 20);
        assert_eq!(out.bytes, bytes.len() as u64);
        assert!(bytes[head.len()..].iter().all(|b| FILLER.contains(b)));
        assert_eq!(&bytes[head.len()..head.len() + 4], b"abcd");
    }

    #[test]
    fn status_headers_text_length() {
        let (rec, _) = exec("status=503/header=X-A:1/text=hi/length=5/keepalive=no");
        assert_eq!(
            rec.bytes(),
            b"HTTP/1.1 503 Service Unavailable\r\nServer: httpfault\r\nContent-Length: 5\r\n\
              Connection: close\r\nX-A: 1\r\n\r\nhi"
        );
        let (rec, out) = exec("length=none");
        assert_eq!(
            rec.bytes(),
            b"HTTP/1.1 200 OK\r\nServer: httpfault\r\n\r\nHello, world!"
        );
        assert_eq!(out.end, End::Complete { keep_alive: false });
        let (rec, _) = exec("status=599");
        assert!(rec.bytes().starts_with(b"HTTP/1.1 599 Unknown\r\n"));
        let (rec, _) = exec("status=204");
        assert_eq!(
            rec.bytes(),
            b"HTTP/1.1 204 No Content\r\nServer: httpfault\r\n\r\n"
        );
    }

    #[test]
    fn echo_head_only_and_client_close() {
        let (rec, _) = exec("echo");
        let raw = request().raw;
        let mut want = format!(
            "HTTP/1.1 200 OK\r\nServer: httpfault\r\nContent-Length: {}\r\n\r\n",
            raw.len()
        )
        .into_bytes();
        want.extend_from_slice(raw);
        assert_eq!(rec.bytes(), want);
        let req = Request {
            head_only: true,
            close: true,
            ..request()
        };
        let (rec, out) = exec_req("", &req);
        assert_eq!(
            rec.bytes(),
            b"HTTP/1.1 200 OK\r\nServer: httpfault\r\nContent-Length: 13\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(out.end, End::Complete { keep_alive: false });
    }

    #[test]
    fn chunked_framing() {
        let (rec, out) = exec("chunked=4");
        let body = b"4\r\nHell\r\n4\r\no, w\r\n4\r\norld\r\n1\r\n!\r\n0\r\n\r\n";
        let head = "HTTP/1.1 200 OK\r\nServer: httpfault\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(rec.bytes(), [head.as_bytes(), body].concat());
        assert_eq!(out.end, End::Complete { keep_alive: true });
        let (rec, out) = exec("chunked=4/badchunk");
        let body = b"4\r\nHell\r\nzz\r\no, w\r\n4\r\norld\r\n1\r\n!\r\n0\r\n\r\n";
        assert_eq!(rec.bytes(), [head.as_bytes(), body].concat());
        assert_eq!(out.end, End::Complete { keep_alive: false });
        let (rec, _) = exec("chunked/badchunk/text=abc");
        assert!(rec.bytes().ends_with(b"\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"));
        let (rec, _) = exec("chunked/text=");
        assert!(rec.bytes().ends_with(b"\r\n\r\n0\r\n\r\n"));
        // The body offset counts framing bytes: 6 bytes = "4\r\nHel".
        let (rec, _) = exec("chunked=4/reset=6");
        assert!(rec.bytes().ends_with(b"\r\n\r\n4\r\nHel"));
    }

    #[test]
    fn chunked_length_formula_matches_the_framing() {
        for len in [0u64, 1, 7, 8, 9, 15, 16, 17, 255, 256, 4097] {
            for size in [1u64, 3, 8, 16, 255, 4096] {
                for bad in [false, true] {
                    let mut c = Chunker::new(Plain::Filler { len, pos: 0 }, size, bad);
                    let mut out = vec![0u8; 64 * 1024];
                    let mut n = 0;
                    loop {
                        let k = c.fill(&mut out[n..n + 7]);
                        if k == 0 {
                            break;
                        }
                        n += k;
                    }
                    assert_eq!(chunked_len(len, size, bad), n as u64, "{len} {size} {bad}");
                }
            }
        }
    }

    #[test]
    fn raw_and_garbage_replace_the_response() {
        let (rec, out) = exec("raw=HTTP%2F1.1%20200%20OK%0D%0A%0D%0Aok");
        assert_eq!(rec.bytes(), b"HTTP/1.1 200 OK\r\n\r\nok");
        assert_eq!(out.end, End::Cut(EndKind::Close));
        let (rec, out) = exec("raw=abcdef/reset=3");
        assert_eq!(rec.bytes(), b"abc");
        assert_eq!(out.end, End::Cut(EndKind::Reset));
        let (a, out) = exec("garbage=100");
        assert_eq!(a.bytes().len(), 100);
        assert_eq!(out.end, End::Cut(EndKind::Close));
        let (b, _) = exec("garbage=100");
        assert_eq!(a.bytes(), b.bytes(), "same seed, same bytes");
        let other = Request {
            seed: 8,
            ..request()
        };
        let (c, _) = exec_req("garbage=100", &other);
        assert_ne!(a.bytes(), c.bytes());
    }

    #[test]
    fn delay_and_pauses_fall_at_their_offsets() {
        let (rec, _) = exec("delay=2s/pause=head:9,1s/pause=6,500ms");
        let times: Vec<(Duration, usize)> = rec.writes.iter().map(|(t, b)| (*t, b.len())).collect();
        assert_eq!(
            times,
            vec![
                (Duration::from_secs(2), 9),
                (Duration::from_secs(3), HEAD_13.len() - 9 + 6),
                (Duration::from_millis(3500), 7),
            ]
        );
        // A pause at the cut happens before the ending.
        let (rec, _) = exec("pause=end,1s/close=end");
        assert_eq!(rec.now - rec.start, Duration::from_secs(1));
    }

    #[test]
    fn rate_paces_the_whole_response() {
        let (rec, _) = exec("rate=10/text=abcdefghij/length=none");
        let total: usize = rec.writes.iter().map(|(_, b)| b.len()).sum();
        assert_eq!(total, 48);
        assert!(rec.writes.iter().all(|(_, b)| b.len() == 1));
        let last = rec.writes.last().unwrap().0;
        assert_eq!(last, Duration::from_millis(4700), "byte 47 at 47/10 s");
        let (rec, _) = exec("rate=64k/body=128k");
        let last = rec.writes.last().unwrap().0;
        assert!(
            last > Duration::from_millis(1900) && last < Duration::from_secs(2),
            "{last:?}"
        );
    }

    #[test]
    fn a_blocked_write_is_a_timeout() {
        struct Stuck;
        impl Sink for Stuck {
            fn write_all(&mut self, _: &[u8]) -> io::Result<()> {
                Err(io::ErrorKind::WouldBlock.into())
            }
            fn now(&self) -> Instant {
                Instant::now()
            }
            fn sleep_until(&mut self, _: Instant) {}
        }
        let out = run(&Plan::default(), &request(), &mut Stuck, &mut Vec::new());
        assert_eq!(
            out,
            Outcome {
                bytes: 0,
                end: End::TimedOut
            }
        );
    }

    #[test]
    fn a_failed_write_is_peer_gone() {
        let plan = Plan::parse("body=1m").unwrap();
        let mut rec = Recorder::new();
        rec.fail_after = Some(2);
        let out = run(&plan, &request(), &mut rec, &mut Vec::new());
        assert_eq!(out.end, End::PeerGone);
        assert_eq!(out.bytes, 2 * WRITE_PIECE as u64);
    }
}
