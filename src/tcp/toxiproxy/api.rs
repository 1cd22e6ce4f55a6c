//! toxiproxy's routes (its `api.go`): methods, paths, JSON bodies, status codes and error
//! bodies. [`handle`] is pure but for the proxies it reads and changes; the HTTP/1.1 transport
//! (the body read within the server's budget, the answer written) is `http1::conn`'s, shared
//! with the control API.

use super::json::{self, Value};
use super::proxies::{parse_spec, Toxiproxy};
use super::ApiError;
use crate::http::request;
use crate::plan::percent_decode;

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

/// The reply to a request refused before it reached the API (a body too large, not framed
/// by `Content-Length`, no memory for it): toxiproxy's error shape.
pub fn refusal(status: u16, why: &str) -> Reply {
    Reply::error(&ApiError::new(status, format!("bad request body: {why}")))
}

/// The reply as the HTTP/1.1 transport writes it.
impl From<Reply> for crate::control::Reply {
    fn from(r: Reply) -> Self {
        crate::control::Reply {
            status: r.status,
            content_type: r.content_type,
            body: r.body.into_bytes(),
        }
    }
}
