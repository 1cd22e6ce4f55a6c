//! The executor against a scripted wire with a virtual clock: every byte written, when, and
//! how the connection ended.

use super::*;
use crate::http1::response::DEFAULT_BODY;
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
    let head = crate::http::request::parse_head(request).unwrap().unwrap();
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
        entry: None,
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
    assert_eq!(out.bytes, 2 * crate::shape::WRITE_PIECE as u64);
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

// ---------------------------------------------------------------------------------------------
// Request-side faults and protocol oddities (issue 13)
// ---------------------------------------------------------------------------------------------

const POST_100: &[u8] = b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n";

/// A POST whose 100-byte body arrives in pieces of 30, 30, 30 and 10 bytes.
fn upload(head: &[u8]) -> Script {
    let mut script = Script::new(head);
    script.pending = vec![
        vec![b'a'; 30],
        vec![b'b'; 30],
        vec![b'c'; 30],
        vec![b'd'; 10],
    ];
    script
}

#[test]
fn upload_cuts_consume_exactly_n_body_bytes_and_send_nothing() {
    for (text, end, action) in [
        (
            "reset=req:50",
            End::Reset,
            Action::Reset { acked_first: true },
        ),
        ("close=req:50", End::Close, Action::Close { drained: true }),
        ("hang=req:50", End::Hang, Action::Hang),
    ] {
        let (w, next) = exec_on(text, POST_100, upload(POST_100));
        assert!(w.bytes().is_empty(), "{text}: no response");
        assert_eq!(
            w.pos,
            POST_100.len() + 50,
            "{text}: exactly 50 body bytes consumed"
        );
        assert_eq!(
            w.input(),
            &[b'b'; 10][..],
            "{text}: the rest of the piece stays unread"
        );
        let out = w.reports.last().unwrap().0;
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
        assert_eq!(next, Ok(Next::Done));
    }
    // Past the end of the body: the whole body, then the cut.
    let (w, _) = exec_on("reset=req:1k", POST_100, upload(POST_100));
    assert_eq!(w.pos, POST_100.len() + 100);
    assert_eq!(w.action, Action::Reset { acked_first: true });
    // req:0 cuts right after the head.
    let (w, _) = exec_on("close=req:0", POST_100, upload(POST_100));
    assert_eq!(w.pos, POST_100.len());
    // A chunked body counts its framing, as the response offsets do.
    let req = b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut script = Script::new(req);
    script.pending = vec![b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n".to_vec()];
    let (w, _) = exec_on("reset=req:13", req, script);
    assert_eq!(w.input(), b"world\r\n0\r\n\r\n");
}

#[test]
fn upload_cuts_invite_an_expecting_client_unless_continue_no() {
    let req = b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n";
    let (w, _) = exec_on("reset=req:40", req, upload(req));
    assert_eq!(w.bytes(), CONTINUE);
    assert_eq!(w.pos, req.len() + 40);
    let out = w.reports.last().unwrap().0;
    assert_eq!(
        out.bytes,
        CONTINUE.len() as u64,
        "interim bytes are counted"
    );
    assert_eq!(out.status, None);
    let (w, _) = exec_on("reset=req:40/continue=no", req, upload(req));
    assert!(w.bytes().is_empty());
    assert_eq!(w.pos, req.len() + 40);
}

#[test]
fn continue_no_waits_for_the_body_without_inviting_it() {
    let req = b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
    let mut script = Script::new(req);
    script.pending = vec![b"abc".to_vec()];
    let (w, next) = exec_on("continue=no", req, script);
    assert_eq!(
        w.bytes(),
        HEAD_13
            .bytes()
            .chain(*b"Hello, world!")
            .collect::<Vec<u8>>()
    );
    assert_eq!(w.input(), b"", "the body was read");
    assert!(matches!(next, Ok(Next::KeepAlive(_))));
}

#[test]
fn continue_code_answers_at_once_and_leaves_the_body_unread() {
    let req = b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
    let mut script = Script::new(req);
    script.pending = vec![b"abc".to_vec()];
    let (w, next) = exec_on("continue=417", req, script);
    assert_eq!(
        w.bytes(),
        b"HTTP/1.1 417 Expectation Failed\r\nServer: httpfault\r\nContent-Length: 13\r\n\r\nHello, world!"
    );
    assert_eq!(w.pos, req.len(), "no body byte read");
    assert_eq!(next, Ok(Next::Done));
    assert_eq!(w.action, Action::Close { drained: false });
    assert_eq!(w.reports.last().unwrap().0.status, Some(417));
    // Without Expect the step does nothing.
    let (w, _, _) = exec("continue=417");
    assert!(w.bytes().starts_with(b"HTTP/1.1 200 OK\r\n"));
}

#[test]
fn info_sends_interim_heads_first_and_offsets_count_from_the_final_head() {
    let interim = b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n";
    let (w, out, _) = exec("info=103/info=100/delay=1s");
    assert_eq!(
        w.writes[0],
        (Duration::ZERO, interim.to_vec()),
        "before the delay"
    );
    assert_eq!(w.writes[1].0, Duration::from_secs(1));
    assert_eq!(
        w.bytes()[interim.len()..],
        *format!("{HEAD_13}Hello, world!").as_bytes()
    );
    assert_eq!(out.bytes, w.bytes().len() as u64);
    let (w, out, _) = exec("info=103/close=head:8");
    assert_eq!(w.bytes(), b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1");
    assert_eq!(out.bytes, 36);
    let (w, _, _) = exec("info=199/lf");
    assert!(w
        .bytes()
        .starts_with(b"HTTP/1.1 199 Unknown\n\nHTTP/1.1 200 OK\n"));
}

#[test]
fn trailers_follow_the_last_chunk() {
    let (w, _, next) = exec("chunked=4/trailer=X-Sum:abc/trailer=X-N:%201");
    assert_eq!(
        w.bytes(),
        b"HTTP/1.1 200 OK\r\nServer: httpfault\r\nTransfer-Encoding: chunked\r\n\
          Trailer: X-Sum, X-N\r\n\r\n4\r\nHell\r\n4\r\no, w\r\n4\r\norld\r\n1\r\n!\r\n\
          0\r\nX-Sum: abc\r\nX-N: 1\r\n\r\n"
    );
    assert!(matches!(next, Ok(Next::KeepAlive(_))));
    // The whole length is known, so `end` is exact.
    let (w, out, _) = exec("trailer=A:b/close=end");
    assert!(w.bytes().ends_with(b"0\r\nA: b\r\n\r\n"));
    assert_eq!(out.bytes, w.bytes().len() as u64);
}

#[test]
fn extra_bytes_follow_the_complete_response() {
    let (w, out, _) = exec("extra=HTTP%2F1.1%20200");
    assert_eq!(
        w.bytes(),
        format!("{HEAD_13}Hello, world!HTTP/1.1 200").as_bytes()
    );
    assert_eq!(out.end, End::Complete);
    let (w, _, _) = exec("extra=xyz/reset=end");
    assert!(w.bytes().ends_with(b"!xyz"), "end includes the extra bytes");
}

#[test]
fn lf_ends_head_lines_with_a_bare_lf() {
    let (w, _, _) = exec("lf/header=X-A:1");
    assert_eq!(
        w.bytes(),
        b"HTTP/1.1 200 OK\nServer: httpfault\nContent-Length: 13\nX-A: 1\n\nHello, world!"
    );
}

/// Inflates a gzip stream made of stored blocks, checking every field; returns the data and
/// whether the CRC matched.
fn gunzip_stored(gz: &[u8]) -> (Vec<u8>, bool) {
    assert_eq!(gz[..10], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    let mut i = 10;
    let mut data = Vec::new();
    loop {
        let last = gz[i] & 1 == 1;
        assert_eq!(gz[i] >> 1, 0, "stored block");
        let len = u16::from_le_bytes([gz[i + 1], gz[i + 2]]);
        let nlen = u16::from_le_bytes([gz[i + 3], gz[i + 4]]);
        assert_eq!(len, !nlen);
        data.extend_from_slice(&gz[i + 5..i + 5 + usize::from(len)]);
        i += 5 + usize::from(len);
        if last {
            break;
        }
    }
    let crc = u32::from_le_bytes(gz[i..i + 4].try_into().unwrap());
    let size = u32::from_le_bytes(gz[i + 4..i + 8].try_into().unwrap());
    assert_eq!(i + 8, gz.len(), "nothing after the trailer");
    assert_eq!(size as usize, data.len());
    (data.clone(), crc == response::crc32(0, &data))
}

#[test]
fn gzip_writes_a_valid_stream_and_bad_changes_one_byte_under_the_original_crc() {
    assert_eq!(
        response::crc32(0, b"123456789"),
        0xCBF4_3926,
        "the CRC-32 check value"
    );
    let (w, _, _) = exec("gzip");
    let bytes = w.bytes();
    let head = "HTTP/1.1 200 OK\r\nServer: httpfault\r\nContent-Length: 36\r\n\
                Content-Encoding: gzip\r\n\r\n";
    assert_eq!(&bytes[..head.len()], head.as_bytes());
    assert_eq!(
        gunzip_stored(&bytes[head.len()..]),
        (b"Hello, world!".to_vec(), true)
    );
    // gzip=bad: the middle byte changed (XOR 1) under the CRC of the original bytes (issue 24:
    // a client that keeps data whose CRC failed must show it in what it prints).
    let (w, _, _) = exec("gzip=bad");
    let gz = &w.bytes()[head.len()..];
    assert_eq!(gunzip_stored(gz), (b"Hello,!world!".to_vec(), false));
    let crc = u32::from_le_bytes(gz[gz.len() - 8..gz.len() - 4].try_into().unwrap());
    assert_eq!(
        crc,
        response::crc32(0, b"Hello, world!"),
        "the original's CRC"
    );
    let (w, _, _) = exec("body=150000/gzip=bad/length=none/keepalive=no");
    let (data, ok) = gunzip_stored(split_body(&w.bytes()));
    let (good, _) = gunzip_stored(split_body(
        &exec("body=150000/gzip/length=none/keepalive=no").0.bytes(),
    ));
    let differ: Vec<usize> = (0..good.len()).filter(|&i| data[i] != good[i]).collect();
    assert!(
        !ok && data.len() == 150_000 && differ == [75_000],
        "{differ:?}"
    );
    assert_eq!(data[75_000] ^ 1, good[75_000]);
    // No byte to change in an empty body: the CRC is inverted instead.
    let (w, _, _) = exec("text=/gzip=bad/keepalive=no/length=none");
    assert_eq!(gunzip_stored(split_body(&w.bytes())), (Vec::new(), false));
    // Several blocks, chunked on top, and an empty body.
    let (w, _, _) = exec("body=150000/gzip/length=none/keepalive=no");
    let (data, ok) = gunzip_stored(split_body(&w.bytes()));
    assert!(ok && data.len() == 150_000 && data.starts_with(b"abcd"));
    let (w, _, _) = exec("text=/gzip/keepalive=no/length=none");
    assert_eq!(gunzip_stored(split_body(&w.bytes())), (Vec::new(), true));
    let (w, _, _) = exec("text=hello/gzip/chunked=7");
    let chunked = split_body(&w.bytes()).to_vec();
    let mut gz = Vec::new();
    let mut rest = &chunked[..];
    loop {
        let line = rest.iter().position(|&b| b == b'\n').unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..line - 1]).unwrap(), 16).unwrap();
        if size == 0 {
            break;
        }
        gz.extend_from_slice(&rest[line + 1..line + 1 + size]);
        rest = &rest[line + 3 + size..];
    }
    assert_eq!(gunzip_stored(&gz), (b"hello".to_vec(), true));
}

fn split_body(bytes: &[u8]) -> &[u8] {
    let at = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    &bytes[at + 4..]
}

#[test]
fn readrate_paces_the_body_reads() {
    let (w, next) = exec_on("readrate=10", POST_100, upload(POST_100));
    assert_eq!(w.pos, POST_100.len() + 100);
    // Byte k is taken at k/10 s: the last, byte 99, at 9.9 s.
    assert_eq!(w.writes[0].0, Duration::from_millis(9900));
    assert!(matches!(next, Ok(Next::KeepAlive(_))));
    // With an upload cut too: 50 bytes at 100 bytes a second, taken 2 at a time (50 reads a
    // second), the last two from byte 48 at 0.48 s.
    let (w, _) = exec_on("readrate=100/reset=req:50", POST_100, upload(POST_100));
    assert_eq!(w.pos, POST_100.len() + 50);
    assert_eq!(w.now - w.start, Duration::from_millis(480));
}

fn ranged(text: &str, fields: &str) -> Vec<u8> {
    let req = format!("GET /f HTTP/1.1\r\nHost: x\r\n{fields}\r\n");
    let (w, _) = exec_on(text, req.as_bytes(), Script::new(req.as_bytes()));
    w.bytes()
}

#[test]
fn ranges_answer_206_416_and_honour_if_range() {
    let tag = response::etag(&Body::Default, b"");
    let full = ranged("ranges", "");
    let want = format!(
        "HTTP/1.1 200 OK\r\nServer: httpfault\r\nContent-Length: 13\r\nAccept-Ranges: bytes\r\n\
         ETag: {tag}\r\n\r\nHello, world!"
    );
    assert_eq!(full, want.as_bytes());
    let part = ranged("ranges", "Range: bytes=7-\r\n");
    let want = format!(
        "HTTP/1.1 206 Partial Content\r\nServer: httpfault\r\nContent-Length: 6\r\n\
         Content-Range: bytes 7-12/13\r\nAccept-Ranges: bytes\r\nETag: {tag}\r\n\r\nworld!"
    );
    assert_eq!(part, want.as_bytes());
    let part = ranged("body=10m/ranges", "Range: bytes=64-67\r\n");
    assert!(
        part.ends_with(b"\r\n\r\nabcd"),
        "{:?}",
        String::from_utf8_lossy(&part)
    );
    let bad = ranged("ranges", "Range: bytes=13-\r\n");
    let want = format!(
        "HTTP/1.1 416 Range Not Satisfiable\r\nServer: httpfault\r\nContent-Length: 0\r\n\
         Content-Range: bytes */13\r\nAccept-Ranges: bytes\r\nETag: {tag}\r\n\r\n"
    );
    assert_eq!(bad, want.as_bytes());
    let same = ranged(
        "ranges",
        &format!("Range: bytes=0-4\r\nIf-Range: {tag}\r\n"),
    );
    assert!(same.ends_with(b"\r\n\r\nHello"));
    let other = ranged("ranges", "Range: bytes=0-4\r\nIf-Range: \"nope\"\r\n");
    assert!(other.starts_with(b"HTTP/1.1 200 OK") && other.ends_with(b"Hello, world!"));
    // Without `ranges`, Range is ignored; with another status, too.
    assert!(ranged("", "Range: bytes=0-4\r\n").starts_with(b"HTTP/1.1 200 OK"));
    assert!(ranged("ranges/status=503", "Range: bytes=0-4\r\n").starts_with(b"HTTP/1.1 503"));
    // The tag follows the body, not the rest of the plan.
    assert_ne!(tag, response::etag(&Body::Filler(13), b""));
    assert_eq!(
        response::etag(&Body::Filler(13), b""),
        response::etag(&Body::Filler(13), b"")
    );
}

#[test]
fn range_values() {
    use response::{range_answer as ra, RangeAnswer::*};
    let t = "\"t\"";
    let r = |v: &str| ra(Some(v.as_bytes()), None, t, 100);
    let p = |start, end| Partial { start, end };
    assert_eq!(ra(None, None, t, 100), Full);
    assert_eq!(r("bytes=0-0"), p(0, 0));
    assert_eq!(r("bytes=10-"), p(10, 99));
    assert_eq!(r("bytes=-10"), p(90, 99));
    assert_eq!(r("bytes=-1000"), p(0, 99));
    assert_eq!(r("bytes=50-99999999999999999999999"), p(50, 99));
    assert_eq!(r(" BYTES = 1-2 "), p(1, 2));
    assert_eq!(r("items=0-1"), Full, "another unit is ignored");
    for bad in [
        "bytes=100-",
        "bytes=5-4",
        "bytes=-0",
        "bytes=",
        "bytes=-",
        "bytes=a-b",
        "bytes=0-1,3-4",
        "bytes 0-1",
        "bytes=1",
        "bytes=+1-2",
        "bytes=99999999999999999999999-",
    ] {
        assert_eq!(r(bad), Unsatisfiable, "{bad}");
    }
    assert_eq!(ra(Some(b"bytes=-5"), None, t, 0), Unsatisfiable);
    assert_eq!(ra(Some(b"bytes=0-1"), Some(b" \"t\" "), t, 100), p(0, 1));
    assert_eq!(ra(Some(b"bytes=0-1"), Some(b"W/\"t\""), t, 100), Full);
    assert_eq!(
        ra(
            Some(b"bytes=0-1"),
            Some(b"Sat, 01 Jan 2000 00:00:00 GMT"),
            t,
            100
        ),
        Full
    );
}

#[test]
fn the_outcome_has_the_status_that_went_out() {
    let req = b"GET /f HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\n\r\n";
    let (w, _) = exec_on("ranges/reset=2", req, Script::new(req));
    assert_eq!(w.reports.last().unwrap().0.status, Some(206));
    let req = b"GET /f HTTP/1.1\r\nHost: x\r\nRange: bytes=99-\r\n\r\n";
    let (w, _) = exec_on("ranges", req, Script::new(req));
    assert_eq!(w.reports.last().unwrap().0.status, Some(416));
}

/// Runs `plan` through `run_remembering` with the connection's `buf` and `memo`; returns the
/// bytes written, the outcomes reported, what comes next, how the wire was ended, and what
/// input was left unread.
#[allow(clippy::type_complexity)]
fn remembering(
    plan: &Arc<Plan>,
    request: &[u8],
    buf: &mut Vec<u8>,
    memo: &mut Remembered,
) -> (
    Vec<u8>,
    Vec<Outcome>,
    Result<Next, BodyError>,
    Action,
    Vec<u8>,
) {
    let budget = EchoBudget::new(64 << 20);
    let x = exchange(request, &budget);
    let mut w = Script::new(request);
    let mut outcomes = Vec::new();
    let next = {
        let mut report = |o: &Outcome| outcomes.push(*o);
        run_remembering(&x, plan, &mut w, buf, memo, &mut report)
    };
    (w.bytes(), outcomes, next, w.action, w.input().to_vec())
}

/// A remembered response is byte for byte what laying it out again gives, with the same
/// outcomes and the same next step, for plans that may be remembered and plans that may not,
/// for GET and HEAD, in any order on one connection.
#[test]
fn a_remembered_response_is_the_response() {
    const HEAD_REQ: &[u8] = b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n";
    const CLOSE_REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let texts = [
        "",
        "status=201/header=X-A:1",
        "body=100",
        "text=hi/length=5",
        "chunked=4/trailer=A:b",
        "gzip",
        "extra=xx",
        "lf",
        "idle=1s",
        "reuse=close",
        "status=204",
        "reset=6",
        "delay=10ms",
        "pause=5,10ms",
        "echo",
        "info=103",
        "rate=1k",
        "body=2k",
    ];
    let plans: Vec<Arc<Plan>> = texts
        .iter()
        .map(|t| Arc::new(Plan::parse(t).unwrap()))
        .collect();
    let (mut buf, mut memo) = (Vec::new(), Remembered::default());
    // Each plan three times in a row, then the whole list again, with HEAD and close mixed in.
    let mut order = Vec::new();
    for i in 0..plans.len() {
        order.extend([(i, GET), (i, GET), (i, HEAD_REQ), (i, HEAD_REQ), (i, GET)]);
    }
    for i in 0..plans.len() {
        order.extend([(i, GET), (i, CLOSE_REQ), (i, GET)]);
    }
    for (i, request) in order {
        let got = remembering(&plans[i], request, &mut buf, &mut memo);
        let fresh = remembering(
            &plans[i],
            request,
            &mut Vec::new(),
            &mut Remembered::default(),
        );
        assert_eq!(got, fresh, "plan '{}', request {:?}", texts[i], request);
    }
}

/// Only the same plan (the same `Arc`) gets the remembered bytes: a new plan with other
/// content is laid out anew, and a request with a body still has its body read.
#[test]
fn only_the_same_plan_and_a_bodyless_request_get_the_remembered_bytes() {
    let (mut buf, mut memo) = (Vec::new(), Remembered::default());
    let a = Arc::new(Plan::parse("text=aaa").unwrap());
    let b = Arc::new(Plan::parse("text=bbbb").unwrap());
    let (bytes, ..) = remembering(&a, GET, &mut buf, &mut memo);
    assert!(bytes.ends_with(b"\r\n\r\naaa"));
    assert!(
        memo.plan.as_ref().is_some_and(|p| Arc::ptr_eq(p, &a)),
        "remembered"
    );
    let (bytes, ..) = remembering(&a, GET, &mut buf, &mut memo);
    assert!(bytes.ends_with(b"\r\n\r\naaa"));
    let (bytes, ..) = remembering(&b, GET, &mut buf, &mut memo);
    assert!(bytes.ends_with(b"\r\n\r\nbbbb"));
    let post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyzGET";
    let (bytes, _, next, _, left) = remembering(&b, post, &mut buf, &mut memo);
    assert!(bytes.ends_with(b"\r\n\r\nbbbb"));
    assert!(matches!(next, Ok(Next::KeepAlive(_))));
    assert_eq!(left, b"GET", "the body was read, the next request left");
}

/// The payload of a chunked body (extensions and trailers dropped), and whether it ended with
/// the last chunk; `None` when the framing is malformed.
fn dechunk(mut b: &[u8]) -> Option<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return Some((out, false));
        };
        let line = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(line.split(';').next()?, 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some((out, b.ends_with(b"\r\n")));
        }
        if b.len() < size + 2 {
            out.extend_from_slice(&b[..size.min(b.len())]);
            return Some((out, false));
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

fn events(range: std::ops::RangeInclusive<u64>) -> Vec<u8> {
    range
        .flat_map(|k| format!("id: {k}\ndata: {k}\n\n").into_bytes())
        .collect()
}

const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\nServer: httpfault\r\nTransfer-Encoding: chunked\r\n\
                        Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";

#[test]
fn an_event_stream_is_chunked_an_event_a_chunk_with_the_interval_between() {
    let (w, out, next) = exec("sse=3,1s");
    let want = format!(
        "{SSE_HEAD}f\r\nid: 1\ndata: 1\n\n\r\nf\r\nid: 2\ndata: 2\n\n\r\nf\r\nid: 3\ndata: 3\n\n\r\n0\r\n\r\n"
    );
    assert_eq!(String::from_utf8_lossy(&w.bytes()), want);
    assert_eq!((out.end, out.bytes), (End::Complete, want.len() as u64));
    assert!(matches!(next, Ok(Next::KeepAlive(_))));
    // Each event goes out whole, a second after the one before (its chunk's CRLF with it).
    let times: Vec<f64> = w.writes.iter().map(|(t, _)| t.as_secs_f64()).collect();
    assert_eq!(times, [0.0, 1.0, 2.0]);
    assert!(w.writes[0].1.ends_with(b"data: 1\n\n"));
    assert!(w.writes[2].1.ends_with(b"data: 3\n\n\r\n0\r\n\r\n"));
}

#[test]
fn an_event_cut_leaves_exactly_the_events_before_it() {
    // `reset=2ev`: right after the 2nd event's blank line, before its chunk's CRLF and
    // before the interval.
    let (w, out, _) = exec("sse=5,1s/reset=2ev");
    let bytes = w.bytes();
    assert!(
        bytes.ends_with(b"\r\nf\r\nid: 2\ndata: 2\n\n"),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(dechunk(&bytes[SSE_HEAD.len()..]).unwrap().0, events(1..=2));
    assert_eq!(out.end, End::Reset);
    assert_eq!(w.writes.last().unwrap().0, Duration::from_secs(1));
    assert_eq!(w.action, Action::Reset { acked_first: true });
    // `close=2ev+4`: four bytes into the 3rd event.
    let (w, out, _) = exec("sse=5,1s/close=2ev+4");
    assert!(w.bytes().ends_with(b"\n\n\r\nf\r\nid: "));
    assert_eq!(out.end, End::Close);
    // Delimited by the close (`length=none`): no framing, the same cut.
    let (w, out, next) = exec("sse=5,0ms/length=none/hang=3ev");
    let body = &w.bytes()[..];
    assert!(body.ends_with(b"\r\n\r\nid: 1\ndata: 1\n\nid: 2\ndata: 2\n\nid: 3\ndata: 3\n\n"));
    assert!(!String::from_utf8_lossy(body).contains("Transfer-Encoding"));
    assert_eq!((out.end, next), (End::Hang, Ok(Next::Done)));
    // An event count the stream never reaches: complete, the journal says so.
    let (_, out, _) = exec("sse=2,0ms/reset=3ev");
    assert_eq!(out.end, End::Complete);
}

#[test]
fn last_event_id_resumes_after_it_and_none_left_is_204() {
    let req = b"GET /x HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 3\r\n\r\n";
    let (w, next) = exec_on("sse=5,1s/sse-retry=2500", req, Script::new(req));
    let bytes = w.bytes();
    let (payload, ended) = dechunk(&bytes[SSE_HEAD.len()..]).unwrap();
    assert!(ended);
    assert_eq!(
        payload,
        [b"retry: 2500\n\n".to_vec(), events(4..=5)].concat()
    );
    // The `retry:` block is its own chunk, sent with the first event; one interval.
    assert_eq!(w.writes.last().unwrap().0, Duration::from_secs(1));
    assert!(matches!(next, Ok(Next::KeepAlive(_))));
    for id in ["5", "9", "18446744073709551615"] {
        let req = format!("GET /x HTTP/1.1\r\nHost: x\r\nLast-Event-ID: {id}\r\n\r\n");
        let (w, next) = exec_on("sse=5", req.as_bytes(), Script::new(req.as_bytes()));
        let want = "HTTP/1.1 204 No Content\r\nServer: httpfault\r\nContent-Type: \
                    text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
        assert_eq!(String::from_utf8_lossy(&w.bytes()), want, "{id}");
        assert!(matches!(next, Ok(Next::KeepAlive(_))));
    }
    // An id that is not one of ours starts from the first event; a status of the plan's own
    // stays.
    for id in ["x", "-1", "", "99999999999999999999999"] {
        let req = format!("GET /x HTTP/1.1\r\nHost: x\r\nLast-Event-ID: {id}\r\n\r\n");
        let (w, _) = exec_on("sse=2,0ms", req.as_bytes(), Script::new(req.as_bytes()));
        assert_eq!(
            dechunk(&w.bytes()[SSE_HEAD.len()..]).unwrap().0,
            events(1..=2),
            "{id:?}"
        );
    }
    let req = b"GET /x HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 5\r\n\r\n";
    let (w, _) = exec_on("sse=5/status=503", req, Script::new(req));
    assert!(w.bytes().starts_with(b"HTTP/1.1 503 "));
}

#[test]
fn every_framing_of_an_event_stream_is_as_long_as_its_head_says() {
    let n = 1234; // ids of one to four digits
    let all = events(1..=n);
    for extra in [
        "",
        "/chunked=7",
        "/chunked=1",
        "/chunked=100",
        "/badchunk",
        "/chunked=7/badchunk",
        "/trailer=X-A:1",
        "/sse-retry=100",
        "/chunked=3/sse-retry=7/trailer=X-B:2",
        "/gzip",
        "/length=none",
    ] {
        let text = format!("sse={n},0ms{extra}");
        let (w, out, _) = exec(&text);
        let bytes = w.bytes();
        // Everything the layout promised went out, and no more.
        assert_eq!(out.bytes, bytes.len() as u64, "{text}");
        assert_eq!(out.end, End::Complete, "{text}");
        let body_at = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let body = &bytes[body_at..];
        let payload = if extra.contains("length") {
            body.to_vec()
        } else if extra.contains("badchunk") {
            // The second chunk-size line is `zz`: the rest is framed as the layout said.
            assert!(body.windows(4).any(|w| w == b"\nzz\r"), "{text}");
            continue;
        } else {
            let (p, ended) = dechunk(body).unwrap_or_else(|| panic!("{text}: bad framing"));
            assert!(ended, "{text}");
            p
        };
        if extra.contains("gzip") {
            assert_eq!(gunzip_stored(&payload), (all.clone(), true), "{text}");
        } else if extra.contains("retry") {
            assert!(
                payload.ends_with(&all) && payload.starts_with(b"retry: "),
                "{text}"
            );
        } else {
            assert_eq!(payload, all, "{text}");
        }
    }
    // HEAD: the head alone.
    let head = b"HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n";
    let (w, _) = exec_on("sse=3", head, Script::new(head));
    assert_eq!(String::from_utf8_lossy(&w.bytes()), SSE_HEAD);
}

#[test]
fn a_file_body_is_the_files_bytes() {
    let path = std::env::temp_dir().join(format!("httpfault-exchange-file-{}", std::process::id()));
    std::fs::write(&path, b"data: a\n\ndata: b\n\n").unwrap();
    let text = format!(
        "file={}/header=Content-Type:text%2Fevent-stream/close=1ev+3",
        crate::plan::units::Encoded(path.to_str().unwrap().as_bytes())
    );
    let plan = Plan::parse_with(&text, &crate::plan::Files::SYNTAX.operator()).unwrap();
    let budget = EchoBudget::new(1 << 20);
    let mut w = Script::new(GET);
    let mut outcomes = Vec::new();
    let next = run(
        &exchange(GET, &budget),
        &plan,
        &mut w,
        &mut Vec::new(),
        &mut |o| outcomes.push(*o),
    );
    assert_eq!(next, Ok(Next::Done));
    let want = "HTTP/1.1 200 OK\r\nServer: httpfault\r\nContent-Length: 18\r\n\
                Content-Type: text/event-stream\r\n\r\ndata: a\n\ndat";
    assert_eq!(String::from_utf8_lossy(&w.bytes()), want);
    assert_eq!(outcomes.last().unwrap().end, End::Close);
    let _ = std::fs::remove_file(&path);
}
