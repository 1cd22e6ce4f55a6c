//! A pure HTTP/1.1 request-head parser and chunked-body scanner over `&[u8]`. No I/O.
//!
//! Incomplete input is not an error: [`parse_head`] returns `Ok(None)` until the blank line
//! that ends the head has arrived. Every byte is treated as hostile: limits are named constants,
//! errors are values, and no input can make it panic.

use std::fmt;

/// Most bytes a request head may take, request line and blank line included.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header fields in one head.
pub const MAX_HEADERS: usize = 100;
/// Longest chunk-size line (size, extensions) in a chunked request body.
pub const MAX_CHUNK_LINE: usize = 4096;

/// HTTP/1.0 or HTTP/1.1 (any later 1.x is served as 1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// How the request body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLen {
    None,
    Length(u64),
    Chunked,
}

/// A parsed request head. Strings borrow from the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head<'a> {
    pub method: &'a str,
    pub target: &'a str,
    pub version: Version,
    /// Bytes the head took, blank line included: the body starts here.
    pub len: usize,
    pub body: BodyLen,
    /// The client asked for the connection to end after this response.
    pub close: bool,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
}

/// The path of a request target, origin form (`/a?q`) or absolute form (`http://h/a?q`),
/// without its query.
pub fn target_path(target: &str) -> &str {
    let t = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
        .map_or(target, |rest| rest.find('/').map_or("/", |i| &rest[i..]));
    t.split(['?', '#']).next().unwrap_or("")
}

/// Why a request cannot be served. Each maps to a status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    HeadTooLarge,
    TooManyHeaders,
    BadRequestLine,
    BadVersion,
    BadHeader,
    BadContentLength,
    LengthAndChunked,
    BadTransferEncoding,
    BadChunk,
    BodyTooLarge,
}

impl RequestError {
    /// The status code the server answers this error with, before it closes.
    pub fn status(self) -> u16 {
        match self {
            RequestError::HeadTooLarge | RequestError::TooManyHeaders => 431,
            RequestError::BadVersion => 505,
            RequestError::BadTransferEncoding => 501,
            RequestError::BodyTooLarge => 413,
            _ => 400,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestError::HeadTooLarge => "request head larger than 64 KiB",
            RequestError::TooManyHeaders => "more than 100 header fields",
            RequestError::BadRequestLine => "malformed request line",
            RequestError::BadVersion => "unsupported HTTP version",
            RequestError::BadHeader => "malformed header field",
            RequestError::BadContentLength => "invalid or conflicting Content-Length",
            RequestError::LengthAndChunked => "both Transfer-Encoding and Content-Length",
            RequestError::BadTransferEncoding => "unsupported Transfer-Encoding",
            RequestError::BadChunk => "malformed chunked request body",
            RequestError::BodyTooLarge => "request body over the limit",
        })
    }
}

impl std::error::Error for RequestError {}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Finds the end of the head: the index just past the first empty line. Lines may end in CRLF
/// or a bare LF.
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

/// Skips the empty lines a client may send before a request line (RFC 9112, 2.2).
fn skip_leading_newlines(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses the request line: `METHOD SP TARGET SP HTTP/1.x`.
fn request_line(line: &[u8]) -> Result<(&str, &str, Version), RequestError> {
    let line = trim_cr(line);
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::BadRequestLine);
    };
    if method.is_empty() || !method.iter().copied().all(is_tchar) {
        return Err(RequestError::BadRequestLine);
    }
    if target.is_empty() || !target.iter().all(|b| (0x21..0x7f).contains(b)) {
        return Err(RequestError::BadRequestLine);
    }
    let version = match version {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            if *major == b'1' {
                Version::Http11
            } else {
                return Err(RequestError::BadVersion);
            }
        }
        _ => return Err(RequestError::BadRequestLine),
    };
    // Both are checked ASCII above, so these conversions cannot fail.
    let method = std::str::from_utf8(method).map_err(|_| RequestError::BadRequestLine)?;
    let target = std::str::from_utf8(target).map_err(|_| RequestError::BadRequestLine)?;
    Ok((method, target, version))
}

fn has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Parses a request head from the start of `buf`.
///
/// `Ok(None)`: not complete yet, read more. `Ok(Some(head))`: `head.len` bytes were the head.
/// An error means the request cannot be served; the caller answers and closes.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head<'_>>, RequestError> {
    let start = skip_leading_newlines(buf);
    let rest = &buf[start..];
    let Some(end) = head_end(rest) else {
        // Fail early on a complete but bad request line, instead of waiting for more garbage.
        if let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            request_line(&rest[..nl])?;
        }
        if buf.len() >= MAX_HEAD {
            return Err(RequestError::HeadTooLarge);
        }
        return Ok(None);
    };
    if start + end > MAX_HEAD {
        return Err(RequestError::HeadTooLarge);
    }
    let mut lines = rest[..end].split(|&b| b == b'\n');
    let (method, target, version) = request_line(lines.next().unwrap_or_default())?;

    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut close = version == Version::Http10;
    let mut expect_continue = false;
    let mut count = 0;
    for line in lines {
        let line = trim_cr(line);
        if line.is_empty() {
            continue;
        }
        count += 1;
        if count > MAX_HEADERS {
            return Err(RequestError::TooManyHeaders);
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(RequestError::BadHeader)?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        // No whitespace before the colon, no obsolete line folding (RFC 9112, 5.1 and 5.2).
        if name.is_empty() || !name.iter().copied().all(is_tchar) {
            return Err(RequestError::BadHeader);
        }
        if value.iter().any(|&b| b == 0 || b == b'\r') {
            return Err(RequestError::BadHeader);
        }
        let value = value.trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_content_length(value)?;
            if content_length.is_some_and(|old| old != n) {
                return Err(RequestError::BadContentLength);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Only `chunked`, and only as the final coding, is understood.
            let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
            if !last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err(RequestError::BadTransferEncoding);
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            if has_token(value, "close") {
                close = true;
            } else if has_token(value, "keep-alive") && version == Version::Http10 {
                close = false;
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            expect_continue = value.eq_ignore_ascii_case(b"100-continue");
        }
    }
    let body = match (chunked, content_length) {
        (true, Some(_)) => return Err(RequestError::LengthAndChunked),
        (true, None) => BodyLen::Chunked,
        (false, Some(0)) | (false, None) => BodyLen::None,
        (false, Some(n)) => BodyLen::Length(n),
    };
    Ok(Some(Head {
        method,
        target,
        version,
        len: start + end,
        body,
        close,
        expect_continue,
    }))
}

/// `Content-Length`: digits only, possibly a list of equal values (`5, 5`).
fn parse_content_length(value: &[u8]) -> Result<u64, RequestError> {
    let mut result: Option<u64> = None;
    for part in value.split(|&b| b == b',') {
        let part = part.trim_ascii();
        if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
            return Err(RequestError::BadContentLength);
        }
        let n = part
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
        if result.is_some_and(|r| r != n) {
            return Err(RequestError::BadContentLength);
        }
        result = Some(n);
    }
    result.ok_or(RequestError::BadContentLength)
}

/// Finds where a chunked request body ends, fed a piece at a time. It keeps no body bytes:
/// it only follows the framing (size lines, data, CRLFs, trailers).
#[derive(Clone, Debug, Default)]
pub struct ChunkedScanner {
    state: ChunkState,
    /// Bytes of the current size or trailer line seen so far.
    line_len: usize,
    size: u64,
    size_digits: usize,
    in_extension: bool,
    /// Data bytes (decoded body) seen so far.
    pub body_bytes: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataCr,
    DataLf,
    Trailer,
    Done,
}

impl ChunkedScanner {
    /// Consumes bytes from `input`. Returns how many bytes belong to the body and whether the
    /// body is now complete (bytes after that belong to the next request).
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, bool), RequestError> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                ChunkState::Done => break,
                ChunkState::Data(left) => {
                    let avail = (input.len() - i) as u64;
                    let take = left.min(avail);
                    // `take` <= avail, which came from a usize.
                    i += take as usize;
                    self.body_bytes += take;
                    self.state = if take == left {
                        ChunkState::DataCr
                    } else {
                        ChunkState::Data(left - take)
                    };
                    continue;
                }
                ChunkState::DataCr => {
                    self.state = match input[i] {
                        b'\r' => ChunkState::DataLf,
                        b'\n' => ChunkState::Size,
                        _ => return Err(RequestError::BadChunk),
                    }
                }
                ChunkState::DataLf => {
                    if input[i] != b'\n' {
                        return Err(RequestError::BadChunk);
                    }
                    self.state = ChunkState::Size;
                }
                ChunkState::Size => self.size_byte(input[i])?,
                ChunkState::Trailer => self.trailer_byte(input[i])?,
            }
            i += 1;
        }
        Ok((i, self.state == ChunkState::Done))
    }

    fn size_byte(&mut self, b: u8) -> Result<(), RequestError> {
        self.line_len += 1;
        if self.line_len > MAX_CHUNK_LINE {
            return Err(RequestError::BadChunk);
        }
        if b == b'\n' {
            if self.size_digits == 0 {
                return Err(RequestError::BadChunk);
            }
            let size = self.size;
            self.line_len = 0;
            self.size = 0;
            self.size_digits = 0;
            self.in_extension = false;
            self.state = if size == 0 {
                ChunkState::Trailer
            } else {
                ChunkState::Data(size)
            };
            return Ok(());
        }
        if self.in_extension || b == b'\r' {
            // The CR must end the line; extensions are skipped.
            self.in_extension = true;
            return Ok(());
        }
        if b == b';' || b == b' ' || b == b'\t' {
            if self.size_digits == 0 {
                return Err(RequestError::BadChunk);
            }
            self.in_extension = true;
            return Ok(());
        }
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return Err(RequestError::BadChunk),
        };
        self.size_digits += 1;
        if self.size_digits > 15 {
            return Err(RequestError::BodyTooLarge);
        }
        self.size = self.size * 16 + u64::from(digit);
        Ok(())
    }

    fn trailer_byte(&mut self, b: u8) -> Result<(), RequestError> {
        if b == b'\n' {
            let was_empty = self.line_len == 0;
            self.line_len = 0;
            if was_empty {
                self.state = ChunkState::Done;
            }
            return Ok(());
        }
        if b != b'\r' {
            self.line_len += 1;
            if self.line_len > MAX_CHUNK_LINE {
                return Err(RequestError::BadChunk);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: &[u8] = b"GET /reset=6?x=1 HTTP/1.1\r\nHost: example\r\nUser-Agent: t\r\n\r\n";

    #[test]
    fn parses_a_simple_get() {
        let head = parse_head(GET).unwrap().unwrap();
        assert_eq!(head.method, "GET");
        assert_eq!(head.target, "/reset=6?x=1");
        assert_eq!(target_path(head.target), "/reset=6");
        assert_eq!(head.version, Version::Http11);
        assert_eq!(head.len, GET.len());
        assert_eq!(head.body, BodyLen::None);
        assert!(!head.close);
    }

    #[test]
    fn every_prefix_of_a_valid_head_is_incomplete() {
        let post = b"POST /echo HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: x\r\n\r\n";
        for head in [
            GET,
            &post[..],
            b"GET / HTTP/1.0\n\n",
            b"\r\nGET / HTTP/1.1\r\n\r\n",
        ] {
            for n in 0..head.len() {
                assert_eq!(parse_head(&head[..n]), Ok(None), "prefix {n} of {head:?}");
            }
        }
    }

    #[test]
    fn reads_framing_and_connection_headers() {
        let h = |s: &'static [u8]| parse_head(s).unwrap().unwrap();
        assert_eq!(
            h(b"POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n").body,
            BodyLen::Length(12)
        );
        assert_eq!(
            h(b"POST / HTTP/1.1\r\ncontent-length: 5, 5\r\n\r\n").body,
            BodyLen::Length(5)
        );
        assert_eq!(
            h(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").body,
            BodyLen::Chunked
        );
        assert!(h(b"GET / HTTP/1.0\r\n\r\n").close);
        assert!(!h(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").close);
        assert!(h(b"GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n").close);
        assert!(h(b"PUT / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n").expect_continue);
        assert_eq!(h(b"GET / HTTP/1.2\r\n\r\n").version, Version::Http11);
        assert_eq!(
            target_path(h(b"GET http://h:1/a/b?q HTTP/1.1\r\n\r\n").target),
            "/a/b"
        );
        assert_eq!(target_path(h(b"GET http://h HTTP/1.1\r\n\r\n").target), "/");
        // A header value may hold any visible byte, including non-ASCII.
        assert!(parse_head(b"GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n").is_ok());
    }

    #[test]
    fn malformed_heads_are_errors() {
        use RequestError::*;
        let cases: &[(&[u8], RequestError)] = &[
            (b"GET\r\n\r\n", BadRequestLine),
            (b"GET /\r\n\r\n", BadRequestLine),
            (b"GET  / HTTP/1.1\r\n\r\n", BadRequestLine),
            (b"GET / HTTP/1.1 x\r\n\r\n", BadRequestLine),
            (b"G(T / HTTP/1.1\r\n\r\n", BadRequestLine),
            (b"GET /\x01 HTTP/1.1\r\n\r\n", BadRequestLine),
            (b"GET / FTP/1.1\r\n\r\n", BadRequestLine),
            (b"GET / HTTP/2.0\r\n\r\n", BadVersion),
            (b"GET / HTTP/1.1\r\nNo colon\r\n\r\n", BadHeader),
            (b"GET / HTTP/1.1\r\nName : v\r\n\r\n", BadHeader),
            (b"GET / HTTP/1.1\r\n folded\r\n\r\n", BadHeader),
            (b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", BadHeader),
            (
                b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                BadContentLength,
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
                BadContentLength,
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length:\r\n\r\n",
                BadContentLength,
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                BadContentLength,
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                BadContentLength,
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n",
                BadContentLength,
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                LengthAndChunked,
            ),
            (
                b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                BadTransferEncoding,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_head(input),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        // A bad request line is an error as soon as the line is complete.
        assert_eq!(parse_head(b"\x16\x03\x01 garbage\n"), Err(BadRequestLine));
    }

    #[test]
    fn limits() {
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_HEAD, b'a');
        assert_eq!(parse_head(&big), Err(RequestError::HeadTooLarge));
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: 1\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse_head(&many), Err(RequestError::TooManyHeaders));
        assert_eq!(RequestError::TooManyHeaders.status(), 431);
    }

    #[test]
    fn odd_bytes_never_panic() {
        // A small deterministic generator: no crates.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let alphabet = b"GET / HTTP/1.1\r\n:;, \t0123456789abcdefContent-LengthTransfer-Encodingchunked\x00\xff";
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 200) as usize;
            let mut buf = Vec::with_capacity(len);
            let mut y = x;
            for _ in 0..len {
                y = y
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                buf.push(alphabet[(y >> 33) as usize % alphabet.len()]);
            }
            let _ = parse_head(&buf);
            let _ = ChunkedScanner::default().feed(&buf);
        }
    }

    fn scan_all(body: &[u8], piece: usize) -> Result<(usize, bool), RequestError> {
        let mut s = ChunkedScanner::default();
        let mut used = 0;
        for part in body.chunks(piece.max(1)) {
            let (n, done) = s.feed(part)?;
            used += n;
            if done {
                return Ok((used, true));
            }
        }
        Ok((used, false))
    }

    #[test]
    fn chunked_bodies_are_found_in_any_split() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\nGET /next";
        let end = body.len() - b"GET /next".len();
        for piece in 1..body.len() {
            assert_eq!(scan_all(body, piece), Ok((end, true)), "piece {piece}");
        }
        let mut s = ChunkedScanner::default();
        s.feed(body).unwrap();
        assert_eq!(s.body_bytes, 9);
        assert_eq!(scan_all(b"0\r\n\r\n", 1), Ok((5, true)));
        assert_eq!(scan_all(b"4\r\nWiki\r\n", 3), Ok((9, false)));
    }

    #[test]
    fn malformed_chunked_bodies_are_errors() {
        for bad in [
            &b"zz\r\n"[..],
            b"\r\n",
            b";x\r\n",
            b"4\r\nWikiXX",
            b"ffffffffffffffff\r\n",
        ] {
            assert!(
                scan_all(bad, 1).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
