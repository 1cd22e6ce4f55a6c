//! Streams (issue 26): message offsets (`3ev`, `3ev+10`) cut, hold and pause event streams
//! exactly over real sockets (HTTP/1.1 chunked and delimited by the close, inside TLS, and in
//! proxy mode counting a real upstream's events); `sse=`, `sse-retry=`, `status=204` and
//! `file=` (with `--files DIR`) as real clients see them: raw TCP, curl, Python httpx-sse, the
//! OpenAI Python SDK streaming a recorded chat completion, and the browser's EventSource in
//! headless Chromium. docs/streams.md's tables are what these tests assert.
//!
//! A missing client (target/venv, target/node from `make deps`, Chromium, curl) skips its
//! test loudly; under CI=true or HTTPFAULT_REQUIRE_BROWSER=1 (for Chromium) it fails instead.

mod common;

use common::{get_close_request, ms, present, run_cmd, show, split_head, Client, Ending, IO};
use httpfault::{End, Server};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `id: K` / `data: K` events `range`, as `sse=` writes them.
fn events(range: std::ops::RangeInclusive<u64>) -> Vec<u8> {
    range
        .flat_map(|k| format!("id: {k}\ndata: {k}\n\n").into_bytes())
        .collect()
}

/// A path or text as a plan value (every `/` is `%2F`).
fn enc(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The offset in a response body just after its `payload`-th payload byte: chunk framing
/// skipped when `chunked` (a cut right after an event leaves its chunk's CRLF unsent).
fn wire_after_payload(body: &[u8], chunked: bool, payload: usize) -> usize {
    if !chunked {
        return payload;
    }
    let (mut pos, mut seen) = (0, 0);
    loop {
        let eol = common::find(&body[pos..], b"\r\n").expect("a chunk-size line") + pos;
        let size = usize::from_str_radix(std::str::from_utf8(&body[pos..eol]).unwrap(), 16)
            .expect("a hex chunk size");
        assert!(size > 0, "the body ends before {payload} payload bytes");
        let data = eol + 2;
        if seen + size >= payload {
            return data + (payload - seen);
        }
        seen += size;
        pos = data + size + 2;
    }
}

fn have_curl() -> bool {
    let ok = Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    present(ok, "curl", false)
}

/// target/venv's Python with httpx-sse and openai (make deps).
fn venv_python() -> Option<PathBuf> {
    let p = root().join("target/venv/bin/python");
    let ok = p.exists()
        && Command::new(&p)
            .args(["-c", "import httpx_sse, openai"])
            .status()
            .is_ok_and(|s| s.success());
    present(
        ok,
        "target/venv with httpx-sse and openai (make deps)",
        false,
    )
    .then_some(p)
}

/// A Python client script of tests/streams/ with its arguments; its stdout lines.
fn py_client(script: &str, args: &[&str]) -> Option<Vec<String>> {
    let py = venv_python()?;
    let (code, out, err) = run_cmd(
        Command::new(py)
            .arg(root().join("tests/streams").join(script))
            .args(args),
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{script} {args:?}\nstdout: {out}\nstderr: {err}");
    Some(out.lines().map(str::to_string).collect())
}

// ---------------------------------------------------------------------------------------------
// Message offsets on the wire: HTTP/1.1, chunked and delimited by the close
// ---------------------------------------------------------------------------------------------

/// How long a read waits for the end of a response cut with `kind`: a hang is seen as
/// silence for a while; an RST or a FIN ends the read at once (the long deadline only
/// matters on a machine too loaded to deliver them in time).
fn silence(kind: &str) -> Duration {
    if kind == "hang" {
        ms(2000)
    } else {
        IO
    }
}

/// Reads a whole response to `target` on a fresh connection (`Connection: close`), with
/// `wait` as the deadline: the bytes and how the connection ended.
fn fetch(addr: std::net::SocketAddr, target: &str, wait: Duration) -> (Vec<u8>, Ending) {
    let mut c = Client::connect(addr);
    c.send(&get_close_request(target));
    c.read_to_end(wait)
}

/// Each ending at `3ev` and `3ev+10` over an event stream framed three ways: the client gets
/// exactly the healthy stream's bytes up to the end of the 3rd event (10 payload bytes more),
/// then the RST, the FIN or silence. One byte or one event off fails.
#[test]
fn event_offsets_cut_http11_streams_exactly_chunked_or_not() {
    let s = Server::start("reset=6").unwrap();
    for framing in ["", "/chunked=5", "/length=none"] {
        let healthy = format!("/sse=6,0ms{framing}");
        let (full, end) = fetch(s.addr(), &healthy, IO);
        assert_eq!(end, Ending::Eof, "{healthy}: {}", show(&full));
        let (head, body) = split_head(&full).unwrap();
        let chunked = framing != "/length=none";
        for (kind, want_end) in [
            ("reset", Ending::Reset),
            ("close", Ending::Eof),
            ("hang", Ending::TimedOut),
        ] {
            for (off, payload) in [("3ev", 45), ("3ev+10", 55), ("1ev", 15), ("6ev", 90)] {
                let target = format!("{healthy}/{kind}={off}");
                let (got, end) = fetch(s.addr(), &target, silence(kind));
                let cut = head.len() + wire_after_payload(body, chunked, payload);
                assert_eq!(
                    (show(&got), end),
                    (show(&full[..cut]), want_end),
                    "{target}"
                );
            }
        }
    }
    // The journal says how each ended; a count the stream never reaches completes it.
    let (got, end) = fetch(s.addr(), "/sse=2,0ms/reset=3ev", IO);
    assert_eq!(end, Ending::Eof);
    assert!(got.ends_with(b"data: 2\n\n\r\n0\r\n\r\n"), "{}", show(&got));
    let seen = s.wait_for(1 + 3 * 3 * 4 + 3 + 1, IO);
    assert_eq!(seen.last().unwrap().end, Some(End::Complete));
    assert!(seen
        .iter()
        .any(|r| r.plan == "sse=6,0ms/chunked=5/reset=3ev+10" && r.end == Some(End::Reset)));
}

/// `pause=2ev,DUR` holds the stream right after the 2nd event (the gap is there, at that
/// byte), and the interval of `sse=N,INTERVAL` falls between events, each event whole.
#[test]
fn pauses_and_intervals_fall_right_after_events() {
    let s = Server::start("reset=6").unwrap();
    let (full, _) = fetch(s.addr(), "/sse=4,0ms", IO);
    let (head, body) = split_head(&full).unwrap();
    let after = |n: usize| head.len() + wire_after_payload(body, true, 15 * n);
    let mut c = Client::connect(s.addr());
    c.send(&get_close_request("/sse=4,0ms/pause=2ev,1500ms"));
    let t = c.read_timed(full.len(), IO);
    assert_eq!(show(&t.bytes), show(&full));
    let (gap, at) = t.longest_gap();
    assert!(gap >= ms(1200), "{gap:?}");
    assert_eq!(at, after(2), "the pause starts right after the 2nd event");
    // Three events, 700 ms apart: two gaps of at least that, each right after an event.
    let mut c = Client::connect(s.addr());
    c.send(&get_close_request("/sse=3,700ms"));
    let t = c.read_timed(usize::MAX, IO);
    assert_eq!(t.ending, Some(Ending::Eof));
    let ends: Vec<usize> = t.arrivals.iter().map(|a| a.1).collect();
    assert!(
        ends.contains(&after(1)) && ends.contains(&after(2)),
        "{ends:?}"
    );
    assert!(t.at(after(2)) >= t.at(after(1)) + ms(600));
    assert!(t.at(after(1) + 1) >= t.at(after(1) - 1) + ms(600));
}

/// curl reads an event stream as it comes (`-N`), resumes with `Last-Event-ID`, and gets the
/// `204` once no event is left.
#[test]
fn curl_reads_events_resumes_from_last_event_id_and_gets_204_at_the_end() {
    if !have_curl() {
        return;
    }
    let s = Server::start("reset=6").unwrap();
    let url = |p: &str| format!("{}{p}", s.url());
    let curl = |args: &[&str]| {
        run_cmd(
            Command::new("curl")
                .args(["-sS", "--max-time", "10"])
                .args(args),
            Duration::from_secs(20),
        )
    };
    let (code, out, _) = curl(&["-N", &url("/sse=3,50ms/sse-retry=1500")]);
    assert_eq!(code, 0);
    assert_eq!(
        out.as_bytes(),
        [b"retry: 1500\n\n".to_vec(), events(1..=3)].concat()
    );
    let (code, out, _) = curl(&["-H", "Last-Event-ID: 1", &url("/sse=3,50ms")]);
    assert_eq!((code, out.into_bytes()), (0, events(2..=3)));
    let (code, out, _) = curl(&[
        "-H",
        "Last-Event-ID: 3",
        "-w",
        "%{http_code} %{content_type}",
        &url("/sse=3"),
    ]);
    assert_eq!((code, out.as_str()), (0, "204 text/event-stream"));
    // Each fault: curl's exit code (docs/streams.md) and exactly the bytes before the cut.
    let three = events(1..=3);
    let plus10 = [three.clone(), b"id: 4\ndata".to_vec()].concat();
    for (fault, want_code, want) in [
        ("reset=3ev", 56, &three),
        ("close=3ev", 18, &three),
        ("close=3ev+10", 18, &plus10),
        ("length=none/close=3ev", 0, &three),
        ("length=none/close=3ev+10", 0, &plus10),
        ("length=none/reset=3ev", 56, &three),
        ("hang=3ev", 28, &three),
        ("pause=2ev,3s", 28, &events(1..=2)),
    ] {
        let (code, out, _) = curl(&[
            "-N",
            "--max-time",
            "2",
            &url(&format!("/sse=5,20ms/{fault}")),
        ]);
        assert_eq!(
            (code, out.into_bytes()),
            (want_code, want.clone()),
            "{fault}"
        );
    }
}

/// Over HTTP/2 (for now) `sse=` is a `400` naming the step and the protocol.
#[test]
fn http2_names_sse_in_a_400() {
    if !have_curl() {
        return;
    }
    let s = Server::start("reset=6").unwrap();
    let (code, out, _) = run_cmd(
        Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "10",
                "--http2-prior-knowledge",
                "-w",
                " %{http_code}",
            ])
            .arg(format!("{}/sse=3", s.url())),
        Duration::from_secs(20),
    );
    let want = "bad plan: step 'sse' is HTTP/1.1 only (this request is HTTP/2)";
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with(want) && out.ends_with(" 400"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// Inside TLS
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "tls")]
mod tls {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::Arc;

    fn client_config(server: &Server) -> Arc<rustls::ClientConfig> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::CertificateDer;
        let pem = server.ca_pem().unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
        )
    }

    /// The plaintext of one response over TLS and how the connection ended.
    fn fetch_tls(
        server: &Server,
        config: &Arc<rustls::ClientConfig>,
        target: &str,
        wait: Duration,
    ) -> (Vec<u8>, Ending) {
        let conn =
            rustls::ClientConnection::new(config.clone(), "localhost".try_into().unwrap()).unwrap();
        let tcp = std::net::TcpStream::connect(server.addr()).unwrap();
        tcp.set_read_timeout(Some(wait)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.write_all(&get_close_request(target)).unwrap();
        let mut got = Vec::new();
        let end = match tls.read_to_end(&mut got) {
            Ok(_) => Ending::Eof,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ending::Reset,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ending::TimedOut,
            Err(e) => panic!("{target}: {e} ({:?})", e.kind()),
        };
        (got, end)
    }

    /// The same cuts inside TLS: offsets count plaintext payload, the RST comes after the
    /// records were acknowledged, the FIN after close_notify.
    #[test]
    fn event_offsets_cut_exactly_inside_tls() {
        let s = Server::builder().tls().plan("reset=6").start().unwrap();
        let config = client_config(&s);
        for framing in ["", "/length=none"] {
            let healthy = format!("/sse=6,0ms{framing}");
            let (full, end) = fetch_tls(&s, &config, &healthy, IO);
            assert_eq!(end, Ending::Eof);
            let (head, body) = split_head(&full).unwrap();
            for (kind, want) in [
                ("reset", Ending::Reset),
                ("close", Ending::Eof),
                ("hang", Ending::TimedOut),
            ] {
                for (off, payload) in [("3ev", 45), ("3ev+10", 55)] {
                    let target = format!("{healthy}/{kind}={off}");
                    let (got, end) = fetch_tls(&s, &config, &target, silence(kind));
                    let cut = head.len() + wire_after_payload(body, framing.is_empty(), payload);
                    assert_eq!((show(&got), end), (show(&full[..cut]), want), "{target}");
                }
            }
        }
    }

    /// curl over TLS: exit 56 after exactly three events, chunk framing as sent (`--raw`).
    #[test]
    fn curl_over_tls_gets_exactly_three_events_then_56() {
        if !have_curl() {
            return;
        }
        let s = Server::builder().tls().plan("reset=6").start().unwrap();
        let ca = common::temp_path("ca.pem");
        std::fs::write(&ca, s.ca_pem().unwrap()).unwrap();
        let url = format!("https://localhost:{}/sse=5,20ms/reset=3ev", s.addr().port());
        let (code, out, _) = run_cmd(
            Command::new("curl")
                .args(["-sS", "--raw", "--max-time", "10", "--cacert"])
                .arg(&ca)
                .arg(&url),
            Duration::from_secs(20),
        );
        let want: Vec<u8> = (1..=3)
            .flat_map(|k| format!("f\r\nid: {k}\ndata: {k}\n\n").into_bytes())
            .collect::<Vec<u8>>();
        // The cut leaves the 3rd chunk's CRLF unsent; the chunks before have theirs.
        let want = String::from_utf8(want)
            .unwrap()
            .replace("\n\nf\r\n", "\n\n\r\nf\r\n");
        assert_eq!((code, out), (56, want));
    }
}

// ---------------------------------------------------------------------------------------------
// Proxy mode: the upstream's events
// ---------------------------------------------------------------------------------------------

/// A real upstream streaming events (httpfault itself: chunked, an event a chunk, and
/// delimited by its close), behind the proxy: each cut lands right after the upstream's 3rd
/// event (and 10 bytes into the 4th), counted through the upstream's own framing.
#[test]
fn proxy_mode_counts_the_upstreams_events() {
    let up = Server::builder()
        .route("GET /chunked sse=6,20ms")
        .route("GET /eof sse=6,20ms/length=none")
        .start()
        .unwrap();
    let proxy = Server::builder().upstream(&up.url()).start().unwrap();
    let request = |path: &str, plan: &str| {
        let extra = match plan {
            "" => String::new(),
            p => format!("X-Httpfault-Plan: {p}\r\n"),
        };
        format!("GET {path} HTTP/1.1\r\nHost: up\r\nConnection: close\r\n{extra}\r\n").into_bytes()
    };
    let fetch = |path: &str, plan: &str, wait: Duration| {
        let mut c = Client::connect(proxy.addr());
        c.send(&request(path, plan));
        c.read_to_end(wait)
    };
    for path in ["/chunked", "/eof"] {
        let (full, end) = fetch(path, "", IO);
        assert_eq!(end, Ending::Eof, "{path}");
        let (_, body) = split_head(&full).unwrap();
        let chunked = path == "/chunked";
        // The upstream's events pass unchanged, framing included.
        let payload = if chunked { body.len() - 7 } else { body.len() };
        assert!(
            body[..payload].ends_with(&events(6..=6)),
            "{path}: {}",
            show(body)
        );
        for (kind, want) in [
            ("reset", Ending::Reset),
            ("close", Ending::Eof),
            ("hang", Ending::TimedOut),
        ] {
            for (off, payload) in [("3ev", 45), ("3ev+10", 55)] {
                let plan = format!("{kind}={off}");
                let (got, end) = fetch(path, &plan, silence(kind));
                let (_, got_body) = split_head(&got).expect("a relayed head");
                let cut = wire_after_payload(body, chunked, payload);
                assert_eq!(
                    (show(got_body), end),
                    (show(&body[..cut]), want),
                    "{path} {plan}"
                );
            }
        }
        // pause=2ev: the relay holds right after the upstream's 2nd event.
        let mut c = Client::connect(proxy.addr());
        c.send(&request(path, "pause=2ev,1500ms"));
        let t = c.read_timed(full.len(), IO);
        let (head, _) = split_head(&t.bytes).unwrap();
        let (gap, at) = t.longest_gap();
        assert!(gap >= ms(1200), "{path}: {gap:?}");
        assert_eq!(
            at,
            head.len() + wire_after_payload(body, chunked, 30),
            "{path}"
        );
    }
    let seen = proxy.wait_for(2 * (1 + 6 + 1), IO);
    assert!(seen
        .iter()
        .any(|r| r.plan == "reset=3ev" && r.end == Some(End::Reset)));
}

// ---------------------------------------------------------------------------------------------
// file= and --files
// ---------------------------------------------------------------------------------------------

/// A directory for `--files`, with a file, a link out of it, and a file outside.
struct FilesDir {
    dir: PathBuf,
    outside: PathBuf,
}

impl FilesDir {
    fn new() -> FilesDir {
        let dir = common::temp_path("files");
        let outside = common::temp_path("outside");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(dir.join("sub/a.sse"), b"data: in\n\n").unwrap();
        std::fs::write(outside.join("secret"), b"data: secret\n\n").unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), dir.join("link")).unwrap();
        FilesDir { dir, outside }
    }
}

impl Drop for FilesDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(&self.outside);
    }
}

fn status_and_body(addr: std::net::SocketAddr, target: &str) -> (u16, String) {
    let (got, _) = fetch(addr, target, IO);
    let (head, body) = split_head(&got).unwrap_or_else(|| panic!("{target}: {}", show(&got)));
    let (_, status, _) = common::parse_head(head);
    (status, String::from_utf8_lossy(body).into_owned())
}

/// `file=` on the command line and in a routes file reads any file; a path plan, a header
/// plan or the control API may not, unless `--files DIR`: then files under DIR only (`..`,
/// absolute paths and symbolic links out of it are a 400 naming why).
#[test]
fn file_bodies_from_the_operator_and_from_requests_only_under_files_dir() {
    let f = FilesDir::new();
    let secret = f.outside.join("secret");
    let secret_enc = enc(secret.to_str().unwrap());
    // The command line and a routes file read any file.
    let routes = common::temp_path("routes");
    std::fs::write(
        &routes,
        format!("GET /r file={secret_enc}/reset=1ev+2\nGET /s file={secret_enc}/close=6\n"),
    )
    .unwrap();
    let s = common::Server::start(&[
        "--routes",
        routes.to_str().unwrap(),
        &format!("file={secret_enc}/header=Content-Type:text%2Fevent-stream"),
    ]);
    let (status, body) = status_and_body(s.addr, "/");
    assert_eq!((status, body.as_str()), (200, "data: secret\n\n"));
    // One event: `1ev+2` is never reached (complete); a byte offset cuts inside it.
    let (got, end) = fetch(s.addr, "/r", IO);
    assert_eq!(end, Ending::Eof);
    assert!(got.ends_with(b"\r\n\r\ndata: secret\n\n"), "{}", show(&got));
    let (got, end) = fetch(s.addr, "/s", IO);
    assert_eq!(end, Ending::Eof);
    assert!(got.ends_with(b"\r\n\r\ndata: "), "{}", show(&got));
    // Without --files, a request's plan reads nothing.
    let (status, body) = status_and_body(s.addr, "/file=sub%2Fa.sse");
    assert_eq!(status, 400);
    assert!(body.contains("--files DIR"), "{body}");
    let mut c = Client::connect(s.addr);
    c.send(format!("PUT /__httpfault/plan HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\nfile={secret_enc}", 5 + secret_enc.len()).as_bytes());
    let r = c.read_response();
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body_str().contains("--files DIR"), "{r:?}");
    drop(s);

    // Proxy mode's X-Httpfault-Plan is a request's plan too.
    let up = Server::start("ok").unwrap();
    let proxy = Server::builder().upstream(&up.url()).start().unwrap();
    let mut c = Client::connect(proxy.addr());
    c.send(
        format!("GET / HTTP/1.1\r\nHost: x\r\nX-Httpfault-Plan: file={secret_enc}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    let r = c.read_response();
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body_str().contains("--files DIR"), "{r:?}");

    // With --files DIR: under DIR only.
    let s = common::Server::start(&["--files", f.dir.to_str().unwrap(), "ok"]);
    let (status, body) = status_and_body(s.addr, "/file=sub%2Fa.sse");
    assert_eq!((status, body.as_str()), (200, "data: in\n\n"));
    let abs = enc(f.dir.join("sub/a.sse").to_str().unwrap());
    assert_eq!(status_and_body(s.addr, &format!("/file={abs}")).0, 200);
    for bad in [
        "..%2Foutside%2Fsecret".to_string(),
        "sub%2F..%2F..%2Fx".to_string(),
        "link".to_string(),
        secret_enc.clone(),
    ] {
        let (status, body) = status_and_body(s.addr, &format!("/file={bad}"));
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            body.contains("outside the --files directory"),
            "{bad}: {body}"
        );
    }
    let (status, body) = status_and_body(s.addr, "/file=nope");
    assert_eq!(status, 400);
    assert!(body.contains("cannot read 'nope' (no such file)"), "{body}");
    // The control API: under DIR, 204; outside, 400 and nothing changes.
    let put = |plan: &str| {
        let mut c = Client::connect(s.addr);
        c.send(format!("PUT /__httpfault/plan HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{plan}", plan.len()).as_bytes());
        c.read_response().status
    };
    assert_eq!(put(&format!("file={secret_enc}")), 400);
    assert_eq!(put("file=sub%2Fa.sse/close=4"), 204);
    let (got, end) = fetch(s.addr, "/", IO);
    assert_eq!(end, Ending::Eof);
    assert!(got.ends_with(b"\r\n\r\ndata"), "{}", show(&got));
    let _ = std::fs::remove_file(routes);
}

/// A `file=` the operator cannot use is a usage error: exit 2, one line naming it.
#[test]
fn bad_file_steps_exit_2_naming_the_file() {
    let f = FilesDir::new();
    let big = f.dir.join("big");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(64 * 1024 * 1024 + 1).unwrap();
    let big_enc = enc(big.to_str().unwrap());
    for (plan, want) in [
        (
            "file=%2Fno%2Fsuch".to_string(),
            "cannot read '/no/such' (no such file)".to_string(),
        ),
        (
            format!("file={big_enc}"),
            "has 67108865 bytes (at most 67108864, 64 MiB)".to_string(),
        ),
        (
            format!("file={}", enc(f.dir.to_str().unwrap())),
            "is not a regular file".to_string(),
        ),
        (
            "file=a/b".to_string(),
            "a path with each / written %2F".to_string(),
        ),
    ] {
        let out = common::start_expect_fail(&[&plan], 2);
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{plan}: {lines:?}");
        assert!(
            lines[0].starts_with("httpfault: error: bad plan: "),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains(&want), "{plan}: {}", lines[0]);
    }
    let out = common::start_expect_fail(&["--files", "/no/such/dir"], 2);
    assert!(
        out.stderr_lines()[0].contains("--files '/no/such/dir'"),
        "{:?}",
        out.stderr_lines()
    );
}

// ---------------------------------------------------------------------------------------------
// Python: httpx-sse, and the OpenAI SDK
// ---------------------------------------------------------------------------------------------

/// A client script's output split by URL: the lines after each `url URL` line.
fn by_url(lines: Vec<String>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for l in lines {
        match (l.starts_with("url "), out.last_mut()) {
            (false, Some(group)) => group.push(l),
            _ => out.push(Vec::new()),
        }
    }
    out
}

/// What sse_client.py printed for each of `urls`: every line, one group a URL.
fn httpx_sse(urls: &[String], timeout: &str, resume: u32) -> Option<Vec<Vec<String>>> {
    let resume = resume.to_string();
    let mut args: Vec<&str> = urls.iter().map(String::as_str).collect();
    args.extend(["--timeout", timeout, "--resume", &resume]);
    let groups = by_url(py_client("sse_client.py", &args)?);
    assert_eq!(groups.len(), urls.len());
    Some(groups)
}

/// httpx-sse against each fault, with an app's resume loop: what it raises (the table of
/// docs/streams.md), the events it saw before (exactly those before the cut), and that
/// resuming with `Last-Event-ID` sees every event once, then stops at the 204.
#[test]
fn httpx_sse_raises_per_fault_and_a_resuming_app_sees_every_event_once() {
    let cases: &[(&str, &str, u64)] = &[
        ("reset=3ev", "error ReadError", 3),
        ("close=3ev", "error RemoteProtocolError", 3),
        ("close=3ev+10", "error RemoteProtocolError", 3),
        ("length=none/close=3ev", "end", 3),
        ("length=none/close=3ev+10", "end", 3),
        ("length=none/reset=3ev", "error ReadError", 3),
        ("hang=3ev", "error ReadTimeout", 3),
        ("pause=2ev,5s", "error ReadTimeout", 2),
    ];
    let mut b = Server::builder()
        .route("GET /204 sse=5/status=204")
        .route("GET /retry sse=2,0ms/sse-retry=2500");
    for (i, (fault, _, _)) in cases.iter().enumerate() {
        b = b.route(&format!("GET /c{i} sse=5,20ms/{fault} sse=5,20ms"));
    }
    let s = b.start().unwrap();
    let urls: Vec<String> = (0..cases.len())
        .map(|i| format!("{}/c{i}", s.url()))
        .collect();
    // The read timeout: a silence outlasts it; a loaded machine still answers well within it.
    let Some(groups) = httpx_sse(&urls, "2", 3) else {
        return;
    };
    for ((fault, first_end, before), lines) in cases.iter().zip(groups) {
        let mut want: Vec<String> = vec!["connect -".into()];
        want.extend((1..=*before).map(|k| format!("event {k} {k}")));
        want.push(first_end.to_string());
        want.push(format!("connect {before}"));
        want.extend((before + 1..=5).map(|k| format!("event {k} {k}")));
        want.extend(["end".into(), "connect 5".into(), "status 204".into()]);
        assert_eq!(lines, want, "{fault}");
    }
    // status=204 first: no event, no retry; sse-retry: the field is read.
    let urls = [format!("{}/204", s.url()), format!("{}/retry", s.url())];
    let groups = httpx_sse(&urls[..1], "10", 3).unwrap();
    assert_eq!(groups[0], ["connect -", "status 204"]);
    let groups = httpx_sse(&urls[1..], "10", 0).unwrap();
    // httpx-sse hands the lone retry field over as an event with empty data.
    assert_eq!(
        groups[0],
        [
            "connect -",
            "retry 2500",
            "event - ",
            "event 1 1",
            "event 2 2",
            "end"
        ]
    );
}

/// The OpenAI SDK streaming a recorded chat completion (tests/streams/chat.sse, served with
/// `file=`): every cut after the head is an exception (APIConnectionError, or APITimeoutError
/// for a silence), with the partial text; never a silently shorter answer, except where the
/// HTTP framing cannot tell (a stream delimited by the close, cut cleanly, or a 204): there
/// only the missing `finish_reason` tells. The SDK never retries a cut after the head (one
/// request in the journal, with max_retries=2).
#[test]
fn openai_sdk_stream_cut_by_each_fault() {
    let chat = enc(root().join("tests/streams/chat.sse").to_str().unwrap());
    let cases: &[(&str, &str)] = &[
        (
            "",
            "done \"The quick brown fox jumps over the lazy dog.\" stop",
        ),
        (
            "reset=3ev",
            "error APIConnectionError api-connection ReadError \"The quick\"",
        ),
        (
            "close=3ev",
            "error APIConnectionError api-connection RemoteProtocolError \"The quick\"",
        ),
        (
            "close=3ev+10",
            "error APIConnectionError api-connection RemoteProtocolError \"The quick\"",
        ),
        (
            "chunked=64/close=3ev",
            "error APIConnectionError api-connection RemoteProtocolError \"The quick\"",
        ),
        (
            "length=none/reset=3ev",
            "error APIConnectionError api-connection ReadError \"The quick\"",
        ),
        ("length=none/close=3ev", "done \"The quick\" none"),
        ("length=none/close=3ev+10", "done \"The quick\" none"),
        (
            "hang=3ev",
            "error APITimeoutError api-timeout ReadTimeout \"The quick\"",
        ),
        (
            "pause=3ev,6s",
            "error APITimeoutError api-timeout ReadTimeout \"The quick\"",
        ),
        ("status=204", "done \"\" none"),
    ];
    let mut b = Server::builder();
    for (i, (fault, _)) in cases.iter().enumerate() {
        let fault = if fault.is_empty() {
            String::new()
        } else {
            format!("/{fault}")
        };
        b = b.route(&format!(
            "POST /c{i}/chat/completions file={chat}/header=Content-Type:text%2Fevent-stream{fault}"
        ));
    }
    // A 503 before the stream is retried (max_retries), and the retry streams whole.
    b = b.route(&format!(
        "POST /r503/chat/completions status=503 file={chat}/header=Content-Type:text%2Fevent-stream"
    ));
    let s = b.start().unwrap();
    let silent = |fault: &str| fault.starts_with("hang") || fault.starts_with("pause");
    // A silence must outlast the client's timeout; elsewhere a long one, so that a slow
    // machine never times out before the head (which the SDK would retry).
    let mut outputs: Vec<Option<Vec<String>>> = vec![None; cases.len()];
    for (quiet, timeout) in [(false, "20"), (true, "2")] {
        let picked: Vec<usize> = (0..cases.len())
            .filter(|&i| silent(cases[i].0) == quiet)
            .collect();
        let urls: Vec<String> = picked.iter().map(|i| format!("{}/c{i}", s.url())).collect();
        let mut args: Vec<&str> = urls.iter().map(String::as_str).collect();
        args.extend(["--timeout", timeout, "--retries", "2"]);
        let Some(lines) = py_client("openai_client.py", &args) else {
            return;
        };
        for (i, group) in picked.into_iter().zip(by_url(lines)) {
            outputs[i] = Some(group);
        }
    }
    for ((fault, want), lines) in cases.iter().zip(outputs) {
        let lines = lines.expect("an output for every case");
        let last = lines.last().map(String::as_str).unwrap_or("");
        assert_eq!(last, *want, "{fault}: {lines:?}");
        // The chunks that arrived are exactly those of the first three events.
        let chunks: Vec<&String> = lines.iter().filter(|l| l.starts_with("chunk")).collect();
        let n = if fault.is_empty() {
            10
        } else if fault.contains("204") {
            0
        } else {
            2
        };
        assert_eq!(chunks.len(), n, "{fault}: {lines:?}");
    }
    // One request a case: the SDK never retries a stream cut after its head (the silent
    // cases are left out: a loaded machine may time out before their head, and that the SDK
    // retries).
    let seen = s.requests();
    for (i, (fault, _)) in cases.iter().enumerate() {
        let target = format!("/c{i}/chat/completions");
        let n = seen.iter().filter(|r| r.target == target).count();
        assert!(n == 1 || (silent(fault) && n >= 1), "{fault}: {n} requests");
    }
    let reset = seen
        .iter()
        .find(|r| r.plan.ends_with("/reset=3ev") && !r.plan.contains("length"))
        .unwrap();
    assert_eq!(reset.end, Some(End::Reset));
    let base = format!("{}/r503", s.url());
    let lines = py_client(
        "openai_client.py",
        &[&base, "--timeout", "20", "--retries", "2"],
    );
    let lines = lines.expect("the client ran above");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("done \"The quick brown fox jumps over the lazy dog.\" stop")
    );
    let statuses: Vec<u16> = s
        .requests()
        .iter()
        .filter(|r| r.target == "/r503/chat/completions")
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [503, 200]);
}

// ---------------------------------------------------------------------------------------------
// The browser: EventSource in headless Chromium
// ---------------------------------------------------------------------------------------------

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

/// The page's log: whether it finished (the source CLOSED, or enough messages), and its
/// events.
struct Page {
    finished: bool,
    events: Vec<common::Json>,
}

fn json_str(v: Option<&common::Json>) -> &str {
    match v {
        Some(common::Json::Str(s)) => s,
        _ => "",
    }
}

impl Page {
    /// The page's log entries of one kind (`message`, `error`, `open`).
    fn entries<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a [common::Json]> + 'a {
        self.events.iter().filter_map(move |e| match e {
            common::Json::Arr(a) if json_str(a.first()) == kind => Some(&a[..]),
            _ => None,
        })
    }

    /// `(id, data)` of each message, in order.
    fn messages(&self) -> Vec<(String, String)> {
        self.entries("message")
            .map(|a| {
                (
                    json_str(a.get(1)).to_string(),
                    json_str(a.get(2)).to_string(),
                )
            })
            .collect()
    }

    /// The readyState of each error event.
    fn errors(&self) -> Vec<f64> {
        self.entries("error")
            .filter_map(|a| match a.get(1) {
                Some(common::Json::Num(n)) => Some(*n),
                _ => None,
            })
            .collect()
    }
}

/// Opens tests/streams/eventsource.html (served by `server` itself with `file=`, route
/// `GET /es.html`) with `query`, and waits up to `wait` for it to finish.
fn eventsource(chromium: &Path, server: &Server, query: &str, wait: Duration) -> Page {
    let url = format!("{}/es.html?{query}", server.url());
    let (code, out, err) = run_cmd(
        Command::new("node")
            .arg(root().join("tests/streams/eventsource.js"))
            .arg(&url)
            .arg(wait.as_millis().to_string())
            .env("CHROMIUM", chromium)
            .env("NODE_PATH", root().join("target/node/node_modules")),
        wait + Duration::from_secs(60),
    );
    assert_eq!(
        code, 0,
        "node eventsource.js {url}\nstdout: {out}\nstderr: {err}"
    );
    let json = common::parse_json(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let finished = matches!(json.get("finished"), Some(common::Json::Bool(true)));
    let events = match json.get("events") {
        Some(common::Json::Arr(a)) => a.clone(),
        _ => panic!("no events: {out}"),
    };
    Page { finished, events }
}

/// A server for the page: routes `GET /es.html` (the page, from its file) and `routes`.
fn page_server(routes: &[&str]) -> Server {
    let page = enc(root()
        .join("tests/streams/eventsource.html")
        .to_str()
        .unwrap());
    let mut b = Server::builder().route(&format!(
        "GET /es.html file={page}/header=Content-Type:text%2Fhtml%3B%20charset%3Dutf-8"
    ));
    for r in routes {
        b = b.route(r);
    }
    b.start().unwrap()
}

fn ids(range: std::ops::RangeInclusive<u64>) -> Vec<(String, String)> {
    range.map(|k| (k.to_string(), k.to_string())).collect()
}

/// The browser's EventSource under each cut: it reconnects after the `retry:` delay with
/// `Last-Event-ID` (the journal shows the header), sees every event once (a partial event is
/// never dispatched), and stops for good on the `204` once none is left.
#[test]
fn eventsource_resumes_with_last_event_id_sees_every_event_once_and_stops_on_204() {
    let Some(chromium) = browser() else {
        return;
    };
    let faults = [
        "reset=3ev",
        "close=3ev",
        "close=3ev+10",
        "length=none/reset=3ev",
        "length=none/close=3ev",
        "length=none/close=3ev+10",
    ];
    let routes: Vec<String> = faults
        .iter()
        .enumerate()
        .map(|(i, f)| format!("GET /e{i} sse=5,20ms/sse-retry=100/{f} sse=5,20ms/sse-retry=100"))
        .collect();
    let s = page_server(&routes.iter().map(String::as_str).collect::<Vec<_>>());
    for (i, fault) in faults.iter().enumerate() {
        let page = eventsource(
            &chromium,
            &s,
            &format!("src=/e{i}"),
            Duration::from_secs(20),
        );
        assert!(page.finished, "{fault}: {:?}", page.events);
        assert_eq!(page.messages(), ids(1..=5), "{fault}: {:?}", page.events);
        // An error that reconnects (CONNECTING) after the cut and after the end; the last
        // one CLOSED (the 204).
        assert_eq!(page.errors(), [0.0, 0.0, 2.0], "{fault}: {:?}", page.events);
        let target = format!("/e{i}");
        let seen: Vec<_> = s
            .requests()
            .into_iter()
            .filter(|r| r.target == target)
            .collect();
        // The page resumes from the last event it saw before the cut: the 3rd, or an earlier
        // one when events arrived just before the cut and Chromium dropped them with the
        // error (they were still on their way to the page when the load failed; measured:
        // about 1 run in 6 with an RST 20 ms after the event; in CI once with events 2 and 3
        // both dropped): it then gets them on the resume, still once each.
        let before_cut = page
            .events
            .iter()
            .take_while(|e| !matches!(e, common::Json::Arr(a) if json_str(a.first()) == "error"))
            .filter_map(|e| match e {
                common::Json::Arr(a) if json_str(a.first()) == "message" => {
                    Some(json_str(a.get(1)))
                }
                _ => None,
            })
            .last()
            .unwrap_or("");
        assert!(
            ["1", "2", "3"].contains(&before_cut),
            "{fault}: {:?}",
            page.events
        );
        let last_ids: Vec<Option<&str>> = seen.iter().map(|r| r.header("last-event-id")).collect();
        assert_eq!(
            last_ids,
            [None, Some(before_cut), Some("5")],
            "{fault}: {:?}",
            page.events
        );
        // What the server sent before the cut is exactly what a raw client gets for the same
        // plan (which event_offsets_cut_http11_streams_exactly_chunked_or_not checks).
        let mut c = Client::connect(s.addr());
        c.send(&common::get_request(&format!(
            "/sse=5,20ms/sse-retry=100/{fault}"
        )));
        let (raw, _) = c.read_to_end(ms(1500));
        assert_eq!(seen[0].bytes, raw.len() as u64, "{fault}");
        let statuses: Vec<u16> = seen.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [200, 200, 204], "{fault}");
    }
}

/// `retry:` is honoured: with `sse-retry=4000` the reconnect waits at least 4 s (Chromium's
/// own default is 3 s), with 100 it comes well before those 3 s.
#[test]
fn eventsource_honours_the_retry_field() {
    let Some(chromium) = browser() else {
        return;
    };
    let gap = |s: &Server, target: &str| {
        let seen: Vec<_> = s
            .requests()
            .into_iter()
            .filter(|r| r.target == target)
            .collect();
        assert!(seen.len() >= 2, "{target}: {seen:?}");
        seen[1].t - seen[0].t
    };
    let s = page_server(&["GET /slow sse=3,0ms/sse-retry=4000/reset=1ev sse=3,0ms"]);
    let page = eventsource(&chromium, &s, "src=/slow", Duration::from_secs(30));
    assert_eq!(page.messages(), ids(1..=3), "{:?}", page.events);
    assert!(gap(&s, "/slow") >= ms(3950), "{:?}", gap(&s, "/slow"));
    // `retry: 100` must beat Chromium's default of 3 s. A busy machine can delay one
    // reconnect by seconds, so the shortest of up to three fresh runs is the one judged.
    let mut gaps = Vec::new();
    for _ in 0..3 {
        let s = page_server(&["GET /fast sse=3,0ms/sse-retry=100/reset=1ev sse=3,0ms"]);
        let page = eventsource(&chromium, &s, "src=/fast", Duration::from_secs(30));
        assert_eq!(page.messages(), ids(1..=3), "{:?}", page.events);
        gaps.push(gap(&s, "/fast"));
        if gaps.iter().any(|g| *g < ms(2900)) {
            break;
        }
    }
    assert!(gaps.iter().any(|g| *g < ms(2900)), "{gaps:?}");
}

/// `status=204` on the first request: the source closes at once and never reconnects; a
/// stream held after 3 events (`hang=3ev`) stays open with those three, with no error (the
/// browser has no idle timeout), and a pause is waited out.
#[test]
fn eventsource_stops_on_a_first_204_and_waits_on_a_hang_or_pause() {
    let Some(chromium) = browser() else {
        return;
    };
    let s = page_server(&[
        "GET /none sse=5/status=204",
        "GET /held sse=5,0ms/hang=3ev",
        "GET /paused sse=4,0ms/pause=2ev,1500ms",
    ]);
    let page = eventsource(
        &chromium,
        &s,
        "src=/paused&until=4",
        Duration::from_secs(20),
    );
    assert!(page.finished);
    assert_eq!((page.messages(), page.errors()), (ids(1..=4), vec![]));
    let at: Vec<f64> = page
        .entries("message")
        .filter_map(|a| match a.get(3) {
            Some(common::Json::Num(n)) => Some(*n),
            _ => None,
        })
        .collect();
    assert!(at[2] - at[1] >= 1400.0, "{at:?}");
    let page = eventsource(&chromium, &s, "src=/none", Duration::from_secs(20));
    assert!(page.finished);
    assert_eq!((page.messages(), page.errors()), (vec![], vec![2.0]));
    let page = eventsource(&chromium, &s, "src=/held", Duration::from_secs(3));
    assert!(!page.finished);
    assert_eq!((page.messages(), page.errors()), (ids(1..=3), vec![]));
    let held: Vec<_> = s
        .requests()
        .into_iter()
        .filter(|r| r.target == "/held")
        .collect();
    assert_eq!(held.len(), 1);
    let none: Vec<_> = s
        .requests()
        .into_iter()
        .filter(|r| r.target == "/none")
        .collect();
    assert_eq!(none.len(), 1, "no reconnect after a 204");
}
