//! A plain `std::net` HTTP/1.1 client for the client matrix (tests/matrix/matrix.py).
//!
//! No dependencies: it writes the request by hand and reads the response the way a small
//! hand-rolled client does (head up to the blank line, then Content-Length bytes with
//! `read_exact`, or chunks, or everything up to EOF), so each cell shows the `io::ErrorKind`
//! that such code meets.
//!
//! Protocol (the same for every matrix helper): one task per line on stdin, tab-separated:
//!
//! ```text
//! ID  HOST:PORT  TIMEOUT_MS  METHOD  UPLOAD_BYTES  MODE  SLEEP_MS  PATH [PATH...]
//! ```
//!
//! MODE is `one` (a single request), `same` (the requests one after another on the same
//! connection, `SLEEP_MS` apart) or `new` (each request on a new connection). For every task one
//! JSON line goes to stdout: `{"id":"...","out":["ok 200 13 bytes", ...]}`, one entry per request
//! made (a `same` task stops at the first failure). An error is the `io::ErrorKind` (Debug
//! form), with ` (write)` when the request could not be sent, or ` (connect)`.
//!
//! The timeout is a per-operation timeout (`set_read_timeout` / `set_write_timeout` /
//! `connect_timeout`), as std offers it; on Linux an expired read timeout is `WouldBlock`.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::thread;
use std::time::Duration;

struct Task {
    id: String,
    addr: String,
    timeout: Duration,
    method: String,
    upload: usize,
    mode: String,
    sleep: Duration,
    paths: Vec<String>,
}

fn parse_task(line: &str) -> Option<Task> {
    let f: Vec<&str> = line.split('\t').collect();
    if f.len() < 8 {
        return None;
    }
    Some(Task {
        id: f[0].to_string(),
        addr: f[1].to_string(),
        timeout: Duration::from_millis(f[2].parse().ok()?),
        method: f[3].to_string(),
        upload: f[4].parse().ok()?,
        mode: f[5].to_string(),
        sleep: Duration::from_millis(f[6].parse().ok()?),
        paths: f[7..].iter().map(|s| (*s).to_string()).collect(),
    })
}

/// Where a request failed: the kind, and whether it happened while sending.
struct Fail {
    kind: io::ErrorKind,
    stage: &'static str,
}

impl Fail {
    fn show(&self) -> String {
        format!("{:?}{}", self.kind, self.stage)
    }
}

#[allow(clippy::needless_pass_by_value)] // used as map_err(read_err)
fn read_err(e: io::Error) -> Fail {
    Fail {
        kind: e.kind(),
        stage: "",
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

fn eof() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed early")
}

/// One CRLF- (or LF-) terminated line; EOF before the newline is `UnexpectedEof`.
fn read_line(r: &mut impl BufRead) -> io::Result<String> {
    let mut buf = Vec::new();
    r.read_until(b'\n', &mut buf)?;
    if buf.last() != Some(&b'\n') {
        return Err(eof());
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf).map_err(|_| bad("head is not text"))
}

struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: &str, timeout: Duration) -> Result<Conn, Fail> {
        let connect = |a: &SocketAddr| TcpStream::connect_timeout(a, timeout);
        let sock = addr
            .to_socket_addrs()
            .and_then(|mut a| a.next().ok_or_else(|| bad("no address")))
            .and_then(|a| connect(&a))
            .map_err(|e| Fail {
                kind: e.kind(),
                stage: " (connect)",
            })?;
        sock.set_read_timeout(Some(timeout)).map_err(read_err)?;
        sock.set_write_timeout(Some(timeout)).map_err(read_err)?;
        Ok(Conn {
            reader: BufReader::new(sock),
        })
    }

    /// Sends one request and reads its response: `(status, body length)`.
    fn exchange(&mut self, t: &Task, path: &str) -> Result<(u16, usize), Fail> {
        let mut req = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: probe\r\nAccept: */*\r\n",
            t.method, path, t.addr
        );
        if t.upload > 0 {
            let _ = write!(req, "Content-Length: {}\r\n", t.upload);
        }
        req.push_str("\r\n");
        let write_fail = |e: io::Error| Fail {
            kind: e.kind(),
            stage: " (write)",
        };
        let sock = self.reader.get_mut();
        sock.write_all(req.as_bytes()).map_err(write_fail)?;
        // The body goes out in pieces, as a streaming upload does.
        let piece = vec![b'x'; 64 * 1024];
        let mut left = t.upload;
        while left > 0 {
            let n = left.min(piece.len());
            sock.write_all(&piece[..n]).map_err(write_fail)?;
            left -= n;
        }
        sock.flush().map_err(write_fail)?;
        self.read_response().map_err(read_err)
    }

    fn read_response(&mut self) -> io::Result<(u16, usize)> {
        let r = &mut self.reader;
        let status_line = read_line(r)?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/1.") {
            return Err(bad("not an HTTP/1.x status line"));
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("bad status code"))?;
        let mut length: Option<usize> = None;
        let mut chunked = false;
        loop {
            let line = read_line(r)?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').ok_or_else(|| bad("bad header line"))?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse().map_err(|_| bad("bad Content-Length"))?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
        let no_body = status == 204 || status == 304 || (100..200).contains(&status);
        let n = if no_body {
            0
        } else if chunked {
            let mut total = 0;
            loop {
                let line = read_line(r)?;
                let hex = line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(hex, 16).map_err(|_| bad("bad chunk size"))?;
                if size == 0 {
                    // Trailers up to the blank line.
                    while !read_line(r)?.is_empty() {}
                    break;
                }
                let mut chunk = vec![0; size];
                r.read_exact(&mut chunk)?;
                total += size;
                if !read_line(r)?.is_empty() {
                    return Err(bad("no CRLF after chunk"));
                }
            }
            total
        } else if let Some(len) = length {
            let mut body = vec![0; len];
            r.read_exact(&mut body)?;
            len
        } else {
            let mut body = Vec::new();
            r.read_to_end(&mut body)?;
            body.len()
        };
        Ok((status, n))
    }
}

fn ok((status, n): (u16, usize)) -> String {
    format!("ok {status} {n} bytes")
}

fn run(t: &Task) -> Vec<String> {
    let mut out = Vec::new();
    match t.mode.as_str() {
        "same" => {
            let mut conn = match Conn::open(&t.addr, t.timeout) {
                Ok(c) => c,
                Err(f) => return vec![f.show()],
            };
            for (i, path) in t.paths.iter().enumerate() {
                if i > 0 {
                    thread::sleep(t.sleep);
                }
                match conn.exchange(t, path) {
                    Ok(r) => out.push(ok(r)),
                    Err(f) => {
                        out.push(f.show());
                        break;
                    }
                }
            }
        }
        _ => {
            for (i, path) in t.paths.iter().enumerate() {
                if i > 0 {
                    thread::sleep(t.sleep);
                }
                let r = Conn::open(&t.addr, t.timeout).and_then(|mut c| c.exchange(t, path));
                out.push(match r {
                    Ok(r) => ok(r),
                    Err(f) => f.show(),
                });
            }
        }
    }
    out
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn main() {
    let stdin = io::stdin();
    let mut stdout = io::stdout();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let (id, out) = match parse_task(&line) {
            Some(t) => (t.id.clone(), run(&t)),
            None => (String::new(), vec![format!("bad task line: {line}")]),
        };
        let items: Vec<String> = out.iter().map(|s| json_str(s)).collect();
        let _ = writeln!(
            stdout,
            "{{\"id\":{},\"out\":[{}]}}",
            json_str(&id),
            items.join(",")
        );
        let _ = stdout.flush();
    }
}
