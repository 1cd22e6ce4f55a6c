//! HTTP/1.1 responses as proxy mode reads them from an upstream, and heads rebuilt for the
//! next hop. No I/O.
//!
//! - [`parse_response_head`]: an upstream's HTTP/1.x response head, and from it (with the
//!   request's method) how its body is framed ([`ResponseHead::framing`], RFC 9112 section 6.3).
//! - [`BodyScanner`]: fed the body as it arrives, says where it ends (`Content-Length` or chunked,
//!   RFC 9112 section 7.1 with trailers). It only follows the framing: the bytes pass unchanged.
//! - [`forward_request_head`] and [`relay_response_head`]: the heads rebuilt for the next hop,
//!   without the hop-by-hop fields of RFC 9110 section 7.6.1, every other byte unchanged.
//!
//! Upstream bytes are as hostile as client bytes: limits are named constants, errors are values,
//! and no input can make any of this panic.

use super::fields::{FieldError, FieldLines};
use crate::http::request::{self, ChunkedScanner, RequestError, Version};
use std::borrow::Cow;
use std::fmt;

/// Most bytes a response head may take, status line and blank line included.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header fields in one response head.
pub const MAX_HEADERS: usize = 100;
/// Why an upstream's response cannot be relayed. The proxy answers the client `502 Bad Gateway`
/// (if nothing was relayed yet) and closes the upstream connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseError {
    HeadTooLarge,
    TooManyHeaders,
    BadStatusLine,
    BadVersion,
    BadHeader,
    BadContentLength,
    BadTransferEncoding,
    BadChunk,
    ChunkTooLarge,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResponseError::HeadTooLarge => "upstream response head larger than 64 KiB",
            ResponseError::TooManyHeaders => "upstream response with more than 100 header fields",
            ResponseError::BadStatusLine => "malformed status line from upstream",
            ResponseError::BadVersion => "unsupported HTTP version from upstream",
            ResponseError::BadHeader => "malformed header field from upstream",
            ResponseError::BadContentLength => {
                "invalid or conflicting Content-Length from upstream"
            }
            ResponseError::BadTransferEncoding => "invalid Transfer-Encoding from upstream",
            ResponseError::BadChunk => "malformed chunked body from upstream",
            ResponseError::ChunkTooLarge => "chunk size from upstream larger than 1 EiB",
        })
    }
}

impl std::error::Error for ResponseError {}

/// How a response body is delimited (RFC 9112, 6.3), given the request it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body: a response to `HEAD`, a 1xx other than 101, 204, 304. The next response (or,
    /// for 1xx, the final one) starts right after the head.
    None,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// Chunked (the final transfer coding is `chunked`); ends after the trailer section.
    Chunked,
    /// Neither: the body ends when the upstream closes, so its connection cannot be reused.
    UntilClose,
    /// `101 Switching Protocols`, or a 2xx to `CONNECT`: from here on the connection carries
    /// raw bytes both ways until either side closes.
    Tunnel,
}

/// A parsed response head. `reason` borrows from the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead<'a> {
    /// HTTP/1.0, or HTTP/1.1 for any 1.x but 1.0.
    pub version: Version,
    /// 100 to 599.
    pub status: u16,
    /// The reason phrase, possibly empty; any bytes but controls (it may hold obs-text).
    pub reason: &'a [u8],
    /// Bytes the head took, blank line included: the body starts here.
    pub len: usize,
    /// The upstream will close after this response: `Connection: close`, HTTP/1.0 without
    /// `keep-alive`, or suspect framing (see `conflicting`). A body that is [`Framing::UntilClose`]
    /// ends the connection too.
    pub close: bool,
    /// The value of `Content-Length` (all fields agree), whether or not it frames the body.
    pub content_length: Option<u64>,
    /// A `Transfer-Encoding` field is present: it overrides `Content-Length`.
    pub transfer_encoding: bool,
    /// `chunked` is the final transfer coding.
    pub chunked: bool,
    /// Suspect framing that RFC 9112 (6.1, 6.3) resolves but calls a smuggling risk: both
    /// `Transfer-Encoding` and `Content-Length` (the first wins; [`relay_response_head`] drops
    /// the second), or `Transfer-Encoding` in an HTTP/1.0 response. Implies `close`.
    pub conflicting: bool,
}

impl ResponseHead<'_> {
    /// How the body after this head is delimited, for a request with this `method` (methods
    /// are case-sensitive: only `HEAD` and `CONNECT` matter here). RFC 9112 section 6.3, in order:
    /// 101 switches protocols; `HEAD`, 1xx, 204 and 304 have no body; a 2xx to `CONNECT` is a
    /// tunnel; `Transfer-Encoding` wins over `Content-Length` (chunked last: [`Framing::Chunked`],
    /// else until close); then `Content-Length`; else until close.
    pub fn framing(&self, method: &str) -> Framing {
        if self.status == 101 {
            return Framing::Tunnel;
        }
        if method == "HEAD" || self.is_interim() || self.status == 204 || self.status == 304 {
            return Framing::None;
        }
        if method == "CONNECT" && (200..300).contains(&self.status) {
            return Framing::Tunnel;
        }
        if self.transfer_encoding {
            return if self.chunked {
                Framing::Chunked
            } else {
                Framing::UntilClose
            };
        }
        match self.content_length {
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    }

    /// An interim response (1xx other than 101, e.g. `100 Continue`, `103 Early Hints`): relay
    /// it, then read the next head, which answers the same request.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A line without its ending (LF or CRLF).
fn line_text(line: &[u8]) -> &[u8] {
    trim_cr(line.strip_suffix(b"\n").unwrap_or(line))
}

/// The index just past the first empty line after a non-empty first line. Lines may end in
/// CRLF or a bare LF (RFC 9112, 2.2).
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (i, &b) in buf.iter().enumerate() {
        if b == b'\n' {
            let line = &buf[line_start..i];
            if (line.is_empty() || line == b"\r") && line_start > 0 {
                return Some(i + 1);
            }
            line_start = i + 1;
        }
    }
    None
}

fn list_has(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// `HTTP/1.x SP 3DIGIT [SP reason]`. A missing SP before an empty reason is accepted, as most
/// clients do, because some servers send `HTTP/1.1 200` alone.
fn status_line(line: &[u8]) -> Result<(Version, u16, &[u8]), ResponseError> {
    let line = trim_cr(line);
    let (Some(version), Some(rest)) = (line.get(..8), line.get(8..)) else {
        return Err(ResponseError::BadStatusLine);
    };
    let version = match crate::http::request::http_version(version) {
        Some(Ok(v)) => v,
        Some(Err(())) => return Err(ResponseError::BadVersion),
        None => return Err(ResponseError::BadStatusLine),
    };
    let (Some(b' '), Some(code)) = (rest.first(), rest.get(1..4)) else {
        return Err(ResponseError::BadStatusLine);
    };
    if !code.iter().all(u8::is_ascii_digit) {
        return Err(ResponseError::BadStatusLine);
    }
    let status = code
        .iter()
        .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
    // RFC 9110, 15: codes outside 100..=599 are invalid.
    if !(100..600).contains(&status) {
        return Err(ResponseError::BadStatusLine);
    }
    let reason = match rest.get(4..) {
        None | Some([]) => &[][..],
        Some([b' ', reason @ ..]) => reason,
        Some(_) => return Err(ResponseError::BadStatusLine),
    };
    // reason-phrase = *( HTAB / SP / VCHAR / obs-text ): no controls but HTAB.
    if reason
        .iter()
        .any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(ResponseError::BadStatusLine);
    }
    Ok((version, status, reason))
}

/// [`parse_response_head`] for a head that arrives a piece at a time: each call looks only at
/// the bytes that arrived since the last one (a 60 KiB head dribbled in byte by byte is
/// scanned once, not 60,000 times), and the head is parsed once, when it is complete. Reset it
/// (`ResponseScan::default()`) when the bytes before `buf` are consumed.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResponseScan {
    /// Start of the first line not yet seen whole.
    line_start: usize,
    /// The status line was checked.
    status_ok: bool,
}

impl ResponseScan {
    /// As [`parse_response_head`], on `buf` that starts with the bytes given before.
    pub fn scan<'a>(&mut self, buf: &'a [u8]) -> Result<Option<ResponseHead<'a>>, ResponseError> {
        if buf.len() < self.line_start {
            *self = ResponseScan::default();
        }
        let seen = buf.len().min(5);
        if buf.get(..seen) != b"HTTP/".get(..seen) {
            return Err(ResponseError::BadStatusLine);
        }
        while let Some(nl) = buf[self.line_start..].iter().position(|&b| b == b'\n') {
            let nl = self.line_start + nl;
            let line = &buf[self.line_start..nl];
            if !self.status_ok {
                status_line(line)?;
                self.status_ok = true;
            } else if line.is_empty() || line == b"\r" {
                return parse_response_head(&buf[..nl + 1]);
            }
            self.line_start = nl + 1;
        }
        if buf.len() >= MAX_HEAD {
            return Err(ResponseError::HeadTooLarge);
        }
        Ok(None)
    }
}

/// Parses an upstream's response head from the start of `buf`.
///
/// `Ok(None)`: not complete yet, read more (every proper prefix of a valid head gives this).
/// `Ok(Some(head))`: `head.len` bytes were the head; a 1xx other than 101 is followed by another
/// head. An error means the response cannot be relayed: the proxy answers 502 and closes the
/// upstream connection. Garbage is refused as soon as it cannot begin with `HTTP/`, and a bad
/// status line as soon as its line is complete, so a broken upstream is not waited on.
pub fn parse_response_head(buf: &[u8]) -> Result<Option<ResponseHead<'_>>, ResponseError> {
    let seen = buf.len().min(5);
    if buf.get(..seen) != b"HTTP/".get(..seen) {
        return Err(ResponseError::BadStatusLine);
    }
    let Some(end) = head_end(buf) else {
        if let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            status_line(&buf[..nl])?;
        }
        if buf.len() >= MAX_HEAD {
            return Err(ResponseError::HeadTooLarge);
        }
        return Ok(None);
    };
    if end > MAX_HEAD {
        return Err(ResponseError::HeadTooLarge);
    }
    let (status_end, fields) = match buf[..end].iter().position(|&b| b == b'\n') {
        Some(nl) => (nl, &buf[nl + 1..end]),
        None => (end, &buf[..0]),
    };
    let (version, status, reason) = status_line(&buf[..status_end])?;

    let mut content_length: Option<u64> = None;
    let mut transfer_encoding = false;
    let mut last_coding_chunked = false;
    let mut chunked_seen = false;
    let mut close = false;
    let mut keep_alive = false;
    // The same scanner as the request parser's: no whitespace before the colon, no obsolete
    // line folding (RFC 9112 sections 5.1, 5.2; a proxy must refuse those or rewrite them,
    // and rewriting is not pass-through), no control bytes but HTAB in a value.
    for field in FieldLines::new(fields, MAX_HEADERS) {
        let (name, value) = field.map_err(|e| match e {
            FieldError::Malformed => ResponseError::BadHeader,
            FieldError::TooMany => ResponseError::TooManyHeaders,
        })?;
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_content_length(value)?;
            if content_length.is_some_and(|old| old != n) {
                return Err(ResponseError::BadContentLength);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoding = true;
            let mut any = false;
            for coding in value.split(|&b| b == b',') {
                // A coding may carry parameters (`gzip;q=1`); only its name matters here.
                let coding = coding.split(|&b| b == b';').next().unwrap_or_default();
                let coding = coding.trim_ascii();
                if coding.is_empty() {
                    continue; // empty list elements are allowed (RFC 9110, 5.6.1)
                }
                if !coding.iter().copied().all(is_tchar) {
                    return Err(ResponseError::BadTransferEncoding);
                }
                any = true;
                last_coding_chunked = coding.eq_ignore_ascii_case(b"chunked");
                if last_coding_chunked {
                    // RFC 9112, 6.1: chunked is never applied twice.
                    if chunked_seen {
                        return Err(ResponseError::BadTransferEncoding);
                    }
                    chunked_seen = true;
                }
            }
            if !any {
                return Err(ResponseError::BadTransferEncoding);
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            close |= list_has(value, b"close");
            keep_alive |= list_has(value, b"keep-alive");
        }
    }
    let conflicting = transfer_encoding && (content_length.is_some() || version == Version::Http10);
    if version == Version::Http10 && !keep_alive {
        close = true;
    }
    Ok(Some(ResponseHead {
        version,
        status,
        reason,
        len: end,
        close: close || conflicting,
        content_length,
        transfer_encoding,
        chunked: transfer_encoding && last_coding_chunked,
        conflicting,
    }))
}

/// `Content-Length`: digits only, possibly a list of equal values (`5, 5`).
fn parse_content_length(value: &[u8]) -> Result<u64, ResponseError> {
    let mut result: Option<u64> = None;
    for part in value.split(|&b| b == b',') {
        let part = request::trim_ows(part);
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return Err(ResponseError::BadContentLength);
        }
        let n = part.iter().try_fold(0u64, |acc, &d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        });
        let n = n.ok_or(ResponseError::BadContentLength)?;
        if result.is_some_and(|r| r != n) {
            return Err(ResponseError::BadContentLength);
        }
        result = Some(n);
    }
    result.ok_or(ResponseError::BadContentLength)
}

// ---------------------------------------------------------------------------------------------
// Body framing
// ---------------------------------------------------------------------------------------------

/// Finds where a response body ends, fed a piece at a time as it arrives. It keeps no body
/// bytes and changes none: it only follows the framing. A chunked body is followed by the
/// request side's scanner ([`ChunkedScanner::strict`]): one grammar, one set of limits, and
/// CRLF line ends only, since the framing is relayed unchanged to a client that may read a
/// bare LF otherwise.
#[derive(Clone, Debug)]
pub struct BodyScanner {
    mode: Mode,
    chunked: ChunkedScanner,
    /// Data bytes seen so far: the decoded body for chunked framing (size lines, CRLFs and
    /// trailers not counted), every byte otherwise.
    pub data_bytes: u64,
    /// Bytes of the body as sent, framing included, consumed so far.
    pub wire_bytes: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Done,
    Length(u64),
    UntilClose,
    Chunked,
}

fn len64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl BodyScanner {
    /// A scanner for a body of this framing. `None` and `Length(0)` are complete at once;
    /// `UntilClose` and `Tunnel` never are: they end when the upstream closes.
    pub fn new(framing: Framing) -> Self {
        let mode = match framing {
            Framing::None | Framing::Length(0) => Mode::Done,
            Framing::Length(n) => Mode::Length(n),
            Framing::Chunked => Mode::Chunked,
            Framing::UntilClose | Framing::Tunnel => Mode::UntilClose,
        };
        BodyScanner {
            mode,
            chunked: ChunkedScanner::strict(),
            data_bytes: 0,
            wire_bytes: 0,
        }
    }

    /// The body is complete: bytes after it belong to the next response.
    pub fn is_done(&self) -> bool {
        self.mode == Mode::Done
    }

    /// The body ends only when the upstream closes its connection, so a FIN there is its
    /// normal end, not a truncation.
    pub fn ends_at_close(&self) -> bool {
        self.mode == Mode::UntilClose
    }

    /// Consumes bytes from `input`. Returns how many bytes belong to the body (a prefix of
    /// `input`) and whether the body is now complete; bytes after it belong to the next
    /// response. After an error the upstream connection is unusable.
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, bool), ResponseError> {
        let used = match self.mode {
            Mode::Done => 0,
            Mode::UntilClose => {
                self.data_bytes = self.data_bytes.saturating_add(len64(input.len()));
                input.len()
            }
            Mode::Length(left) => {
                let take = left.min(len64(input.len()));
                self.data_bytes += take;
                self.mode = if take == left {
                    Mode::Done
                } else {
                    Mode::Length(left - take)
                };
                // `take` <= input.len(), so it fits.
                usize::try_from(take).unwrap_or(input.len())
            }
            Mode::Chunked => {
                let (used, done) = self.chunked.feed(input).map_err(|e| match e {
                    RequestError::BodyTooLarge => ResponseError::ChunkTooLarge,
                    _ => ResponseError::BadChunk,
                })?;
                self.data_bytes = self.chunked.body_bytes;
                if done {
                    self.mode = Mode::Done;
                }
                used
            }
        };
        self.wire_bytes = self.wire_bytes.saturating_add(len64(used));
        Ok((used, self.mode == Mode::Done))
    }
}

// ---------------------------------------------------------------------------------------------
// Heads for the next hop
// ---------------------------------------------------------------------------------------------

/// The request header that chooses a plan in proxy mode; it never reaches the upstream.
pub const PLAN_HEADER: &str = "X-Httpfault-Plan";

/// Fields that concern one connection only and are removed at every hop (RFC 9110, 7.6.1),
/// besides every field that `Connection` names. `Transfer-Encoding` is not among them: bodies
/// are relayed with their framing unchanged, so their framing fields pass unchanged too. `TE` and
/// `Upgrade` have exceptions (see [`forward_request_head`] and [`relay_response_head`]).
pub const HOP_BY_HOP: &[&str] = &[
    "Connection",
    "Keep-Alive",
    "Proxy-Connection",
    "TE",
    "Upgrade",
];

/// Fields a `Connection` option never removes. RFC 9110 (7.6.1) forbids listing fields meant
/// for every recipient; obeying such a list would let a peer strip the framing a relayed body
/// still has, or the host a request is for.
const NEVER_OPTIONS: &[&str] = &["Content-Length", "Transfer-Encoding", "Host"];

/// What the connection that receives a rebuilt head does after this exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persist {
    /// Stays open for the next request.
    KeepAlive,
    /// Ends after this exchange.
    Close,
    /// Switches protocols (`Connection: upgrade` and `Upgrade` pass on).
    Upgrade,
}

/// What to do with the upstream's `Content-Length` (the plan's `length=` step).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LengthEdit {
    /// Unchanged.
    #[default]
    Keep,
    /// `length=N`: every `Content-Length` removed and `Content-Length: N` added.
    Set(u64),
    /// `length=none`: every `Content-Length` removed.
    Remove,
}

/// One field line of a head.
struct Field<'a> {
    name: &'a [u8],
    /// Without surrounding whitespace.
    value: &'a [u8],
    /// The whole line as received, line end included.
    line: &'a [u8],
}

impl Field<'_> {
    fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

/// A head cut into its first line, its field lines and its final empty line, each with its
/// line end as received. Empty lines before the first line are dropped (a client may send them,
/// RFC 9112, 2.2); bytes after the final empty line are ignored; a last line without LF (only in
/// a truncated head) is dropped, and a missing final empty line is taken as CRLF.
struct Parts<'a> {
    first: &'a [u8],
    fields: Vec<Field<'a>>,
    end: &'a [u8],
}

fn split_head(head: &[u8]) -> Parts<'_> {
    let mut lines = head
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| l.ends_with(b"\n"));
    let first = lines
        .by_ref()
        .find(|l| !line_text(l).is_empty())
        .unwrap_or_default();
    // Room for a usual head's fields at once, rather than growing four times.
    let mut fields = Vec::with_capacity(16);
    let mut end: &[u8] = b"\r\n";
    for line in lines {
        let text = line_text(line);
        if text.is_empty() {
            end = line;
            break;
        }
        let (name, value) = match text.iter().position(|&b| b == b':') {
            Some(colon) => (&text[..colon], &text[colon + 1..]),
            None => (text, &[][..]),
        };
        fields.push(Field {
            name,
            value: value.trim_ascii(),
            line,
        });
    }
    Parts { first, fields, end }
}

/// The options every `Connection` field lists.
fn connection_options<'a>(fields: &[Field<'a>]) -> Vec<&'a [u8]> {
    fields
        .iter()
        .filter(|f| f.is("Connection"))
        .flat_map(|f| f.value.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
        .collect()
}

/// `Connection` names this field, and it is not one that an option may never remove.
fn named_in(options: &[&[u8]], f: &Field<'_>) -> bool {
    options.iter().any(|o| o.eq_ignore_ascii_case(f.name)) && !NEVER_OPTIONS.iter().any(|n| f.is(n))
}

fn is_hop_by_hop(f: &Field<'_>) -> bool {
    HOP_BY_HOP.iter().any(|n| f.is(n))
}

/// Appends `Connection: a, b` CRLF, or nothing for no options.
fn push_connection(out: &mut Vec<u8>, options: &[&str]) {
    if let Some((first, rest)) = options.split_first() {
        out.extend_from_slice(b"Connection: ");
        out.extend_from_slice(first.as_bytes());
        for o in rest {
            out.extend_from_slice(b", ");
            out.extend_from_slice(o.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// The option that announces `persist` to a receiver of a message of this version: HTTP/1.1
/// keeps alive unless told `close`, HTTP/1.0 closes unless told `keep-alive` (RFC 9112, 9.3).
fn persist_option(persist: Persist, http10: bool) -> Option<&'static str> {
    match persist {
        Persist::Upgrade => Some("upgrade"),
        Persist::Close if !http10 => Some("close"),
        Persist::KeepAlive if http10 => Some("keep-alive"),
        _ => None,
    }
}

/// The value of the first field named `name` (case-insensitive) in a complete head, without
/// surrounding whitespace. For example the plan in [`PLAN_HEADER`].
// The server reads the plan header with `request::header_value`; the tests check this one agrees.
#[cfg_attr(not(test), allow(dead_code))]
pub fn header_value<'a>(head: &'a [u8], name: &str) -> Option<&'a [u8]> {
    split_head(head)
        .fields
        .into_iter()
        .find(|f| f.is(name))
        .map(|f| f.value)
}

/// The request asks to switch protocols: `Connection` lists `upgrade` and an `Upgrade` field is
/// present (RFC 9110, 7.8). Forward it with [`Persist::Upgrade`].
// The proxy uses `forward_request_into`; the tests check it agrees with this.
#[cfg_attr(not(test), allow(dead_code))]
pub fn wants_upgrade(head: &[u8]) -> bool {
    let parts = split_head(head);
    let options = connection_options(&parts.fields);
    upgrade_asked(&parts, &options)
}

fn upgrade_asked(parts: &Parts<'_>, options: &[&[u8]]) -> bool {
    options.iter().any(|o| o.eq_ignore_ascii_case(b"upgrade"))
        && parts.fields.iter().any(|f| f.is("Upgrade"))
}

/// [`wants_upgrade`] and [`forward_request_head`] in one pass over the head, into `out`
/// (cleared first; a buffer reused from request to request): the head is forwarded with
/// [`Persist::Upgrade`] if it asks to switch protocols, else [`Persist::Close`] if `close`, else
/// [`Persist::KeepAlive`]. True if it asks to switch protocols.
pub fn forward_request_into(head: &[u8], close: bool, out: &mut Vec<u8>) -> bool {
    let parts = split_head(head);
    let options = connection_options(&parts.fields);
    let upgrade = upgrade_asked(&parts, &options);
    let persist = if upgrade {
        Persist::Upgrade
    } else if close {
        Persist::Close
    } else {
        Persist::KeepAlive
    };
    out.clear();
    build_request_head(&parts, &options, persist, out);
    upgrade
}

/// An absolute-form request target (`http://host:port/path?query`, scheme `http` or `https` in
/// any case) split into the `Host` it names (userinfo removed) and its origin form (`/path?query`;
/// `/` for an empty path; a fragment dropped). `None` for any other form, which is sent as is.
pub fn origin_form(target: &[u8]) -> Option<(&[u8], Cow<'_, [u8]>)> {
    let rest = [&b"http://"[..], b"https://"].iter().find_map(|scheme| {
        let head = target.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &target[scheme.len()..])
    })?;
    let cut = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let (authority, path) = rest.split_at(cut);
    let host = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let path = match path.iter().position(|&b| b == b'#') {
        Some(hash) => &path[..hash],
        None => path,
    };
    let origin = if path.first() == Some(&b'/') {
        Cow::Borrowed(path)
    } else {
        let mut p = Vec::with_capacity(path.len() + 1);
        p.push(b'/');
        p.extend_from_slice(path);
        Cow::Owned(p)
    };
    Some((host, origin))
}

/// Rebuilds a client's request head (as accepted by `request::parse_head`) for the upstream.
///
/// What changes, and nothing else (every other byte, name case, value bytes, line ends and field
/// order, is kept):
/// - an absolute-form target becomes origin form ([`origin_form`]) and the `Host` field then
///   names the target's authority (RFC 9112, 3.2.2): the first `Host` line is kept if its value
///   already is that, else replaced by `Host: AUTHORITY` CRLF; later `Host` lines go; with no
///   `Host`, one is added right after the request line. Leading empty lines go;
/// - removed: [`PLAN_HEADER`]; `Connection`, `Keep-Alive`, `Proxy-Connection`; every field
///   `Connection` names (except `Content-Length`, `Transfer-Encoding`, `Host`); `Upgrade` unless
///   `persist` is [`Persist::Upgrade`]; `TE` unless it lists `trailers`. A `TE` that lists
///   `trailers` is kept as is, because chunked trailers pass through unchanged, so the client's
///   promise to accept them stays true end to end;
/// - added after the last field, if any option applies: `Connection: OPTIONS` CRLF, whose
///   options are `upgrade` (for [`Persist::Upgrade`]), else `close` (HTTP/1.1 request to close) or
///   `keep-alive` (HTTP/1.0 request to keep alive), then `te` if a `TE` field was kept.
///
/// `Content-Length` and `Transfer-Encoding` pass unchanged: the body is streamed as received.
// The proxy uses `forward_request_into`; the tests check it agrees with this.
#[cfg_attr(not(test), allow(dead_code))]
pub fn forward_request_head(head: &[u8], persist: Persist) -> Vec<u8> {
    let parts = split_head(head);
    let options = connection_options(&parts.fields);
    let mut out = Vec::with_capacity(head.len() + 64);
    build_request_head(&parts, &options, persist, &mut out);
    out
}

fn build_request_head(parts: &Parts<'_>, options: &[&[u8]], persist: Persist, out: &mut Vec<u8>) {
    let text = line_text(parts.first);
    let ending = &parts.first[text.len()..];
    let mut words = text.splitn(3, |&b| b == b' ');
    let (method, target, version) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
    );
    let http10 = version == b"HTTP/1.0";
    let absolute = origin_form(target);
    match &absolute {
        Some((_, origin)) => {
            out.extend_from_slice(method);
            out.push(b' ');
            out.extend_from_slice(origin);
            out.push(b' ');
            out.extend_from_slice(version);
            out.extend_from_slice(ending);
        }
        None => out.extend_from_slice(parts.first),
    }
    let authority = absolute.as_ref().map(|(host, _)| *host);
    if let Some(host) = authority {
        if !parts.fields.iter().any(|f| f.is("Host")) {
            push_field(out, b"Host", host);
        }
    }

    let upgrade = persist == Persist::Upgrade;
    let keeps_te = |f: &Field<'_>| f.is("TE") && list_has(f.value, b"trailers");
    let mut kept_te = false;
    let mut host_seen = false;
    for f in &parts.fields {
        if f.is("Host") {
            if let Some(host) = authority {
                if !host_seen {
                    if f.value == host {
                        out.extend_from_slice(f.line);
                    } else {
                        push_field(out, b"Host", host);
                    }
                }
                host_seen = true;
                continue;
            }
        }
        let keep = if f.is(PLAN_HEADER) {
            false
        } else if keeps_te(f) {
            kept_te = true;
            true
        } else if upgrade && f.is("Upgrade") {
            true
        } else {
            !is_hop_by_hop(f) && !named_in(options, f)
        };
        if keep {
            out.extend_from_slice(f.line);
        }
    }
    let conn = match (persist_option(persist, http10), kept_te) {
        (Some(o), true) => [o, "te"],
        (Some(o), false) => [o, ""],
        (None, true) => ["te", ""],
        (None, false) => ["", ""],
    };
    let n = conn.iter().filter(|o| !o.is_empty()).count();
    push_connection(out, &conn[..n]);
    out.extend_from_slice(parts.end);
    crlf_everywhere(out);
}

/// Every line end made CRLF. The upstream gets strict HTTP/1.1 whatever the client sent: a
/// bare LF that httpfault accepts might be read otherwise by the next hop. (A head accepted by
/// the request parser has no CR but right before an LF.)
fn crlf_everywhere(head: &mut Vec<u8>) {
    let bare = head
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'))
        .count();
    if bare == 0 {
        return;
    }
    let mut out = Vec::with_capacity(head.len() + bare);
    for (i, &b) in head.iter().enumerate() {
        if b == b'\n' && (i == 0 || head[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    *head = out;
}

fn push_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Rebuilds an upstream's response head (as accepted by [`parse_response_head`]) for the
/// client.
///
/// What changes, and nothing else (the status line, name case, value bytes, line ends and field
/// order are kept):
/// - removed: `Connection`, `Keep-Alive`, `Proxy-Connection`, `TE`; every field `Connection`
///   names (except `Content-Length`, `Transfer-Encoding`, `Host`); `Upgrade` except in a `101`;
///   every `Content-Length` if the head also has `Transfer-Encoding` (RFC 9112, 6.3: an
///   intermediary must drop it) or if `length` is not [`LengthEdit::Keep`];
/// - added after the last field, in this order, each ending in CRLF:
///   `Content-Length: N` for [`LengthEdit::Set`]; `Connection: upgrade` for a `101`, else for a
///   final response `Connection: close` if `close` and the status line says HTTP/1.1, or
///   `Connection: keep-alive` if not `close` and it says HTTP/1.0 (RFC 9112, 9.3); then each of
///   `extra_headers` as `NAME: VALUE` (the plan's `header=` steps; a pair with a name that is
///   not a token or a value with CR, LF or NUL is skipped, though the plan parser never makes
///   one).
///
/// For an interim response (1xx but 101) `length` and `close` are ignored: no `Content-Length`
/// or `Connection` is added (pass no `extra_headers` either, unless they are meant for it).
pub fn relay_response_head(
    head: &[u8],
    extra_headers: &[(String, String)],
    length: LengthEdit,
    close: bool,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len() + 64);
    relay_response_head_into(head, extra_headers, length, close, &mut out);
    out
}

/// [`relay_response_head`] into `out` (cleared first), a buffer reused from response to
/// response.
pub fn relay_response_head_into(
    head: &[u8],
    extra_headers: &[(String, String)],
    length: LengthEdit,
    close: bool,
    out: &mut Vec<u8>,
) {
    out.clear();
    let parts = split_head(head);
    let options = connection_options(&parts.fields);
    let http10 = parts.first.starts_with(b"HTTP/1.0");
    let status = parts
        .first
        .get(9..12)
        .filter(|c| c.iter().all(u8::is_ascii_digit))
        .map_or(0, |c| {
            c.iter()
                .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'))
        });
    let upgrade = status == 101;
    let interim = (100..200).contains(&status) && !upgrade;
    let final_response = !upgrade && !interim;
    let has_te = parts.fields.iter().any(|f| f.is("Transfer-Encoding"));
    let drop_length = has_te || (final_response && length != LengthEdit::Keep);

    out.extend_from_slice(parts.first);
    for f in &parts.fields {
        let keep = if upgrade && f.is("Upgrade") {
            true
        } else if f.is("Content-Length") {
            !drop_length
        } else {
            !is_hop_by_hop(f) && !named_in(&options, f)
        };
        if keep {
            out.extend_from_slice(f.line);
        }
    }
    if let (LengthEdit::Set(n), true) = (length, final_response) {
        push_field(out, b"Content-Length", n.to_string().as_bytes());
    }
    let persist = if upgrade {
        Persist::Upgrade
    } else if close {
        Persist::Close
    } else {
        Persist::KeepAlive
    };
    if let Some(option) = persist_option(persist, http10).filter(|_| !interim) {
        push_connection(out, &[option]);
    }
    for (name, value) in extra_headers {
        let name_ok = !name.is_empty() && name.bytes().all(is_tchar);
        let value_ok = !value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0));
        if name_ok && value_ok {
            push_field(out, name.as_bytes(), value.as_bytes());
        }
    }
    out.extend_from_slice(parts.end);
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n";

    fn head(buf: &[u8]) -> ResponseHead<'_> {
        parse_response_head(buf).unwrap().unwrap()
    }

    fn show(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    #[test]
    fn forward_request_into_is_wants_upgrade_and_forward_request_head_in_one() {
        let heads: [&[u8]; 5] = [
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Httpfault-Plan: reset\r\n\r\n",
            b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, X-A\r\nUpgrade: websocket\r\nX-A: 1\r\n\r\n",
            b"GET http://a@b:8/p#f HTTP/1.0\nConnection: keep-alive\nTE: trailers\n\n",
            b"POST /x HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nContent-Length: 3\r\n\r\n",
            b"\r\nGET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        ];
        // One buffer reused throughout, as the proxy does: nothing of a longer head stays.
        let mut out = b"left over from a much longer head".repeat(10);
        for head in heads {
            for close in [false, true] {
                let upgrade = forward_request_into(head, close, &mut out);
                assert_eq!(upgrade, wants_upgrade(head), "{}", show(head));
                let persist = match (upgrade, close) {
                    (true, _) => Persist::Upgrade,
                    (false, true) => Persist::Close,
                    (false, false) => Persist::KeepAlive,
                };
                assert_eq!(show(&out), show(&forward_request_head(head, persist)));
            }
        }
    }

    #[test]
    fn relay_response_head_into_clears_the_reused_buffer() {
        let mut out = b"left over".repeat(20);
        let extra = [("X-A".to_string(), "1".to_string())];
        relay_response_head_into(OK, &extra, LengthEdit::Set(7), true, &mut out);
        assert_eq!(
            show(&out),
            show(&relay_response_head(OK, &extra, LengthEdit::Set(7), true))
        );
    }

    #[test]
    fn parses_a_simple_response() {
        let mut buf = OK.to_vec();
        buf.extend_from_slice(b"helloHTTP/1.1 200 OK\r\n");
        let h = head(&buf);
        assert_eq!(h.version, Version::Http11);
        assert_eq!(h.status, 200);
        assert_eq!(h.reason, b"OK");
        assert_eq!(h.len, OK.len());
        assert!(!h.close);
        assert_eq!(h.content_length, Some(5));
        assert!(!h.conflicting);
        assert_eq!(h.framing("GET"), Framing::Length(5));
        assert!(!h.is_interim());
    }

    #[test]
    fn every_prefix_of_a_valid_head_is_incomplete() {
        for valid in [
            OK,
            b"HTTP/1.1 204 \r\n\r\n",
            b"HTTP/1.1 200\r\n\r\n",
            b"HTTP/1.0 404 Not Found\nServer: x\n\n",
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nX: caf\xc3\xa9\r\n\r\n",
        ] {
            assert!(parse_response_head(valid).unwrap().is_some(), "{}", show(valid));
            for n in 0..valid.len() {
                assert_eq!(
                    parse_response_head(&valid[..n]),
                    Ok(None),
                    "prefix {n} of {}",
                    show(valid)
                );
            }
        }
    }

    #[test]
    fn status_lines() {
        let h = head(b"HTTP/1.1 200\r\n\r\n");
        assert_eq!((h.status, h.reason), (200, &b""[..]));
        let h = head(b"HTTP/1.1 599 \r\n\r\n");
        assert_eq!((h.status, h.reason), (599, &b""[..]));
        let h = head(b"HTTP/1.1 418 I'm a\tteapot \xff\r\n\r\n");
        assert_eq!(h.reason, b"I'm a\tteapot \xff");
        assert_eq!(head(b"HTTP/1.2 200 OK\r\n\r\n").version, Version::Http11);
        assert_eq!(head(b"HTTP/1.0 200 OK\r\n\r\n").version, Version::Http10);
    }

    #[test]
    fn bad_status_lines_are_errors() {
        use ResponseError::*;
        let cases: &[(&[u8], ResponseError)] = &[
            (b"HTTP/1.1 200 OK", BadStatusLine), // refused before the line ends? no: see below
            (b"HTTP/1.1  200 OK\r\n\r\n", BadStatusLine),
            (b"HTTP/1.1 20 OK\r\n\r\n", BadStatusLine),
            (b"HTTP/1.1 2000 OK\r\n\r\n", BadStatusLine),
            (b"HTTP/1.1 099 Low\r\n\r\n", BadStatusLine),
            (b"HTTP/1.1 600 High\r\n\r\n", BadStatusLine),
            (b"HTTP/1.1 2x0 OK\r\n\r\n", BadStatusLine),
            (b"HTTP/1.1 200 O\x01K\r\n\r\n", BadStatusLine),
            (b"HTTP/1.1 200 OK\x7f\r\n\r\n", BadStatusLine),
            (b"HTTP/1.1\r\n\r\n", BadStatusLine),
            (b"HTTP/1 200 OK\r\n\r\n", BadStatusLine),
            (b"HTTP/2.0 200 OK\r\n\r\n", BadVersion),
            (b"HTTP/x.1 200 OK\r\n\r\n", BadStatusLine),
            (b"http/1.1 200 OK\r\n\r\n", BadStatusLine),
            (b"\r\nHTTP/1.1 200 OK\r\n\r\n", BadStatusLine),
            (b"SSH-2.0-OpenSSH\r\n", BadStatusLine),
            (b"<", BadStatusLine),
            (b"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", BadHeader),
            (b"HTTP/1.1 200 OK\r\nName : v\r\n\r\n", BadHeader),
            (b"HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n", BadHeader),
            (b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", BadHeader),
            (b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", BadHeader),
            (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", BadContentLength),
            (b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", BadContentLength),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", BadContentLength),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\ncontent-length: 2\r\n\r\n", BadContentLength),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n", BadContentLength),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", BadTransferEncoding),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", BadTransferEncoding),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", BadTransferEncoding),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chun ked\r\n\r\n", BadTransferEncoding),
        ];
        for (input, want) in &cases[1..] {
            assert_eq!(parse_response_head(input), Err(*want), "{}", show(input));
        }
        // A good status line without its line end is just incomplete.
        assert_eq!(parse_response_head(cases[0].0), Ok(None));
        // Garbage is refused from its first byte, a bad status line as soon as its line ends.
        assert_eq!(parse_response_head(b"X"), Err(ResponseError::BadStatusLine));
        assert_eq!(parse_response_head(b"HTTP/1.1 2x"), Ok(None));
        assert_eq!(parse_response_head(b"HTTP/1.1 2x\n"), Err(BadStatusLine));
        assert_eq!(
            parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n")
                .unwrap()
                .unwrap()
                .content_length,
            Some(u64::MAX)
        );
    }

    #[test]
    fn limits() {
        let mut big = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        big.resize(MAX_HEAD, b'a');
        assert_eq!(parse_response_head(&big), Err(ResponseError::HeadTooLarge));
        assert_eq!(parse_response_head(&big[..MAX_HEAD - 1]), Ok(None));
        // A head of exactly MAX_HEAD bytes is accepted.
        let mut exact = big[..MAX_HEAD - 4].to_vec();
        exact.extend_from_slice(b"\r\n\r\n");
        assert_eq!(head(&exact).len, MAX_HEAD);
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse_response_head(&big), Err(ResponseError::HeadTooLarge));

        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: 1\r\n").as_bytes());
        }
        let mut ok = many.clone();
        ok.extend_from_slice(b"\r\n");
        assert!(parse_response_head(&ok).is_ok());
        many.extend_from_slice(b"X-last: 1\r\n\r\n");
        assert_eq!(
            parse_response_head(&many),
            Err(ResponseError::TooManyHeaders)
        );
    }

    #[test]
    fn connection_close() {
        assert!(head(b"HTTP/1.1 200 OK\r\nConnection: foo, Close\r\n\r\n").close);
        assert!(!head(b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n").close);
        assert!(head(b"HTTP/1.0 200 OK\r\n\r\n").close);
        assert!(!head(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n").close);
        assert!(head(b"HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\n\r\n").close);
    }

    #[test]
    fn framing_table() {
        use Framing::*;
        let cases: &[(&[u8], &str, Framing)] = &[
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n",
                "GET",
                Length(7),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n",
                "HEAD",
                None,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                "HEAD",
                None,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                "POST",
                Length(0),
            ),
            (
                b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
                "GET",
                None,
            ),
            (
                b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
                "GET",
                None,
            ),
            (b"HTTP/1.1 100 Continue\r\n\r\n", "PUT", None),
            (
                b"HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n",
                "GET",
                None,
            ),
            (
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
                "GET",
                Tunnel,
            ),
            (b"HTTP/1.1 200 OK\r\n\r\n", "CONNECT", Tunnel),
            (
                b"HTTP/1.1 407 Auth\r\nContent-Length: 2\r\n\r\n",
                "CONNECT",
                Length(2),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                "GET",
                Chunked,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n",
                "GET",
                Chunked,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                "GET",
                UntilClose,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip;q=1\r\n\r\n",
                "GET",
                UntilClose,
            ),
            (b"HTTP/1.1 200 OK\r\n\r\n", "GET", UntilClose),
            (b"HTTP/1.0 200 OK\r\n\r\n", "GET", UntilClose),
            (
                b"HTTP/1.1 500 Oops\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                "GET",
                Chunked,
            ),
        ];
        for (input, method, want) in cases {
            assert_eq!(
                head(input).framing(method),
                *want,
                "{method} {}",
                show(input)
            );
        }
        assert!(head(b"HTTP/1.1 100 Continue\r\n\r\n").is_interim());
        assert!(head(b"HTTP/1.1 103 Early Hints\r\n\r\n").is_interim());
        assert!(!head(b"HTTP/1.1 101 Switching Protocols\r\n\r\n").is_interim());
        assert!(!head(b"HTTP/1.1 204 No Content\r\n\r\n").is_interim());
    }

    #[test]
    fn length_and_chunked_is_flagged_and_closes() {
        let h = head(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(h.conflicting && h.close && h.chunked);
        assert_eq!(h.content_length, Some(3));
        assert_eq!(h.framing("GET"), Framing::Chunked);
        let h = head(
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        assert!(h.conflicting && h.close);
        let h = head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(!h.conflicting && !h.close);
    }

    #[test]
    fn odd_bytes_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let alphabet = b"HTTP/1.1 200 \r\n:;, \t0123456789abcdefContent-LengthTransfer-EncodingchunkedConnection\x00\xff";
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = usize::try_from(x % 200).unwrap();
            let mut buf = b"HTTP/1.1 ".to_vec();
            let mut y = x;
            for _ in 0..len {
                y = y
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let i = usize::try_from(y >> 33).unwrap() % alphabet.len();
                buf.push(alphabet[i]);
            }
            if let Ok(Some(h)) = parse_response_head(&buf) {
                let _ = h.framing("GET");
            }
            let _ = parse_response_head(&buf[9..]);
            let _ = BodyScanner::new(Framing::Chunked).feed(&buf[9..]);
            let _ = relay_response_head(&buf, &[], LengthEdit::Set(1), true);
            let _ = forward_request_head(&buf[9..], Persist::Upgrade);
            let _ = origin_form(&buf[9..]);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Body scanning
    // -----------------------------------------------------------------------------------------

    /// Feeds `body` in pieces of `piece` bytes; returns the bytes the body took (if it ended) and
    /// the decoded data bytes.
    fn scan(
        framing: Framing,
        body: &[u8],
        piece: usize,
    ) -> Result<(Option<usize>, u64), ResponseError> {
        let mut s = BodyScanner::new(framing);
        let mut used = 0;
        for part in body.chunks(piece.max(1)) {
            let (n, done) = s.feed(part)?;
            assert!(n <= part.len());
            used += n;
            if done {
                assert_eq!(s.wire_bytes, u64::try_from(used).unwrap());
                return Ok((Some(used), s.data_bytes));
            }
            assert_eq!(
                n,
                part.len(),
                "a body that is not done takes all it is given"
            );
        }
        Ok((None, s.data_bytes))
    }

    #[test]
    fn length_bodies() {
        assert_eq!(
            scan(Framing::Length(5), b"helloHTTP/1.1", 1),
            Ok((Some(5), 5))
        );
        assert_eq!(
            scan(Framing::Length(5), b"helloHTTP/1.1", 3),
            Ok((Some(5), 5))
        );
        assert_eq!(scan(Framing::Length(5), b"hell", 3), Ok((None, 4)));
        let mut s = BodyScanner::new(Framing::Length(0));
        assert!(s.is_done());
        assert_eq!(s.feed(b"HTTP"), Ok((0, true)));
        let mut s = BodyScanner::new(Framing::None);
        assert_eq!(s.feed(b"x"), Ok((0, true)));
        let mut s = BodyScanner::new(Framing::Length(u64::MAX));
        assert_eq!(s.feed(b"abc"), Ok((3, false)));
        let mut s = BodyScanner::new(Framing::UntilClose);
        assert!(s.ends_at_close());
        assert_eq!(s.feed(b"abc"), Ok((3, false)));
        assert_eq!(s.feed(b"de"), Ok((2, false)));
        assert_eq!((s.data_bytes, s.is_done()), (5, false));
        assert!(BodyScanner::new(Framing::Tunnel).ends_at_close());
        assert!(!BodyScanner::new(Framing::Chunked).ends_at_close());
    }

    #[test]
    fn chunked_bodies_end_at_the_right_byte_in_any_split() {
        let bodies: &[(&[u8], u64)] = &[
            (b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n", 9),
            (b"4\r\nWiki\r\n5 ; a=\"q\xff\" ;b\r\npedia\r\n000\r\nTrailer: x\r\nX-Sum:\t1 2\r\n\r\n", 9),
            (b"0\r\n\r\n", 0),
            (b"0;last\r\nA:\r\n\r\n", 0),
            (b"1\r\n\r\r\n0\r\n\r\n", 1),
        ];
        for (body, data) in bodies {
            let mut input = body.to_vec();
            input.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
            for piece in 1..=input.len() {
                assert_eq!(
                    scan(Framing::Chunked, &input, piece),
                    Ok((Some(body.len()), *data)),
                    "piece {piece} of {}",
                    show(body)
                );
            }
            // Cut anywhere, the body is not complete yet.
            for cut in 0..body.len() {
                assert_eq!(
                    scan(Framing::Chunked, &body[..cut], 1).map(|r| r.0),
                    Ok(None),
                    "cut {cut} of {}",
                    show(body)
                );
            }
        }
    }

    #[test]
    fn malformed_chunked_bodies_are_errors() {
        use ResponseError::*;
        let cases: &[(&[u8], ResponseError)] = &[
            (b"zz\r\n", BadChunk),
            (b"\r\n", BadChunk),
            (b";x\r\n", BadChunk),
            (b" 4\r\n", BadChunk),
            (b"4x\r\n", BadChunk),
            (b"4\rx", BadChunk),
            (b"4;a\x01\r\n", BadChunk),
            (b"4\r\nWikiXX", BadChunk),
            (b"4\r\nWiki\rX", BadChunk),
            (b"0\r\n folded: x\r\n\r\n", BadChunk),
            (b"0\r\nNo colon\r\n\r\n", BadChunk),
            (b"0\r\n: empty name\r\n\r\n", BadChunk),
            (b"0\r\nX: a\rb\r\n\r\n", BadChunk),
            (b"0\r\nX: a\x00\r\n\r\n", BadChunk),
            (b"0\r\n\rX", BadChunk),
            (b"10000000000000000\r\n", ChunkTooLarge),
            // Bare LF line ends: relayed unchanged, they could be read otherwise downstream.
            (b"A\nabcdefghij\r\n", BadChunk),
            (b"1\r\nA\n0\r\n", BadChunk),
            (b"0\r\nT: v\n\r\n", BadChunk),
        ];
        for (input, want) in cases {
            for piece in [1, 3, input.len()] {
                assert_eq!(
                    scan(Framing::Chunked, input, piece),
                    Err(*want),
                    "{}",
                    show(input)
                );
            }
        }
        // The largest size taken (1 EiB) is fine; leading zeros do not count against it.
        assert!(scan(Framing::Chunked, b"000fffffffffffffff\r\nab", 1).is_ok());
        assert_eq!(
            scan(Framing::Chunked, b"ffffffffffffffff\r\n", 1),
            Err(ChunkTooLarge)
        );
        let mut long = b"1;".to_vec();
        long.resize(request::MAX_CHUNK_LINE, b'x');
        assert!(scan(Framing::Chunked, &long, 100).is_ok());
        long.push(b'x');
        assert_eq!(scan(Framing::Chunked, &long, 100), Err(BadChunk));
    }

    #[test]
    fn the_incremental_scan_agrees_with_the_parser_in_any_split() {
        let heads: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: y\r\n\r\nok",
            b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.0 204\n\n",
        ];
        for h in heads {
            let whole = parse_response_head(h).unwrap().unwrap();
            for piece in 1..h.len() {
                let mut scan = ResponseScan::default();
                let mut got = None;
                for end in (piece..=h.len()).step_by(piece).chain([h.len()]) {
                    if let Some(head) = scan.scan(&h[..end]).unwrap() {
                        got = Some(head);
                        break;
                    }
                }
                assert_eq!(
                    got.as_ref(),
                    Some(&whole),
                    "{} in pieces of {piece}",
                    show(h)
                );
            }
        }
        // Garbage and a bad status line are refused before the head is complete.
        let mut scan = ResponseScan::default();
        assert_eq!(scan.scan(b"HTTX"), Err(ResponseError::BadStatusLine));
        let mut scan = ResponseScan::default();
        assert_eq!(
            scan.scan(b"HTTP/1.1 2000\r\n"),
            Err(ResponseError::BadStatusLine)
        );
        let mut scan = ResponseScan::default();
        let big = [&b"HTTP/1.1 200 OK\r\nX: "[..], &[b'v'; MAX_HEAD]].concat();
        assert_eq!(scan.scan(&big), Err(ResponseError::HeadTooLarge));
    }

    #[test]
    fn response_values_are_as_strict_as_request_values() {
        for bad in [
            &b"HTTP/1.1 200 OK\r\nContent-Length:\x0c2\x0c\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\x0b\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n",
        ] {
            assert!(parse_response_head(bad).is_err(), "{}", show(bad));
        }
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length:\t2 \r\nX: a\tb \xff\r\n\r\n";
        assert_eq!(
            parse_response_head(ok).unwrap().unwrap().content_length,
            Some(2)
        );
    }

    #[test]
    fn trailers_are_bounded() {
        let mut many = b"0\r\n".to_vec();
        for i in 0..request::MAX_HEADERS {
            many.extend_from_slice(format!("T{i}: v\r\n").as_bytes());
        }
        let mut ok = many.clone();
        ok.extend_from_slice(b"\r\n");
        assert_eq!(scan(Framing::Chunked, &ok, 7).unwrap().0, Some(ok.len()));
        many.extend_from_slice(b"T: v\r\n\r\n");
        assert_eq!(
            scan(Framing::Chunked, &many, 7),
            Err(ResponseError::BadChunk)
        );
        // Each trailer line is bounded as a chunk-size line is.
        let mut long = b"0\r\nT: ".to_vec();
        long.resize(3 + request::MAX_CHUNK_LINE + 1, b'v');
        assert_eq!(
            scan(Framing::Chunked, &long, 1000),
            Err(ResponseError::BadChunk)
        );
    }

    #[test]
    fn a_large_chunk_is_counted_without_being_held() {
        let mut s = BodyScanner::new(Framing::Chunked);
        assert_eq!(s.feed(b"40000000\r\n"), Ok((10, false)));
        let block = vec![b'x'; 1 << 16];
        for _ in 0..(1 << 14) {
            assert_eq!(s.feed(&block), Ok((block.len(), false)));
        }
        assert_eq!(s.data_bytes, 1 << 30);
        assert_eq!(s.feed(b"\r\n0\r\n\r\nnext"), Ok((7, true)));
        assert_eq!(s.wire_bytes, (1 << 30) + 17);
        assert_eq!(s.feed(b"more"), Ok((0, true)));
    }

    // -----------------------------------------------------------------------------------------
    // Heads for the next hop
    // -----------------------------------------------------------------------------------------

    fn fwd(head: &[u8], persist: Persist) -> String {
        show(&forward_request_head(head, persist))
    }

    #[test]
    fn a_plain_request_passes_byte_for_byte() {
        let heads: &[&[u8]] = &[
            b"GET /a?b=c HTTP/1.1\r\nhost: Example:8080\r\nX-Odd:  spaced\t \r\naCCept: */*\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: caf\xc3\xa9 \xff\r\n\r\n",
            b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
        ];
        for h in heads {
            assert_eq!(
                forward_request_head(h, Persist::KeepAlive),
                *h,
                "{}",
                show(h)
            );
        }
        // Bare LF line ends go up as CRLF: the next hop gets strict HTTP/1.1.
        assert_eq!(
            fwd(
                b"POST /up HTTP/1.1\nHost: h\r\nContent-Length: 5\nTransfer-Encoding: chunked\n\n",
                Persist::KeepAlive
            ),
            "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        // The body after the head is not the head's business.
        let with_body = b"PUT / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi";
        assert_eq!(
            forward_request_head(with_body, Persist::KeepAlive),
            &with_body[..with_body.len() - 2]
        );
        // Empty lines before the request line are dropped.
        assert_eq!(
            fwd(b"\r\n\nGET / HTTP/1.1\r\n\r\n", Persist::KeepAlive),
            "GET / HTTP/1.1\r\n\r\n"
        );
    }

    #[test]
    fn hop_by_hop_fields_leave_the_request() {
        let h = b"GET / HTTP/1.1\r\n\
            Host: h\r\n\
            Connection: keep-alive, X-Secret,  x-hop \r\n\
            X-Secret: 1\r\n\
            Keep-Alive: timeout=5\r\n\
            Accept: */*\r\n\
            Proxy-Connection: keep-alive\r\n\
            x-httpfault-plan: reset=5\r\n\
            X-HOP: 2\r\n\
            TE: gzip\r\n\
            Upgrade: websocket\r\n\
            Connection: also-this\r\n\
            Also-This: 3\r\n\
            X-Secret-Not: 4\r\n\
            \r\n";
        assert_eq!(
            fwd(h, Persist::KeepAlive),
            "GET / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nX-Secret-Not: 4\r\n\r\n"
        );
        assert_eq!(
            fwd(h, Persist::Close),
            "GET / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nX-Secret-Not: 4\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn connection_cannot_strip_framing_or_host() {
        let h = b"POST / HTTP/1.1\r\nHost: h\r\nConnection: Content-Length, transfer-encoding, HOST\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(
            fwd(h, Persist::KeepAlive),
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n"
        );
        let r = b"HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(
            show(&relay_response_head(r, &[], LengthEdit::Keep, false)),
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
        );
    }

    #[test]
    fn connection_options_by_version_and_persistence() {
        let h11 = b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
        let h10 = b"GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n";
        assert_eq!(
            fwd(h11, Persist::KeepAlive),
            "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        );
        assert_eq!(
            fwd(h11, Persist::Close),
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(
            fwd(h10, Persist::KeepAlive),
            "GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n"
        );
        assert_eq!(
            fwd(h10, Persist::Close),
            "GET / HTTP/1.0\r\nHost: h\r\n\r\n"
        );
    }

    #[test]
    fn te_trailers_is_kept_and_announced() {
        let h = b"GET / HTTP/1.1\r\nTE: trailers\r\nConnection: TE\r\nHost: h\r\n\r\n";
        assert_eq!(
            fwd(h, Persist::KeepAlive),
            "GET / HTTP/1.1\r\nTE: trailers\r\nHost: h\r\nConnection: te\r\n\r\n"
        );
        assert_eq!(
            fwd(h, Persist::Close),
            "GET / HTTP/1.1\r\nTE: trailers\r\nHost: h\r\nConnection: close, te\r\n\r\n"
        );
        let h = b"GET / HTTP/1.1\r\nte: deflate, Trailers\r\n\r\n";
        assert_eq!(
            fwd(h, Persist::KeepAlive),
            "GET / HTTP/1.1\r\nte: deflate, Trailers\r\nConnection: te\r\n\r\n"
        );
        let h = b"GET / HTTP/1.1\r\nTE: deflate\r\n\r\n";
        assert_eq!(fwd(h, Persist::KeepAlive), "GET / HTTP/1.1\r\n\r\n");
    }

    #[test]
    fn upgrade_requests_keep_upgrade() {
        let h = b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade, keep-alive\r\nSec-WebSocket-Key: k==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        assert!(wants_upgrade(h));
        assert_eq!(
            fwd(h, Persist::Upgrade),
            "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k==\r\nSec-WebSocket-Version: 13\r\nConnection: upgrade\r\n\r\n"
        );
        // Not passed on as an upgrade: Upgrade goes.
        assert_eq!(
            fwd(h, Persist::KeepAlive),
            "GET /chat HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        assert!(!wants_upgrade(
            b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"
        ));
        assert!(!wants_upgrade(
            b"GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n"
        ));
        assert!(wants_upgrade(
            b"GET / HTTP/1.1\r\nconnection: x\r\nCONNECTION: UPGRADE\r\nupgrade: h2c\r\n\r\n"
        ));
    }

    #[test]
    fn absolute_form_becomes_origin_form() {
        let cases: &[(&[u8], &[u8], &[u8])] = &[
            (b"http://h:8080/a/b?q=1", b"h:8080", b"/a/b?q=1"),
            (b"HTTPS://h", b"h", b"/"),
            (b"http://h?q", b"h", b"/?q"),
            (b"http://u:p@h/x#frag", b"h", b"/x"),
            (b"http://[::1]:80/", b"[::1]:80", b"/"),
            (b"http:///p", b"", b"/p"),
        ];
        for (target, host, origin) in cases {
            let (h, o) = origin_form(target).unwrap();
            assert_eq!((h, &*o), (*host, *origin), "{}", show(target));
        }
        for other in [&b"/a"[..], b"*", b"h:443", b"ftp://h/", b"http:/h"] {
            assert_eq!(origin_form(other), None, "{}", show(other));
        }
        assert_eq!(
            fwd(
                b"GET http://up:9/a?x HTTP/1.1\r\nHost: up:9\r\nAccept: */*\r\n\r\n",
                Persist::KeepAlive
            ),
            "GET /a?x HTTP/1.1\r\nHost: up:9\r\nAccept: */*\r\n\r\n"
        );
        assert_eq!(
            fwd(
                b"GET http://up:9/a HTTP/1.1\nhost: other\nAccept: */*\nHost: again\n\n",
                Persist::KeepAlive
            ),
            "GET /a HTTP/1.1\r\nHost: up:9\r\nAccept: */*\r\n\r\n"
        );
        assert_eq!(
            fwd(
                b"GET http://up HTTP/1.0\r\nAccept: */*\r\n\r\n",
                Persist::Close
            ),
            "GET / HTTP/1.0\r\nHost: up\r\nAccept: */*\r\n\r\n"
        );
    }

    #[test]
    fn the_plan_header_is_read_and_removed() {
        let h = b"GET / HTTP/1.1\r\nX-HTTPFAULT-PLAN:  reset=6 \r\nHost: h\r\n\r\n";
        assert_eq!(header_value(h, PLAN_HEADER), Some(&b"reset=6"[..]));
        assert_eq!(header_value(h, "host"), Some(&b"h"[..]));
        assert_eq!(header_value(h, "missing"), None);
        assert_eq!(
            fwd(h, Persist::KeepAlive),
            "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        );
    }

    fn relay(head: &[u8], extra: &[(&str, &str)], length: LengthEdit, close: bool) -> String {
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        show(&relay_response_head(head, &extra, length, close))
    }

    #[test]
    fn a_plain_response_passes_byte_for_byte() {
        let heads: &[&[u8]] = &[
            OK,
            b"HTTP/1.1 404  Not  Found \r\ncontent-LENGTH: 0\r\nX:\tv \xff\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
            b"HTTP/1.1 200\nTransfer-Encoding: chunked\nTrailer: X-Sum\n\n",
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
        ];
        let out = relay_response_head(heads[0], &[], LengthEdit::Keep, false);
        assert_eq!(out, heads[0]);
        assert_eq!(
            relay_response_head(heads[1], &[], LengthEdit::Keep, false),
            heads[1]
        );
        assert_eq!(
            relay_response_head(heads[2], &[], LengthEdit::Keep, false),
            heads[2]
        );
        // HTTP/1.0 kept alive: the Connection field is rebuilt, the same bytes here but last.
        assert_eq!(
            relay(heads[3], &[], LengthEdit::Keep, false),
            "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n"
        );
        assert_eq!(
            relay(heads[3], &[], LengthEdit::Keep, true),
            "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n"
        );
    }

    #[test]
    fn hop_by_hop_fields_leave_the_response() {
        let h = b"HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\nUpgrade: h2c\r\nTE: trailers\r\nProxy-Connection: close\r\nServer: up\r\nX-Httpfault-Plan: kept\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(
            relay(h, &[], LengthEdit::Keep, false),
            "HTTP/1.1 200 OK\r\nServer: up\r\nX-Httpfault-Plan: kept\r\nContent-Length: 2\r\n\r\n"
        );
        assert_eq!(
            relay(h, &[("X-A", "1"), ("X-B", "two words")], LengthEdit::Keep, true),
            "HTTP/1.1 200 OK\r\nServer: up\r\nX-Httpfault-Plan: kept\r\nContent-Length: 2\r\nConnection: close\r\nX-A: 1\r\nX-B: two words\r\n\r\n"
        );
    }

    #[test]
    fn length_edits_and_conflicting_framing() {
        let h = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: up\r\n\r\n";
        assert_eq!(
            relay(h, &[], LengthEdit::Set(9), false),
            "HTTP/1.1 200 OK\r\nServer: up\r\nContent-Length: 9\r\n\r\n"
        );
        assert_eq!(
            relay(h, &[], LengthEdit::Remove, true),
            "HTTP/1.1 200 OK\r\nServer: up\r\nConnection: close\r\n\r\n"
        );
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(
            relay(chunked, &[], LengthEdit::Set(3), false),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
        );
        // RFC 9112, 6.3: Transfer-Encoding wins and the intermediary drops Content-Length.
        let both = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(
            relay(both, &[], LengthEdit::Keep, false),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
    }

    #[test]
    fn interim_and_switching_responses() {
        let hints = b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\nConnection: x\r\nX: 1\r\n\r\n";
        assert_eq!(
            relay(hints, &[], LengthEdit::Set(4), true),
            "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
        );
        let cont = b"HTTP/1.1 100 Continue\r\n\r\n";
        assert_eq!(
            relay_response_head(cont, &[], LengthEdit::Remove, true),
            cont
        );
        let switch = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s=\r\n\r\n";
        assert_eq!(
            relay(switch, &[], LengthEdit::Set(1), true),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s=\r\nConnection: upgrade\r\n\r\n"
        );
    }

    #[test]
    fn bad_extra_headers_are_skipped() {
        assert_eq!(
            relay(
                OK,
                &[("Bad Name", "1"), ("X", "a\r\nb"), ("", "v"), ("Ok", "")],
                LengthEdit::Keep,
                false
            ),
            format!("{}Ok: \r\n\r\n", show(&OK[..OK.len() - 2]))
        );
    }

    #[test]
    fn errors_display_lowercase() {
        for e in [
            ResponseError::BadStatusLine,
            ResponseError::ChunkTooLarge,
            ResponseError::HeadTooLarge,
        ] {
            let s = e.to_string();
            assert!(s.chars().next().unwrap().is_lowercase(), "{s}");
        }
    }
}
