//! The plan language: text in, [`Plan`] out, and a `Plan` printed back as text. No I/O.
//!
//! A plan is a list of steps separated by `/`; a step is `name` or `name=value`. The text is
//! split on `/` first and each value is then percent-decoded, so a `/` inside a value is `%2F`.
//! Every step is defined once, in [`steps::STEPS`]: parsing, printing, conflicts and the help
//! text come from that table. `parse(print(p)) == p` for every plan.

pub mod files;
pub mod reason;
pub mod reference;
pub mod router;
pub mod steps;
pub mod tcp;
pub mod units;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use files::{FileBody, FileError, Files};
use units::Unit;
pub use units::{parse_duration, parse_offset, parse_size, percent_decode, Offset};

use steps::{Group, Value, STEPS};

/// The plan with no steps, a plain `200 OK` with the default body, written as a word.
pub const OK: &str = "ok";

/// The default chunk size of a bare `chunked` step.
pub const DEFAULT_CHUNK: u64 = 8;

/// How a response is cut short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndKind {
    /// An RST (`SO_LINGER` 0), after the bytes before it were acknowledged.
    Reset,
    /// A FIN, after the whole request was read.
    Close,
    /// Nothing more: the connection stays open and silent until the client leaves.
    Hang,
}

impl EndKind {
    /// The step name, which is also the `end` name in logs and the journal.
    pub fn name(self) -> &'static str {
        match self {
            EndKind::Reset => "reset",
            EndKind::Close => "close",
            EndKind::Hang => "hang",
        }
    }
}

/// An ending step: `reset`, `close=6`, `hang=head:10`. Without an offset nothing is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ending {
    /// RST, FIN or silence.
    pub kind: EndKind,
    /// Where the response stops; `None`: before any byte.
    pub at: Option<Offset>,
}

/// Where the body comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Body {
    /// `Hello, world!`.
    #[default]
    Default,
    /// `body=SIZE`: printable filler.
    Filler(u64),
    /// `text=TEXT`.
    Text(Vec<u8>),
    /// `echo`: the request exactly as received.
    Echo,
    /// `file=PATH`: the file's bytes, read when the plan was parsed.
    File(FileBody),
    /// `sse=N[,INTERVAL]`: a Server-Sent Events stream, generated.
    Sse(Events),
}

/// Most events of `sse=N`.
pub const MAX_EVENTS: u64 = 1_000_000;
/// The interval of `sse=N` without one.
pub const DEFAULT_EVERY: Duration = Duration::from_millis(100);

/// `sse=N[,INTERVAL]`: events `id: K` / `data: K` for K from 1 to `count`, one every `every`
/// (the first with the head); a request with `Last-Event-ID: K` gets those after K.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Events {
    /// How many events in all.
    pub count: u64,
    /// The time between two events.
    pub every: Duration,
}

/// What `Content-Length` says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Length {
    /// The real length of the body (none for chunked bodies).
    #[default]
    Auto,
    /// `length=N`, whatever the body is.
    Declared(u64),
    /// `length=none`: no header; the body ends when the connection closes.
    Omitted,
}

/// A response that replaces the whole HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replace {
    /// `garbage=SIZE`: random bytes.
    Garbage(u64),
    /// `raw=TEXT`: exactly these bytes.
    Raw(Vec<u8>),
}

/// What `continue=` does with `Expect: 100-continue`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Continue {
    /// `continue=no`: never `100 Continue`; the client must time out and send anyway.
    Never,
    /// `continue=CODE`: this final status instead, without reading the body.
    Final(u16),
}

/// `gzip` / `gzip=bad`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gzip {
    /// A valid gzip stream.
    Good,
    /// The same with its middle data byte changed under the original CRC-32, so decompression
    /// fails at the end and data kept anyway shows the change.
    BadCrc,
}

/// How an HTTP/2 stream is cut short (the HTTP/2-only ending steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum H2End {
    /// `rst=CODE[@N]`: RST_STREAM with the code, before the head or after N body bytes.
    Rst(u32, Option<Offset>),
    /// `goaway=CODE[@N]`: GOAWAY (last stream = the one before this), then the connection ends.
    GoAway(u32, Option<Offset>),
    /// `stall@N`: nothing more on this stream after N body bytes.
    Stall(Offset),
    /// `noheaders`: nothing at all on this stream.
    NoHeaders,
    /// `headers-only`: HEADERS without END_STREAM, then nothing.
    HeadersOnly,
}

/// The HTTP/2 and gRPC steps of a plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct H2Plan {
    /// `rst`, `goaway`, `stall`, `noheaders`, `headers-only`.
    pub end: Option<H2End>,
    /// `goaway-keep`.
    pub goaway_keep: bool,
    /// `window=0`.
    pub window0: bool,
    /// `maxstreams=N`.
    pub maxstreams: Option<u32>,
    /// `ping-timeout`.
    pub ping_timeout: bool,
    /// `grpc-status=CODE`.
    pub grpc_status: Option<u8>,
    /// `grpc-message=TEXT`.
    pub grpc_message: Option<Vec<u8>>,
    /// `grpc-messages=N`.
    pub grpc_messages: Option<u64>,
    /// `grpc-messages=N,INTERVAL`: the time between two messages (zero: all at once).
    pub grpc_every: Duration,
    /// `grpc-status=CODE@N`: the trailers after N messages, then `plus` bytes of the next.
    pub grpc_status_at: Option<GrpcAt>,
    /// `grpc-pushback=MS`: the `grpc-retry-pushback-ms` trailer (`-1`: do not retry).
    pub grpc_pushback: Option<i32>,
    /// `grpc-read=N`: the answer starts once N of the client's messages arrived.
    pub grpc_read: Option<u64>,
    /// `no-trailers`.
    pub no_trailers: bool,
}

/// The WebSocket steps of a plan (`src/ws/`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WsPlan {
    /// `ws-send=N[,SIZE][,INTERVAL]`.
    pub send: Option<WsSend>,
    /// `ws-close=CODE[,REASON][@N]`.
    pub close: Option<WsClose>,
    /// `ws-close-no-reply`.
    pub close_no_reply: bool,
    /// `ws-ping=INTERVAL`.
    pub ping: Option<Duration>,
    /// `ws-pong=no`.
    pub no_pong: bool,
    /// `ws-frag=N`.
    pub frag: Option<u32>,
    /// `ws-bad=KIND`.
    pub bad: Option<WsBad>,
    /// `ws-big=SIZE`.
    pub big: Option<u64>,
    /// `ws-accept=bad`.
    pub bad_accept: bool,
    /// `ws-protocol=NAME`.
    pub protocol: Option<String>,
    /// `up:reset=N`, `up:close=N`, `up:hang=N`: the cut of a proxied tunnel's client-to-upstream
    /// direction (its offset always set: bytes or `msg` of that direction).
    pub up_ending: Option<Ending>,
    /// `up:pause=OFFSET,DUR`: pauses of that direction.
    pub up_pauses: Vec<(Offset, Duration)>,
}

impl WsPlan {
    /// No WebSocket step.
    pub const NONE: WsPlan = WsPlan {
        send: None,
        close: None,
        close_no_reply: false,
        ping: None,
        no_pong: false,
        frag: None,
        bad: None,
        big: None,
        bad_accept: false,
        protocol: None,
        up_ending: None,
        up_pauses: Vec::new(),
    };
}

/// `ws-send=N[,SIZE][,INTERVAL]`: N server messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsSend {
    /// How many.
    pub n: u64,
    /// Bytes each (`None`: the text `K` of message K).
    pub size: Option<u64>,
    /// The time between two (zero: all at once).
    pub every: Duration,
}

/// `ws-close=CODE[,REASON][@N]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsClose {
    /// The close code.
    pub code: u16,
    /// The reason (at most 123 bytes).
    pub reason: Vec<u8>,
    /// After this many server messages (0: at once).
    pub after: u64,
}

/// `ws-bad=KIND`: a frame that breaks RFC 6455.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsBad {
    /// A masked server frame.
    Mask,
    /// RSV1 set without an extension.
    Rsv,
    /// The reserved opcode 0x3.
    Opcode,
    /// Invalid UTF-8 in a text message.
    Utf8,
    /// A 64-bit length with its top bit set.
    Len,
    /// A ping of 126 bytes.
    ControlLen,
    /// A continuation frame with no message started.
    Frag,
}

impl WsBad {
    /// Every kind with its name.
    pub const ALL: [(WsBad, &'static str); 7] = [
        (WsBad::Mask, "mask"),
        (WsBad::Rsv, "rsv"),
        (WsBad::Opcode, "opcode"),
        (WsBad::Utf8, "utf8"),
        (WsBad::Len, "len"),
        (WsBad::ControlLen, "control-len"),
        (WsBad::Frag, "frag"),
    ];

    /// As the plan writes it.
    pub fn name(self) -> &'static str {
        WsBad::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("", |(_, n)| n)
    }
}

/// Where `grpc-status=CODE@N` ends the messages: after `n` of them, then `plus` bytes of the
/// next (a message cut short before the trailers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrpcAt {
    /// Complete messages before the trailers.
    pub n: u64,
    /// Bytes of the next message (its prefix counted) before the trailers.
    pub plus: u64,
}

impl H2Plan {
    /// No HTTP/2 step.
    pub const NONE: H2Plan = H2Plan {
        end: None,
        goaway_keep: false,
        window0: false,
        maxstreams: None,
        ping_timeout: false,
        grpc_status: None,
        grpc_message: None,
        grpc_messages: None,
        grpc_every: Duration::ZERO,
        grpc_status_at: None,
        grpc_pushback: None,
        grpc_read: None,
        no_trailers: false,
    };

    /// A step that makes the answer a gRPC one.
    pub fn is_grpc(&self) -> bool {
        self.grpc_status.is_some()
            || self.grpc_message.is_some()
            || self.grpc_messages.is_some()
            || self.grpc_pushback.is_some()
            || self.grpc_read.is_some()
    }
}

/// gRPC status codes by number, as `grpc-status=` names them.
pub static GRPC_CODES: [&str; 17] = [
    "ok",
    "cancelled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal",
    "unavailable",
    "data_loss",
    "unauthenticated",
];
/// A fault of the TLS handshake (`tls=...`, every value but `no-close-notify`). It acts before
/// any request is read, so it comes from the plan in force when the connection arrives (the
/// default plan or an SNI plan), never from a path plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handshake {
    /// `tls=hang`: the ClientHello is never answered.
    Hang,
    /// `tls=reset`: RST right after the ClientHello.
    Reset,
    /// `tls=close`: FIN right after the ClientHello.
    Close,
    /// `tls=alert=NAME`: a fatal alert instead of the ServerHello.
    Alert(u8),
    /// `tls=expired`: a certificate that expired (signed by the CA).
    Expired,
    /// `tls=wrong-host`: a certificate for another name (signed by the CA).
    WrongHost,
    /// `tls=self-signed`: a self-signed certificate.
    SelfSigned,
    /// `tls=untrusted`: a certificate signed by a CA nobody trusts.
    Untrusted,
}

/// TLS alert descriptions by name (RFC 8446 section 6 and RFC 5246 section 7.2), for
/// `tls=alert=NAME`; a number from 0 to 255 works too.
pub const ALERTS: &[(&str, u8)] = &[
    ("close_notify", 0),
    ("unexpected_message", 10),
    ("bad_record_mac", 20),
    ("record_overflow", 22),
    ("handshake_failure", 40),
    ("bad_certificate", 42),
    ("unsupported_certificate", 43),
    ("certificate_revoked", 44),
    ("certificate_expired", 45),
    ("certificate_unknown", 46),
    ("illegal_parameter", 47),
    ("unknown_ca", 48),
    ("access_denied", 49),
    ("decode_error", 50),
    ("decrypt_error", 51),
    ("protocol_version", 70),
    ("insufficient_security", 71),
    ("internal_error", 80),
    ("inappropriate_fallback", 86),
    ("user_canceled", 90),
    ("missing_extension", 109),
    ("unsupported_extension", 110),
    ("unrecognized_name", 112),
    ("bad_certificate_status_response", 113),
    ("unknown_psk_identity", 115),
    ("certificate_required", 116),
    ("no_application_protocol", 120),
];

impl Handshake {
    /// Parses the value of `tls=` other than `no-close-notify`.
    pub fn parse(text: &str) -> Option<Handshake> {
        Some(match text {
            "hang" => Handshake::Hang,
            "reset" => Handshake::Reset,
            "close" => Handshake::Close,
            "expired" => Handshake::Expired,
            "wrong-host" => Handshake::WrongHost,
            "self-signed" => Handshake::SelfSigned,
            "untrusted" => Handshake::Untrusted,
            _ => {
                let name = text.strip_prefix("alert=")?;
                let code = match ALERTS.iter().find(|(n, _)| *n == name) {
                    Some((_, c)) => *c,
                    None if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) => {
                        name.parse().ok()?
                    }
                    None => return None,
                };
                Handshake::Alert(code)
            }
        })
    }
}

impl fmt::Display for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Handshake::Hang => f.write_str("hang"),
            Handshake::Reset => f.write_str("reset"),
            Handshake::Close => f.write_str("close"),
            Handshake::Alert(code) => match ALERTS.iter().find(|(_, c)| c == code) {
                Some((name, _)) => write!(f, "alert={name}"),
                None => write!(f, "alert={code}"),
            },
            Handshake::Expired => f.write_str("expired"),
            Handshake::WrongHost => f.write_str("wrong-host"),
            Handshake::SelfSigned => f.write_str("self-signed"),
            Handshake::Untrusted => f.write_str("untrusted"),
        }
    }
}

/// What malloc takes for `n` bytes: 8 bytes of header, 16-byte steps, 32 at least (glibc).
/// Memory bounds (the journal's) count allocations with it.
pub fn alloc_size(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
    }
}

/// A parsed plan: every step resolved into one value. `Plan::default()` is a healthy
/// `200 OK` with `Hello, world!`.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// `status=CODE`.
    pub status: Option<u16>,
    /// `header=NAME:VALUE`, in order.
    pub headers: Vec<(String, String)>,
    /// `body`, `text`, `echo`, `file`, `sse`.
    pub body: Body,
    /// `length`.
    pub length: Length,
    /// `chunked=SIZE`.
    pub chunked: Option<u64>,
    /// `badchunk`.
    pub badchunk: bool,
    /// `keepalive=no|yes`.
    pub keepalive: Option<bool>,
    /// `delay=DUR`.
    pub delay: Option<Duration>,
    /// `pause=OFFSET,DUR`, in the order given.
    pub pauses: Vec<(Offset, Duration)>,
    /// `rate=SIZE`.
    pub rate: Option<u64>,
    /// `reset`, `close`, `hang`.
    pub ending: Option<Ending>,
    /// `garbage`, `raw`.
    pub replace: Option<Replace>,
    /// `drain=no` makes this false.
    pub drain: bool,
    /// `idle=DUR`.
    pub idle: Option<Duration>,
    /// `reuse=reset|close`.
    pub reuse: Option<EndKind>,
    /// `continue=no|CODE`.
    pub expect: Option<Continue>,
    /// `info=CODE`: interim responses before the final one, in order.
    pub info: Vec<u16>,
    /// `trailer=NAME:VALUE`, in order (the body is then chunked).
    pub trailers: Vec<(String, String)>,
    /// `extra=TEXT`: bytes after the complete response.
    pub extra: Option<Vec<u8>>,
    /// `lf`: head lines end with a bare LF.
    pub lf: bool,
    /// `gzip`, `gzip=bad`.
    pub gzip: Option<Gzip>,
    /// `readrate=SIZE`: request body bytes read per second.
    pub readrate: Option<u64>,
    /// `ranges`: honour `Range` and `If-Range`.
    pub ranges: bool,
    /// `sse-retry=MS`: a `retry:` field before the first event.
    pub sse_retry: Option<u64>,
    /// `times=N`.
    pub times: Option<u64>,
    /// `chance=P`.
    pub chance: Option<f64>,
    /// `forward=no` makes this false: in proxy mode, nothing is forwarded to the upstream.
    pub forward: bool,
    /// The HTTP/2 and gRPC steps.
    pub h2: H2Plan,
    /// The WebSocket steps.
    pub ws: WsPlan,
    /// `tls=FAULT`: a fault of the TLS handshake.
    pub tls: Option<Handshake>,
    /// `tls=no-close-notify` makes this false: the connection ends after the response with a
    /// FIN and no TLS `close_notify`.
    pub close_notify: bool,
    /// What proxy mode does with the plan, from its steps' proxy column (set by
    /// [`Plan::parse`]).
    pub proxy: ProxyUse,
    /// The first step held that only one protocol has a meaning for, per protocol (set by
    /// [`Plan::parse`]): [`Plan::check_protocol`] reads it instead of the step table.
    pub only: OnlyIn,
}

/// The first held step of a plan that only HTTP/1.1 (`h1`), only HTTP/2 (`h2`) or only a
/// WebSocket connection (`ws`) has a meaning for: the step table's protocol column, worked out once a plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OnlyIn {
    pub h1: Option<(&'static str, steps::Proto)>,
    pub h2: Option<(&'static str, steps::Proto)>,
    pub ws: Option<(&'static str, steps::Proto)>,
    pub tunnel: Option<(&'static str, steps::Proto)>,
}

/// What proxy mode does with a whole plan: the step table's proxy column of its steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyUse {
    /// Forwarded, the upstream's response shaped by the plan.
    Shapes,
    /// Answered as in server mode, without contacting the upstream.
    Answers,
    /// Not servable in proxy mode: (the step, why).
    Refused(&'static str, &'static str),
}

/// The plan of a plain healthy response: `200 OK` with `Hello, world!`, kept alive.
pub const HEALTHY: Plan = Plan {
    status: None,
    headers: Vec::new(),
    body: Body::Default,
    length: Length::Auto,
    chunked: None,
    badchunk: false,
    keepalive: None,
    delay: None,
    pauses: Vec::new(),
    rate: None,
    ending: None,
    replace: None,
    drain: true,
    idle: None,
    reuse: None,
    expect: None,
    info: Vec::new(),
    trailers: Vec::new(),
    extra: None,
    lf: false,
    gzip: None,
    readrate: None,
    ranges: false,
    sse_retry: None,
    times: None,
    chance: None,
    forward: true,
    h2: H2Plan::NONE,
    ws: WsPlan::NONE,
    tls: None,
    close_notify: true,
    proxy: ProxyUse::Shapes,
    only: OnlyIn {
        h1: None,
        h2: None,
        ws: None,
        tunnel: None,
    },
};

impl Default for Plan {
    fn default() -> Plan {
        HEALTHY
    }
}

/// Why a plan does not parse. Each message names the step and the bad value.
///
/// ```
/// use httpfault::{check_plan, Error, PlanError};
/// let Err(Error::Plan(e)) = check_plan("status=503/rset") else { panic!() };
/// assert_eq!(e, PlanError::UnknownStep("rset".into()));
/// assert!(e.to_string().starts_with("unknown step 'rset' (expected one of: status, "));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// No step has this name.
    UnknownStep(String),
    /// The step needs a value.
    MissingValue(&'static str),
    /// The step takes no value.
    UnexpectedValue(&'static str, String),
    /// The value does not fit the step.
    BadValue {
        /// The step.
        step: &'static str,
        /// The value as given.
        value: String,
        /// What the step takes.
        expected: &'static str,
    },
    /// A `%` not followed by two hex digits.
    BadPercent(&'static str, String),
    /// A step that may appear once appeared again.
    Twice(&'static str),
    /// Two steps that contradict each other.
    Conflict(&'static str, &'static str),
    /// A step of the other protocol: (step, the protocol it needs, the request's protocol).
    Protocol(&'static str, &'static str, &'static str),
    /// A TLS handshake fault in a plan chosen by the request (path, route, header): the
    /// handshake is over before the request is read.
    Handshake(Handshake),
    /// `file=PATH` that this plan's source may not read, or that cannot be read.
    File(FileError),
    /// Two offsets that count different messages (`3ev` and `3msg`), or `ev`-counted stream
    /// steps and `msg` offsets: the two steps as written.
    Units(String, String),
    /// A step that only goes with another: (the step, the one it needs).
    Needs(&'static str, &'static str),
    /// A step proxy mode cannot honour: (the step, why).
    Proxy(&'static str, &'static str),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::UnknownStep(name) => {
                write!(f, "unknown step '{}' (expected one of: ", Escaped(name))?;
                for (i, s) in STEPS.iter().enumerate() {
                    f.write_str(if i == 0 { "" } else { ", " })?;
                    f.write_str(s.name)?;
                }
                f.write_str(")")
            }
            PlanError::MissingValue(step) => {
                let usage = match steps::find(step).map(|s| s.value) {
                    Some(Value::Required(u) | Value::Optional(u) | Value::At(u)) => u,
                    _ => "VALUE",
                };
                write!(f, "step '{step}' needs a value ({step}={usage})")
            }
            PlanError::UnexpectedValue(step, value) => {
                write!(f, "step '{step}' takes no value (got '{}')", Escaped(value))
            }
            PlanError::BadValue {
                step,
                value,
                expected,
            } => write!(
                f,
                "step '{step}': bad value '{}' (expected {expected})",
                Escaped(value)
            ),
            PlanError::BadPercent(step, value) => write!(
                f,
                "step '{step}': bad percent-encoding in '{}'",
                Escaped(value)
            ),
            PlanError::Twice(step) => write!(f, "step '{step}' given twice"),
            PlanError::Conflict(a, b) => write!(f, "steps '{a}' and '{b}' cannot be combined"),
            PlanError::Protocol(step, needs, got) => {
                write!(f, "step '{step}' is {needs} only (this request is {got})")
            }
            PlanError::File(e) => e.fmt(f),
            PlanError::Units(a, b) => write!(
                f,
                "steps '{}' and '{}' count different messages (one unit a plan: ev for \
                 Server-Sent Events, msg for gRPC and WebSocket messages)",
                Escaped(a),
                Escaped(b)
            ),
            PlanError::Needs(step, needs) => write!(f, "step '{step}' goes with '{needs}'"),
            PlanError::Proxy(step, why) => {
                write!(f, "step '{step}' cannot be used in proxy mode: {why}")
            }
            PlanError::Handshake(h) => write!(
                f,
                "step 'tls={h}' acts at the TLS handshake, before any request is read \
                 (put it in the default plan or an SNI plan: --sni 'NAME tls={h}')"
            ),
        }
    }
}

impl std::error::Error for PlanError {}

/// Shows user text in an error message on one line: control and non-ASCII bytes as `\xNN`.
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        EscapedUpTo(self.0, 80).fmt(f)
    }
}

/// [`Escaped`], cut after this many bytes (a routes file's long lines keep more).
pub struct EscapedUpTo<'a>(pub &'a str, pub usize);

impl fmt::Display for EscapedUpTo<'_> {
    /// Printable characters as they are (`é` stays `é`, issue 24 item 12), control characters
    /// escaped (`\x0a`, `\u{85}`), so the text stays on one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.char_indices() {
            if i >= self.1 {
                return f.write_str("...");
            }
            match c {
                c if !c.is_control() => write!(f, "{c}")?,
                c if c.is_ascii() => write!(f, "\\x{:02x}", u32::from(c))?,
                c => write!(f, "\\u{{{:x}}}", u32::from(c))?,
            }
        }
        Ok(())
    }
}

/// Is `name` the name of a step? A request path is a plan when its first segment's name is.
pub fn is_step_name(name: &str) -> bool {
    // Every request asks this of its path's first segment: most are no step at all, so look
    // at the table only for a name that could be one.
    let plausible = matches!(name.as_bytes().first(), Some(b'a'..=b'z')) && name.len() <= 17;
    plausible && steps::find(name).is_some()
}

/// Is this request path (no query) a plan, rather than an ordinary path such as `/favicon.ico`?
pub fn path_is_plan(path: &str) -> bool {
    // Bytes, not `split('/')` and `split_once('=')`: every request asks this of its path. `@`
    // ends a name too (`stall@5`).
    let bytes = path.as_bytes();
    let start = bytes.iter().position(|&b| b != b'/').unwrap_or(bytes.len());
    let len = bytes
        .get(start..)
        .unwrap_or_default()
        .iter()
        .position(|&b| b == b'/' || b == b'=' || b == b'@')
        .unwrap_or(bytes.len() - start);
    is_step_name(path.get(start..start + len).unwrap_or(""))
}

impl Plan {
    /// Parses plan text such as `status=503/delay=2s`. Empty segments are ignored, so a request
    /// path (`/reset=6/`) parses as it is.
    /// The whole text `ok` is the plan with no steps (a plain `200 OK`), everywhere a plan is
    /// written: the command line, routes, `PUT /__httpfault/plan`, the library.
    ///
    /// Pure: the syntax only, a `file=` body is not read (and left empty); a server parses
    /// with [`Plan::parse_with`], which reads files as the plan's source may.
    pub fn parse(text: &str) -> Result<Plan, PlanError> {
        Plan::parse_with(text, &Files::SYNTAX)
    }

    /// [`Plan::parse`], reading the file of a `file=` step as `files` allows.
    pub fn parse_with(text: &str, files: &Files) -> Result<Plan, PlanError> {
        let mut plan = Plan::parse_steps(text)?;
        plan.check_units()?;
        if plan.sse_retry.is_some() && !matches!(plan.body, Body::Sse(_)) {
            return Err(PlanError::Needs("sse-retry", "sse"));
        }
        if matches!(plan.body, Body::Sse(_)) && plan.ranges {
            return Err(PlanError::Conflict("sse", "ranges"));
        }
        if let (Body::File(f), true) = (&mut plan.body, files.reads()) {
            f.bytes = files.load(&f.path).map_err(PlanError::File)?;
        }
        Ok(plan)
    }

    /// The steps of `text`, each checked on its own and against the steps before it.
    fn parse_steps(text: &str) -> Result<Plan, PlanError> {
        let mut plan = Plan::default();
        if text.trim_matches('/') == OK {
            return Ok(plan);
        }
        let mut seen: Vec<&'static steps::StepDef> = Vec::new();
        // The value of a `file=` step just before: a `/` in a path must be `%2F`.
        let mut file_before: Option<&str> = None;
        for segment in text.split('/').filter(|s| !s.is_empty()) {
            // `name=value`, or `name@value` (`stall@1000`, as the contract writes it).
            let (raw_name, raw_value) = match segment.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => match segment.split_once('@') {
                    Some((n, v)) => (n, Some(v)),
                    None => (segment, None),
                },
            };
            let Some(step) = steps::find(raw_name) else {
                return Err(match file_before {
                    Some(path) => PlanError::BadValue {
                        step: "file",
                        value: format!("{path}/{segment}"),
                        expected: "a path with each / written %2F, e.g. file=data%2Fchat.sse",
                    },
                    None => PlanError::UnknownStep(raw_name.into()),
                });
            };
            file_before = (step.name == "file").then_some(raw_value.unwrap_or(""));
            if !step.repeatable && seen.iter().any(|s| s.name == step.name) {
                return Err(PlanError::Twice(step.name));
            }
            let value = match raw_value {
                Some(v) => Some(
                    percent_decode(v).ok_or_else(|| PlanError::BadPercent(step.name, v.into()))?,
                ),
                None => None,
            };
            match (step.value, &value) {
                (Value::None, Some(v)) => {
                    return Err(PlanError::UnexpectedValue(step.name, lossy(v)))
                }
                (Value::Required(_) | Value::At(_), None) => {
                    return Err(PlanError::MissingValue(step.name))
                }
                _ => {}
            }
            step.set(&mut plan, value.as_deref())
                .map_err(|expected| PlanError::BadValue {
                    step: step.name,
                    value: lossy(value.as_deref().unwrap_or_default()),
                    expected,
                })?;
            // `seen` holds each step once: a plan of thousands of `header=` steps is checked
            // against the few distinct steps before it, not against every one (quadratic).
            if seen.iter().any(|s| std::ptr::eq(*s, step)) {
                continue;
            }
            for earlier in &seen {
                if conflict(earlier, step) {
                    return Err(PlanError::Conflict(earlier.name, step.name));
                }
            }
            seen.push(step);
        }
        Ok(plan.with_facts())
    }

    /// The plan with its derived facts computed from the steps it holds (a step is held when
    /// it prints: `drain=yes` holds nothing).
    pub fn with_facts(mut self) -> Plan {
        self.proxy = ProxyUse::Shapes;
        let held: Vec<&steps::StepDef> = STEPS
            .iter()
            .filter(|s| StepOf(s, &self).present())
            .collect();
        self.proxy = proxy_use(&held, &self);
        let first = |p: steps::Proto| {
            held.iter()
                .find(|s| s.proto == p)
                .map(|s| (s.name, s.proto))
        };
        self.only = OnlyIn {
            h1: first(steps::Proto::H1),
            h2: first(steps::Proto::H2),
            ws: first(steps::Proto::Ws),
            tunnel: first(steps::Proto::Tunnel),
        };
        self
    }

    /// The unit of the plan's message offsets (`3ev`, `3msg`), if it has any: the timeline
    /// then counts those messages in the body.
    pub fn message_unit(&self) -> Option<units::Unit> {
        self.message_offsets().next().map(|(_, unit)| unit)
    }

    /// A plan error when proxy mode cannot honour a step of the plan (the step table's proxy
    /// column says why).
    pub fn check_proxy(&self) -> Result<(), PlanError> {
        match self.proxy {
            ProxyUse::Refused(step, why) => Err(PlanError::Proxy(step, why)),
            _ => Ok(()),
        }
    }

    /// A plan error naming the first step of the plan that only the other protocol than
    /// `proto` has a meaning for. The step table's protocol column decides; a step is in the
    /// plan when it prints.
    pub fn check_protocol(&self, proto: steps::Proto) -> Result<(), PlanError> {
        use steps::Proto;
        let only = self.only;
        let refused = match proto {
            Proto::H2 => only.h1.or(only.ws).or(only.tunnel),
            // A WebSocket upgrade: HTTP/1.1's steps shape the answer that refuses it.
            Proto::Ws => only.h2.or(only.tunnel),
            // Proxy mode's upgrade: its proxy column refuses the steps that make frames.
            Proto::Tunnel => only.h2,
            _ => only.h2.or(only.ws).or(only.tunnel),
        };
        match refused {
            Some((name, other)) => Err(PlanError::Protocol(name, other.name(), proto.name())),
            None => Ok(()),
        }
    }

    /// Does the plan answer a WebSocket upgrade request at the HTTP level (`status=CODE`,
    /// `raw`, `garbage`, a bare or request-side ending), so there is no handshake?
    pub fn refuses_upgrade(&self) -> bool {
        self.status.is_some()
            || self.replace.is_some()
            || matches!(
                self.ending,
                Some(Ending {
                    at: None | Some(Offset::Req(_)),
                    ..
                })
            )
    }

    /// One message unit a plan: offsets that count `ev` and `msg` together, or `msg` offsets
    /// on an event stream (`sse`, whose messages are events), are an error naming both steps.
    fn check_units(&self) -> Result<(), PlanError> {
        let mut first: Option<(Unit, usize)> = None;
        if let Body::Sse(e) = self.body {
            if let Some((i, _)) = self.message_offsets().find(|(_, u)| *u != Unit::Ev) {
                return Err(PlanError::Units(
                    format!("sse={}", e.count),
                    self.offset_step(i),
                ));
            }
        }
        for (i, unit) in self.message_offsets() {
            match first {
                None => first = Some((unit, i)),
                Some((u, j)) if u != unit => {
                    return Err(PlanError::Units(self.offset_step(j), self.offset_step(i)))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The offsets of the plan that count messages: (index, unit); index `i` is the `i`-th
    /// pause, `pauses.len()` the ending, and `pauses.len() + 1` an HTTP/2 ending.
    fn message_offsets(&self) -> impl Iterator<Item = (usize, Unit)> + '_ {
        let ending = self.ending.and_then(|e| e.at);
        self.pauses
            .iter()
            .map(|p| Some(p.0))
            .chain([ending, self.h2_offset()])
            .enumerate()
            .filter_map(|(i, o)| match o {
                Some(Offset::Msg { unit, .. }) => Some((i, unit)),
                _ => None,
            })
    }

    /// Where an HTTP/2 ending step (`rst=CODE@N`, `goaway=CODE@N`, `stall@N`) cuts.
    fn h2_offset(&self) -> Option<Offset> {
        match self.h2.end {
            Some(H2End::Rst(_, at) | H2End::GoAway(_, at)) => at,
            Some(H2End::Stall(at)) => Some(at),
            _ => None,
        }
    }

    /// The step of [`Plan::message_offsets`]' index `i`, as written.
    fn offset_step(&self, i: usize) -> String {
        let n = self.pauses.len();
        match (self.pauses.get(i), self.ending) {
            (Some((o, d)), _) => format!("pause={o},{}", units::DurText(*d)),
            (None, Some(Ending { kind, at: Some(o) })) if i == n => format!("{}={o}", kind.name()),
            _ => ["rst", "goaway", "stall"]
                .iter()
                .filter_map(|name| steps::find(name))
                .map(|s| StepOf(s, self).to_string())
                .find(|t| !t.is_empty())
                .unwrap_or_default(),
        }
    }

    /// A plan that a request chooses (path, route, `X-Httpfault-Plan`): a TLS handshake fault
    /// in it is an error, since the handshake is over by then.
    pub fn for_request(self) -> Result<Plan, PlanError> {
        match self.tls {
            Some(h) => Err(PlanError::Handshake(h)),
            None => Ok(self),
        }
    }

    /// The plan for a request that its `times` or `chance` does not apply to: its content
    /// steps (body, headers, framing, representation; [`steps::Role`]) without its faults and
    /// limits, so the answer is what a healthy server would send. Plain `200 OK` with the
    /// default body when the plan has no content steps.
    pub fn without_faults(&self) -> Plan {
        // The canonical text has every value percent-encoded, so each `/` separates steps.
        let text = self.to_string();
        let kept: Vec<&str> = text
            .split('/')
            .filter(|segment| {
                let (name, value) = match segment.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (*segment, None),
                };
                steps::find(name).is_some_and(|s| s.role.kept(value))
            })
            .collect();
        // A subset of a valid plan's content steps is valid (no content step conflicts with
        // another but its own group); fall back to the healthy plan all the same.
        let mut kept = Plan::parse(&kept.join("/")).unwrap_or_default();
        // A file body keeps the bytes it was read with (the syntax alone reads nothing).
        if let (Body::File(k), Body::File(f)) = (&mut kept.body, &self.body) {
            k.bytes = Arc::clone(&f.bytes);
        }
        kept
    }

    /// The status code to send.
    pub fn status_code(&self) -> u16 {
        self.status.unwrap_or(200)
    }
}

/// One step of a plan, printed.
struct StepOf<'a>(&'a steps::StepDef, &'a Plan);

impl StepOf<'_> {
    /// The step is in the plan (it prints something).
    fn present(&self) -> bool {
        struct Any(bool);
        impl fmt::Write for Any {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.0 |= !s.is_empty();
                Ok(())
            }
        }
        let mut sink = Any(false);
        let _ = fmt::write(&mut sink, format_args!("{self}"));
        sink.0
    }
}

impl fmt::Display for StepOf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.print(self.1, &mut steps::Printer::new(f))
    }
}

/// The plan's proxy use from its steps' proxy column: a refused step wins, then a step that
/// answers itself.
fn proxy_use(steps: &[&steps::StepDef], plan: &Plan) -> ProxyUse {
    let mut out = ProxyUse::Shapes;
    for s in steps {
        let answers = match s.proxy {
            steps::Proxy::Refused(why) => return ProxyUse::Refused(s.name, why),
            steps::Proxy::Answers => true,
            steps::Proxy::Ending => matches!(
                plan.ending,
                Some(Ending {
                    at: Some(Offset::Req(_)),
                    ..
                })
            ),
            steps::Proxy::Shapes => false,
        };
        if answers {
            out = ProxyUse::Answers;
        }
    }
    out
}

/// Steps that contradict each other are refused rather than silently resolved.
fn conflict(a: &steps::StepDef, b: &steps::StepDef) -> bool {
    (a.group == b.group && a.group != Group::Free && a.name != b.name)
        || (a.group == Group::Replace && b.shapes)
        || (b.group == Group::Replace && a.shapes)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl fmt::Display for Plan {
    /// The canonical text of the plan: steps in the order of [`steps::STEPS`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = steps::Printer::new(f);
        for step in STEPS {
            step.print(self, &mut out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Plan {
        Plan::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(text: &str) -> String {
        match Plan::parse(text) {
            Ok(p) => panic!("{text} parsed as {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn without_faults_keeps_content_steps_only() {
        let cases: &[(&str, &str)] = &[
            ("times=1/body=100k/close=50k", "body=100k"),
            (
                "times=2/status=503/header=Retry-After:1",
                "header=Retry-After:1",
            ),
            ("chance=0.5/reset", ""),
            (
                "times=1/text=a%2Fb/chunked=4/gzip/delay=1s",
                "text=a%2Fb/chunked=4/gzip",
            ),
            ("times=1/gzip=bad/body=1k", "body=1k"),
            ("times=1/body=10m/ranges/reset=5m", "body=10m/ranges"),
            ("times=1/trailer=X-Sum:1/badchunk", "trailer=X-Sum:1"),
            ("times=1/echo/keepalive=no/lf/info=103", "echo/keepalive=no"),
            ("times=1/raw=x", ""),
            ("times=1/length=5/body=10", "body=10"),
        ];
        for (plan, want) in cases {
            assert_eq!(ok(plan).without_faults().to_string(), *want, "{plan}");
        }
        // Every step's example: what stays is exactly the content steps, and it parses.
        for s in STEPS {
            let kept = ok(s.example).without_faults();
            assert!(kept.times.is_none() && kept.chance.is_none(), "{}", s.name);
            assert!(kept.ending.is_none() && kept.status.is_none(), "{}", s.name);
            assert_eq!(ok(&kept.to_string()), kept, "{}", s.name);
        }
    }

    #[test]
    fn empty_plan_is_healthy_default() {
        assert_eq!(ok(""), Plan::default());
        assert_eq!(ok("ok"), Plan::default());
        assert_eq!(ok("/ok/"), Plan::default());
        assert!(err("ok/delay=1s").contains("unknown step 'ok'"));
        assert_eq!(ok("/"), Plan::default());
        assert_eq!(Plan::default().to_string(), "");
    }

    #[test]
    fn every_step_parses() {
        let p = ok("status=503/header=X-A:1/header=X-B:%20two/delay=2s");
        assert_eq!(p.status, Some(503));
        assert_eq!(
            p.headers,
            vec![("X-A".into(), "1".into()), ("X-B".into(), "two".into())]
        );
        assert_eq!(p.delay, Some(Duration::from_secs(2)));
        assert_eq!(ok("body=64k").body, Body::Filler(65536));
        assert_eq!(ok("text=hi%20there").body, Body::Text(b"hi there".to_vec()));
        assert_eq!(ok("echo").body, Body::Echo);
        assert_eq!(ok("length=20").length, Length::Declared(20));
        assert_eq!(ok("length=none").length, Length::Omitted);
        assert_eq!(ok("chunked").chunked, Some(DEFAULT_CHUNK));
        assert_eq!(ok("chunked=4").chunked, Some(4));
        assert!(ok("badchunk").badchunk);
        assert_eq!(ok("keepalive=no").keepalive, Some(false));
        assert_eq!(
            ok("pause=6,1s/pause=head:10,250ms").pauses,
            vec![
                (Offset::Body(6), Duration::from_secs(1)),
                (Offset::Head(10), Duration::from_millis(250))
            ]
        );
        assert_eq!(ok("rate=1").rate, Some(1));
        let end = |kind, at| Some(Ending { kind, at });
        assert_eq!(ok("reset").ending, end(EndKind::Reset, None));
        assert_eq!(
            ok("reset=5m").ending,
            end(EndKind::Reset, Some(Offset::Body(5 << 20)))
        );
        assert_eq!(
            ok("close=head:10").ending,
            end(EndKind::Close, Some(Offset::Head(10)))
        );
        assert_eq!(ok("hang=end").ending, end(EndKind::Hang, Some(Offset::End)));
        assert_eq!(ok("garbage=64").replace, Some(Replace::Garbage(64)));
        assert_eq!(
            ok("raw=HTTP%2F1.1%20200").replace,
            Some(Replace::Raw(b"HTTP/1.1 200".to_vec()))
        );
        assert!(!ok("drain=no").drain);
        assert_eq!(ok("idle=250ms").idle, Some(Duration::from_millis(250)));
        assert_eq!(ok("reuse=reset").reuse, Some(EndKind::Reset));
        assert_eq!(ok("reuse=close").reuse, Some(EndKind::Close));
        assert_eq!(ok("times=2").times, Some(2));
        assert_eq!(ok("chance=0.25").chance, Some(0.25));
        assert_eq!(
            ok("reset=req:1k").ending,
            end(EndKind::Reset, Some(Offset::Req(1024)))
        );
        assert_eq!(ok("continue=no").expect, Some(Continue::Never));
        assert_eq!(ok("continue=417").expect, Some(Continue::Final(417)));
        assert_eq!(ok("info=103/info=100").info, vec![103, 100]);
        let t = ok("trailer=X-Sum:abc");
        assert_eq!(t.trailers, vec![("X-Sum".into(), "abc".into())]);
        assert_eq!(t.chunked, Some(DEFAULT_CHUNK), "a trailer implies chunked");
        assert_eq!(t.to_string(), "trailer=X-Sum:abc");
        assert_eq!(ok("extra=HTTP%2F1.1").extra, Some(b"HTTP/1.1".to_vec()));
        assert!(ok("lf").lf);
        assert_eq!(ok("gzip").gzip, Some(Gzip::Good));
        assert_eq!(ok("gzip=bad").gzip, Some(Gzip::BadCrc));
        assert_eq!(ok("readrate=1k").readrate, Some(1024));
        assert!(ok("ranges").ranges);
    }

    #[test]
    fn request_side_and_protocol_step_errors() {
        assert!(err("pause=req:5,1s").contains("response offset"));
        assert!(err("reset=req:x").contains("req:100"));
        assert!(err("continue=yes").contains("'no' or a code"));
        assert!(err("continue=100").contains("'100'"));
        assert!(err("info=200").contains("100 to 199"));
        assert!(err("info=101").contains("other than 101"));
        assert!(err("trailer=nocolon").contains("NAME:VALUE"));
        assert!(err("gzip=good").contains("'bad'"));
        assert!(err("readrate=0").contains("at least 1"));
        assert!(err("lf=1").contains("takes no value"));
        assert_eq!(
            err("gzip/ranges"),
            "steps 'gzip' and 'ranges' cannot be combined"
        );
        for step in [
            "info=103",
            "trailer=A:b",
            "extra=x",
            "lf",
            "gzip",
            "ranges",
            "continue=417",
        ] {
            assert!(
                err(&format!("raw=x/{step}")).contains("cannot be combined"),
                "{step}"
            );
        }
        assert!(Plan::parse("garbage=1/readrate=1").is_ok());
    }

    #[test]
    fn every_error_names_the_bad_value() {
        let unknown = err("rset");
        assert!(unknown.starts_with("unknown step 'rset' (expected one of: status, header"));
        assert_eq!(err("status"), "step 'status' needs a value (status=CODE)");
        assert_eq!(err("echo=1"), "step 'echo' takes no value (got '1')");
        assert_eq!(
            err("status=abc"),
            "step 'status': bad value 'abc' (expected a code from 100 to 999)"
        );
        assert!(err("status=99").contains("'99'"));
        assert!(err("status=1000").contains("'1000'"));
        assert!(err("status=+200").contains("'+200'"));
        assert!(err("header=nocolon").contains("NAME:VALUE"));
        assert!(err("header=Bad%20Name:1").contains("header name"));
        assert!(err("header=X:a%0D%0Ab").contains("without CR"));
        assert!(err("body=12q").contains("'12q'"));
        assert!(err("body=-1").contains("'-1'"));
        assert!(err("length=x").contains("'none'"));
        assert!(err("chunked=0").contains("at least 1"));
        assert!(err("keepalive=maybe").contains("'no' or 'yes'"));
        assert!(err("delay=5").contains("expected a duration"));
        assert!(err("delay=1h").contains("'1h'"));
        assert!(err("delay=.5s").contains("'.5s'"));
        assert!(err("delay=1.s").contains("'1.s'"));
        assert!(err("pause=6").contains("OFFSET,DUR"));
        assert!(err("pause=x,1s").contains("offset"));
        assert!(err("pause=6,1").contains("duration"));
        assert!(err("rate=0").contains("at least 1"));
        assert!(err("reset=head:").contains("'head:'"));
        assert!(err("garbage=k").contains("'k'"));
        assert!(err("reuse=hang").contains("'reset' or 'close'"));
        assert!(err("times=0").contains("at least 1"));
        assert!(err("chance=1.5").contains("'1.5'"));
        assert!(err("chance=NaN").contains("'NaN'"));
        assert_eq!(err("status=200/status=201"), "step 'status' given twice");
        assert_eq!(
            err("reset/close"),
            "steps 'reset' and 'close' cannot be combined"
        );
        assert_eq!(
            err("text=a/body=1"),
            "steps 'text' and 'body' cannot be combined"
        );
        assert_eq!(
            err("raw=x/status=200"),
            "steps 'raw' and 'status' cannot be combined"
        );
        assert_eq!(
            err("garbage=1/raw=x"),
            "steps 'garbage' and 'raw' cannot be combined"
        );
        assert_eq!(
            err("reuse=reset/hang"),
            "steps 'reuse' and 'hang' cannot be combined"
        );
        assert_eq!(
            err("text=%zz"),
            "step 'text': bad percent-encoding in '%zz'"
        );
        assert_eq!(err("text=%4"), "step 'text': bad percent-encoding in '%4'");
    }

    #[test]
    fn error_messages_stay_on_one_line() {
        let e = err("bad%0Aname");
        assert!(!e.contains('\n'), "{e}");
        let e = err("status=%0A1");
        assert!(!e.contains('\n') && e.contains("\\x0a"), "{e}");
    }

    /// Issue 24 item 12: UTF-8 in a bad value reads as its characters, not `\xc3\xa9`.
    #[test]
    fn error_messages_show_utf8_as_characters() {
        let e = err("grpc-message=caf%C3%A9%00");
        assert_eq!(
            e,
            "step 'grpc-message': bad value 'café\\x00' (expected text without control bytes)"
        );
        let e = err("status=%C2%85");
        assert!(e.contains(r"'\u{85}'"), "{e}");
    }

    #[test]
    fn printed_plans_parse_back_to_the_same_plan() {
        for text in [
            "status=503/delay=2s",
            "header=X-A:1/header=X-B:with%20space%2Fslash",
            "body=10m/reset=5m",
            "text=hi%20there%25/length=none",
            "echo/chunked=4/badchunk",
            "badchunk",
            "chunked/keepalive=no",
            "pause=6,1.5s/pause=head:10,250ms/rate=64k/close=end",
            "raw=HTTP%2F1.1%20200%20OK%0D%0A%0D%0A/hang=head:3",
            "garbage=1k/delay=100us",
            "drain=no/idle=1m/reuse=close/times=3/chance=0.3333333333333333",
            "reset",
            "length=13/keepalive=yes/drain=yes",
            "close=req:64k/readrate=1k",
            "continue=no/info=103/info=100/trailer=A:1/trailer=B:2/extra=x%0D%0A/lf/gzip=bad",
            "chunked=4/trailer=A:1/ranges/continue=417",
        ] {
            let plan = ok(text);
            let printed = plan.to_string();
            assert_eq!(ok(&printed), plan, "{text} printed as {printed}");
        }
        assert_eq!(ok("delay=2s/status=503").to_string(), "status=503/delay=2s");
        assert_eq!(ok("reset=6").to_string(), "reset=6");
    }

    /// A random valid plan, built from the step space (not from text), so printing and
    /// parsing it again must give it back.
    fn random_plan(r: &mut crate::rng::Rng) -> Plan {
        let mut pick = |n: u64| r.next_u64() % n;
        let mut p = Plan::default();
        let size = |x: u64| [0, 1, 6, 13, 512, 1024, 65536, 10 << 20, 12345][x as usize % 9];
        let dur =
            |x: u64| [1, 999, 1000, 250_000, 1_500_000, 60_000_000, 2_000_001][x as usize % 7];
        let offset = |x: u64, y: u64| match x % 3 {
            0 => Offset::Body(size(y)),
            1 => Offset::Head(size(y)),
            _ => Offset::End,
        };
        let bytes = |x: u64| -> Vec<u8> { (0..x % 12).map(|i| (i * 37 + x * 11) as u8).collect() };
        let replace = pick(6) == 0;
        if replace {
            p.replace = Some(if pick(2) == 0 {
                Replace::Garbage(size(pick(9)))
            } else {
                Replace::Raw(bytes(pick(50)))
            });
        } else {
            if pick(2) == 0 {
                p.status = Some(100 + pick(900) as u16);
            }
            for _ in 0..pick(3) {
                let value: String = ["", "1", "a b", "x/y%z", "caf\u{e9}"][pick(5) as usize].into();
                p.headers.push((
                    ["X-A", "Retry-After", "a!#$%&'*+-.^_`|~"][pick(3) as usize].into(),
                    value,
                ));
            }
            p.body = match pick(4) {
                0 => Body::Default,
                1 => Body::Filler(size(pick(9))),
                2 => Body::Text(bytes(pick(50))),
                _ => Body::Echo,
            };
            p.length = match pick(3) {
                0 => Length::Auto,
                1 => Length::Declared(size(pick(9))),
                _ => Length::Omitted,
            };
            if pick(3) == 0 {
                p.chunked = Some([1, 4, DEFAULT_CHUNK, 1024][pick(4) as usize]);
                p.badchunk = pick(2) == 0;
            }
            if pick(3) == 0 {
                p.keepalive = Some(pick(2) == 0);
            }
            p.expect = match pick(4) {
                0 => Some(Continue::Never),
                1 => Some(Continue::Final(200 + pick(800) as u16)),
                _ => None,
            };
            for _ in 0..pick(3) {
                p.info.push([100, 102, 103, 199][pick(4) as usize]);
            }
            for _ in 0..pick(3) {
                let value: String = ["", "1", "a b", "x/y%z"][pick(4) as usize].into();
                p.trailers
                    .push((["X-Sum", "Server-Timing"][pick(2) as usize].into(), value));
            }
            if !p.trailers.is_empty() {
                p.chunked.get_or_insert(DEFAULT_CHUNK);
            }
            if pick(3) == 0 {
                p.extra = Some(bytes(pick(50)));
            }
            p.lf = pick(2) == 0;
            match pick(4) {
                0 => p.gzip = Some(Gzip::Good),
                1 => p.gzip = Some(Gzip::BadCrc),
                2 => p.ranges = true,
                _ => {}
            }
        }
        if pick(3) == 0 {
            p.readrate = Some(1 + size(pick(9)));
        }
        if pick(2) == 0 {
            p.delay = Some(Duration::from_micros(dur(pick(7))));
        }
        for _ in 0..pick(3) {
            p.pauses.push((
                offset(pick(3), pick(9)),
                Duration::from_micros(dur(pick(7))),
            ));
        }
        if pick(3) == 0 {
            p.rate = Some(1 + size(pick(9)));
        }
        let ending = pick(4);
        if ending < 3 {
            let kind = [EndKind::Reset, EndKind::Close, EndKind::Hang][ending as usize];
            let at = match pick(3) {
                0 => Some(offset(pick(3), pick(9))),
                1 => Some(Offset::Req(size(pick(9)))),
                _ => None,
            };
            p.ending = Some(Ending { kind, at });
        } else if pick(2) == 0 {
            p.reuse = Some(if pick(2) == 0 {
                EndKind::Reset
            } else {
                EndKind::Close
            });
        }
        p.drain = pick(2) == 0;
        if pick(3) == 0 {
            p.idle = Some(Duration::from_micros(dur(pick(7))));
        }
        if pick(3) == 0 {
            p.times = Some(1 + pick(1000));
        }
        if pick(3) == 0 {
            p.chance = Some(pick(1001) as f64 / 1000.0);
        }
        p
    }

    #[test]
    fn http2_steps_parse_print_and_name_their_protocol() {
        use steps::Proto;
        let p = ok("rst=cancel@1000");
        assert_eq!(p.h2.end, Some(H2End::Rst(8, Some(Offset::Body(1000)))));
        assert_eq!(p.to_string(), "rst=cancel@1000");
        // `stall@N` as the contract writes it, and `stall=N`, print as `stall@N`.
        assert_eq!(ok("stall@64k").to_string(), "stall@64k");
        assert_eq!(ok("stall=5").h2.end, Some(H2End::Stall(Offset::Body(5))));
        assert!(path_is_plan("/stall@5"));
        assert_eq!(
            ok("goaway=0x1@end").h2.end,
            Some(H2End::GoAway(1, Some(Offset::End)))
        );
        assert_eq!(ok("rst=REFUSED-STREAM").to_string(), "rst=refused_stream");
        let g = ok("grpc-status=UNAVAILABLE/grpc-message=down%20now/grpc-messages=2/no-trailers");
        assert_eq!(g.h2.grpc_status, Some(14));
        assert_eq!(Plan::parse(&g.to_string()).unwrap(), g);
        assert_eq!(
            ok("grpc-status=4").to_string(),
            "grpc-status=deadline_exceeded"
        );
        for text in [
            "goaway-keep/window=0/maxstreams=3/ping-timeout",
            "noheaders",
            "headers-only/header=X:1",
        ] {
            let p = ok(text);
            assert_eq!(Plan::parse(&p.to_string()).unwrap(), p, "{text}");
        }
        assert!(
            err("rst=nope").contains("error code"),
            "{}",
            err("rst=nope")
        );
        assert!(err("rst=cancel@head:5").contains("body offset"));
        assert!(err("grpc-status=17").contains("0 to 16"));
        assert!(err("window=1").contains("'1'"));
        assert!(err("stall@5/reset").contains("cannot be combined"));
        // The protocol column: each side's steps are a plan error on the other.
        let e = ok("rst=cancel")
            .check_protocol(Proto::H1)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "step 'rst' is HTTP/2 only (this request is HTTP/1.1)");
        let e = ok("chunked")
            .check_protocol(Proto::H2)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "step 'chunked' is HTTP/1.1 only (this request is HTTP/2)"
        );
        assert!(ok("status=503/reset=6").check_protocol(Proto::H2).is_ok());
        assert!(ok("status=503/reset=6").check_protocol(Proto::H1).is_ok());
        // WebSocket steps: only on an upgrade; an upgrade refuses HTTP/2's steps.
        let e = |plan: &str, proto| ok(plan).check_protocol(proto).unwrap_err().to_string();
        assert_eq!(
            e("status=503/ws-send=3", Proto::H1),
            "step 'ws-send' is WebSocket only (this request is HTTP/1.1)"
        );
        assert_eq!(
            e("ws-bad=utf8", Proto::H2),
            "step 'ws-bad' is WebSocket only (this request is HTTP/2)"
        );
        assert_eq!(
            e("ws-send=3/rst=cancel", Proto::Ws),
            "step 'rst' is HTTP/2 only (this request is WebSocket)"
        );
        assert!(ok("ws-send=3/reset=3msg/chunked")
            .check_protocol(Proto::Ws)
            .is_ok());
        assert!(ok("status=403").refuses_upgrade());
        assert!(ok("reset").refuses_upgrade());
        assert!(!ok("reset=3msg/ws-close=1000").refuses_upgrade());
    }

    #[test]
    fn grpc_stream_steps_parse_and_print_back() {
        let p =
            ok("grpc-messages=5,250ms/grpc-status=UNAVAILABLE@2msg/grpc-pushback=-1/grpc-read=3");
        assert_eq!(p.h2.grpc_messages, Some(5));
        assert_eq!(p.h2.grpc_every, Duration::from_millis(250));
        assert_eq!(p.h2.grpc_status_at, Some(GrpcAt { n: 2, plus: 0 }));
        assert_eq!(p.h2.grpc_pushback, Some(-1));
        assert_eq!(p.h2.grpc_read, Some(3));
        assert_eq!(
            p.to_string(),
            "grpc-status=unavailable@2/grpc-messages=5,250ms/grpc-pushback=-1/grpc-read=3"
        );
        let cut = ok("grpc-status=13@2msg+1k");
        assert_eq!(cut.h2.grpc_status_at, Some(GrpcAt { n: 2, plus: 1024 }));
        assert_eq!(cut.to_string(), "grpc-status=internal@2msg+1k");
        assert_eq!(ok("grpc-messages=3,0s").to_string(), "grpc-messages=3");
        for text in [
            "grpc-messages=3,1s/grpc-status=ok@0",
            "grpc-pushback=2147483647",
            "grpc-read=1000000/rst=cancel",
        ] {
            let p = ok(text);
            assert_eq!(Plan::parse(&p.to_string()).unwrap(), p, "{text}");
            assert!(p.h2.is_grpc(), "{text}");
        }
        for (bad, says) in [
            ("grpc-messages=3,fast", "250ms"),
            ("grpc-messages=3,", "250ms"),
            ("grpc-status=unavailable@2ev", "message count"),
            ("grpc-status=unavailable@1k", "message count"),
            ("grpc-status=unavailable@", "message count"),
            ("grpc-status=unavailable@1000001", "0 to 1000000"),
            (
                "grpc-status=unavailable@18446744073709551615msg",
                "0 to 1000000",
            ),
            ("grpc-pushback=-2", "-1"),
            ("grpc-pushback=2147483648", "2147483647"),
            ("grpc-pushback=+5", "2147483647"),
            ("grpc-read=0", "1 to 1000000"),
            ("grpc-read=1000001", "1 to 1000000"),
        ] {
            assert!(err(bad).contains(says), "{bad}: {}", err(bad));
        }
    }

    #[test]
    fn property_random_plans_print_and_parse_back() {
        let mut r = crate::rng::Rng::new(2026);
        for i in 0..20_000 {
            let plan = random_plan(&mut r).with_facts();
            let text = plan.to_string();
            match Plan::parse(&text) {
                Ok(back) => assert_eq!(back, plan, "case {i}: {text}"),
                Err(e) => panic!("case {i}: {text} does not parse: {e}\n{plan:?}"),
            }
            // The printed text is also a valid request path.
            assert!(
                text.is_empty() || path_is_plan(&format!("/{text}")),
                "{text}"
            );
        }
    }

    #[test]
    fn property_any_text_parses_or_fails_cleanly() {
        let mut r = crate::rng::Rng::new(7);
        // Every step name, plus the pieces values are made of.
        let pieces = [
            "=",
            "/",
            ",",
            ":",
            "%",
            "%2F",
            "%zz",
            "head:",
            "end",
            "none",
            "no",
            "yes",
            "k",
            "m",
            "ms",
            "s",
            "us",
            ".",
            "0",
            "1",
            "9",
            "99999999999999999999",
            "-",
            " ",
            "\u{0}",
            "\n",
            "\u{e9}",
            "\u{1F600}",
        ];
        let atoms: Vec<&str> = STEPS.iter().map(|s| s.name).chain(pieces).collect();
        for _ in 0..50_000 {
            let n = r.next_u64() % 12;
            let text: String = (0..n)
                .map(|_| atoms[(r.next_u64() % atoms.len() as u64) as usize])
                .collect();
            match Plan::parse(&text) {
                Ok(plan) => assert_eq!(Plan::parse(&plan.to_string()), Ok(plan), "{text:?}"),
                Err(e) => {
                    let msg = e.to_string();
                    assert!(!msg.is_empty() && !msg.contains('\n'), "{text:?}: {msg:?}");
                }
            }
        }
    }

    /// `is_step_name` skips the table for names no step could have: every step must pass.
    #[test]
    fn tls_steps_parse_print_back_and_stay_out_of_request_plans() {
        assert_eq!(ok("tls=expired").tls, Some(Handshake::Expired));
        assert_eq!(ok("tls=hang").tls, Some(Handshake::Hang));
        assert_eq!(
            ok("tls=alert=handshake_failure").tls,
            Some(Handshake::Alert(40))
        );
        assert_eq!(ok("tls=alert=112").tls, Some(Handshake::Alert(112)));
        assert!(!ok("tls=no-close-notify").close_notify);
        assert!(ok("").close_notify);
        for text in [
            "tls=reset",
            "tls=close",
            "tls=alert=protocol_version",
            "tls=alert=200",
            "tls=wrong-host",
            "tls=self-signed",
            "tls=untrusted",
            "tls=expired/tls=no-close-notify",
            "length=none/tls=no-close-notify",
        ] {
            assert_eq!(ok(text).to_string(), text);
            assert_eq!(ok(&ok(text).to_string()), ok(text));
        }
        // Handshake faults: one per plan; bad values name what is accepted.
        assert!(err("tls=expired/tls=reset").contains("one handshake fault"));
        assert!(err("tls=alert=nope").contains("alert=NAME"));
        assert!(err("tls=alert=256").contains("'alert=256'"));
        assert!(err("tls").contains("needs a value"));
        // A request's own plan cannot hold one (the handshake is over), but may hold
        // no-close-notify.
        let e = ok("tls=expired").for_request().unwrap_err();
        assert!(e.to_string().contains("--sni"), "{e}");
        assert!(ok("tls=no-close-notify").for_request().is_ok());
    }

    #[test]
    fn message_offsets_take_one_unit_a_plan_and_events_count_in_ev() {
        let at = |n, plus| {
            Some(Offset::Msg {
                unit: Unit::Ev,
                n,
                plus,
            })
        };
        assert_eq!(ok("reset=3ev").ending.and_then(|e| e.at), at(3, 0));
        assert_eq!(ok("close=3ev+10").ending.and_then(|e| e.at), at(3, 10));
        assert_eq!(ok("pause=2ev,1s/hang=5ev").pauses[0].0, at(2, 0).unwrap());
        assert_eq!(
            ok("pause=2msg,1s/reset=3msg+64k").to_string(),
            "pause=2msg,1s/reset=3msg+64k"
        );
        assert_eq!(
            err("pause=3ev,1s/reset=2msg"),
            "steps 'pause=3ev,1s' and 'reset=2msg' count different messages (one unit a plan: \
             ev for Server-Sent Events, msg for gRPC and WebSocket messages)"
        );
        assert!(err("pause=1msg,1s/pause=2ev,1s")
            .starts_with("steps 'pause=1msg,1s' and 'pause=2ev,1s' count different messages"));
        assert!(err("sse=5/close=3msg").starts_with("steps 'sse=5' and 'close=3msg' count"));
        // Byte offsets go with either unit.
        assert!(Plan::parse("pause=6,1s/pause=2ev,1s/reset=head:3").is_ok());
        assert!(err("reset=0ev").contains("'0ev'"));
        assert!(err("reset=3evs").contains("'3evs'"));
        assert!(err("reset=ev").contains("'ev'"));
        assert!(err("reset=3ev+").contains("'3ev+'"));
        assert!(err("pause=req:3,1s").contains("response offset"));
        // HTTP/2's ending steps count too, in the same one unit.
        assert!(err("rst=cancel@3msg/pause=2ev,1s")
            .starts_with("steps 'pause=2ev,1s' and 'rst=cancel@3msg' count different messages"));
        assert!(Plan::parse("stall@2msg+3/pause=1msg,1s").is_ok());
    }

    #[test]
    fn event_streams_parse_print_and_check() {
        let e = |count, ms| {
            Body::Sse(Events {
                count,
                every: Duration::from_millis(ms),
            })
        };
        assert_eq!(ok("sse=5").body, e(5, 100));
        assert_eq!(ok("sse=5").to_string(), "sse=5");
        assert_eq!(ok("sse=5,100ms").to_string(), "sse=5");
        assert_eq!(ok("sse=5,1s").body, e(5, 1000));
        assert_eq!(ok("sse=0,0ms").to_string(), "sse=0,0ms");
        assert_eq!(ok("sse=1000000").body, e(1_000_000, 100));
        let p = ok("sse-retry=2000/sse=3,1s/reset=2ev+4");
        assert_eq!(p.sse_retry, Some(2000));
        assert_eq!(p.to_string(), "sse=3,1s/sse-retry=2000/reset=2ev+4");
        assert!(err("sse=1000001").contains("from 0 to 1000000"));
        assert!(err("sse=-1").contains("'-1'"));
        assert!(err("sse=5,1").contains("duration"));
        assert!(err("sse=5/sse-retry=x").contains("milliseconds"));
        assert_eq!(err("sse-retry=1000"), "step 'sse-retry' goes with 'sse'");
        assert_eq!(
            err("sse=5/ranges"),
            "steps 'sse' and 'ranges' cannot be combined"
        );
        assert_eq!(
            err("sse=5/echo"),
            "steps 'sse' and 'echo' cannot be combined"
        );
        assert_eq!(
            err("text=x/sse=5"),
            "steps 'text' and 'sse' cannot be combined"
        );
        // Content: kept when `times` leaves a request out.
        assert_eq!(
            ok("times=1/sse=3/sse-retry=10/reset=1ev")
                .without_faults()
                .to_string(),
            "sse=3/sse-retry=10"
        );
        // HTTP/1.1 only for now.
        let e = ok("sse=3").check_protocol(steps::Proto::H2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "step 'sse' is HTTP/1.1 only (this request is HTTP/2)"
        );
    }

    #[test]
    fn file_bodies_read_where_allowed_and_print_back() {
        let dir = std::env::temp_dir().join(format!("httpfault-plan-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("chat.sse"), b"data: 1\n\n").unwrap();
        let path = dir.join("chat.sse");
        let path = path.to_str().unwrap();
        let text = format!("file={}/reset=1ev", units::Encoded(path.as_bytes()));
        // Pure parsing reads nothing; a request's plan without --files may not.
        let Body::File(unread) = ok(&text).body else {
            panic!()
        };
        assert!(unread.bytes.is_empty());
        let refused = Plan::parse_with(&text, &Files::requests(None)).unwrap_err();
        assert_eq!(refused, PlanError::File(FileError::NotAllowed));
        assert!(refused.to_string().contains("--files DIR"));
        let files = Files::requests(None).operator();
        let p = Plan::parse_with(&text, &files).unwrap();
        let Body::File(f) = &p.body else {
            panic!("{p:?}")
        };
        assert_eq!(&*f.bytes, b"data: 1\n\n");
        assert_eq!(p.to_string(), text);
        assert_eq!(Plan::parse_with(&p.to_string(), &files).unwrap(), p);
        // `times` keeps the body as read.
        let kept = Plan::parse_with(&format!("times=1/{text}"), &files)
            .unwrap()
            .without_faults();
        assert_eq!(kept.body, p.body);
        assert!(kept.ending.is_none());
        // A / in a path must be %2F: the error says so.
        assert_eq!(
            err("file=data/chat.sse/reset=1ev"),
            "step 'file': bad value 'data/chat.sse' (expected a path with each / written %2F, \
             e.g. file=data%2Fchat.sse)"
        );
        assert!(err("file=").contains("a file path"));
        assert!(err("file=a/text=x").contains("cannot be combined"));
        let missing = Plan::parse_with("file=%2Fnonexistent%2Fx", &files).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "step 'file': cannot read '/nonexistent/x' (no such file)"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn every_step_name_is_recognised() {
        for s in STEPS {
            assert!(is_step_name(s.name), "{}", s.name);
        }
    }

    #[test]
    fn paths_that_are_plans() {
        assert!(path_is_plan("/reset"));
        assert!(path_is_plan("/status=503/delay=2s"));
        assert!(path_is_plan("//status=bad"));
        assert!(path_is_plan("/status"));
        assert!(!path_is_plan("/"));
        assert!(!path_is_plan(""));
        assert!(!path_is_plan("/favicon.ico"));
        assert!(!path_is_plan("/resets"));
        assert!(!path_is_plan("/api/status=1"));
    }
}
