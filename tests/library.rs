//! httpfault as a library, in-process: the contract's example ("httpfault as a Rust library" in
//! shared/interface.md) and the done-when of issue 9, with real sockets on 127.0.0.1:0.
//!
//! Every blocking step has a deadline. The tests that count the process's threads and
//! descriptors, or that watch what the library prints, run in a child process (this same test
//! binary, re-run with one test selected), because the other tests of this binary run beside
//! them in threads of their own.

use httpfault::{End, Error, LogFormat, Request, Server};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// Deadline for a connect, or for a response that should arrive at once.
const IO: Duration = Duration::from_secs(10);

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO).expect("connect");
    s.set_read_timeout(Some(IO)).unwrap();
    s.set_write_timeout(Some(IO)).unwrap();
    s
}

/// Reads until EOF or an error: the bytes, and the error's kind if the connection failed.
fn read_all(s: &mut TcpStream) -> (Vec<u8>, Option<io::ErrorKind>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, None),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (got, Some(e.kind())),
        }
    }
}

/// One request on a new connection that the client asks to close after the response.
fn exchange(addr: SocketAddr, method: &str, path: &str) -> (Vec<u8>, Option<io::ErrorKind>) {
    let mut s = connect(addr);
    let body = if method == "POST" || method == "PUT" {
        "hi"
    } else {
        ""
    };
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write request");
    read_all(&mut s)
}

/// The status code of a complete response, 0 for anything else.
fn status_of(got: &[u8]) -> u16 {
    let line = got.split(|&b| b == b'\r').next().unwrap_or_default();
    let text = String::from_utf8_lossy(line);
    match text.strip_prefix("HTTP/1.1 ") {
        Some(rest) => rest.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0),
        None => 0,
    }
}

/// Splits a response into head (with its blank line) and body.
fn split(got: &[u8]) -> (&[u8], &[u8]) {
    let at = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head")
        + 4;
    got.split_at(at)
}

/// Polls the journal until `ok` holds (for states `wait_for` does not wait for, such as a
/// request that has arrived but not ended), up to a deadline.
fn poll_journal(server: &Server, ok: impl Fn(&[Request]) -> bool) -> Vec<Request> {
    let deadline = Instant::now() + IO;
    loop {
        let seen = server.requests();
        if ok(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "journal never got there: {seen:#?}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn two_servers_at_once_the_classic_reset_and_the_journal() {
    let classic = Server::start("reset=6").expect("start");
    let other = Server::builder()
        .plan("status=503/text=busy")
        .start()
        .expect("start");
    assert_ne!(classic.addr(), other.addr());
    assert_eq!(classic.url(), format!("http://{}", classic.addr()));
    assert!(classic.url().starts_with("http://127.0.0.1:"));

    let (got, err) = exchange(classic.addr(), "GET", "/");
    assert_eq!(err, Some(io::ErrorKind::ConnectionReset), "{got:?}");
    let (head, body) = split(&got);
    assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"), "{head:?}");
    assert!(
        String::from_utf8_lossy(head).contains("Content-Length: 13\r\n"),
        "{head:?}"
    );
    assert_eq!(body, b"Hello,", "exactly six body bytes before the RST");

    let (got, err) = exchange(other.addr(), "GET", "/x");
    assert_eq!(err, None);
    assert_eq!(status_of(&got), 503);
    assert_eq!(split(&got).1, b"busy");

    let seen = classic.wait_for(1, IO);
    assert_eq!(seen.len(), 1, "{seen:#?}");
    let r = &seen[0];
    assert_eq!((r.method.as_str(), r.target.as_str()), ("GET", "/"));
    assert_eq!(r.end, Some(End::Reset));
    assert_eq!(r.status, 200);
    assert_eq!(r.status_sent(), Some(200));
    assert_eq!(r.route, None);
    assert_eq!(r.step, None);
    assert_eq!(r.plan, "reset=6");
    assert_eq!(r.seq, 1);
    assert_eq!(r.header("host"), Some("x"));
    assert!(r.duration.is_some());
    assert_eq!(r.peer.ip(), classic.addr().ip());

    // Each server has a journal of its own.
    let theirs = other.wait_for(1, IO);
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].target, "/x");
    assert_eq!(theirs[0].end, Some(End::Complete));

    classic.reset();
    assert!(classic.requests().is_empty());
    assert_eq!(other.requests().len(), 1, "reset touches one server only");

    // The server goes on after a reset, and seq goes on counting.
    let (_, err) = exchange(classic.addr(), "GET", "/again");
    assert_eq!(err, Some(io::ErrorKind::ConnectionReset));
    let seen = classic.wait_for(1, IO);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].target, "/again");
    assert_eq!(seen[0].seq, 2);
}

#[test]
fn bad_plans_and_routes_are_errors_naming_what_is_wrong() {
    for (plan, names) in [
        ("rset", "rset"),
        ("status=abc", "status"),
        ("reset/close", "reset"),
    ] {
        let e = Server::start(plan).expect_err(plan);
        assert!(matches!(e, Error::Plan(_)), "{plan}: {e:?}");
        assert!(e.is_usage(), "{plan}");
        let msg = e.to_string();
        assert!(msg.contains(names), "{plan}: {msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
    }
    for route in ["GET /x bogus=1", "GET nopath ok", "/x status=abc", "GET /x"] {
        let e = Server::builder().route(route).start().expect_err(route);
        assert!(matches!(e, Error::Route(_)), "{route}: {e:?}");
        assert!(e.is_usage(), "{route}");
        assert!(!e.to_string().is_empty());
    }
    let e = Server::builder()
        .routes("GET /ok ok\nPOST /x rset\n")
        .start()
        .expect_err("routes text");
    assert!(matches!(e, Error::Route(_)), "{e:?}");
    assert!(e.to_string().contains("rset"), "{e}");
    let e = Server::builder().listen("nowhere").start().unwrap_err();
    assert!(matches!(e, Error::Address(_)) && e.is_usage(), "{e:?}");
}

#[test]
fn a_port_in_use_is_an_error_but_not_a_usage_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let e = Server::builder()
        .listen(&addr.to_string())
        .start()
        .expect_err("the port is taken");
    assert!(matches!(e, Error::Bind(..)), "{e:?}");
    assert!(!e.is_usage(), "{e:?}");
    assert!(e.to_string().contains(&addr.port().to_string()), "{e}");
    // Also when the port is held by another server of the same process.
    let first = Server::start("reset=6").unwrap();
    let e = Server::builder()
        .listen(&first.addr().to_string())
        .start()
        .unwrap_err();
    assert!(!e.is_usage(), "{e:?}");
}

#[test]
fn a_dropped_server_refuses_connects_and_ends_the_hang_it_held() {
    let server = Server::start("hang").unwrap();
    let addr = server.addr();
    let mut held = connect(addr);
    held.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // A hang's response is over as it begins (nothing more will be sent), so its entry ends
    // at once, while the connection stays open.
    let seen = poll_journal(&server, |s| s.len() == 1 && s[0].end.is_some());
    assert_eq!(seen[0].end, Some(End::Hang));

    let dropped = Instant::now();
    drop(server);
    let took = dropped.elapsed();
    assert!(took < Duration::from_secs(3), "drop took {took:?}");

    // The hang ends: EOF or a reset, at once, not a read timeout.
    held.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let (got, err) = read_all(&mut held);
    assert!(got.is_empty(), "{got:?}");
    assert!(
        matches!(err, None | Some(io::ErrorKind::ConnectionReset)),
        "the held connection did not end: {err:?}"
    );
    assert!(dropped.elapsed() < Duration::from_secs(4));

    let e = TcpStream::connect_timeout(&addr, IO).expect_err("the port still accepts");
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn drop_is_quick_with_twenty_hangs_and_a_long_delay() {
    let server = Server::start("hang").unwrap();
    let addr = server.addr();
    let mut clients = Vec::new();
    for i in 0..20 {
        let mut s = connect(addr);
        s.write_all(format!("GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        clients.push(s);
    }
    let mut slow = connect(addr);
    slow.write_all(b"GET /delay=60s HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    clients.push(slow);
    let seen = poll_journal(&server, |s| s.len() == 21);
    let hanging = seen.iter().filter(|r| r.end == Some(End::Hang)).count();
    let waiting = seen.iter().filter(|r| r.end.is_none()).count();
    assert!(hanging + waiting == 21 && waiting >= 1, "{seen:#?}");

    let dropped = Instant::now();
    drop(server);
    let took = dropped.elapsed();
    assert!(took < Duration::from_millis(2500), "drop took {took:?}");
    for mut c in clients {
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let (got, err) = read_all(&mut c);
        assert!(got.is_empty(), "{got:?}");
        assert!(
            matches!(err, None | Some(io::ErrorKind::ConnectionReset)),
            "{err:?}"
        );
    }
}

#[test]
fn wait_for_returns_as_soon_as_the_requests_are_complete() {
    let server = Server::start("delay=300ms").unwrap();
    let addr = server.addr();
    let started = Instant::now();
    let client = thread::spawn(move || exchange(addr, "GET", "/"));
    let seen = server.wait_for(1, Duration::from_secs(30));
    let waited = started.elapsed();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].end,
        Some(End::Complete),
        "complete, not just arrived"
    );
    assert!(waited >= Duration::from_millis(290), "{waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    let (got, err) = client.join().unwrap();
    assert_eq!((status_of(&got), err), (200, None));

    // Fewer than asked: returns what there is when the time runs out.
    let started = Instant::now();
    let seen = server.wait_for(3, Duration::from_millis(200));
    assert_eq!(seen.len(), 1);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[test]
fn a_request_still_in_delay_is_in_the_journal_without_an_end() {
    let server = Server::builder().plan("").start().unwrap();
    let mut s = connect(server.addr());
    s.write_all(b"GET /delay=60s HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k1\r\n\r\n")
        .unwrap();
    let seen = poll_journal(&server, |s| !s.is_empty());
    let r = &seen[0];
    assert_eq!(r.target, "/delay=60s");
    assert_eq!(r.plan, "delay=1m", "the plan in canonical syntax");
    assert_eq!(r.end, None);
    assert_eq!(r.duration, None);
    assert_eq!(r.status_sent(), None);
    assert_eq!(r.header("Idempotency-Key"), Some("k1"));
    // Not complete, so wait_for does not count it.
    assert!(server
        .wait_for(1, Duration::from_millis(50))
        .iter()
        .all(|r| r.end.is_none()));
    // The client leaves: the delay notices at once and the entry ends as peer-gone. (A FIN
    // within 50 ms of the request would be taken for a half-close, which still gets its
    // response: leave well after that.)
    std::thread::sleep(Duration::from_millis(200));
    drop(s);
    let seen = server.wait_for(1, IO);
    assert_eq!(seen[0].end, Some(End::PeerGone), "{seen:#?}");
}

#[test]
fn routes_through_the_library() {
    let server = Server::builder()
        .route("POST /v1/upload reset*2 status=201")
        .route("GET /v1/items ok")
        .start()
        .unwrap();
    let addr = server.addr();
    let (got, err) = exchange(addr, "GET", "/v1/items");
    assert_eq!((status_of(&got), err), (200, None));
    assert_eq!(split(&got).1, b"Hello, world!");
    for _ in 0..2 {
        let (got, err) = exchange(addr, "POST", "/v1/upload");
        assert!(got.is_empty(), "{got:?}");
        assert_eq!(err, Some(io::ErrorKind::ConnectionReset));
    }
    for _ in 0..2 {
        let (got, err) = exchange(addr, "POST", "/v1/upload");
        assert_eq!((status_of(&got), err), (201, None), "the last plan repeats");
    }
    // Another method, or a path no route names, with no default plan given: 404 and a
    // one-line body naming the closest routes (issue 17 item 4), never the classic reset
    // that would look like the fault under test.
    let (got, err) = exchange(addr, "GET", "/v1/upload");
    assert_eq!((status_of(&got), err), (404, None));
    assert_eq!(
        split(&got).1,
        b"no route matches GET /v1/upload; closest: 'POST /v1/upload reset*2 status=201', \
          'GET /v1/items ok'\n"
    );

    let seen = server.wait_for(6, IO);
    assert_eq!(seen.len(), 6);
    let upload = Some("POST /v1/upload reset*2 status=201".to_string());
    let summary: Vec<_> = seen
        .iter()
        .map(|r| (r.route.clone(), r.step, r.status_sent(), r.end))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                Some("GET /v1/items ok".into()),
                Some(1),
                Some(200),
                Some(End::Complete)
            ),
            (upload.clone(), Some(1), None, Some(End::Reset)),
            (upload.clone(), Some(2), None, Some(End::Reset)),
            (upload.clone(), Some(3), Some(201), Some(End::Complete)),
            (upload.clone(), Some(3), Some(201), Some(End::Complete)),
            (None, None, Some(404), Some(End::Complete)),
        ]
    );
    // The gaps between attempts come from one clock.
    assert!(seen.windows(2).all(|w| w[0].t <= w[1].t));

    // reset() restarts the route's counters: the sequence begins again.
    server.reset();
    let (got, err) = exchange(addr, "POST", "/v1/upload");
    assert!(got.is_empty());
    assert_eq!(err, Some(io::ErrorKind::ConnectionReset));
    assert_eq!(server.wait_for(1, IO)[0].step, Some(1));
}

#[test]
fn routes_and_the_plan_are_replaced_at_run_time() {
    let server = Server::builder()
        .route("GET /a status=404")
        .plan("status=500")
        .start()
        .unwrap();
    let addr = server.addr();
    assert_eq!(status_of(&exchange(addr, "GET", "/a").0), 404);

    server
        .set_routes("# comment\n\nGET /b close status=202\nGET /a status=410\n")
        .unwrap();
    assert_eq!(status_of(&exchange(addr, "GET", "/a").0), 410);
    assert_eq!(
        exchange(addr, "GET", "/b"),
        (Vec::new(), None),
        "empty reply"
    );
    assert_eq!(status_of(&exchange(addr, "GET", "/b").0), 202);

    // A bad routes text changes nothing, counters included.
    let e = server
        .set_routes("GET /a status=200\nGET /c rset\n")
        .unwrap_err();
    assert!(
        matches!(e, Error::Route(_)) && e.to_string().contains("rset"),
        "{e}"
    );
    assert_eq!(status_of(&exchange(addr, "GET", "/a").0), 410);
    assert_eq!(status_of(&exchange(addr, "GET", "/b").0), 202);

    // The same routes again: their counters restart.
    server
        .set_routes("GET /b close status=202\nGET /a status=410\n")
        .unwrap();
    assert_eq!(exchange(addr, "GET", "/b"), (Vec::new(), None));

    assert_eq!(status_of(&exchange(addr, "GET", "/other").0), 500);
    server.set_plan("status=418").unwrap();
    assert_eq!(status_of(&exchange(addr, "GET", "/other").0), 418);
    let e = server.set_plan("rset").unwrap_err();
    assert!(matches!(e, Error::Plan(_)), "{e:?}");
    assert_eq!(status_of(&exchange(addr, "GET", "/other").0), 418);

    // No routes at all: every path gets the default plan.
    server.set_routes("").unwrap();
    assert_eq!(status_of(&exchange(addr, "GET", "/a").0), 418);
}

/// The statuses of `n` requests to `/r`, with `noise` requests to another path between them.
fn chance_outcomes(server: &Server, n: usize, noise: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        for _ in 0..noise {
            exchange(server.addr(), "GET", "/noise");
        }
        out.push(status_of(&exchange(server.addr(), "GET", "/r").0));
    }
    out
}

#[test]
fn seed_and_chance_repeat_across_servers_whatever_other_traffic() {
    let start = |seed| {
        Server::builder()
            .seed(seed)
            .route("GET /r chance=0.5/status=500")
            .route("GET /noise chance=0.5/status=503")
            .start()
            .unwrap()
    };
    let (a, b, c) = (start(42), start(42), start(43));
    let first = chance_outcomes(&a, 40, 0);
    let second = chance_outcomes(&b, 40, 2);
    assert_eq!(first, second, "same seed, same outcomes");
    assert!(first.contains(&500) && first.contains(&200), "{first:?}");
    assert!(first.iter().all(|s| *s == 500 || *s == 200), "{first:?}");
    assert_ne!(chance_outcomes(&c, 40, 0), first, "another seed");
    // reset() starts the route's request count, hence its draws, over.
    a.reset();
    assert_eq!(chance_outcomes(&a, 40, 1), first);
}

// ---------------------------------------------------------------------------------------------
// Tests in a child process
// ---------------------------------------------------------------------------------------------

const CHILD: &str = "HTTPFAULT_LIBRARY_CHILD";

/// Runs `child_probe` of this test binary alone in a child process with `CHILD=mode`; returns
/// its stdout and stderr, after checking it passed.
fn run_child(mode: &str) -> (String, String) {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["child_probe", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, mode)
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "child {mode} failed: {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
    (stdout, stderr)
}

/// Entries of a directory of /proc/self (descriptors or threads).
fn count(dir: &str) -> usize {
    std::fs::read_dir(dir).map_or(0, Iterator::count)
}

/// Waits until the process's descriptors and threads are back within `slack` of a baseline.
fn assert_back_to(base: (usize, usize), slack: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = (count("/proc/self/fd"), count("/proc/self/task"));
        if now.0 <= base.0 + slack && now.1 <= base.1 + slack {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "leak: (fds, threads) {base:?} before, {now:?} after"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// What runs inside the child; a no-op in an ordinary test run.
#[test]
fn child_probe() {
    let Ok(mode) = std::env::var(CHILD) else {
        return;
    };
    match mode.as_str() {
        "leak" => {
            let base = (count("/proc/self/fd"), count("/proc/self/task"));
            for i in 0..50 {
                let server = Server::start("reset=6").unwrap();
                // Half of them serve a request first, so a connection thread was parked.
                if i % 2 == 0 {
                    let (got, err) = exchange(server.addr(), "GET", "/");
                    assert_eq!(err, Some(io::ErrorKind::ConnectionReset));
                    assert_eq!(split(&got).1, b"Hello,");
                }
                drop(server);
            }
            assert_back_to(base, 2);
        }
        "quiet" | "log" => {
            let mut b = Server::builder().route("GET /gone close");
            if mode == "log" {
                b = b.log(LogFormat::Text);
            }
            let server = b.start().unwrap();
            exchange(server.addr(), "GET", "/");
            exchange(server.addr(), "GET", "/gone");
            exchange(server.addr(), "GET", "/status=abc");
            exchange(server.addr(), "GET", "/__httpfault/requests");
            let mut junk = connect(server.addr());
            junk.write_all(b"\x01\x02 nonsense\r\n\r\n").unwrap();
            read_all(&mut junk);
            server.wait_for(3, IO);
            drop(server);
            let e = Server::start("rset").unwrap_err();
            assert!(e.is_usage());
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[test]
fn fifty_servers_started_and_dropped_leak_no_thread_or_descriptor() {
    run_child("leak");
}

#[test]
fn nothing_is_printed_unless_a_log_is_asked_for() {
    let (stdout, stderr) = run_child("quiet");
    assert_eq!(stderr, "", "the library printed on stderr");
    assert!(!stdout.contains("event="), "{stdout}");
    assert!(!stdout.contains("listening"), "{stdout}");

    let (stdout, stderr) = run_child("log");
    assert!(
        !stdout.contains("event="),
        "the log goes to stderr: {stdout}"
    );
    assert!(stderr.contains("event=request"), "{stderr}");
    assert!(stderr.contains("target=/gone"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Issue 17: one plan language, routes that add up, warnings, errors with sources
// ---------------------------------------------------------------------------------------------

/// Issue 17 item 3: `Server::start("ok")` is a plain `200 OK`, as `ok` is in routes.
#[test]
fn issue17_ok_is_a_plan_for_the_library() {
    let server = Server::start("ok").unwrap();
    let (got, err) = exchange(server.addr(), "GET", "/anything");
    assert_eq!((status_of(&got), err), (200, None));
    assert_eq!(split(&got).1, b"Hello, world!");
    server.set_plan("status=503").unwrap();
    server.set_plan("ok").unwrap();
    let (got, _) = exchange(server.addr(), "GET", "/");
    assert_eq!(status_of(&got), 200);
    assert!(httpfault::check_plan("ok").is_ok());
}

/// Issue 17 items 4 and 5: `.path_plans(false)` makes step-looking paths ordinary;
/// `.routes()` called twice adds up like `.route()`; shadowed routes are warnings.
#[test]
fn issue17_builder_routes_add_up_and_warn_and_path_plans_turn_off() {
    let server = Server::builder()
        .path_plans(false)
        .routes("GET /status text=up\n")
        .routes("\u{feff}GET /hang text=not-a-step # the API's own /hang\n")
        .route("GET /status status=500")
        .start()
        .unwrap();
    assert_eq!(
        server.routes(),
        [
            "GET /status text=up",
            "GET /hang text=not-a-step",
            "GET /status status=500"
        ]
    );
    let (got, _) = exchange(server.addr(), "GET", "/status");
    assert_eq!((status_of(&got), split(&got).1), (200, &b"up"[..]));
    let (got, _) = exchange(server.addr(), "GET", "/hang");
    assert_eq!(split(&got).1, b"not-a-step");
    // Not a path plan, not a route, no default plan: 404 with the closest routes.
    let (got, err) = exchange(server.addr(), "GET", "/reset=6");
    assert_eq!((status_of(&got), err), (404, None));
    assert_eq!(
        server.warnings(),
        [
            "route 1: route 'GET /status status=500' never matches: line 1 \
          'GET /status text=up' matches every request it would"
        ]
    );
    // Replacing the routes replaces the warnings.
    server.set_routes("GET /a ok\n").unwrap();
    assert!(server.warnings().is_empty());
}

/// Issue 17 item 8: a route error has a source: the line's error, then the problem, then
/// the plan error.
#[test]
fn issue17_route_errors_have_sources() {
    use std::error::Error as _;
    let err = Server::builder()
        .routes("GET /a ok\nGET /b status=abc\n")
        .start()
        .unwrap_err();
    assert!(matches!(err, Error::Route(_)), "{err:?}");
    let mut chain = Vec::new();
    let mut at: Option<&dyn std::error::Error> = Some(&err);
    while let Some(e) = at {
        chain.push(e.to_string());
        at = e.source();
    }
    assert_eq!(chain.len(), 5, "{chain:#?}");
    assert!(chain[1].starts_with("line 2: "), "{chain:#?}");
    assert!(chain[4].contains("'abc'"), "{chain:#?}");
    assert!(err
        .source()
        .unwrap()
        .downcast_ref::<httpfault::RouteError>()
        .is_some());
}

#[test]
fn dropping_the_last_handle_inside_on_done_stops_the_server_and_returns() {
    use std::sync::{mpsc, Arc, Mutex};
    // The hook runs on a server thread; the last handle dropping there stops the server,
    // which must not wait on (or join) the very thread it runs on.
    let slot: Arc<Mutex<Option<Server>>> = Arc::new(Mutex::new(None));
    let (tx, rx) = mpsc::channel();
    let in_hook = Arc::clone(&slot);
    let server = Server::builder()
        .plan("ok")
        .once()
        .on_done(move || {
            let last = in_hook.lock().unwrap().take();
            drop(last);
            tx.send(()).unwrap();
        })
        .start()
        .unwrap();
    let addr = server.addr();
    *slot.lock().unwrap() = Some(server); // the only handle left is in the slot

    let (got, _) = exchange(addr, "GET", "/");
    assert_eq!(status_of(&got), 200);
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the hook that dropped the last handle never finished");
    assert!(slot.lock().unwrap().is_none());
    let e = TcpStream::connect_timeout(&addr, IO).expect_err("the port still accepts");
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
}
