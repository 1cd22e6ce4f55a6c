//! Responses laid out from a plan: the status line and headers, and the body as a lazily
//! produced byte stream (filler, text, echo, random bytes, chunked framing). Pure: no I/O.

use crate::plan::{Body, Events, Gzip, Length, Plan, Replace};
use crate::rng::Rng;
use std::cell::Cell;

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
    /// The request's `Range` value, for `ranges`.
    pub range: Option<&'a [u8]>,
    /// The request's `If-Range` value, for `ranges`.
    pub if_range: Option<&'a [u8]>,
    /// The request's `Last-Event-ID`, when it is a number, for `sse`.
    pub last_event_id: Option<u64>,
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
pub const FILLER: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

/// A body before chunk framing: bytes produced in order.
enum Plain<'a> {
    Slice(&'a [u8]),
    Filler { len: u64, pos: u64 },
    Random { len: u64, pos: u64, rng: Rng },
    Sse(Box<EventGen>),
}

/// The text of event `k` of `sse=N`: `id: K`, `data: K`, a blank line (LF line ends, as most
/// servers write them).
fn write_event(k: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(b"id: ");
    push_u64(out, k);
    out.extend_from_slice(b"\ndata: ");
    push_u64(out, k);
    out.extend_from_slice(b"\n\n");
}

/// The `retry:` block of `sse-retry=MS`: a field alone, which dispatches no event.
fn write_retry(ms: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(b"retry: ");
    push_u64(out, ms);
    out.extend_from_slice(b"\n\n");
}

/// The value of a `Last-Event-ID` field as `sse=` reads it: an event number (decimal digits);
/// anything else is no number (the stream starts from its first event).
pub fn event_id(value: &[u8]) -> Option<u64> {
    let v = value.trim_ascii();
    if v.is_empty() || v.len() > 20 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// Decimal digits of `n`.
fn digits(n: u64) -> u64 {
    u64::from(n.checked_ilog10().unwrap_or(0)) + 1
}

/// Bytes of [`write_event`]'s text for event `k`.
fn event_len(k: u64) -> u64 {
    13 + 2 * digits(k)
}

/// The pieces of an event stream (the `retry:` block, then events `first..=last`) as runs of
/// equal lengths: `(length, count)`, one run per number of digits.
fn event_runs(retry: Option<u64>, first: u64, last: u64) -> Vec<(u64, u64)> {
    let mut runs = Vec::new();
    if let Some(ms) = retry {
        runs.push((9 + digits(ms), 1));
    }
    let mut k = first;
    while k <= last {
        let next_power = 10u64.saturating_pow(u32::try_from(digits(k)).unwrap_or(u32::MAX));
        let end = last.min(next_power - 1);
        runs.push((event_len(k), end - k + 1));
        k = end + 1;
    }
    runs
}

/// An event stream, made one piece (the `retry:` block, or one event) at a time.
struct EventGen {
    retry: Option<u64>,
    next: u64,
    last: u64,
    piece: Vec<u8>,
    pos: usize,
    remaining: u64,
}

impl EventGen {
    fn new(retry: Option<u64>, first: u64, last: u64) -> EventGen {
        let remaining = event_runs(retry, first, last)
            .iter()
            .map(|(len, n)| len * n)
            .sum();
        EventGen {
            retry,
            next: first,
            last,
            piece: Vec::with_capacity(32),
            pos: 0,
            remaining,
        }
    }

    /// The events still to be made.
    fn events(&self) -> u64 {
        (self.last + 1).saturating_sub(self.next)
    }

    /// Bytes left of the piece being sent, the next one made if that one is out (0 at the
    /// end).
    fn piece_left(&mut self) -> usize {
        if self.pos == self.piece.len() {
            self.piece.clear();
            self.pos = 0;
            if let Some(ms) = self.retry.take() {
                write_retry(ms, &mut self.piece);
            } else if self.next <= self.last {
                write_event(self.next, &mut self.piece);
                self.next += 1;
            }
        }
        self.piece.len() - self.pos
    }

    fn fill(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        while n < out.len() {
            let k = self.piece_left().min(out.len() - n);
            if k == 0 {
                break;
            }
            out[n..n + k].copy_from_slice(&self.piece[self.pos..self.pos + k]);
            self.pos += k;
            n += k;
        }
        self.remaining -= n as u64;
        n
    }
}

impl Plain<'_> {
    fn remaining(&self) -> u64 {
        match self {
            Plain::Slice(s) => s.len() as u64,
            Plain::Filler { len, pos } | Plain::Random { len, pos, .. } => len - pos,
            Plain::Sse(g) => g.remaining,
        }
    }

    /// Bytes left of the body's current natural piece (an event), which a chunk of its own
    /// carries; unbounded for bodies without pieces.
    fn piece(&mut self) -> u64 {
        match self {
            Plain::Sse(g) => g.piece_left() as u64,
            _ => u64::MAX,
        }
    }

    /// Only bytes `start..end` of the body (`start <= end <= remaining()`), for a range.
    fn window(self, start: u64, end: u64) -> Self {
        match self {
            Plain::Slice(s) => {
                let a = clamp_len(start, s.len());
                let b = clamp_len(end, s.len()).max(a);
                Plain::Slice(&s[a..b])
            }
            Plain::Filler { pos, .. } => Plain::Filler {
                len: pos + end,
                pos: pos + start,
            },
            // Not reachable (ranges conflicts with garbage and sse); the whole body is
            // harmless.
            whole @ (Plain::Random { .. } | Plain::Sse(_)) => whole,
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
            Plain::Sse(g) => g.fill(out),
        }
    }
}

/// The CRC-32 (IEEE, reflected) table, built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// Continues a CRC-32 over `bytes` (start with 0).
pub fn crc32(crc: u32, bytes: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in bytes {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Most bytes in one stored deflate block (its LEN field is 16 bits).
const STORED_MAX: u64 = 65_535;

/// Wire length of a gzip stream of stored blocks around `len` bytes: the 10-byte header, a
/// 5-byte header per block (one empty block for an empty body), the data, CRC-32 and ISIZE.
fn gzip_len(len: u64) -> u64 {
    let blocks = len.div_ceil(STORED_MAX).max(1);
    10 + 5 * blocks + len + 8
}

/// A gzip stream produced lazily around a plain body: stored (uncompressed) deflate blocks,
/// so only the standard library is needed and any client's inflater accepts it; the CRC-32 is
/// computed as the bytes go by. `bad` (`gzip=bad`) changes the middle data byte (XOR 1, so a
/// text body stays text) after the CRC has taken the original: the CRC check fails at the very
/// end, after every data byte, and a client that keeps the data anyway shows one wrong byte
/// (an empty body has no byte to change: its CRC is written inverted).
struct Gzipper<'a> {
    inner: Plain<'a>,
    crc: u32,
    size: u32,
    bad: bool,
    /// `bad`: the offset in the plain body of the byte to change, and the plain bytes so far.
    corrupt_at: Option<u64>,
    plain_pos: u64,
    frame: [u8; 10],
    frame_len: usize,
    frame_pos: usize,
    left_in_block: u64,
    blocks: u64,
    header_sent: bool,
    finished: bool,
    /// Wire bytes of the whole stream, and those produced so far.
    total: u64,
    produced: u64,
}

impl<'a> Gzipper<'a> {
    fn new(inner: Plain<'a>, bad: bool) -> Gzipper<'a> {
        let inner_len = inner.remaining();
        Gzipper {
            inner,
            crc: 0,
            size: 0,
            bad,
            corrupt_at: (bad && inner_len > 0).then_some(inner_len / 2),
            plain_pos: 0,
            frame: [0; 10],
            frame_len: 0,
            frame_pos: 0,
            left_in_block: 0,
            blocks: 0,
            header_sent: false,
            finished: false,
            total: gzip_len(inner_len),
            produced: 0,
        }
    }

    fn set_frame(&mut self, bytes: &[u8]) {
        self.frame[..bytes.len()].copy_from_slice(bytes);
        self.frame_len = bytes.len();
        self.frame_pos = 0;
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
            if self.left_in_block > 0 {
                let cap = clamp_len(self.left_in_block, out.len() - n);
                let k = self.inner.fill(&mut out[n..n + cap]);
                if k == 0 {
                    break;
                }
                self.crc = crc32(self.crc, &out[n..n + k]);
                let here = self
                    .corrupt_at
                    .and_then(|at| at.checked_sub(self.plain_pos));
                if let Some(b) = here
                    .and_then(|i| usize::try_from(i).ok())
                    .filter(|i| *i < k)
                    .and_then(|i| out.get_mut(n + i))
                {
                    *b ^= 1;
                }
                self.plain_pos += k as u64;
                // ISIZE is the length modulo 2^32 (RFC 1952).
                self.size = self.size.wrapping_add(k as u32);
                self.left_in_block -= k as u64;
                n += k;
                continue;
            }
            if self.finished {
                break;
            }
            if !self.header_sent {
                // Magic, deflate, no flags, no mtime, no extra flags, OS unknown.
                self.set_frame(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
                self.header_sent = true;
                continue;
            }
            let remaining = self.inner.remaining();
            if remaining == 0 && self.blocks > 0 {
                let crc = match (self.bad, self.corrupt_at) {
                    (true, None) => !self.crc,
                    _ => self.crc,
                };
                let mut t = [0u8; 8];
                t[..4].copy_from_slice(&crc.to_le_bytes());
                t[4..].copy_from_slice(&self.size.to_le_bytes());
                self.set_frame(&t);
                self.finished = true;
                continue;
            }
            let len = remaining.min(STORED_MAX);
            let len16 = u16::try_from(len).unwrap_or(u16::MAX);
            // BFINAL in bit 0, BTYPE 00 (stored), the rest of the byte is padding.
            let last = u8::from(len == remaining);
            let [l0, l1] = len16.to_le_bytes();
            let [n0, n1] = (!len16).to_le_bytes();
            self.set_frame(&[last, l0, l1, n0, n1]);
            self.left_in_block = len;
            self.blocks += 1;
        }
        self.produced += n as u64;
        n
    }
}

/// A body after its content coding: plain or gzip.
enum Coded<'a> {
    Plain(Plain<'a>),
    Gzip(Box<Gzipper<'a>>),
}

impl Coded<'_> {
    /// Wire bytes still to come.
    fn remaining(&self) -> u64 {
        match self {
            Coded::Plain(p) => p.remaining(),
            Coded::Gzip(g) => g.total - g.produced,
        }
    }

    fn fill(&mut self, out: &mut [u8]) -> usize {
        match self {
            Coded::Plain(p) => p.fill(out),
            Coded::Gzip(g) => g.fill(out),
        }
    }

    /// See [`Plain::piece`]; a gzip stream has no pieces.
    fn piece(&mut self) -> u64 {
        match self {
            Coded::Plain(p) => p.piece(),
            Coded::Gzip(_) => u64::MAX,
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
    inner: Coded<'a>,
    size: u64,
    left_in_chunk: u64,
    /// Framing bytes to send before more data: CRLF, a size line, or the last chunk with the
    /// trailer section.
    frame: Vec<u8>,
    frame_pos: usize,
    /// The trailer fields (`Name: value\r\n` each) that go between the last chunk and the
    /// final CRLF.
    trailer: Vec<u8>,
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

/// How a body splits into chunks: pieces as runs of `(length, count)` (one piece for most
/// bodies; the `retry:` block and each event of an event stream), each piece in chunks of at
/// most `size` bytes.
struct ChunkPlan<'r> {
    runs: &'r [(u64, u64)],
    size: u64,
}

impl ChunkPlan<'_> {
    /// The data chunks (the terminating `0` chunk not counted).
    fn chunks(&self) -> u64 {
        self.runs
            .iter()
            .map(|&(len, n)| len.div_ceil(self.size).saturating_mul(n))
            .fold(0, u64::saturating_add)
    }

    /// The size of data chunk `i` (from 0), if there is one.
    fn chunk_size(&self, mut i: u64) -> Option<u64> {
        for &(len, n) in self.runs {
            let per = len.div_ceil(self.size);
            let all = per.saturating_mul(n);
            if i < all {
                let j = i % per;
                return Some(if j + 1 < per {
                    self.size
                } else {
                    len - j * self.size
                });
            }
            i -= all;
        }
        None
    }

    /// The index of the bad chunk of `badchunk`: the second chunk, or the first when there is
    /// only one (the terminating `0` chunk when the body is empty).
    fn bad_index(&self) -> u64 {
        u64::from(self.chunks() >= 2)
    }

    /// Wire length of the chunked body, with `trailer` bytes of trailer fields.
    fn wire_len(&self, badchunk: bool, trailer: u64) -> u64 {
        let mut total: u64 = 5 + trailer; // "0\r\n", the trailer fields, "\r\n"
        for &(len, n) in self.runs {
            let (full, rest) = (len / self.size, len % self.size);
            let mut piece = 0;
            if full > 0 {
                piece = full * (size_line_len(self.size, false) + self.size + 2);
            }
            if rest > 0 {
                piece += size_line_len(rest, false) + rest + 2;
            }
            total = total.saturating_add(piece.saturating_mul(n));
        }
        if badchunk {
            let bad_size = self.chunk_size(self.bad_index()).unwrap_or(0);
            total = total - size_line_len(bad_size, false) + size_line_len(bad_size, true);
        }
        total
    }
}

impl<'a> Chunker<'a> {
    fn new(inner: Coded<'a>, size: u64, bad: Option<u64>, trailer: Vec<u8>) -> Chunker<'a> {
        Chunker {
            inner,
            size,
            left_in_chunk: 0,
            frame: Vec::with_capacity(24),
            frame_pos: 0,
            trailer,
            index: 0,
            bad,
            finished: false,
        }
    }

    fn fill(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        while n < out.len() {
            if self.frame_pos < self.frame.len() {
                let k = (self.frame.len() - self.frame_pos).min(out.len() - n);
                out[n..n + k].copy_from_slice(&self.frame[self.frame_pos..self.frame_pos + k]);
                self.frame_pos += k;
                n += k;
                continue;
            }
            if self.left_in_chunk > 0 {
                let cap = clamp_len(self.left_in_chunk, out.len() - n);
                let k = self.inner.fill(&mut out[n..n + cap]);
                if k == 0 {
                    break;
                }
                self.left_in_chunk -= k as u64;
                n += k;
                continue;
            }
            if self.finished {
                break;
            }
            // Start the next frame: the CRLF that ends the previous chunk, then a size line.
            self.frame.clear();
            self.frame_pos = 0;
            if self.index > 0 {
                self.frame.extend_from_slice(b"\r\n");
            }
            // A chunk never spans two pieces (events): each goes out in chunks of its own.
            let size = self
                .size
                .min(self.inner.remaining())
                .min(self.inner.piece());
            if self.bad == Some(self.index) {
                self.frame.extend_from_slice(b"zz");
            } else {
                let mut hex = [0u8; 16];
                let digits = size_line_len(size, false) as usize - 2;
                for (i, d) in hex[..digits].iter_mut().rev().enumerate() {
                    *d = b"0123456789abcdef"[((size >> (4 * i)) & 0xf) as usize];
                }
                self.frame.extend_from_slice(&hex[..digits]);
            }
            self.frame.extend_from_slice(b"\r\n");
            if size == 0 {
                self.frame.extend_from_slice(&self.trailer);
                self.frame.extend_from_slice(b"\r\n");
                self.finished = true;
            }
            self.left_in_chunk = size;
            self.index += 1;
        }
        n
    }
}

enum BodySource<'a> {
    Coded(Coded<'a>),
    Chunked(Box<Chunker<'a>>),
}

/// The whole response as a stream: head bytes, then body bytes, then `extra` bytes.
pub struct Stream<'a> {
    head: Vec<u8>,
    head_pos: usize,
    body: BodySource<'a>,
    tail: &'a [u8],
}

thread_local! {
    /// A response head's buffer, given back when its stream is dropped, for the next response
    /// laid out on the same (connection) thread.
    static SPARE_HEAD: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Largest head buffer kept for reuse: a head with large `header=` values is not kept.
const SPARE_HEAD_MAX: usize = 1024;

impl Drop for Stream<'_> {
    fn drop(&mut self) {
        if self.head.capacity() <= SPARE_HEAD_MAX {
            let head = std::mem::take(&mut self.head);
            // During thread exit the slot may be gone: the buffer is then simply freed.
            let _ = SPARE_HEAD.try_with(|spare| spare.set(head));
        }
    }
}

impl Stream<'_> {
    /// Fills the front of `out` with the next bytes; 0 at the end.
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
                BodySource::Coded(p) => p.fill(&mut out[n..]),
                BodySource::Chunked(c) => c.fill(&mut out[n..]),
            };
            if k == 0 {
                break;
            }
            n += k;
        }
        let k = self.tail.len().min(out.len() - n);
        out[n..n + k].copy_from_slice(&self.tail[..k]);
        self.tail = &self.tail[k..];
        n + k
    }
}

/// A response laid out: its stream, its length, where the body starts, and whether the
/// connection may serve another request after it.
pub struct Layout<'a> {
    /// The bytes, produced lazily.
    pub stream: Stream<'a>,
    /// Length of the whole stream (`extra` bytes included).
    pub total: u64,
    /// Length of the head: body offsets count from here.
    pub head_len: u64,
    /// The connection may serve another request.
    pub keep_alive: bool,
    /// The status code on the status line (206 or 416 for a range, 204 for an event stream
    /// resumed after its last event).
    pub status: u16,
    /// The body is chunked (`chunked=`, or an event stream's own framing).
    pub chunked: bool,
    /// The events of an event stream in the body (`sse=`), which its interval separates.
    pub events: u64,
}

/// Status codes whose responses have no body.
pub fn no_body_status(code: u16) -> bool {
    (100..200).contains(&code) || code == 204 || code == 304
}

/// How a `ranges` plan answers a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeAnswer {
    /// The whole body, `200`.
    Full,
    /// Bytes `start..=end` of the body, `206`.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte (inclusive).
        end: u64,
    },
    /// `416` with `Content-Range: bytes */LEN`.
    Unsatisfiable,
}

/// Longest `Range` value considered; a longer one is unsatisfiable.
const MAX_RANGE_VALUE: usize = 256;

/// Decides the answer to `Range` (and `If-Range`) for a body of `len` bytes whose entity tag
/// is `etag` (quoted). One byte range is honoured; a malformed one, several, or one that starts
/// past the end is unsatisfiable; a unit other than `bytes` is ignored (RFC 9110, 14.2), and so
/// is the `Range` when `If-Range` is not this exact strong tag (we send no `Last-Modified`, so
/// a date never matches).
pub fn range_answer(
    range: Option<&[u8]>,
    if_range: Option<&[u8]>,
    etag: &str,
    len: u64,
) -> RangeAnswer {
    let Some(range) = range else {
        return RangeAnswer::Full;
    };
    if if_range.is_some_and(|v| v.trim_ascii() != etag.as_bytes()) {
        return RangeAnswer::Full;
    }
    let range = range.trim_ascii();
    if range.len() > MAX_RANGE_VALUE {
        return RangeAnswer::Unsatisfiable;
    }
    let Some(eq) = range.iter().position(|&b| b == b'=') else {
        return RangeAnswer::Unsatisfiable;
    };
    let (unit, spec) = (range[..eq].trim_ascii(), range[eq + 1..].trim_ascii());
    if !unit.eq_ignore_ascii_case(b"bytes") {
        return RangeAnswer::Full;
    }
    let Some(dash) = spec.iter().position(|&b| b == b'-') else {
        return RangeAnswer::Unsatisfiable;
    };
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    let answer = match (number(first), number(last)) {
        // bytes=-N: the last N bytes.
        (None, Some(n)) if first.is_empty() && n > 0 && len > 0 => {
            Some((len - n.min(len), len - 1))
        }
        // bytes=A-: from A to the end.
        (Some(a), None) if last.is_empty() && a < len => Some((a, len - 1)),
        // bytes=A-B.
        (Some(a), Some(b)) if a <= b && a < len => Some((a, b.min(len - 1))),
        _ => None,
    };
    match answer {
        Some((start, end)) => RangeAnswer::Partial { start, end },
        None => RangeAnswer::Unsatisfiable,
    }
}

/// Decimal digits, saturating at `u64::MAX` (a huge last-byte position means "to the end").
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// A strong entity tag derived from what the body is (FNV-1a of the body step, or of the
/// echoed request), so the same plan gives the same tag on every run and server.
pub fn etag(body: &Body, raw: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    match body {
        Body::Default => eat(b"default:"),
        Body::Filler(n) => {
            eat(b"filler:");
            eat(&n.to_le_bytes());
        }
        Body::Text(t) => {
            eat(b"text:");
            eat(t);
        }
        Body::Echo => {
            eat(b"echo:");
            eat(raw);
        }
        Body::File(f) => {
            eat(b"file:");
            eat(&f.bytes);
        }
        Body::Sse(e) => {
            eat(b"sse:");
            eat(&e.count.to_le_bytes());
        }
    }
    format!("\"hf-{h:016x}\"")
}

/// The interim responses of `info=`, in order, as one run of bytes.
pub fn interim_heads(plan: &Plan) -> Vec<u8> {
    let eol: &[u8] = if plan.lf { b"\n" } else { b"\r\n" };
    let mut out = Vec::new();
    for &code in &plan.info {
        out.extend_from_slice(b"HTTP/1.1 ");
        push_u64(&mut out, u64::from(code));
        out.push(b' ');
        out.extend_from_slice(reason(code).as_bytes());
        out.extend_from_slice(eol);
        out.extend_from_slice(eol);
    }
    out
}

/// Lays out the response of `plan` to the request `req`.
pub fn layout<'a>(plan: &'a Plan, req: &ReqInfo<'a>) -> Layout<'a> {
    if let Some(replace) = &plan.replace {
        return replaced(replace, req);
    }
    let mut code = plan.status_code();
    let (mut plain, pieces) = plain_body(plan, req, &mut code);
    let events = match &plain {
        Plain::Sse(g) => g.events(),
        _ => 0,
    };
    // Extra header lines, each without its line end.
    let mut fields: Vec<(&str, String)> = Vec::new();
    if plan.ranges && code == 200 {
        ranges(plan, req, &mut code, &mut plain, &mut fields);
    }
    let event_stream = matches!(plan.body, Body::Sse(_));
    if event_stream {
        for (name, value) in [
            ("Content-Type", "text/event-stream"),
            ("Cache-Control", "no-cache"),
        ] {
            if !plan
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                fields.push((name, value.into()));
            }
        }
    }
    let coded = match plan.gzip {
        Some(g) => {
            fields.push(("Content-Encoding", "gzip".into()));
            Coded::Gzip(Box::new(Gzipper::new(plain, g == Gzip::BadCrc)))
        }
        None => Coded::Plain(plain),
    };
    let coded_len = coded.remaining();
    let trailer = trailer_block(plan, &mut fields);
    // An event stream is chunked, a chunk an event, unless `length=` frames it otherwise
    // (`length=none`: delimited by the close).
    let implied = event_stream && plan.length == Length::Auto && !no_body_status(code);
    let chunk_size = plan.chunked.or(implied.then_some(u64::MAX));
    let whole = [(coded_len, 1)];
    let runs: &[(u64, u64)] = match (&pieces, plan.gzip) {
        (Some(runs), None) => runs,
        _ => &whole,
    };
    let chunks = chunk_size.map(|size| ChunkPlan { runs, size });
    let wire_len = match &chunks {
        Some(c) => c.wire_len(plan.badchunk, trailer.len() as u64),
        None => coded_len,
    };
    let keep_alive = !req.close
        && plan.keepalive != Some(false)
        && !req.body_unread
        && !plan.badchunk
        && (chunk_size.is_some() || plan.length != Length::Omitted);
    let declared = match plan.length {
        Length::Declared(n) => Some(n),
        Length::Omitted => None,
        Length::Auto if chunk_size.is_some() => None,
        Length::Auto
            if no_body_status(code) && matches!(plan.body, Body::Default | Body::Sse(_)) =>
        {
            None
        }
        Length::Auto => Some(coded_len),
    };
    let framing = Framing {
        declared,
        chunked: chunk_size.is_some(),
        close: req.close || plan.keepalive == Some(false),
    };
    let head = write_head(plan, code, &framing, &fields);
    let head_len = head.len() as u64;
    let (body, body_len) = match chunks {
        _ if req.head_only => (BodySource::Coded(Coded::Plain(Plain::Slice(&[]))), 0),
        Some(c) => {
            let bad = plan.badchunk.then(|| c.bad_index());
            let chunker = Chunker::new(coded, c.size, bad, trailer);
            (BodySource::Chunked(Box::new(chunker)), wire_len)
        }
        None => (BodySource::Coded(coded), wire_len),
    };
    let tail: &[u8] = plan.extra.as_deref().unwrap_or_default();
    Layout {
        stream: Stream {
            head,
            head_pos: 0,
            body,
            tail,
        },
        total: head_len + body_len + tail.len() as u64,
        head_len,
        keep_alive,
        status: code,
        chunked: chunk_size.is_some(),
        events: if req.head_only { 0 } else { events },
    }
}

/// `raw` and `garbage`: the bytes are the whole response, no head of ours.
fn replaced<'a>(replace: &'a Replace, req: &ReqInfo<'a>) -> Layout<'a> {
    let body = match replace {
        Replace::Raw(bytes) => Plain::Slice(bytes),
        Replace::Garbage(len) => Plain::Random {
            len: *len,
            pos: 0,
            rng: Rng::new(req.seed),
        },
    };
    let total = body.remaining();
    Layout {
        stream: Stream {
            head: Vec::new(),
            head_pos: 0,
            body: BodySource::Coded(Coded::Plain(body)),
            tail: &[],
        },
        total,
        head_len: 0,
        keep_alive: false,
        status: 0,
        chunked: false,
        events: 0,
    }
}

/// `ranges`: the request's `Range` (and `If-Range`) answered: `206` with the part, `416`, or
/// the whole; `Accept-Ranges` and the body's `ETag` in any case.
fn ranges<'a>(
    plan: &'a Plan,
    req: &ReqInfo<'a>,
    code: &mut u16,
    plain: &mut Plain<'a>,
    fields: &mut Vec<(&'static str, String)>,
) {
    let full = plain.remaining();
    let tag = etag(&plan.body, req.raw);
    match range_answer(req.range, req.if_range, &tag, full) {
        RangeAnswer::Full => {}
        RangeAnswer::Partial { start, end } => {
            *code = 206;
            let whole = std::mem::replace(plain, Plain::Slice(&[]));
            *plain = whole.window(start, end + 1);
            fields.push(("Content-Range", format!("bytes {start}-{end}/{full}")));
        }
        RangeAnswer::Unsatisfiable => {
            *code = 416;
            *plain = Plain::Slice(&[]);
            fields.push(("Content-Range", format!("bytes */{full}")));
        }
    }
    fields.push(("Accept-Ranges", "bytes".into()));
    fields.push(("ETag", tag));
}

/// `trailer=`: the `Trailer` field (into `fields`) and the trailer lines after the last chunk.
fn trailer_block(plan: &Plan, fields: &mut Vec<(&'static str, String)>) -> Vec<u8> {
    let mut trailer = Vec::new();
    if plan.trailers.is_empty() {
        return trailer;
    }
    let names: Vec<&str> = plan.trailers.iter().map(|(n, _)| n.as_str()).collect();
    fields.push(("Trailer", names.join(", ")));
    for (name, value) in &plan.trailers {
        trailer.extend_from_slice(name.as_bytes());
        trailer.extend_from_slice(b": ");
        trailer.extend_from_slice(value.as_bytes());
        trailer.extend_from_slice(b"\r\n");
    }
    trailer
}

/// The body of `plan` before its coding, for a response with status `code`: the bytes, and
/// for an event stream its pieces (see [`ChunkPlan`]).
fn plain_body<'a>(
    plan: &'a Plan,
    req: &ReqInfo<'a>,
    code: &mut u16,
) -> (Plain<'a>, Option<Vec<(u64, u64)>>) {
    let plain = match &plan.body {
        Body::Default if no_body_status(*code) => Plain::Slice(&[]),
        Body::Default => Plain::Slice(DEFAULT_BODY),
        Body::Filler(len) => Plain::Filler { len: *len, pos: 0 },
        Body::Text(t) => Plain::Slice(t),
        Body::Echo => Plain::Slice(req.raw),
        Body::File(f) => Plain::Slice(&f.bytes),
        Body::Sse(e) => return event_stream(*e, plan.sse_retry, plan.status, req, code),
    };
    (plain, None)
}

/// `sse=N`: events after the request's `Last-Event-ID` (all of them without one). A client
/// that resumes after the last event is answered `204` (the spec's "stop reconnecting"),
/// unless the plan gives a status itself.
fn event_stream(
    e: Events,
    retry: Option<u64>,
    status: Option<u16>,
    req: &ReqInfo<'_>,
    code: &mut u16,
) -> (Plain<'static>, Option<Vec<(u64, u64)>>) {
    let first = req.last_event_id.map_or(1, |k| k.saturating_add(1));
    if status.is_none() && req.last_event_id.is_some_and(|k| k >= e.count) {
        *code = 204;
    }
    if no_body_status(*code) {
        return (Plain::Slice(&[]), Some(Vec::new()));
    }
    let runs = event_runs(retry, first, e.count);
    let events = EventGen::new(retry, first, e.count);
    (Plain::Sse(Box::new(events)), Some(runs))
}

/// How a response's head frames its body.
struct Framing {
    /// `Content-Length`.
    declared: Option<u64>,
    /// `Transfer-Encoding: chunked`.
    chunked: bool,
    /// `Connection: close`.
    close: bool,
}

/// The response head: status line, `Server`, framing, `fields`, the plan's headers.
fn write_head(plan: &Plan, code: u16, framing: &Framing, fields: &[(&str, String)]) -> Vec<u8> {
    let eol: &[u8] = if plan.lf { b"\n" } else { b"\r\n" };
    // The buffer of the last response's head on this thread, reused: no allocation a request.
    let mut head = SPARE_HEAD.try_with(Cell::take).unwrap_or_default();
    head.clear();
    head.reserve(128);
    head.extend_from_slice(b"HTTP/1.1 ");
    push_u64(&mut head, u64::from(code));
    head.push(b' ');
    head.extend_from_slice(reason(code).as_bytes());
    head.extend_from_slice(eol);
    head.extend_from_slice(b"Server: httpfault");
    head.extend_from_slice(eol);
    if let Some(n) = framing.declared {
        head.extend_from_slice(b"Content-Length: ");
        push_u64(&mut head, n);
        head.extend_from_slice(eol);
    }
    if framing.chunked {
        head.extend_from_slice(b"Transfer-Encoding: chunked");
        head.extend_from_slice(eol);
    }
    if framing.close {
        head.extend_from_slice(b"Connection: close");
        head.extend_from_slice(eol);
    }
    let plan_fields = plan.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    for (name, value) in fields
        .iter()
        .map(|(n, v)| (*n, v.as_str()))
        .chain(plan_fields)
    {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(eol);
    }
    head.extend_from_slice(eol);
    head
}

/// Appends `n` in decimal.
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    // Status codes and short lengths, without the division loop.
    let d = |k: u64| b'0' + (k % 10) as u8;
    if n < 10 {
        out.push(d(n));
        return;
    }
    if n < 100 {
        out.extend_from_slice(&[d(n / 10), d(n)]);
        return;
    }
    if n < 1000 {
        out.extend_from_slice(&[d(n / 100), d(n / 10), d(n)]);
        return;
    }
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
