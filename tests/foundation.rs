//! Core behaviour of `httpfault` over real sockets: the classic default response, readiness,
//! byte-exact endings (reset / close / hang), keep-alive, the basic steps, `--once` and the
//! command line. See README.md ("Usage", "Options", "Output, log and exit status").

mod common;

use common::*;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// The classic broken response: a 200 head with `Content-Length: 13`, `Hello,`, then an RST.
#[track_caller]
fn assert_classic(bytes: &[u8], end: Ending) {
    let (head, body) = split_head(bytes).unwrap_or_else(|| panic!("no head in {}", show(bytes)));
    assert!(
        head.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "status line: {}",
        show(bytes)
    );
    assert!(
        find(head, b"\r\nContent-Length: 13\r\n").is_some(),
        "no Content-Length: 13 in {}",
        show(head)
    );
    assert!(
        find(head, b"\r\nServer: httpfault\r\n").is_some(),
        "no Server: httpfault in {}",
        show(head)
    );
    assert_eq!(
        find(head, b"\r\n\r\n"),
        Some(head.len() - 4),
        "{}",
        show(head)
    );
    assert_eq!(body, b"Hello,", "body: {}", show(bytes));
    assert!(bytes.ends_with(b"\r\n\r\nHello,"), "{}", show(bytes));
    assert_ending(end, Ending::Reset, bytes);
}

// ---------------------------------------------------------------------------------------------
// The default plan
// ---------------------------------------------------------------------------------------------

#[test]
fn default_plan_sends_hello_then_reset() {
    let s = Server::start(&[]);
    let (bytes, end) = exchange(s.addr, &get_request("/"), IO);
    assert_classic(&bytes, end);
    // Any non-plan path gets the default plan too.
    let (bytes, end) = exchange(s.addr, &get_request("/favicon.ico?x=1"), IO);
    assert_classic(&bytes, end);
}

#[test]
fn default_plan_is_exact_for_200_concurrent_clients() {
    const N: usize = 200;
    let s = Server::start(&["-q"]);
    let addr = s.addr;
    let barrier = Arc::new(Barrier::new(N));
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let barrier = barrier.clone();
            thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || -> Result<(), String> {
                    // SYNs beyond the listen backlog are retried by the kernel after 1 s, 3 s.
                    let stream = try_connect(addr, Duration::from_secs(20))
                        .map_err(|e| format!("client {i}: connect: {e} ({:?})", e.kind()))?;
                    let mut c = Client::from_stream(stream);
                    barrier.wait();
                    c.get("/");
                    let (bytes, end) = c.read_to_end(Duration::from_secs(30));
                    let ok = bytes.starts_with(b"HTTP/1.1 200 OK\r\n")
                        && bytes.ends_with(b"\r\n\r\nHello,")
                        && find(&bytes, b"\r\nContent-Length: 13\r\n").is_some()
                        && end == Ending::Reset;
                    if ok {
                        Ok(())
                    } else {
                        Err(format!("client {i}: {end:?} after {}", show(&bytes)))
                    }
                })
                .expect("spawn client thread")
        })
        .collect();
    let failures: Vec<String> = handles
        .into_iter()
        .filter_map(|h| match h.join() {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some("client thread panicked".into()),
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {N} clients failed, e.g.:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Readiness and --listen forms
// ---------------------------------------------------------------------------------------------

#[test]
fn readiness_line_is_exact_and_nothing_else_goes_to_stdout() {
    let mut s = Server::start(&["status=200"]);
    let line = s.ready_line.clone();
    let port = line
        .strip_prefix("listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("readiness line {line:?}"));
    assert!(
        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !port.starts_with('0'),
        "readiness line {line:?}"
    );
    assert_eq!(port.parse::<u16>().unwrap(), s.port());
    assert_ne!(s.port(), 0);
    let (r, c) = get(s.addr, "/");
    assert_eq!(r.status, 200);
    drop(c);
    let (r, c) = get(s.addr, "/status=bad");
    assert_eq!(r.status, 400);
    drop(c);
    s.stop();
    assert!(
        s.stdout_rest().is_empty(),
        "stdout after readiness: {:?}",
        s.stdout_rest()
    );
}

#[test]
fn port_file_holds_the_bound_port() {
    let path = temp_path("port");
    let s = Server::start(&["--port-file", path.to_str().unwrap(), "status=200"]);
    // The file is written after listening; it may lag the readiness line a little.
    let deadline = Instant::now() + IO;
    let content = loop {
        if let Ok(c) = std::fs::read_to_string(&path) {
            if c.ends_with('\n') {
                break c;
            }
        }
        assert!(Instant::now() < deadline, "port file {path:?} not written");
        thread::sleep(ms(10));
    };
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        content,
        format!("{}\n", s.port()),
        "port file content {content:?}"
    );
}

#[test]
fn listen_accepts_a_bare_port() {
    let s = Server::start_exact(&["--listen".into(), "0".into(), "status=200".into()]);
    assert!(
        s.ready_line.starts_with("listening on http://127.0.0.1:"),
        "{:?}",
        s.ready_line
    );
    let (r, _c) = get(s.addr, "/");
    assert_eq!(r.status, 200);
}

#[test]
fn listen_on_ipv6_loopback() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    let s = Server::start_exact(&["-l".into(), "[::1]:0".into(), "status=200".into()]);
    assert!(
        s.ready_line.starts_with("listening on http://[::1]:"),
        "{:?}",
        s.ready_line
    );
    assert!(s.addr.is_ipv6());
    let (r, _c) = get(s.addr, "/text=v6");
    assert_eq!(r.body, b"v6");
}

// ---------------------------------------------------------------------------------------------
// Endings: close, reset, hang
// ---------------------------------------------------------------------------------------------

#[test]
fn close_n_sends_exact_prefix_then_fin() {
    let s = Server::start(&[]);
    let (bytes, end) = exchange(s.addr, &get_request("/close=3"), IO);
    assert_head_then(&bytes, b"Hel");
    assert_ending(end, Ending::Eof, &bytes);

    let (bytes, end) = exchange(s.addr, &get_request("/close=0"), IO);
    assert_head_then(&bytes, b"");
    assert_ending(end, Ending::Eof, &bytes);
}

#[test]
fn close_n_with_a_request_body_is_still_a_fin() {
    let s = Server::start(&[]);
    // The body is sent before we read: the server must read it all, or its close becomes an RST.
    let body = vec![b'x'; 1000];
    let (bytes, end) = exchange(s.addr, &request_with_body("POST", "/close=3", &body), IO);
    assert_head_then(&bytes, b"Hel");
    assert_ending(end, Ending::Eof, &bytes);

    let (bytes, end) = exchange(s.addr, &request_with_body("PUT", "/close", &body), IO);
    assert_eq!(bytes, b"", "`close` sends nothing: {}", show(&bytes));
    assert_ending(end, Ending::Eof, &bytes);
}

#[test]
fn close_alone_is_an_empty_reply_with_fin() {
    let s = Server::start(&[]);
    let (bytes, end) = exchange(s.addr, &get_request("/close"), IO);
    assert_eq!(bytes, b"", "{}", show(&bytes));
    assert_ending(end, Ending::Eof, &bytes);
}

#[test]
fn close_head_offset_end_and_beyond() {
    let s = Server::start(&[]);
    let (bytes, end) = exchange(s.addr, &get_request("/close=head:17"), IO);
    assert_eq!(bytes, b"HTTP/1.1 200 OK\r\n", "{}", show(&bytes));
    assert_ending(end, Ending::Eof, &bytes);

    let (bytes, end) = exchange(s.addr, &get_request("/close=end"), IO);
    assert_head_then(&bytes, b"Hello, world!");
    assert_ending(end, Ending::Eof, &bytes);

    // An offset beyond the response: the whole response, then the ending.
    let (bytes, end) = exchange(s.addr, &get_request("/close=100"), IO);
    assert_head_then(&bytes, b"Hello, world!");
    assert_ending(end, Ending::Eof, &bytes);
}

#[test]
fn close_one_mebibyte_of_two() {
    let s = Server::start(&["-q"]);
    let mut c = Client::connect(s.addr);
    c.get("/body=2m/close=1m");
    let (bytes, end) = c.read_to_end(Duration::from_secs(30));
    let (head, body) = split_head(&bytes).unwrap_or_else(|| panic!("{}", show(&bytes)));
    assert!(
        find(head, b"\r\nContent-Length: 2097152\r\n").is_some(),
        "{}",
        show(head)
    );
    assert_eq!(body.len(), 1 << 20, "body bytes before the FIN");
    assert!(body.iter().all(|&b| is_printable(b)));
    assert_ending(end, Ending::Eof, &bytes);
}

#[test]
fn reset_one_mebibyte_of_two_is_exact() {
    let s = Server::start(&["-q"]);
    let mut c = Client::connect(s.addr);
    c.get("/body=2m/reset=1m");
    // Read late, so the server really has to wait for our acknowledgements before its RST.
    thread::sleep(ms(200));
    let (bytes, end) = c.read_to_end(Duration::from_secs(30));
    let (head, body) = split_head(&bytes).unwrap_or_else(|| panic!("{}", show(&bytes)));
    assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"), "{}", show(head));
    assert!(
        find(head, b"\r\nContent-Length: 2097152\r\n").is_some(),
        "{}",
        show(head)
    );
    assert_eq!(body.len(), 1_048_576, "body bytes before the RST");
    assert!(
        body.iter().all(|&b| is_printable(b)),
        "filler is not printable"
    );
    assert_ending(end, Ending::Reset, &bytes[bytes.len().saturating_sub(64)..]);
}

#[test]
fn reset_alone_sends_nothing_then_rst() {
    let s = Server::start(&[]);
    let (bytes, end) = exchange(s.addr, &get_request("/reset"), IO);
    assert_eq!(bytes, b"", "{}", show(&bytes));
    assert_ending(end, Ending::Reset, &bytes);

    // With a request body too (read, then RST).
    let (bytes, end) = exchange(
        s.addr,
        &request_with_body("POST", "/reset", &[b'y'; 500]),
        IO,
    );
    assert_eq!(bytes, b"", "{}", show(&bytes));
    assert_ending(end, Ending::Reset, &bytes);
}

#[test]
fn reset_inside_the_status_line() {
    let s = Server::start(&[]);
    let (bytes, end) = exchange(s.addr, &get_request("/reset=head:10"), IO);
    assert_eq!(bytes, b"HTTP/1.1 2", "{}", show(&bytes));
    assert_ending(end, Ending::Reset, &bytes);
}

#[test]
fn reset_at_end_and_small_offsets() {
    let s = Server::start(&[]);
    let (bytes, end) = exchange(s.addr, &get_request("/reset=end"), IO);
    assert_head_then(&bytes, b"Hello, world!");
    assert_ending(end, Ending::Reset, &bytes);

    for n in [0usize, 1, 12] {
        let (bytes, end) = exchange(s.addr, &get_request(&format!("/reset={n}")), IO);
        assert_head_then(&bytes, &b"Hello, world!"[..n]);
        assert_ending(end, Ending::Reset, &bytes);
    }
}

#[test]
fn hang_sends_nothing_and_keeps_the_connection_open() {
    let s = Server::start(&[]);
    let mut c = Client::connect(s.addr);
    c.get("/hang");
    let (bytes, end) = c.read_to_end(ms(300));
    assert_eq!(bytes, b"", "{}", show(&bytes));
    assert_ending(end, Ending::TimedOut, &bytes);
}

#[test]
fn hang_at_offset_sends_prefix_then_stays_open() {
    let s = Server::start(&[]);
    let mut c = Client::connect(s.addr);
    c.get("/hang=6");
    let (bytes, end) = c.read_to_end(ms(500));
    assert_head_then(&bytes, b"Hello,");
    assert_ending(end, Ending::TimedOut, &bytes);
    // Still silent a little later.
    let (more, end) = c.read_to_end(ms(300));
    assert_eq!(more, b"", "{}", show(&more));
    assert_ending(end, Ending::TimedOut, &more);
}

// ---------------------------------------------------------------------------------------------
// Keep-alive, pipelining, closing requests
// ---------------------------------------------------------------------------------------------

#[test]
fn keep_alive_serves_three_requests_on_one_connection() {
    let s = Server::start(&["status=200"]);
    let mut c = Client::connect(s.addr);
    c.get("/status=201");
    let r = c.read_response();
    assert_eq!(r.status_line, "HTTP/1.1 201 Created", "{r:?}");
    assert!(!r.closes(), "{r:?}");
    c.get("/text=abc");
    let r = c.read_response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, b"abc");
    assert_eq!(r.content_length(), Some(3));
    c.get("/");
    let r = c.read_response();
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    assert_eq!(r.body, b"Hello, world!");
    assert_eq!(r.header("server"), Some("httpfault"));
    assert!(
        c.buffered().is_empty(),
        "extra bytes: {}",
        show(c.buffered())
    );
}

#[test]
fn pipelined_requests_get_responses_in_order() {
    let s = Server::start(&["status=200"]);
    let mut c = Client::connect(s.addr);
    let mut all = get_request("/status=201");
    all.extend(get_request("/text=abc"));
    all.extend(get_request("/"));
    c.send(&all);
    let r1 = c.read_response();
    let r2 = c.read_response();
    let r3 = c.read_response();
    assert_eq!(r1.status, 201, "{r1:?}");
    assert_eq!(
        (r2.status, r2.body.as_slice()),
        (200, &b"abc"[..]),
        "{r2:?}"
    );
    assert_eq!(
        (r3.status, r3.body.as_slice()),
        (200, &b"Hello, world!"[..]),
        "{r3:?}"
    );
    let (rest, end) = c.read_to_end(ms(300));
    assert_eq!(rest, b"", "{}", show(&rest));
    assert_ending(end, Ending::TimedOut, &rest);
}

#[test]
fn http10_request_is_answered_then_closed() {
    let s = Server::start(&["status=200"]);
    let mut c = Client::connect(s.addr);
    c.send(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, b"Hello, world!");
    assert!(r.closes(), "no Connection: close in {r:?}");
    let (rest, end) = c.read_to_end(IO);
    assert_eq!(rest, b"");
    assert_ending(end, Ending::Eof, &rest);
}

#[test]
fn connection_close_request_is_answered_then_closed() {
    let s = Server::start(&["status=200"]);
    let mut c = Client::connect(s.addr);
    c.send(&get_close_request("/"));
    let r = c.read_response();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.closes(), "no Connection: close in {r:?}");
    let (rest, end) = c.read_to_end(IO);
    assert_eq!(rest, b"");
    assert_ending(end, Ending::Eof, &rest);
}

// ---------------------------------------------------------------------------------------------
// Basic steps
// ---------------------------------------------------------------------------------------------

#[test]
fn status_has_its_standard_reason_phrase() {
    let s = Server::start(&[]);
    for (target, line) in [
        ("/status=503", "HTTP/1.1 503 Service Unavailable"),
        ("/status=404", "HTTP/1.1 404 Not Found"),
        ("/status=200", "HTTP/1.1 200 OK"),
        ("/status=599", "HTTP/1.1 599 Unknown"),
    ] {
        let (r, _c) = get(s.addr, target);
        assert_eq!(r.status_line, line, "{target}: {r:?}");
        assert_eq!(r.body, b"Hello, world!", "{target}");
        assert_eq!(r.header("server"), Some("httpfault"));
    }
}

#[test]
fn status_204_has_no_body_and_keeps_alive() {
    let s = Server::start(&[]);
    let mut c = Client::connect(s.addr);
    c.get("/status=204");
    let r = c.read_response();
    assert_eq!(r.status_line, "HTTP/1.1 204 No Content", "{r:?}");
    assert_eq!(r.header("content-length"), None, "{r:?}");
    c.get("/text=next");
    let r = c.read_response();
    assert_eq!(r.body, b"next", "bytes after the 204 head? {r:?}");
}

#[test]
fn headers_are_added_and_may_repeat() {
    let s = Server::start(&[]);
    let (r, _c) = get(
        s.addr,
        "/header=X-A:1/header=X-B:2/header=X-Sp:hello%20world",
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("X-A"), Some("1"), "{r:?}");
    assert_eq!(r.header("X-B"), Some("2"), "{r:?}");
    assert_eq!(r.header("X-Sp"), Some("hello world"), "{r:?}");
}

#[test]
fn body_size_is_printable_filler() {
    let s = Server::start(&[]);
    let (r, _c) = get(s.addr, "/body=64k");
    assert_eq!(r.content_length(), Some(65536), "{r:?}");
    assert_eq!(r.body.len(), 65536);
    assert!(
        r.body.iter().all(|&b| is_printable(b)),
        "filler is not printable"
    );
    let (r, _c) = get(s.addr, "/body=512");
    assert_eq!(r.body.len(), 512);
}

#[test]
fn text_is_percent_decoded() {
    let s = Server::start(&[]);
    let (r, _c) = get(s.addr, "/text=hi%20there");
    assert_eq!(r.body, b"hi there", "{r:?}");
    assert_eq!(r.content_length(), Some(8));
    // A query string is ignored.
    let (r, _c) = get(s.addr, "/text=abc?text=zzz");
    assert_eq!(r.body, b"abc", "{r:?}");
}

#[test]
fn length_larger_than_body_declares_it_and_sends_the_real_body() {
    let s = Server::start(&[]);
    assert_declared_length(&s, "/length=20", 20, b"Hello, world!");
}

#[test]
fn length_smaller_than_body_declares_it_and_sends_the_real_body() {
    let s = Server::start(&[]);
    assert_declared_length(&s, "/length=5", 5, b"Hello, world!");
    // The declared length replaces the real one; it is not added beside it.
    let (bytes, _) = exchange(s.addr, &get_close_request("/length=5"), IO);
    let (head, _) = split_head(&bytes).unwrap_or_else(|| panic!("{}", show(&bytes)));
    assert_eq!(
        head.windows(15)
            .filter(|w| w.eq_ignore_ascii_case(b"content-length:"))
            .count(),
        1,
        "one Content-Length: {}",
        show(head)
    );
}

#[test]
fn keepalive_no_sends_connection_close_then_fin() {
    let s = Server::start(&[]);
    let mut c = Client::connect(s.addr);
    c.get("/keepalive=no");
    let r = c.read_response();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.closes(), "no Connection: close in {r:?}");
    assert_eq!(r.body, b"Hello, world!");
    let (rest, end) = c.read_to_end(IO);
    assert_eq!(rest, b"");
    assert_ending(end, Ending::Eof, &rest);
}

#[test]
fn delay_holds_back_the_first_byte() {
    let s = Server::start(&[]);
    let mut c = Client::connect(s.addr);
    c.get("/delay=300ms");
    let t = c.read_timed(1, IO);
    let first = t.at(0);
    assert!(
        first >= ms(280),
        "first byte after {first:?}, expected >= 300ms"
    );
    assert!(first < Duration::from_secs(5), "first byte after {first:?}");
}

#[test]
fn delay_with_fractional_seconds() {
    let s = Server::start(&[]);
    let mut c = Client::connect(s.addr);
    c.get("/delay=0.3s");
    let t = c.read_timed(1, IO);
    let first = t.at(0);
    assert!(
        first >= ms(280) && first < Duration::from_secs(5),
        "first byte after {first:?}"
    );
}

#[test]
fn plan_on_the_command_line_applies_to_non_plan_paths() {
    let s = Server::start(&["status=503/header=X-Plan:cli"]);
    for target in ["/", "/favicon.ico", "/index.html?status=200"] {
        let (r, _c) = get(s.addr, target);
        assert_eq!(r.status, 503, "{target}: {r:?}");
        assert_eq!(r.header("X-Plan"), Some("cli"), "{target}: {r:?}");
    }
    // A path plan replaces it for that request only.
    let (r, _c) = get(s.addr, "/status=202");
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(r.header("X-Plan"), None, "{r:?}");
}

#[test]
fn head_request_gets_the_head_only() {
    let s = Server::start(&["status=200"]);
    let mut c = Client::connect(s.addr);
    c.send(b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let r = c.read_response_for(false);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.content_length(), Some(13), "{r:?}");
    // If a body had been sent, it would show up in front of the next response.
    c.get("/text=after");
    let r = c.read_response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, b"after", "{r:?}");
}

#[test]
fn expect_100_continue_is_answered_before_the_body() {
    let s = Server::start(&["status=200"]);
    let mut c = Client::connect(s.addr);
    c.send(b"POST /text=ok HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let interim = c.read_exact_bytes(25, IO);
    assert_eq!(
        interim,
        b"HTTP/1.1 100 Continue\r\n\r\n",
        "{}",
        show(&interim)
    );
    c.send(b"hello");
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]), "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_path_plan_gets_400_naming_the_step_and_the_server_goes_on() {
    let s = Server::start(&["--log", "json"]);
    let (r, c) = get(s.addr, "/status=abc");
    drop(c);
    assert_eq!(r.status_line, "HTTP/1.1 400 Bad Request", "{r:?}");
    let body = r.body_str();
    assert!(body.ends_with('\n'), "body is not one line: {body:?}");
    assert_eq!(
        body.matches('\n').count(),
        1,
        "body is not one line: {body:?}"
    );
    assert!(
        body.contains("status"),
        "body does not name the step: {body:?}"
    );
    assert!(
        body.contains("abc"),
        "body does not name the value: {body:?}"
    );
    // The next request works.
    let (r, _c) = get(s.addr, "/status=200");
    assert_eq!(r.status, 200, "{r:?}");
    // And the log says the same.
    let reason = body.trim_end();
    let reason = reason.strip_prefix("bad plan: ").unwrap_or(reason);
    let line = s.wait_log(IO, |l| {
        parse_json(l).is_ok_and(|j| match j {
            Json::Obj(m) => m
                .iter()
                .any(|(_, v)| matches!(v, Json::Str(s) if s.contains(reason))),
            _ => false,
        })
    });
    assert!(line.is_some(), "no log line carries the reason {reason:?}");
}

#[test]
fn unknown_step_in_path_gets_400() {
    let s = Server::start(&[]);
    // `reset` is a known step name; `reset=x` has a bad value.
    let (r, _c) = get(s.addr, "/reset=x");
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body_str().contains("reset"), "{r:?}");
}

#[test]
fn bad_request_line_gets_400_then_fin() {
    let s = Server::start(&[]);
    let (bytes, end) = exchange(s.addr, b"NONSENSE\r\n\r\n", IO);
    assert!(bytes.starts_with(b"HTTP/1.1 400 "), "{}", show(&bytes));
    assert_ending(end, Ending::Eof, &bytes);
}

#[test]
fn too_many_headers_get_431_then_fin() {
    let s = Server::start(&[]);
    let mut req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n".to_vec();
    for i in 0..150 {
        req.extend(format!("X-H{i}: v\r\n").bytes());
    }
    req.extend(b"\r\n");
    let (bytes, end) = exchange(s.addr, &req, IO);
    assert!(bytes.starts_with(b"HTTP/1.1 431 "), "{}", show(&bytes));
    assert_ending(end, Ending::Eof, &bytes);
}

// ---------------------------------------------------------------------------------------------
// --once
// ---------------------------------------------------------------------------------------------

#[test]
fn once_serves_the_first_real_request_and_exits_0() {
    let mut s = Server::start(&["--once", "status=200"]);
    // A connection that closes without a request does not count.
    let c1 = Client::connect(s.addr);
    drop(c1);
    // Neither does a silent one; it is closed when the real request arrives.
    let mut c2 = Client::connect(s.addr);
    let mut c3 = Client::connect(s.addr);
    c3.get("/");
    let r = c3.read_response();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.closes(), "no Connection: close in {r:?}");
    let (rest, end) = c3.read_to_end(IO);
    assert_eq!(rest, b"");
    assert_ending(end, Ending::Eof, &rest);

    let (bytes, end) = c2.read_to_end(IO);
    assert_eq!(bytes, b"", "{}", show(&bytes));
    assert!(
        matches!(end, Ending::Eof | Ending::Reset),
        "silent connection not closed: {end:?}"
    );

    match try_connect(s.addr, Duration::from_secs(2)) {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}"),
        Ok(_) => panic!("connect after --once was served succeeded"),
    }
    let st = s.wait_exit(EXIT).expect("--once did not exit");
    assert_eq!(st.code(), Some(0), "exit status {st}");
    s.stop();
    assert!(
        s.stderr_lines()
            .iter()
            .any(|l| l.contains("event=once-done")),
        "no event=once-done log line"
    );
}

#[test]
fn once_exits_0_after_a_fault_plan_too() {
    let mut s = Server::start(&["--once"]);
    let (bytes, end) = exchange(s.addr, &get_request("/"), IO);
    assert!(bytes.ends_with(b"Hello,"), "{}", show(&bytes));
    assert_ending(end, Ending::Reset, &bytes);
    let st = s.wait_exit(EXIT).expect("--once did not exit");
    assert_eq!(st.code(), Some(0), "exit status {st}");
}

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn assert_usage_error(f: &Finished, names: &str) {
    assert_eq!(f.status.code(), Some(2), "{}", f.describe());
    let lines = f.stderr_lines();
    assert_eq!(lines.len(), 1, "expected one stderr line\n{}", f.describe());
    assert!(
        lines[0].starts_with("httpfault: error: "),
        "{}",
        f.describe()
    );
    assert!(
        lines[0].contains(names),
        "error does not name {names:?}\n{}",
        f.describe()
    );
    assert_eq!(f.stdout, "", "{}", f.describe());
}

#[test]
fn unknown_flag_is_a_usage_error() {
    assert_usage_error(&run(&["--bogus"]), "--bogus");
}

#[test]
fn bad_plan_on_the_command_line_is_a_usage_error() {
    let f = run(&["rset"]);
    assert_usage_error(&f, "'rset'");
    assert!(
        f.stderr.starts_with("httpfault: error: bad plan: "),
        "{}",
        f.describe()
    );
    assert_usage_error(&run(&["status=abc"]), "abc");
    assert_usage_error(&run(&["reset/close"]), "httpfault: error: bad plan");
}

#[test]
fn bad_listen_value_is_a_usage_error() {
    assert_usage_error(&run_exact(&["-l".into(), "nonsense".into()]), "nonsense");
    assert_usage_error(
        &run_exact(&["--listen".into(), "127.0.0.1:99999".into()]),
        "99999",
    );
}

#[test]
fn bad_option_values_are_usage_errors() {
    assert_usage_error(&run(&["--read-timeout", "soon"]), "soon");
    assert_usage_error(&run(&["--exit-after", "later"]), "later");
    assert_usage_error(&run(&["--log", "xml"]), "xml");
    assert_usage_error(&run(&["--max-conns", "many"]), "many");
    assert_usage_error(&run(&["--seed", "abc"]), "abc");
}

#[test]
fn address_in_use_exits_1() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = holder.local_addr().unwrap();
    let f = run_exact(&["-l".into(), addr.to_string()]);
    assert_eq!(f.status.code(), Some(1), "{}", f.describe());
    let lines = f.stderr_lines();
    assert!(
        lines.iter().any(|l| l.starts_with("httpfault: error: ")),
        "{}",
        f.describe()
    );
    assert_eq!(
        f.stdout,
        "",
        "nothing should claim to listen\n{}",
        f.describe()
    );
    drop(holder);
}

#[test]
fn help_and_version_exit_0() {
    for flag in ["-h", "--help"] {
        let f = run(&[flag]);
        assert_eq!(f.status.code(), Some(0), "{}", f.describe());
        assert!(f.stdout.contains("httpfault"), "{}", f.describe());
        assert!(
            f.stdout.contains("--listen"),
            "help does not list --listen\n{}",
            f.describe()
        );
        assert!(f.stdout.lines().count() > 5, "{}", f.describe());
    }
    for flag in ["-V", "--version"] {
        let f = run(&[flag]);
        assert_eq!(f.status.code(), Some(0), "{}", f.describe());
        assert!(
            f.stdout.contains(env!("CARGO_PKG_VERSION")),
            "version missing\n{}",
            f.describe()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Text log and --quiet
// ---------------------------------------------------------------------------------------------

#[test]
fn text_log_has_one_request_line_with_key_values() {
    let s = Server::start(&[]);
    let mut c = Client::connect(s.addr);
    let peer = c.stream.local_addr().unwrap();
    c.get("/");
    let (bytes, end) = c.read_to_end(IO);
    assert_classic(&bytes, end);
    let line = s
        .wait_log(IO, |l| l.contains("event=request"))
        .expect("no event=request log line");
    assert!(line.starts_with("httpfault: "), "{line}");
    let field = |k: &str| -> Option<String> {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")).map(str::to_string))
    };
    assert_eq!(field("method").as_deref(), Some("GET"), "{line}");
    assert_eq!(field("target").as_deref(), Some("/"), "{line}");
    assert_eq!(field("plan").as_deref(), Some("reset=6"), "{line}");
    assert_eq!(field("end").as_deref(), Some("reset"), "{line}");
    assert_eq!(field("peer"), Some(peer.to_string()), "{line}");
    assert_eq!(field("bytes"), Some(bytes.len().to_string()), "{line}");
    assert!(
        field("conn").is_some_and(|v| v.parse::<u64>().is_ok()),
        "{line}"
    );
    assert!(
        field("ms").is_some_and(|v| v.parse::<f64>().is_ok()),
        "{line}"
    );
}

#[test]
fn quiet_writes_no_log_lines() {
    let mut s = Server::start(&["-q", "status=200"]);
    let (r, c) = get(s.addr, "/");
    assert_eq!(r.status, 200);
    drop(c);
    let (bytes, _) = exchange(s.addr, &get_request("/reset"), IO);
    assert_eq!(bytes, b"");
    // Absence can only be checked after a while: give late log lines time to show up.
    thread::sleep(ms(300));
    s.stop();
    assert!(
        s.stderr_lines().is_empty(),
        "stderr with -q: {:?}",
        s.stderr_lines()
    );
}
