//! The control API under `/__httpfault/`: the journal, the routes and the default plan read and
//! replaced at run time, counters reset, metrics. Its requests are never journaled, counted or
//! faulted, and it never waits on other connections (only on the journal's condition variable,
//! for `?wait=`).

pub mod ctx;
pub mod journal;
pub mod registry;
pub mod waiter;

use crate::control::ctx::{Ctx, Mode, CONTROL_PREFIX};
use crate::control::journal::End;
use crate::http::request::{self, BodyLen};
use crate::http1::conn::Head;
use crate::http1::exchange::{Carry, Next};
use crate::http1::response::simple_response;
use crate::plan::router::RouteTable;
use crate::plan::{self, Plan};
use crate::tcp::TcpPlan;
use crate::wire::{Fill, Wire, BODY_BUF};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Largest body a control request may have (a routes file).
pub const MAX_CONTROL_BODY: u64 = 1024 * 1024;
/// The interim response to `Expect: 100-continue`.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
/// Longest `?wait=`.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// A control API answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
}

impl Reply {
    fn text(status: u16, text: impl Into<String>) -> Reply {
        let mut body = text.into().into_bytes();
        if !body.is_empty() && !body.ends_with(b"\n") {
            body.push(b'\n');
        }
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }

    fn empty() -> Reply {
        Reply {
            status: 204,
            content_type: "text/plain",
            body: Vec::new(),
        }
    }
}

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

/// Answers one control request. Pure but for the server state it reads and changes.
pub fn handle(ctx: &Ctx, method: &str, target: &str, body: &[u8]) -> Reply {
    let path = request::target_path(target);
    let name = path.strip_prefix(CONTROL_PREFIX).unwrap_or("");
    let allowed: &[&str] = match name {
        "requests" => &["GET", "DELETE"],
        "routes" | "plan" => &["GET", "PUT"],
        "reset" => &["POST"],
        "metrics" => &["GET"],
        _ => {
            return Reply::text(
                404,
                format!(
                    "unknown control path '{}' (expected requests, routes, plan, reset or metrics)",
                    plan::Escaped(path)
                ),
            )
        }
    };
    if !allowed.contains(&method) {
        return Reply::text(
            405,
            format!(
                "{} {path} is not allowed (use {})",
                plan::Escaped(method),
                allowed.join(" or ")
            ),
        );
    }
    match (method, name) {
        // Answered by `stream_requests`; a plain snapshot for callers of `handle`.
        ("GET", "requests") => match parse_requests_query(target) {
            Ok(q) => {
                let (list, dropped) = ctx.journal.snapshot(q.since);
                let mut body = String::from("{\"requests\": [");
                for (i, e) in list.iter().enumerate() {
                    if i > 0 {
                        body.push_str(", ");
                    }
                    body.push_str(&e.to_json());
                }
                let _ = writeln!(body, "], \"dropped\": {dropped}}}");
                Reply {
                    status: 200,
                    content_type: "application/json",
                    body: body.into_bytes(),
                }
            }
            Err(r) => r,
        },
        ("DELETE", "requests") => {
            ctx.journal.clear();
            Reply::empty()
        }
        ("GET", "routes") => Reply {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: ctx.routes().to_text().into_bytes(),
        },
        ("PUT", "routes") => {
            let Ok(text) = std::str::from_utf8(body) else {
                return Reply::text(400, "the routes are not UTF-8 text");
            };
            match RouteTable::parse_file(text) {
                Ok(table) => {
                    ctx.set_routes(table);
                    Reply::empty()
                }
                Err(e) => Reply::text(400, e.to_string()),
            }
        }
        ("GET", "plan") if matches!(ctx.settings.mode, Mode::Tcp(_)) => {
            Reply::text(200, format!("{}\n", ctx.tcp_plan()))
        }
        ("GET", "plan") => Reply::text(200, format!("{}\n", ctx.plan())),
        ("PUT", "plan") if matches!(ctx.settings.mode, Mode::Tcp(_)) => {
            let Ok(text) = std::str::from_utf8(body) else {
                return Reply::text(400, "the plan is not UTF-8 text");
            };
            match TcpPlan::parse(text.trim()) {
                Ok(plan) => {
                    ctx.set_tcp_plan(plan);
                    Reply::empty()
                }
                Err(e) => Reply::text(400, e.to_string()),
            }
        }
        ("PUT", "plan") => {
            let Ok(text) = std::str::from_utf8(body) else {
                return Reply::text(400, "the plan is not UTF-8 text");
            };
            // `ok` is the empty plan, as in routes.
            let text = match text.trim() {
                "ok" => "",
                t => t,
            };
            match Plan::parse(text) {
                Ok(plan) => match ctx.check_default_plan(&plan) {
                    Ok(()) => {
                        ctx.set_plan(plan);
                        Reply::empty()
                    }
                    Err(e) => Reply::text(400, e),
                },
                Err(e) => Reply::text(400, e.to_string()),
            }
        }
        ("POST", "reset") => {
            ctx.reset();
            Reply::empty()
        }
        _ => metrics(ctx),
    }
}

/// The query of `GET /__httpfault/requests`.
#[derive(Debug, Default, PartialEq, Eq)]
struct RequestsQuery {
    since: u64,
    min: Option<usize>,
    wait: Option<Duration>,
    complete: bool,
}

/// `?since=SEQ&min=N&wait=DUR&complete=1`. `wait` needs `min` (a wait for nothing would
/// return at once, which is never what was meant).
fn parse_requests_query(target: &str) -> Result<RequestsQuery, Reply> {
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let mut q = RequestsQuery::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = || {
            Reply::text(
                400,
                format!(
                    "bad query parameter '{}' (expected since=SEQ, min=N, wait=DUR, complete=1)",
                    plan::Escaped(pair)
                ),
            )
        };
        match k {
            "since" => q.since = v.parse().map_err(|_| bad())?,
            "min" => q.min = Some(v.parse().map_err(|_| bad())?),
            "wait" => q.wait = Some(plan::parse_duration(v).ok_or_else(bad)?.min(MAX_WAIT)),
            "complete" => q.complete = v != "0",
            _ => return Err(bad()),
        }
    }
    if q.wait.is_some() && q.min.is_none() {
        return Err(Reply::text(
            400,
            "wait= needs min=N: the number of entries to wait for (add complete=1 to count ended ones)",
        ));
    }
    Ok(q)
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

/// `GET /__httpfault/metrics`, Prometheus text format.
fn metrics(ctx: &Ctx) -> Reply {
    let mut out = String::new();
    out.push_str("# HELP httpfault_requests_total Requests served, by how they ended.\n");
    out.push_str("# TYPE httpfault_requests_total counter\n");
    for end in End::ALL {
        let n = ctx.metrics.requests[end.index()].load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "httpfault_requests_total{{end=\"{}\"}} {n}",
            end.name()
        );
    }
    let open = ctx.active.load(Ordering::Relaxed);
    out.push_str("# HELP httpfault_connections_open Connections being served now.\n");
    out.push_str("# TYPE httpfault_connections_open gauge\n");
    let _ = writeln!(out, "httpfault_connections_open {open}");
    let accepted = ctx.metrics.connections.load(Ordering::Relaxed);
    out.push_str("# HELP httpfault_connections_total Connections accepted.\n");
    out.push_str("# TYPE httpfault_connections_total counter\n");
    let _ = writeln!(out, "httpfault_connections_total {accepted}");
    let refused = ctx.metrics.refused.load(Ordering::Relaxed);
    out.push_str("# HELP httpfault_connections_refused_total Connections refused.\n");
    out.push_str("# TYPE httpfault_connections_refused_total counter\n");
    let _ = writeln!(out, "httpfault_connections_refused_total {refused}");
    out.push_str("# HELP httpfault_responses_total Requests by the status code sent (0: none).\n");
    out.push_str("# TYPE httpfault_responses_total counter\n");
    for (code, n) in ctx.metrics.statuses() {
        let _ = writeln!(out, "httpfault_responses_total{{status=\"{code}\"}} {n}");
    }
    out.push_str("# HELP httpfault_route_requests_total Requests by the route that matched ");
    out.push_str("(route=\"\": none; the first 256 routes seen, then route=\"other\").\n");
    out.push_str("# TYPE httpfault_route_requests_total counter\n");
    for (route, n) in ctx.metrics.routes() {
        out.push_str("httpfault_route_requests_total{route=");
        crate::control::journal::json_str(&mut out, &route);
        let _ = writeln!(out, "}} {n}");
    }
    if let Some(t) = ctx.toxiproxy.get() {
        t.metrics(&mut out);
    }
    let dropped = ctx.journal.dropped();
    out.push_str("# HELP httpfault_journal_dropped_total Journal entries dropped.\n");
    out.push_str("# TYPE httpfault_journal_dropped_total counter\n");
    let _ = writeln!(out, "httpfault_journal_dropped_total {dropped}");
    Reply {
        status: 200,
        content_type: "text/plain; version=0.0.4",
        body: out.into_bytes(),
    }
}
