//! `httpfault probe --protocol sse` against real event-stream clients: httpx-sse reading the
//! stream once (as most apps do) and resuming as the HTML spec's EventSource does, the OpenAI
//! Python SDK streaming a chat completion (without and with `max_retries`), and Chromium's
//! own EventSource. Each test asserts the verdicts and checks them against what the client
//! really did: the lines it printed, its exit status and stderr, and the server's journal
//! (`--json`: each reconnect and its `Last-Event-ID`).
//!
//! Clients missing here fail under CI=true and are skipped, loudly, elsewhere (`make deps`
//! installs httpx-sse, openai and playwright-core; `.ci/run` Chromium).

mod common;
#[path = "probe/harness.rs"]
mod harness;

use harness::{ci, facts, have, probe, python, root, script, temp};
use std::path::Path;

#[test]
fn httpx_sse_read_once_and_resuming() {
    let Some(py) = python() else { return };
    let client = script("sse_httpx.py");
    let json = temp("sse-once.json");
    // httpx's 2 s read timeout must end `stall` first, with room for a loaded machine.
    let p = probe(&[
        "--protocol",
        "sse",
        "--timeout",
        "8s",
        "-j",
        "4",
        "--json",
        json.to_str().unwrap(),
        "--",
        &py,
        &client,
        "{url}",
    ]);
    let f = |name| facts(&json, name);
    assert!(
        p.stdout.starts_with("healthy run: exit 0 after ")
            && p.stdout
                .contains("1 request on 1 connection over HTTP/1.1, 10 bytes on stdout"),
        "{p}"
    );
    // Read once: the cut streams end it with an exception (exit 1) after events 1-3.
    for name in ["cut-after-3", "close-after-3", "cut-mid-event"] {
        p.expect(
            name,
            "warn",
            &[
                "did not reconnect",
                "exit 1 and printed 1, 2, 3 (3 of the healthy run's 5 lines)",
            ],
        );
        assert_eq!((f(name).exit, f(name).stdout_bytes), (Some(1), 6), "{name}");
    }
    p.expect("204-stop", "ok", &["stopped after the 204 (exit 1"]);
    // httpx's read timeout (2 s) ends the silent stream.
    p.expect("stall", "ok", &["gave up after", "of silence with exit 1"]);
    assert!(f("stall").stderr.contains("ReadTimeout"), "{p}");
    p.expect(
        "503-then-ok",
        "warn",
        &["gave up at once on a 503", "(exit 1)"],
    );

    // Resuming as EventSource does: Last-Event-ID: 3, every event once, the retry field
    // honoured, a 204 stops it.
    let json = temp("sse-resume.json");
    // `stall` takes the interpreter's start, httpx's 2 s read timeout, the reconnect and the
    // stream: about 4 s, and 5.6 s once on a loaded machine, so --timeout leaves room.
    let p = probe(&[
        "--protocol",
        "sse",
        "--timeout",
        "10s",
        "-j",
        "4",
        "--json",
        json.to_str().unwrap(),
        "--",
        &py,
        &client,
        "{url}",
        "--resume",
    ]);
    let f = |name| facts(&json, name);
    assert!(p.stdout.contains("2 requests on 1 connection"), "{p}");
    for name in ["cut-after-3", "close-after-3", "cut-mid-event"] {
        p.expect(
            name,
            "ok",
            &["with Last-Event-ID: 3; printed every event once"],
        );
        let r = f(name);
        assert_eq!(r.last_event_ids(), [None, Some("3"), Some("5")], "{name}");
        assert_eq!((r.exit, r.stdout_bytes), (Some(0), 10), "{name}");
    }
    p.expect("retry-field", "ok", &["(retry: 2000 honoured)"]);
    p.expect("204-stop", "ok", &["stopped after the 204 (exit 0"]);
    assert_eq!(f("204-stop").attempts.len(), 1);
    p.expect(
        "stall",
        "ok",
        &["reconnected after", "printed every event once"],
    );
    // A 503 is not 200: the spec's EventSource fails the connection, and so does this one.
    p.expect("503-then-ok", "warn", &["gave up at once on a 503"]);
    assert_eq!(p.code, Some(0), "{p}");
}

#[test]
fn the_openai_sdk_streaming_a_chat_completion() {
    let Some(py) = python() else { return };
    let client = script("sse_openai.py");
    let json = temp("sse-openai.json");
    let p = probe(&[
        "--protocol",
        "sse",
        "--only",
        "cut-after-3,retry-field,204-stop,503-then-ok",
        "--timeout",
        "8s",
        "-j",
        "4",
        "--json",
        json.to_str().unwrap(),
        "--",
        &py,
        &client,
        "{url}",
        "--retries",
        "2",
    ]);
    let f = |name| facts(&json, name);
    // A stream cut midway is never retried: the exception ends the app.
    p.expect(
        "cut-after-3",
        "warn",
        &["did not reconnect", "printed 1, 2, 3", "APIConnectionError"],
    );
    assert_eq!(f("cut-after-3").attempts.len(), 1);
    // The SDK dispatches the retry field's block (no data) as an event and fails to decode
    // it as JSON: nothing printed.
    p.expect(
        "retry-field",
        "warn",
        &["printed nothing", "JSONDecodeError"],
    );
    assert_eq!(f("retry-field").stdout_bytes, 0);
    p.expect("204-stop", "ok", &["stopped after the 204 (exit 0"]);
    // max_retries=2: the 503 is retried after a backoff.
    p.expect(
        "503-then-ok",
        "ok",
        &["retried 1 time", "printed every event once"],
    );
    let r = f("503-then-ok");
    assert_eq!(
        r.attempts.iter().map(|a| a.2).collect::<Vec<_>>(),
        [503, 200]
    );
    assert_eq!(r.stdout_bytes, 10);
}

/// Chromium on PATH and playwright-core in target/node.
fn browser() -> Option<String> {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).is_file());
    let playwright = root()
        .join("target/node/node_modules/playwright-core")
        .is_dir();
    if chromium.is_none() || !playwright {
        assert!(!ci(), "chromium or playwright-core is missing and CI=true");
        eprintln!("SKIPPED: chromium or playwright-core (make deps) is missing");
        return None;
    }
    chromium.map(str::to_string)
}

#[test]
fn chromium_eventsource() {
    let Some(chromium) = browser() else { return };
    if !have("node", "playwright-core drives Chromium") {
        return;
    }
    let json = temp("sse-chromium.json");
    let modules = root().join("target/node/node_modules");
    let (chromium_env, node_path) = (
        format!("CHROMIUM={chromium}"),
        format!("NODE_PATH={}", modules.display()),
    );
    let p = probe(&[
        "--protocol",
        "sse",
        "--only",
        "cut-after-3,retry-field,cut-mid-event,204-stop,503-then-ok",
        "--timeout",
        "20s",
        "-j",
        "3",
        "--json",
        json.to_str().unwrap(),
        "--",
        "env",
        &chromium_env,
        &node_path,
        "node",
        &script("sse_chromium.js"),
        "{url}",
    ]);
    let f = |name| facts(&json, name);
    // The healthy run: the stream, then the reconnect with Last-Event-ID: 5 that gets 204.
    assert_eq!(f("baseline").last_event_ids(), [None, Some("5")], "{p}");
    for name in ["cut-after-3", "cut-mid-event"] {
        p.expect(
            name,
            "ok",
            &["with Last-Event-ID: 3; printed every event once"],
        );
        let r = f(name);
        assert_eq!(r.last_event_ids(), [None, Some("3"), Some("5")], "{name}");
        assert_eq!(r.stdout_bytes, 10);
    }
    p.expect("retry-field", "ok", &["(retry: 2000 honoured)"]);
    p.expect("204-stop", "ok", &["stopped after the 204 (exit 0"]);
    assert_eq!(f("204-stop").attempts.len(), 1);
    // The spec: a status other than 200 fails the connection, no reconnect.
    p.expect(
        "503-then-ok",
        "warn",
        &["gave up at once on a 503", "(exit 1)"],
    );
    assert_eq!(f("503-then-ok").attempts.len(), 1);
}
