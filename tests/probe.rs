//! `httpfault probe` against real clients whose behaviour is known (issue 18): curl with and
//! without retries, Python requests without a timeout and with urllib3's Retry, Node's fetch,
//! and a std::net client that accepts whatever arrives. Each test asserts the verdict per
//! scenario (grade, and the numbers in the reason), the exit status, and for one full run the
//! JSON and the HTML page in headless Chromium.
//!
//! Every run has a deadline (`RUN`); the probe's own `--timeout` is short and scenarios run in
//! parallel (`-j`), so the whole file takes well under a minute.

mod common;
#[path = "probe/harness.rs"]
mod harness;

use common::{parse_json, Json, BIN};
use harness::{array, have, probe, python, root, script, temp};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The std::net client of `examples/naive_get.rs`, built by `cargo test`, or built here when
/// only this test file was asked for.
fn naive_get() -> String {
    let exe = Path::new(BIN).parent().unwrap().join("examples/naive_get");
    if !exe.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--example", "naive_get"])
            .current_dir(root())
            .status()
            .expect("cargo build --example naive_get");
        assert!(status.success());
    }
    exe.to_string_lossy().into_owned()
}

#[test]
fn curl_s_against_the_whole_catalogue() {
    if !have("curl", "the probe's reference client") {
        return;
    }
    let (json, html) = (temp("curl.json"), temp("curl.html"));
    let p = probe(&[
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
        "{url}",
    ]);
    assert_eq!(p.code, Some(1), "bad verdicts make exit 1\n{p}");
    // The contract's speed target, with a wide margin (it takes a few seconds).
    assert!(
        p.seconds < 60.0,
        "the whole catalogue took {:.1} s\n{p}",
        p.seconds
    );
    p.expect("reset-mid-body", "ok", &["exit 56", "32768 of 65536 bytes"]);
    p.expect("close-mid-body", "ok", &["exit 18", "32768 of 65536 bytes"]);
    p.expect(
        "empty-reply",
        "warn",
        &["exit 52", "a retry would have fixed"],
    );
    p.expect("reset-before-head", "warn", &["exit 56"]);
    // Issue 24 item 4: what was seen, not "no timeout".
    p.expect(
        "hang-before-head",
        "bad",
        &["still running at --timeout 3s (no output)"],
    );
    p.expect(
        "hang-mid-body",
        "bad",
        &["still running at --timeout 3s (32768 of 65536 bytes)"],
    );
    p.expect(
        "dribble",
        "bad",
        &["still reading the dribbled body at --timeout 3s"],
    );
    for name in ["503-once", "503-retry-after", "429-retry-after"] {
        p.expect(
            name,
            "warn",
            &["gave up at once", "exited 0 with 15 bytes", "body as data"],
        );
    }
    p.expect(
        "500-always",
        "warn",
        &["exit 0 after a 500", "not reported"],
    );
    // Issue 24 item 6: one request on one connection cannot meet a stale connection.
    p.expect(
        "stale-keepalive",
        "n/a",
        &["not exercised", "1 request on 1 connection"],
    );
    p.expect("bad-chunk", "ok", &["exit 56"]);
    p.expect("bad-gzip", "n/a", &["did not ask for gzip"]);
    p.expect("extra-bytes", "ok", &["ignored the 31 bytes"]);
    p.expect("refused", "ok", &["exit 7", "nothing listens"]);
    p.expect("connect-timeout", "bad", &["still running at --timeout 3s"]);
    p.expect("redirect-loop", "warn", &["did not follow the redirect"]);
    assert!(
        p.stdout
            .contains("18 scenarios: 5 ok, 7 warn, 4 bad, 2 n/a"),
        "{p}"
    );
    assert!(
        p.stdout.starts_with("healthy run: exit 0 after ")
            && p.stdout
                .lines()
                .next()
                .unwrap()
                .ends_with(", 1 request on 1 connection over HTTP/1.1, 65536 bytes on stdout"),
        "{p}"
    );

    // --json: every scenario, with the journal entries behind its attempt count.
    let j = parse_json(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(array(&j, "command").len(), 3);
    let scenarios = array(&j, "scenarios");
    assert_eq!(scenarios.len(), 18);
    let mut attempts = Vec::new();
    for s in scenarios {
        let name = s.str("name").unwrap().to_string();
        let (grade, n, _) = p.row(&name);
        assert_eq!(s.str("grade"), Some(grade.as_str()), "{name}");
        assert_eq!(array(s, "attempts").len(), n, "{name}");
        attempts.push((name, n));
    }
    // The healthy run comes first, with its journal; each entry says its protocol.
    let baseline = j.get("baseline").expect("a baseline");
    assert_eq!(baseline.num("exit"), Some(0.0));
    assert_eq!(array(baseline, "attempts").len(), 1);
    assert_eq!(
        array(baseline, "attempts")[0].str("version"),
        Some("HTTP/1.1")
    );
    assert_eq!(j.get("stopped"), Some(&Json::Null));
    let reset = &scenarios[0];
    assert_eq!(reset.str("name"), Some("reset-mid-body"));
    assert_eq!(reset.num("exit"), Some(56.0));
    assert_eq!(reset.num("stdout_bytes"), Some(32768.0));
    assert_eq!(array(reset, "attempts")[0].str("end"), Some("reset"));
    let hang = scenarios
        .iter()
        .find(|s| s.str("name") == Some("hang-before-head"));
    assert_eq!(hang.unwrap().get("killed"), Some(&Json::Bool(true)));

    // --html in headless Chromium: it renders, and each timeline has one mark per attempt.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("<script"), "the page needs no script");
    // Issue 24 item 6: labels in plain words, a legend, the protocol of each attempt.
    assert!(page.contains(">#1 RST after 32,768 bytes</text>"), "{page}");
    assert!(!page.contains(">#1 body="), "plan syntax as a label");
    assert!(page.contains("class=\"legend\""));
    assert!(page.contains("<td>HTTP/1.1</td>"));
    assert!(!page.contains("(healthy)"));
    if !have("chromium", "the HTML check") {
        return;
    }
    let url = format!("file://{}", html.display());
    let png = temp("curl.png");
    let shot = chromium(&[
        &format!("--screenshot={}", png.display()),
        "--window-size=1000,2400",
        &url,
    ]);
    assert!(shot.status.success(), "screenshot: {shot:?}");
    let bytes = std::fs::read(&png).expect("the screenshot was written");
    assert!(
        bytes.len() > 1000 && bytes.starts_with(b"\x89PNG"),
        "{} bytes",
        bytes.len()
    );
    let dom = chromium(&["--dump-dom", &url]);
    assert!(dom.status.success(), "dump-dom: {dom:?}");
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    // Each scenario's attempts, and the healthy run's one request.
    let total = attempts.iter().map(|(_, n)| n).sum::<usize>();
    assert_eq!(dom.matches("class=\"attempt\"").count(), total + 1, "{dom}");
    for (name, n) in &attempts {
        let start = dom
            .find(&format!("<section id=\"{name}\""))
            .unwrap_or_else(|| panic!("no section for {name}"));
        let section = &dom[start..];
        let section = &section[..section.find("</section>").unwrap()];
        assert_eq!(section.matches("<svg").count(), 1, "{name}");
        assert_eq!(section.matches("class=\"attempt\"").count(), *n, "{name}");
        assert_eq!(section.matches("class=\"end\"").count(), 1, "{name}");
    }
}

/// Headless Chromium with a fresh profile, killed after a minute.
fn chromium(args: &[&str]) -> std::process::Output {
    let profile = temp(&format!("chromium-{}", args.len()));
    let mut all = vec![
        "60".to_string(),
        "chromium".to_string(),
        "--headless".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-background-networking".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    Command::new("timeout")
        .args(&all)
        .stdin(Stdio::null())
        .output()
        .expect("run chromium")
}

#[test]
fn curl_with_max_time_and_retries() {
    if !have("curl", "the probe's reference client") {
        return;
    }
    let p = probe(&[
        "--timeout",
        "15s",
        "-j",
        "5",
        "--only",
        "reset-mid-body,empty-reply,hang-before-head,503-retry-after,500-always",
        "--",
        "curl",
        "-sf",
        "--max-time",
        "2",
        "--retry",
        "3",
        "--retry-all-errors",
        "{url}",
    ]);
    // curl retries a cut body, but what the broken attempt wrote to stdout stays there.
    p.expect(
        "reset-mid-body",
        "bad",
        &[
            "exit 0 with 98304 bytes",
            "first 32768 bytes of a broken attempt",
        ],
    );
    p.expect("empty-reply", "ok", &["retried 1 time", "then succeeded"]);
    p.expect(
        "hang-before-head",
        "ok",
        &["retried 1 time", "then succeeded"],
    );
    p.expect(
        "503-retry-after",
        "ok",
        &["(Retry-After: 2), then succeeded"],
    );
    p.expect(
        "500-always",
        "ok",
        &["retried 3 times", "gave up with exit 22"],
    );
    assert_eq!(p.row("500-always").1, 4);
    assert_eq!(p.code, Some(1), "{p}");
}

#[test]
fn python_requests_without_a_timeout() {
    let Some(py) = python() else { return };
    let client = script("requests_client.py");
    let p = probe(&[
        "--timeout",
        "8s",
        "-j",
        "5",
        "--only",
        "hang-before-head,dribble,reset-mid-body,503-once,redirect-loop",
        "--",
        &py,
        &client,
        "{url}",
    ]);
    p.expect(
        "hang-before-head",
        "bad",
        &["still running at --timeout 8s"],
    );
    p.expect("dribble", "bad", &["still reading the dribbled body"]);
    p.expect("reset-mid-body", "ok", &["failed with exit 1"]);
    p.expect("503-once", "warn", &["gave up at once (exit 1) on a 503"]);
    p.expect("redirect-loop", "ok", &["followed 30 redirects", "exit 1"]);
    assert_eq!(p.code, Some(1), "{p}");
}

#[test]
fn python_requests_with_urllib3_retry() {
    let Some(py) = python() else { return };
    let client = script("requests_client.py");
    let p = probe(&[
        "--timeout",
        "10s",
        "-j",
        "6",
        "--only",
        "503-once,503-retry-after,429-retry-after,500-always,reset-before-head,reset-mid-body",
        "--fail-on",
        "warn",
        "--",
        &py,
        &client,
        "{url}",
        "--retry",
    ]);
    // urllib3 waits nothing before its first retry, then backs off.
    p.expect("503-once", "warn", &["retried without waiting"]);
    p.expect(
        "503-retry-after",
        "ok",
        &["(Retry-After: 2), then succeeded"],
    );
    p.expect(
        "429-retry-after",
        "ok",
        &["(Retry-After: 1), then succeeded"],
    );
    p.expect(
        "500-always",
        "ok",
        &["retried 3 times", "then gave up with exit 1"],
    );
    p.expect(
        "reset-before-head",
        "ok",
        &["retried 1 time", "then succeeded"],
    );
    // Retry covers the request and the head, not a body cut later.
    p.expect("reset-mid-body", "ok", &["failed with exit 1, no output"]);
    assert_eq!(p.code, Some(1), "--fail-on warn\n{p}");
}

#[test]
fn node_fetch() {
    if !have("node", "Node's built-in fetch") {
        return;
    }
    let client = script("fetch_client.js");
    let p = probe(&[
        "--timeout",
        "10s",
        "-j",
        "5",
        "--only",
        "reset-mid-body,hang-before-head,redirect-loop,extra-bytes,bad-gzip",
        "--",
        "node",
        &client,
        "{url}",
    ]);
    p.expect("reset-mid-body", "ok", &["failed with exit 1"]);
    p.expect(
        "hang-before-head",
        "bad",
        &["still running at --timeout 10s"],
    );
    p.expect("redirect-loop", "ok", &["followed 20 redirects"]);
    p.expect("extra-bytes", "ok", &["ignored the 31 bytes"]);
    // undici does not check the gzip CRC, and the stream ends without settling the promise:
    // Node exits 0 with nothing printed (with gzip=bad's changed byte, printing the body
    // would be as bad).
    p.expect("bad-gzip", "bad", &["exit 0"]);
}

#[test]
fn a_std_net_client_that_accepts_whatever_arrives() {
    let client = naive_get();
    let p = probe(&[
        "--timeout",
        "3s",
        "-j",
        "4",
        "--only",
        "reset-mid-body,close-mid-body,empty-reply,bad-chunk,extra-bytes,refused,hang-before-head",
        "--",
        &client,
        "{url}",
    ]);
    p.expect(
        "reset-mid-body",
        "bad",
        &["exit 0 with 32768 of 65536 bytes: truncated body accepted"],
    );
    p.expect(
        "close-mid-body",
        "bad",
        &["exit 0 with 32768 of 65536 bytes"],
    );
    p.expect("empty-reply", "bad", &["failure not reported"]);
    p.expect(
        "bad-chunk",
        "bad",
        &["not what the healthy run printed (65536 bytes; first difference at byte 0)"],
    );
    p.expect(
        "extra-bytes",
        "bad",
        &["31 bytes past Content-Length appended"],
    );
    p.expect("refused", "bad", &["exit 0 although nothing listens"]);
    p.expect(
        "hang-before-head",
        "bad",
        &["still running at --timeout 3s"],
    );
}

#[test]
fn a_post_resent_after_the_server_read_it_is_bad() {
    if !have("curl", "the probe's reference client") {
        return;
    }
    let p = probe(&[
        "--only",
        "reset-before-head",
        "--timeout",
        "10s",
        "--",
        "curl",
        "-s",
        "-X",
        "POST",
        "-d",
        "x",
        "--retry",
        "1",
        "--retry-all-errors",
        "{url}",
    ]);
    p.expect(
        "reset-before-head",
        "bad",
        &["POST sent 2 times after the server had read it: duplicate side effects"],
    );
}

#[test]
fn a_stale_keepalive_connection_is_met_by_a_command_that_fetches_twice() {
    if !have("curl", "the probe's reference client") {
        return;
    }
    // curl reuses the connection for its second URL, finds it closed, and resends.
    let p = probe(&[
        "--only",
        "stale-keepalive",
        "--",
        "curl",
        "-s",
        "{url}",
        "{url}",
    ]);
    p.expect(
        "stale-keepalive",
        "ok",
        &["request 2 met the closed kept-alive connection; resent on a new one"],
    );
    assert_eq!(p.row("stale-keepalive").1, 3, "{p}");
    assert_eq!(p.code, Some(0), "{p}");
}

#[test]
fn a_command_that_never_connects_is_said_plainly() {
    let p = probe(&["-j", "6", "--timeout", "3s", "--", "true"]);
    assert_eq!(p.code, Some(1), "{p}");
    assert!(
        p.stdout.starts_with(
            "The command made no request to a healthy server (the baseline run: exit 0"
        ),
        "{p}"
    );
    assert_eq!(p.stdout.lines().count(), 1, "one sentence\n{p}");
    assert!(!p.stdout.contains(" ok "), "no column of oks\n{p}");
    // Issue 24 item 6: a command with neither {url} nor HTTPFAULT_URL is warned about first.
    assert!(
        p.stderr
            .starts_with("httpfault: warning: the command has no {url} argument"),
        "{p}"
    );
}

#[test]
fn an_overrunning_command_is_killed_with_its_whole_process_group() {
    let pidfile = temp("sleeper.pid");
    let script = format!("sleep 60 & echo $! > {}; wait", pidfile.display());
    let p = probe(&[
        "--only",
        "hang-before-head",
        "--timeout",
        "1s",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(p.code, Some(1), "{p}");
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let proc = PathBuf::from(format!("/proc/{}", pid.trim()));
    // The orphaned sleep is reaped by init a moment after the kill.
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc.exists() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !proc.exists(),
        "the command's child {} survived",
        pid.trim()
    );
}

#[test]
fn the_url_is_in_the_environment_and_fail_on_decides_the_exit_status() {
    if !have("curl", "the probe's reference client") {
        return;
    }
    let args = |fail_on: &'static str| {
        vec![
            "--only",
            "extra-bytes,500-always",
            "--fail-on",
            fail_on,
            "--",
            "sh",
            "-c",
            "curl -s \"$HTTPFAULT_URL\"",
        ]
    };
    let p = probe(&args("warn"));
    p.expect("extra-bytes", "ok", &["read the 65536-byte body"]);
    p.expect("500-always", "warn", &[]);
    assert_eq!(p.code, Some(1), "{p}");
    assert_eq!(probe(&args("bad")).code, Some(0));
    assert_eq!(probe(&args("never")).code, Some(0));
}

#[test]
fn usage_errors_exit_2_and_list_prints_the_catalogue() {
    for (args, needle) in [
        (&["--only", "reset-mid-body"][..], "needs a command"),
        (&["--only", "nope", "--", "true"][..], "'nope'"),
        (&["--timeout", "soon", "--", "true"][..], "'soon'"),
        (&["--", "/nonexistent/client"][..], "/nonexistent/client"),
        (&["--only", "tls-expired", "--", "true"][..], "--tls"),
    ] {
        let p = probe(args);
        assert_eq!(p.code, Some(2), "{p}");
        assert!(p.stderr.starts_with("httpfault: error: "), "{p}");
        assert!(p.stderr.contains(needle), "{p}");
        assert_eq!(p.stderr.lines().count(), 1, "{p}");
    }
    let help = probe(&["-h"]);
    assert_eq!(help.code, Some(0));
    assert!(help.stdout.contains("--fail-on"), "{help}");
    let list = probe(&["--list"]);
    assert_eq!(list.code, Some(0));
    assert_eq!(list.stdout.lines().count(), 18, "{list}");
    assert!(
        list.stdout.lines().any(|l| l.starts_with("redirect-loop ")),
        "{list}"
    );
}

/// The TLS scenarios and the ordinary ones over HTTPS, for curl told to trust `{ca}`.
#[cfg(feature = "tls")]
const TLS_ONLY: &str = "reset-mid-body,503-once,refused,tls-expired,tls-wrong-host,\
tls-self-signed,tls-untrusted,tls-reset,tls-no-close-notify";

#[cfg(feature = "tls")]
#[test]
fn tls_curl_trusting_the_ca_refuses_bad_certificates() {
    if !have("curl", "the probe's reference client") {
        return;
    }
    let json = temp("tls.json");
    let p = probe(&[
        "--tls",
        "--timeout",
        "5s",
        "-j",
        "4",
        "--only",
        TLS_ONLY,
        "--json",
        json.to_str().unwrap(),
        "--",
        "curl",
        "-s",
        "--cacert",
        "{ca}",
        "{url}",
    ]);
    // Warnings only: the default --fail-on bad exits 0.
    assert_eq!(p.code, Some(0), "{p}");
    // Offsets inside TLS count plaintext: exactly half the body, then the RST.
    p.expect("reset-mid-body", "ok", &["exit 56", "32768 of 65536 bytes"]);
    p.expect("503-once", "warn", &["gave up at once"]);
    p.expect("refused", "ok", &["exit 7", "nothing listens"]);
    for (name, what) in [
        ("tls-expired", "an expired certificate"),
        ("tls-wrong-host", "a certificate for another host"),
        ("tls-self-signed", "a self-signed certificate"),
        ("tls-untrusted", "an untrusted certificate"),
    ] {
        p.expect(
            name,
            "ok",
            &[&format!("refused {what} (exit 60)"), "no request"],
        );
    }
    p.expect("tls-reset", "ok", &["exit 35"]);
    // curl ignores the missing close_notify (README, "HTTPS and TLS faults").
    p.expect(
        "tls-no-close-notify",
        "warn",
        &["exit 0 with 32768 of 65536 bytes", "without close_notify"],
    );
    assert!(p.stdout.contains("9 scenarios: 7 ok, 2 warn, 0 bad"), "{p}");
    let j = parse_json(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(j.get("tls"), Some(&Json::Bool(true)));
    let scenarios = array(&j, "scenarios");
    assert_eq!(scenarios.len(), 9);
    for s in scenarios {
        let url = s.str("url").unwrap();
        assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    }
    // The handshake fault is journaled (method TLS), and curl sent no request over it.
    let expired = scenarios
        .iter()
        .find(|s| s.str("name") == Some("tls-expired"))
        .unwrap();
    let attempts = array(expired, "attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].str("method"), Some("TLS"));
    assert_eq!(attempts[0].str("end"), Some("peer-gone"));
}

#[cfg(feature = "tls")]
#[test]
fn tls_the_ca_is_in_the_environment_too() {
    if !have("curl", "the probe's reference client") {
        return;
    }
    let p = probe(&[
        "--tls",
        "--only",
        "extra-bytes,tls-untrusted",
        "--",
        "sh",
        "-c",
        "grep -q 'BEGIN CERTIFICATE' \"$HTTPFAULT_CA\" && \
         curl -s --cacert \"$HTTPFAULT_CA\" \"$HTTPFAULT_URL\"",
    ]);
    assert_eq!(p.code, Some(0), "{p}");
    p.expect("extra-bytes", "ok", &["read the 65536-byte body"]);
    p.expect("tls-untrusted", "ok", &["exit 60"]);
    // A client not told to trust the CA never gets to a request: said plainly, with the hint.
    let p = probe(&[
        "--tls",
        "--only",
        "reset-mid-body",
        "--",
        "curl",
        "-s",
        "{url}",
    ]);
    assert_eq!(p.code, Some(1), "{p}");
    assert!(
        p.stdout
            .starts_with("The command made no request to a healthy server"),
        "{p}"
    );
    assert!(p.stdout.contains("(the baseline run: exit 60 after"), "{p}");
    assert!(p.stdout.contains("curl --cacert {ca} {url}"), "{p}");
}

#[cfg(feature = "tls")]
#[test]
fn tls_curl_k_accepting_any_certificate_is_bad() {
    if !have("curl", "the probe's reference client") {
        return;
    }
    let p = probe(&[
        "--tls",
        "--timeout",
        "3s",
        "-j",
        "4",
        "--only",
        "tls-expired,tls-wrong-host,tls-self-signed,tls-untrusted,tls-reset,tls-hang",
        "--",
        "curl",
        "-sk",
        "{url}",
    ]);
    assert_eq!(p.code, Some(1), "bad verdicts make exit 1\n{p}");
    for (name, what) in [
        ("tls-expired", "an expired certificate"),
        ("tls-wrong-host", "a certificate for another host"),
        ("tls-self-signed", "a self-signed certificate"),
        ("tls-untrusted", "an untrusted certificate"),
    ] {
        p.expect(
            name,
            "bad",
            &[&format!("accepted {what}: sent GET over it"), "exit 0"],
        );
        // The handshake entry, then the GET.
        assert_eq!(p.row(name).1, 2, "{p}");
    }
    p.expect("tls-reset", "ok", &["exit 35"]);
    p.expect("tls-hang", "bad", &["still running at --timeout 3s"]);
}

#[cfg(not(feature = "tls"))]
#[test]
fn tls_without_the_feature_is_a_usage_error() {
    let p = probe(&["--tls", "--", "true"]);
    assert_eq!(p.code, Some(2), "{p}");
    assert!(p.stderr.starts_with("httpfault: error: "), "{p}");
    assert!(p.stderr.contains("feature"), "{p}");
    assert_eq!(p.stderr.lines().count(), 1, "{p}");
}

#[test]
fn issue_24_4_a_timeout_message_on_stderr_is_quoted_and_no_timeout_is_never_claimed() {
    if !have("curl", "the probe's reference client") {
        return;
    }
    // curl's own timeout fires (and says so on stderr), then the command goes on.
    let p = probe(&[
        "--only",
        "hang-before-head",
        "--timeout",
        "3s",
        "--",
        "sh",
        "-c",
        "curl -sS --max-time 1 \"$HTTPFAULT_URL\" || sleep 10",
    ]);
    p.expect(
        "hang-before-head",
        "n/a",
        &[
            "no verdict: still running at --timeout 3s (no output); its stderr says: curl: (28) \
             Operation timed out after",
            "a timeout fired, the end was not seen (raise --timeout)",
        ],
    );
    assert!(!p.stdout.contains("no timeout"), "{p}");
}

#[test]
fn issue_24_5_a_command_killed_before_its_first_request_gets_no_verdict() {
    if !have("curl", "the probe's reference client") {
        return;
    }
    // Fast in the healthy run, then slow to start (a JVM on a busy machine): each scenario
    // is killed before it asks anything.
    let marker = temp("slow-start");
    let _ = std::fs::remove_file(&marker);
    let script = format!(
        "if [ -e {0} ]; then sleep 10; fi; touch {0}; curl -s \"$HTTPFAULT_URL\"",
        marker.display()
    );
    let p = probe(&[
        "--only",
        "hang-before-head,reset-mid-body,503-once",
        "--timeout",
        "2s",
        "-j",
        "3",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    for name in ["hang-before-head", "reset-mid-body", "503-once"] {
        p.expect(
            name,
            "n/a",
            &["killed at --timeout 2s before any request: slow start? raise --timeout"],
        );
    }
    assert!(
        p.stdout.contains("3 scenarios: 0 ok, 0 warn, 0 bad, 3 n/a"),
        "{p}"
    );
    assert_eq!(p.code, Some(0), "n/a is no verdict\n{p}");
}
