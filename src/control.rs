//! The control API under `/__httpfault/`: the journal, the routes and the default plan read and
//! replaced at run time, counters reset, metrics. Its requests are never journaled, counted or
//! faulted, and it never waits on other connections (only on the journal's condition variable,
//! for `?wait=`).

use crate::conn::Head;
use crate::ctx::{Ctx, Mode, CONTROL_PREFIX};
use crate::exec::{Carry, Next};
use crate::journal::End;
use crate::plan::{self, Plan};
use crate::relay::TcpPlan;
use crate::request::{self, BodyLen};
use crate::response::simple_response;
use crate::router::RouteTable;
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
#[inline(never)]
pub fn serve<W: Wire>(ctx: &Ctx, wire: &mut W, head: &Head, close: bool) -> Next {
    let method = head.method(wire.input()).to_string();
    let target = head.target(wire.input()).to_string();
    wire.consume(head.len);
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
    let answer = handle(ctx, &method, &target, &body);
    if method == "HEAD" {
        // A reply to HEAD has no body (RFC 9110 9.3.2): one would be read as the next
        // response on a kept-alive connection.
        return reply_head_only(wire, answer, close);
    }
    reply(wire, answer, close)
}

fn reply_head_only<W: Wire>(wire: &mut W, r: Reply, close: bool) -> Next {
    let mut bytes = simple_response(r.status, r.content_type, &r.body, close);
    bytes.truncate(bytes.len().saturating_sub(r.body.len()));
    write_reply(wire, &bytes, close)
}

fn read_exact<W: Wire>(wire: &mut W, n: u64, timeout: Duration) -> Option<Vec<u8>> {
    let want = usize::try_from(n).ok()?;
    let mut body = Vec::with_capacity(want);
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
    let query = target.split_once('?').map_or("", |(_, q)| q);
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
        ("GET", "requests") => requests(ctx, query),
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

/// `GET /__httpfault/requests?since=SEQ&min=N&wait=DUR`.
fn requests(ctx: &Ctx, query: &str) -> Reply {
    let mut since = 0u64;
    let mut min = 0usize;
    let mut wait = Duration::ZERO;
    let mut complete = false;
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
            "since" => match v.parse() {
                Ok(n) => since = n,
                Err(_) => return bad(),
            },
            "min" => match v.parse() {
                Ok(n) => min = n,
                Err(_) => return bad(),
            },
            "wait" => match plan::parse_duration(v) {
                Some(d) => wait = d.min(MAX_WAIT),
                None => return bad(),
            },
            "complete" => complete = v != "0",
            _ => return bad(),
        }
    }
    let (list, dropped) = if min > 0 && !wait.is_zero() {
        ctx.journal
            .wait_unless(since, min, complete, wait, &ctx.stop)
    } else {
        ctx.journal.snapshot(since)
    };
    let mut body = String::with_capacity(64 + list.len() * 300);
    body.push_str("{\"requests\": [");
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
