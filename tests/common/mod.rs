//! Test harness: start the real `httpfault` binary on port 0, talk raw TCP to it, and explain
//! failures (the command line and everything the server wrote on stderr).
//!
//! Every blocking step has a deadline: the readiness line, connects, reads, writes and process
//! exits. A test that fails prints the server's command and stderr (see `Drop for Server`).

// Each test binary uses a different subset of the harness.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_httpfault");

/// How long the server may take to print its readiness line (a cold start on a busy machine).
pub const STARTUP: Duration = Duration::from_secs(15);
/// Deadline for a connect, or for a whole response that should arrive at once.
pub const IO: Duration = Duration::from_secs(10);
/// How long a process may take to exit once it has been told to.
pub const EXIT: Duration = Duration::from_secs(10);

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------------

type Lines = Arc<Mutex<Vec<String>>>;

/// A running `httpfault`. Dropping it kills the process (only this child) and waits for it; if
/// the test is panicking it prints the command line, exit status, stderr and stray stdout.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// The readiness line exactly as printed, without the newline.
    pub ready_line: String,
    cmd: String,
    stderr: Lines,
    stdout_rest: Lines,
    readers: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

fn command_line(args: &[String]) -> String {
    let mut s = String::from("httpfault");
    for a in args {
        s.push(' ');
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"\\$*?".contains(c)) {
            let _ = write!(s, "'{}'", a.replace('\'', "'\\''"));
        } else {
            s.push_str(a);
        }
    }
    s
}

fn drain_lines<R: Read + Send + 'static>(r: R, into: Lines) -> JoinHandle<()> {
    thread::Builder::new()
        .name("drain".into())
        .spawn(move || {
            let mut r = BufReader::new(r);
            let mut line = Vec::new();
            loop {
                line.clear();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let s = String::from_utf8_lossy(&line);
                        let s = s.strip_suffix('\n').unwrap_or(&s);
                        into.lock().unwrap().push(s.to_string());
                    }
                }
            }
        })
        .expect("spawn drain thread")
}

/// Parse `listening on http://HOST:PORT` (HOST may be `[V6]`).
pub fn parse_ready_line(line: &str) -> Option<SocketAddr> {
    // TCP mode says `tcp://`, TLS `https://`.
    line.strip_prefix("listening on http://")
        .or_else(|| line.strip_prefix("listening on https://"))
        .or_else(|| line.strip_prefix("listening on tcp://"))?
        .parse()
        .ok()
}

impl Server {
    /// `httpfault -l 127.0.0.1:0 ARGS...`; waits for the readiness line.
    pub fn start(args: &[&str]) -> Server {
        let mut full = vec!["-l".to_string(), "127.0.0.1:0".to_string()];
        full.extend(args.iter().map(|s| s.to_string()));
        Server::start_exact(&full)
    }

    /// `httpfault ARGS...` exactly (the caller chooses `--listen`).
    pub fn start_exact(args: &[String]) -> Server {
        let cmd = command_line(args);
        let mut child = spawn_piped(args);
        let stderr: Lines = Arc::default();
        let stdout_rest: Lines = Arc::default();
        let mut readers = vec![drain_lines(child.stderr.take().unwrap(), stderr.clone())];
        let (tx, rx) = mpsc::channel::<String>();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let rest = stdout_rest.clone();
        readers.push(
            thread::Builder::new()
                .name("stdout".into())
                .spawn(move || {
                    let mut r = BufReader::new(stdout);
                    let mut first = Vec::new();
                    if r.read_until(b'\n', &mut first).unwrap_or(0) == 0 {
                        return; // dropping tx tells the waiter there is no readiness line
                    }
                    let _ = tx.send(String::from_utf8_lossy(&first).into_owned());
                    drop(tx);
                    let mut line = Vec::new();
                    loop {
                        line.clear();
                        match r.read_until(b'\n', &mut line) {
                            Ok(0) | Err(_) => break,
                            Ok(_) => rest
                                .lock()
                                .unwrap()
                                .push(String::from_utf8_lossy(&line).into_owned()),
                        }
                    }
                })
                .expect("spawn stdout thread"),
        );
        let first = rx.recv_timeout(STARTUP);
        let mut server = Server {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            ready_line: String::new(),
            cmd,
            stderr,
            stdout_rest,
            readers,
            status: None,
        };
        match first {
            Ok(line) => {
                // Keep the raw line (with any stray '\r') so the format test sees it as printed.
                let line = line.strip_suffix('\n').unwrap_or(&line).to_string();
                match parse_ready_line(&line) {
                    Some(addr) => {
                        server.addr = addr;
                        server.ready_line = line;
                    }
                    None => {
                        panic!("first stdout line is not `listening on http://HOST:PORT`: {line:?}")
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("no readiness line on stdout within {STARTUP:?}")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("stdout closed before the readiness line")
            }
        }
        server
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn cmd(&self) -> &str {
        &self.cmd
    }

    /// Every stderr line so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Stdout lines after the readiness line (there should be none).
    pub fn stdout_rest(&self) -> Vec<String> {
        self.stdout_rest.lock().unwrap().clone()
    }

    /// Wait until a stderr line satisfies `pred` (log lines may come after the response).
    pub fn wait_log(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.stderr.lock().unwrap().iter().find(|l| pred(l)) {
                return Some(l.clone());
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(ms(10));
        }
    }

    /// Wait until at least `n` stderr lines satisfy `pred`; returns them (maybe fewer on timeout).
    pub fn wait_logs(
        &self,
        n: usize,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let found: Vec<String> = self
                .stderr
                .lock()
                .unwrap()
                .iter()
                .filter(|l| pred(l))
                .cloned()
                .collect();
            if found.len() >= n || Instant::now() >= deadline {
                return found;
            }
            thread::sleep(ms(10));
        }
    }

    /// The exit status if the process ends within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.status.is_some() {
            return self.status;
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) => {
                    self.status = Some(st);
                    return Some(st);
                }
                Ok(None) => {}
                Err(e) => panic!("try_wait: {e}"),
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(ms(5));
        }
    }

    /// Send a signal to this child (and nothing else) with the `kill` command.
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args(["-s", sig, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -s {sig} {} failed: {st}", self.pid());
    }

    /// Kill (if still running), wait, and collect all output.
    pub fn stop(&mut self) -> ExitStatus {
        if self.status.is_none() {
            let _ = self.child.kill();
            self.status = Some(self.child.wait().expect("wait for child"));
        }
        for h in self.readers.drain(..) {
            let _ = h.join();
        }
        self.status.unwrap()
    }

    /// What a failing test prints.
    pub fn describe(&self) -> String {
        let mut s = format!("command: {}\n", self.cmd);
        let _ = writeln!(s, "address: {}  pid: {}", self.addr, self.child.id());
        let _ = writeln!(s, "exit: {:?}", self.status);
        let lines = self.stderr_lines();
        let _ = writeln!(s, "stderr ({} lines):", lines.len());
        let n = lines.len();
        for (i, l) in lines.iter().enumerate() {
            if n > 80 && i == 40 {
                let _ = writeln!(s, "  ... {} lines left out ...", n - 80);
            }
            if n <= 80 || i < 40 || i >= n - 40 {
                let _ = writeln!(s, "  {l}");
            }
        }
        let rest = self.stdout_rest();
        if !rest.is_empty() {
            let _ = writeln!(s, "stdout after the readiness line: {rest:?}");
        }
        s
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() {
            eprintln!("---- httpfault under test ----\n{}", self.describe());
        }
    }
}

/// What a run that is expected to end by itself produced.
pub struct Finished {
    pub cmd: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    pub fn describe(&self) -> String {
        format!(
            "command: {}\nexit: {}\nstdout: {:?}\nstderr: {:?}",
            self.cmd, self.status, self.stdout, self.stderr
        )
    }
}

/// Spawn `httpfault ARGS...` with stdin closed and stdout/stderr piped.
fn spawn_piped(args: &[String]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {BIN}: {e}"))
}

/// Run `httpfault ARGS...` exactly, expecting it to exit by itself within `EXIT`.
pub fn run_exact(args: &[String]) -> Finished {
    let cmd = command_line(args);
    let mut child = spawn_piped(args);
    let out: Lines = Arc::default();
    let err: Lines = Arc::default();
    let h1 = drain_lines(child.stdout.take().unwrap(), out.clone());
    let stderr: ChildStderr = child.stderr.take().unwrap();
    let h2 = drain_lines(stderr, err.clone());
    let deadline = Instant::now() + EXIT;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let _ = h1.join();
            let _ = h2.join();
            panic!(
                "`{cmd}` did not exit within {EXIT:?}\nstdout: {:?}\nstderr: {:?}",
                out.lock().unwrap(),
                err.lock().unwrap()
            );
        }
        thread::sleep(ms(5));
    };
    let _ = h1.join();
    let _ = h2.join();
    let join = |l: &Lines| {
        l.lock()
            .unwrap()
            .iter()
            .map(|s| format!("{s}\n"))
            .collect::<String>()
    };
    Finished {
        cmd,
        status,
        stdout: join(&out),
        stderr: join(&err),
    }
}

/// `httpfault -l 127.0.0.1:0 ARGS...`, expected to exit by itself (usage errors, -h, -V).
/// The `-l` keeps a wrongly accepted command line from binding a fixed port.
pub fn run(args: &[&str]) -> Finished {
    let mut full = vec!["-l".to_string(), "127.0.0.1:0".to_string()];
    full.extend(args.iter().map(|s| s.to_string()));
    run_exact(&full)
}

/// Run and expect exit status `code`; returns the output for further checks.
pub fn start_expect_fail(args: &[&str], code: i32) -> Finished {
    let f = run(args);
    assert_eq!(
        f.status.code(),
        Some(code),
        "wrong exit status\n{}",
        f.describe()
    );
    f
}

/// A path under cargo's per-target temp dir, unique to this process and call.
pub fn temp_path(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("httpfault-{}-{n}-{name}", std::process::id()))
}

// ---------------------------------------------------------------------------------------------
// Raw TCP client
// ---------------------------------------------------------------------------------------------

/// How a read loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `read` returned 0: the peer sent a FIN.
    Eof,
    /// `ConnectionReset`: the peer sent an RST.
    Reset,
    /// The deadline passed with the connection still open.
    TimedOut,
}

/// Classify a read result that ends a read loop; other error kinds are test failures.
fn ending_of(e: &io::Error) -> Option<Ending> {
    match e.kind() {
        io::ErrorKind::ConnectionReset => Some(Ending::Reset),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Some(Ending::TimedOut),
        _ => None,
    }
}

/// Show bytes readably: printable ASCII as is, the rest escaped; long input is shortened.
pub fn show(bytes: &[u8]) -> String {
    fn esc(b: &[u8]) -> String {
        let mut s = String::new();
        for &c in b {
            match c {
                b'\r' => s.push_str("\\r"),
                b'\n' => s.push_str("\\n"),
                b'\\' => s.push_str("\\\\"),
                0x20..=0x7e => s.push(c as char),
                _ => {
                    let _ = write!(s, "\\x{c:02x}");
                }
            }
        }
        s
    }
    if bytes.len() <= 600 {
        format!("{} bytes \"{}\"", bytes.len(), esc(bytes))
    } else {
        format!(
            "{} bytes \"{}\" ... \"{}\"",
            bytes.len(),
            esc(&bytes[..300]),
            esc(&bytes[bytes.len() - 300..])
        )
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Split a response at the end of its head: (head including the blank line, rest).
pub fn split_head(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    find(bytes, b"\r\n\r\n").map(|i| bytes.split_at(i + 4))
}

/// A GET request for `target` on HTTP/1.1.
pub fn get_request(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httpfault-tests\r\n\r\n")
        .into_bytes()
}

/// A GET request for `target` that asks the server to close afterwards.
pub fn get_close_request(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").into_bytes()
}

/// A request with a body (Content-Length).
pub fn request_with_body(method: &str, target: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// Bytes received, with the time at which each read returned.
pub struct Transcript {
    pub start: Instant,
    pub bytes: Vec<u8>,
    /// (when the read returned, total bytes received after it)
    pub arrivals: Vec<(Instant, usize)>,
    /// `None` when reading stopped because enough bytes had arrived.
    pub ending: Option<Ending>,
}

impl Transcript {
    /// When the byte at `index` (0-based) had arrived.
    pub fn arrival_of(&self, index: usize) -> Instant {
        self.arrivals
            .iter()
            .find(|(_, total)| *total > index)
            .map(|(t, _)| *t)
            .unwrap_or_else(|| panic!("byte {index} never arrived ({})", show(&self.bytes)))
    }

    /// Time from the start of reading until byte `index` had arrived.
    pub fn at(&self, index: usize) -> Duration {
        self.arrival_of(index) - self.start
    }

    /// The longest silence between two consecutive reads, and the byte offset after it.
    pub fn longest_gap(&self) -> (Duration, usize) {
        let mut best = (Duration::ZERO, 0);
        for w in self.arrivals.windows(2) {
            let gap = w[1].0 - w[0].0;
            if gap > best.0 {
                best = (gap, w[0].1);
            }
        }
        best
    }
}

/// One parsed HTTP response.
#[derive(Clone)]
pub struct Response {
    /// Head and body exactly as received.
    pub raw: Vec<u8>,
    /// Status line and headers, including the blank line.
    pub head: Vec<u8>,
    pub status_line: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body as the client sees it (chunked framing removed).
    pub body: Vec<u8>,
    /// The body bytes as they were on the wire.
    pub wire_body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive), value trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn content_length(&self) -> Option<usize> {
        self.header("content-length").map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("bad Content-Length {v:?}"))
        })
    }

    /// `Connection: close` is present.
    pub fn closes(&self) -> bool {
        self.headers_named("connection")
            .iter()
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&show(&self.raw))
    }
}

/// Parse a response head (including the blank line).
pub fn parse_head(head: &[u8]) -> (String, u16, Vec<(String, String)>) {
    let text = std::str::from_utf8(head)
        .unwrap_or_else(|_| panic!("response head is not UTF-8: {}", show(head)));
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_string();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    assert_eq!(
        version,
        "HTTP/1.1",
        "status line {status_line:?} in {}",
        show(head)
    );
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = Vec::new();
    for l in lines {
        if l.is_empty() {
            continue;
        }
        let (n, v) = l
            .split_once(':')
            .unwrap_or_else(|| panic!("header line without ':' {l:?} in {}", show(head)));
        assert!(
            !n.is_empty() && !n.contains(' '),
            "bad header name in {l:?}"
        );
        headers.push((n.to_string(), v.trim().to_string()));
    }
    (status_line, status, headers)
}

/// A raw client connection with a read buffer, so pipelined responses can be split.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

/// Connect with a deadline; errors are returned (for refused / timed-out tests).
pub fn try_connect(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(IO))?;
    s.set_write_timeout(Some(IO))?;
    s.set_nodelay(true)?;
    Ok(s)
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = try_connect(addr, IO)
            .unwrap_or_else(|e| panic!("connect to {addr}: {e} ({:?})", e.kind()));
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn from_stream(stream: TcpStream) -> Client {
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.set_write_timeout(Some(IO)).unwrap();
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("write {} bytes: {e} ({:?})", bytes.len(), e.kind()));
    }

    pub fn get(&mut self, target: &str) {
        self.send(&get_request(target));
    }

    /// Send our FIN (we will send nothing more).
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Read once into the buffer, waiting at most until `deadline`.
    fn fill(&mut self, deadline: Instant) -> Result<usize, Ending> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Ending::TimedOut);
            }
            let left = (deadline - now).max(ms(1));
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(Ending::Eof),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => match ending_of(&e) {
                    Some(Ending::TimedOut) if Instant::now() < deadline => continue,
                    Some(end) => return Err(end),
                    None => panic!("read failed: {e} ({:?})", e.kind()),
                },
            }
        }
    }

    /// Everything until EOF, RST or `timeout`, including bytes already buffered.
    pub fn read_to_end(&mut self, timeout: Duration) -> (Vec<u8>, Ending) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Err(end) = self.fill(deadline) {
                return (std::mem::take(&mut self.buf), end);
            }
        }
    }

    /// Read with timestamps until `want` bytes in all (then `ending` is None), or the end.
    pub fn read_timed(&mut self, want: usize, timeout: Duration) -> Transcript {
        let start = Instant::now();
        let deadline = start + timeout;
        let mut t = Transcript {
            start,
            bytes: Vec::new(),
            arrivals: Vec::new(),
            ending: None,
        };
        if !self.buf.is_empty() {
            t.bytes = std::mem::take(&mut self.buf);
            t.arrivals.push((start, t.bytes.len()));
        }
        while t.bytes.len() < want {
            match self.fill(deadline) {
                Ok(_) => {
                    t.bytes.append(&mut self.buf);
                    t.arrivals.push((Instant::now(), t.bytes.len()));
                }
                Err(end) => {
                    t.ending = Some(end);
                    break;
                }
            }
        }
        t
    }

    /// Exactly `n` more bytes (panics if the connection ends first).
    pub fn read_exact_bytes(&mut self, n: usize, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        while self.buf.len() < n {
            if let Err(end) = self.fill(deadline) {
                panic!(
                    "wanted {n} bytes, connection ended ({end:?}) after {}",
                    show(&self.buf)
                );
            }
        }
        self.buf.drain(..n).collect()
    }

    /// Read until the bytes received so far (buffered included) end with `suffix`; returns them.
    pub fn read_until_suffix(&mut self, suffix: &[u8], timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        while !self.buf.ends_with(suffix) {
            if let Err(end) = self.fill(deadline) {
                panic!(
                    "waiting for {} at the end, connection ended ({end:?}) after {}",
                    show(suffix),
                    show(&self.buf)
                );
            }
        }
        std::mem::take(&mut self.buf)
    }

    /// Bytes received but not yet consumed by a `read_response`.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    fn need(&mut self, n: usize, deadline: Instant, what: &str) {
        while self.buf.len() < n {
            if let Err(end) = self.fill(deadline) {
                panic!(
                    "connection ended ({end:?}) in {what}; received so far: {}",
                    show(&self.buf)
                );
            }
        }
    }

    fn need_crlf_from(&mut self, from: usize, deadline: Instant, what: &str) -> usize {
        loop {
            if let Some(i) = find(&self.buf[from..], b"\r\n") {
                return from + i;
            }
            if let Err(end) = self.fill(deadline) {
                panic!(
                    "connection ended ({end:?}) in {what}; received so far: {}",
                    show(&self.buf)
                );
            }
        }
    }

    /// One full response to a GET (body framed by Content-Length, chunked, or EOF).
    pub fn read_response(&mut self) -> Response {
        self.read_response_for(true)
    }

    /// One full response; `has_body` false for replies to HEAD.
    pub fn read_response_for(&mut self, has_body: bool) -> Response {
        let deadline = Instant::now() + IO;
        let head_len = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if let Err(end) = self.fill(deadline) {
                panic!(
                    "connection ended ({end:?}) before a complete response head; received: {}",
                    show(&self.buf)
                );
            }
        };
        let head = self.buf[..head_len].to_vec();
        let (status_line, status, headers) = parse_head(&head);
        let mut r = Response {
            raw: Vec::new(),
            head,
            status_line,
            status,
            headers,
            body: Vec::new(),
            wire_body: Vec::new(),
        };
        let chunked = r
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let no_body = !has_body || (100..200).contains(&status) || status == 204 || status == 304;
        let end = if no_body {
            head_len
        } else if chunked {
            let mut pos = head_len;
            loop {
                let eol = self.need_crlf_from(pos, deadline, "a chunk-size line");
                let line = String::from_utf8_lossy(&self.buf[pos..eol]).into_owned();
                let size_txt = line.split(';').next().unwrap_or_default().trim();
                let size = usize::from_str_radix(size_txt, 16).unwrap_or_else(|_| {
                    panic!("bad chunk-size line {line:?} in {}", show(&self.buf))
                });
                pos = eol + 2;
                if size == 0 {
                    // No trailers expected: the final CRLF.
                    self.need(pos + 2, deadline, "the last chunk");
                    assert_eq!(&self.buf[pos..pos + 2], b"\r\n", "{}", show(&self.buf));
                    pos += 2;
                    break;
                }
                self.need(pos + size + 2, deadline, "a chunk");
                r.body.extend_from_slice(&self.buf[pos..pos + size]);
                assert_eq!(
                    &self.buf[pos + size..pos + size + 2],
                    b"\r\n",
                    "chunk not followed by CRLF: {}",
                    show(&self.buf)
                );
                pos += size + 2;
            }
            pos
        } else if let Some(n) = r.content_length() {
            self.need(head_len + n, deadline, "the body");
            head_len + n
        } else {
            // No length: the body ends at EOF.
            loop {
                match self.fill(deadline) {
                    Ok(_) => {}
                    Err(Ending::Eof) => break,
                    Err(end) => panic!(
                        "body without length ended with {end:?}, not EOF: {}",
                        show(&self.buf)
                    ),
                }
            }
            self.buf.len()
        };
        r.raw = self.buf.drain(..end).collect();
        r.wire_body = r.raw[head_len..].to_vec();
        if !chunked {
            r.body = r.wire_body.clone();
        }
        r
    }
}

/// Connect, send `request`, read until the end (EOF, RST or `timeout`).
pub fn exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> (Vec<u8>, Ending) {
    let mut c = Client::connect(addr);
    c.send(request);
    c.read_to_end(timeout)
}

/// Connect, GET `target`, read one full response, keep the client.
pub fn get(addr: SocketAddr, target: &str) -> (Response, Client) {
    let mut c = Client::connect(addr);
    c.get(target);
    let r = c.read_response();
    (r, c)
}

/// The byte-exact check used everywhere: `bytes` is a head followed by exactly `body`.
#[track_caller]
pub fn assert_head_then(bytes: &[u8], body: &[u8]) {
    let (head, rest) =
        split_head(bytes).unwrap_or_else(|| panic!("no complete head in {}", show(bytes)));
    assert!(head.starts_with(b"HTTP/1.1 "), "bad head: {}", show(head));
    assert_eq!(
        rest,
        body,
        "body after the head: got {}, expected {}",
        show(rest),
        show(body)
    );
}

#[track_caller]
pub fn assert_ending(got: Ending, want: Ending, bytes: &[u8]) {
    assert_eq!(got, want, "connection ending (received {})", show(bytes));
}

/// The filler bytes of `body=SIZE` are printable text.
pub fn is_printable(b: u8) -> bool {
    b.is_ascii_graphic() || b == b' ' || b == b'\n' || b == b'\r'
}

// ---------------------------------------------------------------------------------------------
// A small JSON parser (std only), enough to check the log lines.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Json::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn num(&self, key: &str) -> Option<f64> {
        match self.get(key) {
            Some(Json::Num(n)) => Some(*n),
            _ => None,
        }
    }
}

pub fn parse_json(text: &str) -> Result<Json, String> {
    let mut p = JsonParser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("trailing characters at {}", p.i));
    }
    Ok(v)
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at {}", c as char, self.i))
        }
    }

    fn lit(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(format!("bad literal at {}", self.i))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > 64 {
            return Err("nested too deep".into());
        }
        self.ws();
        match self.peek() {
            Some(b'{') => {
                self.i += 1;
                let mut m = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(m));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.ws();
                    self.eat(b':')?;
                    let v = self.value(depth + 1)?;
                    m.push((k, v));
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(m));
                        }
                        _ => return Err(format!("expected ',' or '}}' at {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Json::Arr(a));
                }
                loop {
                    a.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(a));
                        }
                        _ => return Err(format!("expected ',' or ']' at {}", self.i)),
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.lit("true", Json::Bool(true)),
            Some(b'f') => self.lit("false", Json::Bool(false)),
            Some(b'n') => self.lit("null", Json::Null),
            Some(c) if c == b'-' || c.is_ascii_digit() => self.number(),
            _ => Err(format!("unexpected input at {}", self.i)),
        }
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let digits = |p: &mut Self| {
            let s = p.i;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.i += 1;
            }
            p.i > s
        };
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(format!("bad number at {start}")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !digits(self) {
                return Err(format!("bad fraction at {start}"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digits(self) {
                return Err(format!("bad exponent at {start}"));
            }
        }
        let t = std::str::from_utf8(&self.s[start..self.i]).unwrap();
        t.parse()
            .map(Json::Num)
            .map_err(|_| format!("bad number {t:?}"))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .ok_or_else(|| "short \\u escape".to_string())?;
        let h = std::str::from_utf8(h).map_err(|_| "bad \\u escape".to_string())?;
        let v = u32::from_str_radix(h, 16).map_err(|_| format!("bad \\u escape {h:?}"))?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            let c = self.peek().ok_or("unterminated string")?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|_| "string is not UTF-8".into()),
                b'\\' => {
                    let e = self.peek().ok_or("unterminated escape")?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if !self.s[self.i..].starts_with(b"\\u") {
                                    return Err("lone high surrogate".into());
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err("bad low surrogate".into());
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(cp).ok_or("bad code point")?
                        }
                        _ => return Err(format!("bad escape at {}", self.i)),
                    };
                    let mut b = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                }
                0..=0x1f => return Err(format!("control character in string at {}", self.i)),
                _ => out.push(c),
            }
        }
    }
}

/// GET `target` on a fresh connection: the head declares `Content-Length: declared`, the
/// bytes after it are exactly `body` (what the server really sends), and the connection is
/// not reset.
pub fn assert_declared_length(s: &Server, target: &str, declared: usize, body: &[u8]) {
    let mut c = Client::connect(s.addr);
    c.get(target);
    let (bytes, end) = c.read_to_end(ms(800));
    let (head, got) = split_head(&bytes).unwrap_or_else(|| panic!("{}", show(&bytes)));
    let want = format!("\r\nContent-Length: {declared}\r\n");
    assert!(find(head, want.as_bytes()).is_some(), "{}", show(head));
    assert_eq!(got, body, "{}", show(&bytes));
    assert_ne!(end, Ending::Reset, "{}", show(&bytes));
}

/// Runs a command with a deadline: (exit code, stdout, stderr); -1 when killed by a signal.
pub fn run_cmd(cmd: &mut Command, limit: Duration) -> (i32, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish in {limit:?}");
        }
        std::thread::sleep(ms(10));
    };
    let out = String::from_utf8_lossy(&o.join().unwrap()).into_owned();
    (status.code().unwrap_or(-1), out, e.join().unwrap())
}

/// Is `what` there? If not: skip loudly (false), or fail when CI (or `require`) says so.
pub fn present(ok: bool, what: &str, require: bool) -> bool {
    if !ok {
        let ci = std::env::var("CI").as_deref() == Ok("true");
        assert!(!ci && !require, "{what} is missing (CI must have it)");
        eprintln!("SKIPPED: {what} is missing");
    }
    ok
}
