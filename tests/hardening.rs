//! Hostile clients: malformed requests get a 4xx and a close, slow or stuck clients cannot
//! hold the server, and no request can forge a log line. After each, the server goes on.

mod common;

use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

/// The server answers a plain request promptly: it was not harmed by what came before.
fn assert_still_serving(s: &Server) {
    let (r, _) = get(s.addr, "/status=200");
    assert_eq!(r.status, 200, "{r:?}\n{}", s.describe());
}

/// Sends `request`, expects `status` with a one-line reason, then a FIN, and a
/// `bad-request` log line with that status.
fn assert_rejected(s: &Server, request: &[u8], status: u16, reason_part: &str) {
    let (bytes, end) = exchange(s.addr, request, IO);
    let want = format!("HTTP/1.1 {status} ");
    assert!(
        bytes.starts_with(want.as_bytes()),
        "want {status} for {}, got {}\n{}",
        show(&request[..request.len().min(120)]),
        show(&bytes),
        s.describe()
    );
    let (head, body) = split_head(&bytes).expect("a complete head");
    assert!(
        find(head, b"\r\nConnection: close\r\n").is_some(),
        "{}",
        show(head)
    );
    let body = String::from_utf8_lossy(body);
    assert!(
        body.ends_with('\n') && body.trim_end().lines().count() == 1,
        "{body:?}"
    );
    assert!(body.contains(reason_part), "{body:?} lacks {reason_part:?}");
    assert_ending(end, Ending::Eof, &bytes);
    let line = s.wait_log(IO, |l| {
        l.contains("event=bad-request") && l.contains(&format!("status={status}"))
    });
    assert!(line.is_some(), "no bad-request log line\n{}", s.describe());
}

#[test]
fn malformed_requests_get_a_4xx_and_a_close() {
    let s = Server::start(&["status=200"]);
    let cases: Vec<(Vec<u8>, u16, &str)> =
        vec![
        (b"NONSENSE\r\n\r\n".to_vec(), 400, "request line"),
        (b"GET / HTTP/2.0\r\n\r\n".to_vec(), 505, "version"),
        (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n".to_vec(), 400, "header"),
        (
            b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n".to_vec(),
            400,
            "Content-Length",
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n".to_vec(),
            400,
            "Content-Length",
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd".to_vec(),
            400,
            "Content-Length",
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
            400,
            "Transfer-Encoding",
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
            501,
            "Transfer-Encoding",
        ),
        (
            // With a Host: without one, the head itself is now refused (issue 13, framing 4)
            // before the body's framing is looked at.
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
                .to_vec(),
            400,
            "chunked",
        ),
    ];
    for (request, status, reason) in &cases {
        assert_rejected(&s, request, *status, reason);
    }
    assert_still_serving(&s);
}

#[test]
fn oversized_heads_get_431() {
    let s = Server::start(&["status=200"]);
    let mut big = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    big.resize(70 * 1024, b'a');
    big.extend_from_slice(b"\r\n\r\n");
    assert_rejected(&s, &big, 431, "64 KiB");
    assert_still_serving(&s);
}

#[test]
fn an_echo_body_over_the_limit_gets_413() {
    let s = Server::start(&[]);
    let body = vec![b'x'; 1024 * 1024 + 1];
    let request = request_with_body("POST", "/echo", &body);
    assert_rejected(&s, &request, 413, "limit");
    assert_still_serving(&s);
}

#[test]
fn a_valid_chunked_request_body_is_read_before_the_answer() {
    let s = Server::start(&[]);
    let mut c = Client::connect(s.addr);
    c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.body_str().ends_with("5;ext=1\r\npedia\r\n0\r\n\r\n"),
        "{r:?}"
    );
    // The connection stays usable: the body was consumed exactly.
    c.get("/text=next");
    assert_eq!(c.read_response().body_str(), "next");
}

#[test]
fn a_client_that_stops_reading_is_cut_off_after_the_read_timeout() {
    let s = Server::start(&["--read-timeout", "300ms"]);
    let mut c = Client::connect(s.addr);
    c.get("/body=256m");
    // Never read: the socket buffers fill, the server's write blocks, then times out.
    let line = s.wait_log(Duration::from_secs(20), |l| {
        l.contains("event=request") && l.contains("end=timeout")
    });
    assert!(line.is_some(), "no timeout\n{}", s.describe());
    assert_still_serving(&s);
    drop(c);
}

#[test]
fn a_client_that_vanishes_mid_response_is_peer_gone() {
    let s = Server::start(&[]);
    let mut c = Client::connect(s.addr);
    c.get("/body=256m");
    let _ = c.read_exact_bytes(100_000, IO);
    // Closing with unread bytes in the receive buffer makes Linux send an RST: the client
    // vanishes the rude way.
    drop(c);
    let line = s.wait_log(IO, |l| {
        l.contains("event=request") && l.contains("end=peer-gone")
    });
    assert!(line.is_some(), "{}", s.describe());
    assert_still_serving(&s);
}

#[test]
fn slow_and_stuck_clients_do_not_block_others() {
    let s = Server::start(&["--read-timeout", "5s"]);
    // A slowloris client trickling a head, a client that never reads a large body, and one
    // that sent half a head and went quiet.
    let mut slow = TcpStream::connect(s.addr).unwrap();
    slow.write_all(b"GET / HT").unwrap();
    let mut stuck = Client::connect(s.addr);
    stuck.get("/body=256m");
    let mut quiet = TcpStream::connect(s.addr).unwrap();
    quiet
        .write_all(b"GET /status=200 HTTP/1.1\r\nHost:")
        .unwrap();
    let started = Instant::now();
    for _ in 0..20 {
        assert_still_serving(&s);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop((slow, stuck, quiet));
}

#[test]
fn slowloris_is_closed_at_the_read_timeout_even_while_it_trickles() {
    let s = Server::start(&["--read-timeout", "500ms"]);
    let mut slow = TcpStream::connect(s.addr).unwrap();
    let started = Instant::now();
    let mut closed = false;
    for b in b"GET / HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if slow.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        if s.wait_log(ms(1), |l| l.contains("event=timeout")).is_some() {
            closed = true;
            break;
        }
        thread::sleep(ms(50));
    }
    assert!(
        closed,
        "a head trickled for {:?} was never cut off",
        started.elapsed()
    );
    assert!(started.elapsed() >= ms(450), "{:?}", started.elapsed());
    assert_still_serving(&s);
}

#[test]
fn text_log_lines_cannot_be_forged() {
    let s = Server::start(&["status=200"]);
    let target = "/a\"b\\c%0Ahttpfault:%20event=forged";
    let (r, _) = get(s.addr, target);
    assert_eq!(r.status, 200);
    let line = s
        .wait_log(IO, |l| l.contains("event=request"))
        .expect("request line");
    assert!(
        line.contains("target=\"/a\\\"b\\\\c%0Ahttpfault:%20event=forged\""),
        "{line}"
    );
    assert!(s
        .stderr_lines()
        .iter()
        .all(|l| l.starts_with("httpfault: event=")));
}

#[test]
fn json_log_lines_stay_valid_json_whatever_the_request() {
    let s = Server::start(&["--log", "json", "status=200"]);
    let target = "/\"},{\"event\":\"forged\\u0000";
    let (r, _) = get(s.addr, target);
    assert_eq!(r.status, 200);
    let _ = exchange(
        s.addr,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        IO,
    );
    s.wait_logs(3, IO, |l| l.contains("\"event\""));
    for line in s.stderr_lines() {
        let json = parse_json(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if json.str("event") == Some("request") {
            assert_eq!(json.str("target"), Some(target), "{line}");
        }
        assert_ne!(json.str("event"), Some("forged"), "{line}");
    }
}

#[test]
fn garbage_instead_of_a_request_gets_400() {
    let s = Server::start(&["status=200"]);
    let mut junk: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    junk.extend_from_slice(b"\r\n\r\n");
    let (bytes, end) = exchange(s.addr, &junk, IO);
    assert!(bytes.starts_with(b"HTTP/1.1 400 "), "{}", show(&bytes));
    assert_ne!(end, Ending::TimedOut);
    assert_still_serving(&s);
}

/// A request line whose version is not `HTTP/x.y` at all comes from a client that does not
/// speak HTTP/1.x (h2spec 3.5/2 sends `INVALID CONNECTION PREFACE` as a bad HTTP/2 preface):
/// it gets no answer, a FIN, and the log and journal say why.
#[test]
fn a_request_line_that_is_not_http_gets_no_answer_and_a_fin() {
    let s = Server::start(&["status=200"]);
    let (bytes, end) = exchange(s.addr, b"INVALID CONNECTION PREFACE\r\n\r\n", IO);
    assert_eq!(bytes, b"", "{}", show(&bytes));
    assert_ending(end, Ending::Eof, &bytes);
    let line = s.wait_log(IO, |l| {
        l.contains("event=bad-request") && l.contains("status=-")
    });
    assert!(line.is_some(), "no bad-request log line\n{}", s.describe());
    // And the server goes on.
    let (bytes, _) = exchange(s.addr, &get_close_request("/"), IO);
    assert!(bytes.starts_with(b"HTTP/1.1 200 OK"), "{}", show(&bytes));
}
