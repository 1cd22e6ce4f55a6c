//! Responses laid out from a plan: the status line and headers, and the body as a lazily
//! produced byte stream (filler, text, echo, random bytes, chunked framing). Pure: no I/O.

use crate::plan::{Body, Length, Offset, Plan, Replace};
use crate::rng::Rng;
use std::time::Duration;

/// The default body.
pub const DEFAULT_BODY: &[u8] = b"Hello, world!";

/// What the layout needs to know about the request.
pub struct ReqInfo<'a> {
    /// `HEAD`: send the head only.
    pub head_only: bool,
    /// The client asked to close after this response (HTTP/1.0, `Connection: close`, or the
    /// one-shot winner): answer with `Connection: close` and FIN.
    pub close: bool,
    /// The request exactly as received, head and body, for `echo`.
    pub raw: &'a [u8],
    /// Seed for `garbage`.
    pub seed: u64,
    /// The request body was not read (`drain=no`, or an unanswered `Expect`): the connection
    /// cannot serve another request.
    pub body_unread: bool,
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
pub fn clamp_len(left: u64, cap: usize) -> usize {
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
pub struct Stream<'a> {
    head: Vec<u8>,
    head_pos: usize,
    body: BodySource<'a>,
}

impl Stream<'_> {
    pub fn fill(&mut self, out: &mut [u8]) -> usize {
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
pub struct Layout<'a> {
    pub stream: Stream<'a>,
    pub total: u64,
    pub head_len: u64,
    pub keep_alive: bool,
}

pub fn no_body_status(code: u16) -> bool {
    (100..200).contains(&code) || code == 204 || code == 304
}

pub fn layout<'a>(plan: &'a Plan, req: &ReqInfo<'a>) -> Layout<'a> {
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
        && !req.body_unread
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

pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
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
pub fn absolute(offset: Offset, head_len: u64, total: u64) -> u64 {
    match offset {
        Offset::Body(n) => head_len.saturating_add(n).min(total),
        Offset::Head(n) => n.min(total),
        Offset::End => total,
    }
}

/// When byte `k` may go out at `rate` bytes per second.
pub fn rate_time(k: u64, rate: u64) -> Duration {
    let nanos = u128::from(k) * 1_000_000_000 / u128::from(rate);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// A small well-formed response made by the server itself (errors, the control API):
/// status line, `Server`, `Content-Type`, `Content-Length`, and `Connection: close` if `close`.
pub fn simple_response(code: u16, content_type: &str, body: &[u8], close: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + body.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    push_u64(&mut out, u64::from(code));
    out.push(b' ');
    out.extend_from_slice(reason(code).as_bytes());
    out.extend_from_slice(b"\r\nServer: httpfault\r\n");
    if !body.is_empty() || !no_body_status(code) {
        out.extend_from_slice(b"Content-Type: ");
        out.extend_from_slice(content_type.as_bytes());
        out.extend_from_slice(b"\r\nContent-Length: ");
        push_u64(&mut out, body.len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}
