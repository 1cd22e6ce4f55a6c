//! `httpfault probe --protocol http2` against real HTTP/2 clients: curl with prior knowledge,
//! Node's `http2` (without a timeout, and with one), httpx with `http2=True`, Go's `net/http`
//! over TLS (ALPN h2) and Java 17's `HttpClient` (h2c upgrade). Each test runs the catalogue
//! (or the scenarios that client proves) with a short `--timeout` and `-j 4`, asserts each
//! verdict, and checks it against what the client really did: its exit status, its output
//! and stderr, and the server's journal (`--json`).
//!
//! Clients missing here fail under CI=true and are skipped, loudly, elsewhere (`.ci/run`
//! installs curl, Node, Go and Java; `make deps` httpx and h2).

mod common;
#[path = "probe/harness.rs"]
mod harness;

use harness::{facts, have, probe, python, root, script, temp};
use std::path::PathBuf;
use std::process::Command;

const H2: &str = "HTTP/2";

fn build_dir(what: &str) -> PathBuf {
    let dir = root().join("target/probe-clients").join(what);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn curl_with_prior_knowledge_against_the_http2_catalogue() {
    if !have("curl", "HTTP/2 with prior knowledge") {
        return;
    }
    let (json, html) = (temp("h2-curl.json"), temp("h2-curl.html"));
    let p = probe(&[
        "--protocol",
        "http2",
        "--timeout",
        "3s",
        "-j",
        "4",
        "--json",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--",
        "curl",
        "-s",
        "--http2-prior-knowledge",
        "{url}",
    ]);
    assert_eq!(p.code, Some(1), "bad verdicts make exit 1\n{p}");
    let first = p.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("healthy run: exit 0 after ")
            && first.ends_with("1 request on 1 connection over HTTP/2, 65536 bytes on stdout"),
        "{p}"
    );
    let f = |name| facts(&json, name);
    assert!(f("baseline").attempts.iter().all(|a| a.1 == H2));
    let report = std::fs::read_to_string(&json).unwrap();
    assert!(report.contains("\"protocol\": \"http2\""), "{report}");
    // The page names the catalogue, and each attempt's row its protocol version.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("catalogue: <code>http2</code>"), "{page}");
    assert!(page.contains("<td>HTTP/2 (stream 1)</td>"), "{page}");
    // curl 7.88 fails with 92 (HTTP/2 stream error) on a stream reset or ended short of
    // content-length, 16 (HTTP/2 framing) on a GOAWAY.
    p.expect("rst-mid-body", "ok", &["failed with exit 92"]);
    assert_eq!(
        (f("rst-mid-body").exit, f("rst-mid-body").ends()),
        (Some(92), vec!["reset"])
    );
    p.expect("length-mismatch", "ok", &["failed with exit 92"]);
    assert_eq!(f("length-mismatch").ends(), ["close"]);
    p.expect("goaway-mid-body", "ok", &["failed with exit 16"]);
    // REFUSED_STREAM: curl retries on a new connection by itself.
    p.expect(
        "refused-stream",
        "ok",
        &["retried 1 time", "on a new connection, then succeeded"],
    );
    let r = f("refused-stream");
    assert_eq!((r.exit, r.ends()), (Some(0), vec!["reset", "complete"]));
    assert_ne!(r.attempts[0].0, r.attempts[1].0, "a new connection");
    assert_eq!(r.stdout_bytes, 65536);
    // A GOAWAY NO_ERROR that left the stream unprocessed: curl gives up (exit 16).
    p.expect(
        "goaway-graceful",
        "warn",
        &["gave up at once (exit 16)", "a retry would have fixed"],
    );
    assert_eq!(f("goaway-graceful").attempts.len(), 1);
    // No timeout by default: the silent stream is still being waited on.
    for name in ["stall-mid-body", "ping-timeout", "headers-only"] {
        p.expect(name, "bad", &["still running at --timeout 3s"]);
        assert!(f(name).killed, "{name}");
    }
    p.expect(
        "503-once",
        "warn",
        &["gave up at once on a 503", "the 503's body as data"],
    );
    assert_eq!(f("503-once").attempts[0].2, 503);
}

#[test]
fn node_http2_without_and_with_a_timeout() {
    if !have("node", "Node's http2") {
        return;
    }
    let json = temp("h2-node.json");
    let client = script("h2_node.js");
    let p = probe(&[
        "--protocol",
        "http2",
        "--timeout",
        "3s",
        "-j",
        "4",
        "--json",
        json.to_str().unwrap(),
        "--",
        "node",
        &client,
        "{url}",
    ]);
    let f = |name| facts(&json, name);
    p.expect("rst-mid-body", "ok", &["failed with exit 1"]);
    assert!(
        f("rst-mid-body").stderr.contains("code 2"),
        "INTERNAL_ERROR\n{p}"
    );
    // nghttp2 checks content-length: PROTOCOL_ERROR (1) on the stream.
    p.expect("length-mismatch", "ok", &["failed with exit 1"]);
    assert!(f("length-mismatch").stderr.contains("code 1"), "{p}");
    for name in ["refused-stream", "goaway-graceful"] {
        p.expect(name, "warn", &["gave up at once (exit 1)"]);
        assert_eq!(f(name).attempts.len(), 1, "{name}");
    }
    for name in ["stall-mid-body", "ping-timeout", "headers-only"] {
        p.expect(name, "bad", &["still running at --timeout 3s"]);
    }
    p.expect("503-once", "warn", &["the 503's body as data"]);
    // With an idle timeout of its own, the silent streams end.
    let p = probe(&[
        "--protocol",
        "http2",
        "--only",
        "stall-mid-body,ping-timeout,headers-only",
        "--timeout",
        "3s",
        "-j",
        "3",
        "--",
        "node",
        &client,
        "{url}",
        "--timeout",
        "1000",
    ]);
    for name in ["stall-mid-body", "ping-timeout", "headers-only"] {
        p.expect(name, "ok", &["gave up after", "with exit 1"]);
    }
    assert_eq!(p.code, Some(0), "{p}");
}

#[test]
fn httpx_with_http2_true() {
    let Some(py) = python() else { return };
    let json = temp("h2-httpx.json");
    // httpx's 1.5 s read timeout must end the stalls first: the interpreter's start and four
    // runs at once on a loaded machine took it near 3 s.
    let p = probe(&[
        "--protocol",
        "http2",
        "--timeout",
        "6s",
        "-j",
        "4",
        "--json",
        json.to_str().unwrap(),
        "--",
        &py,
        &script("httpx_client.py"),
        "{url}",
        "--http2",
        "--timeout",
        "1.5",
    ]);
    let f = |name| facts(&json, name);
    assert!(f("baseline").attempts.iter().all(|a| a.1 == H2), "{p}");
    p.expect("rst-mid-body", "ok", &["failed with exit 1, no output"]);
    assert!(f("rst-mid-body").stderr.contains("StreamReset"), "{p}");
    p.expect("length-mismatch", "ok", &["failed with exit 1"]);
    assert!(
        f("length-mismatch")
            .stderr
            .contains("InvalidBodyLengthError"),
        "{p}"
    );
    p.expect("goaway-mid-body", "ok", &["failed with exit 1"]);
    for name in ["refused-stream", "goaway-graceful"] {
        p.expect(name, "warn", &["gave up at once (exit 1)"]);
    }
    for name in ["stall-mid-body", "ping-timeout", "headers-only"] {
        p.expect(name, "ok", &["gave up after", "with exit 1"]);
        assert!(f(name).stderr.contains("ReadTimeout"), "{name}\n{p}");
    }
    p.expect("503-once", "warn", &["gave up at once (exit 1) on a 503"]);
    assert_eq!(p.code, Some(0), "no bad verdict\n{p}");
}

/// tests/probe/h2get.go built with Debian's go (standard library only).
#[cfg(feature = "tls")]
fn go_h2get() -> Option<String> {
    if !have("go", "Go's net/http over TLS") {
        return None;
    }
    let dir = build_dir("h2-go");
    let exe = dir.join("h2get");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&exe)
        .arg(script("h2get.go"))
        .env("GOCACHE", dir.join("cache"))
        .env("GOPATH", dir.join("path"))
        .env("GO111MODULE", "off")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(exe.to_string_lossy().into_owned())
}

#[test]
#[cfg(feature = "tls")]
fn go_net_http_over_tls_alpn_h2_retries_unprocessed_streams() {
    let Some(exe) = go_h2get() else { return };
    let json = temp("h2-go.json");
    let p = probe(&[
        "--protocol",
        "http2",
        "--tls",
        "--timeout",
        "3s",
        "-j",
        "4",
        "--json",
        json.to_str().unwrap(),
        "--",
        &exe,
        "{url}",
    ]);
    let f = |name| facts(&json, name);
    assert!(f("baseline").stderr.contains("HTTP/2.0"), "ALPN h2\n{p}");
    p.expect(
        "refused-stream",
        "ok",
        &["retried 1 time", "on the same connection, then succeeded"],
    );
    let r = f("refused-stream");
    assert_eq!(r.attempts[0].0, r.attempts[1].0);
    p.expect(
        "goaway-graceful",
        "ok",
        &["retried 1 time", "on a new connection, then succeeded"],
    );
    let g = f("goaway-graceful");
    assert_ne!(g.attempts[0].0, g.attempts[1].0);
    assert_eq!(g.stdout_bytes, 65536);
    p.expect(
        "length-mismatch",
        "ok",
        &["failed with exit 1 after 32768 of 65536 bytes"],
    );
    assert!(
        f("length-mismatch").stderr.contains("unexpected EOF"),
        "{p}"
    );
    p.expect("rst-mid-body", "ok", &["failed with exit 1"]);
    // Go's transport sends no PING unless ReadIdleTimeout is set: it waits.
    for name in ["stall-mid-body", "ping-timeout", "headers-only"] {
        p.expect(name, "bad", &["still running at --timeout 3s"]);
    }
}

#[test]
fn java_httpclient_over_h2c_accepts_a_body_short_of_content_length() {
    if !have("javac", "Java 17's HttpClient") || !have("java", "Java 17's HttpClient") {
        return;
    }
    let dir = build_dir("h2-java");
    let out = Command::new("javac")
        .arg("-d")
        .arg(&dir)
        .arg(script("ProbeGet.java"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = temp("h2-java.json");
    let p = probe(&[
        "--protocol",
        "http2",
        "--only",
        "length-mismatch,refused-stream,rst-mid-body",
        "--timeout",
        "10s",
        "-j",
        "3",
        "--json",
        json.to_str().unwrap(),
        "--",
        "java",
        "-cp",
        dir.to_str().unwrap(),
        "ProbeGet",
        "{url}",
    ]);
    let f = |name| facts(&json, name);
    // Upgrade: h2c, served as HTTP/2 (the journal says so).
    assert!(f("baseline").attempts.iter().all(|a| a.1 == H2), "{p}");
    p.expect(
        "length-mismatch",
        "bad",
        &["exit 0 with 32768 of 65536 bytes: truncated body accepted"],
    );
    let l = f("length-mismatch");
    assert_eq!(
        (l.exit, l.stdout_bytes, l.ends()),
        (Some(0), 32768, vec!["close"])
    );
    p.expect("refused-stream", "warn", &["gave up at once (exit 1)"]);
    assert!(f("refused-stream").stderr.contains("RST_STREAM"), "{p}");
    p.expect("rst-mid-body", "ok", &["failed with exit 1"]);
}

#[test]
fn an_http1_client_stops_the_http2_probe_with_one_sentence() {
    if !have("curl", "an HTTP/1.1 client") {
        return;
    }
    let p = probe(&["--protocol", "http2", "--", "curl", "-s", "{url}"]);
    assert_eq!(p.code, Some(1), "{p}");
    assert!(
        p.stdout
            .starts_with("The command spoke HTTP/1.1 to a healthy server")
            && p.stdout.contains("this catalogue is HTTP/2's")
            && p.stdout.lines().count() == 1,
        "{p}"
    );
}

#[test]
fn a_bad_protocol_is_a_usage_error_naming_it_and_list_takes_one() {
    let p = probe(&["--protocol", "h3", "--", "curl", "-s", "{url}"]);
    assert_eq!(p.code, Some(2), "{p}");
    assert_eq!(
        p.stderr,
        "httpfault: error: bad value 'h3' for --protocol (expected http1, http2, grpc, ws or sse)\n",
        "{p}"
    );
    for (protocol, rows) in [
        ("http1", 18),
        ("http2", 9),
        ("grpc", 8),
        ("ws", 11),
        ("sse", 7),
    ] {
        let p = probe(&["--list", "--protocol", protocol]);
        assert_eq!((p.code, p.stdout.lines().count()), (Some(0), rows), "{p}");
    }
}
