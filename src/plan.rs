//! The plan language: text in, [`Plan`] out, and a `Plan` printed back as text. No I/O.
//!
//! A plan is a list of steps separated by `/`; a step is `name` or `name=value`. The text is
//! split on `/` first and each value is then percent-decoded, so a `/` inside a value is `%2F`.
//! Parsing resolves the steps into one `Plan` value that the executor runs; printing writes the
//! steps back in a canonical order, and `parse(print(p)) == p` for every plan.

use std::fmt;
use std::time::Duration;

/// Every step name, in the order `--help`, errors and printing use.
pub const STEP_NAMES: &[&str] = &[
    "status",
    "header",
    "body",
    "text",
    "echo",
    "length",
    "chunked",
    "badchunk",
    "keepalive",
    "delay",
    "pause",
    "rate",
    "reset",
    "close",
    "hang",
    "garbage",
    "raw",
    "drain",
    "idle",
    "reuse",
    "times",
    "chance",
];

/// The default chunk size of a bare `chunked` step.
pub const DEFAULT_CHUNK: u64 = 8;
/// Sizes and offsets above this are refused: 1 TiB is more than any test needs and keeps every
/// sum of offsets far from overflowing `u64`.
pub const MAX_SIZE: u64 = 1 << 40;
/// Durations above this are refused (a day), so deadline arithmetic on `Instant` cannot overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(86_400);

/// Where in the response a pause or an ending falls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offset {
    /// After this many bytes of the body as it goes on the wire (chunk framing included).
    Body(u64),
    /// After this many bytes of the whole response, counted from the status line.
    Head(u64),
    /// After the last byte.
    End,
}

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
    pub kind: EndKind,
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

/// What `reuse=` does to the next request on a kept-alive connection.
pub type Reuse = EndKind;

/// A parsed plan: every step resolved into one value. `Plan::default()` is a healthy
/// `200 OK` with `Hello, world!`.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    pub length: Length,
    pub chunked: Option<u64>,
    pub badchunk: bool,
    pub keepalive: Option<bool>,
    pub delay: Option<Duration>,
    pub pauses: Vec<(Offset, Duration)>,
    pub rate: Option<u64>,
    pub ending: Option<Ending>,
    pub replace: Option<Replace>,
    pub drain: bool,
    pub idle: Option<Duration>,
    pub reuse: Option<Reuse>,
    pub times: Option<u64>,
    pub chance: Option<f64>,
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
    times: None,
    chance: None,
};

impl Default for Plan {
    fn default() -> Plan {
        HEALTHY
    }
}

/// Why a plan does not parse. Each message names the step and the bad value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    UnknownStep(String),
    MissingValue(&'static str),
    UnexpectedValue(&'static str, String),
    BadValue {
        step: &'static str,
        value: String,
        expected: &'static str,
    },
    BadPercent(&'static str, String),
    Twice(&'static str),
    Conflict(&'static str, &'static str),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::UnknownStep(name) => {
                write!(f, "unknown step '{}' (expected one of: ", Escaped(name))?;
                write!(f, "{})", STEP_NAMES.join(", "))
            }
            PlanError::MissingValue(step) => {
                write!(f, "step '{step}' needs a value ({step}={})", usage(step))
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
        }
    }
}

impl std::error::Error for PlanError {}

/// Shows user text in an error message on one line: control and non-ASCII bytes as `\xNN`.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 80;
        for (i, b) in self.0.bytes().enumerate() {
            if i == MAX {
                return f.write_str("...");
            }
            if (0x20..0x7f).contains(&b) {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

fn usage(step: &str) -> &'static str {
    match step {
        "status" => "CODE",
        "header" => "NAME:VALUE",
        "body" | "rate" | "garbage" => "SIZE",
        "text" | "raw" => "TEXT",
        "length" => "N|none",
        "keepalive" | "drain" => "no",
        "delay" | "idle" => "DUR",
        "pause" => "OFFSET,DUR",
        "reuse" => "reset|close",
        "times" => "N",
        "chance" => "P",
        _ => "VALUE",
    }
}

/// Is `name` the name of a step? A request path is a plan when its first segment's name is.
pub fn is_step_name(name: &str) -> bool {
    STEP_NAMES.contains(&name)
}

/// Is this request path (no query) a plan, rather than an ordinary path such as `/favicon.ico`?
pub fn path_is_plan(path: &str) -> bool {
    let first = path.split('/').find(|s| !s.is_empty()).unwrap_or("");
    let name = first.split_once('=').map_or(first, |(n, _)| n);
    is_step_name(name)
}

impl Plan {
    /// Parses plan text such as `status=503/delay=2s`. Empty segments are ignored, so a request
    /// path (`/reset=6/`) parses as it is.
    pub fn parse(text: &str) -> Result<Plan, PlanError> {
        let mut plan = Plan::default();
        let mut seen: Vec<&'static str> = Vec::new();
        for segment in text.split('/').filter(|s| !s.is_empty()) {
            let (raw_name, raw_value) = match segment.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (segment, None),
            };
            let step = STEP_NAMES
                .iter()
                .copied()
                .find(|s| *s == raw_name)
                .ok_or_else(|| PlanError::UnknownStep(raw_name.to_string()))?;
            let repeatable = matches!(step, "header" | "pause");
            if !repeatable && seen.contains(&step) {
                return Err(PlanError::Twice(step));
            }
            seen.push(step);
            let value = match raw_value {
                Some(v) => Some(
                    percent_decode(v).ok_or_else(|| PlanError::BadPercent(step, v.to_string()))?,
                ),
                None => None,
            };
            plan.apply(step, value)?;
        }
        plan.check(&seen)?;
        Ok(plan)
    }

    fn apply(&mut self, step: &'static str, value: Option<Vec<u8>>) -> Result<(), PlanError> {
        // Steps without a value, or with an optional one.
        match (step, &value) {
            ("echo", None) => {
                self.body = Body::Echo;
                return Ok(());
            }
            ("badchunk", None) => {
                self.badchunk = true;
                self.chunked.get_or_insert(DEFAULT_CHUNK);
                return Ok(());
            }
            ("chunked", None) => {
                self.chunked = Some(DEFAULT_CHUNK);
                return Ok(());
            }
            ("reset" | "close" | "hang", None) => {
                self.ending = Some(Ending {
                    kind: end_kind(step),
                    at: None,
                });
                return Ok(());
            }
            ("echo" | "badchunk", Some(v)) => {
                return Err(PlanError::UnexpectedValue(step, lossy(v)));
            }
            (_, None) => return Err(PlanError::MissingValue(step)),
            _ => {}
        }
        let bytes = value.unwrap_or_default();
        // Steps whose value is bytes, not text.
        match step {
            "text" => {
                self.body = Body::Text(bytes);
                return Ok(());
            }
            "raw" => {
                self.replace = Some(Replace::Raw(bytes));
                return Ok(());
            }
            _ => {}
        }
        let bad = |expected: &'static str| PlanError::BadValue {
            step,
            value: lossy(&bytes),
            expected,
        };
        let v = std::str::from_utf8(&bytes).map_err(|_| bad("text"))?;
        match step {
            "status" => {
                let code = v
                    .parse::<u16>()
                    .ok()
                    .filter(|c| (100..=999).contains(c) && v.len() == 3)
                    .ok_or_else(|| bad("a code from 100 to 999"))?;
                self.status = Some(code);
            }
            "header" => {
                let (name, val) = v
                    .split_once(':')
                    .ok_or_else(|| bad("NAME:VALUE, e.g. X-Test:1"))?;
                if name.is_empty() || !name.bytes().all(is_token_byte) {
                    return Err(bad("a header name of letters, digits and !#$%&'*+-.^_`|~"));
                }
                let val = val.trim_matches(|c| c == ' ' || c == '\t');
                if val.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                    return Err(bad("a value without CR, LF or NUL (use raw= for those)"));
                }
                self.headers.push((name.to_string(), val.to_string()));
            }
            "body" => self.body = Body::Filler(parse_size(v).ok_or_else(|| bad(SIZE_HELP))?),
            "length" => {
                self.length = if v == "none" {
                    Length::Omitted
                } else {
                    Length::Declared(parse_size(v).ok_or_else(|| bad("a byte count or 'none'"))?)
                }
            }
            "chunked" => {
                let size = parse_size(v)
                    .filter(|s| *s > 0)
                    .ok_or_else(|| bad("a chunk size of at least 1 byte"))?;
                self.chunked = Some(size);
            }
            "keepalive" => {
                self.keepalive = Some(parse_yes_no(v).ok_or_else(|| bad("'no' or 'yes'"))?)
            }
            "drain" => self.drain = parse_yes_no(v).ok_or_else(|| bad("'no' or 'yes'"))?,
            "delay" => self.delay = Some(parse_duration(v).ok_or_else(|| bad(DUR_HELP))?),
            "idle" => self.idle = Some(parse_duration(v).ok_or_else(|| bad(DUR_HELP))?),
            "pause" => {
                let (off, dur) = v
                    .split_once(',')
                    .ok_or_else(|| bad("OFFSET,DUR, e.g. 6,2s or head:10,500ms"))?;
                let off = parse_offset(off).ok_or_else(|| bad(OFFSET_HELP))?;
                let dur = parse_duration(dur).ok_or_else(|| bad(DUR_HELP))?;
                self.pauses.push((off, dur));
            }
            "rate" => {
                let r = parse_size(v)
                    .filter(|r| *r > 0)
                    .ok_or_else(|| bad("bytes per second, at least 1 (e.g. 1, 512, 64k)"))?;
                self.rate = Some(r);
            }
            "reset" | "close" | "hang" => {
                let at = parse_offset(v).ok_or_else(|| bad(OFFSET_HELP))?;
                self.ending = Some(Ending {
                    kind: end_kind(step),
                    at: Some(at),
                });
            }
            "garbage" => {
                self.replace = Some(Replace::Garbage(
                    parse_size(v).ok_or_else(|| bad(SIZE_HELP))?,
                ))
            }
            "reuse" => {
                self.reuse = Some(match v {
                    "reset" => EndKind::Reset,
                    "close" => EndKind::Close,
                    _ => return Err(bad("'reset' or 'close'")),
                })
            }
            "times" => {
                let n = v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n >= 1 && v.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| bad("a count of at least 1"))?;
                self.times = Some(n);
            }
            "chance" => {
                let p = v
                    .parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=1.0).contains(p))
                    .ok_or_else(|| bad("a probability from 0 to 1, e.g. 0.25"))?;
                self.chance = Some(p);
            }
            // Every name in STEP_NAMES is handled above or before.
            _ => return Err(PlanError::UnknownStep(step.to_string())),
        }
        Ok(())
    }

    /// Steps that contradict each other are refused rather than silently resolved.
    fn check(&self, seen: &[&'static str]) -> Result<(), PlanError> {
        let groups: [&[&'static str]; 2] = [&["text", "body", "echo"], &["reset", "close", "hang"]];
        for group in groups {
            let present: Vec<&'static str> =
                group.iter().copied().filter(|s| seen.contains(s)).collect();
            if present.len() > 1 {
                return Err(PlanError::Conflict(present[0], present[1]));
            }
        }
        // garbage and raw replace the whole response, so no step that shapes it can go with them.
        let shaping = [
            "status",
            "header",
            "body",
            "text",
            "echo",
            "length",
            "chunked",
            "badchunk",
            "keepalive",
        ];
        for replacing in ["garbage", "raw"] {
            if seen.contains(&replacing) {
                if let Some(other) = seen.iter().find(|s| {
                    shaping.contains(s) || (**s != replacing && matches!(**s, "garbage" | "raw"))
                }) {
                    return Err(PlanError::Conflict(replacing, other));
                }
            }
        }
        if let (Some(_), Some(e)) = (self.reuse, self.ending) {
            return Err(PlanError::Conflict("reuse", e.kind.name()));
        }
        Ok(())
    }

    /// The status code to send.
    pub fn status_code(&self) -> u16 {
        self.status.unwrap_or(200)
    }
}

fn end_kind(step: &str) -> EndKind {
    match step {
        "reset" => EndKind::Reset,
        "close" => EndKind::Close,
        _ => EndKind::Hang,
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn parse_yes_no(v: &str) -> Option<bool> {
    match v {
        "no" => Some(false),
        "yes" => Some(true),
        _ => None,
    }
}

const SIZE_HELP: &str = "a size such as 512, 64k or 10m";
const DUR_HELP: &str = "a duration such as 250ms, 2s, 1.5s or 1m";
const OFFSET_HELP: &str = "an offset such as 6, 64k, head:10 or end";

/// Parses a SIZE: a whole number of bytes with an optional `k` or `m` (1024-based).
pub fn parse_size(text: &str) -> Option<u64> {
    let (digits, unit) = match text.as_bytes().last()? {
        b'k' | b'K' => (&text[..text.len() - 1], 1024),
        b'm' | b'M' => (&text[..text.len() - 1], 1024 * 1024),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse::<u64>()
        .ok()?
        .checked_mul(unit)
        .filter(|n| *n <= MAX_SIZE)
}

/// Parses a DUR: a number with a unit (`us`, `ms`, `s`, `m`), decimals allowed: `1.5s`.
/// Exact to the microsecond, without floating point.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let micros_per_unit: u64 = match unit {
        "us" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        _ => return None,
    };
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if number.contains('.') && (frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let mut micros = whole.checked_mul(micros_per_unit)?;
    // The fraction, digit by digit: each digit is worth a tenth of the one before.
    let mut place = micros_per_unit;
    for d in frac.bytes() {
        place /= 10;
        if place == 0 {
            // Finer than a microsecond: refuse rather than round silently.
            if d != b'0' {
                return None;
            }
            continue;
        }
        micros = micros.checked_add(u64::from(d - b'0') * place)?;
    }
    let dur = Duration::from_micros(micros);
    (dur <= MAX_DURATION).then_some(dur)
}

/// Parses an OFFSET: a SIZE of body bytes, `head:SIZE`, or `end`.
pub fn parse_offset(text: &str) -> Option<Offset> {
    if text == "end" {
        return Some(Offset::End);
    }
    match text.strip_prefix("head:") {
        Some(rest) => parse_size(rest).map(Offset::Head),
        None => parse_size(text).map(Offset::Body),
    }
}

/// Decodes `%XX` escapes; `None` for a `%` not followed by two hex digits.
pub fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Writes bytes so that they parse back to the same bytes: unreserved characters stay, `/`,
/// `%`, space, control, non-ASCII and the like become `%XX`.
fn write_encoded(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            write!(f, "{}", b as char)?;
        } else {
            write!(f, "%{b:02X}")?;
        }
    }
    Ok(())
}

pub struct SizeText(pub u64);

impl fmt::Display for SizeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n != 0 && n % (1024 * 1024) == 0 {
            write!(f, "{}m", n / (1024 * 1024))
        } else if n != 0 && n % 1024 == 0 {
            write!(f, "{}k", n / 1024)
        } else {
            write!(f, "{n}")
        }
    }
}

pub struct DurText(pub Duration);

impl fmt::Display for DurText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0.as_micros();
        if us != 0 && us % 60_000_000 == 0 {
            write!(f, "{}m", us / 60_000_000)
        } else if us != 0 && us % 1_000_000 == 0 {
            write!(f, "{}s", us / 1_000_000)
        } else if us % 1_000 == 0 {
            write!(f, "{}ms", us / 1_000)
        } else {
            write!(f, "{us}us")
        }
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Offset::Body(n) => write!(f, "{}", SizeText(*n)),
            Offset::Head(n) => write!(f, "head:{}", SizeText(*n)),
            Offset::End => f.write_str("end"),
        }
    }
}

impl fmt::Display for Plan {
    /// The canonical text of the plan: steps in the order of [`STEP_NAMES`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        let mut step = |f: &mut fmt::Formatter<'_>, name: &str| -> fmt::Result {
            f.write_str(sep)?;
            sep = "/";
            f.write_str(name)
        };
        if let Some(code) = self.status {
            step(f, "status")?;
            write!(f, "={code}")?;
        }
        for (name, value) in &self.headers {
            step(f, "header")?;
            f.write_str("=")?;
            write_encoded(f, name.as_bytes())?;
            f.write_str(":")?;
            write_encoded(f, value.as_bytes())?;
        }
        match &self.body {
            Body::Default => {}
            Body::Filler(n) => {
                step(f, "body")?;
                write!(f, "={}", SizeText(*n))?;
            }
            Body::Text(t) => {
                step(f, "text")?;
                f.write_str("=")?;
                write_encoded(f, t)?;
            }
            Body::Echo => step(f, "echo")?,
        }
        match self.length {
            Length::Auto => {}
            Length::Declared(n) => {
                step(f, "length")?;
                write!(f, "={}", SizeText(n))?;
            }
            Length::Omitted => step(f, "length=none")?,
        }
        if let Some(size) = self.chunked {
            // `badchunk` implies chunked, so a bare default `chunked` beside it is implied.
            if !(self.badchunk && size == DEFAULT_CHUNK) {
                step(f, "chunked")?;
                if size != DEFAULT_CHUNK {
                    write!(f, "={}", SizeText(size))?;
                }
            }
        }
        if self.badchunk {
            step(f, "badchunk")?;
        }
        if let Some(k) = self.keepalive {
            step(f, "keepalive")?;
            f.write_str(if k { "=yes" } else { "=no" })?;
        }
        if let Some(d) = self.delay {
            step(f, "delay")?;
            write!(f, "={}", DurText(d))?;
        }
        for (off, d) in &self.pauses {
            step(f, "pause")?;
            write!(f, "={off},{}", DurText(*d))?;
        }
        if let Some(r) = self.rate {
            step(f, "rate")?;
            write!(f, "={}", SizeText(r))?;
        }
        if let Some(e) = self.ending {
            step(f, e.kind.name())?;
            if let Some(at) = e.at {
                write!(f, "={at}")?;
            }
        }
        match &self.replace {
            None => {}
            Some(Replace::Garbage(n)) => {
                step(f, "garbage")?;
                write!(f, "={}", SizeText(*n))?;
            }
            Some(Replace::Raw(bytes)) => {
                step(f, "raw")?;
                f.write_str("=")?;
                write_encoded(f, bytes)?;
            }
        }
        if !self.drain {
            step(f, "drain=no")?;
        }
        if let Some(d) = self.idle {
            step(f, "idle")?;
            write!(f, "={}", DurText(d))?;
        }
        if let Some(r) = self.reuse {
            step(f, "reuse")?;
            write!(f, "={}", r.name())?;
        }
        if let Some(n) = self.times {
            step(f, "times")?;
            write!(f, "={n}")?;
        }
        if let Some(p) = self.chance {
            step(f, "chance")?;
            write!(f, "={p}")?;
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
    fn empty_plan_is_healthy_default() {
        assert_eq!(ok(""), Plan::default());
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

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("64k"), Some(65536));
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("1.5k"), None);
        assert_eq!(parse_size("99999999999999999999"), None);
        assert_eq!(parse_size("2000000m"), None);
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("0.1s"), Some(Duration::from_millis(100)));
        assert_eq!(parse_duration("1.0000001s"), None);
        assert_eq!(parse_duration("1.0000000s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_duration("2d"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("99999999999999999999s"), None);
        assert_eq!(parse_duration("1441m"), None);
        assert_eq!(parse_offset("end"), Some(Offset::End));
        assert_eq!(parse_offset("head:1k"), Some(Offset::Head(1024)));
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
            let at = (pick(2) == 0).then(|| offset(pick(3), pick(9)));
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
    fn property_random_plans_print_and_parse_back() {
        let mut r = crate::rng::Rng::new(2026);
        for i in 0..20_000 {
            let plan = random_plan(&mut r);
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
        let atoms: Vec<&str> = STEP_NAMES.iter().copied().chain(pieces).collect();
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
