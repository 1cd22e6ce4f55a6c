//! gRPC streams (issue 26 item 4; the contract's part 4, "gRPC streams"): `grpc-messages=N,
//! INTERVAL`, `grpc-status=CODE@N`, `rst`/`goaway`/`stall` at `Nmsg`, `grpc-pushback=MS` and
//! `grpc-read=N`. Each fault twice: on the wire, frame by frame, with the raw client of
//! `tests/h2/raw.rs` (the exact DATA payload before each cut, so one byte off fails); and with
//! real clients, Python `grpcio` and `@grpc/grpc-js`, through generic calls with raw-bytes
//! (de)serializers (`tests/grpc/client.py`, `tests/grpc/client.js`), whose statuses and
//! message counts are the table of docs/http2-grpc.md ("gRPC streams").
//!
//! A client that is missing skips its test loudly; under `CI=true` it fails instead.

mod common;

#[path = "h2/raw.rs"]
mod raw;

use common::*;
use httpfault::fuzzing::h2::frame::{flag, Kind};
use httpfault::fuzzing::h2::hpack::Decoder;
use raw::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// --- On the wire ----------------------------------------------------------------------------

/// One 8-byte message of `text=abc`: the 5-byte prefix and `abc`.
const MSG: usize = 8;

/// What the server sent on a stream, in order.
#[derive(Debug, PartialEq)]
enum Event {
    /// A header block: its fields, and END_STREAM.
    Headers(Vec<(String, String)>, bool),
    /// DATA: its payload, and END_STREAM.
    Data(Vec<u8>, bool),
    Rst(u32),
    GoAway(u32),
}

/// A gRPC request on stream 1 (HEADERS and, if `body` is given, DATA with END_STREAM).
fn grpc_request(t: &mut TcpStream, path: &str, body: Option<&[u8]>) {
    let h = block(&[
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", "x"),
        (":path", path),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]);
    let mut out = frame(Kind::Headers, flag::END_HEADERS, 1, &h);
    if let Some(b) = body {
        out.extend(frame(Kind::Data, flag::END_STREAM, 1, b));
    }
    t.write_all(&out).unwrap();
}

/// A length-prefixed gRPC message.
fn message(payload: &[u8]) -> Vec<u8> {
    let mut m = vec![0];
    m.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    m.extend_from_slice(payload);
    m
}

/// Stream 1's events, from frames read until it ended (END_STREAM, RST_STREAM, GOAWAY) or
/// `time` passed.
fn events(t: &mut TcpStream, time: Duration) -> Vec<Event> {
    let ended = |f: &[(httpfault::fuzzing::h2::frame::Head, Vec<u8>)]| {
        answered(1)(f) || goaway_or_reset(1)(f)
    };
    let (frames, _) = read_frames_until(t, time, ended);
    let mut hpack = Decoder::new(4096);
    let mut out = Vec::new();
    for (h, p) in frames {
        let end = h.flags & flag::END_STREAM != 0;
        match h.kind {
            Kind::Headers if h.stream == 1 => {
                let fields = hpack.decode(&p, 64 * 1024).expect("HPACK");
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                let fields = fields.iter().map(|(n, v)| (text(n), text(v))).collect();
                out.push(Event::Headers(fields, end));
            }
            Kind::Data if h.stream == 1 => out.push(Event::Data(p, end)),
            Kind::Reset if h.stream == 1 => {
                out.push(Event::Rst(u32::from_be_bytes([p[0], p[1], p[2], p[3]])))
            }
            Kind::GoAway => out.push(Event::GoAway(u32::from_be_bytes([p[4], p[5], p[6], p[7]]))),
            _ => {}
        }
    }
    out
}

/// The DATA payload of a stream's events, and what came after it (the trailers, or the cut).
fn payload_then(ev: &[Event]) -> (Vec<u8>, Option<&Event>) {
    let mut data = Vec::new();
    for e in ev.iter().skip(1) {
        match e {
            Event::Data(d, false) => data.extend_from_slice(d),
            other => return (data, Some(other)),
        }
    }
    (data, None)
}

fn field<'a>(e: Option<&'a Event>, name: &str) -> Option<&'a str> {
    match e {
        Some(Event::Headers(f, _)) => f.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()),
        _ => None,
    }
}

/// The stream's answer to `/PLAN` (`text=abc` messages), read until it ended or `time` passed.
fn wire(s: &Server, plan: &str, time: Duration) -> Vec<Event> {
    let mut t = raw(s);
    grpc_request(&mut t, &format!("/{plan}"), Some(&message(b"hi")));
    let ev = events(&mut t, time);
    assert!(
        matches!(ev.first(), Some(Event::Headers(f, _)) if f.contains(&(":status".into(), "200".into()))),
        "{plan}: {ev:?}\n{}",
        s.describe()
    );
    ev
}

#[test]
fn cuts_at_a_message_offset_come_after_exactly_that_many_bytes() {
    let s = Server::start(&[]);
    let five = message(b"abc").repeat(5);
    for (plan, len, after) in [
        ("rst=cancel@3msg", 3 * MSG, Event::Rst(8)),
        ("rst=cancel@3msg+2", 3 * MSG + 2, Event::Rst(8)),
        ("rst=internal_error@1msg", MSG, Event::Rst(2)),
        ("reset=3msg", 3 * MSG, Event::Rst(2)),
        ("goaway=internal_error@3msg", 3 * MSG, Event::GoAway(2)),
        ("goaway=no_error@4msg", 4 * MSG, Event::GoAway(0)),
        // `close=`: END_STREAM early, no trailers.
        ("close=2msg", 2 * MSG, Event::Data(Vec::new(), true)),
    ] {
        let ev = wire(&s, &format!("grpc-messages=5/text=abc/{plan}"), IO);
        let (data, then) = payload_then(&ev);
        assert_eq!(data, five[..len], "{plan}: {ev:?}");
        assert_eq!(then, Some(&after), "{plan}: {ev:?}");
    }
    // A count the stream never reaches: all five messages, then the trailers (status 0).
    let ev = wire(&s, "grpc-messages=5/text=abc/rst=cancel@6msg", IO);
    let (data, then) = payload_then(&ev);
    assert_eq!(
        (data, field(then, "grpc-status")),
        (five.clone(), Some("0"))
    );
    let line = s
        .wait_log(IO, |l| l.contains("rst=cancel@6msg"))
        .expect("journaled");
    assert!(line.contains("end=complete"), "{line}");
    // `stall@3msg`: three messages, then nothing (no END_STREAM, no RST) for as long as we look.
    let ev = wire(&s, "grpc-messages=5/text=abc/stall@3msg", ms(800));
    assert_eq!(
        payload_then(&ev),
        (five[..3 * MSG].to_vec(), None),
        "{ev:?}"
    );
}

#[test]
fn grpc_status_at_n_sends_n_messages_then_the_trailers() {
    let s = Server::start(&[]);
    let ten = message(b"abc").repeat(10);
    for (plan, len, status) in [
        ("grpc-messages=5/grpc-status=unavailable@2", 2 * MSG, "14"),
        ("grpc-status=unavailable@2msg", 2 * MSG, "14"),
        (
            "grpc-messages=5/grpc-status=internal@2msg+3",
            2 * MSG + 3,
            "13",
        ),
        ("grpc-messages=5/grpc-status=aborted@5", 5 * MSG, "10"),
        // Never reached: every message, status 0.
        ("grpc-messages=5/grpc-status=unavailable@6", 5 * MSG, "0"),
    ] {
        let ev = wire(&s, &format!("text=abc/{plan}"), IO);
        let (data, then) = payload_then(&ev);
        assert_eq!(data, ten[..len], "{plan}: {ev:?}");
        assert!(
            matches!(then, Some(Event::Headers(_, true))),
            "{plan}: {ev:?}"
        );
        assert_eq!(field(then, "grpc-status"), Some(status), "{plan}: {ev:?}");
    }
    // `@0`: a trailers-only answer (one HEADERS with END_STREAM).
    let ev = wire(&s, "grpc-messages=5/grpc-status=unavailable@0", IO);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(
        matches!(&ev[0], Event::Headers(f, true) if f.contains(&("grpc-status".into(), "14".into())))
    );
}

#[test]
fn grpc_pushback_is_a_trailer() {
    let s = Server::start(&[]);
    for (plan, want) in [
        ("grpc-status=unavailable/grpc-pushback=1500", "1500"),
        (
            "grpc-messages=2/grpc-status=unavailable@1/grpc-pushback=-1",
            "-1",
        ),
    ] {
        let ev = wire(&s, plan, IO);
        let last = ev.last();
        assert!(
            matches!(last, Some(Event::Headers(_, true))),
            "{plan}: {ev:?}"
        );
        assert_eq!(field(last, "grpc-retry-pushback-ms"), Some(want), "{ev:?}");
        assert_eq!(field(last, "grpc-status"), Some("14"), "{ev:?}");
    }
}

#[test]
fn grpc_read_answers_on_the_last_byte_of_the_nth_message() {
    let s = Server::start(&[]);
    let mut t = raw(&s);
    grpc_request(&mut t, "/grpc-read=3/grpc-status=unavailable", None);
    let three = [message(b"one"), message(b"two"), message(b"three")].concat();
    let (most, last) = three.split_at(three.len() - 1);
    // Two and a half messages, split across frames inside a prefix: no answer.
    for piece in [&most[..6], &most[6..]] {
        t.write_all(&frame(Kind::Data, 0, 1, piece)).unwrap();
    }
    let answer = |f: &[(httpfault::fuzzing::h2::frame::Head, Vec<u8>)]| {
        f.iter().any(|(h, _)| {
            h.stream == 1 && matches!(h.kind, Kind::Headers | Kind::Data | Kind::Reset)
        })
    };
    let (f, _) = read_frames_until(&mut t, ms(600), answer);
    assert!(
        !answer(&f),
        "answered before the 3rd message was whole: {f:?}"
    );
    // Its last byte: the answer, while the request stays open (no END_STREAM from the client).
    t.write_all(&frame(Kind::Data, 0, 1, last)).unwrap();
    let ev = events(&mut t, IO);
    assert!(
        matches!(ev.as_slice(), [Event::Headers(f, true)] if f.contains(&("grpc-status".into(), "14".into()))),
        "{ev:?}\n{}",
        s.describe()
    );
    // The journal: the request as far as it came when the answer ended.
    let line = s
        .wait_log(IO, |l| l.contains("target=/grpc-read=3"))
        .expect("journaled");
    assert!(line.contains("end=complete"), "{line}");
}

/// Stream 1's frames, each with the number of the read that completed it, until the stream
/// ended or `time` passed.
fn frames_by_read(t: &mut TcpStream, time: Duration) -> Vec<(usize, Kind, u8, usize)> {
    let deadline = Instant::now() + time;
    let (mut buf, mut reads, mut at) = (Vec::new(), 0, 0);
    let mut out = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        while let Some(h) = httpfault::fuzzing::h2::frame::Head::parse(&buf[at..]) {
            let end = at + 9 + h.len as usize;
            if end > buf.len() {
                break;
            }
            out.push((reads, h.kind, h.flags, h.len as usize));
            at = end;
        }
        let ended = out.iter().any(|&(_, k, f, _)| {
            matches!(k, Kind::Reset | Kind::GoAway)
                || (matches!(k, Kind::Headers | Kind::Data) && f & flag::END_STREAM != 0)
        });
        if ended || Instant::now() >= deadline {
            return out;
        }
        match t.read(&mut chunk) {
            Ok(0) => return out,
            Ok(n) => {
                reads += 1;
                buf.extend_from_slice(&chunk[..n]);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return out,
        }
    }
}

/// `grpc-messages=N,INTERVAL`: a pause after each message but the last, on the stream's
/// timeline: the journal's time is at least the N-1 intervals, and what follows the last
/// message (the trailers), or the message of a cut, comes in the same read, with no interval
/// before it.
#[test]
fn an_interval_separates_the_messages_but_not_what_ends_the_stream() {
    let s = Server::start(&[]);
    for (plan, messages, last, least) in [
        ("grpc-messages=4,400ms/text=abc", 4, Kind::Headers, 1200),
        (
            "grpc-messages=5,600ms/text=abc/rst=cancel@3msg",
            3,
            Kind::Reset,
            1200,
        ),
        (
            "grpc-messages=5,500ms/text=abc/grpc-status=unavailable@2",
            2,
            Kind::Headers,
            500,
        ),
        (
            "grpc-messages=3,1s/text=abc/pause=2msg,500ms/stall@2msg",
            2,
            Kind::Data,
            1500,
        ),
    ] {
        let mut t = raw(&s);
        grpc_request(&mut t, &format!("/{plan}"), Some(&message(b"hi")));
        let frames = frames_by_read(&mut t, IO);
        let data: Vec<_> = frames.iter().filter(|f| f.1 == Kind::Data).collect();
        assert_eq!(data.len(), messages, "{plan}: {frames:?}");
        assert!(
            data.iter().all(|f| f.3 == MSG),
            "a message a frame: {frames:?}"
        );
        let end = frames.iter().rfind(|f| f.1 == last && f.1 != Kind::Data);
        match end {
            // The trailers or the RST_STREAM: in the read of the last message.
            Some(e) => assert_eq!(e.0, data[messages - 1].0, "{plan}: {frames:?}"),
            // `stall`: nothing after the 2nd message.
            None => assert_eq!(
                frames.last().map(|f| f.1),
                Some(Kind::Data),
                "{plan}: {frames:?}"
            ),
        }
        let target = format!("target=/{plan}");
        let line = s.wait_log(IO, |l| l.contains(&target)).expect("journaled");
        let took: u64 = line
            .split(" ms=")
            .nth(1)
            .and_then(|v| v.split(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{line}"));
        assert!(took >= least, "{plan}: {took} ms: {line}");
    }
}

// --- Real clients ----------------------------------------------------------------------------

const PY: &str = "target/venv/bin/python";
const GRPC_JS: &str = "target/node/node_modules/@grpc/grpc-js";

/// Whether `path` exists; a missing client fails under CI and skips (loudly) elsewhere.
fn have(path: &str, what: &str) -> bool {
    let found = Path::new(path).exists();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{path} is missing ({what}); CI must have it"
        );
        eprintln!("SKIPPED: {path} is missing ({what}); run `make deps`");
    }
    found
}

/// The two clients.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Client {
    Grpcio,
    GrpcJs,
}

impl Client {
    /// The clients that are installed.
    fn all() -> Vec<Client> {
        let mut v = Vec::new();
        if have(PY, "Python grpcio in target/venv") {
            v.push(Client::Grpcio);
        }
        if have(GRPC_JS, "@grpc/grpc-js in target/node") {
            v.push(Client::GrpcJs);
        }
        v
    }

    /// Runs `calls` (JSON objects, see tests/grpc/client.py) in one process; one result each.
    fn run(self, s: &Server, calls: &[String]) -> Vec<Json> {
        let (cmd, script) = match self {
            Client::Grpcio => (PY, "tests/grpc/client.py"),
            Client::GrpcJs => ("node", "tests/grpc/client.js"),
        };
        let mut child = Command::new(cmd)
            .arg(script)
            .arg(s.addr.to_string())
            .args(calls)
            .env("NODE_PATH", "target/node/node_modules")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd}: {e}"));
        // Drained while it runs: its output (hex messages) can pass a pipe's buffer.
        let drain = |r: Option<Box<dyn Read + Send>>| {
            let mut r = r.expect("piped");
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = r.read_to_string(&mut text);
                text
            })
        };
        let out = drain(child.stdout.take().map(|o| Box::new(o) as _));
        let err = drain(child.stderr.take().map(|e| Box::new(e) as _));
        let limit = Duration::from_secs(30 + 15 * calls.len() as u64);
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{self:?} {calls:?} did not finish within {limit:?}");
            }
            std::thread::sleep(ms(10));
        };
        let (out, err) = (out.join().unwrap(), err.join().unwrap());
        assert!(
            status.success(),
            "{self:?}: {status:?}\n{out}\n{err}\n{}",
            s.describe()
        );
        let results: Vec<Json> = out
            .lines()
            .map(|l| parse_json(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect();
        assert_eq!(results.len(), calls.len(), "{out}\n{err}");
        results
    }
}

/// Runs `check` for each installed client, the clients side by side.
fn each_client(check: impl Fn(Client) + Sync) {
    let clients = Client::all();
    std::thread::scope(|scope| {
        for client in clients {
            let check = &check;
            std::thread::Builder::new()
                .name(format!("{client:?}"))
                .spawn_scoped(scope, move || check(client))
                .expect("spawn");
        }
    });
}

/// A call of `kind` to `/PLAN` (the method is the plan), with `extra` JSON fields.
fn call(kind: &str, plan: &str, extra: &str) -> String {
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(",{extra}")
    };
    format!(r#"{{"kind":"{kind}","method":"/{plan}"{extra}}}"#)
}

fn code(r: &Json) -> &str {
    r.str("code").expect("code")
}

fn messages(r: &Json) -> Vec<&str> {
    match r.get("messages") {
        Some(Json::Arr(v)) => v
            .iter()
            .map(|m| match m {
                Json::Str(s) => s.as_str(),
                _ => panic!("{m:?}"),
            })
            .collect(),
        other => panic!("messages: {other:?}"),
    }
}

fn times(r: &Json) -> Vec<f64> {
    match r.get("times") {
        Some(Json::Arr(v)) => v
            .iter()
            .map(|t| match t {
                Json::Num(n) => *n,
                _ => panic!("{t:?}"),
            })
            .collect(),
        other => panic!("times: {other:?}"),
    }
}

/// The hand-written HelloRequest the scripts send, echoed back as one message.
const ECHO: &str = "0a05776f726c64";

/// The journal's entries for `target`, oldest first (`GET /__httpfault/requests`).
fn journal(s: &Server, target: &str) -> Vec<Json> {
    let mut c = common::Client::connect(s.addr);
    c.get("/__httpfault/requests");
    let r = c.read_response();
    assert_eq!(r.status, 200, "{r:?}");
    let j = parse_json(&r.body_str()).unwrap_or_else(|e| panic!("{e}: {r:?}"));
    match j.get("requests") {
        Some(Json::Arr(a)) => a
            .iter()
            .filter(|e| e.str("target") == Some(target))
            .cloned()
            .collect(),
        _ => panic!("no requests: {r:?}"),
    }
}

/// Server streaming cut after 3 of 6 messages: what each client reports. grpcio drops the
/// messages that arrived with a RST_STREAM or GOAWAY but were not read yet, so each cut comes
/// after a pause at the same offset (`pause=3msg,1s`: the pause comes first); the bare cut is
/// measured too.
#[test]
fn server_streams_cut_after_three_messages_as_each_client_reports() {
    let s = Server::start(&[]);
    let paused = |cut: &str| format!("grpc-messages=6/pause=3msg,1s/{cut}");
    // (cut, grpcio's status, grpc-js's status); every client sees exactly 3 messages.
    let table = [
        ("rst=cancel@3msg", "CANCELLED", "CANCELLED"),
        ("rst=internal_error@3msg", "INTERNAL", "INTERNAL"),
        ("rst=refused_stream@3msg", "UNAVAILABLE", "UNAVAILABLE"),
        ("reset=3msg", "INTERNAL", "INTERNAL"),
        ("goaway=no_error@3msg", "UNAVAILABLE", "UNAVAILABLE"),
        ("goaway=internal_error@3msg", "UNAVAILABLE", "INTERNAL"),
        // END_STREAM on DATA without trailers.
        ("close=3msg", "UNKNOWN", "INTERNAL"),
        // Inside the 4th message: the client never sees it.
        ("rst=cancel@3msg+3", "CANCELLED", "CANCELLED"),
    ];
    let mut calls: Vec<String> = table
        .iter()
        .map(|(cut, _, _)| call("server", &paused(cut), ""))
        .collect();
    calls.push(call(
        "server",
        "grpc-messages=6/stall@3msg",
        r#""deadline":2"#,
    ));
    calls.push(call(
        "server",
        "grpc-messages=6/hang=3msg",
        r#""deadline":2"#,
    ));
    calls.push(call("server", "grpc-messages=6/rst=cancel@3msg", ""));
    // Messages larger than a DATA frame and the client's initial window: counted all the same.
    calls.push(call(
        "server",
        "grpc-messages=4/body=100k/pause=2msg,1s/rst=cancel@2msg",
        "",
    ));
    each_client(|client| {
        let results = client.run(&s, &calls);
        for (i, (cut, py, js)) in table.iter().enumerate() {
            let want = if client == Client::Grpcio { py } else { js };
            let r = &results[i];
            assert_eq!(
                (code(r), messages(r).len()),
                (*want, 3),
                "{client:?} {cut}: {r:?}"
            );
            assert!(messages(r).iter().all(|m| *m == ECHO), "{r:?}");
        }
        for r in &results[table.len()..table.len() + 2] {
            assert_eq!(
                (code(r), messages(r).len()),
                ("DEADLINE_EXCEEDED", 3),
                "{client:?}: {r:?}"
            );
        }
        let large = results.last().unwrap();
        let sizes: Vec<usize> = messages(large).iter().map(|m| m.len() / 2).collect();
        assert_eq!(
            (code(large), sizes),
            ("CANCELLED", vec![102400, 102400]),
            "{client:?}"
        );
        // The bare cut: grpc-js delivers the three; grpcio reports the reset and drops what
        // it had not handed to the application yet.
        let bare = &results[results.len() - 2];
        assert_eq!(code(bare), "CANCELLED", "{client:?}: {bare:?}");
        match client {
            Client::GrpcJs => assert_eq!(messages(bare).len(), 3, "{bare:?}"),
            Client::Grpcio => assert!(messages(bare).len() <= 3, "{bare:?}"),
        }
    });
}

/// `grpc-status=unavailable@2`: a stream that fails midway, after exactly two messages, with
/// its status and message; `@2msg+3` sends 3 bytes of the 3rd first, which both clients drop.
#[test]
fn grpc_status_unavailable_after_two_messages_midway() {
    let s = Server::start(&[]);
    let calls = [
        call(
            "server",
            "grpc-messages=5/grpc-status=unavailable@2/grpc-message=going%20away",
            "",
        ),
        call(
            "server",
            "grpc-messages=5/grpc-status=unavailable@2msg+3",
            "",
        ),
        call("server", "grpc-messages=5/grpc-status=unavailable@9", ""),
        call("server", "grpc-status=unavailable@3", ""),
    ];
    each_client(|client| {
        let r = client.run(&s, &calls);
        assert_eq!(
            (code(&r[0]), messages(&r[0]).len(), r[0].str("details")),
            ("UNAVAILABLE", 2, Some("going away")),
            "{client:?}: {:?}",
            r[0]
        );
        assert_eq!(
            (code(&r[1]), messages(&r[1]).len()),
            ("UNAVAILABLE", 2),
            "{client:?}: {:?}",
            r[1]
        );
        // Never reached: five messages, OK.
        assert_eq!(
            (code(&r[2]), messages(&r[2]).len()),
            ("OK", 5),
            "{client:?}: {:?}",
            r[2]
        );
        // `@3` alone: three echoed messages, then the status.
        assert_eq!(
            (code(&r[3]), messages(&r[3]).len()),
            ("UNAVAILABLE", 3),
            "{client:?}: {:?}",
            r[3]
        );
        assert!(messages(&r[3]).iter().all(|m| *m == ECHO), "{:?}", r[3]);
    });
}

/// grpcio's and grpc-js's retry policies (service config) honour `grpc-retry-pushback-ms`:
/// the journal's gaps between attempts are the pushback, not the policy's 10-50 ms backoff;
/// `-1` stops the retries; without the trailer the same policy retries at once.
#[test]
fn retry_policies_honour_grpc_retry_pushback_ms() {
    const PUSHBACK: f64 = 1.2;
    let prefixes = ["py", "js"];
    let mut args = Vec::new();
    for p in prefixes {
        for (m, plan) in [
            ("Push", "grpc-status=unavailable/grpc-pushback=1200*2 ok"),
            ("Stop", "grpc-status=unavailable/grpc-pushback=-1*2 ok"),
            ("Plain", "grpc-status=unavailable*2 ok"),
        ] {
            args.push("--route".to_string());
            args.push(format!("POST /{p}.S/{m} {plan}"));
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let s = Server::start(&args);
    let retry = r#""retry":{"maxAttempts":4,"initialBackoff":"0.01s","maxBackoff":"0.05s","backoffMultiplier":1,"retryableStatusCodes":["UNAVAILABLE"]}"#;
    each_client(|client| {
        let p = match client {
            Client::Grpcio => "py",
            Client::GrpcJs => "js",
        };
        let method = |m: &str| format!("{p}.S/{m}");
        let calls = ["Push", "Stop", "Plain"].map(|m| call("unary", &method(m), retry));
        let r = client.run(&s, &calls);
        assert_eq!(
            (code(&r[0]), messages(&r[0])),
            ("OK", vec![ECHO]),
            "{client:?}: {:?}",
            r[0]
        );
        assert_eq!(code(&r[1]), "UNAVAILABLE", "{client:?}: {:?}", r[1]);
        assert_eq!(code(&r[2]), "OK", "{client:?}: {:?}", r[2]);
        let at = |m: &str| -> Vec<f64> {
            journal(&s, &format!("/{}", method(m)))
                .iter()
                .map(|e| e.num("t").expect("t"))
                .collect()
        };
        let push = at("Push");
        assert_eq!(push.len(), 3, "{client:?}: {push:?}");
        for w in push.windows(2) {
            assert!(w[1] - w[0] >= PUSHBACK, "{client:?}: attempts at {push:?}");
        }
        assert_eq!(at("Stop").len(), 1, "{client:?}: -1 means no retry");
        let plain = at("Plain");
        assert_eq!(plain.len(), 3, "{client:?}: {plain:?}");
        // The same policy without the trailer retries far sooner than the pushback (its
        // backoff is at most 50 ms): the gaps above are the trailer's.
        assert!(
            plain[2] - plain[0] < PUSHBACK,
            "{client:?}: attempts at {plain:?}"
        );
    });
}

/// `grpc-messages=4,300ms`: both clients read four messages, the last at least three
/// intervals after the call began.
#[test]
fn clients_read_an_interval_stream_message_by_message() {
    let s = Server::start(&[]);
    let calls = [
        call("server", "grpc-messages=4,300ms", ""),
        call("server", "grpc-messages=6,300ms/rst=cancel@3msg", ""),
    ];
    each_client(|client| {
        let r = client.run(&s, &calls);
        assert_eq!(messages(&r[0]), vec![ECHO; 4], "{client:?}: {:?}", r[0]);
        assert_eq!(code(&r[0]), "OK", "{client:?}: {:?}", r[0]);
        let last = times(&r[0])[3];
        assert!(last >= 0.9, "{client:?}: {:?}", r[0]);
        // The cut comes right after the 3rd message: grpc-js reads the three.
        assert_eq!(code(&r[1]), "CANCELLED", "{client:?}: {:?}", r[1]);
        if client == Client::GrpcJs {
            assert_eq!(messages(&r[1]).len(), 3, "{:?}", r[1]);
        }
    });
}

/// `grpc-read=3`: client streaming and bidi calls are answered right after the client's 3rd
/// message (the client waits 0.5 s after each earlier one for an answer that must not come,
/// then up to its deadline after the 3rd before it sends more), and the request goes on.
#[test]
fn grpc_read_answers_client_and_bidi_streams_after_the_nth_message() {
    let s = Server::start(&[]);
    let expect = r#""send":6,"expect":3"#;
    let calls = [
        call("client", "grpc-read=3/grpc-status=unavailable", expect),
        call("client", "grpc-read=3", expect),
        call("bidi", "grpc-read=3/rst=cancel", expect),
        // The answer streams while the client sends its last three messages and ends.
        call("bidi", "grpc-read=3/grpc-messages=2/pause=1msg,2s", expect),
        // A request that ends first is answered at its end.
        call("client", "grpc-read=9/grpc-status=aborted", r#""send":2"#),
        // 300 KiB of messages, more than a stream keeps of a request: the answer echoes only
        // the first, so the rest is read and dropped.
        call("client", "grpc-read=300", r#""send":300,"size":1024"#),
        call("client", "grpc-messages=1", r#""send":300,"size":1024"#),
    ];
    each_client(|client| {
        let r = client.run(&s, &calls);
        let after = |r: &Json| r.num("answered_after");
        assert_eq!(
            (code(&r[0]), after(&r[0])),
            ("UNAVAILABLE", Some(3.0)),
            "{client:?}: {:?}",
            r[0]
        );
        // `ok`: the first message echoed.
        assert_eq!(
            (code(&r[1]), messages(&r[1]), after(&r[1])),
            ("OK", vec!["6d31"], Some(3.0)),
            "{client:?}: {:?}",
            r[1]
        );
        assert_eq!(
            (code(&r[2]), after(&r[2])),
            ("CANCELLED", Some(3.0)),
            "{client:?}: {:?}",
            r[2]
        );
        assert_eq!(
            (code(&r[3]), messages(&r[3]), after(&r[3])),
            ("OK", vec!["6d31", "6d31"], Some(3.0)),
            "{client:?}: {:?}",
            r[3]
        );
        assert_eq!(code(&r[4]), "ABORTED", "{client:?}: {:?}", r[4]);
        let m1 = format!("6d31{}", "2e".repeat(1022));
        for r in &r[5..] {
            assert_eq!(
                (code(r), messages(r)),
                ("OK", vec![m1.as_str()]),
                "{client:?}: {r:?}"
            );
        }
    });
    // The bidi stream's request went on after the answer began: all six messages (7 bytes
    // each with their prefix) arrived.
    let bidi = journal(&s, "/grpc-read=3/grpc-messages=2/pause=1msg,2s");
    assert!(!bidi.is_empty());
    for e in bidi {
        assert_eq!(e.num("body_len"), Some(42.0), "{e:?}");
    }
}
