//! The executor of one exchange: the request body (read, kept for `echo`, or left unread),
//! then the response's timeline (delay, the byte stream with its pauses, pace and cut), then
//! the ending (keep-alive, FIN, RST or silence). It reads and writes only through a [`Wire`],
//! so every plan is unit-tested against a scripted wire with a virtual clock.
//!
//! The outcome is reported *before* the ending is carried out (and before the last byte of a
//! complete response is written), so a client that has seen the end can already find it in the
//! journal.

pub use crate::control::budget::EchoBudget;
use crate::control::journal::{End, Entry};
use crate::http::request::{self, BodyLen, ChunkedScanner, RequestError, Version};
use crate::http1::response::{self, clamp_len, ReqInfo};
use crate::plan::units::Unit;
use crate::plan::{Body, Continue, EndKind, Ending, Offset, Plan};
use crate::sha256::Sha256;
use crate::shape::{self, rate_time, Framing, Next as Step};
use crate::wire::{is_timeout, Fill, Wire, BODY_BUF};
use std::sync::Arc;
use std::time::Duration;

/// Most request body bytes kept for `echo`; a larger body gets a 413.
pub const MAX_ECHO_BODY: u64 = 1024 * 1024;
/// Most request body bytes read and thrown away; a larger body gets a 413.
pub const MAX_BODY: u64 = 1024 * 1024 * 1024;
/// Bytes of an event stream with an interval laid out at a time (many events each).
const SSE_FEED: usize = 2048;
/// The timer slack of a thread that serves an event stream whose interval is at least
/// [`SLACK_FROM`].
const SSE_SLACK: Duration = Duration::from_millis(1);
const SLACK_FROM: Duration = Duration::from_millis(20);
/// The interim response sent to `Expect: 100-continue`.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// What the executor knows of the request whose head is at the front of the wire's input.
pub struct Exchange<'a> {
    /// Bytes of the head at the front of [`Wire::input`].
    pub head_len: usize,
    /// `HEAD`: send the head only.
    pub head_only: bool,
    /// HTTP/1.0 or 1.1.
    pub version: Version,
    /// How the request body is delimited.
    pub body: BodyLen,
    /// The response must close the connection (the client asked, or the one-shot winner).
    pub close: bool,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    /// Seed for `garbage`.
    pub seed: u64,
    /// Longest wait for each read of the body.
    pub read_timeout: Duration,
    /// The server's budget for echoed bodies.
    pub echo_budget: &'a EchoBudget,
    /// The journal entry, told the body's length and digest once it is read.
    pub entry: Option<&'a Entry>,
}

/// Why the body could not be read; no response was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The client closed or reset.
    PeerGone,
    /// A read waited longer than `--read-timeout`.
    Timeout,
    /// The body is malformed or too large.
    Bad(RequestError),
    /// Echo memory is used up by other connections: 503.
    EchoBusy,
}

/// How a response went: what was written and how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The status code, if any byte of a status line went out.
    pub status: Option<u16>,
    /// Response bytes written, interim responses included.
    pub bytes: u64,
    /// How it ended.
    pub end: End,
}

/// What the previous response left for the next request on this connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Carry {
    /// `idle=DUR`: close once idle this long.
    pub idle: Option<Duration>,
    /// `reuse=`: end the connection when the next request arrives.
    pub reuse: Option<EndKind>,
}

/// What happens to the connection after the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Serve the next request.
    KeepAlive(Carry),
    /// The connection was ended (or is to be dropped).
    Done,
}

/// Runs `plan` for the request at the front of `wire`'s input. `report` gets the outcome
/// before the ending is carried out; it may be called again if the last write then fails.
pub fn run<W: Wire>(
    x: &Exchange<'_>,
    plan: &Plan,
    wire: &mut W,
    buf: &mut Vec<u8>,
    report: &mut dyn FnMut(&Outcome),
) -> Result<Next, BodyError> {
    let wants_continue = x.expect_continue && x.version == Version::Http11;
    if let Some(Ending {
        kind,
        at: Some(Offset::Req(n)),
    }) = plan.ending
    {
        return cut_upload(x, plan, wire, kind, n, wants_continue, report);
    }
    // `ranges` needs two fields of the head, copied before the head is consumed (the head is
    // bounded by the head limit, so these are too).
    let (range, if_range) = if plan.ranges {
        let head = wire.input().get(..x.head_len).unwrap_or_default();
        let value = |name| request::header_value(head, name).map(<[u8]>::to_vec);
        (value("range"), value("if-range"))
    } else {
        (None, None)
    };
    // `sse=` resumes after the client's `Last-Event-ID`.
    let last_event_id = match plan.body {
        Body::Sse(_) => wire
            .input()
            .get(..x.head_len)
            .and_then(|head| request::header_value(head, "last-event-id"))
            .and_then(response::event_id),
        _ => None,
    };
    if let (true, Some(Continue::Final(code))) = (wants_continue, plan.expect) {
        // The final answer instead of `100 Continue`: the body stays unread, so the
        // connection cannot serve another request.
        wire.consume(x.head_len);
        let answer = Plan {
            status: Some(code),
            ..plan.clone()
        };
        let info = ReqInfo {
            head_only: x.head_only,
            close: x.close,
            raw: &[],
            seed: x.seed,
            body_unread: true,
            range: None,
            if_range: None,
            last_event_id,
        };
        return respond(&answer, &info, wire, buf, 0, false, report);
    }
    // The interim `100 Continue` goes out only when the plan reads the body and answers
    // normally: a plan whose bytes are promised exactly sends exactly those.
    let exact = plan.replace.is_some()
        || matches!(plan.ending, Some(Ending { at: None, .. }))
        || matches!(
            plan.ending,
            Some(Ending {
                at: Some(Offset::Head(_)),
                ..
            })
        );
    let never = plan.expect == Some(Continue::Never);
    let send_continue = wants_continue && plan.drain && !exact && !never;
    // Without the interim response the client holds its body back: do not wait for it, unless
    // `continue=no` says to wait until the client gives up waiting and sends anyway.
    let read_body = plan.drain && (send_continue || !wants_continue || (never && !exact));
    let keep = read_body && plan.body == Body::Echo;

    let mut interim = 0u64;
    // Declared before `echo`, so dropped after it (at the end, after `respond`): the
    // reservation covers the whole life of the echoed body.
    let mut _reserved = None;
    let mut echo = Vec::new();
    if keep {
        echo.extend_from_slice(&wire.input()[..x.head_len]);
    }
    wire.consume(x.head_len);
    if read_body {
        if send_continue && x.body != BodyLen::None && wire.input().is_empty() {
            if wire.write_all(CONTINUE).is_err() {
                return Err(BodyError::PeerGone);
            }
            interim = CONTINUE.len() as u64;
        }
        if keep {
            let bytes = match x.body {
                BodyLen::None => 0,
                BodyLen::Length(n) if n > MAX_ECHO_BODY => {
                    return Err(BodyError::Bad(RequestError::BodyTooLarge))
                }
                BodyLen::Length(n) => n,
                BodyLen::Chunked => MAX_ECHO_BODY,
            };
            _reserved = Some(x.echo_budget.reserve(bytes).ok_or(BodyError::EchoBusy)?);
        }
        read_request_body(x, wire, keep.then_some(&mut echo), plan.readrate, u64::MAX)?;
    }

    let info = ReqInfo {
        head_only: x.head_only,
        close: x.close,
        raw: &echo,
        seed: x.seed,
        body_unread: !read_body,
        range: range.as_deref(),
        if_range: if_range.as_deref(),
        last_event_id,
    };
    respond(plan, &info, wire, buf, interim, read_body, report)
}

/// Largest response a connection remembers (see [`Remembered`]).
pub const REMEMBER_MAX: usize = 1024;

/// The bytes of a connection's last response, kept when they depend on nothing but its plan
/// (and on whether the request was a `HEAD`): the next request that gets the same plan (the
/// same `Arc`, so the same plan text in force) is answered with them, without laying the
/// response out again. Most of the cost of a healthy keep-alive request is otherwise that
/// layout. Small responses only ([`REMEMBER_MAX`]), so idle connections stay small.
#[derive(Default)]
pub struct Remembered {
    /// The plan the bytes belong to; holding it keeps its address from being reused.
    plan: Option<Arc<Plan>>,
    head_only: bool,
    status: u16,
    bytes: Vec<u8>,
}

/// Does the response of `plan` depend on nothing but the plan, go out in one write and keep
/// the connection, given a request with no body and no `Expect`? Shaping steps (status,
/// headers, body text or filler, length, chunked, trailers, gzip, `extra`, `lf`) keep it
/// fixed; anything timed, cut, interim, random, or read from the request does not.
fn fixed_response(plan: &Plan) -> bool {
    plan.delay.is_none()
        && plan.pauses.is_empty()
        && plan.rate.is_none()
        && plan.ending.is_none()
        && plan.replace.is_none()
        && plan.info.is_empty()
        && plan.expect.is_none()
        && plan.drain
        && !plan.ranges
        && !plan.badchunk
        && plan.readrate.is_none()
        && plan.body != Body::Echo
        // An event stream depends on `Last-Event-ID`, and its interval is timed.
        && !matches!(plan.body, Body::Sse(_))
}

/// [`run`] for a connection that remembers its last fixed response (see [`Remembered`]).
pub fn run_remembering<W: Wire>(
    x: &Exchange<'_>,
    plan: &Arc<Plan>,
    wire: &mut W,
    buf: &mut Vec<u8>,
    memo: &mut Remembered,
    report: &mut dyn FnMut(&Outcome),
) -> Result<Next, BodyError> {
    let plain = x.body == BodyLen::None && !x.expect_continue && !x.close;
    let same = memo
        .plan
        .as_ref()
        .is_some_and(|p| Arc::ptr_eq(p, plan) && memo.head_only == x.head_only);
    if plain && same {
        wire.consume(x.head_len);
        let bytes = memo.bytes.len() as u64;
        // Reported before the bytes go out, as `respond` does with a complete response.
        report(&Outcome {
            status: Some(memo.status),
            bytes,
            end: End::Complete,
        });
        if let Err(e) = wire.write_all(&memo.bytes) {
            report(&Outcome {
                status: None,
                bytes: 0,
                end: if is_timeout(&e) {
                    End::Timeout
                } else {
                    End::PeerGone
                },
            });
            return Ok(Next::Done);
        }
        return Ok(Next::KeepAlive(Carry {
            idle: plan.idle,
            reuse: plan.reuse,
        }));
    }
    memo.plan = None;
    let learn = plain && fixed_response(plan);
    let mut last = None;
    let next = run(x, plan, wire, buf, &mut |o: &Outcome| {
        last = Some(*o);
        report(o)
    })?;
    if let (true, Next::KeepAlive(_), Some(o)) = (learn, next, last) {
        // A fixed response of at most REMEMBER_MAX bytes went out in one write from the front
        // of `buf` (responses up to WRITE_PIECE do), so those bytes are the whole response.
        let len = usize::try_from(o.bytes).unwrap_or(usize::MAX);
        if let (Some(status), End::Complete, true) = (o.status, o.end, len <= REMEMBER_MAX) {
            if let Some(bytes) = buf.get(..len) {
                memo.bytes.clear();
                memo.bytes.extend_from_slice(bytes);
                memo.status = status;
                memo.head_only = x.head_only;
                memo.plan = Some(Arc::clone(plan));
            }
        }
    }
    Ok(next)
}

/// `reset=req:N`, `close=req:N`, `hang=req:N`: reads exactly N bytes of the request body (all
/// of it if it is shorter), then ends without a response. The RST goes out with the rest of
/// the upload unread; the FIN is followed by reading and dropping the rest, so it stays a FIN;
/// the hang reads nothing more, so the client's upload stalls once the buffers fill.
fn cut_upload<W: Wire>(
    x: &Exchange<'_>,
    plan: &Plan,
    wire: &mut W,
    kind: EndKind,
    n: u64,
    wants_continue: bool,
    report: &mut dyn FnMut(&Outcome),
) -> Result<Next, BodyError> {
    wire.consume(x.head_len);
    let mut interim = 0;
    // The client must be told to send, or it holds back the bytes the cut is counted in.
    let invite = wants_continue && plan.expect != Some(Continue::Never);
    if invite && n > 0 && x.body != BodyLen::None && wire.input().is_empty() {
        if wire.write_all(CONTINUE).is_err() {
            return Err(BodyError::PeerGone);
        }
        interim = CONTINUE.len() as u64;
    }
    read_request_body(x, wire, None, plan.readrate, n)?;
    let out = Outcome {
        status: None,
        bytes: interim,
        end: End::from(kind),
    };
    Ok(finish(wire, kind, &out, true, report))
}

/// Reads the request body, appending it to `echo` when given, else throwing it away as it
/// arrives; at most `cap` bytes of it (as on the wire, chunk framing included), and at `rate`
/// bytes a second when given. Leaves any bytes after it (a pipelined request, or the rest of
/// a body cut at `cap`) in the wire's input. Returns the bytes consumed.
fn read_request_body<W: Wire>(
    x: &Exchange<'_>,
    wire: &mut W,
    echo: Option<&mut Vec<u8>>,
    rate: Option<u64>,
    cap: u64,
) -> Result<u64, BodyError> {
    if x.body == BodyLen::None {
        return Ok(0);
    }
    // The journal's `body_len` and `body_sha256`: hashed as it is read, in constant memory,
    // and only up to MAX_HASHED_BODY (a body declared longer is not hashed at all).
    let mut digest = BodyDigest {
        sha: Sha256::default(),
        len: 0,
        hash: x.entry.is_some() && !matches!(x.body, BodyLen::Length(n) if n > MAX_HASHED_BODY),
    };
    let mut complete = false;
    let read = read_body_into(x, wire, echo, rate, cap, &mut digest, &mut complete);
    if let Some(entry) = x.entry {
        let whole = complete && digest.hash;
        entry.set_body(digest.len, whole.then(|| digest.sha.finish()));
    }
    read
}

/// Longest request body whose SHA-256 the journal gives: hashing costs CPU (about 3 ms a
/// MiB in a release build), so a larger upload is only counted.
pub const MAX_HASHED_BODY: u64 = 16 * 1024 * 1024;

/// The body's length, and its digest while it is short enough to hash.
struct BodyDigest {
    sha: Sha256,
    len: u64,
    hash: bool,
}

impl BodyDigest {
    fn update(&mut self, data: &[u8]) {
        self.len += data.len() as u64;
        if self.hash {
            if self.len > MAX_HASHED_BODY {
                self.hash = false;
            } else {
                self.sha.update(data);
            }
        }
    }
}

/// [`read_request_body`]'s loop; `complete` says whether the body was read to its end.
fn read_body_into<W: Wire>(
    x: &Exchange<'_>,
    wire: &mut W,
    mut echo: Option<&mut Vec<u8>>,
    rate: Option<u64>,
    cap: u64,
    digest: &mut BodyDigest,
    complete: &mut bool,
) -> Result<u64, BodyError> {
    let (mut left, mut scanner) = match x.body {
        BodyLen::None => return Ok(0),
        BodyLen::Length(n) => (n, None),
        BodyLen::Chunked => (0, Some(ChunkedScanner::default())),
    };
    let limit = if echo.is_some() {
        MAX_ECHO_BODY
    } else {
        MAX_BODY
    };
    if scanner.is_none() && left > limit && cap > limit {
        return Err(BodyError::Bad(RequestError::BodyTooLarge));
    }
    // About 50 reads a second when paced, as for `rate`.
    let piece = rate.map_or(usize::MAX, |r| clamp_len((r / 50).max(1), BODY_BUF));
    let start = wire.now();
    let mut seen: u64 = 0;
    loop {
        let take = clamp_len(cap - seen, piece);
        if let Some(r) = rate {
            if take > 0 && !wire.input().is_empty() && !wire.wait(start + rate_time(seen, r)) {
                return Err(BodyError::PeerGone);
            }
        }
        let avail = wire.input();
        let avail = &avail[..avail.len().min(take)];
        let (used, done) = match &mut scanner {
            None => {
                let k = clamp_len(left, avail.len());
                left -= k as u64;
                digest.update(&avail[..k]);
                (k, left == 0)
            }
            Some(s) => feed_chunked(s, avail, digest)?,
        };
        if let Some(e) = echo.as_deref_mut() {
            e.extend_from_slice(&avail[..used]);
        }
        wire.consume(used);
        seen += used as u64;
        if done || seen >= cap {
            *complete = done;
            return Ok(seen);
        }
        if seen > limit {
            return Err(BodyError::Bad(RequestError::BodyTooLarge));
        }
        if !wire.input().is_empty() {
            continue; // paced: the next piece is already here
        }
        match wire.fill(wire.now() + x.read_timeout, BODY_BUF) {
            Fill::Data(_) | Fill::Full => {}
            Fill::Timeout => return Err(BodyError::Timeout),
            Fill::Eof | Fill::Gone => return Err(BodyError::PeerGone),
        }
    }
}

/// Feeds a chunked body's bytes to its scanner, hashing the chunk data (not the framing):
/// data runs go in whole, framing lines a byte at a time (a few bytes a chunk).
fn feed_chunked(
    s: &mut ChunkedScanner,
    avail: &[u8],
    digest: &mut BodyDigest,
) -> Result<(usize, bool), BodyError> {
    let mut used = 0;
    while used < avail.len() {
        let rest = &avail[used..];
        let data = clamp_len(s.data_left(), rest.len());
        let piece = if data > 0 { &rest[..data] } else { &rest[..1] };
        let (u, done) = s.feed(piece).map_err(BodyError::Bad)?;
        if data > 0 {
            digest.update(&piece[..u]);
        }
        used += u;
        if done {
            return Ok((used, true));
        }
        if u == 0 {
            break;
        }
    }
    Ok((used, false))
}

/// Writes the response of `plan` and carries out its ending.
fn respond<W: Wire>(
    plan: &Plan,
    info: &ReqInfo<'_>,
    wire: &mut W,
    buf: &mut Vec<u8>,
    interim: u64,
    body_read: bool,
    report: &mut dyn FnMut(&Outcome),
) -> Result<Next, BodyError> {
    let Some(interim) = prelude(plan, wire, interim, report) else {
        return Ok(Next::Done);
    };
    // A bare `reset`, `close` or `hang` sends nothing: no response to lay out (this also keeps
    // thousands of held connections from each holding a response head).
    if let Some(Ending { kind, at: None }) = plan.ending {
        if plan.pauses.is_empty() {
            let out = Outcome {
                status: None,
                bytes: interim,
                end: End::from(kind),
            };
            return Ok(finish(wire, kind, &out, body_read, report));
        }
    }
    let mut layout = response::layout(plan, info);
    let Streamed {
        sent,
        cut,
        reported,
    } = match stream(plan, &mut layout, wire, buf, interim, report) {
        Some(streamed) => streamed,
        None => return Ok(Next::Done),
    };
    let status = (plan.replace.is_none() && sent > 0).then_some(layout.status);
    let end = match (cut, &plan.replace) {
        (Some(kind), _) => End::from(kind),
        // raw and garbage end with a clean close unless an ending says otherwise.
        (None, Some(_)) => End::Close,
        (None, None) => End::Complete,
    };
    let out = Outcome {
        status,
        bytes: interim + sent,
        end,
    };
    Ok(match cut {
        Some(kind) => finish(wire, kind, &out, body_read, report),
        None if plan.replace.is_some() => finish(wire, EndKind::Close, &out, body_read, report),
        None => {
            if !reported {
                report(&out);
            }
            if layout.keep_alive {
                Next::KeepAlive(Carry {
                    idle: plan.idle,
                    reuse: plan.reuse,
                })
            } else {
                wire.close(body_read);
                Next::Done
            }
        }
    })
}

/// `info=`: interim responses as soon as the request is read, before `delay`, as a server
/// sends `103 Early Hints` while it works on the answer (offsets count from the final head);
/// then the `delay`. The bytes sent so far, or `None` when the client left (reported).
fn prelude<W: Wire>(
    plan: &Plan,
    wire: &mut W,
    mut interim: u64,
    report: &mut dyn FnMut(&Outcome),
) -> Option<u64> {
    let gone = |bytes: u64, report: &mut dyn FnMut(&Outcome)| {
        report(&Outcome {
            status: None,
            bytes,
            end: End::PeerGone,
        });
        None
    };
    let heads = response::interim_heads(plan);
    if !heads.is_empty() {
        if wire.write_all(&heads).is_err() {
            return gone(interim, report);
        }
        interim += heads.len() as u64;
    }
    if let Some(d) = plan.delay {
        let until = wire.now() + d;
        if !wire.wait(until) {
            return gone(interim, report);
        }
    }
    Some(interim)
}

/// What [`stream`] sent.
struct Streamed {
    /// Bytes of the response written.
    sent: u64,
    /// The plan's cut, if it came.
    cut: Option<EndKind>,
    /// A complete response was reported already (before its last byte).
    reported: bool,
}

/// The response's bytes on the one byte timeline ([`shape`]): pauses, pace, and the cut at
/// an offset in bytes or messages. `None` when the client left or a write failed (reported).
fn stream<W: Wire>(
    plan: &Plan,
    layout: &mut response::Layout<'_>,
    wire: &mut W,
    buf: &mut Vec<u8>,
    interim: u64,
    report: &mut dyn FnMut(&Outcome),
) -> Option<Streamed> {
    let (total, status) = (layout.total, layout.status);
    let status_if = |sent: u64| (plan.replace.is_none() && sent > 0).then_some(status);
    let framing = match layout.chunked {
        true => Framing::Chunked,
        false => Framing::Plain,
    };
    let mut timeline = shape::of_plan(plan, layout.head_len, Some(total), framing);
    let mut feed_piece = shape::WRITE_PIECE;
    // Many held streams, each waking every interval: a millisecond of timer slack lets the
    // kernel batch those wake-ups (a fifth less CPU for 1,000 streams at 10 events a second,
    // make bench-sse), well within the few milliseconds durations are kept to.
    let _slack = match plan.body {
        Body::Sse(e) if e.every >= SLACK_FROM => Some(crate::sys::TimerSlack::new(SSE_SLACK)),
        _ => None,
    };
    if let Body::Sse(e) = plan.body {
        // The interval between events: a pause after each but the last, on the timeline.
        let between = layout.events.saturating_sub(1);
        timeline.beat(e.every, between, Unit::Ev, layout.head_len, framing);
        if !e.every.is_zero() {
            // Events go out one by one: a long-lived stream holds a small buffer, not 64 KiB.
            feed_piece = SSE_FEED;
        }
    }
    let complete = plan.replace.is_none() && plan.ending.is_none();
    let (mut sent, mut reported) = (0u64, false);
    // `buf[..filled]` holds the fed bytes not yet written, from `buf[start]` = offset `sent`.
    let (mut start, mut filled) = (0, 0);
    let fail = |sent: u64, end: End, report: &mut dyn FnMut(&Outcome)| {
        let bytes = interim + sent;
        report(&Outcome {
            status: status_if(sent),
            bytes,
            end,
        });
        None
    };
    let cut = loop {
        let next = match timeline.fed() < total || sent < timeline.fed() {
            true => timeline.next(sent, wire.now()),
            false => timeline.at_end(sent, wire.now()),
        };
        match next {
            Step::Wait(until) => {
                if !wire.wait(until) {
                    return fail(sent, End::PeerGone, report);
                }
            }
            Step::Cut(kind) => break Some(kind),
            Step::Feed if timeline.fed() >= total => break None,
            Step::Feed => {
                let want = clamp_len(total - timeline.fed(), feed_piece);
                if buf.len() < want {
                    buf.resize(want, 0);
                }
                let n = layout.stream.fill(&mut buf[..want]);
                if n == 0 {
                    break None; // the layout promised more than it made: end as made
                }
                timeline.feed(&buf[..n]);
                (start, filled) = (0, n);
            }
            Step::Write(up_to) => {
                let n = clamp_len(up_to - sent, filled - start);
                // Nothing is left after this piece: reported before the last byte goes out,
                // so a client that has the whole response finds it complete in the journal.
                if complete && sent + n as u64 == total && timeline.clear_after(total) {
                    report(&Outcome {
                        status: status_if(total),
                        bytes: interim + total,
                        end: End::Complete,
                    });
                    reported = true;
                }
                if let Err(e) = wire.write_all(&buf[start..start + n]) {
                    let end = match is_timeout(&e) {
                        true => End::Timeout,
                        false => End::PeerGone,
                    };
                    return fail(sent, end, report);
                }
                sent += n as u64;
                start += n;
            }
        }
    };
    Some(Streamed {
        sent,
        cut,
        reported,
    })
}

/// Reports the outcome and carries out an ending: RST after the acknowledgements, FIN (after
/// reading the rest of the request if it was being read), or silence.
fn finish<W: Wire>(
    wire: &mut W,
    kind: EndKind,
    out: &Outcome,
    body_read: bool,
    report: &mut dyn FnMut(&Outcome),
) -> Next {
    match kind {
        EndKind::Reset => {
            wire.await_acks();
            report(out);
            wire.reset();
        }
        EndKind::Close => {
            report(out);
            wire.close(body_read);
        }
        EndKind::Hang => {
            report(out);
            wire.hang();
        }
    }
    Next::Done
}

#[cfg(test)]
mod tests;
