//! One definition per step: its name, value, help line, conflict group, how it sets a
//! [`Plan`] and how it prints back. Parsing, printing, usage messages, conflict checks and the
//! step list of `--help` all come from [`STEPS`]; a new step is one more entry here (and, if it
//! changes what goes on the wire, the code that runs it in the executor).

use super::reason::Reason;
use super::units::{
    parse_duration, parse_offset, parse_size, DurText, Encoded, SizeText, DUR_HELP, OFFSET_HELP,
    SIZE_HELP,
};
use super::{
    alloc_size, Body, Continue, EndKind, Ending, Events, FileBody, GrpcAt, Gzip, H2End, Handshake,
    Length, Offset, Plan, Replace, WsBad, WsClose, WsSend, DEFAULT_CHUNK, DEFAULT_EVERY,
    GRPC_CODES, MAX_EVENTS,
};
use std::fmt::{self, Write as _};
use std::sync::Arc;

/// Whether a step takes a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// `echo`.
    None,
    /// `status=CODE`: the usage text of the value.
    Required(&'static str),
    /// `chunked` or `chunked=SIZE`.
    Optional(&'static str),
    /// `stall@N`: required, written after `@` (`=` is taken too).
    At(&'static str),
}

/// Steps in one group contradict each other; a `Replace` step also contradicts every step that
/// shapes the HTTP response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// No conflicts.
    Free,
    /// Where the body comes from.
    Body,
    /// How the exchange ends (reset, close, hang, and reuse, which ends the next one).
    Ending,
    /// Steps that replace the whole response.
    Replace,
    /// How the body is represented (`gzip`, `ranges`): ranges of a gzip stream are not offered.
    Representation,
}

/// Which protocol a step has a meaning in. A step of the other protocol in a request's plan
/// is a plan error answered `400` (HTTP/1.1) or `400` on the stream (HTTP/2), naming it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// Both.
    Any,
    /// HTTP/1.x only: it shapes HTTP/1 framing or the connection.
    H1,
    /// HTTP/2 only: frames, streams, gRPC.
    H2,
    /// WebSocket only (an HTTP/1.1 request with `Upgrade: websocket`).
    Ws,
    /// A WebSocket tunnel in proxy mode only (an upgrade request the proxy forwards): the
    /// client-to-upstream direction of the relayed frames (`up:`).
    Tunnel,
}

impl Proto {
    /// As error messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Any => "any protocol",
            Proto::H1 => "HTTP/1.1",
            Proto::H2 => "HTTP/2",
            Proto::Ws => "WebSocket",
            Proto::Tunnel => "a proxied WebSocket tunnel (proxy mode)",
        }
    }
}

/// What a step is to a plan whose `times` or `chance` does not apply to a request: that
/// request gets the plan without its faults, the answer a healthy server would send (so
/// `times=1/body=100k/close=50k` gives the whole 100 KiB body afterwards).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// What a healthy server sends too (body, headers, framing, representation): kept.
    Content,
    /// Content, except with this value, which is a fault (`gzip=bad`): dropped then.
    ContentUnless(&'static str),
    /// A fault (status, endings, delays, malformed framing): dropped.
    Fault,
    /// `times` and `chance` themselves: dropped.
    Limit,
}

impl Role {
    /// Does a segment with this value stay when the plan does not apply?
    pub fn kept(self, value: Option<&str>) -> bool {
        match self {
            Role::Content => true,
            Role::ContentUnless(fault) => value != Some(fault),
            Role::Fault | Role::Limit => false,
        }
    }

    /// The mark of `--help`'s step list: `*` for content steps.
    pub fn mark(self) -> char {
        match self {
            Role::Content | Role::ContentUnless(_) => '*',
            Role::Fault | Role::Limit => ' ',
        }
    }
}

/// What proxy mode does with a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proxy {
    /// It makes the response itself: the request is answered as in server mode, without
    /// contacting the upstream.
    Answers,
    /// It shapes the upstream's response as it is relayed.
    Shapes,
    /// An ending: it shapes the relayed response, except at a request offset (`reset=req:N`),
    /// where it ends the exchange before anything is forwarded (a lost request).
    Ending,
    /// Proxy mode cannot honour it: a plan with it is a `400` naming why.
    Refused(&'static str),
}

impl Proxy {
    /// As the step reference says it.
    pub fn describe(self) -> &'static str {
        match self {
            Proxy::Answers => "answers without the upstream",
            Proxy::Shapes => "shapes the upstream's response",
            Proxy::Ending => "cuts the upstream's response (`req:N`: before forwarding)",
            Proxy::Refused(_) => "refused (400)",
        }
    }
}

/// The heap bytes of a step's value in a plan.
pub type Cost = fn(&Plan) -> usize;

fn no_cost(_: &Plan) -> usize {
    0
}

fn pairs_cost(v: &[(String, String)], capacity: usize) -> usize {
    alloc_size(capacity * std::mem::size_of::<(String, String)>())
        + v.iter()
            .map(|(a, b)| alloc_size(a.capacity()) + alloc_size(b.capacity()))
            .sum::<usize>()
}

fn cost_headers(p: &Plan) -> usize {
    pairs_cost(&p.headers, p.headers.capacity())
}

fn cost_trailers(p: &Plan) -> usize {
    pairs_cost(&p.trailers, p.trailers.capacity())
}

fn cost_body(p: &Plan) -> usize {
    match &p.body {
        Body::Text(t) => alloc_size(t.capacity()),
        _ => 0,
    }
}

/// A file's path, and its bytes when this plan holds them alone: bytes shared with other
/// plans that read the same file (see `plan::files`) cost nothing more.
fn cost_file(p: &Plan) -> usize {
    match &p.body {
        Body::File(f) => {
            let bytes = match Arc::strong_count(&f.bytes) {
                1 => alloc_size(f.bytes.len() + 16),
                _ => 0,
            };
            alloc_size(f.path.len()) + bytes
        }
        _ => 0,
    }
}

fn cost_raw(p: &Plan) -> usize {
    match &p.replace {
        Some(Replace::Raw(r)) => alloc_size(r.capacity()),
        _ => 0,
    }
}

fn cost_pauses(p: &Plan) -> usize {
    alloc_size(p.pauses.capacity() * std::mem::size_of::<(Offset, std::time::Duration)>())
}

fn cost_info(p: &Plan) -> usize {
    alloc_size(p.info.capacity() * std::mem::size_of::<u16>())
}

fn cost_extra(p: &Plan) -> usize {
    p.extra.as_ref().map_or(0, |e| alloc_size(e.capacity()))
}

fn cost_grpc_message(p: &Plan) -> usize {
    p.h2.grpc_message
        .as_ref()
        .map_or(0, |m| alloc_size(m.capacity()))
}

/// What a step's `set` function gets: the percent-decoded value, if any.
type Set = fn(&mut Plan, Option<&[u8]>) -> Result<(), &'static str>;
/// Writes the step's segments of a plan, if the plan has it.
type Print = fn(&Plan, &mut Printer<'_, '_>) -> fmt::Result;

/// One step of the plan language.
pub struct StepDef {
    /// The name before `=`.
    pub name: &'static str,
    /// Its value.
    pub value: Value,
    /// May be given more than once.
    pub repeatable: bool,
    /// The protocol it works in.
    pub proto: Proto,
    /// Conflict group.
    pub group: Group,
    /// Shapes the HTTP response head or body (so `raw` and `garbage` cannot go with it).
    pub shapes: bool,
    /// Kept or dropped when `times` or `chance` does not apply.
    pub role: Role,
    /// One line for `--help`.
    pub help: &'static str,
    /// An example for `--help`.
    pub example: &'static str,
    /// What proxy mode does with it.
    pub proxy: Proxy,
    /// The heap bytes its value holds in a plan (the journal's bound counts them).
    pub cost: Cost,
    /// What goes on the wire, for the step reference (docs/plans.md).
    pub docs: &'static str,
    /// What curl reports, measured (`curl -sS http://127.0.0.1:9000/PLAN`, curl 7.88).
    pub curl: &'static str,
    set: Set,
    print: Print,
}

impl StepDef {
    /// `name`, `name=VALUE` or `name[=VALUE]`, as `--help` shows it.
    pub fn synopsis(&self) -> String {
        match self.value {
            Value::None => self.name.to_string(),
            Value::Required(v) => format!("{}={v}", self.name),
            Value::Optional(v) => format!("{}[={v}]", self.name),
            Value::At(v) => format!("{}@{v}", self.name),
        }
    }

    pub(super) fn set(&self, plan: &mut Plan, value: Option<&[u8]>) -> Result<(), &'static str> {
        (self.set)(plan, value)
    }

    pub(super) fn print(&self, plan: &Plan, out: &mut Printer<'_, '_>) -> fmt::Result {
        (self.print)(plan, out)
    }
}

/// Writes `/`-separated segments.
pub struct Printer<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    first: bool,
}

impl<'a, 'b> Printer<'a, 'b> {
    pub(super) fn new(f: &'a mut fmt::Formatter<'b>) -> Self {
        Printer { f, first: true }
    }

    /// One segment: `name` or `name=value`.
    fn step(&mut self, name: &str, value: Option<fmt::Arguments<'_>>) -> fmt::Result {
        if !self.first {
            self.f.write_char('/')?;
        }
        self.first = false;
        self.f.write_str(name)?;
        if let Some(v) = value {
            self.f.write_char('=')?;
            self.f.write_fmt(v)?;
        }
        Ok(())
    }
}

/// The value as UTF-8 text.
fn text(v: Option<&[u8]>) -> Result<&str, &'static str> {
    std::str::from_utf8(v.unwrap_or_default()).map_err(|_| "text")
}

fn size(v: Option<&[u8]>) -> Result<u64, &'static str> {
    parse_size(text(v)?).ok_or(SIZE_HELP)
}

fn dur(v: Option<&[u8]>) -> Result<std::time::Duration, &'static str> {
    parse_duration(text(v)?).ok_or(DUR_HELP)
}

fn yes_no(v: Option<&[u8]>) -> Result<bool, &'static str> {
    match text(v)? {
        "no" => Ok(false),
        "yes" => Ok(true),
        _ => Err("'no' or 'yes'"),
    }
}

fn ending(plan: &mut Plan, kind: EndKind, v: Option<&[u8]>) -> Result<(), &'static str> {
    let at = match v {
        None => None,
        Some(_) => Some(parse_offset(text(v)?).ok_or(OFFSET_HELP)?),
    };
    plan.ending = Some(Ending { kind, at });
    Ok(())
}

fn print_ending(p: &Plan, out: &mut Printer<'_, '_>, kind: EndKind) -> fmt::Result {
    match p.ending {
        Some(e) if e.kind == kind => match e.at {
            Some(at) => out.step(kind.name(), Some(format_args!("{at}"))),
            None => out.step(kind.name(), None),
        },
        _ => Ok(()),
    }
}

/// A `NAME:VALUE` field, as `header=` and `trailer=` take it.
fn field(v: Option<&[u8]>) -> Result<(String, String), &'static str> {
    let t = text(v)?;
    let (name, val) = t.split_once(':').ok_or("NAME:VALUE, e.g. X-Test:1")?;
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err("a header name of letters, digits and !#$%&'*+-.^_`|~");
    }
    let val = val.trim_matches(|c| c == ' ' || c == '\t');
    if val.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err("a value without CR, LF or NUL (use raw= for those)");
    }
    Ok((name.to_string(), val.to_string()))
}

fn print_fields(out: &mut Printer<'_, '_>, step: &str, fields: &[(String, String)]) -> fmt::Result {
    for (name, value) in fields {
        let (n, v) = (Encoded(name.as_bytes()), Encoded(value.as_bytes()));
        out.step(step, Some(format_args!("{n}:{v}")))?;
    }
    Ok(())
}

/// A three-digit status code in `range`.
fn code(v: Option<&[u8]>, range: std::ops::RangeInclusive<u16>) -> Option<u16> {
    let t = text(v).ok()?;
    t.parse::<u16>()
        .ok()
        .filter(|c| range.contains(c) && t.len() == 3)
}

/// An OFFSET of response body bytes (`1000`, `64k`, `end`), as the HTTP/2 steps take it.
fn body_offset(v: Option<&[u8]>) -> Result<Offset, &'static str> {
    match parse_offset(text(v)?) {
        Some(o @ (Offset::Body(_) | Offset::End | Offset::Msg { .. })) => Ok(o),
        _ => Err("a body offset (DATA payload bytes of the stream), e.g. 1000, 64k, end or 3msg"),
    }
}

/// `CODE` or `CODE@N`: an HTTP/2 error code and an optional body offset.
fn code_at(v: Option<&[u8]>) -> Result<(u32, Option<Offset>), &'static str> {
    const CODES: &str = "an error code (name such as cancel, or number), then optionally @N";
    let t = text(v)?;
    let (code, at) = match t.split_once('@') {
        Some((c, n)) => (c, Some(body_offset(Some(n.as_bytes()))?)),
        None => (t, None),
    };
    Ok((Reason::parse(code).ok_or(CODES)?.0, at))
}

/// `grpc-status=CODE@N`'s N: a count of messages (`2`, `2msg`), or `2msg+10` (10 bytes of the
/// 3rd before the trailers).
fn grpc_at(t: &str) -> Result<GrpcAt, &'static str> {
    const AT: &str = "a message count from 0 to 1000000 after @: 2, 2msg or 2msg+10 (10 bytes \
                      into the 3rd)";
    let count = |d: &str| {
        d.parse::<u64>()
            .ok()
            .filter(|_| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    };
    let at = match count(t) {
        Some(n) => GrpcAt { n, plus: 0 },
        None => match parse_offset(t) {
            Some(Offset::Msg {
                unit: super::units::Unit::Msg,
                n,
                plus,
            }) => GrpcAt { n, plus },
            _ => return Err(AT),
        },
    };
    // As many messages as `grpc-messages` allows: without it, `@N` is the stream's length.
    match at.n <= MAX_GRPC_MESSAGES {
        true => Ok(at),
        false => Err(AT),
    }
}

fn print_code_at(
    out: &mut Printer<'_, '_>,
    step: &str,
    code: u32,
    at: Option<Offset>,
) -> fmt::Result {
    let code = Reason(code);
    match at {
        Some(at) => out.step(step, Some(format_args!("{code}@{at}"))),
        None => out.step(step, Some(format_args!("{code}"))),
    }
}

/// Is `b` a header-name (token) byte?
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Every step, in the order of printing, `--help` and error messages.
pub static STEPS: &[StepDef] = &[
    StepDef {
        name: "status",
        value: Value::Required("CODE"),
        repeatable: false,
        proto: Proto::Any,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "status code, standard reason",
        example: "status=503",
        proxy: Proxy::Answers,
        cost: no_cost,
        docs: "status CODE (100 to 999) with its reason phrase (`Unknown` for codes without one)",
        curl: "0 (22 with `-f` for 4xx/5xx)",
        set: |p, v| {
            let t = text(v)?;
            let code = t
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=999).contains(c) && t.len() == 3)
                .ok_or("a code from 100 to 999")?;
            p.status = Some(code);
            Ok(())
        },
        print: |p, out| match p.status {
            Some(code) => out.step("status", Some(format_args!("{code}"))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "header",
        value: Value::Required("NAME:VALUE"),
        repeatable: true,
        proto: Proto::Any,
        group: Group::Free,
        shapes: true,
        role: Role::Content,
        help: "add a header (repeatable)",
        example: "header=Retry-After:1",
        proxy: Proxy::Shapes,
        cost: cost_headers,
        docs: "adds the header, after the built-in ones; may repeat; in proxy mode added to the upstream's response",
        curl: "0",
        set: |p, v| {
            p.headers.push(field(v)?);
            Ok(())
        },
        print: |p, out| print_fields(out, "header", &p.headers),
    },
    StepDef {
        name: "body",
        value: Value::Required("SIZE"),
        repeatable: false,
        proto: Proto::Any,
        group: Group::Body,
        shapes: true,
        role: Role::Content,
        help: "SIZE bytes of printable filler",
        example: "body=10m",
        proxy: Proxy::Answers,
        cost: no_cost,
        docs: "SIZE bytes of printable filler (`abc...XYZ0-9-_` repeated)",
        curl: "0",
        set: |p, v| {
            p.body = Body::Filler(size(v)?);
            Ok(())
        },
        print: |p, out| match p.body {
            Body::Filler(n) => out.step("body", Some(format_args!("{}", SizeText(n)))),
            _ => Ok(()),
        },
    },
    StepDef {
        name: "text",
        value: Value::Required("TEXT"),
        repeatable: false,
        proto: Proto::Any,
        group: Group::Body,
        shapes: true,
        role: Role::Content,
        help: "this body",
        example: "text=hi%20there",
        proxy: Proxy::Answers,
        cost: cost_body,
        docs: "TEXT as the body",
        curl: "0",
        set: |p, v| {
            p.body = Body::Text(v.unwrap_or_default().to_vec());
            Ok(())
        },
        print: |p, out| match &p.body {
            Body::Text(t) => out.step("text", Some(format_args!("{}", Encoded(t)))),
            _ => Ok(()),
        },
    },
    StepDef {
        name: "echo",
        value: Value::None,
        repeatable: false,
        proto: Proto::Any,
        group: Group::Body,
        shapes: true,
        role: Role::Content,
        help: "the request, as received, is the body",
        example: "echo",
        proxy: Proxy::Answers,
        cost: no_cost,
        docs: "the request exactly as received, head and body, as the body (request bodies up to 1 MiB)",
        curl: "0",
        set: |p, _| {
            p.body = Body::Echo;
            Ok(())
        },
        print: |p, out| match p.body {
            Body::Echo => out.step("echo", None),
            _ => Ok(()),
        },
    },
    StepDef {
        name: "file",
        value: Value::Required("PATH"),
        repeatable: false,
        proto: Proto::Any,
        group: Group::Body,
        shapes: true,
        role: Role::Content,
        help: "the file's bytes (at most 64 MiB)",
        example: "file=chat.sse",
        proxy: Proxy::Answers,
        cost: cost_file,
        docs: "the bytes of the file at PATH (a `/` in it is `%2F`), read when the plan is \
               loaded, at most 64 MiB, shared by every plan that names the same file. The \
               command line, routes files and the library read any regular file (a relative \
               PATH from the current directory); a plan from a request (path, \
               `X-Httpfault-Plan`, the control API) gets a `400` naming why, unless \
               `--files DIR`: then files under DIR only (`..` and symbolic links are resolved \
               first). No `Content-Type` unless `header=` gives one",
        curl: "0",
        set: |p, v| {
            let path = v.unwrap_or_default();
            if path.is_empty() || path.contains(&0) {
                return Err("a file path (each / written %2F)");
            }
            p.body = Body::File(FileBody {
                path: path.into(),
                bytes: Arc::from(&[][..]),
            });
            Ok(())
        },
        print: |p, out| match &p.body {
            Body::File(f) => out.step("file", Some(format_args!("{}", Encoded(&f.path)))),
            _ => Ok(()),
        },
    },
    StepDef {
        name: "sse",
        value: Value::Required("N[,INTERVAL]"),
        repeatable: false,
        proto: Proto::H1,
        group: Group::Body,
        shapes: true,
        role: Role::Content,
        help: "N events (id/data K) every INTERVAL",
        example: "sse=5,1s",
        proxy: Proxy::Answers,
        cost: no_cost,
        docs: "`Content-Type: text/event-stream`, `Cache-Control: no-cache`, chunked with an \
               event a chunk (`length=none`: delimited by the close); events `id: K` / \
               `data: K` for K from 1 to N (at most 1000000), the first with the head, then \
               one every INTERVAL (default 100ms: a pause on the timeline after each event \
               but the last, after any cut there). `Last-Event-ID: K` gets events K+1..N, and \
               `204 No Content` once none is left (unless `status=` says otherwise). \
               HTTP/1.1 only for now",
        curl: "0",
        set: |p, v| {
            const EVENTS: &str = "a count of events from 0 to 1000000, then optionally \
                                  ,INTERVAL (e.g. 5 or 5,1s; default 100ms)";
            let t = text(v)?;
            let (n, every) = match t.split_once(',') {
                Some((n, d)) => (n, parse_duration(d).ok_or(DUR_HELP)?),
                None => (t, DEFAULT_EVERY),
            };
            let count = n
                .parse::<u64>()
                .ok()
                .filter(|c| *c <= MAX_EVENTS && n.bytes().all(|b| b.is_ascii_digit()))
                .ok_or(EVENTS)?;
            p.body = Body::Sse(Events { count, every });
            Ok(())
        },
        print: |p, out| match p.body {
            Body::Sse(e) if e.every == DEFAULT_EVERY => {
                out.step("sse", Some(format_args!("{}", e.count)))
            }
            Body::Sse(e) => out.step(
                "sse",
                Some(format_args!("{},{}", e.count, DurText(e.every))),
            ),
            _ => Ok(()),
        },
    },
    StepDef {
        name: "sse-retry",
        value: Value::Required("MS"),
        repeatable: false,
        proto: Proto::H1,
        group: Group::Free,
        shapes: true,
        role: Role::Content,
        help: "sse: a retry: MS field first",
        example: "sse=5/sse-retry=2000",
        proxy: Proxy::Answers,
        cost: no_cost,
        docs: "with `sse`: a block `retry: MS` (a field alone, no event) before the first \
               event of every response, which clients take as their reconnection delay",
        curl: "0",
        set: |p, v| {
            let t = text(v)?;
            let ms = t
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms <= 86_400_000 && t.bytes().all(|b| b.is_ascii_digit()))
                .ok_or("milliseconds from 0 to 86400000")?;
            p.sse_retry = Some(ms);
            Ok(())
        },
        print: |p, out| match p.sse_retry {
            Some(ms) => out.step("sse-retry", Some(format_args!("{ms}"))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "length",
        value: Value::Required("N|none"),
        repeatable: false,
        proto: Proto::Any,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "declare Content-Length N / none",
        example: "length=100",
        proxy: Proxy::Shapes,
        cost: no_cost,
        docs: "`length=N`: `Content-Length: N` whatever the real body is (longer: on a kept-alive connection the client waits for bytes that never come, until `--read-timeout` closes the idle connection; on an HTTP/1.0 or `Connection: close` request the server closes right after the real body; for a wait in every case use `length=N/hang=end`; shorter: the rest of the body is left over on the connection). `length=none`: no `Content-Length`; the body ends with a FIN",
        curl: "longer, kept alive: 28 with `--max-time`, else 18 when the server gives up; longer, closing: 18 at once; `length=N/hang=end`: 28; shorter: 0; `length=none`: 0",
        set: |p, v| {
            p.length = if text(v)? == "none" {
                Length::Omitted
            } else {
                Length::Declared(size(v).map_err(|_| "a byte count or 'none'")?)
            };
            Ok(())
        },
        print: |p, out| match p.length {
            Length::Auto => Ok(()),
            Length::Declared(n) => out.step("length", Some(format_args!("{}", SizeText(n)))),
            Length::Omitted => out.step("length", Some(format_args!("none"))),
        },
    },
    StepDef {
        name: "chunked",
        value: Value::Optional("SIZE"),
        repeatable: false,
        proto: Proto::H1,
        group: Group::Free,
        shapes: true,
        role: Role::Content,
        help: "chunked, SIZE-byte chunks (default 8)",
        example: "chunked=4",
        proxy: Proxy::Answers,
        cost: no_cost,
        docs: "`Transfer-Encoding: chunked`, chunks of 8 / SIZE bytes",
        curl: "0",
        set: |p, v| {
            p.chunked = Some(match v {
                None => DEFAULT_CHUNK,
                Some(_) => size(v)
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or("a chunk size of at least 1 byte")?,
            });
            Ok(())
        },
        print: |p, out| match p.chunked {
            // `badchunk` and `trailer` imply chunked, so a bare default `chunked` beside them
            // is implied.
            Some(DEFAULT_CHUNK) if p.badchunk || !p.trailers.is_empty() => Ok(()),
            Some(DEFAULT_CHUNK) => out.step("chunked", None),
            Some(n) => out.step("chunked", Some(format_args!("{}", SizeText(n)))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "badchunk",
        value: Value::None,
        repeatable: false,
        proto: Proto::H1,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "a malformed chunk-size line",
        example: "chunked=4/badchunk",
        proxy: Proxy::Answers,
        cost: no_cost,
        docs: "chunked (8-byte chunks unless `chunked=SIZE`), but the second chunk's size line (the first if there is one chunk) is `zz`; then a FIN",
        curl: "56 (bad chunk)",
        set: |p, _| {
            p.badchunk = true;
            p.chunked.get_or_insert(DEFAULT_CHUNK);
            Ok(())
        },
        print: |p, out| match p.badchunk {
            true => out.step("badchunk", None),
            false => Ok(()),
        },
    },
    StepDef {
        name: "keepalive",
        value: Value::Required("no"),
        repeatable: false,
        proto: Proto::H1,
        group: Group::Free,
        shapes: true,
        role: Role::Content,
        help: "Connection: close, then FIN",
        example: "keepalive=no",
        proxy: Proxy::Shapes,
        cost: no_cost,
        docs: "`keepalive=no`: `Connection: close`, then a FIN after the response",
        curl: "0",
        set: |p, v| {
            p.keepalive = Some(yes_no(v)?);
            Ok(())
        },
        print: |p, out| match p.keepalive {
            Some(k) => out.step(
                "keepalive",
                Some(format_args!("{}", if k { "yes" } else { "no" })),
            ),
            None => Ok(()),
        },
    },
    StepDef {
        name: "delay",
        value: Value::Required("DUR"),
        repeatable: false,
        proto: Proto::Any,
        group: Group::Free,
        shapes: false,
        role: Role::Fault,
        help: "wait before the first byte",
        example: "delay=2s",
        proxy: Proxy::Shapes,
        cost: no_cost,
        docs: "waits DUR after reading the request, before the first byte",
        curl: "0 (28 if `--max-time` is shorter)",
        set: |p, v| {
            p.delay = Some(dur(v)?);
            Ok(())
        },
        print: |p, out| match p.delay {
            Some(d) => out.step("delay", Some(format_args!("{}", DurText(d)))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "pause",
        value: Value::Required("OFFSET,DUR"),
        repeatable: true,
        proto: Proto::Any,
        group: Group::Free,
        shapes: false,
        role: Role::Fault,
        help: "stop sending for DUR (repeatable)",
        example: "pause=6,1s",
        proxy: Proxy::Shapes,
        cost: cost_pauses,
        docs: "stops sending for DUR at OFFSET; may repeat; `pause=head:17,1s` falls after the status line; `pause=3ev,2s` after the 3rd event. A pause shifts the pace of `rate`: it never counts against it. On a WebSocket connection OFFSET counts the server's frame bytes after the `101` head, and `3msg` its complete messages",
        curl: "0",
        set: |p, v| {
            let (off, d) = text(v)?
                .split_once(',')
                .ok_or("OFFSET,DUR, e.g. 6,2s or head:10,500ms")?;
            let off = parse_offset(off).ok_or(OFFSET_HELP)?;
            if matches!(off, Offset::Req(_)) {
                return Err("a response offset (req: is for reset, close and hang)");
            }
            let d = parse_duration(d).ok_or(DUR_HELP)?;
            p.pauses.push((off, d));
            Ok(())
        },
        print: |p, out| {
            for (off, d) in &p.pauses {
                out.step("pause", Some(format_args!("{off},{}", DurText(*d))))?;
            }
            Ok(())
        },
    },
    StepDef {
        name: "rate",
        value: Value::Required("SIZE"),
        repeatable: false,
        proto: Proto::Any,
        group: Group::Free,
        shapes: false,
        role: Role::Fault,
        help: "send SIZE bytes per second",
        example: "rate=1",
        proxy: Proxy::Shapes,
        cost: no_cost,
        docs: "the whole response, head included, at SIZE bytes a second (about 50 writes a second; `rate=1` is a one-byte-a-second tarpit)",
        curl: "0",
        set: |p, v| {
            let r = size(v)
                .ok()
                .filter(|r| *r > 0)
                .ok_or("bytes per second, at least 1 (e.g. 1, 512, 64k)")?;
            p.rate = Some(r);
            Ok(())
        },
        print: |p, out| match p.rate {
            Some(r) => out.step("rate", Some(format_args!("{}", SizeText(r)))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "reset",
        value: Value::Optional("OFFSET"),
        repeatable: false,
        proto: Proto::Any,
        group: Group::Ending,
        shapes: false,
        role: Role::Fault,
        help: "RST, no response / after OFFSET",
        example: "reset=6",
        proxy: Proxy::Ending,
        cost: no_cost,
        docs: "bare: reads the request, sends nothing, RST. `reset=OFFSET`: the response up to OFFSET (`6`, `64k`, `head:10`, `end`, `3ev`, `3msg+10`), then RST, once the client has acknowledged every byte. `reset=req:N`: reads exactly N bytes of the request body (all of it if shorter; chunk framing counts), then RST; no response (a client that sent `Expect: 100-continue` gets `100 Continue` first, unless `continue=no`). On a WebSocket connection OFFSET counts the server's frame bytes after the `101` head, and `3msg` its complete messages",
        curl: "56",
        set: |p, v| ending(p, EndKind::Reset, v),
        print: |p, out| print_ending(p, out, EndKind::Reset),
    },
    StepDef {
        name: "close",
        value: Value::Optional("OFFSET"),
        repeatable: false,
        proto: Proto::Any,
        group: Group::Ending,
        shapes: false,
        role: Role::Fault,
        help: "FIN, no response / after OFFSET",
        example: "close=head:10",
        proxy: Proxy::Ending,
        cost: no_cost,
        docs: "bare: reads the request, sends nothing, FIN: an empty reply. `close=OFFSET`: the response up to OFFSET, then FIN. `close=req:N`: reads exactly N bytes of the request body, then FIN; after it the server reads and drops the rest of the upload until the client closes (at most 2 s), so it stays a FIN. On a WebSocket connection OFFSET counts the server's frame bytes after the `101` head, and `3msg` its complete messages",
        curl: "bare: 52; inside the body: 18; at `end`: 0; `req:N`: 52",
        set: |p, v| ending(p, EndKind::Close, v),
        print: |p, out| print_ending(p, out, EndKind::Close),
    },
    StepDef {
        name: "hang",
        value: Value::Optional("OFFSET"),
        repeatable: false,
        proto: Proto::Any,
        group: Group::Ending,
        shapes: false,
        role: Role::Fault,
        help: "stay silent, no response / after OFFSET",
        example: "hang=6",
        proxy: Proxy::Ending,
        cost: no_cost,
        docs: "bare: sends nothing; the connection stays open and silent until the client leaves. `hang=OFFSET`: the response up to OFFSET, then silence. `hang=req:N`: reads N bytes of the request body, then nothing more: the client's upload stalls once the socket buffers fill. On a WebSocket connection OFFSET counts the server's frame bytes after the `101` head, and `3msg` its complete messages",
        curl: "28 with `--max-time`",
        set: |p, v| ending(p, EndKind::Hang, v),
        print: |p, out| print_ending(p, out, EndKind::Hang),
    },
    StepDef {
        name: "garbage",
        value: Value::Required("SIZE"),
        repeatable: false,
        proto: Proto::H1,
        group: Group::Replace,
        shapes: false,
        role: Role::Fault,
        help: "SIZE random bytes, then FIN",
        example: "garbage=64",
        proxy: Proxy::Answers,
        cost: no_cost,
        docs: "SIZE random bytes (repeatable with `--seed`) instead of a response, then FIN",
        curl: "1 (`Received HTTP/0.9`), 8 on older curls",
        set: |p, v| {
            p.replace = Some(Replace::Garbage(size(v)?));
            Ok(())
        },
        print: |p, out| match p.replace {
            Some(Replace::Garbage(n)) => out.step("garbage", Some(format_args!("{}", SizeText(n)))),
            _ => Ok(()),
        },
    },
    StepDef {
        name: "raw",
        value: Value::Required("TEXT"),
        repeatable: false,
        proto: Proto::H1,
        group: Group::Replace,
        shapes: false,
        role: Role::Fault,
        help: "exactly these bytes, then FIN",
        example: "raw=HTTP%2F1.1%20200%0D%0A%0D%0A",
        proxy: Proxy::Answers,
        cost: cost_raw,
        docs: "exactly these bytes as the whole response, nothing added, then FIN (unless an ending step says otherwise; offsets then count from the first byte)",
        curl: "depends on TEXT",
        set: |p, v| {
            p.replace = Some(Replace::Raw(v.unwrap_or_default().to_vec()));
            Ok(())
        },
        print: |p, out| match &p.replace {
            Some(Replace::Raw(b)) => out.step("raw", Some(format_args!("{}", Encoded(b)))),
            _ => Ok(()),
        },
    },
    StepDef {
        name: "drain",
        value: Value::Required("no"),
        repeatable: false,
        proto: Proto::Any,
        group: Group::Free,
        shapes: false,
        role: Role::Fault,
        help: "answer without reading the body",
        example: "drain=no",
        proxy: Proxy::Refused("proxy mode forwards the request body to the upstream as it arrives: it cannot leave it unread"),
        cost: no_cost,
        docs: "`drain=no`: answers without reading the request body, then FIN; body bytes still unread make Linux send an RST, as a real server that answers an upload early does",
        curl: "depends on timing: see docs/clients.md",
        set: |p, v| {
            p.drain = yes_no(v)?;
            Ok(())
        },
        print: |p, out| match p.drain {
            false => out.step("drain", Some(format_args!("no"))),
            true => Ok(()),
        },
    },
    StepDef {
        name: "idle",
        value: Value::Required("DUR"),
        repeatable: false,
        proto: Proto::H1,
        group: Group::Free,
        shapes: false,
        role: Role::Fault,
        help: "FIN a kept-alive connection idle DUR",
        example: "idle=1s",
        proxy: Proxy::Shapes,
        cost: no_cost,
        docs: "after the response, a FIN once the kept-alive connection has been idle DUR",
        curl: "0",
        set: |p, v| {
            p.idle = Some(dur(v)?);
            Ok(())
        },
        print: |p, out| match p.idle {
            Some(d) => out.step("idle", Some(format_args!("{}", DurText(d)))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "reuse",
        value: Value::Required("reset|close"),
        repeatable: false,
        proto: Proto::H1,
        group: Group::Ending,
        shapes: false,
        role: Role::Fault,
        help: "answer; RST/FIN when the conn is reused",
        example: "reuse=reset",
        proxy: Proxy::Shapes,
        cost: no_cost,
        docs: "answers this request normally; when the client sends its next request on the same connection, RST (`reuse=reset`) or FIN (`reuse=close`) without an answer: the stale keep-alive connection race, every time",
        curl: "0, then curl retries the next request on a new connection",
        set: |p, v| {
            p.reuse = Some(match text(v)? {
                "reset" => EndKind::Reset,
                "close" => EndKind::Close,
                _ => return Err("'reset' or 'close'"),
            });
            Ok(())
        },
        print: |p, out| match p.reuse {
            Some(k) => out.step("reuse", Some(format_args!("{}", k.name()))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "continue",
        value: Value::Required("no|CODE"),
        repeatable: false,
        proto: Proto::H1,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "no 100 Continue / CODE, body unread",
        example: "continue=417",
        proxy: Proxy::Answers,
        cost: no_cost,
        docs: "`continue=no`: to `Expect: 100-continue`, no `100 Continue` (the client waits and sends anyway, and the body is read). `continue=CODE`: the final status CODE (200 to 999) at once, the body unread, then a FIN; without `Expect` the step does nothing",
        curl: "`no`: 0 after curl's 1 s wait; `CODE`: 0, curl retries without `Expect` and gets 200",
        set: |p, v| {
            p.expect = Some(if text(v)? == "no" {
                Continue::Never
            } else {
                Continue::Final(code(v, 200..=999).ok_or("'no' or a code from 200 to 999")?)
            });
            Ok(())
        },
        print: |p, out| match p.expect {
            Some(Continue::Never) => out.step("continue", Some(format_args!("no"))),
            Some(Continue::Final(c)) => out.step("continue", Some(format_args!("{c}"))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "info",
        value: Value::Required("CODE"),
        repeatable: true,
        proto: Proto::H1,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "an interim 1xx first (repeatable)",
        example: "info=103",
        proxy: Proxy::Answers,
        cost: cost_info,
        docs: "an interim response `HTTP/1.1 CODE Reason` (no fields) before the final response, as soon as the request is read (before `delay`); may repeat; 100 to 199 but not 101. `head:N` counts from the final status line",
        curl: "0",
        set: |p, v| {
            let c = code(v, 100..=199)
                .filter(|c| *c != 101)
                .ok_or("a code from 100 to 199 other than 101")?;
            p.info.push(c);
            Ok(())
        },
        print: |p, out| {
            for c in &p.info {
                out.step("info", Some(format_args!("{c}")))?;
            }
            Ok(())
        },
    },
    StepDef {
        name: "trailer",
        value: Value::Required("NAME:VALUE"),
        repeatable: true,
        proto: Proto::H1,
        group: Group::Free,
        shapes: true,
        role: Role::Content,
        help: "trailer after last chunk (repeatable)",
        example: "trailer=X-Sum:abc",
        proxy: Proxy::Answers,
        cost: cost_trailers,
        docs: "chunked (8-byte chunks unless `chunked=SIZE`) with `Trailer: NAME`, and the field after the last chunk; may repeat",
        curl: "0 (`-i` shows the trailer)",
        set: |p, v| {
            p.trailers.push(field(v)?);
            p.chunked.get_or_insert(DEFAULT_CHUNK);
            Ok(())
        },
        print: |p, out| print_fields(out, "trailer", &p.trailers),
    },
    StepDef {
        name: "extra",
        value: Value::Required("TEXT"),
        repeatable: false,
        proto: Proto::H1,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "these bytes after the response",
        example: "extra=HTTP%2F1.1",
        proxy: Proxy::Answers,
        cost: cost_extra,
        docs: "TEXT right after the complete response, as if a second response began (`end` includes it)",
        curl: "0",
        set: |p, v| {
            p.extra = Some(v.unwrap_or_default().to_vec());
            Ok(())
        },
        print: |p, out| match &p.extra {
            Some(b) => out.step("extra", Some(format_args!("{}", Encoded(b)))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "lf",
        value: Value::None,
        repeatable: false,
        proto: Proto::H1,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "head lines end with a bare LF",
        example: "lf",
        proxy: Proxy::Answers,
        cost: no_cost,
        docs: "the head's lines (and those of `info` responses) end with a bare LF instead of CRLF",
        curl: "0",
        set: |p, _| {
            p.lf = true;
            Ok(())
        },
        print: |p, out| match p.lf {
            true => out.step("lf", None),
            false => Ok(()),
        },
    },
    StepDef {
        name: "gzip",
        value: Value::Optional("bad"),
        repeatable: false,
        proto: Proto::H1,
        group: Group::Representation,
        shapes: true,
        role: Role::ContentUnless("bad"),
        help: "gzip the body / a byte off: bad CRC",
        example: "gzip=bad",
        proxy: Proxy::Answers,
        cost: no_cost,
        docs: "`gzip`: the body as a real gzip stream (stored deflate blocks, CRC-32, size) with `Content-Encoding: gzip`; `Content-Length` is the encoded length; combines with `chunked`. `gzip=bad`: the same with a data byte changed and the CRC-32 of the original, so decompression fails at the end",
        curl: "`gzip`: 0 with `--compressed`; `gzip=bad`: 61 with `--compressed`",
        set: |p, v| {
            p.gzip = Some(match v {
                None => Gzip::Good,
                Some(_) if text(v)? == "bad" => Gzip::BadCrc,
                Some(_) => return Err("nothing, or 'bad'"),
            });
            Ok(())
        },
        print: |p, out| match p.gzip {
            Some(Gzip::Good) => out.step("gzip", None),
            Some(Gzip::BadCrc) => out.step("gzip", Some(format_args!("bad"))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "readrate",
        value: Value::Required("SIZE"),
        repeatable: false,
        proto: Proto::H1,
        group: Group::Free,
        shapes: false,
        role: Role::Fault,
        help: "read the upload at SIZE bytes/second",
        example: "readrate=1k",
        proxy: Proxy::Answers,
        cost: no_cost,
        docs: "reads the request body at SIZE bytes a second (about 50 reads a second); TCP flow control slows the client's upload once the buffers fill",
        curl: "0, slower",
        set: |p, v| {
            let r = size(v)
                .ok()
                .filter(|r| *r > 0)
                .ok_or("bytes per second, at least 1 (e.g. 1, 512, 64k)")?;
            p.readrate = Some(r);
            Ok(())
        },
        print: |p, out| match p.readrate {
            Some(r) => out.step("readrate", Some(format_args!("{}", SizeText(r)))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "ranges",
        value: Value::None,
        repeatable: false,
        proto: Proto::H1,
        group: Group::Representation,
        shapes: true,
        role: Role::Content,
        help: "honour Range/If-Range: 206/416, ETag",
        example: "body=10m/ranges",
        proxy: Proxy::Answers,
        cost: no_cost,
        docs: "`Accept-Ranges: bytes` and a strong `ETag` derived from the body step; one `Range: bytes=A-B`, `A-` or `-N` gets `206 Partial Content` with `Content-Range`; a malformed, multiple or unsatisfiable one gets `416`; an `If-Range` other than the ETag gets the whole 200. Offsets then count in the partial body; not with `gzip`",
        curl: "0: `-r 7-` prints `world!`; `-C -` resumes a download cut by `reset=N`",
        set: |p, _| {
            p.ranges = true;
            Ok(())
        },
        print: |p, out| match p.ranges {
            true => out.step("ranges", None),
            false => Ok(()),
        },
    },
    StepDef {
        name: "times",
        value: Value::Required("N"),
        repeatable: false,
        proto: Proto::Any,
        group: Group::Free,
        shapes: false,
        role: Role::Limit,
        help: "the plan for the first N requests only",
        example: "times=2/reset",
        proxy: Proxy::Shapes,
        cost: no_cost,
        docs: "the plan applies to the first N requests to this exact path (without the query), per method; later ones get the plan without its faults",
        curl: "e.g. `times=2/reset`: 56, 56, 0",
        set: |p, v| {
            let t = text(v)?;
            let n = t
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= 1 && t.bytes().all(|b| b.is_ascii_digit()))
                .ok_or("a count of at least 1")?;
            p.times = Some(n);
            Ok(())
        },
        print: |p, out| match p.times {
            Some(n) => out.step("times", Some(format_args!("{n}"))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "chance",
        value: Value::Required("P"),
        repeatable: false,
        proto: Proto::Any,
        group: Group::Free,
        shapes: false,
        role: Role::Limit,
        help: "the plan with probability P, else 200",
        example: "chance=0.5/reset",
        proxy: Proxy::Shapes,
        cost: no_cost,
        docs: "the plan applies with probability P (0 to 1), else the plan without its faults; the same `--seed` and request sequence give the same outcomes",
        curl: "56 or 0",
        set: |p, v| {
            let t = text(v)?;
            let prob = t
                .parse::<f64>()
                .ok()
                .filter(|x| {
                    (0.0..=1.0).contains(x) && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                })
                .ok_or("a probability from 0 to 1, e.g. 0.25")?;
            p.chance = Some(prob);
            Ok(())
        },
        print: |p, out| match p.chance {
            Some(x) => out.step("chance", Some(format_args!("{x}"))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "forward",
        value: Value::Required("no"),
        repeatable: false,
        proto: Proto::Any,
        group: Group::Free,
        shapes: false,
        role: Role::Fault,
        help: "proxy: do not forward (bare endings act at once)",
        example: "forward=no/reset",
        proxy: Proxy::Answers,
        cost: no_cost,
        docs: "(proxy mode) `forward=no`: nothing is forwarded; with `reset`, `close` or `hang` the lost request (the upstream never sees it); alone, httpfault's own answer",
        curl: "as the rest of the plan",
        set: |p, v| {
            p.forward = yes_no(v)?;
            Ok(())
        },
        print: |p, out| match p.forward {
            false => out.step("forward", Some(format_args!("no"))),
            true => Ok(()),
        },
    },
    StepDef {
        name: "tls",
        value: Value::Required("FAULT"),
        repeatable: true,
        proto: Proto::Any,
        group: Group::Free,
        shapes: false,
        role: Role::Fault,
        help: "a TLS fault (--tls; see TLS FAULTS)",
        example: "tls=expired",
        proxy: Proxy::Shapes,
        cost: no_cost,
        docs: "(`--tls`) `hang`: the ClientHello is never answered; `reset` / `close`: RST / FIN right after it; `alert=NAME`: a fatal alert instead of the ServerHello; `expired`, `wrong-host`, `self-signed`, `untrusted`: the handshake completes with such a certificate; `no-close-notify`: after the response, a FIN and no `close_notify`. The handshake faults come from the plan in force when the connection arrives (default plan or `--sni`), never from a path plan",
        curl: "`hang`: 28 with `--max-time`; `reset`, `close`, `alert`: 35; certificates: 60; `no-close-notify`: 0",
        set: |p, v| {
            let t = text(v)?;
            if t == "no-close-notify" {
                p.close_notify = false;
                return Ok(());
            }
            let h = Handshake::parse(t).ok_or(
                "hang, reset, close, alert=NAME, no-close-notify, expired, wrong-host, \
                 self-signed or untrusted",
            )?;
            if p.tls.is_some_and(|old| old != h) {
                return Err("one handshake fault per plan (no-close-notify may go beside it)");
            }
            p.tls = Some(h);
            Ok(())
        },
        print: |p, out| {
            if let Some(h) = p.tls {
                out.step("tls", Some(format_args!("{h}")))?;
            }
            if !p.close_notify {
                out.step("tls", Some(format_args!("no-close-notify")))?;
            }
            Ok(())
        },
    },
    StepDef {
        name: "rst",
        value: Value::Required("CODE[@N]"),
        repeatable: false,
        proto: Proto::H2,
        group: Group::Ending,
        shapes: false,
        role: Role::Fault,
        help: "RST_STREAM CODE, no head / after N",
        example: "rst=cancel@1000",
        proxy: Proxy::Refused("an HTTP/2 step: proxy mode forwards HTTP/1.1 only"),
        cost: no_cost,
        docs: "RST_STREAM with CODE (`cancel`, `refused_stream`, `internal_error`, ..., or a number) instead of the head / after N DATA bytes (`@3msg`: after the 3rd gRPC message)",
        curl: "92 (`refused_stream`: 56)",
        set: |p, v| {
            let (code, at) = code_at(v)?;
            p.h2.end = Some(H2End::Rst(code, at));
            Ok(())
        },
        print: |p, out| match p.h2.end {
            Some(H2End::Rst(code, at)) => print_code_at(out, "rst", code, at),
            _ => Ok(()),
        },
    },
    StepDef {
        name: "goaway",
        value: Value::Required("CODE[@N]"),
        repeatable: false,
        proto: Proto::H2,
        group: Group::Ending,
        shapes: false,
        role: Role::Fault,
        help: "GOAWAY CODE, close; no head / after N",
        example: "goaway=no_error@100",
        proxy: Proxy::Refused("an HTTP/2 step: proxy mode forwards HTTP/1.1 only"),
        cost: no_cost,
        docs: "GOAWAY with CODE and last-stream-id = the stream before this one, then the connection closes (FIN): before the head / after N DATA bytes",
        curl: "16",
        set: |p, v| {
            let (code, at) = code_at(v)?;
            p.h2.end = Some(H2End::GoAway(code, at));
            Ok(())
        },
        print: |p, out| match p.h2.end {
            Some(H2End::GoAway(code, at)) => print_code_at(out, "goaway", code, at),
            _ => Ok(()),
        },
    },
    StepDef {
        name: "goaway-keep",
        value: Value::None,
        repeatable: false,
        proto: Proto::H2,
        group: Group::Free,
        shapes: false,
        role: Role::Fault,
        help: "GOAWAY(this), answer, refuse later",
        example: "goaway-keep",
        proxy: Proxy::Refused("an HTTP/2 step: proxy mode forwards HTTP/1.1 only"),
        cost: no_cost,
        docs: "GOAWAY (NO_ERROR, last-stream-id = this stream) when the stream opens; it is answered, later streams get RST_STREAM REFUSED_STREAM",
        curl: "0",
        set: |p, _| {
            p.h2.goaway_keep = true;
            Ok(())
        },
        print: |p, out| match p.h2.goaway_keep {
            true => out.step("goaway-keep", None),
            false => Ok(()),
        },
    },
    StepDef {
        name: "window",
        value: Value::Required("0"),
        repeatable: false,
        proto: Proto::H2,
        group: Group::Free,
        shapes: false,
        role: Role::Fault,
        help: "never grant upload window (stalls)",
        example: "window=0",
        proxy: Proxy::Refused("an HTTP/2 step: proxy mode forwards HTTP/1.1 only"),
        cost: no_cost,
        docs: "`window=0`: never gives the stream's receive window back: an upload stalls once it has used the initial 64 KiB window",
        curl: "28 with `--max-time` on a larger upload",
        set: |p, v| {
            if text(v)? != "0" {
                return Err("0 (the only window this step sets)");
            }
            p.h2.window0 = true;
            Ok(())
        },
        print: |p, out| match p.h2.window0 {
            true => out.step("window", Some(format_args!("0"))),
            false => Ok(()),
        },
    },
    StepDef {
        name: "stall",
        value: Value::At("N"),
        repeatable: false,
        proto: Proto::H2,
        group: Group::Ending,
        shapes: false,
        role: Role::Fault,
        help: "nothing more after N DATA bytes",
        example: "stall@1000",
        proxy: Proxy::Refused("an HTTP/2 step: proxy mode forwards HTTP/1.1 only"),
        cost: no_cost,
        docs: "after N DATA bytes the stream gets nothing more (no END_STREAM, no RST)",
        curl: "28 with `--max-time`",
        set: |p, v| {
            p.h2.end = Some(H2End::Stall(body_offset(v)?));
            Ok(())
        },
        print: |p, out| match p.h2.end {
            Some(H2End::Stall(at)) => out.step(&format!("stall@{at}"), None),
            _ => Ok(()),
        },
    },
    StepDef {
        name: "maxstreams",
        value: Value::Required("N"),
        repeatable: false,
        proto: Proto::H2,
        group: Group::Free,
        shapes: false,
        role: Role::Fault,
        help: "MAX_CONCURRENT_STREAMS=N (1st plan)",
        example: "maxstreams=1",
        proxy: Proxy::Refused("an HTTP/2 step: proxy mode forwards HTTP/1.1 only"),
        cost: no_cost,
        docs: "SETTINGS_MAX_CONCURRENT_STREAMS=N (0 to 100, the server's limit) from the connection's first stream's plan; streams beyond it get RST_STREAM REFUSED_STREAM",
        curl: "0",
        set: |p, v| {
            let t = text(v)?;
            let n = t
                .parse::<u32>()
                .ok()
                .filter(|&n| t.bytes().all(|b| b.is_ascii_digit()) && n <= MAX_CONCURRENT_STREAMS)
                .ok_or("a stream count from 0 to 100 (the server's limit)")?;
            p.h2.maxstreams = Some(n);
            Ok(())
        },
        print: |p, out| match p.h2.maxstreams {
            Some(n) => out.step("maxstreams", Some(format_args!("{n}"))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "noheaders",
        value: Value::None,
        repeatable: false,
        proto: Proto::H2,
        group: Group::Ending,
        shapes: false,
        role: Role::Fault,
        help: "no HEADERS at all, then silence",
        example: "noheaders",
        proxy: Proxy::Refused("an HTTP/2 step: proxy mode forwards HTTP/1.1 only"),
        cost: no_cost,
        docs: "no HEADERS at all; the stream stays silent",
        curl: "28 with `--max-time`",
        set: |p, _| {
            p.h2.end = Some(H2End::NoHeaders);
            Ok(())
        },
        print: |p, out| match p.h2.end {
            Some(H2End::NoHeaders) => out.step("noheaders", None),
            _ => Ok(()),
        },
    },
    StepDef {
        name: "headers-only",
        value: Value::None,
        repeatable: false,
        proto: Proto::H2,
        group: Group::Ending,
        shapes: false,
        role: Role::Fault,
        help: "HEADERS, no END_STREAM, silence",
        example: "headers-only",
        proxy: Proxy::Refused("an HTTP/2 step: proxy mode forwards HTTP/1.1 only"),
        cost: no_cost,
        docs: "HEADERS without END_STREAM, then nothing",
        curl: "28 with `--max-time`",
        set: |p, _| {
            p.h2.end = Some(H2End::HeadersOnly);
            Ok(())
        },
        print: |p, out| match p.h2.end {
            Some(H2End::HeadersOnly) => out.step("headers-only", None),
            _ => Ok(()),
        },
    },
    StepDef {
        name: "ping-timeout",
        value: Value::None,
        repeatable: false,
        proto: Proto::H2,
        group: Group::Free,
        shapes: false,
        role: Role::Fault,
        help: "stop answering PING (connection)",
        example: "ping-timeout",
        proxy: Proxy::Refused("an HTTP/2 step: proxy mode forwards HTTP/1.1 only"),
        cost: no_cost,
        docs: "from this stream on, the connection answers no PING",
        curl: "0",
        set: |p, _| {
            p.h2.ping_timeout = true;
            Ok(())
        },
        print: |p, out| match p.h2.ping_timeout {
            true => out.step("ping-timeout", None),
            false => Ok(()),
        },
    },
    StepDef {
        name: "grpc-status",
        value: Value::Required("CODE[@N]"),
        repeatable: false,
        proto: Proto::H2,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "gRPC status 0-16|name (@N: after N msgs)",
        example: "grpc-status=unavailable@2",
        proxy: Proxy::Refused("an HTTP/2 step: proxy mode forwards HTTP/1.1 only"),
        cost: no_cost,
        docs: "a gRPC answer: `200`, `content-type: application/grpc`, and `grpc-status` (0 to 16, or a name such as `unavailable`) in trailers; with no body step a trailers-only response. `@N`: the trailers after N messages (N more than `grpc-messages` gives: never reached, status 0), a stream that fails midway; `@Nmsg+B`: B bytes of the next message first (a message cut short)",
        curl: "0",
        set: |p, v| {
            let t = text(v)?;
            let (t, at) = match t.split_once('@') {
                Some((c, n)) => (c, Some(grpc_at(n)?)),
                None => (t, None),
            };
            let norm = t.to_ascii_lowercase().replace('-', "_");
            let code = match GRPC_CODES.iter().position(|n| *n == norm) {
                Some(i) => i as u8,
                None => t
                    .parse::<u8>()
                    .ok()
                    .filter(|c| *c <= 16 && t.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or("a gRPC code 0 to 16 or a name such as unavailable, then optionally @N (after N messages)")?,
            };
            p.h2.grpc_status = Some(code);
            p.h2.grpc_status_at = at;
            Ok(())
        },
        print: |p, out| match (p.h2.grpc_status, p.h2.grpc_status_at) {
            (Some(c), None) => out.step(
                "grpc-status",
                Some(format_args!("{}", GRPC_CODES[usize::from(c)])),
            ),
            (Some(c), Some(GrpcAt { n, plus: 0 })) => out.step(
                "grpc-status",
                Some(format_args!("{}@{n}", GRPC_CODES[usize::from(c)])),
            ),
            (Some(c), Some(GrpcAt { n, plus })) => out.step(
                "grpc-status",
                Some(format_args!(
                    "{}@{n}msg+{}",
                    GRPC_CODES[usize::from(c)],
                    SizeText(plus)
                )),
            ),
            (None, _) => Ok(()),
        },
    },
    StepDef {
        name: "grpc-message",
        value: Value::Required("TEXT"),
        repeatable: false,
        proto: Proto::H2,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "gRPC trailer grpc-message",
        example: "grpc-message=try%20later",
        proxy: Proxy::Refused("an HTTP/2 step: proxy mode forwards HTTP/1.1 only"),
        cost: cost_grpc_message,
        docs: "`grpc-message` beside `grpc-status` (percent-encoded as gRPC wants)",
        curl: "0",
        set: |p, v| {
            let t = v.unwrap_or_default();
            if t.iter().any(|&b| b < 0x20 || b == 0x7f) {
                return Err("text without control bytes");
            }
            p.h2.grpc_message = Some(t.to_vec());
            Ok(())
        },
        print: |p, out| match &p.h2.grpc_message {
            Some(m) => out.step("grpc-message", Some(format_args!("{}", Encoded(m)))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "grpc-messages",
        value: Value::Required("N[,INTERVAL]"),
        repeatable: false,
        proto: Proto::H2,
        group: Group::Free,
        shapes: true,
        role: Role::Content,
        help: "N gRPC messages, one every INTERVAL",
        example: "grpc-messages=5,1s",
        proxy: Proxy::Refused("an HTTP/2 step: proxy mode forwards HTTP/1.1 only"),
        cost: no_cost,
        docs: "N length-prefixed messages before the trailers (server streaming): each the request's message echoed, or `text`/`body` framed as one message. `,INTERVAL`: the first with the HEADERS, then one every INTERVAL (a pause on the timeline after each message but the last, after any cut there); the trailers follow the last at once",
        curl: "0",
        set: |p, v| {
            const COUNT: &str = "a message count from 0 to 1000000, then optionally ,INTERVAL (e.g. 5 or 5,1s)";
            let t = text(v)?;
            let (t, every) = match t.split_once(',') {
                Some((n, d)) => (n, parse_duration(d).ok_or(DUR_HELP)?),
                None => (t, std::time::Duration::ZERO),
            };
            let n = t
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= MAX_GRPC_MESSAGES && t.bytes().all(|b| b.is_ascii_digit()))
                .ok_or(COUNT)?;
            p.h2.grpc_messages = Some(n);
            p.h2.grpc_every = every;
            Ok(())
        },
        print: |p, out| match p.h2.grpc_messages {
            Some(n) if p.h2.grpc_every.is_zero() => {
                out.step("grpc-messages", Some(format_args!("{n}")))
            }
            Some(n) => out.step(
                "grpc-messages",
                Some(format_args!("{n},{}", DurText(p.h2.grpc_every))),
            ),
            None => Ok(()),
        },
    },
    StepDef {
        name: "grpc-pushback",
        value: Value::Required("MS"),
        repeatable: false,
        proto: Proto::H2,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "trailer grpc-retry-pushback-ms (-1: stop)",
        example: "grpc-pushback=1500",
        proxy: Proxy::Refused("an HTTP/2 step: proxy mode forwards HTTP/1.1 only"),
        cost: no_cost,
        docs: "a gRPC answer whose trailers carry `grpc-retry-pushback-ms: MS` (0 to 2147483647, or `-1`): a client's retry policy waits MS before its next attempt, and makes none at all after `-1` (gRPC's retry design, A6)",
        curl: "0",
        set: |p, v| {
            let t = text(v)?;
            let ms = match t {
                "-1" => Some(-1),
                t if t.bytes().all(|b| b.is_ascii_digit()) => t.parse::<i32>().ok(),
                _ => None,
            }
            .ok_or("milliseconds from 0 to 2147483647, or -1 (do not retry)")?;
            p.h2.grpc_pushback = Some(ms);
            Ok(())
        },
        print: |p, out| match p.h2.grpc_pushback {
            Some(ms) => out.step("grpc-pushback", Some(format_args!("{ms}"))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "grpc-read",
        value: Value::Required("N"),
        repeatable: false,
        proto: Proto::H2,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "answer after N client messages",
        example: "grpc-read=3/rst=cancel",
        proxy: Proxy::Refused("an HTTP/2 step: proxy mode forwards HTTP/1.1 only"),
        cost: no_cost,
        docs: "a gRPC answer that starts (with its delay and faults) once N of the client's length-prefixed messages arrived (1 to 1000000; client and bidi streaming), not when the request ends; the request goes on arriving meanwhile. A request that ends with fewer is answered at its end",
        curl: "0",
        set: |p, v| {
            let t = text(v)?;
            let n = t
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n) && t.bytes().all(|b| b.is_ascii_digit()))
                .ok_or("a message count from 1 to 1000000")?;
            p.h2.grpc_read = Some(n);
            Ok(())
        },
        print: |p, out| match p.h2.grpc_read {
            Some(n) => out.step("grpc-read", Some(format_args!("{n}"))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "no-trailers",
        value: Value::None,
        repeatable: false,
        proto: Proto::H2,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "END_STREAM on DATA, no trailers",
        example: "grpc-messages=1/no-trailers",
        proxy: Proxy::Refused("an HTTP/2 step: proxy mode forwards HTTP/1.1 only"),
        cost: no_cost,
        docs: "the last DATA carries END_STREAM and no trailers follow: gRPC clients must report INTERNAL",
        curl: "0",
        set: |p, _| {
            p.h2.no_trailers = true;
            Ok(())
        },
        print: |p, out| match p.h2.no_trailers {
            true => out.step("no-trailers", None),
            false => Ok(()),
        },
    },
    StepDef {
        name: "ws-send",
        value: Value::Required("N[,SIZE][,INTERVAL]"),
        repeatable: false,
        proto: Proto::Ws,
        group: Group::Free,
        shapes: true,
        role: Role::Content,
        help: "N server messages of SIZE every INTERVAL",
        example: "ws-send=5,1k,1s",
        proxy: Proxy::Refused(WS_PROXY),
        cost: no_cost,
        docs: "after the handshake the server sends N text messages (1 to 1000000): message K is the text `K`, or with SIZE (at most 16m) SIZE bytes of printable filler; the first at once, then one every INTERVAL (`ws-send=5,,1s`, or `ws-send=5,1s` when the second value is a duration and not a size). The client's messages are still echoed. Offsets on a WebSocket connection count the server's frame bytes after the `101` head; `3msg` is right after the 3rd complete server message (echoes and sent messages alike, control frames not counted)",
        curl: "no ws:// in curl 7.88",
        set: set_ws_send,
        print: |p, out| match p.ws.send {
            Some(WsSend { n, size, every }) => {
                let size = size.map(SizeText);
                match (size, every.is_zero()) {
                    (None, true) => out.step("ws-send", Some(format_args!("{n}"))),
                    (Some(sz), true) => out.step("ws-send", Some(format_args!("{n},{sz}"))),
                    (None, false) => out.step("ws-send", Some(format_args!("{n},,{}", DurText(every)))),
                    (Some(sz), false) => out.step(
                        "ws-send",
                        Some(format_args!("{n},{sz},{}", DurText(every))),
                    ),
                }
            }
            None => Ok(()),
        },
    },
    StepDef {
        name: "ws-close",
        value: Value::Required("CODE[,REASON][@N]"),
        repeatable: false,
        proto: Proto::Ws,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "close frame CODE after N server messages",
        example: "ws-close=1011,bye@2",
        proxy: Proxy::Refused(WS_PROXY),
        cost: |p| p.ws.close.as_ref().map_or(0, |c| alloc_size(c.reason.capacity())),
        docs: "a close frame with CODE (1000 to 4999) and REASON (at most 123 bytes) after N server messages (default 0: right after the handshake); the server then sends nothing more, waits (at most `--read-timeout`) for the client's close frame, and ends with a FIN. Clients report CODE and REASON",
        curl: "no ws:// in curl 7.88",
        set: set_ws_close,
        print: |p, out| match &p.ws.close {
            Some(c) => {
                let reason = match c.reason.is_empty() {
                    true => String::new(),
                    false => format!(",{}", Encoded(&c.reason)),
                };
                match c.after {
                    0 if !c.reason.contains(&b'@') => {
                        out.step("ws-close", Some(format_args!("{}{reason}", c.code)))
                    }
                    n => out.step("ws-close", Some(format_args!("{}{reason}@{n}", c.code))),
                }
            }
            None => Ok(()),
        },
    },
    StepDef {
        name: "ws-close-no-reply",
        value: Value::None,
        repeatable: false,
        proto: Proto::Ws,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "never answer the client's close frame",
        example: "ws-close-no-reply",
        proxy: Proxy::Refused(WS_PROXY),
        cost: no_cost,
        docs: "the client's close frame is never answered: the server sends nothing more and holds the connection open and silent until the client leaves, so the client's closing handshake must time out",
        curl: "no ws:// in curl 7.88",
        set: |p, _| {
            p.ws.close_no_reply = true;
            Ok(())
        },
        print: |p, out| match p.ws.close_no_reply {
            true => out.step("ws-close-no-reply", None),
            false => Ok(()),
        },
    },
    StepDef {
        name: "ws-ping",
        value: Value::Required("INTERVAL"),
        repeatable: false,
        proto: Proto::Ws,
        group: Group::Free,
        shapes: true,
        role: Role::Content,
        help: "a server ping every INTERVAL",
        example: "ws-ping=1s",
        proxy: Proxy::Refused(WS_PROXY),
        cost: no_cost,
        docs: "the server sends a ping (payload `httpfault`) every INTERVAL from the handshake on, until the connection closes; the client's pongs are read and counted as activity",
        curl: "no ws:// in curl 7.88",
        set: |p, v| {
            let d = dur(v)?;
            if d.is_zero() {
                return Err("an interval above zero, e.g. 1s");
            }
            p.ws.ping = Some(d);
            Ok(())
        },
        print: |p, out| match p.ws.ping {
            Some(d) => out.step("ws-ping", Some(format_args!("{}", DurText(d)))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "ws-pong",
        value: Value::Required("no"),
        repeatable: false,
        proto: Proto::Ws,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "never answer the client's pings",
        example: "ws-pong=no",
        proxy: Proxy::Refused(WS_PROXY),
        cost: no_cost,
        docs: "the client's pings get no pong (RFC 6455 says they must): a client's keepalive must notice and fail the connection. Messages are still echoed",
        curl: "no ws:// in curl 7.88",
        set: |p, v| match text(v)? {
            "no" => {
                p.ws.no_pong = true;
                Ok(())
            }
            _ => Err("'no'"),
        },
        print: |p, out| match p.ws.no_pong {
            true => out.step("ws-pong", Some(format_args!("no"))),
            false => Ok(()),
        },
    },
    StepDef {
        name: "ws-frag",
        value: Value::Required("N"),
        repeatable: false,
        proto: Proto::Ws,
        group: Group::Free,
        shapes: true,
        role: Role::Content,
        help: "each server message in N frames",
        example: "ws-frag=3",
        proxy: Proxy::Refused(WS_PROXY),
        cost: no_cost,
        docs: "each server message goes out in N frames (2 to 1000; a first frame, then continuations; fewer when the message has fewer bytes than N, every frame but the last non-empty), with a ping between two frames: legal, and what naive clients get wrong",
        curl: "no ws:// in curl 7.88",
        set: |p, v| {
            let t = text(v)?;
            let n = t
                .parse::<u32>()
                .ok()
                .filter(|n| (2..=1000).contains(n) && t.bytes().all(|b| b.is_ascii_digit()))
                .ok_or("a frame count from 2 to 1000")?;
            p.ws.frag = Some(n);
            Ok(())
        },
        print: |p, out| match p.ws.frag {
            Some(n) => out.step("ws-frag", Some(format_args!("{n}"))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "ws-bad",
        value: Value::Required("KIND"),
        repeatable: false,
        proto: Proto::Ws,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "a frame that breaks RFC 6455",
        example: "ws-bad=utf8",
        proxy: Proxy::Refused(WS_PROXY),
        cost: no_cost,
        docs: "right after the handshake, one frame the client must fail the connection on: `mask` (a masked text frame), `rsv` (RSV1 set, no extension agreed), `opcode` (reserved opcode 0x3), `utf8` (a text message of invalid UTF-8: 1007), `len` (a 64-bit length with its top bit set), `control-len` (a 126-byte ping), `frag` (a continuation with no message started); clients close with 1002 (1007 for `utf8`). The server then waits (at most `--read-timeout`) for the client to close or leave, and ends with a FIN",
        curl: "no ws:// in curl 7.88",
        set: |p, v| {
            let t = text(v)?;
            let kind = WsBad::ALL
                .iter()
                .find(|(_, n)| *n == t)
                .ok_or("mask, rsv, opcode, utf8, len, control-len or frag")?;
            p.ws.bad = Some(kind.0);
            Ok(())
        },
        print: |p, out| match p.ws.bad {
            Some(k) => out.step("ws-bad", Some(format_args!("{}", k.name()))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "ws-big",
        value: Value::Required("SIZE"),
        repeatable: false,
        proto: Proto::Ws,
        group: Group::Free,
        shapes: true,
        role: Role::Content,
        help: "one server message of SIZE bytes",
        example: "ws-big=20m",
        proxy: Proxy::Refused(WS_PROXY),
        cost: no_cost,
        docs: "right after the handshake, one text message of SIZE bytes of printable filler (at most 1g, sent in pieces, never held whole): for clients' message size limits (Python websockets: 1 MiB, 1009; Node ws: 100 MiB)",
        curl: "no ws:// in curl 7.88",
        set: |p, v| {
            let n = size(v)?;
            if n > MAX_WS_BIG {
                return Err("a size up to 1g");
            }
            p.ws.big = Some(n);
            Ok(())
        },
        print: |p, out| match p.ws.big {
            Some(n) => out.step("ws-big", Some(format_args!("{}", SizeText(n)))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "ws-accept",
        value: Value::Required("bad"),
        repeatable: false,
        proto: Proto::Ws,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "a wrong Sec-WebSocket-Accept",
        example: "ws-accept=bad",
        proxy: Proxy::Refused(WS_PROXY),
        cost: no_cost,
        docs: "the `101` carries a well-formed but wrong `Sec-WebSocket-Accept` (the accept of another key): the client must fail the handshake",
        curl: "no ws:// in curl 7.88",
        set: |p, v| match text(v)? {
            "bad" => {
                p.ws.bad_accept = true;
                Ok(())
            }
            _ => Err("'bad'"),
        },
        print: |p, out| match p.ws.bad_accept {
            true => out.step("ws-accept", Some(format_args!("bad"))),
            false => Ok(()),
        },
    },
    StepDef {
        name: "ws-protocol",
        value: Value::Required("NAME"),
        repeatable: false,
        proto: Proto::Ws,
        group: Group::Free,
        shapes: true,
        role: Role::Fault,
        help: "a subprotocol the client did not offer",
        example: "ws-protocol=chat",
        proxy: Proxy::Refused(WS_PROXY),
        cost: |p| p.ws.protocol.as_ref().map_or(0, |n| alloc_size(n.capacity())),
        docs: "the `101` carries `Sec-WebSocket-Protocol: NAME` whatever the client offered (without this step the server picks no subprotocol): a client that did not offer NAME must fail the handshake",
        curl: "no ws:// in curl 7.88",
        set: |p, v| {
            let t = text(v)?;
            if t.is_empty() || !t.bytes().all(is_token_byte) {
                return Err("a token of letters, digits and !#$%&'*+-.^_`|~");
            }
            p.ws.protocol = Some(t.to_string());
            Ok(())
        },
        print: |p, out| match &p.ws.protocol {
            Some(n) => out.step("ws-protocol", Some(format_args!("{}", Encoded(n.as_bytes())))),
            None => Ok(()),
        },
    },
    StepDef {
        name: "up:reset",
        value: Value::Required("OFFSET"),
        repeatable: false,
        proto: Proto::Tunnel,
        group: Group::Ending,
        shapes: false,
        role: Role::Fault,
        help: "tunnel: RST both ways after OFFSET client bytes/msgs",
        example: "up:reset=2msg",
        proxy: Proxy::Shapes,
        cost: no_cost,
        docs: UP_RESET_DOCS,
        curl: UP_CURL,
        set: |p, v| up_ending(p, EndKind::Reset, v),
        print: |p, out| print_up_ending(p, out, EndKind::Reset),
    },
    StepDef {
        name: "up:close",
        value: Value::Required("OFFSET"),
        repeatable: false,
        proto: Proto::Tunnel,
        group: Group::Ending,
        shapes: false,
        role: Role::Fault,
        help: "tunnel: FIN both ways after OFFSET client bytes/msgs",
        example: "up:close=2msg",
        proxy: Proxy::Shapes,
        cost: no_cost,
        docs: "the upstream gets exactly OFFSET of the client's bytes after the upgrade request (`100`, or `2msg`: its first 2 messages, `2msg+3`: and 3 bytes of the 3rd message's frame), then a FIN; so does the client, with no close frame (clients report 1006)",
        curl: UP_CURL,
        set: |p, v| up_ending(p, EndKind::Close, v),
        print: |p, out| print_up_ending(p, out, EndKind::Close),
    },
    StepDef {
        name: "up:hang",
        value: Value::Required("OFFSET"),
        repeatable: false,
        proto: Proto::Tunnel,
        group: Group::Ending,
        shapes: false,
        role: Role::Fault,
        help: "tunnel: silence both ways after OFFSET client bytes/msgs",
        example: "up:hang=2msg",
        proxy: Proxy::Shapes,
        cost: no_cost,
        docs: "the upstream gets exactly OFFSET of the client's bytes (or messages), then the upstream connection is closed and the client's stays open and silent both ways until it leaves",
        curl: UP_CURL,
        set: |p, v| up_ending(p, EndKind::Hang, v),
        print: |p, out| print_up_ending(p, out, EndKind::Hang),
    },
    StepDef {
        name: "up:pause",
        value: Value::Required("OFFSET,DUR"),
        repeatable: true,
        proto: Proto::Tunnel,
        group: Group::Free,
        shapes: false,
        role: Role::Fault,
        help: "tunnel: hold the client's bytes for DUR at OFFSET (repeatable)",
        example: "up:pause=1msg,1s",
        proxy: Proxy::Shapes,
        cost: |p| {
            alloc_size(
                p.ws.up_pauses.capacity() * std::mem::size_of::<(Offset, std::time::Duration)>(),
            )
        },
        docs: "the client's bytes stop going up for DUR after OFFSET of them (`1msg`: after its first message), then go on; the upstream's bytes still come down meanwhile",
        curl: UP_CURL,
        set: |p, v| {
            let (off, d) = text(v)?.split_once(',').ok_or("OFFSET,DUR, e.g. 1msg,2s")?;
            let off = up_offset(off)?;
            let d = parse_duration(d).ok_or(DUR_HELP)?;
            p.ws.up_pauses.push((off, d));
            Ok(())
        },
        print: |p, out| {
            for (off, d) in &p.ws.up_pauses {
                out.step("up:pause", Some(format_args!("{off},{}", DurText(*d))))?;
            }
            Ok(())
        },
    },
];

/// What curl says of the `up:` steps.
const UP_CURL: &str = "no ws:// in curl 7.88 (a plain request: 400)";

const UP_RESET_DOCS: &str = "the upstream gets exactly OFFSET of the client's bytes after the upgrade request (`100`: bytes, frame headers and masks included; `2msg`: its first 2 complete messages; `2msg+3`: and 3 bytes of the 3rd message's frame); once the upstream acknowledged them, an RST on both connections";

/// An `up:` offset: bytes of the client's direction, or its messages (`2msg`, `2msg+3`).
fn up_offset(t: &str) -> Result<Offset, &'static str> {
    const WHAT: &str = "bytes or messages of the client's direction (100, 2msg, 2msg+3)";
    match parse_offset(t) {
        Some(o @ Offset::Body(_)) => Ok(o),
        Some(
            o @ Offset::Msg {
                unit: super::units::Unit::Msg,
                ..
            },
        ) => Ok(o),
        _ => Err(WHAT),
    }
}

fn up_ending(plan: &mut Plan, kind: EndKind, v: Option<&[u8]>) -> Result<(), &'static str> {
    let at = up_offset(text(v)?)?;
    plan.ws.up_ending = Some(Ending { kind, at: Some(at) });
    Ok(())
}

fn print_up_ending(p: &Plan, out: &mut Printer<'_, '_>, kind: EndKind) -> fmt::Result {
    match p.ws.up_ending {
        Some(Ending {
            kind: k,
            at: Some(at),
        }) if k == kind => out.step(&format!("up:{}", kind.name()), Some(format_args!("{at}"))),
        _ => Ok(()),
    }
}

/// Why proxy mode refuses the WebSocket steps.
const WS_PROXY: &str =
    "a WebSocket step that makes frames: proxy mode relays the upstream's frames as they are";

/// The largest `ws-big=SIZE`.
pub const MAX_WS_BIG: u64 = 1 << 30;

/// The largest message of `ws-send=N,SIZE`.
pub const MAX_WS_SEND_SIZE: u64 = 16 << 20;

fn set_ws_send(p: &mut Plan, v: Option<&[u8]>) -> Result<(), &'static str> {
    const USAGE: &str = "N[,SIZE][,INTERVAL]: a count from 1 to 1000000, a size up to 16m, a duration (e.g. 5,1k,1s)";
    let t = text(v)?;
    let mut parts = t.split(',');
    let n_text = parts.next().unwrap_or("");
    let n = n_text
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=1_000_000).contains(n) && n_text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(USAGE)?;
    let (second, third) = (parts.next(), parts.next());
    if parts.next().is_some() {
        return Err(USAGE);
    }
    let (size, every) = match (second, third) {
        (None, _) => (None, None),
        (Some(""), Some(d)) => (None, Some(d)),
        (Some(x), None) if parse_size(x).is_none() && parse_duration(x).is_some() => {
            (None, Some(x))
        }
        (Some(x), d) => (Some(parse_size(x).ok_or(USAGE)?), d),
    };
    if size.is_some_and(|s| s > MAX_WS_SEND_SIZE) {
        return Err(USAGE);
    }
    let every = match every {
        Some(d) => parse_duration(d).ok_or(USAGE)?,
        None => std::time::Duration::ZERO,
    };
    p.ws.send = Some(WsSend { n, size, every });
    Ok(())
}

fn set_ws_close(p: &mut Plan, v: Option<&[u8]>) -> Result<(), &'static str> {
    const USAGE: &str = "CODE[,REASON][@N]: a code from 1000 to 4999, a reason of at most 123 bytes, a message count (e.g. 1011,bye@2)";
    let t = text(v)?;
    let (t, after) = match t.rsplit_once('@') {
        Some((rest, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (rest, n.parse::<u64>().map_err(|_| USAGE)?)
        }
        _ => (t, 0),
    };
    let (code, reason) = t.split_once(',').unwrap_or((t, ""));
    let code = code
        .parse::<u16>()
        .ok()
        .filter(|c| (1000..=4999).contains(c) && code.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(USAGE)?;
    if reason.len() > 123 || after > MAX_GRPC_MESSAGES {
        return Err(USAGE);
    }
    p.ws.close = Some(WsClose {
        code,
        reason: reason.as_bytes().to_vec(),
        after,
    });
    Ok(())
}

/// The step named `name`.
pub fn find(name: &str) -> Option<&'static StepDef> {
    STEPS.iter().find(|s| s.name == name)
}

/// The most messages of a gRPC answer (`grpc-messages=N`, `grpc-status=CODE@N`).
pub const MAX_GRPC_MESSAGES: u64 = 1_000_000;

/// The widest line of `--help`.
pub const HELP_WIDTH: usize = 80;

/// The most streams an HTTP/2 connection has open at once, and so the largest `maxstreams=N`
/// (issue 24 item 12: a larger N was accepted and advertised while this was enforced).
pub const MAX_CONCURRENT_STREAMS: u32 = 100;

/// The step list of `--help`, generated from [`STEPS`]: synopsis, help, example.
pub fn help_lines() -> String {
    let mut out = String::new();
    let (mut h2, mut ws) = (false, false);
    for s in STEPS {
        if s.proto == Proto::H2 && !h2 {
            h2 = true;
            out.push_str("  HTTP/2 and gRPC only (on HTTP/1.1: a 400 naming the protocol):\n");
        }
        if s.proto == Proto::Ws && !ws {
            ws = true;
            out.push_str("  WebSocket only (on a plain request: a 400 naming the protocol):\n");
        }
        let syn = s.synopsis();
        let line = format!("  {} {syn:<18} {:<36} {}", s.role.mark(), s.help, s.example);
        if line.chars().count() <= HELP_WIDTH {
            let _ = writeln!(out, "{line}");
        } else {
            // The example on a line of its own, flush right, so no line passes 80 columns.
            let _ = writeln!(out, "  {} {syn:<18} {}", s.role.mark(), s.help);
            let _ = writeln!(out, "{:>HELP_WIDTH$}", s.example);
        }
    }
    out
}
