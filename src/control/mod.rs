//! The control API under `/__httpfault/`: the journal, the routes and the default plan read and
//! replaced at run time, counters reset, metrics, a health probe. Its requests are never
//! journaled, counted or faulted, and it never waits on other connections (only on the
//! journal's condition variable, for `?wait=`).

pub mod budget;
pub mod ctx;
pub mod journal;
pub mod registry;
pub mod waiter;

use crate::control::ctx::{Ctx, Mode, CONTROL_PREFIX};
use crate::control::journal::End;
use crate::http::request;
use crate::plan::router::RouteTable;
use crate::plan::tcp::TcpPlan;
use crate::plan::{self, Plan};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Largest body a control request may have (a routes file).
pub const MAX_CONTROL_BODY: u64 = 1024 * 1024;
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
    /// A plain-text reply (a newline added).
    pub fn text(status: u16, text: impl Into<String>) -> Reply {
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

/// Answers one control request. Pure but for the server state it reads and changes.
pub fn handle(ctx: &Ctx, method: &str, target: &str, body: &[u8]) -> Reply {
    let path = request::target_path(target);
    let name = path.strip_prefix(CONTROL_PREFIX).unwrap_or("");
    let allowed: &[&str] = match name {
        "requests" => &["GET", "DELETE"],
        "routes" | "plan" => &["GET", "PUT"],
        "reset" => &["POST"],
        "metrics" | "health" => &["GET"],
        _ => {
            return Reply::text(
                404,
                format!(
                    "unknown control path '{}' (expected requests, routes, plan, reset, metrics or health)",
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
            match RouteTable::parse_file_with(text, &ctx.settings.files) {
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
            match Plan::parse_with(text, &ctx.settings.files) {
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
        // A probe for container health checks (Kubernetes, compose, Testcontainers): it answers
        // once the listeners are up, and touches no state.
        ("GET", "health") => Reply::text(200, "ok"),
        _ => metrics(ctx),
    }
}

/// The query of `GET /__httpfault/requests`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RequestsQuery {
    /// Entries after this sequence number.
    pub since: u64,
    /// Wait for at least this many.
    pub min: Option<usize>,
    /// Longest wait.
    pub wait: Option<Duration>,
    /// Count ended entries only.
    pub complete: bool,
}

/// `?since=SEQ&min=N&wait=DUR&complete=1`. `wait` needs `min` (a wait for nothing would
/// return at once, which is never what was meant).
pub fn parse_requests_query(target: &str) -> Result<RequestsQuery, Reply> {
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
        crate::log::json_str(&mut out, &route);
        let _ = writeln!(out, "}} {n}");
    }
    if let Some(more) = ctx.more_metrics.get() {
        more(&mut out);
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
