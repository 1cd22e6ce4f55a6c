//! `httpfault probe` against the clients issue 24 found false verdicts with: curl with
//! `--http2` (an h2c upgrade), Java 17's `HttpClient` (by default, and forced to HTTP/1.1),
//! Go's `net/http` fetching twice, wget with `--compression=auto`, httpx, axios with
//! axios-retry, and a poller that makes two requests 1.1 s apart. Each test runs the scenarios
//! that client proves (`--only`), in parallel, with a short `--timeout`, and asserts each
//! verdict against what the client is known to do (checked by hand; docs/probe.md has the full
//! tables). Every test here gave a wrong verdict before issue 24.
//!
//! The clients are installed by the project (`.ci/run`: curl, wget, golang-go, Java 17 when
//! missing; `make deps`: httpx, axios, axios-retry); a missing one fails under CI=true and is
//! skipped, loudly, elsewhere.

mod common;
#[path = "probe/harness.rs"]
mod harness;

use common::{parse_json, Json};
use harness::{array, have, probe, python, root, script, temp};
use std::path::PathBuf;
use std::process::Command;

/// Where this file builds the Java and Go clients.
fn build_dir(what: &str) -> PathBuf {
    let dir = root().join("target/probe-clients").join(what);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Java client compiled (javac), as the arguments that run it.
fn java_client() -> Option<Vec<String>> {
    if !have("javac", "Java 17's HttpClient") || !have("java", "Java 17's HttpClient") {
        return None;
    }
    let dir = build_dir("java");
    run_ok(
        Command::new("javac")
            .arg("-d")
            .arg(&dir)
            .arg(script("ProbeGet.java")),
    );
    // A JVM that starts fast: the probe starts one per scenario.
    Some(
        [
            "java",
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            "-cp",
            dir.to_str().unwrap(),
            "ProbeGet",
            "{url}",
        ]
        .map(String::from)
        .to_vec(),
    )
}

/// The Go client built with Debian's go (standard library only), its caches under target/.
fn go_client() -> Option<String> {
    let found = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "go is missing and CI=true (Go's net/http)"
        );
        eprintln!("SKIPPED: go is missing (Go's net/http)");
        return None;
    }
    let dir = build_dir("go");
    let exe = dir.join("twice");
    run_ok(
        Command::new("go")
            .args(["build", "-o"])
            .arg(&exe)
            .arg(script("twice.go"))
            .env("GOCACHE", dir.join("cache"))
            .env("GOPATH", dir.join("path"))
            .env("GO111MODULE", "off")
            .current_dir(&dir),
    );
    Some(exe.to_string_lossy().into_owned())
}

fn node_modules() -> Option<String> {
    let modules = root().join("target/node/node_modules");
    if !modules.join("axios-retry").exists() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "target/node lacks axios-retry and CI=true (make deps)"
        );
        eprintln!("SKIPPED: target/node lacks axios and axios-retry (make deps)");
        return None;
    }
    Some(modules.to_string_lossy().into_owned())
}

#[test]
fn issue_24_1_curl_http2_asks_for_h2c_and_is_served_and_graded_as_http1() {
    if !have("curl", "the probe's reference client") {
        return;
    }
    let json = temp("curl-http2.json");
    let p = probe(&[
        "--timeout",
        "3s",
        "-j",
        "5",
        "--only",
        "reset-mid-body,bad-chunk,extra-bytes,empty-reply,stale-keepalive",
        "--json",
        json.to_str().unwrap(),
        "--",
        "curl",
        "-s",
        "--http2",
        "{url}",
    ]);
    // Before: the h2c upgrade was taken and the HTTP/1.1-only steps answered 400, graded bad.
    p.expect(
        "bad-chunk",
        "ok",
        &["failed with exit 56 after 4096 of 65536 bytes"],
    );
    p.expect(
        "extra-bytes",
        "ok",
        &["ignored the 31 bytes past Content-Length"],
    );
    p.expect(
        "reset-mid-body",
        "ok",
        &["failed with exit 56 after 32768 of 65536 bytes"],
    );
    p.expect("empty-reply", "warn", &["gave up at once (exit 52)"]);
    p.expect("stale-keepalive", "n/a", &["not exercised"]);
    assert_eq!(p.code, Some(0), "{p}");
    // Every request asked for the upgrade and came over HTTP/1.1.
    let j = parse_json(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let mut seen = 0;
    for s in array(&j, "scenarios") {
        for a in array(s, "attempts") {
            assert_eq!(a.str("version"), Some("HTTP/1.1"), "{a:?}");
            let upgrade = array(a, "headers").iter().any(|h| match h {
                Json::Arr(kv) => matches!(
                    kv.as_slice(),
                    [Json::Str(n), Json::Str(v)] if n.eq_ignore_ascii_case("upgrade") && v == "h2c"
                ),
                _ => false,
            });
            assert!(upgrade, "{a:?}");
            seen += 1;
        }
    }
    assert_eq!(seen, 5, "{p}");
}

#[test]
fn issue_24_1_a_client_with_prior_knowledge_stops_the_probe_with_one_sentence() {
    if !have("curl", "the probe's reference client") {
        return;
    }
    let p = probe(&[
        "--only",
        "bad-chunk",
        "--",
        "curl",
        "-s",
        "--http2-prior-knowledge",
        "{url}",
    ]);
    assert_eq!(p.code, Some(1), "{p}");
    assert_eq!(p.stdout.lines().count(), 1, "{p}");
    assert!(
        p.stdout
            .starts_with("The command spoke HTTP/2 to a healthy server")
            && p.stdout.trim_end().ends_with("use --protocol http2."),
        "{p}"
    );
}

/// Java's HttpClient, by default (h2c asked for) and forced to HTTP/1.1: the same verdicts.
fn java(extra: &[&str]) {
    let Some(client) = java_client() else { return };
    let mut args = vec![
        "--timeout",
        "8s",
        "-j",
        "3",
        "--only",
        "bad-chunk,extra-bytes,empty-reply,503-once,bad-gzip",
        "--",
    ];
    args.extend(client.iter().map(String::as_str));
    args.extend(extra);
    let p = probe(&args);
    p.expect("bad-chunk", "ok", &["failed with exit 1, no output"]);
    p.expect(
        "extra-bytes",
        "ok",
        &["read the 65536-byte body and ignored the 31 bytes"],
    );
    // Java resends an idempotent request whose connection closed with no answer.
    p.expect("empty-reply", "ok", &["retried 1 time", "then succeeded"]);
    p.expect(
        "503-once",
        "warn",
        &[
            "gave up at once on a 503",
            "15 bytes, the 503's body as data",
        ],
    );
    // It sends no Accept-Encoding and does not decode: not exercised.
    p.expect("bad-gzip", "n/a", &["did not ask for gzip"]);
    assert!(p.stdout.starts_with("healthy run: exit 0"), "{p}");
    assert!(
        p.stdout.contains(" over HTTP/1.1, 65536 bytes on stdout"),
        "{p}"
    );
    assert_eq!(p.code, Some(0), "{p}");
}

#[test]
fn issue_24_1_java_httpclient_by_default_asks_for_h2c_and_gets_http1() {
    java(&[]);
}

#[test]
fn java_httpclient_forced_to_http1() {
    java(&["--http1"]);
}

#[test]
fn issue_24_2_go_fetching_twice_prints_an_error_body_as_data_and_never_retries() {
    let Some(go) = go_client() else { return };
    let p = probe(&[
        "--timeout",
        "5s",
        "-j",
        "6",
        "--only",
        "503-once,429-retry-after,500-always,stale-keepalive,bad-gzip,redirect-loop",
        "--",
        &go,
        "{url}",
    ]);
    assert!(
        p.stdout.starts_with("healthy run: exit 0")
            && p.stdout
                .contains("2 requests on 1 connection over HTTP/1.1, 131072 bytes"),
        "{p}"
    );
    // Before: "retried without waiting"; its second GET is its own, and the 503's body was
    // printed as data.
    for (name, status) in [("503-once", 503), ("429-retry-after", 429)] {
        p.expect(
            name,
            "warn",
            &[
                &format!("did not retry a {status} that a retry would have fixed"),
                &format!("65551 bytes, the {status}'s body as data: error not reported"),
            ],
        );
        assert!(!p.row(name).2.contains("retried"), "{p}");
    }
    p.expect("500-always", "warn", &["exit 0 after 2 answers of 500"]);
    // Go reuses its connection for the second GET, finds it closed, and resends.
    p.expect(
        "stale-keepalive",
        "ok",
        &["request 2 met the closed kept-alive connection; resent on a new one"],
    );
    p.expect(
        "bad-gzip",
        "ok",
        &[
            "rejected the gzip body whose CRC failed (exit 1",
            "gzip: invalid checksum",
        ],
    );
    // Go stops after 10 requests of a chain.
    p.expect(
        "redirect-loop",
        "ok",
        &["followed 9 redirects, then gave up with exit 1"],
    );
}

#[test]
fn issue_24_3_wget_keeps_gzip_data_whose_crc_failed_and_resumes_it_with_range() {
    if !have("wget", "GNU wget") {
        return;
    }
    let p = probe(&[
        "--timeout",
        "5s",
        "-j",
        "2",
        "--only",
        "bad-gzip,reset-mid-body",
        "--",
        "wget",
        "-q",
        "--compression=auto",
        "-O",
        "-",
        "{url}",
    ]);
    // Before: gzip=bad broke only the CRC, the decoded bytes were right, and this was `ok`.
    p.expect(
        "bad-gzip",
        "bad",
        &[
            "exit 0 with a corrupted body (byte 32768 differs): it kept data whose gzip CRC failed",
            "it resumed with Range: bytes=",
        ],
    );
    // wget resumes a cut download with Range and skips what it has: the output is whole.
    p.expect(
        "reset-mid-body",
        "ok",
        &["retried 1 time", "then succeeded"],
    );
    assert_eq!(p.code, Some(1), "{p}");
}

#[test]
fn issue_24_4_httpx_with_a_longer_timeout_is_graded_on_its_own_timeout() {
    let Some(py) = python() else { return };
    let client = script("httpx_client.py");
    // httpx's default timeout is 5 s: with --timeout 10s its own timeout is seen to fire.
    let p = probe(&[
        "--timeout",
        "10s",
        "-j",
        "3",
        "--only",
        "hang-before-head,bad-gzip,503-once",
        "--",
        &py,
        &client,
        "{url}",
    ]);
    p.expect(
        "hang-before-head",
        "ok",
        &["gave up after ", "with exit 1 (no output)"],
    );
    p.expect(
        "bad-gzip",
        "ok",
        &[
            "rejected the gzip body whose CRC failed",
            "httpx.DecodingError",
        ],
    );
    p.expect("503-once", "warn", &["gave up at once (exit 1) on a 503"]);
}

#[test]
fn issue_24_6_httpx_printing_the_body_with_a_newline_is_healthy() {
    let Some(py) = python() else { return };
    let client = script("httpx_client.py");
    let p = probe(&[
        "--timeout",
        "5s",
        "-j",
        "2",
        "--only",
        "extra-bytes,reset-mid-body",
        "--",
        &py,
        &client,
        "{url}",
        "--print",
    ]);
    assert!(p.stdout.contains(", 65537 bytes on stdout"), "{p}");
    // Before: "exit 0 with 65537 bytes that are not the healthy body".
    p.expect(
        "extra-bytes",
        "ok",
        &["read the 65536-byte body and ignored the 31 bytes"],
    );
    p.expect("reset-mid-body", "ok", &["failed with exit 1, no output"]);
    assert_eq!(p.code, Some(0), "{p}");
}

#[test]
fn issue_24_6_axios_retry_rerunning_a_redirect_chain_is_counted_per_run() {
    let Some(modules) = node_modules() else {
        return;
    };
    if !have("node", "axios") {
        return;
    }
    let client = script("axios_client.js");
    let wrapper = format!("NODE_PATH={modules} exec node {client} \"$HTTPFAULT_URL\" \"$@\"");
    let run = |extra: &str, only: &str| {
        probe(&[
            "--timeout",
            "8s",
            "-j",
            "3",
            "--only",
            only,
            "--",
            "sh",
            "-c",
            &wrapper,
            "sh",
            extra,
        ])
    };
    let p = run("--retry", "redirect-loop,500-always,503-retry-after");
    // Before: "followed 87 redirects".
    p.expect(
        "redirect-loop",
        "ok",
        &["ran the redirect chain 4 times (3 retries), 21 redirects each time, 84 in all"],
    );
    assert_eq!(p.row("redirect-loop").1, 88, "{p}");
    p.expect(
        "500-always",
        "ok",
        &["retried 3 times", "then gave up with exit 1"],
    );
    p.expect(
        "503-retry-after",
        "ok",
        &["(Retry-After: 2), then succeeded"],
    );
    let p = run("--plain", "redirect-loop,extra-bytes");
    p.expect(
        "redirect-loop",
        "ok",
        &["followed 21 redirects, then gave up with exit 1"],
    );
    // Node's parser refuses bytes after a complete response on the connection.
    p.expect(
        "extra-bytes",
        "warn",
        &["failed with exit 1 although the response was whole"],
    );
}

#[test]
fn issue_24_2_a_poller_of_two_requests_is_not_graded_as_retrying() {
    if !have("python3", "the poller (standard library only)") {
        return;
    }
    let poller = script("poller.py");
    let p = probe(&[
        "--timeout",
        "8s",
        "-j",
        "4",
        "--only",
        "503-once,429-retry-after,reset-mid-body,stale-keepalive",
        "--",
        "python3",
        &poller,
        "{url}",
    ]);
    assert!(p.stdout.contains("2 requests on 2 connections"), "{p}");
    // Before: "ok retried 1 time, gap 1.10 s, then succeeded".
    for (name, status) in [("503-once", 503), ("429-retry-after", 429)] {
        p.expect(
            name,
            "warn",
            &[&format!(
                "did not retry a {status} that a retry would have fixed"
            )],
        );
        assert!(!p.row(name).2.contains("retried"), "{p}");
    }
    p.expect(
        "reset-mid-body",
        "warn",
        &["exit 0 with 1 of the healthy run's 2 bodies"],
    );
    p.expect("stale-keepalive", "n/a", &["reusing none"]);
}
