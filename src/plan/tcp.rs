//! The plan language of TCP mode: text in, [`TcpPlan`] out, and a `TcpPlan` printed back as
//! text. No I/O.
//!
//! A plan is a list of steps separated by `/`; a step is `name`, `name=value`, or either with a
//! direction prefix `up:` (client to upstream) or `down:` (upstream to client, the default).
//! Values are percent-decoded after splitting on `/`. One table, [`STEPS`], defines every step:
//! its name, value, help line and example, and the functions that parse and print it, so the
//! parser, the printer and [`help`] cannot disagree.

use super::units::{DurText, SizeText};
use super::{self as plan, parse_duration, parse_size, percent_decode, EndKind, Escaped};
use std::fmt;
use std::time::Duration;

/// Most `pause` steps in one direction: a plan is user text and stays small.
pub const MAX_PAUSES: usize = 256;

/// A direction of the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Client to upstream (`up:`).
    Up,
    /// Upstream to client (`down:`, or no prefix).
    Down,
}

/// The steps of one direction. `DirPlan::default()` relays untouched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirPlan {
    /// `latency=DUR`: each chunk goes out DUR after it arrived.
    pub latency: Option<Duration>,
    /// `latency=DUR~JITTER`: each chunk's latency is drawn from DUR-JITTER..=DUR+JITTER
    /// (never below 0; seeded by `--seed`). Chunks keep their order.
    pub jitter: Option<Duration>,
    /// `rate=SIZE`: at most this many bytes a second (at least 1).
    pub rate: Option<u64>,
    /// `pause=OFFSET,DUR`: after OFFSET bytes, nothing for DUR. In the order written.
    pub pauses: Vec<(u64, Duration)>,
    /// `slice=SIZE`: writes of at most this many bytes (at least 1), each its own segment.
    pub slice: Option<u64>,
    /// `slice=SIZE~VARIATION`: each write's size is drawn from SIZE-VARIATION..=SIZE+VARIATION
    /// (at least 1; seeded by `--seed`).
    pub slice_variation: Option<u64>,
    /// `slice=SIZE,DELAY`: a pause of DELAY after each slice.
    pub slice_delay: Option<Duration>,
    /// `reset=OFFSET`, `close=OFFSET`, `hang=OFFSET`: after exactly OFFSET bytes in this
    /// direction, both connections end this way.
    pub ending: Option<(EndKind, u64)>,
}

impl DirPlan {
    #[cfg(test)]
    /// Does this direction relay untouched?
    pub fn is_untouched(&self) -> bool {
        *self == DirPlan::default()
    }
}

/// A parsed TCP plan. `TcpPlan::default()` relays every byte untouched.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TcpPlan {
    /// `delay=DUR`: wait after accepting, before connecting upstream.
    pub delay: Option<Duration>,
    /// `reset`, `close`, `hang` without an offset: act right after accepting (and `delay`),
    /// without connecting upstream.
    pub at_accept: Option<EndKind>,
    /// Steps for upstream to client.
    pub down: DirPlan,
    /// Steps for client to upstream.
    pub up: DirPlan,
    /// `times=N`: the plan applies to the first N connections (the caller selects).
    pub times: Option<u64>,
    /// `chance=P`: the plan applies with probability P (the caller draws).
    pub chance: Option<f64>,
}

impl TcpPlan {
    /// The steps of one direction.
    pub fn dir(&self, d: Dir) -> &DirPlan {
        match d {
            Dir::Up => &self.up,
            Dir::Down => &self.down,
        }
    }

    fn dir_mut(&mut self, d: Dir) -> &mut DirPlan {
        match d {
            Dir::Up => &mut self.up,
            Dir::Down => &mut self.down,
        }
    }
}

/// Why a TCP plan does not parse. Each message is one line and names the step and the value.
///
/// ```
/// let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = upstream.local_addr().unwrap().to_string();
/// let err = httpfault::Server::builder().tcp().upstream(&addr).plan("up:body=1").start();
/// let Err(httpfault::Error::TcpPlan(e)) = err else { panic!() };
/// assert!(e.to_string().contains("'body'"), "{e}");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpPlanError {
    /// A name that is no step at all.
    UnknownStep(String),
    /// A step of the HTTP plan language that means nothing to a byte relay.
    NotInTcpMode(String),
    /// A step that needs a value was given none.
    MissingValue {
        /// The step.
        step: String,
        /// What it takes.
        usage: &'static str,
    },
    /// A value that does not parse.
    BadValue {
        /// The step.
        step: String,
        /// The value as given.
        value: String,
        /// What the step takes.
        expected: &'static str,
    },
    /// A `%` not followed by two hex digits.
    BadPercent {
        /// The step.
        step: String,
        /// The value as given.
        value: String,
    },
    /// `up:` or `down:` on a step of the whole connection (`up:delay`, `up:reset`).
    NoDirection(String),
    /// A step given twice where only one makes sense.
    Twice(String),
    /// Two steps that contradict each other (two endings for one direction).
    Conflict(String, String),
    /// More than 256 pauses in one direction (the crate-private limit `MAX_PAUSES`); holds the
    /// step as written.
    TooMany(String),
}

impl fmt::Display for TcpPlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpPlanError::UnknownStep(name) => write!(
                f,
                "unknown step '{}' in TCP mode (expected one of: {})",
                Escaped(name),
                names()
            ),
            TcpPlanError::NotInTcpMode(name) => write!(
                f,
                "step '{}' has no meaning in TCP mode (TCP steps: {})",
                Escaped(name),
                names()
            ),
            TcpPlanError::MissingValue { step, usage } => {
                write!(f, "step '{}' needs a value ({}={usage})", Escaped(step), Escaped(step))
            }
            TcpPlanError::BadValue {
                step,
                value,
                expected,
            } => write!(
                f,
                "step '{}': bad value '{}' (expected {expected})",
                Escaped(step),
                Escaped(value)
            ),
            TcpPlanError::BadPercent { step, value } => write!(
                f,
                "step '{}': bad percent-encoding in '{}'",
                Escaped(step),
                Escaped(value)
            ),
            TcpPlanError::NoDirection(step) => write!(
                f,
                "step '{}' has no direction: it applies to the whole connection (drop 'up:'/'down:')",
                Escaped(step)
            ),
            TcpPlanError::Twice(step) => write!(f, "step '{}' given twice", Escaped(step)),
            TcpPlanError::Conflict(a, b) => write!(
                f,
                "steps '{}' and '{}' cannot be combined",
                Escaped(a),
                Escaped(b)
            ),
            TcpPlanError::TooMany(step) => write!(
                f,
                "step '{}' given more than {MAX_PAUSES} times",
                Escaped(step)
            ),
        }
    }
}

impl std::error::Error for TcpPlanError {}

/// Why one value was refused; the parser adds the step's name.
enum Bad {
    Missing,
    Expected(&'static str),
    NoDirection,
    TooMany,
}

/// Applies a step's value to a plan; the direction is the prefix as written (`None`: none).
type Apply = fn(&mut TcpPlan, Option<Dir>, Option<&str>) -> Result<(), Bad>;

/// One step of the TCP plan language: everything the parser, the printer and the help need.
pub struct StepDef {
    /// The step's name, without a direction prefix.
    pub name: &'static str,
    /// The value, as help shows it (`DUR`, `[OFFSET]`); empty when the step takes none.
    pub value: &'static str,
    /// May the step carry `up:`/`down:`?
    pub directional: bool,
    /// May the step appear more than once in a direction?
    pub repeatable: bool,
    /// One line of help.
    pub help: &'static str,
    /// An example step.
    pub example: &'static str,
    /// Applies the step to a plan. `dir` is the prefix as written (`None`: none written).
    apply: Apply,
    /// The values to print for a direction: one entry per occurrence, `None` for a bare step.
    /// Steps of the whole connection print with `Dir::Down` (no prefix) only.
    print: fn(&TcpPlan, Dir) -> Vec<Option<String>>,
}

const DUR: &str = "a duration such as 250ms, 2s, 1.5s or 1m";
const SIZE1: &str = "a size of at least 1 byte, such as 1, 512, 64k or 10m";
const OFFSET: &str = "a byte count such as 6, 64k or 10m";
const LATENCY: &str = "DUR or DUR~JITTER, such as 100ms or 100ms~20ms";
const SLICE: &str = "SIZE, SIZE~VARIATION or either with ,DELAY, such as 1, 512~128 or 512~128,1ms";

/// Every step of TCP mode, in the order printing and help use.
pub const STEPS: &[StepDef] = &[
    StepDef {
        name: "delay",
        value: "DUR",
        directional: false,
        repeatable: false,
        help: "wait DUR after accepting before connecting upstream",
        example: "delay=2s",
        apply: apply_delay,
        print: print_delay,
    },
    StepDef {
        name: "latency",
        value: "DUR[~JITTER]",
        directional: true,
        repeatable: false,
        help: "relay each chunk DUR after it arrived; ~JITTER: DUR plus or minus up to \
               JITTER, drawn per chunk (order kept)",
        example: "up:latency=100ms~20ms",
        apply: apply_latency,
        print: print_latency,
    },
    StepDef {
        name: "rate",
        value: "SIZE",
        directional: true,
        repeatable: false,
        help: "at most SIZE bytes a second",
        example: "rate=64k",
        apply: apply_rate,
        print: print_rate,
    },
    StepDef {
        name: "pause",
        value: "OFFSET,DUR",
        directional: true,
        repeatable: true,
        help: "stop relaying for DUR after OFFSET bytes; may repeat",
        example: "pause=1k,2s",
        apply: apply_pause,
        print: print_pause,
    },
    StepDef {
        name: "slice",
        value: "SIZE[~VAR][,DELAY]",
        directional: true,
        repeatable: false,
        help: "relay in writes of at most SIZE bytes, each its own segment; ~VAR: each \
               write's size drawn from SIZE-VAR to SIZE+VAR; ,DELAY: a pause after each",
        example: "slice=512~128,1ms",
        apply: apply_slice,
        print: print_slice,
    },
    StepDef {
        name: "reset",
        value: "[OFFSET]",
        directional: true,
        repeatable: false,
        help: "after exactly OFFSET bytes (acknowledged), an RST on both connections; \
               without OFFSET, right after accepting, never connecting upstream",
        example: "reset=1m",
        apply: apply_reset,
        print: print_reset,
    },
    StepDef {
        name: "close",
        value: "[OFFSET]",
        directional: true,
        repeatable: false,
        help: "after exactly OFFSET bytes, a FIN on both connections; without OFFSET, \
               right after accepting",
        example: "up:close=100",
        apply: apply_close,
        print: print_close,
    },
    StepDef {
        name: "hang",
        value: "[OFFSET]",
        directional: true,
        repeatable: false,
        help: "after exactly OFFSET bytes, silence both ways until the client leaves; \
               without OFFSET, right after accepting",
        example: "hang=0",
        apply: apply_hang,
        print: print_hang,
    },
    StepDef {
        name: "times",
        value: "N",
        directional: false,
        repeatable: false,
        help: "the plan applies to the first N connections, later ones relay untouched",
        example: "times=2",
        apply: apply_times,
        print: print_times,
    },
    StepDef {
        name: "chance",
        value: "P",
        directional: false,
        repeatable: false,
        help: "the plan applies with probability P, else the connection relays untouched",
        example: "chance=0.25",
        apply: apply_chance,
        print: print_chance,
    },
];

fn names() -> String {
    STEPS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

/// The help listing of TCP mode's steps, one line each, generated from [`STEPS`].
pub fn help() -> String {
    // The introduction (directions, `up:`) is `--help`'s; this is the list alone, its text
    // wrapped at word boundaries so that no line passes 80 columns.
    const WIDTH: usize = 80;
    const INDENT: usize = 4 + 24 + 1;
    let mut out = String::new();
    for s in STEPS {
        let prefix = if s.directional { "[up:]" } else { "" };
        let usage = match s.value {
            "" => format!("{prefix}{}", s.name),
            v if v.starts_with('[') => format!("{prefix}{}[={}", s.name, &v[1..]),
            v => format!("{prefix}{}={v}", s.name),
        };
        let mut line = format!("    {usage:<24}");
        let text = format!("{} (e.g. {})", s.help, s.example);
        for word in text.split(' ') {
            if line.len() + 1 + word.len() > WIDTH && line.len() > INDENT {
                out.push_str(&line);
                out.push('\n');
                line = " ".repeat(INDENT - 1);
            }
            line.push(' ');
            line.push_str(word);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn need(v: Option<&str>) -> Result<&str, Bad> {
    v.ok_or(Bad::Missing)
}

fn dur(v: Option<&str>) -> Result<Duration, Bad> {
    parse_duration(need(v)?).ok_or(Bad::Expected(DUR))
}

fn size_at_least_1(v: Option<&str>) -> Result<u64, Bad> {
    parse_size(need(v)?)
        .filter(|n| *n >= 1)
        .ok_or(Bad::Expected(SIZE1))
}

fn whole_connection(dir: Option<Dir>) -> Result<(), Bad> {
    match dir {
        Some(_) => Err(Bad::NoDirection),
        None => Ok(()),
    }
}

fn apply_delay(p: &mut TcpPlan, dir: Option<Dir>, v: Option<&str>) -> Result<(), Bad> {
    whole_connection(dir)?;
    p.delay = Some(dur(v)?);
    Ok(())
}

fn apply_latency(p: &mut TcpPlan, dir: Option<Dir>, v: Option<&str>) -> Result<(), Bad> {
    let (base, jitter) = match need(v)?.split_once('~') {
        Some((b, j)) => (b, Some(j)),
        None => (need(v)?, None),
    };
    let d = p.dir_mut(dir.unwrap_or(Dir::Down));
    d.latency = Some(parse_duration(base).ok_or(Bad::Expected(LATENCY))?);
    d.jitter = match jitter {
        None => None,
        Some(j) => Some(parse_duration(j).ok_or(Bad::Expected(LATENCY))?).filter(|j| !j.is_zero()),
    };
    Ok(())
}

fn apply_rate(p: &mut TcpPlan, dir: Option<Dir>, v: Option<&str>) -> Result<(), Bad> {
    p.dir_mut(dir.unwrap_or(Dir::Down)).rate = Some(size_at_least_1(v)?);
    Ok(())
}

fn apply_slice(p: &mut TcpPlan, dir: Option<Dir>, v: Option<&str>) -> Result<(), Bad> {
    let text = need(v)?;
    let (sizes, delay) = match text.split_once(',') {
        Some((s, d)) => (s, Some(d)),
        None => (text, None),
    };
    let (size, variation) = match sizes.split_once('~') {
        Some((s, var)) => (s, Some(var)),
        None => (sizes, None),
    };
    let d = p.dir_mut(dir.unwrap_or(Dir::Down));
    d.slice = Some(size_at_least_1(Some(size)).map_err(|_| Bad::Expected(SLICE))?);
    d.slice_variation = match variation {
        None => None,
        Some(var) => Some(parse_size(var).ok_or(Bad::Expected(SLICE))?).filter(|n| *n > 0),
    };
    d.slice_delay = match delay {
        None => None,
        Some(x) => Some(parse_duration(x).ok_or(Bad::Expected(SLICE))?).filter(|x| !x.is_zero()),
    };
    Ok(())
}

fn apply_pause(p: &mut TcpPlan, dir: Option<Dir>, v: Option<&str>) -> Result<(), Bad> {
    let (off, d) = need(v)?
        .split_once(',')
        .ok_or(Bad::Expected("OFFSET,DUR, e.g. 1k,2s"))?;
    let off = parse_size(off).ok_or(Bad::Expected(OFFSET))?;
    let d = parse_duration(d).ok_or(Bad::Expected(DUR))?;
    let pauses = &mut p.dir_mut(dir.unwrap_or(Dir::Down)).pauses;
    if pauses.len() >= MAX_PAUSES {
        return Err(Bad::TooMany);
    }
    pauses.push((off, d));
    Ok(())
}

fn apply_ending(
    kind: EndKind,
    p: &mut TcpPlan,
    dir: Option<Dir>,
    v: Option<&str>,
) -> Result<(), Bad> {
    match v {
        // Without an offset the step acts before there is any direction.
        None => {
            whole_connection(dir)?;
            p.at_accept = Some(kind);
        }
        Some(v) => {
            let at = parse_size(v).ok_or(Bad::Expected(OFFSET))?;
            p.dir_mut(dir.unwrap_or(Dir::Down)).ending = Some((kind, at));
        }
    }
    Ok(())
}

fn apply_reset(p: &mut TcpPlan, dir: Option<Dir>, v: Option<&str>) -> Result<(), Bad> {
    apply_ending(EndKind::Reset, p, dir, v)
}

fn apply_close(p: &mut TcpPlan, dir: Option<Dir>, v: Option<&str>) -> Result<(), Bad> {
    apply_ending(EndKind::Close, p, dir, v)
}

fn apply_hang(p: &mut TcpPlan, dir: Option<Dir>, v: Option<&str>) -> Result<(), Bad> {
    apply_ending(EndKind::Hang, p, dir, v)
}

fn apply_times(p: &mut TcpPlan, dir: Option<Dir>, v: Option<&str>) -> Result<(), Bad> {
    whole_connection(dir)?;
    let v = need(v)?;
    let n = v
        .parse::<u64>()
        .ok()
        .filter(|n| *n >= 1 && v.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(Bad::Expected("a count of at least 1"))?;
    p.times = Some(n);
    Ok(())
}

fn apply_chance(p: &mut TcpPlan, dir: Option<Dir>, v: Option<&str>) -> Result<(), Bad> {
    whole_connection(dir)?;
    let prob = need(v)?
        .parse::<f64>()
        .ok()
        .filter(|x| (0.0..=1.0).contains(x))
        .ok_or(Bad::Expected("a probability from 0 to 1, e.g. 0.25"))?;
    p.chance = Some(prob);
    Ok(())
}

/// The value of a step of the whole connection, printed once (with the `Down` pass).
fn once(d: Dir, value: Option<String>) -> Vec<Option<String>> {
    match (d, value) {
        (Dir::Down, Some(v)) => vec![Some(v)],
        _ => Vec::new(),
    }
}

fn print_delay(p: &TcpPlan, d: Dir) -> Vec<Option<String>> {
    once(d, p.delay.map(|x| DurText(x).to_string()))
}

fn print_latency(p: &TcpPlan, d: Dir) -> Vec<Option<String>> {
    let dp = p.dir(d);
    dp.latency
        .map(|x| {
            let mut s = DurText(x).to_string();
            if let Some(j) = dp.jitter {
                s = format!("{s}~{}", DurText(j));
            }
            Some(s)
        })
        .into_iter()
        .collect()
}

fn print_rate(p: &TcpPlan, d: Dir) -> Vec<Option<String>> {
    p.dir(d)
        .rate
        .map(|x| Some(SizeText(x).to_string()))
        .into_iter()
        .collect()
}

fn print_slice(p: &TcpPlan, d: Dir) -> Vec<Option<String>> {
    let dp = p.dir(d);
    dp.slice
        .map(|x| {
            let mut s = SizeText(x).to_string();
            if let Some(v) = dp.slice_variation {
                s = format!("{s}~{}", SizeText(v));
            }
            if let Some(delay) = dp.slice_delay {
                s = format!("{s},{}", DurText(delay));
            }
            Some(s)
        })
        .into_iter()
        .collect()
}

fn print_pause(p: &TcpPlan, d: Dir) -> Vec<Option<String>> {
    p.dir(d)
        .pauses
        .iter()
        .map(|(off, x)| Some(format!("{},{}", SizeText(*off), DurText(*x))))
        .collect()
}

fn print_ending(kind: EndKind, p: &TcpPlan, d: Dir) -> Vec<Option<String>> {
    let mut out = Vec::new();
    if d == Dir::Down && p.at_accept == Some(kind) {
        out.push(None);
    }
    if let Some((k, at)) = p.dir(d).ending {
        if k == kind {
            out.push(Some(SizeText(at).to_string()));
        }
    }
    out
}

fn print_reset(p: &TcpPlan, d: Dir) -> Vec<Option<String>> {
    print_ending(EndKind::Reset, p, d)
}

fn print_close(p: &TcpPlan, d: Dir) -> Vec<Option<String>> {
    print_ending(EndKind::Close, p, d)
}

fn print_hang(p: &TcpPlan, d: Dir) -> Vec<Option<String>> {
    print_ending(EndKind::Hang, p, d)
}

fn print_times(p: &TcpPlan, d: Dir) -> Vec<Option<String>> {
    once(d, p.times.map(|n| n.to_string()))
}

fn print_chance(p: &TcpPlan, d: Dir) -> Vec<Option<String>> {
    once(d, p.chance.map(|x| x.to_string()))
}

/// Where a step was seen, to find repeats and contradictions.
struct Seen {
    /// The step's name.
    name: &'static str,
    /// `None` for a step of the whole connection (bare endings included).
    dir: Option<Dir>,
    /// The segment as written, for messages.
    text: String,
}

fn is_ending(name: &str) -> bool {
    matches!(name, "reset" | "close" | "hang")
}

impl TcpPlan {
    /// Parses plan text such as `up:latency=100ms/reset=1m`. Empty segments are ignored.
    pub fn parse(text: &str) -> Result<TcpPlan, TcpPlanError> {
        TcpPlan::parse_toward(text, Dir::Down)
    }

    /// [`TcpPlan::parse`] where directional steps without `up:`/`down:` act on `default`
    /// (an `httpfault` toxic's stream).
    pub fn parse_toward(text: &str, default: Dir) -> Result<TcpPlan, TcpPlanError> {
        let mut plan = TcpPlan::default();
        // `ok` is the plan with no steps, as in HTTP plans: the connection relayed untouched.
        if text.trim_matches('/') == crate::plan::OK {
            return Ok(plan);
        }
        let mut seen: Vec<Seen> = Vec::new();
        for segment in text.split('/').filter(|s| !s.is_empty()) {
            let (written, raw_value) = match segment.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (segment, None),
            };
            let (prefix, name) = if let Some(n) = written.strip_prefix("up:") {
                (Some(Dir::Up), n)
            } else if let Some(n) = written.strip_prefix("down:") {
                (Some(Dir::Down), n)
            } else {
                (None, written)
            };
            let Some(def) = STEPS.iter().find(|s| s.name == name) else {
                return Err(if plan::is_step_name(name) {
                    TcpPlanError::NotInTcpMode(name.to_string())
                } else {
                    TcpPlanError::UnknownStep(written.to_string())
                });
            };
            let value = match raw_value {
                None => None,
                Some(v) => {
                    let bytes = percent_decode(v).ok_or_else(|| TcpPlanError::BadPercent {
                        step: written.to_string(),
                        value: v.to_string(),
                    })?;
                    Some(
                        String::from_utf8(bytes).map_err(|e| TcpPlanError::BadValue {
                            step: written.to_string(),
                            value: String::from_utf8_lossy(e.as_bytes()).into_owned(),
                            expected: "text",
                        })?,
                    )
                }
            };
            let value = value.as_deref();
            // A bare ending has no direction; every other directional step without a prefix
            // takes the default.
            let prefix = match prefix {
                None if def.directional && !(is_ending(name) && value.is_none()) => Some(default),
                p => p,
            };
            (def.apply)(&mut plan, prefix, value).map_err(|bad| match bad {
                Bad::Missing => TcpPlanError::MissingValue {
                    step: written.to_string(),
                    usage: def
                        .value
                        .strip_prefix('[')
                        .and_then(|v| v.strip_suffix(']'))
                        .unwrap_or(def.value),
                },
                Bad::Expected(expected) => TcpPlanError::BadValue {
                    step: written.to_string(),
                    value: value.unwrap_or_default().to_string(),
                    expected,
                },
                Bad::NoDirection => TcpPlanError::NoDirection(written.to_string()),
                Bad::TooMany => TcpPlanError::TooMany(written.to_string()),
            })?;
            let dir = if !def.directional || (is_ending(name) && value.is_none()) {
                None
            } else {
                Some(prefix.unwrap_or(Dir::Down))
            };
            let this = Seen {
                name: def.name,
                dir,
                text: segment.to_string(),
            };
            for s in &seen {
                if s.name == this.name && s.dir == this.dir && !def.repeatable {
                    return Err(TcpPlanError::Twice(match dir {
                        Some(Dir::Up) => format!("up:{name}"),
                        _ => name.to_string(),
                    }));
                }
                // Two endings for one direction, or an ending at accept beside any other.
                let clash = is_ending(s.name)
                    && is_ending(this.name)
                    && (s.dir == this.dir || s.dir.is_none() || this.dir.is_none());
                if clash {
                    return Err(TcpPlanError::Conflict(s.text.clone(), this.text));
                }
            }
            seen.push(this);
        }
        Ok(plan)
    }
}

impl fmt::Display for TcpPlan {
    /// The canonical text: steps in the order of [`STEPS`], each direction-less or `down`
    /// occurrence before its `up:` one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        for def in STEPS {
            for d in [Dir::Down, Dir::Up] {
                for value in (def.print)(self, d) {
                    f.write_str(sep)?;
                    sep = "/";
                    if d == Dir::Up {
                        f.write_str("up:")?;
                    }
                    f.write_str(def.name)?;
                    if let Some(v) = value {
                        write!(f, "={v}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> TcpPlan {
        TcpPlan::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(text: &str) -> String {
        match TcpPlan::parse(text) {
            Ok(p) => panic!("{text} parsed as {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn empty_plan_relays_untouched() {
        assert_eq!(ok(""), TcpPlan::default());
        assert_eq!(ok("//"), TcpPlan::default());
        assert_eq!(TcpPlan::default().to_string(), "");
        assert!(TcpPlan::default().down.is_untouched());
    }

    #[test]
    fn every_step_parses() {
        let ms = Duration::from_millis;
        assert_eq!(ok("delay=2s").delay, Some(Duration::from_secs(2)));
        assert_eq!(ok("latency=100ms").down.latency, Some(ms(100)));
        assert_eq!(ok("down:latency=100ms").down.latency, Some(ms(100)));
        assert_eq!(ok("up:latency=1.5s").up.latency, Some(ms(1500)));
        assert_eq!(ok("rate=64k").down.rate, Some(65536));
        assert_eq!(ok("up:rate=1").up.rate, Some(1));
        assert_eq!(
            ok("pause=1k,2s/pause=0,1ms/up:pause=5,3s").down.pauses,
            vec![(1024, Duration::from_secs(2)), (0, ms(1))]
        );
        assert_eq!(
            ok("up:pause=5,3s").up.pauses,
            vec![(5, Duration::from_secs(3))]
        );
        assert_eq!(ok("slice=1").down.slice, Some(1));
        let l = ok("latency=100ms~20ms").down;
        assert_eq!((l.latency, l.jitter), (Some(ms(100)), Some(ms(20))));
        assert_eq!(ok("latency=100ms~0ms").down.jitter, None);
        let s = ok("up:slice=512~128,1ms").up;
        assert_eq!(
            (s.slice, s.slice_variation, s.slice_delay),
            (Some(512), Some(128), Some(ms(1)))
        );
        let s = ok("slice=8,250us").down;
        assert_eq!(
            (s.slice, s.slice_variation, s.slice_delay),
            (Some(8), None, Some(Duration::from_micros(250)))
        );
        assert_eq!(ok("up:slice=10k").up.slice, Some(10240));
        assert_eq!(ok("reset=1m").down.ending, Some((EndKind::Reset, 1 << 20)));
        assert_eq!(ok("up:close=0").up.ending, Some((EndKind::Close, 0)));
        assert_eq!(ok("down:hang=7").down.ending, Some((EndKind::Hang, 7)));
        assert_eq!(ok("reset").at_accept, Some(EndKind::Reset));
        assert_eq!(ok("close").at_accept, Some(EndKind::Close));
        assert_eq!(ok("delay=1s/hang").at_accept, Some(EndKind::Hang));
        assert_eq!(ok("times=3").times, Some(3));
        assert_eq!(ok("chance=0.25").chance, Some(0.25));
        // One ending per direction is no contradiction.
        let p = ok("up:reset=10/close=1k");
        assert_eq!(p.up.ending, Some((EndKind::Reset, 10)));
        assert_eq!(p.down.ending, Some((EndKind::Close, 1024)));
        // Values are percent-decoded.
        assert_eq!(ok("rate=%364k").down.rate, Some(64 * 1024));
    }

    #[test]
    fn http_steps_are_refused_by_name() {
        for step in [
            "status=503",
            "header=X:1",
            "body=10",
            "chunked",
            "echo",
            "keepalive=no",
        ] {
            let e = err(step);
            let name = step.split('=').next().unwrap_or(step);
            assert!(
                e.starts_with(&format!("step '{name}' has no meaning in TCP mode")),
                "{e}"
            );
        }
        let e = err("up:status=500");
        assert!(
            e.starts_with("step 'status' has no meaning in TCP mode"),
            "{e}"
        );
    }

    #[test]
    fn every_error_names_the_bad_value() {
        assert!(err("lag=1s")
            .starts_with("unknown step 'lag' in TCP mode (expected one of: delay, latency,"));
        assert!(err("side:reset=5").starts_with("unknown step 'side:reset'"));
        assert_eq!(
            err("latency"),
            "step 'latency' needs a value (latency=DUR[~JITTER])"
        );
        assert_eq!(
            err("up:rate"),
            "step 'up:rate' needs a value (up:rate=SIZE)"
        );
        assert_eq!(
            err("latency=5"),
            format!("step 'latency': bad value '5' (expected {LATENCY})")
        );
        assert!(err("rate=0").contains("at least 1 byte"));
        assert!(err("slice=0").contains("'0'"));
        assert!(err("slice=0~1").contains("'0~1'"));
        assert!(err("slice=5~x").contains(SLICE));
        assert!(err("slice=5,7").contains(SLICE));
        assert!(err("latency=1s~").contains(LATENCY));
        assert!(err("latency=~1s").contains(LATENCY));
        assert!(err("pause=5").contains("OFFSET,DUR"));
        assert!(err("pause=head:5,1s").contains("'head:5,1s'"));
        assert!(err("reset=end").contains(OFFSET));
        assert!(err("up:close=-1").contains("'-1'"));
        assert!(err("times=0").contains("at least 1"));
        assert!(err("chance=2").contains("'2'"));
        assert!(err("chance=NaN").contains("'NaN'"));
        assert_eq!(
            err("up:delay=1s"),
            "step 'up:delay' has no direction: it applies to the whole connection (drop 'up:'/'down:')"
        );
        assert!(err("up:reset").starts_with("step 'up:reset' has no direction"));
        assert!(err("down:hang").starts_with("step 'down:hang' has no direction"));
        assert!(err("up:times=2").contains("no direction"));
        assert_eq!(
            err("latency=1s/down:latency=2s"),
            "step 'latency' given twice"
        );
        assert_eq!(err("up:rate=1/up:rate=2"), "step 'up:rate' given twice");
        assert_eq!(err("reset/reset"), "step 'reset' given twice");
        assert_eq!(
            err("reset=5/close=6"),
            "steps 'reset=5' and 'close=6' cannot be combined"
        );
        assert_eq!(
            err("up:hang=1/up:reset=2"),
            "steps 'up:hang=1' and 'up:reset=2' cannot be combined"
        );
        assert_eq!(err("reset=5/down:reset=6"), "step 'reset' given twice");
        assert_eq!(
            err("close/up:reset=6"),
            "steps 'close' and 'up:reset=6' cannot be combined"
        );
        assert_eq!(
            err("reset/reset=5"),
            "steps 'reset' and 'reset=5' cannot be combined"
        );
        assert_eq!(
            err("rate=%zz"),
            "step 'rate': bad percent-encoding in '%zz'"
        );
        assert!(err("rate=%FF").contains("expected text"));
        let many = "pause=1,1ms/".repeat(MAX_PAUSES + 1);
        assert!(err(&many).contains("more than 256 times"));
    }

    #[test]
    fn error_messages_stay_on_one_line() {
        for text in ["bad%0Aname", "rate=%0A1", "x\ny", "up:\u{1F600}"] {
            let e = err(text);
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn help_lists_every_step_from_the_table() {
        let h = help();
        for s in STEPS {
            assert!(h.contains(s.name), "{}", s.name);
            assert!(h.contains(s.example), "{}", s.example);
            // Every example is a valid plan.
            ok(s.example);
        }
        assert!(h.contains("    [up:]reset[=OFFSET]"), "{h}");
        assert!(h.contains("    delay=DUR"), "{h}");
        assert!(h.lines().all(|l| !l.trim().is_empty()));
    }

    #[test]
    fn printing_is_canonical() {
        assert_eq!(
            ok("up:reset=1k/latency=2s/up:latency=1s/delay=100ms").to_string(),
            "delay=100ms/latency=2s/up:latency=1s/up:reset=1k"
        );
        assert_eq!(ok("down:hang=5").to_string(), "hang=5");
        assert_eq!(
            ok("chance=0.5/times=2/close").to_string(),
            "close/times=2/chance=0.5"
        );
        assert_eq!(
            ok("pause=2,1s/pause=1,1s").to_string(),
            "pause=2,1s/pause=1,1s"
        );
    }

    /// A random valid plan built from the step space, so printing and parsing it must give it
    /// back.
    fn random_plan(r: &mut crate::rng::Rng) -> TcpPlan {
        let mut pick = |n: u64| r.next_u64() % n;
        let size =
            |x: u64| [0, 1, 6, 13, 512, 1024, 65536, 10 << 20, 12345, 3 << 30][x as usize % 10];
        let dur = |x: u64| {
            Duration::from_micros(
                [1, 999, 1000, 250_000, 1_500_000, 60_000_000, 2_000_001][x as usize % 7],
            )
        };
        let mut p = TcpPlan::default();
        if pick(2) == 0 {
            p.delay = Some(dur(pick(7)));
        }
        let at_accept = pick(5) == 0;
        if at_accept {
            p.at_accept = Some([EndKind::Reset, EndKind::Close, EndKind::Hang][pick(3) as usize]);
        }
        for d in [Dir::Up, Dir::Down] {
            let mut dp = DirPlan::default();
            if pick(3) == 0 {
                dp.latency = Some(dur(pick(7)));
                if pick(2) == 0 {
                    dp.jitter = Some(dur(pick(7)));
                }
            }
            if pick(3) == 0 {
                dp.rate = Some(1 + size(pick(10)));
            }
            for _ in 0..pick(4) {
                dp.pauses.push((size(pick(10)), dur(pick(7))));
            }
            if pick(3) == 0 {
                dp.slice = Some(1 + size(pick(10)));
                if pick(2) == 0 {
                    dp.slice_variation = Some(1 + size(pick(10)));
                }
                if pick(2) == 0 {
                    dp.slice_delay = Some(dur(pick(7)));
                }
            }
            if !at_accept && pick(2) == 0 {
                let kind = [EndKind::Reset, EndKind::Close, EndKind::Hang][pick(3) as usize];
                dp.ending = Some((kind, size(pick(10))));
            }
            *p.dir_mut(d) = dp;
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
        let mut r = crate::rng::Rng::new(2027);
        for i in 0..20_000 {
            let plan = random_plan(&mut r);
            let text = plan.to_string();
            match TcpPlan::parse(&text) {
                Ok(back) => assert_eq!(back, plan, "case {i}: {text}"),
                Err(e) => panic!("case {i}: {text} does not parse: {e}\n{plan:?}"),
            }
        }
    }

    #[test]
    fn property_any_text_parses_or_fails_cleanly() {
        let mut r = crate::rng::Rng::new(11);
        let pieces = [
            "up:",
            "down:",
            "=",
            "/",
            ",",
            ":",
            "%",
            "%2F",
            "%zz",
            "k",
            "m",
            "ms",
            "s",
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
            "status",
            "body",
            "~",
        ];
        let atoms: Vec<&str> = STEPS.iter().map(|s| s.name).chain(pieces).collect();
        for _ in 0..50_000 {
            let n = r.next_u64() % 12;
            let text: String = (0..n)
                .map(|_| atoms[(r.next_u64() % atoms.len() as u64) as usize])
                .collect();
            match TcpPlan::parse(&text) {
                Ok(plan) => assert_eq!(TcpPlan::parse(&plan.to_string()), Ok(plan), "{text:?}"),
                Err(e) => {
                    let msg = e.to_string();
                    assert!(!msg.is_empty() && !msg.contains('\n'), "{text:?}: {msg:?}");
                }
            }
        }
    }
}
