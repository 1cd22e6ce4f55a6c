//! HTTP/2 and gRPC on the wire (issue 19; the contract's part 3, "HTTP/2 and gRPC"), with real
//! clients: curl `--http2-prior-knowledge` and `--http2` (Upgrade: h2c), Node's built-in
//! `http2`, Python `grpcio`, `@grpc/grpc-js`, `nghttp`; and a raw client (`tests/h2/raw.rs`, shared
//! with `h2_conformance.rs` and `h2_limits.rs`) for frame-level faults and malformed input.
//!
//! A client that is missing skips its test loudly; under `CI=true` it fails instead.

mod common;

use common::*;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `tool` can run; a missing tool fails under CI and skips (loudly) elsewhere.
fn have(tool: &str, what: &str) -> bool {
    let found = if tool.contains('/') {
        Path::new(tool).exists()
    } else {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is missing ({what}); CI must have it"
        );
        eprintln!("SKIPPED: {tool} is missing ({what}); run `make deps` / install it");
    }
    found
}

/// Runs a client with a deadline; returns (exit code, stdout).
fn client(cmd: &str, args: &[&str], limit: Duration) -> (Option<i32>, String) {
    let mut child = Command::new(cmd)
        .args(args)
        .env("NODE_PATH", "target/node/node_modules")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd}: {e}"));
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let mut out = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            if !err.trim().is_empty() {
                eprintln!("{cmd} {args:?} stderr: {err}");
            }
            return (st.code(), out);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd} {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(ms(10));
    }
}

fn curl(args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["-s", "-m", "5"];
    all.extend_from_slice(args);
    client("curl", &all, Duration::from_secs(20))
}

/// A JSON field of a one-line JSON object, as text (a tiny reader, enough for the scripts'
/// flat output).
fn field<'a>(json: &'a str, name: &str) -> &'a str {
    let key = format!("\"{name}\":");
    let at = json
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {json}"))
        + key.len();
    let rest = json[at..].trim_start();
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().trim_matches('"')
}

/// The streams of node_h2.js's output, one JSON object each.
fn streams(json: &str) -> Vec<&str> {
    let list = &json[json.find("\"streams\":[").expect("streams") + 11..];
    let list = &list[..list.find(']').unwrap()];
    list.split("},{").collect()
}

fn node_h2(s: &Server, args: &[&str]) -> String {
    let url = format!("http://{}", s.addr);
    let mut all = vec!["tests/h2/node_h2.js", &url];
    all.extend_from_slice(args);
    let (code, out) = client("node", &all, Duration::from_secs(20));
    assert_eq!(code, Some(0), "{out}\n{}", s.describe());
    out
}

#[test]
fn curl_prior_knowledge_and_upgrade() {
    if !have("curl", "curl with HTTP2") {
        return;
    }
    let s = Server::start(&[]);
    let url = format!("http://{}/status=201/text=hi", s.addr);
    let (code, out) = curl(&[
        "--http2-prior-knowledge",
        "-w",
        " %{http_version} %{http_code}",
        &url,
    ]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "hi 2 201"),
        "{}",
        s.describe()
    );
    // Upgrade: h2c: the 101, then the answer as stream 1.
    let url = format!("http://{}/body=100k", s.addr);
    let (code, out) = curl(&[
        "--http2",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{size_download}",
        &url,
    ]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "2 102400"),
        "{}",
        s.describe()
    );
    let lines = s.wait_logs(2, IO, |l| {
        l.contains("event=request") && l.contains("stream=1")
    });
    assert_eq!(lines.len(), 2, "{}", s.describe());
}

#[test]
fn once_serves_one_http2_stream_then_exits_0() {
    if !have("curl", "curl with HTTP2") {
        return;
    }
    let mut s = Server::start(&["--once", "status=200"]);
    let url = format!("http://{}/", s.addr);
    let (code, out) = curl(&["--http2-prior-knowledge", &url]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "Hello, world!"),
        "{}",
        s.describe()
    );
    let st = s.wait_exit(EXIT).expect("exits after the one stream");
    assert_eq!(st.code(), Some(0), "{}", s.describe());
}

#[test]
fn curl_exit_codes_for_stream_and_connection_faults() {
    if !have("curl", "curl with HTTP2") {
        return;
    }
    let s = Server::start(&[]);
    let get = |plan: &str, extra: &[&str]| {
        let url = format!("http://{}/{plan}", s.addr);
        let mut args = vec!["--http2-prior-knowledge", "-o", "/dev/null"];
        args.extend_from_slice(extra);
        args.push(&url);
        curl(&args).0
    };
    // RST_STREAM: CURLE_HTTP2_STREAM (92); GOAWAY with an error: CURLE_HTTP2 (16).
    assert_eq!(get("rst=cancel", &[]), Some(92), "{}", s.describe());
    assert_eq!(get("body=10k/reset=100", &[]), Some(92), "{}", s.describe());
    assert_eq!(
        get("goaway=protocol_error", &[]),
        Some(16),
        "{}",
        s.describe()
    );
    assert_eq!(get("body=10k/goaway=internal_error@1000", &[]), Some(16));
    // REFUSED_STREAM: curl reports a receive failure (56); a gRPC status or goaway-keep is a
    // complete HTTP response to curl (0).
    assert_eq!(get("rst=refused_stream", &[]), Some(56));
    assert_eq!(get("grpc-status=unavailable", &[]), Some(0));
    assert_eq!(get("grpc-messages=1/no-trailers", &[]), Some(0));
    assert_eq!(get("goaway-keep/text=kept", &[]), Some(0));
    // Silence on the stream: only curl's own timeout (28) ends it.
    assert_eq!(get("noheaders", &["-m", "1"]), Some(28));
    assert_eq!(get("headers-only", &["-m", "1"]), Some(28));
    assert_eq!(get("stall@3", &["-m", "1"]), Some(28));
}

#[test]
fn http1_requests_with_http2_steps_get_400_naming_the_protocol() {
    let s = Server::start(&[
        "--route",
        "POST /helloworld.Greeter/SayHello grpc-status=unavailable",
    ]);
    for target in [
        "/rst=cancel@1000",
        "/stall@5",
        "/helloworld.Greeter/SayHello",
    ] {
        let mut c = Client::connect(s.addr);
        c.send(&request_with_body("POST", target, b""));
        let r = c.read_response();
        assert_eq!(r.status, 400, "{target}: {}", show(&r.raw));
        assert!(r.body_str().contains("is HTTP/2 only"), "{}", r.body_str());
    }
}

#[test]
fn node_streams_are_cut_exactly_and_alone() {
    if !have("node", "Node's http2 client") {
        return;
    }
    let s = Server::start(&[]);
    // Four streams on one connection: the cut ones get exactly their bytes; the others are
    // untouched. 200k needs the client's WINDOW_UPDATEs (flow control on the way out).
    let out = node_h2(
        &s,
        &[
            "/body=10k/rst=cancel@1000",
            "/body=5000",
            "/body=200k/reset=150000",
            "/status=204",
        ],
    );
    let st = streams(&out);
    assert_eq!(field(st[0], "bytes"), "1000", "{out}");
    assert_eq!(field(st[0], "rst"), "8", "{out}"); // CANCEL
    assert_eq!(
        (field(st[1], "bytes"), field(st[1], "rst")),
        ("5000", "0"),
        "{out}"
    );
    assert_eq!(field(st[2], "bytes"), "150000", "{out}");
    assert_eq!(field(st[2], "rst"), "2", "{out}"); // INTERNAL_ERROR for reset=N
    assert_eq!(
        (field(st[3], "status"), field(st[3], "rst")),
        ("204", "0"),
        "{out}"
    );
    // goaway=no_error@777: 777 bytes of that stream, GOAWAY(NO_ERROR), the connection ends;
    // the stream before it was answered in full.
    let out = node_h2(&s, &["/body=3000", "/body=10k/goaway=no_error@777"]);
    let st = streams(&out);
    assert_eq!(field(st[0], "bytes"), "3000", "{out}");
    assert_eq!(field(st[1], "bytes"), "777", "{out}");
    assert_eq!(field(&out, "goaway"), "0", "{out}");
    let ends = s.wait_logs(6, IO, |l| {
        l.contains("event=request") && l.contains("stream=")
    });
    assert!(
        ends.iter().any(|l| l.contains("bytes=1000 end=reset")),
        "{ends:?}"
    );
    assert!(
        ends.iter().any(|l| l.contains("bytes=777 end=close")),
        "{ends:?}"
    );
}

#[test]
fn node_thirty_streams_each_cut_at_its_own_offset() {
    if !have("node", "Node's http2 client") {
        return;
    }
    let s = Server::start(&[]);
    // 30 concurrent streams on one connection, each cut at another offset (some beyond the
    // initial 64 KiB window), interleaved with complete ones.
    let paths: Vec<String> = (0..30u64)
        .map(|i| match i % 3 {
            0 => format!("/body=200k/rst=cancel@{}", 1 + i * 4099),
            1 => format!("/body={}", 1000 + i * 3),
            _ => format!("/body=100k/reset={}", 70_000 + i),
        })
        .collect();
    let args: Vec<&str> = paths.iter().map(String::as_str).collect();
    let out = node_h2(&s, &args);
    for (i, st) in streams(&out).iter().enumerate() {
        let i = i as u64;
        let (bytes, rst) = match i % 3 {
            0 => (1 + i * 4099, "8"),
            1 => (1000 + i * 3, "0"),
            _ => (70_000 + i, "2"),
        };
        assert_eq!(field(st, "bytes"), bytes.to_string(), "stream {i}: {st}");
        assert_eq!(field(st, "rst"), rst, "stream {i}: {st}");
    }
}

#[test]
fn node_a_delayed_stream_does_not_hold_up_the_others() {
    if !have("node", "Node's http2 client") {
        return;
    }
    // One thread serves the connection: the delay is a timer of its scheduler, not a sleep.
    let s = Server::start(&[]);
    let out = node_h2(
        &s,
        &[
            "/delay=2s/text=slow",
            "/text=fast",
            "/pause=2,1s/text=paused",
        ],
    );
    let st = streams(&out);
    assert_eq!(field(st[1], "order"), "1", "{out}");
    assert_eq!(field(st[2], "order"), "2", "{out}");
    assert_eq!(field(st[0], "order"), "3", "{out}");
    assert_eq!(field(st[0], "bytes"), "4", "{out}");
    assert_eq!(field(st[2], "bytes"), "6", "{out}");
}

#[test]
fn node_ping_timeout_stops_ping_answers() {
    if !have("node", "Node's http2 client") {
        return;
    }
    let s = Server::start(&[]);
    let out = node_h2(&s, &["--ping", "/text=x"]);
    assert_eq!(field(&out, "ping"), "answered", "{out}");
    let out = node_h2(&s, &["--ping", "/ping-timeout/text=x"]);
    assert_eq!(field(&out, "ping"), "unanswered", "{out}");
}

#[test]
fn node_goaway_keep_answers_this_stream_and_refuses_later_ones() {
    if !have("node", "Node's http2 client") {
        return;
    }
    let s = Server::start(&[]);
    let out = node_h2(&s, &["/goaway-keep/delay=300ms/text=kept", "/text=later"]);
    let st = streams(&out);
    assert_eq!(
        (field(st[0], "status"), field(st[0], "bytes")),
        ("200", "4"),
        "{out}"
    );
    assert_ne!(field(st[1], "bytes"), "5", "{out}");
    assert_eq!(field(&out, "goaway"), "0", "{out}");
}

// --- a raw client for frame-level faults and malformed input -------------------------------

#[path = "h2/raw.rs"]
mod raw;

use httpfault::fuzzing::h2::frame::{Head, Kind, Reason};
use raw::*;

#[test]
fn malformed_frames_get_the_connection_error_the_rfc_names() {
    let s = Server::start(&[]);
    let cases: Vec<(&str, Vec<u8>, Reason)> = vec![
        (
            "DATA on stream 0",
            frame(Kind::Data, 0, 0, b"x"),
            Reason::PROTOCOL_ERROR,
        ),
        (
            "PING of 7 bytes",
            frame(Kind::Ping, 0, 0, &[0; 7]),
            Reason::FRAME_SIZE_ERROR,
        ),
        (
            "SETTINGS of 5 bytes",
            frame(Kind::Settings, 0, 0, &[0; 5]),
            Reason::FRAME_SIZE_ERROR,
        ),
        (
            "ENABLE_PUSH=2",
            frame(Kind::Settings, 0, 0, &[0, 2, 0, 0, 0, 2]),
            Reason::PROTOCOL_ERROR,
        ),
        (
            "a 20000-byte frame",
            frame(Kind::Data, 0, 1, &[0; 20000]),
            Reason::FRAME_SIZE_ERROR,
        ),
        (
            "HPACK index 0",
            frame(Kind::Headers, 0x5, 1, &[0x80]),
            Reason::COMPRESSION_ERROR,
        ),
        (
            "HPACK index 99",
            frame(Kind::Headers, 0x5, 1, &[0xff, 0x24]),
            Reason::COMPRESSION_ERROR,
        ),
        (
            "stream id 2 (even)",
            frame(Kind::Headers, 0x5, 2, &headers_block("/")),
            Reason::PROTOCOL_ERROR,
        ),
        (
            "PUSH_PROMISE from a client",
            frame(Kind::PushPromise, 0x4, 1, &[0, 0, 0, 2]),
            Reason::PROTOCOL_ERROR,
        ),
        (
            "WINDOW_UPDATE 0 on the connection",
            frame(Kind::WindowUpdate, 0, 0, &[0; 4]),
            Reason::PROTOCOL_ERROR,
        ),
        (
            "DATA inside a header block",
            {
                let mut b = frame(Kind::Headers, 0x1, 1, &headers_block("/"));
                b.extend(frame(Kind::Data, 0, 1, b"x"));
                b
            },
            Reason::PROTOCOL_ERROR,
        ),
        (
            "a CONTINUATION flood",
            {
                let mut b = frame(Kind::Headers, 0x1, 1, &headers_block("/"));
                for _ in 0..200 {
                    b.extend(frame(Kind::Continuation, 0, 1, &[]));
                }
                b
            },
            Reason::ENHANCE_YOUR_CALM,
        ),
        (
            "a header block over 64 KiB",
            {
                let mut b = frame(Kind::Headers, 0x1, 1, &[0x40; 16384]);
                for _ in 0..4 {
                    b.extend(frame(Kind::Continuation, 0, 1, &[0x40; 16384]));
                }
                b
            },
            Reason::ENHANCE_YOUR_CALM,
        ),
    ];
    for (what, bytes, want) in cases {
        let mut t = raw(&s);
        let _ = t.write_all(&bytes);
        let (frames, ended) = read_frames(&mut t, IO);
        assert_eq!(
            goaway_code(&frames),
            Some(want.0),
            "{what}: {frames:?}\n{}",
            s.describe()
        );
        assert!(ended, "{what}: the connection should end after GOAWAY");
    }
    // The server goes on.
    let mut t = raw(&s);
    t.write_all(&frame(Kind::Headers, 0x5, 1, &headers_block("/text=ok")))
        .unwrap();
    let ok = |f: &[(Head, Vec<u8>)]| f.iter().any(|(h, p)| h.kind == Kind::Data && p == b"ok");
    let (frames, _) = read_frames_until(&mut t, IO, ok);
    assert!(ok(&frames), "{frames:?}");
}

#[test]
fn window_0_never_grants_the_upload_window_of_that_stream() {
    let s = Server::start(&[]);
    let upload = |path: &str| {
        let mut t = raw(&s);
        t.write_all(&frame(Kind::Headers, 0x4, 1, &headers_block(path)))
            .unwrap();
        for _ in 0..3 {
            t.write_all(&frame(Kind::Data, 0, 1, &[b'u'; 16384]))
                .unwrap();
        }
        // Until the stream's window comes back (at most 5 s), or 1.5 s when it never does.
        let stream_update = |f: &[(Head, Vec<u8>)]| {
            f.iter()
                .any(|(h, _)| h.kind == Kind::WindowUpdate && h.stream == 1)
        };
        let time = if path.contains("window=0") {
            ms(1500)
        } else {
            Duration::from_secs(5)
        };
        let (frames, _) = read_frames_until(&mut t, time, stream_update);
        let updates = |stream: u32| {
            frames
                .iter()
                .filter(|(h, _)| h.kind == Kind::WindowUpdate && h.stream == stream)
                .count()
        };
        (updates(0), updates(1))
    };
    let (conn, stream) = upload("/text=x");
    assert!(
        conn > 0 && stream > 0,
        "a normal upload gets its window back: {conn} {stream}"
    );
    let (conn, stream) = upload("/window=0");
    assert!(
        conn > 0,
        "the connection's window still comes back (other streams go on)"
    );
    assert_eq!(stream, 0, "window=0: no WINDOW_UPDATE for the stream");
}

#[test]
fn maxstreams_is_advertised_and_enforced() {
    let s = Server::start(&[]);
    let mut t = raw(&s);
    // Stream 1 (held open: hang) asks for maxstreams=1; stream 3 is then one too many.
    t.write_all(&frame(
        Kind::Headers,
        0x5,
        1,
        &headers_block("/maxstreams=1/hang"),
    ))
    .unwrap();
    let advertised = |f: &[(Head, Vec<u8>)]| {
        f.iter()
            .any(|(h, p)| h.kind == Kind::Settings && p.chunks(6).any(|c| c == [0, 3, 0, 0, 0, 1]))
    };
    let (first, _) = read_frames_until(&mut t, IO, advertised);
    assert!(
        advertised(&first),
        "SETTINGS_MAX_CONCURRENT_STREAMS=1: {first:?}"
    );
    t.write_all(&frame(Kind::Headers, 0x5, 3, &headers_block("/text=x")))
        .unwrap();
    let is_refused = |f: &[(Head, Vec<u8>)]| {
        f.iter().any(|(h, p)| {
            h.kind == Kind::Reset
                && h.stream == 3
                && p[..] == Reason::REFUSED_STREAM.0.to_be_bytes()
        })
    };
    let (frames, _) = read_frames_until(&mut t, IO, is_refused);
    let refused = is_refused(&frames);
    assert!(refused, "stream 3 refused: {frames:?}");
}

#[test]
fn journal_has_the_stream_of_each_exchange() {
    // Two streams on one connection. (curl 7.88.1 cannot reuse an HTTP/2 connection for a
    // second URL: it exits 16 against nginx too, so Node is the client here.)
    if !have("node", "Node's http2 client") {
        return;
    }
    let s = Server::start(&[]);
    node_h2(&s, &["/text=a", "/text=b"]);
    let mut c = Client::connect(s.addr);
    c.get("/__httpfault/requests");
    let r = c.read_response();
    let body = r.body_str();
    assert!(body.contains("\"stream\": 1"), "{body}");
    assert!(body.contains("\"stream\": 3"), "{body}");
}

#[test]
fn control_api_answers_over_http2_too() {
    if !have("curl", "curl with HTTP2") {
        return;
    }
    let s = Server::start(&[]);
    let base = format!("http://{}", s.addr);
    let plan_url = format!("{base}/__httpfault/plan");
    let (code, _) = curl(&[
        "--http2-prior-knowledge",
        "-X",
        "PUT",
        "--data-binary",
        "status=418",
        &plan_url,
    ]);
    assert_eq!(code, Some(0));
    let root = format!("{base}/");
    let (code, out) = curl(&[
        "--http2-prior-knowledge",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &root,
    ]);
    assert_eq!((code, out.as_str()), (Some(0), "418"), "{}", s.describe());
    // A POST's body is measured and hashed in the journal as over HTTP/1.1.
    let post = format!("{base}/text=x");
    let (code, _) = curl(&["--http2-prior-knowledge", "--data-binary", "abc", &post]);
    assert_eq!(code, Some(0));
    let requests = format!("{base}/__httpfault/requests");
    let (code, out) = curl(&["--http2-prior-knowledge", &requests]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("\"status\": 418") && out.contains("\"stream\": 1"),
        "{out}"
    );
    assert!(
        !out.contains("__httpfault"),
        "control requests are not journaled: {out}"
    );
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let want = format!("\"body_len\": 3, \"body_sha256\": \"{abc}\"");
    assert!(out.contains(&want), "{out}");
}

#[test]
fn nghttp_sees_a_trailers_only_grpc_answer_as_one_headers_frame() {
    if !have("nghttp", "nghttp2-client") {
        return;
    }
    let s = Server::start(&[
        "--route",
        "POST /t.S/Down grpc-status=unavailable/grpc-message=later",
    ]);
    let body = temp_path("grpc-request");
    std::fs::write(&body, b"\0\0\0\0\x02hi").unwrap();
    let url = format!("http://{}/t.S/Down", s.addr);
    let data = body.to_string_lossy().into_owned();
    let (code, out) = client(
        "nghttp",
        &[
            "-nv",
            "-H",
            "content-type: application/grpc",
            "-d",
            &data,
            &url,
        ],
        Duration::from_secs(20),
    );
    assert_eq!(code, Some(0), "{out}");
    // One HEADERS with END_STREAM | END_HEADERS (0x05) carrying :status and the trailers, and
    // no DATA frame at all.
    assert!(out.contains(") grpc-status: 14"), "{out}");
    assert!(out.contains(") grpc-message: later"), "{out}");
    let headers: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("recv HEADERS frame"))
        .collect();
    assert_eq!(headers.len(), 1, "{out}");
    assert!(headers[0].contains("flags=0x05"), "{out}");
    assert!(!out.contains("recv DATA frame"), "{out}");
}

#[cfg(feature = "tls")]
#[test]
fn http2_over_tls_when_alpn_chooses_h2() {
    if !have("nghttp", "nghttp2-client") || !have("curl", "curl") {
        return;
    }
    // ALPN: the server prefers http/1.1; nghttp offers only h2 and gets HTTP/2 inside TLS,
    // through the same generic connection path (the preface), with an exact per-stream cut.
    let s = Server::start(&["--tls"]);
    let url = format!("https://localhost:{}/body=10k/rst=cancel@1000", s.port());
    let (code, out) = client("nghttp", &["-v", &url], Duration::from_secs(20));
    assert!(out.contains("The negotiated protocol: h2"), "{out}");
    assert!(out.contains("error_code=CANCEL(0x08)"), "{out}\n{code:?}");
    let line = s
        .wait_log(IO, |l| l.contains("target=/body=10k/rst=cancel@1000"))
        .expect("journaled");
    assert!(
        line.contains("bytes=1000 end=reset") && line.contains("tls=true"),
        "{line}"
    );
    assert!(line.contains("stream="), "{line}");
    // curl offers h2 and http/1.1: the server's preference keeps HTTP/1.1 (every HTTP/1 plan).
    let url = format!("https://localhost:{}/text=x", s.port());
    let (code, out) = curl(&["-k", "--http2", "-w", " %{http_version}", &url]);
    assert_eq!((code, out.as_str()), (Some(0), "x 1.1"), "{}", s.describe());
}

// --- gRPC ----------------------------------------------------------------------------------

const PY: &str = "target/venv/bin/python";

fn grpc_py(s: &Server, args: &[&str]) -> String {
    let addr = s.addr.to_string();
    let mut all = vec!["tests/h2/grpc_client.py", &addr];
    all.extend_from_slice(args);
    let (code, out) = client(PY, &all, Duration::from_secs(30));
    assert_eq!(code, Some(0), "{out}\n{}", s.describe());
    out
}

#[test]
fn grpcio_unavailable_retry_policy_no_trailers_and_deadline() {
    if !have(PY, "Python grpcio in target/venv (make deps)") {
        return;
    }
    let s = Server::start(&[
        "--route",
        "POST /helloworld.Greeter/SayHello grpc-status=unavailable*2 ok",
        "--route",
        "POST /t.S/Down grpc-status=unavailable/grpc-message=down%20for%20maintenance",
        "--route",
        "POST /t.S/NoTrailers grpc-messages=1/no-trailers",
        "--route",
        "POST /t.S/Stall grpc-messages=1/stall@5",
        "--route",
        "POST /t.S/Refused rst=refused_stream",
    ]);
    let out = grpc_py(&s, &["--method", "/t.S/Down"]);
    assert_eq!(field(&out, "code"), "UNAVAILABLE", "{out}");
    assert_eq!(field(&out, "details"), "down for maintenance", "{out}");
    // The retry policy of the README's recipe: two UNAVAILABLEs, then `ok` echoes the request.
    let out = grpc_py(&s, &["--retry"]);
    assert_eq!(field(&out, "code"), "OK", "{out}");
    assert_eq!(field(&out, "reply"), "0a05776f726c64", "{out}");
    let tries = s.wait_logs(3, IO, |l| l.contains("target=/helloworld.Greeter/SayHello"));
    assert_eq!(tries.len(), 3, "{tries:?}");
    assert!(
        tries[2].contains("step=3") && tries[2].contains("stream=5"),
        "{tries:?}"
    );
    // A response without trailers: grpcio (C-core) reports UNKNOWN "Stream removed", not
    // INTERNAL (grpc-js does report INTERNAL: see the next test).
    let out = grpc_py(&s, &["--method", "/t.S/NoTrailers"]);
    assert_ne!(field(&out, "code"), "OK", "{out}");
    assert!(
        ["UNKNOWN", "INTERNAL"].contains(&field(&out, "code")),
        "{out}"
    );
    let out = grpc_py(&s, &["--method", "/t.S/Stall", "--deadline", "1"]);
    assert_eq!(field(&out, "code"), "DEADLINE_EXCEEDED", "{out}");
    // RST_STREAM REFUSED_STREAM: the call was not processed; grpcio says UNAVAILABLE.
    let out = grpc_py(&s, &["--method", "/t.S/Refused", "--deadline", "5"]);
    assert_eq!(field(&out, "code"), "UNAVAILABLE", "{out}");
}

#[test]
fn grpc_js_reports_internal_without_trailers() {
    if !have(
        "target/node/node_modules/@grpc/grpc-js",
        "@grpc/grpc-js (make deps)",
    ) {
        return;
    }
    let s = Server::start(&[
        "--route",
        "POST /t.S/NoTrailers grpc-messages=1/no-trailers",
        "--route",
        "POST /t.S/Echo ok",
        "--route",
        "POST /t.S/Down grpc-status=unavailable",
    ]);
    let addr = s.addr.to_string();
    let run = |m: &str| {
        let (code, out) = client(
            "node",
            &["tests/h2/grpcjs_client.js", &addr, m],
            Duration::from_secs(20),
        );
        assert_eq!(code, Some(0), "{out}");
        out
    };
    let out = run("/t.S/NoTrailers");
    assert_eq!(field(&out, "code"), "INTERNAL", "{out}");
    let out = run("/t.S/Down");
    assert_eq!(field(&out, "code"), "UNAVAILABLE", "{out}");
    let out = run("/t.S/Echo");
    assert_eq!(field(&out, "reply"), "0a05776f726c64", "{out}");
}
