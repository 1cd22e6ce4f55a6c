//! Strict request framing on the wire (issue 13, "Strict framing", defects 1 to 7) and the
//! absolute-form scheme case (issue 9, defect 10): each request a lenient parser would serve
//! gets its 4xx/5xx and a close, and the server answers the next connection.
//!
//! Each test sends raw bytes over 127.0.0.1 to the real binary and asserts the status code it
//! receives and how the connection ends.

mod common;

use common::*;
use std::io::Write;
use std::net::TcpStream;

/// The server answers a plain request on a new connection: it was not harmed.
fn assert_still_serving(s: &Server) {
    let (r, _) = get(s.addr, "/status=200");
    assert_eq!(r.status, 200, "{r:?}\n{}", s.describe());
}

/// Sends `request` on a new connection; expects a `status` response that says
/// `Connection: close`, then a FIN (not a reset, not silence).
#[track_caller]
fn assert_rejected(s: &Server, request: &[u8], status: u16) {
    let (bytes, end) = exchange(s.addr, request, IO);
    let want = format!("HTTP/1.1 {status} ");
    assert!(
        bytes.starts_with(want.as_bytes()),
        "want {status} for {}, got {}\n{}",
        show(request),
        show(&bytes),
        s.describe()
    );
    let (head, _) = split_head(&bytes).expect("a complete head");
    assert!(
        find(head, b"\r\nConnection: close\r\n").is_some(),
        "{}",
        show(head)
    );
    assert_ending(end, Ending::Eof, &bytes);
}

/// Sends `request` on a new connection and reads one response, keeping the connection.
fn answer(s: &Server, request: &[u8]) -> (Response, Client) {
    let mut c = Client::connect(s.addr);
    c.send(request);
    let r = c.read_response();
    (r, c)
}

/// Framing 1: optional whitespace is space and tab only. A form feed next to a framing or
/// connection token used to be trimmed away and the token honoured.
#[test]
fn a_form_feed_is_not_optional_whitespace() {
    let s = Server::start(&["status=200"]);
    for request in [
        &b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\x0c\r\n\r\n5\r\nhello\r\n0\r\n\r\n"[..],
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length:\x0c5\r\n\r\nhello",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5,\x0c5\r\n\r\nhello",
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\x0c\r\n\r\n",
    ] {
        assert_rejected(&s, request, 400);
    }
    // Tabs are whitespace: these are honoured.
    let (r, mut c) = answer(
        &s,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length:\t5\t\r\n\r\nhello",
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body_str().ends_with("\r\n\r\nhello"), "{r:?}");
    c.send(b"GET /text=next HTTP/1.1\r\nHost: x\r\nConnection:\tclose\t\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.body_str(), "next", "{r:?}");
    assert!(r.closes(), "{r:?}");
    assert_ending(c.read_to_end(IO).1, Ending::Eof, b"");
    assert_still_serving(&s);
}

/// Framing 2: an HTTP/1.0 request with Transfer-Encoding is answered and then closed, even if
/// it asks for keep-alive (RFC 9112 section 6.1).
#[test]
fn http10_with_transfer_encoding_is_closed_after_the_response() {
    let s = Server::start(&["status=200"]);
    let (r, mut c) = answer(
        &s,
        b"POST /text=ok HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body_str(), "ok");
    assert!(r.closes(), "{r:?}");
    let (rest, end) = c.read_to_end(IO);
    assert_ending(end, Ending::Eof, &rest);
    assert!(rest.is_empty(), "{}", show(&rest));
    // Without Transfer-Encoding, HTTP/1.0 keep-alive still holds.
    let (r, mut c) = answer(
        &s,
        b"POST /text=ok HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
    );
    assert!(!r.closes(), "{r:?}");
    c.send(b"GET /text=again HTTP/1.0\r\n\r\n");
    assert_eq!(c.read_response().body_str(), "again");
    assert_still_serving(&s);
}

/// Framing 3: chunk-size lines and trailers follow RFC 9112 section 7.1.
#[test]
fn loose_chunk_lines_and_trailers_get_400() {
    let s = Server::start(&["status=200"]);
    let head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for body in [
        &b"5 junk\r\nhello\r\n0\r\n\r\n"[..],
        b"5 6\r\nhello\r\n0\r\n\r\n",
        b"5\rX\nhello\r\n0\r\n\r\n",
        b"5;a=b c\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhello\r\n0\r\n\r\r\n",
        b"5\r\nhello\r\n0\r\nBad Trailer\r\n\r\n",
        b"5\r\nhello\r\n0\r\nX: a\x00b\r\n\r\n",
    ] {
        let mut request = head.to_vec();
        request.extend_from_slice(body);
        assert_rejected(&s, &request, 400);
    }
    // The grammar's extensions, trailers and (as in heads) bare LF line ends are read, and the
    // body ends exactly where it should: the next request on the connection is served.
    let mut c = Client::connect(s.addr);
    c.send(head);
    c.send(b"5 ; a = \"b;\\\"c\" ;d\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n");
    assert_eq!(c.read_response().status, 200);
    c.send(head);
    c.send(b"5\nhello\n0\n\n");
    assert_eq!(c.read_response().status, 200);
    c.get("/text=next");
    assert_eq!(c.read_response().body_str(), "next");
    assert_still_serving(&s);
}

/// Framing 4: HTTP/1.1 needs exactly one Host (RFC 9112 section 3.2).
#[test]
fn http11_without_exactly_one_host_gets_400() {
    let s = Server::start(&["status=200"]);
    assert_rejected(&s, b"GET / HTTP/1.1\r\n\r\n", 400);
    assert_rejected(&s, b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
    assert_rejected(&s, b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
    // HTTP/1.0 may leave it out.
    let (r, _c) = answer(&s, b"GET /status=204 HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 204, "{r:?}");
    assert_still_serving(&s);
}

/// Framing 5: a target that is neither origin, absolute nor asterisk form is not a path.
#[test]
fn a_target_without_a_form_gets_400() {
    let s = Server::start(&["status=200"]);
    // It used to run the plan `reset`.
    assert_rejected(&s, b"GET reset HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    assert_rejected(&s, b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    assert_rejected(&s, b"GET x:80 HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    let (r, _c) = answer(&s, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200, "{r:?}");
    assert_still_serving(&s);
}

/// Framing 6: CONNECT is refused with a 5xx (no mode tunnels it) instead of a 200 on a
/// connection that stays HTTP.
#[test]
fn connect_is_not_implemented() {
    let s = Server::start(&["status=200"]);
    assert_rejected(&s, b"CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", 501);
    assert_still_serving(&s);
}

/// Framing 7: a transfer coding list other than exactly `chunked` is 501; a bare CR before
/// the request line is 400 (empty lines, CRLF or LF, stay allowed).
#[test]
fn codings_before_chunked_and_a_bare_cr_before_the_request_line() {
    let s = Server::start(&["status=200"]);
    for coding in ["identity, chunked", "gzip, chunked", "chunked, chunked"] {
        let request =
            format!("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {coding}\r\n\r\n0\r\n\r\n");
        assert_rejected(&s, request.as_bytes(), 501);
    }
    assert_rejected(
        &s,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        501,
    );
    assert_rejected(&s, b"\rGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    assert_rejected(&s, b"\r\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    let (r, _c) = answer(&s, b"\r\n\nGET /status=202 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 202, "{r:?}");
    assert_still_serving(&s);
}

/// Issue 9, defect 10: the scheme of an absolute-form target is case-insensitive.
#[test]
fn an_uppercase_scheme_finds_its_plan() {
    let s = Server::start(&["status=200"]);
    for target in ["HTTP://x/status=503", "Http://x:80/status=503?q=/a"] {
        let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
        let (r, _c) = answer(&s, request.as_bytes());
        assert_eq!(r.status, 503, "{target}: {r:?}");
    }
    assert_still_serving(&s);
}

/// Issue 9, defect 13 (the wiring): a 60 KiB head that arrives in many small reads is
/// answered exactly once it is complete. This guards the resumable scan's use by the server;
/// the cost itself is checked by the unit tests of `HeadScan`.
#[test]
fn a_large_head_sent_in_pieces_is_answered_when_complete() {
    let s = Server::start(&["status=200"]);
    let mut head = b"GET /text=done HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    head.resize(60 * 1024, b'a');
    head.extend_from_slice(b"\r\n\r\n");
    let mut stream = TcpStream::connect_timeout(&s.addr, IO).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream.set_write_timeout(Some(IO)).expect("write timeout");
    for piece in head.chunks(997) {
        stream.write_all(piece).expect("write a piece");
    }
    let mut c = Client::from_stream(stream);
    let r = c.read_response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body_str(), "done");
    assert_still_serving(&s);
}
