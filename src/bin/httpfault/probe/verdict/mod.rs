//! Verdicts: a pure function from what happened in one scenario (the server's journal, the
//! command's exit status, time, standard output and the tail of its standard error), measured
//! against the healthy run (the baseline), to a grade and a reason in numbers.
//!
//! `judge` settles what every rule shares (a run the probe cannot judge, a command still
//! running at `--timeout`, a request resent after the server read it) and hands the rest to
//! one small function per rule of the catalogue (`rules.rs`). `output.rs` reads what the
//! command printed against what it printed in the healthy run.

mod grpc;
mod output;
mod rules;
mod sse;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_protocols;
mod ws;

use super::catalogue::{Protocol, Rule, Scenario};
use httpfault::End;
use output::Output;
use std::fmt;

/// How bad a verdict is; ordered, so `--fail-on` compares (`n/a` is no verdict at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grade {
    NotApplicable,
    Ok,
    Warn,
    Bad,
}

impl Grade {
    pub fn name(self) -> &'static str {
        match self {
            Grade::NotApplicable => "n/a",
            Grade::Ok => "ok",
            Grade::Warn => "warn",
            Grade::Bad => "bad",
        }
    }
}

/// How the command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    /// Ended by a signal it was not sent by the probe.
    Signal(i32),
    /// Still running at `--timeout`: the probe killed its process group.
    Killed,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit {c}"),
            Exit::Signal(s) => write!(f, "signal {s}"),
            Exit::Killed => f.write_str("killed"),
        }
    }
}

/// One journal entry (a request, or with `--tls` a handshake fault) on the command's clock.
#[derive(Clone, Debug, PartialEq)]
pub struct Attempt {
    /// Seconds from the command's start to the request head's arrival.
    pub t: f64,
    /// The connection it came on (counted by the server from 1).
    pub conn: u64,
    pub method: String,
    pub target: String,
    /// `HTTP/1.0`, `HTTP/1.1` or `HTTP/2`; `None` for a handshake entry.
    pub version: Option<&'static str>,
    /// The status sent, 0 when none was.
    pub status: u16,
    pub end: Option<End>,
    /// When its answer ended, on the same clock; `None` while it went on.
    pub done: Option<f64>,
    /// It got the healthy answer (the scenario's faults were used up).
    pub healthy: bool,
    pub idempotency_key: Option<String>,
    /// Its `Accept-Encoding` names gzip.
    pub accepts_gzip: bool,
    /// Its `Range` field, if any.
    pub range: Option<String>,
    /// Its `Last-Event-ID` field, if any (an event stream's reconnect).
    pub last_event_id: Option<String>,
    /// Its `content-type` is `application/grpc` (or a `+` variant): a gRPC call.
    pub grpc: bool,
    /// A WebSocket connection's close frames, once it ended.
    pub ws: Option<WsEnd>,
}

/// How a WebSocket connection ended, as the server saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsEnd {
    /// The code of the close frame the server sent, if any.
    pub sent: Option<u16>,
    /// The code of the client's close frame, if one came.
    pub received: Option<u16>,
}

/// The method of a journal entry that is a TLS handshake fault, not a request.
pub const HANDSHAKE: &str = "TLS";

impl Attempt {
    /// A request of the command's own: not a TLS handshake entry, and not the `/favicon.ico`
    /// a browser fetches by itself after loading a page (Chromium sometimes does while an
    /// event stream's page is open; counted, it read as a reconnect after a 204).
    pub fn is_request(&self) -> bool {
        self.method != HANDSHAKE && !(self.method == "GET" && self.target == "/favicon.ico")
    }

    /// It got the whole healthy answer.
    fn served(&self) -> bool {
        self.healthy && self.end == Some(End::Complete)
    }
}

/// What the command did when nothing failed: the pattern faulty runs are measured against.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Baseline {
    /// Requests it made (handshake entries aside), and on how many connections.
    pub requests: usize,
    pub connections: usize,
    /// The method of each request, in order.
    pub methods: Vec<String>,
    /// When its first request came, on its clock.
    pub first_at: Option<f64>,
    /// It sends requests at once: one came before the answer to the one before had ended.
    pub overlap: bool,
    /// What it printed.
    pub output: Vec<u8>,
}

impl Baseline {
    pub fn new(attempts: &[Attempt], output: Vec<u8>) -> Baseline {
        let requests: Vec<&Attempt> = attempts.iter().filter(|a| a.is_request()).collect();
        Baseline {
            requests: requests.len(),
            connections: connections(&requests),
            methods: requests.iter().map(|a| a.method.clone()).collect(),
            first_at: requests.first().map(|a| a.t),
            overlap: requests
                .windows(2)
                .any(|w| w[0].done.map_or(true, |done| w[1].t < done)),
            output,
        }
    }

    /// Some connection carried more than one request.
    pub fn reused(&self) -> bool {
        self.requests > self.connections
    }
}

fn connections(requests: &[&Attempt]) -> usize {
    let mut c: Vec<u64> = requests.iter().map(|a| a.conn).collect();
    c.sort_unstable();
    c.dedup();
    c.len()
}

/// What happened in one scenario.
#[derive(Clone, Copy, Debug)]
pub struct Outcome<'a> {
    pub exit: Exit,
    pub seconds: f64,
    /// `--timeout`, as the reasons say it ("5s").
    pub timeout: &'a str,
    pub timeout_secs: f64,
    pub stdout: &'a [u8],
    /// The last bytes of its standard error.
    pub stderr: &'a str,
    pub attempts: &'a [Attempt],
    /// `--method`: the method the command uses, when the journal should not decide it.
    pub method: Option<&'a str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub grade: Grade,
    pub reason: String,
}

fn verdict(grade: Grade, reason: String) -> Verdict {
    Verdict { grade, reason }
}

fn na(reason: String) -> Verdict {
    verdict(Grade::NotApplicable, reason)
}

fn ok(reason: String) -> Verdict {
    verdict(Grade::Ok, reason)
}

fn warn(reason: String) -> Verdict {
    verdict(Grade::Warn, reason)
}

fn bad(reason: String) -> Verdict {
    verdict(Grade::Bad, reason)
}

/// Everything a rule looks at, worked out once.
pub struct Facts<'a> {
    pub s: &'a Scenario,
    pub o: &'a Outcome<'a>,
    pub b: &'a Baseline,
    /// The requests (handshake entries aside).
    pub req: Vec<&'a Attempt>,
    pub n: usize,
    /// Requests beyond the healthy run's count: the retries.
    pub extra: usize,
    /// Requests that got the whole healthy answer.
    pub served: usize,
    pub out: Output,
    /// The output in words ("32768 of 65536 bytes").
    pub shown: String,
    pub healthy_len: usize,
    pub method: String,
    pub exit: Exit,
    pub exit0: bool,
}

impl<'a> Facts<'a> {
    fn new(s: &'a Scenario, o: &'a Outcome<'a>, b: &'a Baseline, healthy: &[u8]) -> Facts<'a> {
        let req: Vec<&Attempt> = o.attempts.iter().filter(|a| a.is_request()).collect();
        let n = req.len();
        let out = output::classify(o.stdout, &b.output, healthy);
        let method = o
            .method
            .map(str::to_string)
            .or_else(|| req.first().map(|x| x.method.clone()))
            .unwrap_or_else(|| "GET".into());
        Facts {
            s,
            o,
            b,
            extra: n.saturating_sub(b.requests),
            served: req.iter().filter(|a| a.served()).count(),
            shown: output::describe(out, o.stdout.len(), healthy.len()),
            req,
            n,
            out,
            healthy_len: healthy.len(),
            method,
            exit: o.exit,
            exit0: o.exit == Exit::Code(0),
        }
    }

    /// Every request of the healthy run's pattern got its whole answer.
    fn all_served(&self) -> bool {
        self.served >= self.b.requests
    }

    /// The first request and its retries. A command whose requests go one after another
    /// retries the request that met the fault before its own next one; one that sends them
    /// at once (the healthy run says which) has its own arrive while the first is still being
    /// answered, so its retries are the first requests that came after that answer ended.
    fn chain(&self) -> Vec<&'a Attempt> {
        let sequential = || self.req.iter().take(self.extra + 1).copied().collect();
        let (Some(first), true) = (self.req.first(), self.b.overlap) else {
            return sequential();
        };
        let Some(done) = first.done else {
            return sequential();
        };
        let after = self.req[1..]
            .iter()
            .filter(|a| a.t >= done)
            .take(self.extra);
        let chain: Vec<&Attempt> = std::iter::once(*first).chain(after.copied()).collect();
        if chain.len() == self.extra + 1 {
            chain
        } else {
            sequential()
        }
    }

    /// "retried 2 times, gaps 0.50 s and 1.00 s".
    fn retried(&self) -> String {
        retried(&self.chain())
    }
}

/// Retries closer together than this did not wait: no backoff worth the name is shorter, and
/// a busy machine can take tens of milliseconds between an answer and a retry sent at once.
const NO_WAIT: f64 = 0.1;

fn secs(s: f64) -> String {
    format!("{s:.2} s")
}

/// "1 time", "3 times".
fn times(n: usize) -> String {
    match n {
        1 => "1 time".into(),
        n => format!("{n} times"),
    }
}

/// "1 request", "2 requests".
fn count(n: usize, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

fn gaps(attempts: &[&Attempt]) -> Vec<f64> {
    attempts.windows(2).map(|w| w[1].t - w[0].t).collect()
}

fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn retried(chain: &[&Attempt]) -> String {
    let g = gaps(chain);
    let n = g.len();
    let gap_text = if n <= 4 {
        list(&g.iter().map(|s| secs(*s)).collect::<Vec<_>>())
    } else {
        let min = g.iter().copied().fold(f64::INFINITY, f64::min);
        let max = g.iter().copied().fold(0.0, f64::max);
        format!("{} to {}", secs(min), secs(max))
    };
    let word = if n == 1 { "gap" } else { "gaps" };
    format!("retried {}, {word} {gap_text}", times(n))
}

fn idempotent(method: &str) -> bool {
    matches!(
        method,
        "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "TRACE"
    )
}

/// The verdict on one scenario, measured against the healthy run `b`; `healthy` is the
/// healthy body.
pub fn judge(s: &Scenario, o: &Outcome, b: &Baseline, healthy: &[u8]) -> Verdict {
    let f = Facts::new(s, o, b, healthy);
    if let Some(v) = cannot_judge(&f) {
        return v;
    }
    if o.exit == Exit::Killed {
        return rules::killed(&f);
    }
    if let Some(v) = duplicated(&f) {
        return v;
    }
    match s.rule {
        Rule::Cut | Rule::Hang | Rule::Dribble | Rule::NoBytes { .. } => rules::lost(&f),
        Rule::Transient {
            status,
            retry_after,
        } => rules::transient(&f, status, retry_after),
        Rule::Always { status } => rules::always(&f, status),
        Rule::Stale => rules::stale(&f),
        Rule::BadGzip => rules::bad_gzip(&f),
        Rule::Extra => rules::extra(&f),
        Rule::Refused => rules::refused(&f),
        Rule::ConnectTimeout => rules::connect_timeout(&f),
        Rule::RedirectLoop => rules::redirect_loop(&f),
        Rule::BadCert { what } => rules::bad_cert(&f, what),
        Rule::HandshakeCut { what } => rules::handshake_cut(&f, what),
        Rule::NoCloseNotify => rules::no_close_notify(&f),
        Rule::Unprocessed { what } => rules::unprocessed(&f, what),
        Rule::SseResume {
            what,
            after,
            retry_ms,
        } => sse::resume(&f, what, after, retry_ms),
        Rule::SseStop => sse::stop(&f),
        Rule::SseStall => sse::stall(&f),
        Rule::SseTransient { status } => sse::transient(&f, status),
        Rule::GrpcTransient { code } => grpc::transient(&f, code),
        Rule::GrpcAlways { code } => grpc::always(&f, code),
        Rule::GrpcPushback { code, ms } => grpc::pushback(&f, code, ms),
        Rule::GrpcFailure { what } => grpc::failure(&f, what),
        Rule::GrpcDeadline => grpc::deadline(&f),
        Rule::WsCut { what } => ws::cut(&f, what),
        Rule::WsNoClose => ws::no_close(&f),
        Rule::WsHang { what } => ws::hang(&f, what),
        Rule::WsValid { what } => ws::valid(&f, what),
        Rule::WsMustFail { what } => ws::must_fail(&f, what),
        Rule::WsBig { size } => ws::big(&f, size),
        Rule::WsRefused { status } => ws::refused(&f, status),
    }
}

/// A run that says nothing about the fault: the command spoke another protocol than the one
/// the catalogue serves, was killed before it asked anything, or made no request this time.
fn cannot_judge(f: &Facts) -> Option<Verdict> {
    let protocol = f.s.protocol;
    if let Some(v) = f
        .req
        .iter()
        .filter_map(|a| a.version)
        .find(|v| !protocol.meets(v))
    {
        return Some(na(match protocol {
            Protocol::Http2 | Protocol::Grpc => {
                format!("spoke {v}, so the HTTP/2 fault was not served; use --protocol http1")
            }
            _ => format!("spoke {v}; use --protocol http2"),
        }));
    }
    let answers = f.s.answers();
    if f.exit == Exit::Killed && answers && f.req.is_empty() {
        return Some(na(format!(
            "killed at --timeout {} before any request: slow start? raise --timeout",
            f.o.timeout
        )));
    }
    if f.exit == Exit::Killed && !answers {
        // Nothing is journaled here: the healthy run says when the command gets to its
        // first request.
        let first = f.b.first_at?;
        if f.o.timeout_secs - first < 1.0 {
            return Some(na(format!(
                "killed at --timeout {}, {} after its first request came in the healthy run: \
                 slow start? raise --timeout",
                f.o.timeout,
                secs(f.o.timeout_secs - first)
            )));
        }
    }
    if answers && f.req.is_empty() && f.exit != Exit::Killed {
        return Some(na(format!(
            "made no request this time ({}, {}), although it did in the healthy run",
            f.exit, f.shown
        )));
    }
    None
}

/// Rules where the server read the request and the response was lost or broken: sending a
/// non-idempotent request again may do its work twice.
fn response_lost(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::Cut
            | Rule::NoBytes { .. }
            | Rule::Hang
            | Rule::Dribble
            | Rule::BadGzip
            | Rule::Extra
            | Rule::NoCloseNotify
    )
}

/// A non-idempotent request sent more often than in the healthy run, after the server had
/// read it, without one idempotency key over every copy.
fn duplicated(f: &Facts) -> Option<Verdict> {
    if !response_lost(f.s.rule) || f.extra == 0 || idempotent(&f.method) {
        return None;
    }
    // --method speaks for every request; otherwise count those the journal shows.
    let (same, usual) = match f.o.method {
        Some(_) => (f.n, f.b.requests),
        None => (
            f.req.iter().filter(|x| x.method == f.method).count(),
            f.b.methods.iter().filter(|m| **m == f.method).count(),
        ),
    };
    let keys: Vec<_> = f.req.iter().map(|x| x.idempotency_key.as_deref()).collect();
    let one_key = keys[0].is_some() && keys.iter().all(|k| *k == keys[0]);
    if same <= usual.max(1) || one_key {
        return None;
    }
    let usual = match usual {
        0 | 1 => String::new(),
        k => format!(" ({k} in the healthy run)"),
    };
    Some(bad(format!(
        "{} sent {} after the server had read it{usual}: duplicate side effects",
        f.method,
        times(same)
    )))
}
