//! A `std::net` HTTP client that accepts whatever arrives: it sends `GET` with
//! `Connection: close`, reads until the connection ends (a reset included), drops the head and
//! prints the rest, and exits 0 whatever happened. No timeout, no check of Content-Length or
//! framing: the hand-rolled client `httpfault probe` is meant to catch (tests/probe.rs).
//!
//!     cargo run --example naive_get -- http://127.0.0.1:9000/

use std::io::{Read, Write};
use std::net::TcpStream;

fn main() {
    let url = std::env::args().nth(1).unwrap_or_default();
    let rest = url.strip_prefix("http://").unwrap_or(&url);
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Ok(mut s) = TcpStream::connect(host) else {
        return;
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return;
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    // Stops at the end or at the first error, keeping what came before it.
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    let body = match got.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => &got[i + 4..],
        None => &got[..],
    };
    let _ = std::io::stdout().lock().write_all(body);
}
