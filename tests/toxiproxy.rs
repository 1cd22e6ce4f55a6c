//! `httpfault toxiproxy` (issue 28): toxiproxy 2.x's API over real sockets, with real
//! upstreams; each toxic measured against what it promises. The real clients
//! (toxiproxy-node-client, toxiproxy-python) and the side-by-side comparison with toxiproxy
//! itself are in tests/toxiproxy_clients.rs.

mod common;

use common::{Server, IO};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn start() -> Server {
    let args: Vec<String> = ["toxiproxy", "--listen", "127.0.0.1:0", "--seed", "28"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    Server::start_exact(&args)
}

/// One API request (`Connection: close`): the status and the body.
fn api(server: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(server).unwrap();
    s.set_read_timeout(Some(IO)).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: test\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    let text = String::from_utf8_lossy(&got).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

/// The value of `"key":` in a JSON text (a string's contents, or a number or literal).
fn field(json: &str, key: &str) -> String {
    let pat = format!("\"{key}\":");
    let at = json
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + pat.len();
    let rest = json[at..].trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        s[..s.find('"').unwrap()].to_string()
    } else {
        rest[..rest.find([',', '}', ']']).unwrap_or(rest.len())].to_string()
    }
}

/// Creates a proxy to `upstream` on a free port; its address.
fn proxy(server: SocketAddr, name: &str, upstream: SocketAddr) -> SocketAddr {
    let body = format!(r#"{{"name":"{name}","listen":"127.0.0.1:0","upstream":"{upstream}"}}"#);
    let (status, body) = api(server, "POST", "/proxies", &body);
    assert_eq!(status, 201, "{body}");
    field(&body, "listen").parse().unwrap()
}

fn toxic(server: SocketAddr, name: &str, body: &str) -> String {
    let (status, got) = api(server, "POST", &format!("/proxies/{name}/toxics"), body);
    assert_eq!(status, 200, "{body}: {got}");
    got
}

/// An upstream that echoes each connection's bytes back until it closes.
struct Upstream {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn upstream(serve: fn(TcpStream)) -> Upstream {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    thread::spawn(move || {
        for s in l.incoming() {
            if flag.load(Ordering::SeqCst) {
                return;
            }
            if let Ok(s) = s {
                thread::spawn(move || serve(s));
            }
        }
    });
    Upstream { addr, stop }
}

fn echo(mut s: TcpStream) {
    let mut buf = [0u8; 65536];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 || s.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

/// Sends 100,000 known bytes, then closes.
fn source(mut s: TcpStream) {
    let _ = s.write_all(&pattern(100_000));
    let _ = s.shutdown(Shutdown::Write);
    let _ = s.read_to_end(&mut Vec::new());
}

/// Sends 100 bytes every 20 ms for 10 s.
fn drip(mut s: TcpStream) {
    let _ = s.set_nodelay(true);
    for _ in 0..500 {
        if s.write_all(&[b'd'; 100]).is_err() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO).unwrap();
    s.set_read_timeout(Some(IO)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads until EOF or an error: the bytes and the error's kind (None for EOF).
fn read_all(s: &mut TcpStream) -> (Vec<u8>, Option<ErrorKind>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, None),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, Some(e.kind())),
        }
    }
}

fn round_trip(s: &mut TcpStream, msg: &[u8]) -> Duration {
    let t = Instant::now();
    s.write_all(msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(got, msg);
    t.elapsed()
}

/// The journal's entries for connections, as JSON objects.
fn journal(server: SocketAddr, min: usize) -> Vec<String> {
    let (status, body) = api(
        server,
        "GET",
        &format!("/__httpfault/requests?min={min}&wait=10s&complete=1"),
        "",
    );
    assert_eq!(status, 200);
    body.split("{\"seq\"")
        .skip(1)
        .map(|e| format!("{{\"seq\"{e}"))
        .collect()
}

#[test]
fn endpoints_answer_with_toxiproxys_shapes_and_codes() {
    let s = start();
    let a = s.addr;
    let up = upstream(echo);
    let (status, body) = api(a, "GET", "/version", "");
    assert_eq!(status, 200);
    assert!(
        body.starts_with("{\"version\": \"2.12.0+httpfault."),
        "{body}"
    );
    assert_eq!(api(a, "GET", "/proxies", ""), (200, "{}".into()));
    let listen = proxy(a, "redis", up.addr);
    assert_ne!(listen.port(), 0, "the 201 body has the real port");
    let dup = format!(
        r#"{{"name":"redis","listen":"127.0.0.1:0","upstream":"{}"}}"#,
        up.addr
    );
    assert_eq!(
        api(a, "POST", "/proxies", &dup),
        (
            409,
            "{\"error\":\"proxy already exists\",\"status\":409}\n".into()
        )
    );
    assert_eq!(
        api(a, "POST", "/proxies", r#"{"upstream":"x:1"}"#),
        (
            400,
            "{\"error\":\"missing required field: name\",\"status\":400}\n".into()
        )
    );
    let (st, body) = api(a, "POST", "/proxies", r#"{"name":"x"}"#);
    assert_eq!(
        (st, field(&body, "error")),
        (400, "missing required field: upstream".into())
    );
    let (st, body) = api(a, "POST", "/proxies", r#"{"name":"x","upstream":5}"#);
    assert_eq!(st, 400);
    assert!(body.contains("'upstream' must be a string"), "{body}");
    let (st, body) = api(a, "POST", "/proxies", r#"{"name":"x","upstream":"#);
    assert_eq!(st, 400);
    assert!(
        body.contains("bad request body: malformed JSON at byte 23"),
        "{body}"
    );
    assert_eq!(
        api(a, "POST", "/proxies", ""),
        (
            400,
            "{\"error\":\"bad request body: EOF\",\"status\":400}\n".into()
        )
    );
    // A listen address that cannot be bound: toxiproxy's 500, naming the address.
    let (st, body) = api(
        a,
        "POST",
        "/proxies",
        r#"{"name":"x","listen":"192.0.2.1:80","upstream":"x:1"}"#,
    );
    assert_eq!(st, 500);
    assert!(body.contains("listen tcp 192.0.2.1:80: bind: "), "{body}");
    assert_eq!(api(a, "GET", "/proxies/x", "").0, 404);
    assert_eq!(
        api(a, "GET", "/proxies/nope", ""),
        (
            404,
            "{\"error\":\"proxy not found\",\"status\":404}\n".into()
        )
    );
    // Toxics: defaults, conflicts, bad input.
    let t = toxic(
        a,
        "redis",
        r#"{"type":"latency","attributes":{"latency":100}}"#,
    );
    assert_eq!(
        t,
        r#"{"attributes":{"latency":100,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}"#
    );
    let (st, body) = api(a, "POST", "/proxies/redis/toxics", r#"{"type":"latency"}"#);
    assert_eq!(
        (st, field(&body, "error")),
        (409, "toxic already exists".into())
    );
    let (st, body) = api(a, "POST", "/proxies/redis/toxics", r#"{"type":"nope"}"#);
    assert_eq!(st, 400);
    assert!(
        field(&body, "error").starts_with("invalid toxic type: 'nope'"),
        "{body}"
    );
    let (st, body) = api(
        a,
        "POST",
        "/proxies/redis/toxics",
        r#"{"type":"latency","name":"l2","stream":"sideways"}"#,
    );
    assert_eq!(
        (st, field(&body, "error")),
        (
            400,
            "stream was invalid, can be either upstream or downstream".into()
        )
    );
    for (attrs, named) in [
        (r#"{"latency":-5}"#, "attributes.latency"),
        (r#"{"latency":"x"}"#, "attributes.latency"),
        (r#"{"latency":1e99}"#, "attributes.latency"),
        (r#"{"jitter":86400001}"#, "attributes.jitter"),
        (r#"{"bogus":1}"#, "attributes.bogus"),
    ] {
        let body = format!(r#"{{"type":"latency","name":"l2","attributes":{attrs}}}"#);
        let (st, got) = api(a, "POST", "/proxies/redis/toxics", &body);
        assert_eq!(st, 400, "{body}: {got}");
        assert!(got.contains(named), "{body}: {got}");
    }
    let (st, got) = api(
        a,
        "POST",
        "/proxies/redis/toxics",
        r#"{"type":"latency","name":"l2","toxicity":1.5}"#,
    );
    assert!(st == 400 && got.contains("'toxicity'"), "{got}");
    toxic(
        a,
        "redis",
        r#"{"type":"slicer","stream":"upstream","toxicity":0.5}"#,
    );
    let (st, list) = api(a, "GET", "/proxies/redis/toxics", "");
    assert_eq!(st, 200);
    assert!(list.starts_with(r#"[{"attributes":{"average_size":1,"size_variation":0,"delay":0},"name":"slicer_upstream""#), "upstream first: {list}");
    let (st, got) = api(
        a,
        "PATCH",
        "/proxies/redis/toxics/latency_downstream",
        r#"{"attributes":{"jitter":2},"toxicity":0.3}"#,
    );
    assert_eq!(st, 200);
    assert_eq!(
        got,
        r#"{"attributes":{"latency":100,"jitter":2},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":0.3}"#
    );
    let (st, got) = api(
        a,
        "POST",
        "/proxies/redis/toxics/latency_downstream",
        r#"{"attributes":{"latency":7}}"#,
    );
    assert_eq!((st, field(&got, "latency")), (200, "7".into()));
    assert_eq!(
        api(a, "GET", "/proxies/redis/toxics/latency_downstream", "").0,
        200
    );
    assert_eq!(
        api(a, "GET", "/proxies/redis/toxics/zz", ""),
        (
            404,
            "{\"error\":\"toxic not found\",\"status\":404}\n".into()
        )
    );
    assert_eq!(api(a, "PATCH", "/proxies/redis/toxics/zz", "{}").0, 404);
    assert_eq!(
        api(a, "DELETE", "/proxies/redis/toxics/latency_downstream", "").0,
        204
    );
    assert_eq!(
        api(a, "DELETE", "/proxies/redis/toxics/latency_downstream", "").0,
        404
    );
    // Proxy updates, by POST (older clients) and PATCH.
    let (st, got) = api(a, "POST", "/proxies/redis", r#"{"enabled":false}"#);
    assert_eq!((st, field(&got, "enabled")), (200, "false".into()));
    assert_eq!(
        field(&got, "listen"),
        listen.to_string(),
        "a disabled proxy keeps its address"
    );
    let (st, got) = api(a, "PATCH", "/proxies/redis", r#"{"enabled":true}"#);
    assert_eq!((st, field(&got, "enabled")), (200, "true".into()));
    let (st, got) = api(a, "PATCH", "/proxies/redis", r#"{"enabled":"yes"}"#);
    assert!(st == 400 && got.contains("'enabled'"), "{got}");
    let (st, got) = api(a, "PATCH", "/proxies/redis", "[]");
    assert!(st == 400 && got.contains("expected an object"), "{got}");
    // Routing: unknown paths, wrong methods, browsers.
    assert_eq!(
        api(a, "GET", "/nothing", ""),
        (404, "404 page not found\n".into())
    );
    assert_eq!(api(a, "PUT", "/proxies/redis", "").0, 405);
    assert_eq!(api(a, "POST", "/version", "").0, 405);
    let mut b = TcpStream::connect(a).unwrap();
    b.write_all(
        b"GET /version HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut got = String::new();
    b.read_to_string(&mut got).unwrap();
    assert!(got.starts_with("HTTP/1.1 403"), "{got}");
    // Populate: checked first, then made; replaced when they differ.
    let body = format!(
        r#"[{{"name":"redis","listen":"{listen}","upstream":"{}"}},{{"name":"p2","listen":"127.0.0.1:0","upstream":"{}","enabled":false}}]"#,
        up.addr, up.addr
    );
    let (st, got) = api(a, "POST", "/populate", &body);
    assert_eq!(st, 201, "{got}");
    assert!(
        got.starts_with("{\"proxies\":[{\"name\":\"redis\""),
        "{got}"
    );
    assert!(
        got.contains("\"slicer_upstream\""),
        "an unchanged proxy keeps its toxics: {got}"
    );
    let (st, got) = api(
        a,
        "POST",
        "/populate",
        r#"[{"name":"p3","upstream":"x:1"},{"upstream":"x"}]"#,
    );
    assert_eq!(st, 400);
    assert_eq!(
        field(&got, "error"),
        "missing required field: name at proxy 2"
    );
    assert_eq!(
        api(a, "GET", "/proxies/p3", "").0,
        404,
        "nothing made when one entry is bad"
    );
    assert_eq!(api(a, "POST", "/populate", r#"{"name":"p3"}"#).0, 400);
    assert_eq!(
        api(a, "POST", "/populate", "[]"),
        (201, "{\"proxies\":[]}".into())
    );
    // Reset: every proxy enabled, every toxic gone.
    assert_eq!(api(a, "POST", "/reset", ""), (204, String::new()));
    let (_, all) = api(a, "GET", "/proxies", "");
    assert!(all.starts_with("{\"p2\":{\"name\":\"p2\""), "{all}");
    assert!(
        !all.contains("\"enabled\":false") && !all.contains("slicer"),
        "{all}"
    );
    assert_eq!(api(a, "DELETE", "/proxies/p2", "").0, 204);
    assert_eq!(api(a, "DELETE", "/proxies/p2", "").0, 404);
    // Bodies are bounded.
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(1_100_000));
    assert_eq!(api(a, "POST", "/proxies", &big).0, 413);
    let deep = "[".repeat(100);
    let (st, got) = api(a, "POST", "/populate", &deep);
    assert!(st == 400 && got.contains("nested too deeply"), "{got}");
    // The server went on through all of it.
    assert_eq!(api(a, "GET", "/proxies/redis", "").0, 200);
}

#[test]
fn proxies_and_toxics_are_bounded() {
    let s = start();
    let up = upstream(echo);
    for i in 0..64 {
        toxic_ok(s.addr, "p", up.addr, i);
    }
    let (st, got) = api(
        s.addr,
        "POST",
        "/proxies/p/toxics",
        r#"{"type":"latency","name":"one-more"}"#,
    );
    assert!(st == 400 && got.contains("too many toxics"), "{got}");
}

fn toxic_ok(a: SocketAddr, p: &str, up: SocketAddr, i: usize) {
    if i == 0 {
        proxy(a, p, up);
    }
    toxic(a, p, &format!(r#"{{"type":"latency","name":"t{i}"}}"#));
}

#[test]
fn a_disabled_proxy_refuses_connections_and_closes_its_open_ones() {
    let s = start();
    let up = upstream(echo);
    let p = proxy(s.addr, "db", up.addr);
    let mut c = connect(p);
    round_trip(&mut c, b"ping");
    let t = Instant::now();
    let (st, _) = api(s.addr, "POST", "/proxies/db", r#"{"enabled":false}"#);
    assert_eq!(st, 200);
    let (got, _) = read_all(&mut c);
    assert!(got.is_empty());
    assert!(t.elapsed() < Duration::from_secs(5));
    let refused = TcpStream::connect_timeout(&p, IO).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    api(s.addr, "POST", "/proxies/db", r#"{"enabled":true}"#);
    let mut c = connect(p);
    round_trip(&mut c, b"again");
}

#[test]
fn latency_with_jitter_stays_within_its_bound_over_200_chunks() {
    let s = start();
    let up = upstream(echo);
    let p = proxy(s.addr, "j", up.addr);
    toxic(
        s.addr,
        "j",
        r#"{"type":"latency","attributes":{"latency":40,"jitter":15}}"#,
    );
    let mut c = connect(p);
    let mut delays = Vec::new();
    for i in 0..200u32 {
        delays.push(round_trip(&mut c, &i.to_be_bytes()));
    }
    let min = *delays.iter().min().unwrap();
    let max = *delays.iter().max().unwrap();
    // Never early (the lower bound is exact); late only by the machine's noise.
    assert!(min >= Duration::from_millis(25), "{min:?}");
    assert!(
        delays
            .iter()
            .filter(|d| **d <= Duration::from_millis(70))
            .count()
            >= 180,
        "{delays:?}"
    );
    assert!(
        max - min >= Duration::from_millis(15),
        "jitter spreads the delays: {min:?}..{max:?}"
    );
    let mean = delays.iter().sum::<Duration>() / 200;
    assert!(
        mean >= Duration::from_millis(33) && mean <= Duration::from_millis(60),
        "{mean:?}"
    );
}

#[test]
fn bandwidth_is_within_ten_percent() {
    let s = start();
    let up = upstream(source);
    let p = proxy(s.addr, "bw", up.addr);
    toxic(
        s.addr,
        "bw",
        r#"{"type":"bandwidth","attributes":{"rate":50}}"#,
    );
    let mut c = connect(p);
    let t = Instant::now();
    let (got, err) = read_all(&mut c);
    let took = t.elapsed().as_secs_f64();
    assert_eq!((got, err), (pattern(100_000), None));
    // 100,000 bytes at 50 KB/s: 2 s.
    let rate = 100_000.0 / took / 1000.0;
    assert!(
        (45.0..=55.0).contains(&rate),
        "{rate:.1} KB/s in {took:.2} s"
    );
}

#[test]
fn limit_data_delivers_exactly_its_bytes_then_closes() {
    let s = start();
    let up = upstream(source);
    let p = proxy(s.addr, "lim", up.addr);
    toxic(
        s.addr,
        "lim",
        r#"{"type":"limit_data","attributes":{"bytes":12345}}"#,
    );
    let mut c = connect(p);
    let (got, err) = read_all(&mut c);
    assert_eq!(err, None, "a FIN");
    assert_eq!(got, pattern(12_345));
    let e = &journal(s.addr, 1)[0];
    assert_eq!(field(e, "bytes"), "12345");
    assert_eq!(field(e, "end"), "close");
    assert!(
        e.contains("\"proxy\": \"lim\", \"toxics\": [\"limit_data_downstream\"]"),
        "{e}"
    );
}

#[test]
fn reset_peer_resets_after_exactly_the_bytes_it_let_through() {
    let s = start();
    let up = upstream(drip);
    let p = proxy(s.addr, "rp", up.addr);
    toxic(
        s.addr,
        "rp",
        r#"{"type":"reset_peer","attributes":{"timeout":300}}"#,
    );
    let mut c = connect(p);
    let t = Instant::now();
    let (got, err) = read_all(&mut c);
    assert_eq!(err, Some(ErrorKind::ConnectionReset));
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert!(!got.is_empty() && got.iter().all(|b| *b == b'd'));
    let e = &journal(s.addr, 1)[0];
    assert_eq!(field(e, "end"), "reset");
    assert_eq!(
        field(e, "bytes"),
        got.len().to_string(),
        "every byte relayed arrived: {e}"
    );
    // timeout 0: the reset comes with the first chunk, none of it delivered.
    api(
        s.addr,
        "PATCH",
        "/proxies/rp/toxics/reset_peer_downstream",
        r#"{"attributes":{"timeout":0}}"#,
    );
    let mut c = connect(p);
    let (got, err) = read_all(&mut c);
    assert_eq!((got.len(), err), (0, Some(ErrorKind::ConnectionReset)));
}

#[test]
fn toxicity_one_half_applies_to_about_half_the_connections() {
    let s = start();
    let up = upstream(source);
    let p = proxy(s.addr, "half", up.addr);
    toxic(
        s.addr,
        "half",
        r#"{"type":"limit_data","toxicity":0.5,"attributes":{"bytes":1}}"#,
    );
    let mut hit = 0;
    for _ in 0..400 {
        let mut c = connect(p);
        let (got, _) = read_all(&mut c);
        match got.len() {
            1 => hit += 1,
            100_000 => {}
            n => panic!("{n} bytes"),
        }
    }
    assert!((160..=240).contains(&hit), "{hit} of 400");
}

#[test]
fn timeout_holds_the_bytes_then_closes_and_drops_none() {
    let s = start();
    let up = upstream(echo);
    let p = proxy(s.addr, "to", up.addr);
    toxic(
        s.addr,
        "to",
        r#"{"type":"timeout","attributes":{"timeout":300}}"#,
    );
    let mut c = connect(p);
    let t = Instant::now();
    c.write_all(b"lost?").unwrap();
    let (got, err) = read_all(&mut c);
    assert_eq!((got.len(), err), (0, None), "nothing, then a FIN");
    assert!(t.elapsed() >= Duration::from_millis(300));
    // timeout 0: held until the toxic goes; then the bytes arrive (toxiproxy drops them).
    api(
        s.addr,
        "PATCH",
        "/proxies/to/toxics/timeout_downstream",
        r#"{"attributes":{"timeout":0}}"#,
    );
    let mut c = connect(p);
    c.write_all(b"held").unwrap();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(c.read(&mut buf).is_err(), "held while the toxic is there");
    api(
        s.addr,
        "DELETE",
        "/proxies/to/toxics/timeout_downstream",
        "",
    );
    c.set_read_timeout(Some(IO)).unwrap();
    let mut got = [0u8; 4];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"held");
}

#[test]
fn slow_close_delays_the_fin() {
    let s = start();
    let up = upstream(source);
    let p = proxy(s.addr, "sc", up.addr);
    toxic(
        s.addr,
        "sc",
        r#"{"type":"slow_close","attributes":{"delay":400}}"#,
    );
    let mut c = connect(p);
    let t = Instant::now();
    let (got, err) = read_all(&mut c);
    assert_eq!((got.len(), err), (100_000, None));
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn slicer_cuts_writes_of_its_size_with_its_delay() {
    let s = start();
    let up = upstream(source);
    let p = proxy(s.addr, "sl", up.addr);
    toxic(
        s.addr,
        "sl",
        r#"{"type":"slicer","attributes":{"average_size":1000,"size_variation":200,"delay":10000}}"#,
    );
    let mut c = connect(p);
    let t = Instant::now();
    let mut reads = Vec::new();
    let mut buf = [0u8; 65536];
    let mut got = Vec::new();
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                reads.push(n);
                got.extend_from_slice(&buf[..n]);
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got, pattern(100_000));
    // About 100 slices of 800-1200 bytes, 10 ms apart.
    assert!(
        t.elapsed() >= Duration::from_millis(800),
        "{:?}",
        t.elapsed()
    );
    let small = reads.iter().filter(|n| **n <= 1200).count();
    assert!(small * 10 >= reads.len() * 8, "{reads:?}");
    assert!(
        reads.iter().any(|n| *n != reads[0]),
        "sizes vary: {reads:?}"
    );
}

#[test]
fn the_httpfault_toxic_runs_any_tcp_plan_exactly() {
    let s = start();
    let up = upstream(source);
    let p = proxy(s.addr, "hf", up.addr);
    let (st, got) = api(
        s.addr,
        "POST",
        "/proxies/hf/toxics",
        r#"{"type":"httpfault","attributes":{"plan":"rest=1"}}"#,
    );
    assert!(
        st == 400 && got.contains("attributes.plan") && got.contains("rest"),
        "{got}"
    );
    toxic(
        s.addr,
        "hf",
        r#"{"type":"httpfault","attributes":{"plan":"reset=54321"}}"#,
    );
    let mut c = connect(p);
    let (got, err) = read_all(&mut c);
    assert_eq!(err, Some(ErrorKind::ConnectionReset));
    assert_eq!(got, pattern(54_321));
}

#[test]
fn toxics_changed_at_run_time_apply_to_live_connections() {
    let s = start();
    let up = upstream(echo);
    let p = proxy(s.addr, "live", up.addr);
    let mut c = connect(p);
    // The best of a few round trips: one alone can be slow on a loaded machine.
    let before = (0..3).map(|_| round_trip(&mut c, b"a")).min().unwrap();
    assert!(before < Duration::from_millis(250), "{before:?}");
    toxic(
        s.addr,
        "live",
        r#"{"type":"latency","attributes":{"latency":300}}"#,
    );
    assert!(round_trip(&mut c, b"b") >= Duration::from_millis(300));
    api(
        s.addr,
        "PATCH",
        "/proxies/live/toxics/latency_downstream",
        r#"{"attributes":{"latency":600}}"#,
    );
    assert!(round_trip(&mut c, b"c") >= Duration::from_millis(600));
    api(
        s.addr,
        "DELETE",
        "/proxies/live/toxics/latency_downstream",
        "",
    );
    let fast = (0..5).map(|_| round_trip(&mut c, b"d")).min().unwrap();
    assert!(fast < Duration::from_millis(250), "{fast:?}");
    toxic(
        s.addr,
        "live",
        r#"{"type":"limit_data","attributes":{"bytes":3}}"#,
    );
    c.write_all(b"12345").unwrap();
    let (got, _) = read_all(&mut c);
    assert_eq!(got, b"123", "offsets count from when the toxic came");
}

#[test]
fn metrics_count_connections_bytes_and_endings_per_proxy() {
    let s = start();
    let up = upstream(source);
    let p = proxy(s.addr, "m", up.addr);
    toxic(
        s.addr,
        "m",
        r#"{"type":"limit_data","attributes":{"bytes":10}}"#,
    );
    let mut c = connect(p);
    read_all(&mut c);
    journal(s.addr, 1);
    let (_, m) = api(s.addr, "GET", "/__httpfault/metrics", "");
    assert!(
        m.contains("httpfault_toxiproxy_connections_total{proxy=\"m\",end=\"close\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("httpfault_toxiproxy_bytes_total{proxy=\"m\",stream=\"downstream\"} 10"),
        "{m}"
    );
    assert!(m.contains("httpfault_toxiproxy_toxic_connections_total{proxy=\"m\",toxic=\"limit_data_downstream\"} 1"), "{m}");
}

#[test]
fn the_command_line_keeps_its_contract() {
    // The containers' command line, and the exit codes.
    let exact =
        |a: &[&str]| common::run_exact(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let f = exact(&["toxiproxy", "--listen", "0.0.0.0:0", "--bogus"]);
    assert_eq!(f.status.code(), Some(2), "{}", f.describe());
    assert!(f
        .stderr_lines()
        .iter()
        .any(|l| l.starts_with("httpfault: error: unknown option '--bogus'")));
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let f = exact(&["toxiproxy", "--listen", &addr]);
    assert_eq!(f.status.code(), Some(1), "{}", f.describe());
    let args: Vec<String> = ["toxiproxy", "--listen", "0.0.0.0:0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut s = Server::start_exact(&args);
    let local = SocketAddr::from(([127, 0, 0, 1], s.port()));
    assert_eq!(api(local, "GET", "/proxies", "").0, 200);
    s.signal("TERM");
    assert_eq!(s.wait_exit(common::EXIT).and_then(|st| st.code()), Some(0));
}
