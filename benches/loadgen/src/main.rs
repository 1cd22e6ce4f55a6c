//! loadgen: a small std-only load client for the httpfault benchmarks.
//!
//! Every subcommand prints exactly one summary line of `key=value` fields on stdout
//! (`hold` prints two: `opened ...` and `alive ...`), so benches/run.sh can parse it.
//! Human-oriented notes go to stderr. Everything is bounded in time and count.
//!
//! ```text
//! loadgen classic   ADDR [-c 32] [-d 5s] [--path /]
//! loadgen keepalive ADDR [-c 32] [-d 5s] [-n N] [--path /]   (-n: at most N requests per connection)
//! loadgen latency   ADDR [-c 200] [-n 2000] [--path /] [--base 100ms]
//! loadgen hold      ADDR [-n 5000] [--path /] [--settle 1s] [--hold-for 120s] [--probe PATH] [--ignore-stdin] [--ws]
//! loadgen ws        ADDR [-c 1] [-d 5s] [-n N] [--path /] [--window 1] [--size 64] [--epoll THREADS]
//! loadgen startup   [-n 20] --port PORT [--timeout 5s] -- CMD [ARGS...]
//! ```

use std::io::{self, BufRead, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// tiny libc shims (std only: no libc crate)

#[repr(C)]
struct Linger {
    l_onoff: i32,
    l_linger: i32,
}

extern "C" {
    fn setsockopt(fd: i32, level: i32, name: i32, val: *const core::ffi::c_void, len: u32) -> i32;
}

const SOL_SOCKET: i32 = 1;
const SO_LINGER: i32 = 13;

/// Close with an RST (SO_LINGER 0) so that no TIME_WAIT is left behind on either side.
fn set_linger0(s: &TcpStream) {
    let l = Linger {
        l_onoff: 1,
        l_linger: 0,
    };
    unsafe {
        setsockopt(
            s.as_raw_fd(),
            SOL_SOCKET,
            SO_LINGER,
            &l as *const Linger as *const core::ffi::c_void,
            std::mem::size_of::<Linger>() as u32,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// argument parsing

struct Args {
    pos: Vec<String>,
    conc: Option<usize>,
    dur: Option<Duration>,
    n: Option<usize>,
    path: String,
    base: Duration,
    settle: Duration,
    hold_for: Duration,
    probe: Option<String>,
    ignore_stdin: bool,
    ws: bool,
    epoll: Option<usize>,
    window: usize,
    size: usize,
    port: Option<u16>,
    timeout: Duration,
    cmd: Vec<String>,
}

fn die(msg: &str) -> ! {
    eprintln!("loadgen: error: {msg}");
    std::process::exit(2);
}

fn parse_dur(s: &str) -> Duration {
    let (num, mul) = if let Some(v) = s.strip_suffix("ms") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix("us") {
        (v, 0.000_001)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60.0)
    } else {
        (s, 1.0)
    };
    match num.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.is_finite() => Duration::from_secs_f64(x * mul),
        _ => die(&format!("bad duration '{s}'")),
    }
}

fn parse_num<T: std::str::FromStr>(s: &str, what: &str) -> T {
    s.parse()
        .unwrap_or_else(|_| die(&format!("bad {what} '{s}'")))
}

fn parse_args(raw: &[String]) -> Args {
    let mut a = Args {
        pos: vec![],
        conc: None,
        dur: None,
        n: None,
        path: "/".into(),
        base: Duration::ZERO,
        settle: Duration::from_secs(1),
        hold_for: Duration::from_secs(120),
        probe: None,
        ignore_stdin: false,
        ws: false,
        epoll: None,
        window: 1,
        size: 64,
        port: None,
        timeout: Duration::from_secs(5),
        cmd: vec![],
    };
    let mut i = 0;
    let val = |i: &mut usize| -> String {
        *i += 1;
        raw.get(*i)
            .cloned()
            .unwrap_or_else(|| die(&format!("{} needs a value", raw[*i - 1])))
    };
    while i < raw.len() {
        match raw[i].as_str() {
            "-c" | "--connections" => a.conc = Some(parse_num(&val(&mut i), "count")),
            "-d" | "--duration" => a.dur = Some(parse_dur(&val(&mut i))),
            "-n" => a.n = Some(parse_num(&val(&mut i), "count")),
            "--path" => a.path = val(&mut i),
            "--base" => a.base = parse_dur(&val(&mut i)),
            "--settle" => a.settle = parse_dur(&val(&mut i)),
            "--hold-for" => a.hold_for = parse_dur(&val(&mut i)),
            "--probe" => a.probe = Some(val(&mut i)),
            "--ignore-stdin" => a.ignore_stdin = true,
            "--ws" => a.ws = true,
            "--epoll" => a.epoll = Some(parse_num(&val(&mut i), "threads")),
            "--window" => a.window = parse_num::<usize>(&val(&mut i), "window").max(1),
            "--size" => a.size = parse_num(&val(&mut i), "size"),
            "--port" => a.port = Some(parse_num(&val(&mut i), "port")),
            "--timeout" => a.timeout = parse_dur(&val(&mut i)),
            "--" => {
                a.cmd = raw[i + 1..].to_vec();
                break;
            }
            s if s.starts_with('-') && s.len() > 1 => die(&format!("unknown option '{s}'")),
            s => a.pos.push(s.to_string()),
        }
        i += 1;
    }
    a
}

fn resolve(addr: &str) -> SocketAddr {
    let addr = if addr.chars().all(|c| c.is_ascii_digit()) {
        format!("127.0.0.1:{addr}")
    } else {
        addr.trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string()
    };
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut it| it.next())
        .unwrap_or_else(|| die(&format!("bad address '{addr}'")))
}

fn request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes()
}

// ---------------------------------------------------------------------------------------------
// statistics helpers

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // nearest-rank
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------
// classic: new connection per request, expect head + "Hello," then RST

#[derive(Default)]
struct ClassicCounts {
    conns: u64,
    exact: u64,
    rst: u64,
    eof: u64,
    timeout: u64,
    other_err: u64,
    connect_err: u64,
    wrong_bytes: u64,
}

fn classic_ok_bytes(b: &[u8]) -> bool {
    if !b.starts_with(b"HTTP/1.1 200 ") || !b.ends_with(b"\r\n\r\nHello,") {
        return false;
    }
    let head_end = match find(b, b"\r\n\r\n") {
        Some(i) => i,
        None => return false,
    };
    if head_end + 4 + 6 != b.len() {
        return false;
    }
    let head = String::from_utf8_lossy(&b[..head_end]).to_ascii_lowercase();
    head.lines().any(|l| {
        l.split_once(':')
            .map(|(k, v)| k.trim() == "content-length" && v.trim() == "13")
            .unwrap_or(false)
    })
}

fn cmd_classic(a: &Args) {
    let addr = resolve(
        a.pos
            .first()
            .map(String::as_str)
            .unwrap_or_else(|| die("classic needs ADDR")),
    );
    let conc = a.conc.unwrap_or(32);
    let dur = a.dur.unwrap_or(Duration::from_secs(5));
    let req = Arc::new(request(&a.path));
    let start = Instant::now();
    let deadline = start + dur;
    let mut hs = vec![];
    for _ in 0..conc {
        let req = req.clone();
        hs.push(thread::spawn(move || {
            let mut c = ClassicCounts::default();
            let mut buf = vec![0u8; 65536];
            while Instant::now() < deadline {
                let mut s = match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                    Ok(s) => s,
                    Err(_) => {
                        c.connect_err += 1;
                        thread::sleep(Duration::from_millis(1));
                        continue;
                    }
                };
                let _ = s.set_nodelay(true);
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                c.conns += 1;
                if s.write_all(&req).is_err() {
                    c.other_err += 1;
                    continue;
                }
                let mut got = 0usize;
                let end = loop {
                    if got == buf.len() {
                        break "overflow";
                    }
                    match s.read(&mut buf[got..]) {
                        Ok(0) => break "eof",
                        Ok(n) => got += n,
                        Err(e) if e.kind() == ErrorKind::ConnectionReset => break "rst",
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                        {
                            break "timeout"
                        }
                        Err(_) => break "err",
                    }
                };
                let ok_bytes = classic_ok_bytes(&buf[..got]);
                match end {
                    "rst" => c.rst += 1,
                    "eof" => c.eof += 1,
                    "timeout" => c.timeout += 1,
                    _ => c.other_err += 1,
                }
                if !ok_bytes {
                    c.wrong_bytes += 1;
                }
                if end == "rst" && ok_bytes {
                    c.exact += 1;
                }
                if end != "rst" {
                    // we close first: do not leave TIME_WAIT behind
                    set_linger0(&s);
                }
            }
            c
        }));
    }
    let mut t = ClassicCounts::default();
    for h in hs {
        let c = h.join().unwrap();
        t.conns += c.conns;
        t.exact += c.exact;
        t.rst += c.rst;
        t.eof += c.eof;
        t.timeout += c.timeout;
        t.other_err += c.other_err;
        t.connect_err += c.connect_err;
        t.wrong_bytes += c.wrong_bytes;
    }
    let secs = start.elapsed().as_secs_f64();
    let pct = if t.conns > 0 {
        100.0 * t.exact as f64 / t.conns as f64
    } else {
        0.0
    };
    println!(
        "classic conns={} secs={:.3} conns_per_s={:.0} exact={} exact_pct={:.3} exact_per_s={:.0} rst={} eof={} timeout={} err={} connect_err={} wrong_bytes={}",
        t.conns,
        secs,
        t.conns as f64 / secs,
        t.exact,
        pct,
        t.exact as f64 / secs,
        t.rst,
        t.eof,
        t.timeout,
        t.other_err,
        t.connect_err,
        t.wrong_bytes
    );
}

// ---------------------------------------------------------------------------------------------
// keep-alive: read one full response (Content-Length framed) from a persistent connection

struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    have: usize,
}

enum RespErr {
    Io,
    Closed,
    Bad,
}

impl Conn {
    fn new(s: TcpStream) -> Conn {
        Conn {
            s,
            buf: vec![0u8; 16384],
            have: 0,
        }
    }

    /// Reads one response; returns (status, keep_alive).
    fn read_response(&mut self) -> Result<(u16, bool), RespErr> {
        loop {
            if let Some(he) = find(&self.buf[..self.have], b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..he]).to_ascii_lowercase();
                let status: u16 = head
                    .split(' ')
                    .nth(1)
                    .and_then(|x| x.get(..3))
                    .and_then(|x| x.parse().ok())
                    .ok_or(RespErr::Bad)?;
                let mut cl: Option<usize> = None;
                let mut close = head.starts_with("http/1.0");
                for l in head.lines().skip(1) {
                    if let Some((k, v)) = l.split_once(':') {
                        let (k, v) = (k.trim(), v.trim());
                        if k == "content-length" {
                            cl = v.parse().ok();
                        } else if k == "connection" {
                            close = v.contains("close");
                        }
                    }
                }
                let cl = cl.ok_or(RespErr::Bad)?; // this client only speaks Content-Length
                let total = he + 4 + cl;
                if self.buf.len() < total {
                    self.buf.resize(total, 0);
                }
                while self.have < total {
                    match self.s.read(&mut self.buf[self.have..]) {
                        Ok(0) => return Err(RespErr::Closed),
                        Ok(n) => self.have += n,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(_) => return Err(RespErr::Io),
                    }
                }
                self.buf.copy_within(total..self.have, 0);
                self.have -= total;
                return Ok((status, !close));
            }
            if self.have == self.buf.len() {
                if self.buf.len() >= 1 << 20 {
                    return Err(RespErr::Bad);
                }
                let l = self.buf.len() * 2;
                self.buf.resize(l, 0);
            }
            match self.s.read(&mut self.buf[self.have..]) {
                Ok(0) => return Err(RespErr::Closed),
                Ok(n) => self.have += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(RespErr::Io),
            }
        }
    }
}

fn connect_ka(addr: &SocketAddr) -> Option<Conn> {
    let s = TcpStream::connect_timeout(addr, Duration::from_secs(2)).ok()?;
    let _ = s.set_nodelay(true);
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    Some(Conn::new(s))
}

fn cmd_keepalive(a: &Args) {
    let addr = resolve(
        a.pos
            .first()
            .map(String::as_str)
            .unwrap_or_else(|| die("keepalive needs ADDR")),
    );
    let conc = a.conc.unwrap_or(32);
    let dur = a.dur.unwrap_or(Duration::from_secs(5));
    let req = Arc::new(request(&a.path));
    // -n: a fixed number of requests per client (the callgrind count in benches/instr.sh)
    let cap = a.n.map_or(u64::MAX, |n| n as u64);
    let start = Instant::now();
    let deadline = start + dur;
    let mut hs = vec![];
    for _ in 0..conc {
        let req = req.clone();
        hs.push(thread::spawn(move || {
            let (mut ok, mut non2xx, mut errs, mut reconnects) = (0u64, 0u64, 0u64, 0u64);
            let mut conn: Option<Conn> = None;
            while Instant::now() < deadline && ok + non2xx < cap {
                if conn.is_none() {
                    conn = connect_ka(&addr);
                    reconnects += 1;
                    if conn.is_none() {
                        errs += 1;
                        thread::sleep(Duration::from_millis(1));
                        continue;
                    }
                }
                let c = conn.as_mut().unwrap();
                if c.s.write_all(&req).is_err() {
                    errs += 1;
                    conn = None;
                    continue;
                }
                match c.read_response() {
                    Ok((st, ka)) => {
                        if (200..300).contains(&st) {
                            ok += 1
                        } else {
                            non2xx += 1
                        }
                        if !ka {
                            conn = None;
                        }
                    }
                    Err(_) => {
                        errs += 1;
                        conn = None;
                    }
                }
            }
            (ok, non2xx, errs, reconnects)
        }));
    }
    let (mut ok, mut non2xx, mut errs, mut rec) = (0, 0, 0, 0);
    for h in hs {
        let r = h.join().unwrap();
        ok += r.0;
        non2xx += r.1;
        errs += r.2;
        rec += r.3;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "keepalive requests={} secs={:.3} req_per_s={:.0} non2xx={} errors={} connects={}",
        ok + non2xx,
        secs,
        (ok + non2xx) as f64 / secs,
        non2xx,
        errs,
        rec
    );
}

// ---------------------------------------------------------------------------------------------
// latency: C clients on keep-alive connections, N requests in all; overshoot over --base

fn cmd_latency(a: &Args) {
    let addr = resolve(
        a.pos
            .first()
            .map(String::as_str)
            .unwrap_or_else(|| die("latency needs ADDR")),
    );
    let conc = a.conc.unwrap_or(200).max(1);
    let total = a.n.unwrap_or(2000).max(1);
    let base = a.base;
    let req = Arc::new(request(&a.path));
    let barrier = Arc::new(Barrier::new(conc));
    let wall = Instant::now();
    let mut hs = vec![];
    for i in 0..conc {
        let per = total / conc + usize::from(i < total % conc);
        let req = req.clone();
        let barrier = barrier.clone();
        hs.push(
            thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || {
                    let mut lats: Vec<f64> = Vec::with_capacity(per);
                    let mut errs = 0u64;
                    let mut conn = connect_ka(&addr);
                    barrier.wait(); // all connected: start together
                    let mut done = 0;
                    let mut attempts = 0;
                    while done < per && attempts < per * 3 {
                        attempts += 1;
                        if conn.is_none() {
                            conn = connect_ka(&addr);
                            if conn.is_none() {
                                errs += 1;
                                thread::sleep(Duration::from_millis(5));
                                continue;
                            }
                        }
                        let c = conn.as_mut().unwrap();
                        let t0 = Instant::now();
                        if c.s.write_all(&req).is_err() {
                            errs += 1;
                            conn = None;
                            continue;
                        }
                        match c.read_response() {
                            Ok((_, ka)) => {
                                lats.push(t0.elapsed().as_secs_f64() * 1000.0);
                                done += 1;
                                if !ka {
                                    conn = None;
                                }
                            }
                            Err(_) => {
                                errs += 1;
                                conn = None;
                            }
                        }
                    }
                    (lats, errs)
                })
                .expect("spawn"),
        );
    }
    let mut all = vec![];
    let mut errs = 0;
    for h in hs {
        let (l, e) = h.join().unwrap();
        all.extend(l);
        errs += e;
    }
    let secs = wall.elapsed().as_secs_f64();
    let b = base.as_secs_f64() * 1000.0;
    let mut over: Vec<f64> = all.iter().map(|x| x - b).collect();
    over.sort_by(|x, y| x.partial_cmp(y).unwrap());
    println!(
        "latency requests={} errors={} secs={:.3} base_ms={:.1} over_min_ms={:.3} over_p50_ms={:.3} over_p90_ms={:.3} over_p99_ms={:.3} over_max_ms={:.3}",
        over.len(),
        errs,
        secs,
        b,
        over.first().copied().unwrap_or(f64::NAN),
        percentile(&over, 50.0),
        percentile(&over, 90.0),
        percentile(&over, 99.0),
        over.last().copied().unwrap_or(f64::NAN)
    );
}

// ---------------------------------------------------------------------------------------------
// hold: open N connections, each sends one request, keep them open

fn alive_check(conns: &[TcpStream]) -> (usize, usize, usize, usize) {
    let (mut alive, mut closed, mut data, mut err) = (0, 0, 0, 0);
    let mut b = [0u8; 64];
    for s in conns {
        let _ = s.set_nonblocking(true);
        match s.peek(&mut b) {
            Ok(0) => closed += 1,
            Ok(_) => data += 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => alive += 1,
            Err(_) => err += 1,
        }
        let _ = s.set_nonblocking(false);
    }
    (alive, closed, data, err)
}

fn probe(addr: &SocketAddr, path: &str) -> &'static str {
    let Some(mut c) = connect_ka(addr) else {
        return "connect-failed";
    };
    let _ = c.s.set_read_timeout(Some(Duration::from_secs(3)));
    if c.s.write_all(&request(path)).is_err() {
        return "write-failed";
    }
    let r = match c.read_response() {
        Ok((st, _)) if (200..300).contains(&st) => "ok",
        Ok(_) => "non2xx",
        Err(_) => "no-response",
    };
    let _ = c.s.shutdown(Shutdown::Both);
    r
}

fn cmd_hold(a: &Args) {
    let addr = resolve(
        a.pos
            .first()
            .map(String::as_str)
            .unwrap_or_else(|| die("hold needs ADDR")),
    );
    let n = a.n.unwrap_or(5000);
    let req = Arc::new(request(&a.path));
    let t0 = Instant::now();
    // a few openers; each connect is blocking, so the in-flight handshakes stay below the backlog
    let openers = 4.min(n.max(1));
    let mut hs = vec![];
    let ws = a.ws;
    for i in 0..openers {
        let share = n / openers + usize::from(i < n % openers);
        let req = req.clone();
        let path = a.path.clone();
        hs.push(thread::spawn(move || {
            let mut v = Vec::with_capacity(share);
            let mut failed = 0usize;
            for _ in 0..share {
                match TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
                    Ok(s) if ws => match ws_handshake(&s, &path) {
                        Ok(_) => v.push(s),
                        Err(_) => failed += 1,
                    },
                    Ok(s) => {
                        if (&s).write_all(&req).is_err() {
                            failed += 1;
                        } else {
                            v.push(s);
                        }
                    }
                    Err(_) => failed += 1,
                }
            }
            (v, failed)
        }));
    }
    let mut conns = Vec::with_capacity(n);
    let mut failed = 0;
    for h in hs {
        let (v, f) = h.join().unwrap();
        conns.extend(v);
        failed += f;
    }
    println!(
        "opened requested={} opened={} failed={} secs={:.3}",
        n,
        conns.len(),
        failed,
        t0.elapsed().as_secs_f64()
    );
    let _ = io::stdout().flush();
    thread::sleep(a.settle);
    let (alive, closed, data, err) = alive_check(&conns);
    let pr = a
        .probe
        .as_deref()
        .map(|p| probe(&addr, p))
        .unwrap_or("skipped");
    println!("alive held={alive} closed={closed} data={data} err={err} probe={pr}");
    let _ = io::stdout().flush();

    // wait: a line or EOF on stdin (unless --ignore-stdin), a signal (default action), or --hold-for
    let (tx, rx) = mpsc::channel::<()>();
    if !a.ignore_stdin {
        thread::spawn(move || {
            let mut l = String::new();
            let _ = io::stdin().lock().read_line(&mut l);
            let _ = tx.send(());
        });
    } else {
        std::mem::forget(tx);
    }
    let _ = rx.recv_timeout(a.hold_for);
    let (alive2, closed2, data2, err2) = alive_check(&conns);
    eprintln!("loadgen hold: at release: alive={alive2} closed={closed2} data={data2} err={err2}");
    for s in &conns {
        set_linger0(s); // RST on drop: nothing left in TIME_WAIT
    }
    drop(conns);
}

// ---------------------------------------------------------------------------------------------
// ws: WebSocket echo. Each connection does the RFC 6455 handshake, then keeps WINDOW masked
// binary messages of SIZE bytes in flight (1: send, wait for the echo, send the next), for -d
// or until it has -n echoes. A blocking thread per connection, or with --epoll T, T threads
// each serving its share of the connections from an epoll set. Prints echoes per second over
// all connections.

/// The upgrade request; the response must be a `101` (its head is read and dropped).
fn ws_handshake(mut s: &TcpStream, path: &str) -> Result<(), &'static str> {
    let _ = s.set_nodelay(true);
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).map_err(|_| "write")?;
    // Read byte by byte up to the end of the head: nothing after it is consumed.
    let mut head = Vec::with_capacity(256);
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 {
            return Err("head too long");
        }
        match s.read(&mut b) {
            Ok(0) => return Err("eof"),
            Ok(_) => head.push(b[0]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Err("read"),
        }
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err("not 101");
    }
    Ok(())
}

/// One masked binary frame of `size` bytes (a fixed mask and payload).
fn ws_frame(size: usize) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut f = vec![0x82];
    match size {
        0..=125 => f.push(0x80 | size as u8),
        126..=65535 => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(size as u16).to_be_bytes());
        }
        _ => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(size as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend((0..size).map(|i| (b'a' + (i % 26) as u8) ^ mask[i % 4]));
    f
}

/// The length of the complete unmasked server frame at the front of `b` (None: not all in).
fn ws_frame_len(b: &[u8]) -> Option<usize> {
    if b.len() < 2 {
        return None;
    }
    let (hl, len) = match b[1] & 0x7f {
        126 if b.len() >= 4 => (4, u16::from_be_bytes([b[2], b[3]]) as usize),
        127 if b.len() >= 10 => (
            10,
            u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
        ),
        126 | 127 => return None,
        n => (2, n as usize),
    };
    let mask = if b[1] & 0x80 != 0 { 4 } else { 0 };
    let total = hl + mask + len;
    (b.len() >= total).then_some(total)
}

#[derive(Default)]
struct WsCounts {
    echoes: u64,
    wrong: u64,
    errors: u64,
    failed_handshakes: u64,
}

/// One connection's echo state: what came in and is not yet a whole frame, what is in flight.
struct WsConn {
    s: TcpStream,
    buf: Vec<u8>,
    have: usize,
    in_flight: usize,
}

/// What every connection of a run sends: one frame, and `window` of them back to back.
struct WsLoad {
    frame: Vec<u8>,
    burst: Vec<u8>,
    window: usize,
    cap: u64,
}

impl WsLoad {
    fn new(size: usize, window: usize, cap: u64) -> WsLoad {
        let frame = ws_frame(size);
        let burst = frame
            .iter()
            .copied()
            .cycle()
            .take(frame.len() * window)
            .collect();
        WsLoad {
            frame,
            burst,
            window,
            cap,
        }
    }

    /// Bytes of `k` frames.
    fn frames(&self, k: usize) -> &[u8] {
        &self.burst[..self.frame.len() * k]
    }
}

impl WsConn {
    fn new(s: TcpStream, load: &WsLoad) -> WsConn {
        let want = load.frame.len() - 4;
        WsConn {
            s,
            buf: vec![0u8; 65536.max(want * load.window * 2)],
            have: 0,
            in_flight: 0,
        }
    }

    /// Sends the first window of messages; false on an error, or when -n 0 asks for none.
    fn begin(&mut self, load: &WsLoad, c: &mut WsCounts) -> bool {
        self.in_flight = load.window.min(load.cap as usize);
        if self.in_flight == 0 {
            return false;
        }
        if self.s.write_all(load.frames(self.in_flight)).is_err() {
            c.errors += 1;
            return false;
        }
        true
    }

    /// One read, the echoes it completed, and the window refilled; false when this connection
    /// is done (an error, -n echoes, or the deadline).
    fn step(&mut self, load: &WsLoad, c: &mut WsCounts, mine: &mut u64, deadline: Instant) -> bool {
        match self.s.read(&mut self.buf[self.have..]) {
            Ok(0) => {
                c.errors += 1;
                return false;
            }
            Ok(n) => self.have += n,
            Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock) => {
                return true
            }
            Err(_) => {
                c.errors += 1;
                return false;
            }
        }
        let want = load.frame.len() - 4; // the echo: the same header unmasked, no mask key
        let mut at = 0;
        let mut got = 0usize;
        while let Some(n) = ws_frame_len(&self.buf[at..self.have]) {
            if n != want || self.buf[at] != 0x82 {
                c.wrong += 1;
            }
            at += n;
            got += 1;
        }
        self.buf.copy_within(at..self.have, 0);
        self.have -= at;
        *mine += got as u64;
        c.echoes += got as u64;
        self.in_flight -= got;
        if *mine >= load.cap || Instant::now() >= deadline {
            return false;
        }
        // Refill the window (no more than -n asks for in all).
        let allowed = (load.window as u64).min(load.cap - *mine) as usize;
        let more = allowed.saturating_sub(self.in_flight);
        if more > 0 {
            // A few frames: the socket's send buffer always has room, even non-blocking.
            if self.s.write_all(load.frames(more)).is_err() {
                c.errors += 1;
                return false;
            }
            self.in_flight += more;
        }
        true
    }
}

/// One connection's echo loop on its own thread, after the barrier.
fn ws_echo_loop(conn: &mut WsConn, load: &WsLoad, deadline: Instant) -> WsCounts {
    let mut c = WsCounts::default();
    let mut mine = 0;
    if conn.begin(load, &mut c) {
        while conn.step(load, &mut c, &mut mine, deadline) {}
    }
    c
}

#[cfg_attr(target_arch = "x86_64", repr(C, packed))]
#[cfg_attr(not(target_arch = "x86_64"), repr(C))]
struct EpollEvent {
    events: u32,
    data: u64,
}

extern "C" {
    fn epoll_create1(flags: i32) -> i32;
    fn epoll_ctl(epfd: i32, op: i32, fd: i32, event: *mut EpollEvent) -> i32;
    fn epoll_wait(epfd: i32, events: *mut EpollEvent, max: i32, timeout_ms: i32) -> i32;
    fn close(fd: i32) -> i32;
}

/// `--epoll`: one thread serves many connections from one epoll set (level-triggered), so
/// the client spends no context switch on a message.
fn ws_epoll_loop(conns: &mut [WsConn], load: &WsLoad, deadline: Instant) -> WsCounts {
    let mut c = WsCounts::default();
    let ep = unsafe { epoll_create1(0o2000000) }; // EPOLL_CLOEXEC
    if ep < 0 {
        c.errors += conns.len() as u64;
        return c;
    }
    let mut live = 0;
    let mut mine = vec![0u64; conns.len()];
    for (i, conn) in conns.iter_mut().enumerate() {
        let _ = conn.s.set_nonblocking(true);
        let mut ev = EpollEvent {
            events: 1,
            data: i as u64,
        }; // EPOLLIN
        if unsafe { epoll_ctl(ep, 1, conn.s.as_raw_fd(), &mut ev) } != 0 {
            c.errors += 1;
            continue;
        }
        if !conn.begin(load, &mut c) {
            continue; // -n 0, or an error (counted)
        }
        live += 1;
    }
    let mut evs: Vec<EpollEvent> = (0..256)
        .map(|_| EpollEvent { events: 0, data: 0 })
        .collect();
    while live > 0 && Instant::now() < deadline {
        let n = unsafe { epoll_wait(ep, evs.as_mut_ptr(), evs.len() as i32, 100) };
        for ev in evs.iter().take(n.max(0) as usize) {
            let i = ev.data as usize;
            if !conns[i].step(load, &mut c, &mut mine[i], deadline) {
                let mut none = EpollEvent { events: 0, data: 0 };
                unsafe { epoll_ctl(ep, 2, conns[i].s.as_raw_fd(), &mut none) }; // DEL
                live -= 1;
            }
        }
    }
    unsafe { close(ep) };
    c
}

fn cmd_ws(a: &Args) {
    let addr = resolve(
        a.pos
            .first()
            .map(String::as_str)
            .unwrap_or_else(|| die("ws needs ADDR")),
    );
    let conc = a.conc.unwrap_or(1).max(1);
    let dur = a.dur.unwrap_or(Duration::from_secs(5));
    let cap = a.n.map_or(u64::MAX, |n| n as u64);
    let load = Arc::new(WsLoad::new(a.size, a.window, cap));
    // A thread per connection, or --epoll T threads sharing them.
    let workers = a.epoll.map_or(conc, |t| t.clamp(1, conc));
    // All connections finish their handshake, then the clock starts for all of them.
    let barrier = Arc::new(Barrier::new(workers + 1));
    let mut hs = vec![];
    for w in 0..workers {
        let share = conc / workers + usize::from(w < conc % workers);
        let (load, barrier, path, epoll) = (
            load.clone(),
            barrier.clone(),
            a.path.clone(),
            a.epoll.is_some(),
        );
        hs.push(
            thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let mut conns = vec![];
                    let mut c = WsCounts::default();
                    for _ in 0..share {
                        match TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
                            Ok(s) if ws_handshake(&s, &path).is_ok() => {
                                conns.push(WsConn::new(s, &load))
                            }
                            _ => c.failed_handshakes += 1,
                        }
                    }
                    barrier.wait();
                    let deadline = Instant::now() + dur;
                    let r = match (epoll, conns.first_mut()) {
                        (true, _) => ws_epoll_loop(&mut conns, &load, deadline),
                        (false, Some(conn)) => ws_echo_loop(conn, &load, deadline),
                        (false, None) => WsCounts::default(),
                    };
                    for conn in &conns {
                        set_linger0(&conn.s);
                    }
                    c.echoes += r.echoes;
                    c.wrong += r.wrong;
                    c.errors += r.errors;
                    c
                })
                .expect("spawn"),
        );
    }
    barrier.wait();
    let start = Instant::now();
    let mut t = WsCounts::default();
    for h in hs {
        let c = h.join().unwrap();
        t.echoes += c.echoes;
        t.wrong += c.wrong;
        t.errors += c.errors;
        t.failed_handshakes += c.failed_handshakes;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "ws conns={} window={} size={} client_threads={} echoes={} secs={:.3} echoes_per_s={:.0} wrong={} errors={} failed_handshakes={}",
        conc,
        a.window,
        a.size,
        workers,
        t.echoes,
        secs,
        t.echoes as f64 / secs,
        t.wrong,
        t.errors,
        t.failed_handshakes
    );
}

// ---------------------------------------------------------------------------------------------
// startup: spawn CMD n times, time spawn -> first successful TCP connect to 127.0.0.1:PORT

fn cmd_startup(a: &Args) {
    let port = a.port.unwrap_or_else(|| die("startup needs --port"));
    if a.cmd.is_empty() {
        die("startup needs -- CMD [ARGS...]");
    }
    let n = a.n.unwrap_or(20).max(1);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut times = vec![];
    let mut failures = 0;
    for _ in 0..n {
        let t0 = Instant::now();
        let mut child = match Command::new(&a.cmd[0])
            .args(&a.cmd[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => die(&format!("cannot spawn {}: {e}", a.cmd[0])),
        };
        let mut ok = false;
        loop {
            match TcpStream::connect(addr) {
                Ok(s) => {
                    times.push(t0.elapsed().as_secs_f64() * 1000.0);
                    set_linger0(&s);
                    drop(s);
                    ok = true;
                    break;
                }
                Err(_) => {
                    if t0.elapsed() > a.timeout {
                        break;
                    }
                    if let Ok(Some(_)) = child.try_wait() {
                        break; // exited early (port in use?)
                    }
                    thread::sleep(Duration::from_micros(100));
                }
            }
        }
        if !ok {
            failures += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    times.sort_by(|x, y| x.partial_cmp(y).unwrap());
    println!(
        "startup spawns={} ok={} failures={} min_ms={:.3} p50_ms={:.3} p90_ms={:.3} max_ms={:.3}",
        n,
        times.len(),
        failures,
        times.first().copied().unwrap_or(f64::NAN),
        percentile(&times, 50.0),
        percentile(&times, 90.0),
        times.last().copied().unwrap_or(f64::NAN)
    );
}

// ---------------------------------------------------------------------------------------------

fn usage() -> ! {
    eprintln!(
        "usage:\n  loadgen classic   ADDR [-c 32] [-d 5s] [--path /]\n  loadgen keepalive ADDR [-c 32] [-d 5s] [-n N] [--path /]\n  loadgen latency   ADDR [-c 200] [-n 2000] [--path /] [--base 100ms]\n  loadgen hold      ADDR [-n 5000] [--path /] [--settle 1s] [--hold-for 120s] [--probe PATH] [--ignore-stdin] [--ws]\n  loadgen ws        ADDR [-c 1] [-d 5s] [-n N] [--path /] [--window 1] [--size 64] [--epoll THREADS]\n  loadgen startup   [-n 20] --port PORT [--timeout 5s] -- CMD [ARGS...]"
    );
    std::process::exit(2);
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some(sub) = raw.first() else { usage() };
    let a = parse_args(&raw[1..]);
    match sub.as_str() {
        "classic" => cmd_classic(&a),
        "keepalive" => cmd_keepalive(&a),
        "latency" => cmd_latency(&a),
        "hold" => cmd_hold(&a),
        "startup" => cmd_startup(&a),
        "ws" => cmd_ws(&a),
        "-h" | "--help" | "help" => usage(),
        s => die(&format!("unknown subcommand '{s}'")),
    }
}
