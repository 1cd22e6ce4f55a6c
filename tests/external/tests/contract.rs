//! The contract's example ("httpfault as a Rust library"), from a crate outside the project
//! that depends on httpfault by path, as a user's test suite would. std only.
//! docs/library.md shows `get` and the first test, and docs/sdk-testing.md `upload` and the
//! SDK test; tests/docs.rs checks that they stay the same.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

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

    let dropped = std::time::Instant::now();
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

/// The SDK under test, in miniature: `POST /v1/upload` with an idempotency key, retried on a
/// reset with backoff (100 ms, then 200 ms, 400 ms).
fn upload(addr: std::net::SocketAddr, key: &str) -> std::io::Result<u16> {
    let mut backoff = Duration::from_millis(100);
    for _attempt in 0..4 {
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            s,
            "POST /v1/upload HTTP/1.1\r\nHost: api\r\nIdempotency-Key: {key}\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\nhi"
        )?;
        let mut got = Vec::new();
        match s.read_to_end(&mut got) {
            Ok(_) => {
                let status = got.get(9..12).and_then(|c| std::str::from_utf8(c).ok());
                return status
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| ErrorKind::InvalidData.into());
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => std::thread::sleep(backoff),
            Err(e) => return Err(e),
        }
        backoff *= 2;
    }
    Err(ErrorKind::ConnectionReset.into())
}

#[test]
fn the_sdk_retries_a_reset_upload() -> Result<(), httpfault::Error> {
    let server = httpfault::Server::builder()
        .routes("GET /v1/items ok\nPOST /v1/upload reset*2 status=201\n")
        .start()?;
    let (items, result) = get(server.addr(), "/v1/items");
    assert!(result.is_ok() && items.ends_with(b"Hello, world!"));
    server.reset(); // counters and journal from the start: this test's requests only

    assert_eq!(upload(server.addr(), "k1").unwrap(), 201);

    let seen = server.wait_for(3, Duration::from_secs(10));
    let attempts: Vec<_> = seen
        .iter()
        .map(|r| (r.step, r.status_sent(), r.end))
        .collect();
    use httpfault::End::{Complete, Reset};
    assert_eq!(
        attempts,
        [
            (Some(1), None, Some(Reset)),
            (Some(2), None, Some(Reset)),
            (Some(3), Some(201), Some(Complete))
        ]
    );
    assert!(seen
        .iter()
        .all(|r| r.header("Idempotency-Key") == Some("k1")));
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1].t - w[0].t).collect();
    assert!(
        gaps[0] >= Duration::from_millis(100) && gaps[0] < Duration::from_secs(2),
        "{gaps:?}"
    );
    assert!(
        gaps[1] >= Duration::from_millis(200) && gaps[1] < Duration::from_secs(2),
        "{gaps:?}"
    );
    Ok(())
}
