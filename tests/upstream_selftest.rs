//! Checks the test upstream (tests/upstream_server) on its own, with a raw TCP client, so the
//! proxy tests can trust what it sends and what it says it received.

#[path = "upstream_server/mod.rs"]
mod upstream_server;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};
use upstream_server::{is_pattern, pattern, pattern_hash, Fnv, Upstream};

/// Deadline for every connect, read and write.
const IO: Duration = Duration::from_secs(10);

struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

struct Resp {
    status: u16,
    head: String,
    body: Vec<u8>,
    trailers: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

impl Client {
    fn connect(up: &Upstream) -> Client {
        let w = TcpStream::connect_timeout(&up.addr(), IO).expect("connect to the upstream");
        w.set_read_timeout(Some(IO)).unwrap();
        w.set_write_timeout(Some(IO)).unwrap();
        Client {
            r: BufReader::new(w.try_clone().unwrap()),
            w,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).expect("send");
    }

    fn get(&mut self, target: &str) -> Resp {
        self.send(format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        self.response("GET")
    }

    fn head(&mut self) -> String {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            let n = self.r.read_line(&mut line).expect("read a head line");
            assert!(n > 0, "EOF inside a head: {head:?}");
            head.push_str(&line);
            if line == "\r\n" {
                return head;
            }
        }
    }

    /// Reads one final response (skipping 1xx but 101), body framed by its head.
    fn response(&mut self, method: &str) -> Resp {
        let head = loop {
            let head = self.head();
            let status = status_of(&head);
            if !(100..200).contains(&status) || status == 101 {
                break head;
            }
        };
        let mut resp = Resp {
            status: status_of(&head),
            head,
            body: Vec::new(),
            trailers: String::new(),
        };
        if method == "HEAD" || matches!(resp.status, 101 | 204 | 304) {
            return resp;
        }
        if resp.header("transfer-encoding") == Some("chunked") {
            loop {
                let mut line = String::new();
                self.r.read_line(&mut line).unwrap();
                let size = usize::from_str_radix(line.trim(), 16).expect("chunk size");
                if size == 0 {
                    break;
                }
                let start = resp.body.len();
                resp.body.resize(start + size, 0);
                self.r.read_exact(&mut resp.body[start..]).unwrap();
                let mut crlf = [0u8; 2];
                self.r.read_exact(&mut crlf).unwrap();
                assert_eq!(&crlf, b"\r\n");
            }
            loop {
                let mut line = String::new();
                self.r.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                resp.trailers.push_str(&line);
            }
        } else if let Some(n) = resp.header("content-length") {
            resp.body.resize(n.parse().unwrap(), 0);
            self.r.read_exact(&mut resp.body).unwrap();
        } else {
            self.r.read_to_end(&mut resp.body).unwrap();
        }
        resp
    }

    /// Reads until the connection ends: the bytes, and how it ended (`Ok` for FIN).
    fn read_to_end(&mut self) -> (Vec<u8>, io::Result<()>) {
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match self.r.read(&mut buf) {
                Ok(0) => return (got, Ok(())),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => return (got, Err(e)),
            }
        }
    }
}

fn status_of(head: &str) -> u16 {
    head.get(9..12)
        .and_then(|c| c.parse().ok())
        .expect("status code")
}

fn pattern_of(n: usize) -> Vec<u8> {
    let mut v = vec![0; n];
    pattern(0, &mut v);
    v
}

#[test]
fn the_pattern_and_its_hash() {
    let mut v = vec![0u8; 300];
    pattern(0, &mut v);
    assert_eq!((v[0], v[250], v[251], v[299]), (0, 250, 0, 48));
    let mut w = vec![0u8; 100];
    pattern(200, &mut w);
    assert_eq!(w, v[200..]);
    assert!(is_pattern(200, &w));
    assert!(!is_pattern(201, &w));
    let big = pattern_of(200_000);
    assert!(is_pattern(0, &big));
    let mut h = Fnv::default();
    for piece in big.chunks(777) {
        h.update(piece);
    }
    assert_eq!(h.finish(), pattern_hash(200_000));
    // FNV-1a test vector.
    let mut a = Fnv::default();
    a.update(b"a");
    assert_eq!(a.finish(), 0xaf63_dc4c_8601_ec8c);
}

#[test]
fn keep_alive_serves_every_kind_of_body_on_one_connection() {
    let up = Upstream::start();
    let mut c = Client::connect(&up);

    let r = c.get("/bytes/100000");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("100000"));
    assert_eq!(r.body, pattern_of(100_000));

    let r = c.get("/chunked/10000?size=999&trailer=1");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.body, pattern_of(10_000));
    assert_eq!(
        r.trailers,
        format!("X-Body-Hash: {:016x}\r\n", pattern_hash(10_000))
    );

    let r = c.get("/status/204");
    assert_eq!((r.status, r.body.len()), (204, 0));
    let r = c.get("/status/503");
    assert_eq!((r.status, &r.body[..]), (503, &b"status 503"[..]));

    c.send(b"HEAD /bytes/5 HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response("HEAD");
    assert_eq!((r.header("content-length"), r.body.len()), (Some("5"), 0));

    c.send(b"GET /info HTTP/1.1\r\n\r\n");
    let first = c.head();
    assert!(
        first.starts_with("HTTP/1.1 103 Early Hints\r\nLink: "),
        "{first}"
    );
    let r = c.response("GET");
    assert_eq!((r.status, &r.body[..]), (200, &b"info"[..]));

    let r = c.get("/nowhere?x=1");
    assert_eq!(r.status, 404);

    // Two requests in one write: the first answer must not swallow the second request.
    c.send(b"GET /bytes/3 HTTP/1.1\r\n\r\nGET /headers HTTP/1.1\r\nX-Mark: 7\r\n\r\n");
    assert_eq!(c.response("GET").body, pattern_of(3));
    assert_eq!(
        c.response("GET").body,
        b"GET /headers HTTP/1.1\r\nX-Mark: 7\r\n\r\n"
    );

    assert_eq!(up.connections(), 1);
    assert_eq!(up.hits("/bytes/100000"), 1);
    assert_eq!(up.hits("/nowhere"), 1);
    let seen = up.requests();
    assert_eq!(seen.len(), 9);
    assert!(seen
        .iter()
        .all(|s| s.conn == 1 && s.complete && s.body_len == 0));
    assert_eq!(seen[1].target, "/chunked/10000?size=999&trailer=1");
    assert_eq!(seen[1].path, "/chunked/10000");
    assert_eq!(
        seen[0].head,
        b"GET /bytes/100000 HTTP/1.1\r\nHost: t\r\n\r\n"
    );
}

#[test]
fn echo_streams_bodies_back_and_records_them() {
    let up = Upstream::start();
    let mut c = Client::connect(&up);
    let body = pattern_of(300_000);

    // Written from another thread while this one reads: the echo answers as the body arrives.
    let mut w = c.w.try_clone().unwrap();
    let writer = {
        let body = body.clone();
        std::thread::spawn(move || {
            w.write_all(b"POST /echo HTTP/1.1\r\nContent-Length: 300000\r\n\r\n")?;
            w.write_all(&body)
        })
    };
    let r = c.response("POST");
    writer.join().unwrap().unwrap();
    assert_eq!(r.header("content-length"), Some("300000"));
    assert!(r.body == body);

    // Chunked, with Expect: the upstream says 100 Continue first and echoes chunked.
    c.send(b"PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(c.head(), "HTTP/1.1 100 Continue\r\n\r\n");
    c.send(b"5\r\nhello\r\n1;ext\r\n \r\n5\r\nworld\r\n0\r\nX-T: 1\r\n\r\n");
    let r = c.response("PUT");
    assert_eq!(r.body, b"hello world");

    assert!(up.wait_complete(2, IO));
    let seen = up.requests();
    assert_eq!(seen[0].body_len, 300_000);
    assert_eq!(seen[0].body_hash, pattern_hash(300_000));
    assert!(seen[0].body_is_pattern);
    let mut h = Fnv::default();
    h.update(b"hello world");
    assert_eq!((seen[1].body_len, seen[1].body_hash), (11, h.finish()));
    assert!(!seen[1].body_is_pattern);

    // A body sent to another path is read (not answered) and recorded too.
    c.send(b"POST /status/201 HTTP/1.1\r\nContent-Length: 4\r\n\r\n\x00\x01\x02\x03");
    assert_eq!(c.response("POST").status, 201);
    assert!(up.wait_complete(3, IO));
    assert!(up.requests()[2].body_is_pattern);
    assert_eq!(up.connections(), 1);
}

#[test]
fn rst_after_exactly_k_body_bytes() {
    let up = Upstream::start();
    let mut c = Client::connect(&up);
    c.send(b"GET /rst/1000/300 HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = c.head();
    assert!(head.contains("Content-Length: 1000\r\n"), "{head}");
    let (got, end) = c.read_to_end();
    assert_eq!(got, pattern_of(300));
    assert_eq!(
        end.expect_err("the connection must end with RST").kind(),
        io::ErrorKind::ConnectionReset
    );
    assert_eq!(up.hits("/rst/1000/300"), 1);
}

#[test]
fn fin_after_exactly_k_body_bytes() {
    let up = Upstream::start();
    let mut c = Client::connect(&up);
    c.send(b"GET /fin/1000/300 HTTP/1.1\r\nHost: t\r\n\r\n");
    c.head();
    let (got, end) = c.read_to_end();
    assert_eq!(got, pattern_of(300));
    end.expect("the connection must end with FIN");
}

#[test]
fn a_close_delimited_body_ends_with_fin() {
    let up = Upstream::start();
    let mut c = Client::connect(&up);
    c.send(b"GET /close/5000 HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = c.head();
    assert!(head.contains("Connection: close\r\n") && !head.contains("Content-Length"));
    let (got, end) = c.read_to_end();
    assert_eq!(got, pattern_of(5000));
    end.expect("FIN");
    // And a request that asks to close gets a FIN after its answer.
    let mut c = Client::connect(&up);
    c.send(b"GET /bytes/10 HTTP/1.1\r\nConnection: close\r\n\r\n");
    let r = c.response("GET");
    assert_eq!(r.header("connection"), Some("close"));
    let (rest, end) = c.read_to_end();
    assert!(rest.is_empty());
    end.expect("FIN");
}

#[test]
fn a_slow_head_is_counted_at_once_and_answered_late() {
    let up = Upstream::start();
    let mut c = Client::connect(&up);
    let start = Instant::now();
    c.send(b"GET /slow/400 HTTP/1.1\r\n\r\n");
    assert!(up.wait_hits("/slow/400", 1, IO));
    let r = c.response("GET");
    assert!(start.elapsed() >= Duration::from_millis(400));
    assert_eq!(r.body, b"slow");
}

#[test]
fn upgrade_then_raw_echo() {
    let up = Upstream::start();
    let mut c = Client::connect(&up);
    c.send(b"GET /chat HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    let r = c.response("GET");
    assert_eq!(r.status, 101);
    assert_eq!(r.header("upgrade"), Some("websocket"));
    c.send(b"\x81\x04ping not http\r\n\r\n");
    let mut back = [0u8; 19];
    c.r.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"\x81\x04ping not http\r\n\r\n");
    c.w.shutdown(Shutdown::Write).unwrap();
    let (rest, end) = c.read_to_end();
    assert!(rest.is_empty());
    end.expect("FIN after the client's FIN");
}

#[test]
fn a_large_body_streams() {
    let up = Upstream::start();
    let mut c = Client::connect(&up);
    let n: u64 = 64 << 20;
    c.send(format!("GET /bytes/{n} HTTP/1.1\r\n\r\n").as_bytes());
    c.head();
    let mut buf = vec![0u8; 1 << 16];
    let mut off = 0u64;
    while off < n {
        let k = c.r.read(&mut buf).unwrap();
        assert!(k > 0);
        assert!(is_pattern(off, &buf[..k]), "at {off}");
        off += k as u64;
    }
    assert_eq!(off, n);
    assert_eq!(c.get("/bytes/1").body, [0]);
}

#[test]
fn drop_stops_the_server() {
    let up = Upstream::start();
    let addr = up.addr();
    let mut idle = Client::connect(&up);
    assert_eq!(idle.get("/bytes/1").status, 200);
    let mut slow = Client::connect(&up);
    slow.send(b"GET /slow/60000 HTTP/1.1\r\n\r\n");
    assert!(up.wait_hits("/slow/60000", 1, IO));
    let start = Instant::now();
    drop(up);
    assert!(start.elapsed() < IO, "drop took {:?}", start.elapsed());
    // Open connections end (the slow one after at most its answer), and nothing listens.
    let (_, end) = idle.read_to_end();
    assert!(end.is_ok() || end.unwrap_err().kind() == io::ErrorKind::ConnectionReset);
    let (_, end) = slow.read_to_end();
    assert!(end.is_ok() || end.unwrap_err().kind() == io::ErrorKind::ConnectionReset);
    let err = TcpStream::connect_timeout(&addr, IO).expect_err("nothing listens after drop");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}
