//! WebSocket (RFC 6455): the handshake, echo, the closing handshake and every WebSocket step,
//! over real sockets. A raw client checks the bytes (the handshake's accept, frames cut
//! exactly at a message offset, the close codes the server sends for bad client frames, and
//! that the server goes on serving); real clients check what users see: Python `websockets`,
//! Node `ws` and Chromium's `WebSocket`, each running a batch of scenarios at once
//! (tests/ws/client.py, client.js, page.html) and asserting the messages that arrived, to the
//! message, and the close code or error each reports. docs/websocket.md's table is what these
//! tests assert.
//!
//! A missing client (target/venv, target/node from `make deps`, Chromium) skips its test
//! loudly; under CI=true (or HTTPFAULT_REQUIRE_BROWSER=1 for Chromium) it fails instead.

mod common;

use common::{ms, parse_json, present, run_cmd, Json, IO};
use httpfault::{End, Server};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// A raw client
// ---------------------------------------------------------------------------------------------

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// RFC 6455's example key and its accept value (section 1.3).
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn upgrade_request(target: &str, extra: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// A masked client frame.
fn client_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0xA1, 0x52, 0x07, 0xFE];
    let mut f = vec![b0];
    match payload.len() {
        n @ 0..=125 => f.push(0x80 | n as u8),
        n @ 126..=65535 => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// A server frame (unmasked), as the server must write it.
fn server_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![b0];
    match payload.len() {
        n @ 0..=125 => f.push(n as u8),
        n @ 126..=65535 => {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(payload);
    f
}

/// How a raw read ended.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Ending {
    Eof,
    Reset,
    Silent,
}

/// Connects, sends the upgrade request, reads the `101` head; returns the stream and head.
fn open(addr: SocketAddr, target: &str) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO)).unwrap();
    s.write_all(upgrade_request(target, "").as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).unwrap(), 1, "head so far: {head:?}");
        head.push(b[0]);
    }
    (s, String::from_utf8(head).unwrap())
}

/// Reads until the connection ends or stays silent for `quiet`.
fn read_all(s: &mut TcpStream, quiet: Duration) -> (Vec<u8>, Ending) {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    s.set_read_timeout(Some(quiet)).unwrap();
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, Ending::Eof),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (out, Ending::Reset),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (out, Ending::Silent)
            }
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Reads exactly `n` bytes.
fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    s.set_read_timeout(Some(IO)).unwrap();
    s.read_exact(&mut out).unwrap();
    out
}

/// The journal's entry of `target` once it ended.
fn entry(server: &Server, target: &str) -> httpfault::Request {
    let deadline = Instant::now() + IO;
    loop {
        let found = server
            .requests()
            .into_iter()
            .find(|r| r.target == target && r.end.is_some());
        if let Some(r) = found {
            return r;
        }
        assert!(Instant::now() < deadline, "no ended entry for {target}");
        std::thread::sleep(ms(20));
    }
}

// ---------------------------------------------------------------------------------------------
// The raw protocol
// ---------------------------------------------------------------------------------------------

#[test]
fn handshake_echo_ping_and_closing_handshake_on_the_wire() {
    let server = Server::start("ok").unwrap();
    let (mut s, head) = open(server.addr(), "/chat");
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!("\r\nSec-WebSocket-Accept: {ACCEPT}\r\n")),
        "{head}"
    );
    assert!(!head.to_ascii_lowercase().contains("sec-websocket-protocol"));
    // A text message in two fragments with a ping between, a binary one of 300 bytes.
    s.write_all(&client_frame(0x01, b"hel")).unwrap();
    s.write_all(&client_frame(0x89, b"p!")).unwrap();
    s.write_all(&client_frame(0x80, b"lo")).unwrap();
    let bin: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    s.write_all(&client_frame(0x82, &bin)).unwrap();
    let mut want = server_frame(0x8A, b"p!");
    want.extend(server_frame(0x81, b"hello"));
    want.extend(server_frame(0x82, &bin));
    assert_eq!(read_n(&mut s, want.len()), want);
    // Frames right behind the upgrade request, in the same write, are read too.
    let mut s2 = TcpStream::connect(server.addr()).unwrap();
    s2.set_read_timeout(Some(IO)).unwrap();
    let mut both = upgrade_request("/eager", "").into_bytes();
    both.extend(client_frame(0x81, b"early"));
    s2.write_all(&both).unwrap();
    let (got, _) = read_all(&mut s2, ms(1000));
    assert!(got.ends_with(&server_frame(0x81, b"early")), "{got:?}");
    // The client closes with 1000: the server answers with 1000 and a FIN.
    s.write_all(&client_frame(0x88, b"\x03\xe8done")).unwrap();
    let (rest, end) = read_all(&mut s, IO);
    assert_eq!(
        (rest, end),
        (server_frame(0x88, b"\x03\xe8done"), Ending::Eof)
    );
    let r = entry(&server, "/chat");
    assert_eq!((r.status, r.end), (101, Some(End::Complete)));
    let ws = r.ws.expect("ws stats");
    assert_eq!((ws.messages_in, ws.messages_out), (2, 2));
    assert_eq!((ws.close_sent, ws.close_received), (Some(1000), Some(1000)));
    assert!(
        r.to_json().contains(
            "\"ws\": {\"in\": 2, \"out\": 2, \"close_sent\": 1000, \"close_received\": 1000}"
        ),
        "{}",
        r.to_json()
    );
}

#[test]
fn bad_upgrades_get_400_and_ws_steps_need_an_upgrade() {
    let server = Server::start("ok").unwrap();
    let ask = |req: String| {
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(IO)).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        String::from_utf8_lossy(&got).into_owned()
    };
    let good = upgrade_request("/", "");
    for bad in [
        good.replace("Version: 13", "Version: 8"),
        good.replace(&format!("Sec-WebSocket-Key: {KEY}\r\n"), ""),
        good.replace(KEY, "c2hvcnQ="),
        good.replace("HTTP/1.1", "HTTP/1.0"),
    ] {
        let got = ask(bad);
        assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{got}");
        assert!(got.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{got}");
    }
    // A WebSocket step on a plain request: 400 naming the protocol.
    let got = ask("GET /ws-send=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into());
    assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{got}");
    assert!(
        got.contains("step 'ws-send' is WebSocket only (this request is HTTP/1.1)"),
        "{got}"
    );
    // `status=CODE` refuses the upgrade with CODE.
    let got = ask(upgrade_request("/status=403", "Connection: close\r\n"));
    assert!(got.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{got}");
}

#[test]
fn bad_client_frames_get_the_rfc_close_code_and_the_server_goes_on() {
    let server = Server::builder()
        .plan("ok")
        .ws_max_message(1000)
        .start()
        .unwrap();
    let mut unmasked = vec![0x81, 2];
    unmasked.extend_from_slice(b"hi");
    let mut huge = client_frame(0x82, &[]);
    huge[1] = 0x80 | 127;
    huge.splice(2..2, 2000u64.to_be_bytes());
    let mut split_utf8 = client_frame(0x01, b"\xe2\x82");
    split_utf8.extend(client_frame(0x80, b"x"));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unmasked", unmasked, 1002),
        ("rsv", client_frame(0xC1, b"hi"), 1002),
        ("opcode 3", client_frame(0x83, b""), 1002),
        ("ping of 126", client_frame(0x89, &[0; 126]), 1002),
        ("fragmented ping", client_frame(0x09, b""), 1002),
        ("continuation first", client_frame(0x80, b"x"), 1002),
        ("invalid utf-8", client_frame(0x81, b"\xff\xfe"), 1007),
        ("invalid utf-8 across fragments", split_utf8, 1007),
        ("over --ws-max-message", huge, 1009),
        ("close code 1005", client_frame(0x88, b"\x03\xed"), 1002),
    ];
    for (i, (what, frames, code)) in cases.into_iter().enumerate() {
        let target = format!("/bad{i}");
        let (mut s, _) = open(server.addr(), &target);
        s.write_all(&frames).unwrap();
        let (got, end) = read_all(&mut s, IO);
        assert_eq!(end, Ending::Eof, "{what}");
        assert!(got.len() >= 4 && got[0] == 0x88, "{what}: {got:?}");
        assert_eq!(u16::from_be_bytes([got[2], got[3]]), code, "{what}");
        let r = entry(&server, &target);
        assert_eq!(r.ws.unwrap().close_sent, Some(code), "{what}");
        // The server goes on serving: an echo on a new connection.
        let (mut s, _) = open(server.addr(), "/");
        s.write_all(&client_frame(0x81, b"still here")).unwrap();
        assert_eq!(
            read_n(&mut s, 12),
            server_frame(0x81, b"still here"),
            "{what}"
        );
    }
}

/// `reset=`, `close=`, `hang=` at `3msg` and `3msg+10`: the client gets exactly the frames of
/// 3 messages (and 10 bytes more), then the RST, the FIN or silence; `pause=` holds there.
#[test]
fn message_offsets_cut_the_server_frames_exactly() {
    let server = Server::start("ok").unwrap();
    // ws-send=5,20: five text messages of 20 bytes of filler.
    let filler = b"abcdefghijklmnopqrst";
    let three: Vec<u8> = (0..3).flat_map(|_| server_frame(0x81, filler)).collect();
    let cases = [
        ("reset=3msg", three.len(), Ending::Reset, End::Reset, 3),
        ("close=3msg", three.len(), Ending::Eof, End::Close, 3),
        (
            "close=3msg+10",
            three.len() + 10,
            Ending::Eof,
            End::Close,
            3,
        ),
        ("hang=3msg", three.len(), Ending::Silent, End::Hang, 3),
        // Byte offsets count frame bytes: 2 frames of 22 bytes, then 6 of the 3rd.
        ("reset=50", 50, Ending::Reset, End::Reset, 2),
    ];
    for (cut, n, ending, end, out) in cases {
        let target = format!("/ws-send=5,20/{cut}");
        let (mut s, _) = open(server.addr(), &target);
        let quiet = if ending == Ending::Silent {
            ms(1500)
        } else {
            IO
        };
        let (got, how) = read_all(&mut s, quiet);
        let all: Vec<u8> = (0..5).flat_map(|_| server_frame(0x81, filler)).collect();
        assert_eq!((got.as_slice(), how), (&all[..n], ending), "{cut}");
        let r = entry(&server, &target);
        assert_eq!(r.end, Some(end), "{cut}");
        assert_eq!(r.ws.unwrap().messages_out, out, "{cut}");
    }
    // A pause after the 2nd message.
    let (mut s, _) = open(server.addr(), "/ws-send=3/pause=2msg,600ms");
    let t0 = Instant::now();
    let first = read_n(&mut s, 6);
    let third = read_n(&mut s, 3);
    assert_eq!(first, [0x81, 1, b'1', 0x81, 1, b'2']);
    assert_eq!(third, [0x81, 1, b'3']);
    assert!(t0.elapsed() >= ms(550), "{:?}", t0.elapsed());
}

/// Every wait is bounded: no bytes either way for `--read-timeout` gets a close frame 1001,
/// and a client that never answers the server's close frame is closed `--read-timeout` later.
#[test]
fn idle_connections_and_unanswered_closes_end_in_bounded_time() {
    let server = Server::builder()
        .plan("ok")
        .read_timeout(ms(300))
        .start()
        .unwrap();
    let (mut s, _) = open(server.addr(), "/quiet");
    let t0 = Instant::now();
    let (got, end) = read_all(&mut s, IO);
    assert_eq!(
        (got, end),
        (server_frame(0x88, b"\x03\xe9idle"), Ending::Eof)
    );
    assert!(t0.elapsed() >= ms(500), "{:?}", t0.elapsed());
    let r = entry(&server, "/quiet");
    assert_eq!(
        (r.end, r.ws.unwrap().close_sent),
        (Some(End::Timeout), Some(1001))
    );
    // `idle=DUR` sets the bound for one connection.
    let (mut s, _) = open(server.addr(), "/idle=100ms");
    s.write_all(&client_frame(0x81, b"x")).unwrap();
    let mut want = server_frame(0x81, b"x");
    want.extend(server_frame(0x88, b"\x03\xe9idle"));
    assert_eq!(read_n(&mut s, want.len()), want);
    s.write_all(&client_frame(0x88, b"\x03\xe9")).unwrap();
    assert_eq!(read_all(&mut s, IO), (Vec::new(), Ending::Eof));
    let r = entry(&server, "/idle=100ms");
    assert_eq!(r.end, Some(End::Complete));
}

/// Large messages on their way in share the server's 64 MiB echo budget: a third client
/// announcing 30 MiB while two hold theirs gets 1013 (try again later), before any payload.
#[test]
fn large_messages_share_the_servers_echo_budget() {
    let server = Server::builder()
        .plan("ok")
        .ws_max_message(32 << 20)
        .start()
        .unwrap();
    let announce = |s: &mut TcpStream| {
        let mut f = vec![0x82, 0x80 | 127];
        f.extend_from_slice(&(30u64 << 20).to_be_bytes());
        f.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        s.write_all(&f).unwrap();
    };
    let mut conns: Vec<TcpStream> = (0..3).map(|_| open(server.addr(), "/").0).collect();
    for s in &mut conns {
        announce(s);
    }
    let mut refused = 0;
    for s in &mut conns {
        let (got, end) = read_all(s, ms(1500));
        match end {
            Ending::Silent => assert!(got.is_empty()),
            _ => {
                assert_eq!(
                    (got[0], &got[2..4], end),
                    (0x88, &b"\x03\xf5"[..], Ending::Eof)
                );
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 1);
}

/// Stopping the server ends every WebSocket connection at once, whatever it is doing.
#[test]
fn stopping_the_server_ends_open_websockets() {
    let server = Server::start("ok").unwrap();
    let mut held = Vec::new();
    for target in [
        "/",
        "/ws-send=1000,,1s",
        "/hang=1msg/ws-send=3",
        "/ws-send=3/pause=1msg,1m",
        "/ws-close-no-reply",
    ] {
        let (mut s, _) = open(server.addr(), target);
        if target == "/ws-close-no-reply" {
            s.write_all(&client_frame(0x88, b"\x03\xe8")).unwrap();
        }
        held.push(s);
    }
    std::thread::sleep(ms(300));
    let t0 = Instant::now();
    drop(server);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    for mut s in held {
        let (_, end) = read_all(&mut s, IO);
        assert_ne!(end, Ending::Silent);
    }
}

/// Proxy mode relays a WebSocket upgrade as a tunnel; `3msg` counts the upstream's messages.
#[test]
fn proxy_mode_counts_the_upstreams_websocket_messages() {
    let upstream = Server::start("ws-send=5,20").unwrap();
    let filler = b"abcdefghijklmnopqrst";
    let all: Vec<u8> = (0..5).flat_map(|_| server_frame(0x81, filler)).collect();
    for (plan, n, ending) in [
        ("close=3msg", 66, Ending::Eof),
        ("reset=3msg+10", 76, Ending::Reset),
        ("ok", 110, Ending::Silent),
    ] {
        let proxy = Server::builder()
            .upstream(&upstream.url())
            .plan(plan)
            .start()
            .unwrap();
        let (mut s, head) = open(proxy.addr(), "/");
        assert!(head.starts_with("HTTP/1.1 101 "), "{plan}: {head}");
        assert!(head.contains(ACCEPT), "{plan}: {head}");
        let (got, how) = read_all(&mut s, ms(1000));
        assert_eq!((got.as_slice(), how), (&all[..n], ending), "{plan}");
    }
}

/// A WebSocket upstream that answers the upgrade with a `101` and then only reads: the bytes
/// it got from the proxy and how its connection ended.
fn raw_upstream() -> (SocketAddr, std::thread::JoinHandle<(Vec<u8>, Ending)>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(IO)).unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(s.read(&mut b).unwrap(), 1, "request head so far: {head:?}");
            head.push(b[0]);
        }
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {ACCEPT}\r\n\r\n"
        );
        s.write_all(answer.as_bytes()).unwrap();
        // Late on purpose: what arrived before an RST is still read after it.
        std::thread::sleep(ms(200));
        read_all(&mut s, ms(1000))
    });
    (addr, t)
}

/// `up:` steps cut the client-to-upstream direction of a proxied tunnel exactly: the upstream
/// gets the client's first messages (and bytes) and the ending, and so does the client.
#[test]
fn proxy_mode_up_steps_cut_the_clients_messages_exactly() {
    let frames: Vec<u8> = [&b"hello"[..], b"world", b"third"]
        .iter()
        .flat_map(|m| client_frame(0x81, m))
        .collect();
    assert_eq!(frames.len(), 33);
    for (plan, n, up_end, client_end, end, ws_in) in [
        (
            "up:reset=2msg+3",
            25,
            Ending::Reset,
            Ending::Reset,
            End::Reset,
            2,
        ),
        ("up:close=2msg", 22, Ending::Eof, Ending::Eof, End::Close, 2),
        (
            "up:hang=1msg",
            11,
            Ending::Eof,
            Ending::Silent,
            End::Hang,
            1,
        ),
        ("up:close=30", 30, Ending::Eof, Ending::Eof, End::Close, 2),
        // Never reached: all of it goes up, and the upstream ends the tunnel (its FIN after a
        // silence).
        (
            "up:close=9msg",
            33,
            Ending::Silent,
            Ending::Eof,
            End::Complete,
            3,
        ),
    ] {
        let (addr, upstream) = raw_upstream();
        let proxy = Server::builder()
            .upstream(&format!("http://{addr}"))
            .plan(plan)
            .start()
            .unwrap();
        let (mut s, head) = open(proxy.addr(), "/");
        assert!(head.starts_with("HTTP/1.1 101 "), "{plan}: {head}");
        s.write_all(&frames).unwrap();
        let quiet = if client_end == Ending::Silent {
            ms(1000)
        } else {
            IO
        };
        let (got, how) = read_all(&mut s, quiet);
        assert_eq!((got.as_slice(), how), (&b""[..], client_end), "{plan}");
        let (up_got, up_how) = upstream.join().unwrap();
        assert_eq!(
            (up_got.as_slice(), up_how),
            (&frames[..n], up_end),
            "{plan}"
        );
        drop(s);
        let r = entry(&proxy, "/");
        assert_eq!(r.end, Some(end), "{plan}");
        assert_eq!(r.ws.unwrap().messages_in, ws_in, "{plan}");
    }
}

/// `up:close=2msg` through to a real WebSocket upstream (httpfault's echo): its journal says
/// it got exactly 2 messages; the client got the echo of the first and then a FIN with no
/// close frame (the cut comes as the 2nd message goes up, before its echo could come down).
#[test]
fn proxy_mode_up_close_delivers_exactly_two_messages_upstream() {
    let upstream = Server::start("ok").unwrap();
    let proxy = Server::builder()
        .upstream(&upstream.url())
        .plan("up:close=2msg")
        .start()
        .unwrap();
    let (mut s, _) = open(proxy.addr(), "/");
    s.write_all(&client_frame(0x81, b"m1")).unwrap();
    assert_eq!(read_n(&mut s, 4), server_frame(0x81, b"m1"));
    let rest = [client_frame(0x81, b"m2"), client_frame(0x81, b"m3")].concat();
    s.write_all(&rest).unwrap();
    assert_eq!(read_all(&mut s, IO), (Vec::new(), Ending::Eof));
    let up = entry(&upstream, "/").ws.unwrap();
    assert_eq!((up.messages_in, up.messages_out), (2, 2));
    let r = entry(&proxy, "/");
    assert_eq!(r.end, Some(End::Close));
    let ws = r.ws.unwrap();
    assert_eq!(
        (
            ws.messages_in,
            ws.messages_out,
            ws.close_sent,
            ws.close_received
        ),
        (2, 1, None, None)
    );
}

/// `up:pause=1msg,600ms` holds the client's second message (sent with the first in one write)
/// for the pause: its echo comes at least that late, the first one's at once.
#[test]
fn proxy_mode_up_pause_holds_the_clients_next_message() {
    let upstream = Server::start("ok").unwrap();
    let proxy = Server::builder()
        .upstream(&upstream.url())
        .plan("up:pause=1msg,600ms")
        .start()
        .unwrap();
    let (mut s, _) = open(proxy.addr(), "/");
    let t0 = Instant::now();
    let both = [client_frame(0x81, b"m1"), client_frame(0x81, b"m2")].concat();
    s.write_all(&both).unwrap();
    assert_eq!(read_n(&mut s, 4), server_frame(0x81, b"m1"));
    assert_eq!(read_n(&mut s, 4), server_frame(0x81, b"m2"));
    assert!(t0.elapsed() >= ms(600), "{:?}", t0.elapsed());
    // The client's FIN during the pause: what it held still goes up, then the FIN.
    let (addr, raw) = raw_upstream();
    let proxy = Server::builder()
        .upstream(&format!("http://{addr}"))
        .plan("up:pause=1msg,300ms")
        .start()
        .unwrap();
    let (mut s, _) = open(proxy.addr(), "/");
    s.write_all(&both).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(raw.join().unwrap(), (both, Ending::Eof));
}

/// The `up:` steps act on a proxied tunnel only: a plain request in proxy mode and a
/// WebSocket connection httpfault serves itself are answered `400` naming why.
#[test]
fn up_steps_are_refused_outside_a_proxied_tunnel() {
    let upstream = Server::start("ok").unwrap();
    let proxy = Server::builder()
        .upstream(&upstream.url())
        .plan("ok")
        .start()
        .unwrap();
    let mut s = TcpStream::connect(proxy.addr()).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Httpfault-Plan: up:close=2msg\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (got, _) = read_all(&mut s, IO);
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 400 "), "{got}");
    assert!(
        got.contains("step 'up:close' is a proxied WebSocket tunnel (proxy mode) only (this request is HTTP/1.1)"),
        "{got}"
    );
    let mut s = TcpStream::connect(upstream.addr()).unwrap();
    s.write_all(upgrade_request("/up:reset=1msg", "").as_bytes())
        .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let (got, _) = read_all(&mut s, IO);
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 400 "), "{got}");
    assert!(got.contains("(this request is WebSocket)"), "{got}");
}

#[test]
fn server_pings_fragments_close_and_bad_frames_on_the_wire() {
    let server = Server::start("ok").unwrap();
    // ws-frag=3: 10 bytes in frames of 3, 3, 4 with a ping between.
    let (mut s, _) = open(server.addr(), "/ws-send=1,10/ws-frag=3");
    let mut want = server_frame(0x01, b"abc");
    want.extend(server_frame(0x89, b"httpfault"));
    want.extend(server_frame(0x00, b"def"));
    want.extend(server_frame(0x89, b"httpfault"));
    want.extend(server_frame(0x80, b"ghij"));
    assert_eq!(read_n(&mut s, want.len()), want);
    // ws-ping: pings, over and over.
    let (mut s, _) = open(server.addr(), "/ws-ping=50ms");
    let ping = server_frame(0x89, b"httpfault");
    assert_eq!(
        read_n(&mut s, 2 * ping.len()),
        [ping.clone(), ping].concat()
    );
    // ws-close=1011,bye@2 after two echoes; then the FIN once the client answers.
    let (mut s, _) = open(server.addr(), "/ws-close=1011,bye@2");
    for m in [&b"a"[..], b"b", b"c"] {
        s.write_all(&client_frame(0x81, m)).unwrap();
    }
    let mut want = server_frame(0x81, b"a");
    want.extend(server_frame(0x81, b"b"));
    want.extend(server_frame(0x88, b"\x03\xf3bye"));
    assert_eq!(read_n(&mut s, want.len()), want);
    s.write_all(&client_frame(0x88, b"\x03\xf3")).unwrap();
    assert_eq!(read_all(&mut s, IO), (Vec::new(), Ending::Eof));
    let r = entry(&server, "/ws-close=1011,bye@2");
    let ws = r.ws.unwrap();
    assert_eq!((ws.messages_in, ws.messages_out), (3, 2));
    assert_eq!((ws.close_sent, ws.close_received), (Some(1011), Some(1011)));
    // ws-bad: each frame as the step reference says.
    let bad = [
        (
            "mask",
            vec![0x81, 0x83, 1, 2, 3, 4, b'b' ^ 1, b'a' ^ 2, b'd' ^ 3],
        ),
        ("rsv", vec![0xC1, 3, b'b', b'a', b'd']),
        ("opcode", vec![0x83, 3, b'b', b'a', b'd']),
        ("utf8", vec![0x81, 2, 0xFF, 0xFE]),
        ("frag", vec![0x80, 3, b'b', b'a', b'd']),
    ];
    for (kind, frame) in bad {
        let (mut s, _) = open(server.addr(), &format!("/ws-bad={kind}"));
        assert_eq!(read_n(&mut s, frame.len()), frame, "{kind}");
    }
    // ws-accept=bad and ws-protocol=NAME change the 101.
    let (_, head) = open(server.addr(), "/ws-accept=bad/ws-protocol=chat");
    assert!(!head.contains(ACCEPT), "{head}");
    assert!(head.contains("\r\nSec-WebSocket-Accept: "), "{head}");
    assert!(
        head.contains("\r\nSec-WebSocket-Protocol: chat\r\n"),
        "{head}"
    );
}

// ---------------------------------------------------------------------------------------------
// Real clients
// ---------------------------------------------------------------------------------------------

/// The scenarios every client runs at once: (name, scenario JSON without the name).
const SCENARIOS: &[(&str, &str)] = &[
    (
        "echo",
        r#""path": "/", "send": ["a", "b", "c"], "until": 3"#,
    ),
    (
        "close3",
        r#""path": "/close=3msg", "send": ["a", "b", "c", "d", "e"]"#,
    ),
    ("reset3", r#""path": "/ws-send=5,,200ms/reset=3msg""#),
    (
        "hang3",
        r#""path": "/hang=3msg", "send": ["a", "b", "c", "d", "e"], "timeout": 2000"#,
    ),
    (
        "cut10",
        r#""path": "/close=3msg+10", "send": ["0123456789abcdef", "0123456789abcdef", "0123456789abcdef", "0123456789abcdef"]"#,
    ),
    (
        "pause",
        r#""path": "/ws-send=3/pause=2msg,300ms", "until": 3"#,
    ),
    ("send", r#""path": "/ws-send=3", "until": 3"#),
    ("send-size", r#""path": "/ws-send=2,5,50ms", "until": 2"#),
    (
        "ws-close",
        r#""path": "/ws-close=1011,bye@2", "send": ["a", "b", "c", "d"]"#,
    ),
    (
        "frag",
        r#""path": "/ws-frag=3", "send": ["hello", "world"], "until": 2"#,
    ),
    ("big", r#""path": "/ws-big=2m", "until": 1"#),
    ("bad-utf8", r#""path": "/ws-bad=utf8""#),
    ("bad-mask", r#""path": "/ws-bad=mask""#),
    ("bad-rsv", r#""path": "/ws-bad=rsv""#),
    ("bad-opcode", r#""path": "/ws-bad=opcode""#),
    ("bad-len", r#""path": "/ws-bad=len""#),
    ("bad-control-len", r#""path": "/ws-bad=control-len""#),
    ("bad-frag", r#""path": "/ws-bad=frag""#),
    ("accept", r#""path": "/ws-accept=bad""#),
    ("protocol", r#""path": "/ws-protocol=chat""#),
    ("status", r#""path": "/status=403""#),
    (
        "no-reply",
        r#""path": "/ws-close-no-reply", "send": ["a"], "until": 1, "close_timeout": 1, "timeout": 2500"#,
    ),
    (
        "ping",
        r#""path": "/ws-ping=100ms/ws-send=1,,1s", "until": 2, "timeout": 2500"#,
    ),
    (
        "no-pong",
        r#""path": "/ws-pong=no", "ping_interval": 0.2, "ping_timeout": 0.3, "timeout": 2500"#,
    ),
];

fn scenarios_json() -> String {
    let all: Vec<String> = SCENARIOS
        .iter()
        .map(|(name, rest)| format!("{{\"name\": \"{name}\", {rest}}}"))
        .collect();
    format!("[{}]", all.join(", "))
}

/// One client's result of a scenario.
struct Saw<'a>(&'a Json);

impl Saw<'_> {
    fn got(&self) -> Vec<&str> {
        match self.0.get("got") {
            Some(Json::Arr(a)) => a
                .iter()
                .map(|v| match v {
                    Json::Str(s) => s.as_str(),
                    _ => "?",
                })
                .collect(),
            _ => panic!("no got in {:?}", self.0),
        }
    }
    fn num(&self, key: &str) -> Option<u16> {
        self.0.num(key).map(|n| n as u16)
    }
    fn str(&self, key: &str) -> Option<&str> {
        self.0.str(key)
    }
    fn flag(&self, key: &str) -> bool {
        matches!(self.0.get(key), Some(Json::Bool(true)))
    }
}

fn results(json: &Json) -> Vec<(String, &Json)> {
    match json {
        Json::Arr(a) => a
            .iter()
            .map(|r| (r.str("name").unwrap_or("").to_string(), r))
            .collect(),
        _ => panic!("not a list: {json:?}"),
    }
}

fn by_name<'a>(all: &'a [(String, &'a Json)], name: &str) -> Saw<'a> {
    Saw(all
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no result for {name}"))
        .1)
}

/// What every client sees alike: the messages of each scenario, exactly.
fn assert_messages(all: &[(String, &Json)], client: &str) {
    let want: &[(&str, &[&str])] = &[
        ("echo", &["a", "b", "c"]),
        ("close3", &["a", "b", "c"]),
        ("reset3", &["1", "2", "3"]),
        ("hang3", &["a", "b", "c"]),
        ("cut10", &["0123456789abcdef"; 3]),
        ("pause", &["1", "2", "3"]),
        ("send", &["1", "2", "3"]),
        ("send-size", &["abcde", "abcde"]),
        ("ws-close", &["a", "b"]),
        ("frag", &["hello", "world"]),
        ("no-reply", &["a"]),
    ];
    for (name, msgs) in want {
        assert_eq!(by_name(all, name).got(), *msgs, "{client}: {name}");
    }
    for name in [
        "bad-utf8",
        "bad-mask",
        "bad-rsv",
        "bad-opcode",
        "bad-len",
        "bad-control-len",
        "bad-frag",
        "accept",
        "protocol",
        "status",
        "no-pong",
    ] {
        assert_eq!(
            by_name(all, name).got(),
            Vec::<&str>::new(),
            "{client}: {name}"
        );
    }
    assert!(by_name(all, "hang3").flag("timeout"), "{client}: hang3");
}

/// A server for the clients: the scenarios' path plans, and the page for Chromium.
fn client_server() -> Server {
    let page = root().join("tests/ws/page.html");
    let page = page.to_str().unwrap().replace('/', "%2F");
    Server::builder()
        .plan("ok")
        .route(&format!(
            "GET /page.html file={page}/header=Content-Type:text%2Fhtml%3B%20charset%3Dutf-8"
        ))
        .start()
        .unwrap()
}

fn ws_base(server: &Server) -> String {
    format!("ws://{}", server.addr())
}

#[test]
fn python_websockets_sees_each_fault() {
    let py = root().join("target/venv/bin/python");
    let ok = py.exists()
        && Command::new(&py)
            .args(["-c", "import websockets"])
            .status()
            .is_ok_and(|s| s.success());
    if !present(ok, "target/venv with websockets (make deps)", false) {
        return;
    }
    let server = client_server();
    let (code, out, err) = run_cmd(
        Command::new(py)
            .arg(root().join("tests/ws/client.py"))
            .arg(ws_base(&server))
            .arg(scenarios_json()),
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let json = parse_json(out.trim()).unwrap();
    let all = results(&json);
    assert_messages(&all, "python");
    let s = |n: &str| by_name(&all, n);
    // Normal closes: the close frame received.
    for n in ["echo", "send", "frag", "pause", "send-size"] {
        assert_eq!(s(n).num("code"), Some(1000), "{n}");
    }
    // No close frame at all: 1006 (ConnectionClosedError without a received frame).
    for n in ["close3", "reset3", "cut10"] {
        assert_eq!(
            (s(n).num("code"), s(n).str("error")),
            (None, Some("ConnectionClosedError")),
            "{n}"
        );
    }
    assert_eq!(
        (s("ws-close").num("code"), s("ws-close").str("reason")),
        (Some(1011), Some("bye"))
    );
    // What the client closes with when the server's frame is bad.
    for (n, code) in [
        ("bad-utf8", 1007),
        ("bad-mask", 1002),
        ("bad-rsv", 1002),
        ("bad-opcode", 1002),
        ("bad-len", 1009),
        ("bad-control-len", 1002),
        ("bad-frag", 1002),
        ("big", 1009),
        ("no-pong", 1011),
    ] {
        assert_eq!(s(n).num("sent"), Some(code), "{n}");
    }
    assert_eq!(s("accept").str("error"), Some("InvalidHeaderValue"));
    assert_eq!(s("protocol").str("error"), Some("NegotiationError"));
    assert_eq!(
        (s("status").str("error"), s("status").num("status")),
        (Some("InvalidStatus"), Some(403))
    );
    // The closing handshake timed out: 1006, and the journal says the server hung.
    assert_eq!(s("no-reply").num("code"), Some(1006));
    assert!(s("ping").flag("timeout"), "ping: the stream stays open");
    let r = entry(&server, "/ws-close-no-reply");
    assert_eq!(
        (r.end, r.ws.unwrap().close_received),
        (Some(End::Hang), Some(1000))
    );
}

/// Python `websockets` through proxy mode: `reset=3msg` delivers exactly the upstream's first 3
/// messages, then the connection fails without a close frame (1006); a healthy tunnel's
/// journal entry has the same `ws` counts as the upstream's own.
#[test]
fn python_websockets_through_a_proxied_tunnel() {
    let py = root().join("target/venv/bin/python");
    let ok = py.exists()
        && Command::new(&py)
            .args(["-c", "import websockets"])
            .status()
            .is_ok_and(|s| s.success());
    if !present(ok, "target/venv with websockets (make deps)", false) {
        return;
    }
    let upstream = Server::start("ok").unwrap();
    let run = |plan: &str, scenario: &str| {
        let proxy = Server::builder()
            .upstream(&upstream.url())
            .plan(plan)
            .start()
            .unwrap();
        let (code, out, err) = run_cmd(
            Command::new(&py)
                .arg(root().join("tests/ws/client.py"))
                .arg(ws_base(&proxy))
                .arg(format!("[{scenario}]")),
            Duration::from_secs(30),
        );
        assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
        (proxy, parse_json(out.trim()).unwrap())
    };
    let (proxy, json) = run(
        "reset=3msg",
        r#"{"name": "reset3", "path": "/ws-send=5", "until": 0}"#,
    );
    let all = results(&json);
    let s = by_name(&all, "reset3");
    assert_eq!(s.got(), ["1", "2", "3"]);
    assert_eq!(
        (s.num("code"), s.str("error")),
        (None, Some("ConnectionClosedError"))
    );
    let r = entry(&proxy, "/ws-send=5");
    assert_eq!((r.end, r.ws.unwrap().messages_out), (Some(End::Reset), 3));

    let (proxy, json) = run(
        "ok",
        r#"{"name": "echo", "path": "/", "send": ["x", "y"], "until": 2}"#,
    );
    let all = results(&json);
    assert_eq!(by_name(&all, "echo").got(), ["x", "y"]);
    assert_eq!(by_name(&all, "echo").num("code"), Some(1000));
    let want = httpfault::WsStats {
        messages_in: 2,
        messages_out: 2,
        close_sent: Some(1000),
        close_received: Some(1000),
    };
    assert_eq!(entry(&proxy, "/").ws, Some(want));
    assert_eq!(entry(&upstream, "/").ws, Some(want));
}

/// `wss://`: the same connection inside TLS (offsets count plaintext frame bytes).
#[cfg(feature = "tls")]
#[test]
fn python_websockets_over_tls_counts_messages_alike() {
    let py = root().join("target/venv/bin/python");
    if !present(py.exists(), "target/venv (make deps)", false) {
        return;
    }
    let server = Server::builder().plan("ok").tls().start().unwrap();
    let ca = std::env::temp_dir().join(format!("httpfault-ws-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, server.ca_pem().unwrap()).unwrap();
    let scenarios = r#"[{"name": "close3", "path": "/close=3msg", "send": ["a", "b", "c", "d", "e"]},
        {"name": "ws-close", "path": "/ws-close=1011,bye@2", "send": ["a", "b", "c", "d"]}]"#;
    let (code, out, err) = run_cmd(
        Command::new(py)
            .arg(root().join("tests/ws/client.py"))
            .arg(format!("wss://{}", server.addr()))
            .arg(scenarios)
            .arg(&ca),
        Duration::from_secs(60),
    );
    let _ = std::fs::remove_file(&ca);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let json = parse_json(out.trim()).unwrap();
    let all = results(&json);
    let s = |n: &str| by_name(&all, n);
    assert_eq!(
        (s("close3").got(), s("close3").num("code")),
        (vec!["a", "b", "c"], None)
    );
    assert_eq!(s("ws-close").got(), ["a", "b"]);
    assert_eq!(
        (s("ws-close").num("code"), s("ws-close").str("reason")),
        (Some(1011), Some("bye"))
    );
    assert!(entry(&server, "/close=3msg").tls);
}

#[test]
fn node_ws_sees_each_fault() {
    let ok = root().join("target/node/node_modules/ws").is_dir();
    if !present(ok, "the ws package in target/node (make deps)", false) {
        return;
    }
    let server = client_server();
    let (code, out, err) = run_cmd(
        Command::new("node")
            .arg(root().join("tests/ws/client.js"))
            .arg(ws_base(&server))
            .arg(scenarios_json())
            .env("NODE_PATH", root().join("target/node/node_modules")),
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let json = parse_json(out.trim()).unwrap();
    let all = results(&json);
    assert_messages(&all, "node");
    let s = |n: &str| by_name(&all, n);
    for n in ["echo", "send", "frag", "pause", "send-size", "big"] {
        assert_eq!(s(n).num("code"), Some(1000), "{n}");
    }
    assert_eq!(by_name(&all, "big").got(), ["len:2097152"]);
    for n in ["close3", "reset3", "cut10"] {
        assert_eq!(s(n).num("code"), Some(1006), "{n}");
    }
    assert_eq!(
        (s("ws-close").num("code"), s("ws-close").str("reason")),
        (Some(1011), Some("bye"))
    );
    for (n, err) in [
        ("bad-utf8", "WS_ERR_INVALID_UTF8"),
        ("bad-mask", "WS_ERR_UNEXPECTED_MASK"),
        ("bad-rsv", "WS_ERR_UNEXPECTED_RSV_1"),
        ("bad-opcode", "WS_ERR_INVALID_OPCODE"),
        ("bad-len", "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH"),
        ("bad-control-len", "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH"),
        ("bad-frag", "WS_ERR_INVALID_OPCODE"),
    ] {
        assert_eq!(
            (s(n).num("code"), s(n).str("error")),
            (Some(1006), Some(err)),
            "{n}"
        );
    }
    for n in ["accept", "protocol"] {
        assert_eq!(s(n).num("code"), Some(1006), "{n}");
        assert!(s(n).str("error").is_some(), "{n}");
    }
    assert_eq!(s("status").num("status"), Some(403));
    // Node's closing handshake waits 30 s: still waiting when the scenario ends.
    assert!(s("no-reply").flag("timeout"));
    let pings = s("ping").0.num("pings").unwrap_or(0.0);
    assert!(pings >= 5.0, "pings every 100ms for 2.5s: {pings}");
}

/// Chromium on PATH, with node and playwright-core from target/node (make deps).
fn browser() -> Option<PathBuf> {
    let require = std::env::var("HTTPFAULT_REQUIRE_BROWSER").as_deref() == Ok("1");
    let chromium = ["chromium", "chromium-browser"].iter().find_map(|b| {
        std::env::var_os("PATH")?
            .to_str()?
            .split(':')
            .map(|d| Path::new(d).join(b))
            .find(|p| p.is_file())
    });
    let node_ok = root()
        .join("target/node/node_modules/playwright-core")
        .is_dir();
    let ok = present(chromium.is_some(), "chromium", require)
        && present(
            node_ok,
            "playwright-core in target/node (make deps)",
            require,
        );
    ok.then(|| chromium.unwrap())
}

#[test]
fn chromium_websocket_sees_each_fault() {
    let Some(chromium) = browser() else {
        return;
    };
    let server = client_server();
    let query: String = scenarios_json()
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let url = format!("{}/page.html?s={query}", server.url());
    let (code, out, err) = run_cmd(
        Command::new("node")
            .arg(root().join("tests/ws/page.js"))
            .arg(&url)
            .arg("30000")
            .env("CHROMIUM", &chromium)
            .env("NODE_PATH", root().join("target/node/node_modules")),
        Duration::from_secs(90),
    );
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let json = parse_json(out.trim()).unwrap();
    assert!(
        matches!(json.get("finished"), Some(Json::Bool(true))),
        "{out}"
    );
    let all = results(json.get("results").unwrap());
    assert_messages(&all, "chromium");
    let s = |n: &str| by_name(&all, n);
    for n in ["echo", "send", "frag", "pause", "send-size", "big"] {
        assert_eq!(
            (s(n).num("code"), s(n).flag("clean")),
            (Some(1000), true),
            "{n}"
        );
    }
    assert_eq!(by_name(&all, "big").got(), ["len:2097152"]);
    for n in [
        "close3",
        "reset3",
        "cut10",
        "bad-utf8",
        "bad-mask",
        "bad-rsv",
        "bad-opcode",
        "bad-len",
        "bad-control-len",
        "bad-frag",
        "accept",
        "protocol",
        "status",
    ] {
        assert_eq!(
            (s(n).num("code"), s(n).flag("clean")),
            (Some(1006), false),
            "{n}"
        );
    }
    for n in ["bad-utf8", "bad-mask", "accept", "protocol", "status"] {
        assert!(s(n).flag("error"), "{n}: an error event");
    }
    assert_eq!(
        (s("ws-close").num("code"), s("ws-close").str("reason")),
        (Some(1011), Some("bye"))
    );
    assert!(
        s("no-reply").flag("timeout"),
        "the closing handshake still waits"
    );
}
