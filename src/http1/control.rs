//! The control API over HTTP/1.1: the request's body read (bounded, within the server's
//! budget), the answer of [`control::handle`] written, and `GET /__httpfault/requests`
//! streamed a page at a time (chunked), after its `?wait` when asked.

use super::exchange::{Carry, Next};
use super::response::simple_response;
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

/// Reads the control request's body, answers it, and says whether the connection goes on.
///
/// A body is read only within the server's shared budget for request bodies held in memory
/// (the one `echo` draws on): 200 slow `PUT`s cannot hold 200 MiB. A journal read
/// (`GET /__httpfault/requests`) is streamed, a page of entries at a time, and its `?wait`
/// gives up when the client leaves.
#[inline(never)]
pub fn serve<W: Wire>(ctx: &Ctx, wire: &mut W, head: &Head, close: bool) -> Next {
    let method = head.method(wire.input()).to_string();
    let target = head.target(wire.input()).to_string();
    let http10 = head.version == request::Version::Http10;
    wire.consume(head.len);
    let mut _reserved = None;
    let body = match head.body {
        BodyLen::None => Vec::new(),
        BodyLen::Chunked => {
            return reply(
                wire,
                Reply::text(411, "send the body with a Content-Length"),
                true,
            )
        }
        BodyLen::Length(n) if n > MAX_CONTROL_BODY => {
            return reply(wire, Reply::text(413, "control body over 1 MiB"), true)
        }
        BodyLen::Length(n) => {
            let Some(r) = ctx.echo_budget.reserve(n) else {
                let text = "request body memory in use by other connections; try again";
                return reply(wire, Reply::text(503, text), true);
            };
            _reserved = Some(r);
            // A client that sent `Expect: 100-continue` may wait for this before its body
            // (curl for a second, some clients until their own timeout).
            if head.expect_continue && n > 0 && wire.write_all(CONTINUE).is_err() {
                return Next::Done;
            }
            match read_exact(wire, n, ctx.settings.read_timeout) {
                Some(b) => b,
                None => return Next::Done,
            }
        }
    };
    if method == "GET" && is_requests(&target) {
        return match parse_requests_query(&target) {
            Ok(q) => stream_requests(ctx, wire, &q, close, http10),
            Err(r) => reply(wire, r, close),
        };
    }
    let answer = handle(ctx, &method, &target, &body);
    drop(body);
    if method == "HEAD" {
        // A reply to HEAD has no body (RFC 9110 9.3.2): one would be read as the next
        // response on a kept-alive connection.
        return reply_head_only(wire, answer, close);
    }
    reply(wire, answer, close)
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
