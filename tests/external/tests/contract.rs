//! The contract's example ("httpfault as a Rust library"), from a crate outside the project
//! that depends on httpfault by path, as a user's test suite would. std only.
//! The README's "Use it as a Rust library" shows the first test of this file.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Sends one GET and reads the answer until the server ends the connection.
fn get(addr: std::net::SocketAddr, path: &str) -> (Vec<u8>, std::io::Result<usize>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut got = Vec::new();
    let result = s.read_to_end(&mut got);
    (got, result)
}

#[test]
fn the_classic_reset_and_what_the_server_saw() -> Result<(), httpfault::Error> {
    let server = httpfault::Server::start("reset=6")?; // 127.0.0.1, a free port
    let other = httpfault::Server::builder().plan("status=503").start()?; // a second one at once
    assert_ne!(server.addr(), other.addr());

    let (got, result) = get(server.addr(), "/");
    assert_eq!(result.unwrap_err().kind(), ErrorKind::ConnectionReset);
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(got.ends_with(b"\r\n\r\nHello,")); // exactly 6 body bytes, then the RST

    let seen = server.wait_for(1, Duration::from_secs(10)); // the journal, oldest first
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("GET", "/")
    );
    assert_eq!(seen[0].end, Some(httpfault::End::Reset));
    assert_eq!(seen[0].status, 200);

    server.reset(); // counters and journal back to the start
    assert!(server.requests().is_empty());
    assert!(other.requests().is_empty());
    Ok(())
}

#[test]
fn a_bad_plan_is_an_error() {
    let err = httpfault::Server::start("rset").unwrap_err();
    assert!(matches!(err, httpfault::Error::Plan(_)));
    assert!(err.to_string().contains("rset"), "{err}");
    assert!(err.is_usage());
}

#[test]
fn fifty_servers_started_and_dropped() {
    for _ in 0..50 {
        let server = httpfault::Server::start("reset=6").unwrap();
        let (got, result) = get(server.addr(), "/");
        assert_eq!(result.unwrap_err().kind(), ErrorKind::ConnectionReset);
        assert!(got.ends_with(b"Hello,"));
    }
}

#[test]
fn a_dropped_server_refuses_connects_and_ends_its_hangs() {
    let server = httpfault::Server::start("hang").unwrap();
    let addr = server.addr();
    let mut held = TcpStream::connect(addr).unwrap();
    held.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    // The request is journaled once its head is in: the server is holding it now.
    let seen = server.wait_for(1, Duration::from_secs(10));
    assert_eq!(seen[0].end, Some(httpfault::End::Hang));

    let dropped = Instant::now();
    drop(server);
    held.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut rest = Vec::new();
    match held.read_to_end(&mut rest) {
        Ok(0) => {}                                            // a FIN
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {} // or an RST
        other => panic!("the hang was not ended: {other:?} {rest:?}"),
    }
    assert!(dropped.elapsed() < Duration::from_secs(4));
    let refused = TcpStream::connect(addr).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
}
