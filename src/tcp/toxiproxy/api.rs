//! toxiproxy's routes (its `api.go`): methods, paths, JSON bodies, status codes and error
//! bodies. [`handle`] is pure but for the proxies it reads and changes; [`serve`] reads one
//! request's body from a connection and writes the answer.

use super::json::{self, Value};
use super::proxies::{parse_spec, Toxiproxy};
use super::ApiError;
use crate::control::ctx::Ctx;
use crate::http::request::{self, BodyLen};
use crate::http1::conn::Head;
use crate::http1::exchange::{Carry, Next};
use crate::http1::response::simple_response;
use crate::plan::percent_decode;
use crate::wire::{Fill, Wire, BODY_BUF};
use std::time::Instant;

/// Largest request body (a `populate` of a thousand proxies fits many times).
pub const MAX_BODY: u64 = 1024 * 1024;

/// What `GET /version` says: the toxiproxy release whose API this is, and httpfault's own
/// version as SemVer build metadata.
pub const VERSION: &str = concat!("2.12.0+httpfault.", env!("CARGO_PKG_VERSION"));

/// An answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// `Content-Type` (none for an empty body).
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Reply {
    fn json(status: u16, body: String) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body,
        }
    }

    fn empty(status: u16) -> Reply {
        Reply {
            status,
            content_type: "text/plain",
            body: String::new(),
        }
    }

    fn error(e: &ApiError) -> Reply {
        Reply::json(e.status, e.to_json() + "\n")
    }
}

fn reply(r: Result<String, ApiError>, status: u16) -> Reply {
    match r {
        Ok(body) => Reply::json(status, body),
        Err(e) => Reply::error(&e),
    }
}

fn done(r: Result<(), ApiError>) -> Reply {
    match r {
        Ok(()) => Reply::empty(204),
        Err(e) => Reply::error(&e),
    }
}

/// A JSON body, or toxiproxy's `bad request body` error.
fn body_json(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::new(400, "bad request body: EOF".into()));
    }
    json::parse(body).map_err(|e| ApiError::new(400, format!("bad request body: {e}")))
}

/// Answers one request of toxiproxy's API.
pub fn handle(t: &Toxiproxy, method: &str, target: &str, user_agent: &str, body: &[u8]) -> Reply {
    // toxiproxy refuses browsers, so that a web page cannot drive the API (CSRF).
    if user_agent.starts_with("Mozilla/") {
        return Reply {
            status: 403,
            content_type: "text/plain; charset=utf-8",
            body: "User agent not allowed\n".into(),
        };
    }
    let path = request::target_path(target);
    let segments: Option<Vec<String>> = path
        .strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .map(|s| percent_decode(s).and_then(|b| String::from_utf8(b).ok()))
        .collect();
    let Some(segments) = segments else {
        return not_found();
    };
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let allowed: &[&str] = match segs.as_slice() {
        ["version"] => &["GET"],
        ["proxies"] => &["GET", "POST"],
        ["populate"] | ["reset"] => &["POST"],
        ["proxies", _] | ["proxies", _, "toxics", _] => &["GET", "POST", "PATCH", "DELETE"],
        ["proxies", _, "toxics"] => &["GET", "POST"],
        _ => return not_found(),
    };
    if !allowed.contains(&method) {
        return Reply::empty(405);
    }
    let parsed = || body_json(body);
    match (method, segs.as_slice()) {
        (_, ["version"]) => Reply {
            status: 200,
            content_type: "application/json;charset=utf-8",
            body: format!("{{\"version\": \"{VERSION}\"}}\n"),
        },
        ("GET", ["proxies"]) => Reply::json(200, t.list_json()),
        ("POST", ["proxies"]) => reply(
            parsed()
                .and_then(|v| parse_spec(&v, ""))
                .and_then(|spec| t.create(spec)),
            201,
        ),
        (_, ["populate"]) => populate(t, body),
        (_, ["reset"]) => done(t.reset()),
        ("GET", ["proxies", p]) => reply(t.get_json(p), 200),
        ("DELETE", ["proxies", p]) => done(t.delete(p)),
        (_, ["proxies", p]) => reply(
            t.get_json(p)
                .and_then(|_| parsed())
                .and_then(|v| t.update(p, &v)),
            200,
        ),
        ("GET", ["proxies", p, "toxics"]) => reply(t.toxics_json(p), 200),
        (_, ["proxies", p, "toxics"]) => reply(
            t.get_json(p)
                .and_then(|_| parsed())
                .and_then(|v| t.add_toxic(p, &v)),
            200,
        ),
        ("GET", ["proxies", p, "toxics", x]) => reply(t.toxic_json(p, x), 200),
        ("DELETE", ["proxies", p, "toxics", x]) => done(t.remove_toxic(p, x)),
        (_, ["proxies", p, "toxics", x]) => reply(
            t.toxic_json(p, x)
                .and_then(|_| parsed())
                .and_then(|v| t.update_toxic(p, x, &v)),
            200,
        ),
        _ => not_found(),
    }
}

fn not_found() -> Reply {
    Reply {
        status: 404,
        content_type: "text/plain; charset=utf-8",
        body: "404 page not found\n".into(),
    }
}

/// `POST /populate`: every entry checked before any proxy is made, then made in order;
/// `{"proxies": [...]}` with `201`, or the error with the proxies made before it.
fn populate(t: &Toxiproxy, body: &[u8]) -> Reply {
    let answer = |proxies: Vec<String>, e: Option<ApiError>| {
        let mut out = String::from("{");
        if let Some(e) = &e {
            let err = e.to_json();
            out.push_str(&err[1..err.len() - 1]);
            out.push(',');
        }
        out.push_str("\"proxies\":[");
        out.push_str(&proxies.join(","));
        out.push_str("]}");
        Reply::json(e.map_or(201, |e| e.status), out)
    };
    let list = match body_json(body) {
        Ok(Value::Arr(items)) => items,
        Ok(other) => {
            let e = ApiError::new(
                400,
                format!(
                    "bad request body: expected an array of proxies, not {}",
                    other.kind()
                ),
            );
            return answer(Vec::new(), Some(e));
        }
        Err(e) => return answer(Vec::new(), Some(e)),
    };
    let mut specs = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        match parse_spec(item, &format!(" at proxy {}", i + 1)) {
            Ok(s) => specs.push(s),
            Err(e) => return answer(Vec::new(), Some(e)),
        }
    }
    let (made, e) = t.populate(specs);
    answer(made, e)
}

/// Reads the request's body (bounded by [`MAX_BODY`] and the server's shared budget for
/// bodies in memory), answers it, and says whether the connection goes on.
pub fn serve<W: Wire>(ctx: &Ctx, t: &Toxiproxy, wire: &mut W, head: &Head, close: bool) -> Next {
    let (method, target) = head.method_target(wire.input());
    let (method, target) = (method.to_string(), target.to_string());
    let head_bytes = wire.input().get(..head.len).unwrap_or_default();
    let agent = request::header_value(head_bytes, "user-agent")
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default();
    wire.consume(head.len);
    let mut _reserved = None;
    let body = match head.body {
        BodyLen::None => Vec::new(),
        BodyLen::Chunked => {
            let e = ApiError::new(411, "send the body with a Content-Length".into());
            return write(wire, &Reply::error(&e), true);
        }
        BodyLen::Length(n) if n > MAX_BODY => {
            let e = ApiError::new(
                413,
                format!("bad request body: larger than {MAX_BODY} bytes"),
            );
            return write(wire, &Reply::error(&e), true);
        }
        BodyLen::Length(n) => {
            let Some(r) = ctx.echo_budget.reserve(n) else {
                let e = ApiError::new(503, "request body memory in use; try again".into());
                return write(wire, &Reply::error(&e), true);
            };
            _reserved = Some(r);
            if head.expect_continue
                && n > 0
                && wire.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err()
            {
                return Next::Done;
            }
            match read_body(wire, n, ctx.settings.read_timeout) {
                Some(b) => b,
                None => return Next::Done,
            }
        }
    };
    let r = handle(t, &method, &target, &agent, &body);
    drop(body);
    write(wire, &r, close)
}

fn read_body<W: Wire>(wire: &mut W, n: u64, timeout: std::time::Duration) -> Option<Vec<u8>> {
    let want = usize::try_from(n).ok()?;
    let mut body = Vec::with_capacity(want.min(BODY_BUF));
    let deadline = Instant::now() + timeout;
    loop {
        let take = (want - body.len()).min(wire.input().len());
        body.extend_from_slice(wire.input().get(..take)?);
        wire.consume(take);
        if body.len() == want {
            return Some(body);
        }
        match wire.fill(deadline, BODY_BUF) {
            Fill::Data(_) => {}
            _ => return None,
        }
    }
}

fn write<W: Wire>(wire: &mut W, r: &Reply, close: bool) -> Next {
    let bytes = simple_response(r.status, r.content_type, r.body.as_bytes(), close);
    if wire.write_all(&bytes).is_err() {
        return Next::Done;
    }
    if close {
        wire.close(true);
        Next::Done
    } else {
        Next::KeepAlive(Carry::default())
    }
}
