//! `httpfault probe --protocol grpc` against real gRPC clients making one unary call: Python
//! grpcio and @grpc/grpc-js, each without a deadline or retry policy, and with a deadline and
//! a retry policy in the channel's service config. Each test asserts the verdicts and checks
//! them against what the client really did: its exit status, the status it printed on
//! stderr, its output, and the server's journal (`--json`: each attempt and its connection).
//!
//! grpcio and @grpc/grpc-js come from `make deps`; missing, the test fails under CI=true and is
//! skipped, loudly, elsewhere.

mod common;
#[path = "probe/harness.rs"]
mod harness;

use harness::{ci, facts, have, probe, python, root, script, temp, Probe};

const SCENARIOS: [&str; 8] = [
    "unavailable-once",
    "unavailable-always",
    "pushback",
    "deadline",
    "no-trailers",
    "rst-mid-message",
    "goaway",
    "internal-once",
];

/// Runs the gRPC catalogue on `command`, and the JSON report's path.
fn run(name: &str, timeout: &str, command: &[&str]) -> (Probe, std::path::PathBuf) {
    let json = temp(&format!("grpc-{name}.json"));
    let mut args = vec![
        "--protocol",
        "grpc",
        "--timeout",
        timeout,
        "-j",
        "4",
        "--json",
        json.to_str().unwrap(),
        "--",
    ];
    args.extend_from_slice(command);
    let p = probe(&args);
    let first = p.stdout.lines().next().unwrap_or_default();
    assert!(
        first.contains("1 request on 1 connection over HTTP/2, 15 bytes on stdout"),
        "the echo, hex and a newline\n{p}"
    );
    (p, json)
}

/// What both clients do alike, without and with a deadline and retry policy.
fn common_verdicts(p: &Probe, json: &std::path::Path, retry: bool) {
    let f = |name| facts(json, name);
    // grpcio and grpc-js retry a call a GOAWAY left unprocessed by themselves (transparent
    // retry), on a new connection.
    p.expect(
        "goaway",
        "ok",
        &["retried 1 time", "on a new connection, then succeeded"],
    );
    let g = f("goaway");
    assert_ne!(g.attempts[0].0, g.attempts[1].0);
    assert_eq!(g.exit, Some(0));
    p.expect("internal-once", "ok", &["failed with exit 1 on INTERNAL"]);
    assert!(
        f("internal-once").stderr.contains("grpc error INTERNAL"),
        "{p}"
    );
    p.expect(
        "rst-mid-message",
        "ok",
        &["failed with exit 1", "names INTERNAL"],
    );
    p.expect(
        "no-trailers",
        "ok",
        &["failed with exit 1 on a call that ended without"],
    );
    for name in ["internal-once", "rst-mid-message", "no-trailers"] {
        assert_eq!(f(name).attempts.len(), 1, "INTERNAL is not retried: {name}");
    }
    if retry {
        p.expect(
            "unavailable-once",
            "ok",
            &["retried 1 time", "then succeeded"],
        );
        assert_eq!(f("unavailable-once").attempts.len(), 2);
        p.expect(
            "unavailable-always",
            "ok",
            &["retried", "then failed with exit 1"],
        );
        p.expect(
            "deadline",
            "ok",
            &["the call ended after", "names DEADLINE_EXCEEDED"],
        );
        assert!(f("deadline").stderr.contains("DEADLINE_EXCEEDED"), "{p}");
    } else {
        p.expect(
            "unavailable-once",
            "warn",
            &["gave up at once (exit 1) on UNAVAILABLE"],
        );
        p.expect(
            "unavailable-always",
            "ok",
            &["after one UNAVAILABLE, no retry"],
        );
        p.expect(
            "pushback",
            "ok",
            &["on RESOURCE_EXHAUSTED, no second attempt"],
        );
        assert_eq!(f("pushback").attempts.len(), 1);
        // No deadline: the stalled call waits until the probe kills it.
        p.expect("deadline", "bad", &["still running at --timeout 3s"]);
        assert!(f("deadline").killed);
    }
}

#[test]
fn grpcio_without_and_with_a_deadline_and_retry_policy() {
    let Some(py) = python() else { return };
    let client = script("grpc_unary.py");
    let (p, json) = run("py", "3s", &[&py, &client, "{url}"]);
    common_verdicts(&p, &json, false);
    assert!(
        facts(&json, "no-trailers")
            .stderr
            .contains("grpc error UNKNOWN"),
        "{p}"
    );
    // With a 3 s deadline and a retry policy: the pushback's 1.5 s is honoured.
    // --timeout well past the 3 s deadline plus the interpreter's start on a loaded machine.
    let (p, json) = run(
        "py-retry",
        "8s",
        &[&py, &client, "{url}", "--deadline", "3", "--retry"],
    );
    common_verdicts(&p, &json, true);
    p.expect(
        "pushback",
        "ok",
        &["(grpc-retry-pushback-ms: 1500 honoured), then succeeded"],
    );
    let a = facts(&json, "pushback").attempts;
    assert_eq!(a.len(), 2);
    assert_eq!(p.code, Some(0), "{p}");
    for s in SCENARIOS {
        assert_ne!(p.row(s).0, "bad", "{s}\n{p}");
    }
}

/// NODE_PATH for @grpc/grpc-js.
fn node_modules() -> Option<String> {
    let modules = root().join("target/node/node_modules");
    if !modules.join("@grpc/grpc-js").is_dir() {
        assert!(!ci(), "target/node lacks @grpc/grpc-js and CI=true");
        eprintln!("SKIPPED: target/node lacks @grpc/grpc-js (make deps)");
        return None;
    }
    Some(format!("NODE_PATH={}", modules.display()))
}

#[test]
fn grpc_js_without_and_with_a_deadline_and_retry_policy() {
    let Some(node_path) = node_modules() else {
        return;
    };
    if !have("node", "@grpc/grpc-js") {
        return;
    }
    let client = script("grpc_unary.js");
    let (p, json) = run("js", "3s", &["env", &node_path, "node", &client, "{url}"]);
    common_verdicts(&p, &json, false);
    // grpc-js reports a call without trailers as INTERNAL (grpcio: UNKNOWN).
    assert!(
        facts(&json, "no-trailers")
            .stderr
            .contains("grpc error INTERNAL"),
        "{p}"
    );
    let (p, json) = run(
        "js-retry",
        "8s",
        &[
            "env",
            &node_path,
            "node",
            &client,
            "{url}",
            "--deadline",
            "3",
            "--retry",
        ],
    );
    common_verdicts(&p, &json, true);
    p.expect(
        "pushback",
        "ok",
        &["(grpc-retry-pushback-ms: 1500 honoured), then succeeded"],
    );
    assert_eq!(p.code, Some(0), "{p}");
}

#[test]
fn a_command_that_makes_no_grpc_call_stops_the_probe_with_one_sentence() {
    if !have("curl", "an HTTP/2 client that is not gRPC's") {
        return;
    }
    let p = probe(&[
        "--protocol",
        "grpc",
        "--",
        "curl",
        "-s",
        "--http2-prior-knowledge",
        "{url}",
    ]);
    assert_eq!(p.code, Some(1), "{p}");
    assert!(
        p.stdout
            .starts_with("The command made no gRPC call to a healthy server")
            && p.stdout
                .contains("no request had content-type: application/grpc")
            && p.stdout.lines().count() == 1,
        "{p}"
    );
}
