//! The control API over HTTP/1.1: the request's body read (bounded, within the server's
//! budget), the answer of [`control::handle`] written, and `GET /__httpfault/requests`
//! streamed a page at a time (chunked), after its `?wait` when asked.

use super::exchange::{Carry, Next};
use super::response::simple_response;
use crate::control::budget::Reserved;
use crate::control::ctx::{Ctx, CONTROL_PREFIX};
use crate::control::{handle, parse_requests_query, Reply, RequestsQuery, MAX_CONTROL_BODY};
use crate::http::request::{self, BodyLen};
use crate::http1::conn::Head;
use crate::wire::{Fill, Wire, BODY_BUF};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The interim response to `Expect: 100-continue`.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A small API's request over HTTP/1.1 (the control API's, toxiproxy's), read whole: its body
/// is held only within the server's shared budget for request bodies held in memory (the one
/// `echo` draws on), so 200 slow `PUT`s cannot hold 200 MiB.
pub struct ApiRequest<'c> {
    /// The method.
    pub method: String,
    /// The target.
    pub target: String,
    /// The `User-Agent` field, or empty.
    pub user_agent: String,
    /// The body.
    pub body: Vec<u8>,
    /// An HTTP/1.0 request.
    pub http10: bool,
    /// HEAD: the reply has no body.
    pub head_only: bool,
    _reserved: Option<Reserved<'c>>,
}

/// Reads a small API's request (head at the front of the wire, then a body of at most `max`
/// bytes with a `Content-Length`); `Err`: the request was answered with `refuse`'s reply for
/// a status and reason (411, 413, 503) or the client left.
pub fn read_api_request<'c, W: Wire>(
    ctx: &'c Ctx,
    wire: &mut W,
    head: &Head,
    max: u64,
    refuse: &dyn Fn(u16, &str) -> Reply,
) -> Result<ApiRequest<'c>, Next> {
    let raw = wire.input().get(..head.len).unwrap_or_default();
    let (method, target) = head.method_target(raw);
    let user_agent = request::header_value(raw, "user-agent")
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default();
    let mut req = ApiRequest {
        method: method.to_string(),
        target: target.to_string(),
        user_agent,
        body: Vec::new(),
        http10: head.version == request::Version::Http10,
        head_only: head.is_head,
        _reserved: None,
    };
    wire.consume(head.len);
    let n = match head.body {
        BodyLen::None => return Ok(req),
        BodyLen::Chunked => {
            let r = refuse(411, "send the body with a Content-Length");
            return Err(reply(wire, r, true));
        }
        BodyLen::Length(n) if n > max => {
            let r = refuse(413, &format!("request body larger than {max} bytes"));
            return Err(reply(wire, r, true));
        }
        BodyLen::Length(n) => n,
    };
    let Some(r) = ctx.echo_budget.reserve(n) else {
        let why = "request body memory in use by other connections; try again";
        return Err(reply(wire, refuse(503, why), true));
    };
    req._reserved = Some(r);
    // A client that sent `Expect: 100-continue` may wait for this before its body (curl for
    // a second, some clients until their own timeout).
    if head.expect_continue && n > 0 && wire.write_all(CONTINUE).is_err() {
        return Err(Next::Done);
    }
    req.body = read_exact(wire, n, ctx.settings.read_timeout).ok_or(Next::Done)?;
    Ok(req)
}

/// Writes a small API's reply (its head only, for HEAD: a body would be read as the next
/// response on a kept-alive connection, RFC 9110 section 9.3.2), then closes or keeps the
/// connection.
pub fn write_api_reply<W: Wire>(wire: &mut W, r: Reply, close: bool, head_only: bool) -> Next {
    if head_only {
        return reply_head_only(wire, r, close);
    }
    reply(wire, r, close)
}

/// Answers a control API request, and says whether the connection goes on. A journal read
/// (`GET /__httpfault/requests`) is streamed, a page of entries at a time, and its `?wait`
/// gives up when the client leaves.
#[inline(never)]
pub fn serve<W: Wire>(ctx: &Ctx, wire: &mut W, head: &Head, close: bool) -> Next {
    let refuse = |status: u16, why: &str| Reply::text(status, why);
    let req = match read_api_request(ctx, wire, head, MAX_CONTROL_BODY, &refuse) {
        Ok(req) => req,
        Err(next) => return next,
    };
    if req.method == "GET" && is_requests(&req.target) {
        return match parse_requests_query(&req.target) {
            Ok(q) => stream_requests(ctx, wire, &q, close, req.http10),
            Err(r) => reply(wire, r, close),
        };
    }
    let answer = handle(ctx, &req.method, &req.target, &req.body);
    write_api_reply(wire, answer, close, req.head_only)
}

fn is_requests(target: &str) -> bool {
    request::target_path(target)
        .strip_prefix(CONTROL_PREFIX)
        .is_some_and(|n| n == "requests")
}

fn reply_head_only<W: Wire>(wire: &mut W, r: Reply, close: bool) -> Next {
    let mut bytes = simple_response(r.status, r.content_type, &r.body, close);
    bytes.truncate(bytes.len().saturating_sub(r.body.len()));
    write_reply(wire, &bytes, close)
}

fn read_exact<W: Wire>(wire: &mut W, n: u64, timeout: Duration) -> Option<Vec<u8>> {
    let want = usize::try_from(n).ok()?;
    let mut body = Vec::with_capacity(want.min(BODY_BUF));
    loop {
        let take = (want - body.len()).min(wire.input().len());
        body.extend_from_slice(&wire.input()[..take]);
        wire.consume(take);
        if body.len() == want {
            return Some(body);
        }
        match wire.fill(Instant::now() + timeout, BODY_BUF) {
            Fill::Data(_) => {}
            _ => return None,
        }
    }
}

fn reply<W: Wire>(wire: &mut W, r: Reply, close: bool) -> Next {
    let bytes = simple_response(r.status, r.content_type, &r.body, close);
    write_reply(wire, &bytes, close)
}

fn write_reply<W: Wire>(wire: &mut W, bytes: &[u8], close: bool) -> Next {
    if wire.write_all(bytes).is_err() {
        return Next::Done;
    }
    reply_sent(wire, close)
}

/// After a whole reply: closes, or keeps the connection for the next request.
fn reply_sent<W: Wire>(wire: &mut W, close: bool) -> Next {
    if close {
        wire.close(true);
        Next::Done
    } else {
        Next::KeepAlive(Carry::default())
    }
}

/// `GET /__httpfault/requests`: waits if asked, then streams the entries as JSON, a page at a
/// time: the journal's lock is held only to copy a page of `Arc`s, entries are serialised
/// outside it, and a client that reads slowly holds one page and one buffer, not the
/// journal. HTTP/1.1 gets a chunked body; HTTP/1.0 a body that ends with the connection.
fn stream_requests<W: Wire>(
    ctx: &Ctx,
    wire: &mut W,
    q: &RequestsQuery,
    close: bool,
    http10: bool,
) -> Next {
    if let (Some(min), Some(wait)) = (q.min, q.wait) {
        if min > 0 && !wait.is_zero() {
            let deadline = Instant::now() + wait;
            ctx.journal
                .wait(q.since, min, q.complete, deadline, &mut || {
                    !ctx.stop.load(Ordering::Relaxed) && !wire.left()
                });
            if ctx.stop.load(Ordering::Relaxed) || wire.left() {
                wire.close(false);
                return Next::Done;
            }
        }
    }
    let close = close || http10;
    let mut head =
        String::from("HTTP/1.1 200 OK\r\nServer: httpfault\r\nContent-Type: application/json\r\n");
    if !http10 {
        head.push_str("Transfer-Encoding: chunked\r\n");
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut out = StreamOut {
        buf: head.into_bytes(),
        head_len: 0,
        chunked: !http10,
    };
    out.head_len = out.buf.len();
    out.buf.extend_from_slice(b"{\"requests\": [");
    // The entries there now: later ones are for the next read (`since`).
    let upto = ctx.journal.last_seq();
    let mut after = q.since;
    let mut first = true;
    loop {
        let page = ctx.journal.page(after, upto);
        let Some(last) = page.last() else { break };
        after = last.seq();
        for e in &page {
            if !first {
                out.buf.extend_from_slice(b", ");
            }
            first = false;
            out.buf
                .extend_from_slice(ctx.journal.request_of(e).to_json().as_bytes());
        }
        drop(page);
        if out.buf.len() >= STREAM_BUF && out.flush(wire).is_err() {
            return Next::Done;
        }
    }
    let dropped = ctx.journal.dropped();
    let _ = writeln!(Tail(&mut out.buf), "], \"dropped\": {dropped}}}");
    if out.flush(wire).is_err() {
        return Next::Done;
    }
    if out.chunked && wire.write_all(b"0\r\n\r\n").is_err() {
        return Next::Done;
    }
    reply_sent(wire, close)
}

/// Bytes of JSON gathered before a streamed journal read writes them (a slow reader holds
/// this, one page of entries, and what the socket buffers take).
const STREAM_BUF: usize = 64 * 1024;

struct StreamOut {
    buf: Vec<u8>,
    /// Bytes of the response head still at the front of `buf` (not chunk-framed).
    head_len: usize,
    chunked: bool,
}

impl StreamOut {
    fn flush<W: Wire>(&mut self, wire: &mut W) -> std::io::Result<()> {
        let data = self.buf.len() - self.head_len;
        if self.chunked && data > 0 {
            let mut framed = Vec::with_capacity(self.buf.len() + 16);
            framed.extend_from_slice(&self.buf[..self.head_len]);
            framed.extend_from_slice(format!("{data:x}\r\n").as_bytes());
            framed.extend_from_slice(&self.buf[self.head_len..]);
            framed.extend_from_slice(b"\r\n");
            wire.write_all(&framed)?;
        } else if !self.buf.is_empty() {
            wire.write_all(&self.buf)?;
        }
        self.buf.clear();
        self.head_len = 0;
        Ok(())
    }
}

/// `write!` into a byte buffer.
struct Tail<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Tail<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
