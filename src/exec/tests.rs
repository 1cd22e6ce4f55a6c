//! The executor against a scripted wire with a virtual clock: every byte written, when, and
//! how the connection ended.

use super::*;
use crate::response::DEFAULT_BODY;
use std::io;
use std::time::Instant;

/// How the scripted connection was ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Open,
    Reset { acked_first: bool },
    Close { drained: bool },
    Hang,
}

/// A wire whose input is given up front (arriving in pieces at virtual times) and whose
/// writes are recorded with the virtual time they happened at.
struct Script {
    start: Instant,
    now: Instant,
    input: Vec<u8>,
    pos: usize,
    /// Bytes the client sends, a piece per `fill`.
    pending: Vec<Vec<u8>>,
    writes: Vec<(Duration, Vec<u8>)>,
    fail_after: Option<usize>,
    stuck: bool,
    /// The client leaves at this virtual time.
    leaves_at: Option<Duration>,
    acked: bool,
    action: Action,
    reports: Vec<(Outcome, Action, usize)>,
}

impl Script {
    fn new(request: &[u8]) -> Script {
        let start = Instant::now();
        Script {
            start,
            now: start,
            input: request.to_vec(),
            pos: 0,
            pending: Vec::new(),
            writes: Vec::new(),
            fail_after: None,
            stuck: false,
            leaves_at: None,
            acked: false,
            action: Action::Open,
            reports: Vec::new(),
        }
    }
    fn bytes(&self) -> Vec<u8> {
        self.writes.iter().flat_map(|(_, b)| b.clone()).collect()
    }
}

impl Wire for Script {
    fn input(&self) -> &[u8] {
        &self.input[self.pos..]
    }
    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.input.len());
    }
    fn fill(&mut self, _deadline: Instant, _cap: usize) -> Fill {
        if self.pending.is_empty() {
            return Fill::Eof;
        }
        let piece = self.pending.remove(0);
        self.input.extend_from_slice(&piece);
        Fill::Data(piece.len())
    }
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.stuck {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if self.fail_after.is_some_and(|n| self.writes.len() >= n) {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        self.writes.push((self.now - self.start, bytes.to_vec()));
        Ok(())
    }
    fn now(&self) -> Instant {
        self.now
    }
    fn wait(&mut self, until: Instant) -> bool {
        if let Some(at) = self.leaves_at {
            if until - self.start > at {
                self.now = self.start + at;
                return false;
            }
        }
        self.now = self.now.max(until);
        true
    }
    fn await_acks(&mut self) {
        self.acked = true;
    }
    fn reset(&mut self) {
        self.action = Action::Reset {
            acked_first: self.acked,
        };
    }
    fn close(&mut self, drain: bool) {
        self.action = Action::Close { drained: drain };
    }
    fn hang(&mut self) {
        self.action = Action::Hang;
    }
}

const GET: &[u8] = b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
const HEAD_13: &str = "HTTP/1.1 200 OK\r\nServer: httpfault\r\nContent-Length: 13\r\n\r\n";

fn exchange<'a>(request: &[u8], budget: &'a EchoBudget) -> Exchange<'a> {
    let head = crate::request::parse_head(request).unwrap().unwrap();
    Exchange {
        head_len: head.len,
        head_only: head.method == "HEAD",
        version: head.version,
        body: head.body,
        close: head.close,
        expect_continue: head.expect_continue,
        seed: 7,
        read_timeout: Duration::from_secs(30),
        echo_budget: budget,
    }
}

/// Runs `plan` for `request` (head plus whatever body bytes are already there).
fn exec_on(text: &str, request: &[u8], script: Script) -> (Script, Result<Next, BodyError>) {
    let budget = EchoBudget::new(64 << 20);
    exec_with(text, &exchange(request, &budget), script)
}

fn exec_with(text: &str, x: &Exchange<'_>, mut w: Script) -> (Script, Result<Next, BodyError>) {
    let plan = Plan::parse(text).unwrap();
    let mut outcomes = Vec::new();
    let next = {
        let mut report = |o: &Outcome| outcomes.push(*o);
        run(x, &plan, &mut w, &mut Vec::new(), &mut report)
    };
    // The action in force when each report came is checked by the reports' order below.
    w.reports = outcomes.into_iter().map(|o| (o, Action::Open, 0)).collect();
    (w, next)
}

fn exec(text: &str) -> (Script, Outcome, Result<Next, BodyError>) {
    let (w, next) = exec_on(text, GET, Script::new(GET));
    let out = w.reports.last().expect("an outcome is reported").0;
    (w, out, next)
}

#[test]
fn classic_reset_after_six_body_bytes() {
    let (w, out, next) = exec("reset=6");
    assert_eq!(w.bytes(), format!("{HEAD_13}Hello,").as_bytes());
    assert_eq!(w.writes.len(), 1, "one write for a small response");
    assert_eq!(out.end, End::Reset);
    assert_eq!(out.status, Some(200));
    assert_eq!(out.bytes, HEAD_13.len() as u64 + 6);
    assert_eq!(w.action, Action::Reset { acked_first: true });
    assert_eq!(next, Ok(Next::Done));
}

#[test]
fn healthy_default_keeps_alive() {
    let (w, out, next) = exec("idle=1s");
    assert_eq!(w.bytes(), format!("{HEAD_13}Hello, world!").as_bytes());
    assert_eq!(out.end, End::Complete);
    assert_eq!(w.action, Action::Open);
    assert_eq!(
        next,
        Ok(Next::KeepAlive(Carry {
            idle: Some(Duration::from_secs(1)),
            reuse: None
        }))
    );
    assert_eq!(w.reports.len(), 1, "reported once, before the last write");
}

/// Regression (issue 9, defect 2): a bare ending sends no status line and reports none.
#[test]
fn endings_without_offset_send_nothing() {
    for (text, end, action) in [
        ("reset", End::Reset, Action::Reset { acked_first: true }),
        ("close", End::Close, Action::Close { drained: true }),
        ("hang", End::Hang, Action::Hang),
    ] {
        let (w, out, _) = exec(text);
        assert!(w.bytes().is_empty(), "{text}");
        assert_eq!(
            out,
            Outcome {
                status: None,
                bytes: 0,
                end
            },
            "{text}"
        );
        assert_eq!(w.action, action, "{text}");
    }
}

#[test]
fn offsets_head_body_and_end() {
    let (w, out, _) = exec("close=head:10");
    assert_eq!(w.bytes(), b"HTTP/1.1 2");
    assert_eq!(out.status, Some(200), "part of a status line went out");
    let (w, _, _) = exec("hang=end");
    assert_eq!(w.bytes(), format!("{HEAD_13}Hello, world!").as_bytes());
    let (w, _, _) = exec("reset=1000");
    assert_eq!(w.bytes(), format!("{HEAD_13}Hello, world!").as_bytes());
    let (w, out, _) = exec("body=2m/reset=1m");
    let bytes = w.bytes();
    let head = b"HTTP/1.1 200 OK\r\nServer: httpfault\r\nContent-Length: 2097152\r\n\r\n";
    assert_eq!(&bytes[..head.len()], head);
    assert_eq!(bytes.len() - head.len(), 1 << 20);
    assert_eq!(out.bytes, bytes.len() as u64);
    assert_eq!(&bytes[head.len()..head.len() + 4], b"abcd");
}

#[test]
fn status_headers_text_length() {
    let (w, _, next) = exec("status=503/header=X-A:1/text=hi/length=5/keepalive=no");
    assert_eq!(
        w.bytes(),
        b"HTTP/1.1 503 Service Unavailable\r\nServer: httpfault\r\nContent-Length: 5\r\n\
          Connection: close\r\nX-A: 1\r\n\r\nhi"
    );
    assert_eq!(next, Ok(Next::Done));
    assert_eq!(w.action, Action::Close { drained: true });
    let (w, out, _) = exec("length=none");
    assert_eq!(
        w.bytes(),
        b"HTTP/1.1 200 OK\r\nServer: httpfault\r\n\r\nHello, world!"
    );
    assert_eq!(out.end, End::Complete);
    assert_eq!(w.action, Action::Close { drained: true });
    let (w, _, _) = exec("status=599");
    assert!(w.bytes().starts_with(b"HTTP/1.1 599 Unknown\r\n"));
    let (w, _, _) = exec("status=204");
    assert_eq!(
        w.bytes(),
        b"HTTP/1.1 204 No Content\r\nServer: httpfault\r\n\r\n"
    );
}

#[test]
fn echo_reads_and_returns_the_whole_request() {
    let req = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhe";
    let mut script = Script::new(req);
    script.pending = vec![b"llo".to_vec(), b"GET / HTTP/1.1\r\n".to_vec()];
    let full = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    let (w, next) = exec_on("echo", full, script);
    let mut want = format!(
        "HTTP/1.1 200 OK\r\nServer: httpfault\r\nContent-Length: {}\r\n\r\n",
        full.len()
    )
    .into_bytes();
    want.extend_from_slice(full);
    assert_eq!(w.bytes(), want);
    assert!(matches!(next, Ok(Next::KeepAlive(_))));
    assert_eq!(w.input(), b"", "the pipelined piece was not read");
}

#[test]
fn head_only_and_client_close() {
    let req = b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let (w, next) = exec_on("", req, Script::new(req));
    assert_eq!(
        w.bytes(),
        b"HTTP/1.1 200 OK\r\nServer: httpfault\r\nContent-Length: 13\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(next, Ok(Next::Done));
    assert_eq!(w.action, Action::Close { drained: true });
}

#[test]
fn chunked_framing() {
    let head = "HTTP/1.1 200 OK\r\nServer: httpfault\r\nTransfer-Encoding: chunked\r\n\r\n";
    let (w, _, next) = exec("chunked=4");
    let body = b"4\r\nHell\r\n4\r\no, w\r\n4\r\norld\r\n1\r\n!\r\n0\r\n\r\n";
    assert_eq!(w.bytes(), [head.as_bytes(), body].concat());
    assert!(matches!(next, Ok(Next::KeepAlive(_))));
    let (w, _, next) = exec("chunked=4/badchunk");
    let body = b"4\r\nHell\r\nzz\r\no, w\r\n4\r\norld\r\n1\r\n!\r\n0\r\n\r\n";
    assert_eq!(w.bytes(), [head.as_bytes(), body].concat());
    assert_eq!(next, Ok(Next::Done));
    let (w, _, _) = exec("chunked/badchunk/text=abc");
    assert!(w.bytes().ends_with(b"\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"));
    let (w, _, _) = exec("chunked/text=");
    assert!(w.bytes().ends_with(b"\r\n\r\n0\r\n\r\n"));
    // The body offset counts framing bytes: 6 bytes = "4\r\nHel".
    let (w, _, _) = exec("chunked=4/reset=6");
    assert!(w.bytes().ends_with(b"\r\n\r\n4\r\nHel"));
}

#[test]
fn raw_and_garbage_replace_the_response() {
    let (w, out, _) = exec("raw=HTTP%2F1.1%20200%20OK%0D%0A%0D%0Aok");
    assert_eq!(w.bytes(), b"HTTP/1.1 200 OK\r\n\r\nok");
    assert_eq!(out.end, End::Close);
    assert_eq!(
        out.status, None,
        "raw bytes are not a status line httpfault sent"
    );
    let (w, out, _) = exec("raw=abcdef/reset=3");
    assert_eq!(w.bytes(), b"abc");
    assert_eq!(out.end, End::Reset);
    let (a, out, _) = exec("garbage=100");
    assert_eq!(a.bytes().len(), 100);
    assert_eq!(out.end, End::Close);
    let (b, _, _) = exec("garbage=100");
    assert_eq!(a.bytes(), b.bytes(), "same seed, same bytes");
}

#[test]
fn delay_and_pauses_fall_at_their_offsets() {
    let (w, _, _) = exec("delay=2s/pause=head:9,1s/pause=6,500ms");
    let times: Vec<(Duration, usize)> = w.writes.iter().map(|(t, b)| (*t, b.len())).collect();
    assert_eq!(
        times,
        vec![
            (Duration::from_secs(2), 9),
            (Duration::from_secs(3), HEAD_13.len() - 9 + 6),
            (Duration::from_millis(3500), 7),
        ]
    );
    // A pause at the cut happens before the ending.
    let (w, _, _) = exec("pause=end,1s/close=end");
    assert_eq!(w.now - w.start, Duration::from_secs(1));
}

/// Regression (issue 9, defect 1): a client that leaves during a delay ends the exchange at
/// once, as peer-gone, with nothing claimed as sent.
#[test]
fn a_client_leaving_during_delay_or_pause_is_peer_gone_at_once() {
    let mut script = Script::new(GET);
    script.leaves_at = Some(Duration::from_millis(300));
    let (w, next) = exec_on("delay=1440m", GET, script);
    let out = w.reports.last().unwrap().0;
    assert_eq!(
        out,
        Outcome {
            status: None,
            bytes: 0,
            end: End::PeerGone
        }
    );
    assert_eq!(w.now - w.start, Duration::from_millis(300));
    assert_eq!(next, Ok(Next::Done));
    assert!(w.writes.is_empty());

    let mut script = Script::new(GET);
    script.leaves_at = Some(Duration::from_secs(1));
    let (w, _) = exec_on("pause=6,60m", GET, script);
    let out = w.reports.last().unwrap().0;
    assert_eq!(out.end, End::PeerGone);
    assert_eq!(out.bytes, HEAD_13.len() as u64 + 6);
    assert_eq!(out.status, Some(200));
}

#[test]
fn rate_paces_the_whole_response() {
    let (w, _, _) = exec("rate=10/text=abcdefghij/length=none");
    let total: usize = w.writes.iter().map(|(_, b)| b.len()).sum();
    assert_eq!(total, 48);
    assert!(w.writes.iter().all(|(_, b)| b.len() == 1));
    let last = w.writes.last().unwrap().0;
    assert_eq!(last, Duration::from_millis(4700), "byte 47 at 47/10 s");
}

#[test]
fn a_blocked_write_is_a_timeout() {
    let mut script = Script::new(GET);
    script.stuck = true;
    let (w, _) = exec_on("", GET, script);
    let out = w.reports.last().unwrap().0;
    assert_eq!(out.end, End::Timeout);
    assert_eq!(out.bytes, 0);
}

#[test]
fn a_failed_write_is_peer_gone() {
    let mut script = Script::new(GET);
    script.fail_after = Some(2);
    let (w, _) = exec_on("body=1m", GET, script);
    let out = w.reports.last().unwrap().0;
    assert_eq!(out.end, End::PeerGone);
    assert_eq!(out.bytes, 2 * WRITE_PIECE as u64);
}

/// Regression (issue 9, defect 8): `100 Continue` only when the plan reads the body and answers
/// normally; a plan whose bytes are promised exactly sends exactly those.
#[test]
fn continue_only_for_plans_that_read_and_answer() {
    let req = b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
    for text in [
        "close",
        "reset",
        "raw=abc",
        "garbage=3",
        "reset=head:4",
        "hang",
    ] {
        let (w, _) = exec_on(text, req, Script::new(req));
        assert!(
            !w.bytes().starts_with(b"HTTP/1.1 100"),
            "{text}: {:?}",
            String::from_utf8_lossy(&w.bytes())
        );
    }
    let mut script = Script::new(req);
    script.pending = vec![b"abc".to_vec()];
    let (w, next) = exec_on("", req, script);
    let bytes = w.bytes();
    assert!(bytes.starts_with(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"));
    let out = w.reports.last().unwrap().0;
    assert_eq!(
        out.bytes,
        bytes.len() as u64,
        "the interim bytes are counted"
    );
    assert!(matches!(next, Ok(Next::KeepAlive(_))));
}

#[test]
fn body_errors() {
    let req = b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc";
    let (_, next) = exec_on("", req, Script::new(req));
    assert_eq!(next, Err(BodyError::PeerGone));
    let big = format!(
        "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        MAX_ECHO_BODY + 1
    );
    let (_, next) = exec_on("echo", big.as_bytes(), Script::new(big.as_bytes()));
    assert_eq!(next, Err(BodyError::Bad(RequestError::BodyTooLarge)));
    // The echo budget is shared: when it is used up, the next echo is refused, not queued.
    let budget = EchoBudget::new(4);
    let req = b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    let x = exchange(req, &budget);
    let (_, next) = exec_with("echo", &x, Script::new(req));
    assert_eq!(next, Err(BodyError::EchoBusy));
    let (_, next) = exec_with("", &x, Script::new(req));
    assert!(next.is_ok(), "a drained body needs no budget");
    assert_eq!(DEFAULT_BODY, b"Hello, world!");
}
