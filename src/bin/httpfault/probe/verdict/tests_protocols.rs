//! The verdict rules of the HTTP/2 and Server-Sent Events catalogues on synthetic journals:
//! what real clients did in the validation runs (docs/probe.md), and the ways they could
//! have gone wrong.

use super::super::catalogue::{find_in, Protocol};
use super::*;

const HL: usize = 1024;

fn healthy() -> Vec<u8> {
    (0..HL).map(|i| b"abcdefghij"[i % 10]).collect()
}

/// A request at `t` on connection `conn`, answered with `status` and ended so.
fn at(t: f64, conn: u64, version: &'static str, status: u16, end: End, healthy: bool) -> Attempt {
    Attempt {
        t,
        conn,
        method: "GET".into(),
        target: "/".into(),
        version: Some(version),
        status,
        end: Some(end),
        done: Some(t + 0.05),
        healthy,
        idempotency_key: None,
        accepts_gzip: false,
        range: None,
        last_event_id: None,
        grpc: false,
        ws: None,
    }
}

fn h2(t: f64, conn: u64, status: u16, end: End, healthy: bool) -> Attempt {
    at(t, conn, "HTTP/2", status, end, healthy)
}

/// An event-stream request; `lei` its Last-Event-ID.
fn ev(t: f64, status: u16, end: End, healthy: bool, lei: Option<&str>) -> Attempt {
    Attempt {
        last_event_id: lei.map(str::to_string),
        ..at(t, 1, "HTTP/1.1", status, end, healthy)
    }
}

fn base(requests: usize, output: &[u8]) -> Baseline {
    Baseline {
        requests,
        connections: 1,
        methods: vec!["GET".into(); requests],
        first_at: Some(0.01),
        overlap: false,
        output: output.to_vec(),
    }
}

fn judge_in(
    p: Protocol,
    name: &str,
    b: &Baseline,
    exit: Exit,
    stdout: &[u8],
    stderr: &str,
    a: &[Attempt],
) -> Verdict {
    let o = Outcome {
        exit,
        seconds: 1.5,
        timeout: "3s",
        timeout_secs: 3.0,
        stdout,
        stderr,
        attempts: a,
        method: None,
    };
    let healthy = match p {
        Protocol::Sse => Vec::new(),
        _ => healthy(),
    };
    judge(find_in(p, name).unwrap(), &o, b, &healthy)
}

fn h2_run(name: &str, exit: Exit, stdout: &[u8], a: &[Attempt]) -> Verdict {
    judge_in(
        Protocol::Http2,
        name,
        &base(1, &healthy()),
        exit,
        stdout,
        "",
        a,
    )
}

#[test]
fn h2_a_refused_stream_retried_is_ok_and_says_which_connection() {
    let h = healthy();
    // Go's transport: the retry on the same connection, a new stream.
    let a = [
        h2(0.01, 1, 0, End::Reset, false),
        h2(0.012, 1, 200, End::Complete, true),
    ];
    let v = h2_run("refused-stream", Exit::Code(0), &h, &a);
    assert_eq!(
        v,
        ok("retried 1 time, gap 0.00 s, on the same connection, then succeeded".into())
    );
    // After a GOAWAY the retry comes on a new connection.
    let a = [
        h2(0.01, 1, 0, End::Close, false),
        h2(0.02, 2, 200, End::Complete, true),
    ];
    let v = h2_run("goaway-graceful", Exit::Code(0), &h, &a);
    assert_eq!(v.grade, Grade::Ok, "{v:?}");
    assert!(v.reason.contains("on a new connection"), "{v:?}");
}

#[test]
fn h2_an_unprocessed_stream_not_retried_is_warn_and_exit_0_is_bad() {
    let a = [h2(0.01, 1, 0, End::Reset, false)];
    let v = h2_run("refused-stream", Exit::Code(1), b"", &a);
    assert_eq!(
        v,
        warn(
            "gave up at once (exit 1) on a REFUSED_STREAM that a retry would have fixed (the \
             stream was not processed: a retry is safe)"
                .into()
        )
    );
    let v = h2_run("goaway-graceful", Exit::Code(0), b"", &a);
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    assert!(v.reason.contains("failure not reported"), "{v:?}");
    // A POST too: the server said it did nothing with it, so resending is no duplicate.
    let mut post = [
        h2(0.01, 1, 0, End::Reset, false),
        h2(0.02, 1, 200, End::Complete, true),
    ];
    for p in &mut post {
        p.method = "POST".into();
    }
    let v = h2_run("refused-stream", Exit::Code(0), &healthy(), &post);
    assert_eq!(v.grade, Grade::Ok, "{v:?}");
}

#[test]
fn h2_a_body_short_of_content_length_accepted_is_bad() {
    // Java 17's HttpClient: END_STREAM at half the body, exit 0 with what came.
    let h = healthy();
    let a = [h2(0.01, 1, 200, End::Close, false)];
    let v = h2_run("length-mismatch", Exit::Code(0), &h[..512], &a);
    assert_eq!(
        v,
        bad("exit 0 with 512 of 1024 bytes: truncated body accepted".into())
    );
    let v = h2_run("length-mismatch", Exit::Code(1), &h[..512], &a);
    assert_eq!(v, ok("failed with exit 1 after 512 of 1024 bytes".into()));
    let v = h2_run("rst-mid-body", Exit::Code(1), b"", &a);
    assert_eq!(v, ok("failed with exit 1, no output".into()));
}

#[test]
fn h2_a_stalled_stream_needs_a_timeout() {
    let a = [h2(0.01, 1, 200, End::Hang, false)];
    for name in ["stall-mid-body", "ping-timeout", "headers-only"] {
        let v = h2_run(name, Exit::Killed, b"", &a);
        assert_eq!(v, bad("still running at --timeout 3s (no output)".into()));
        let v = h2_run(name, Exit::Code(1), b"", &a);
        assert_eq!(v, ok("gave up after 1.50 s with exit 1 (no output)".into()));
    }
}

#[test]
fn h2_a_request_over_http1_is_not_applicable_and_http2_in_http1s_is_too() {
    let a = [at(0.01, 1, "HTTP/1.1", 200, End::Reset, false)];
    let v = h2_run("rst-mid-body", Exit::Code(1), b"", &a);
    assert_eq!(
        v,
        na("spoke HTTP/1.1, so the HTTP/2 fault was not served; use --protocol http1".into())
    );
    let a = [h2(0.01, 1, 200, End::Reset, false)];
    let v = judge_in(
        Protocol::Http1,
        "reset-mid-body",
        &base(1, &healthy()),
        Exit::Code(1),
        b"",
        "",
        &a,
    );
    assert_eq!(v, na("spoke HTTP/2; use --protocol http2".into()));
}

const FIVE: &[u8] = b"1\n2\n3\n4\n5\n";

fn sse(name: &str, exit: Exit, stdout: &[u8], stderr: &str, a: &[Attempt]) -> Verdict {
    // The healthy run of an EventSource: the stream, then the reconnect that gets the 204.
    judge_in(Protocol::Sse, name, &base(2, FIVE), exit, stdout, stderr, a)
}

#[test]
fn sse_a_resume_with_last_event_id_that_prints_every_event_once_is_ok() {
    let a = [
        ev(0.1, 200, End::Reset, false, None),
        ev(3.15, 200, End::Complete, true, Some("3")),
        ev(6.3, 204, End::Complete, true, Some("5")),
    ];
    let v = sse("cut-after-3", Exit::Code(0), FIVE, "", &a);
    assert_eq!(
        v,
        ok(
            "reconnected 3.00 s after an RST after event 3, with Last-Event-ID: 3; printed \
             every event once"
                .into()
        )
    );
    // Without Last-Event-ID, the first three come twice.
    let mut dup = a.clone();
    dup[1].last_event_id = None;
    let v = sse(
        "close-after-3",
        Exit::Code(0),
        b"1\n2\n3\n1\n2\n3\n4\n5\n",
        "",
        &dup,
    );
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    assert!(
        v.reason.contains("without Last-Event-ID") && v.reason.contains("1, 2, 3 printed twice"),
        "{v:?}"
    );
}

#[test]
fn sse_a_stream_cut_and_not_resumed() {
    let a = [ev(0.1, 200, End::Reset, false, None)];
    // The OpenAI SDK: the exception ends the script.
    let v = sse(
        "cut-after-3",
        Exit::Code(1),
        b"1\n2\n3\n",
        "Traceback...\nopenai.APIConnectionError: Connection error.\n",
        &a,
    );
    assert_eq!(
        v,
        warn(
            "did not reconnect after an RST after event 3: exit 1 and printed 1, 2, 3 (3 of \
             the healthy run's 5 lines); its stderr ends: openai.APIConnectionError: \
             Connection error."
                .into()
        )
    );
    let v = sse("close-after-3", Exit::Code(0), b"1\n2\n3\n", "", &a);
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    assert!(v.reason.contains("taken for a whole one"), "{v:?}");
}

#[test]
fn sse_the_cut_event_dispatched_is_bad() {
    // Printed 4, whose blank line never came, and resumed after it.
    let a = [
        ev(0.1, 200, End::Close, false, None),
        ev(1.0, 200, End::Complete, true, Some("4")),
    ];
    let v = sse("cut-mid-event", Exit::Code(0), FIVE, "", &a);
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    assert!(v.reason.contains("Last-Event-ID: 4"), "{v:?}");
    let v = sse("cut-mid-event", Exit::Code(0), b"1\n2\n3\n4\n", "", &a[..1]);
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    assert!(v.reason.contains("the cut event 4 was dispatched"), "{v:?}");
}

#[test]
fn sse_the_retry_field_is_measured_from_the_cut() {
    let mut a = vec![
        ev(0.1, 200, End::Reset, false, None),
        ev(2.2, 200, End::Complete, true, Some("3")),
    ];
    let v = sse("retry-field", Exit::Code(0), FIVE, "", &a);
    assert_eq!(v.grade, Grade::Ok, "{v:?}");
    assert!(v.reason.contains("retry: 2000 honoured"), "{v:?}");
    a[1].t = 0.65;
    let v = sse("retry-field", Exit::Code(0), FIVE, "", &a);
    assert_eq!(
        v,
        warn(
            "ignored retry: 2000 (reconnected 0.50 s after an RST after event 3, with \
             Last-Event-ID: 3)"
                .into()
        )
    );
}

#[test]
fn sse_204_stop_stall_and_503() {
    let once = [ev(0.1, 204, End::Complete, false, None)];
    let v = sse("204-stop", Exit::Code(0), b"", "", &once);
    assert_eq!(v.grade, Grade::Ok, "{v:?}");
    // A browser's own /favicon.ico after the page loaded is not a reconnect (Chromium, seen
    // in CI: it read as "reconnected 1 time after a 204").
    let favicon = [
        ev(0.1, 204, End::Complete, false, None),
        Attempt {
            target: "/favicon.ico".into(),
            ..ev(0.16, 204, End::Complete, false, None)
        },
    ];
    let v = sse("204-stop", Exit::Code(0), b"", "", &favicon);
    assert_eq!(v.grade, Grade::Ok, "{v:?}");
    let again = [
        ev(0.1, 204, End::Complete, false, None),
        ev(0.6, 204, End::Complete, false, None),
        ev(1.1, 204, End::Complete, false, None),
    ];
    let v = sse("204-stop", Exit::Code(0), b"", "", &again);
    assert_eq!(
        v,
        bad("reconnected 2 times after a 204 (gaps 0.50 s and 0.50 s): a 204 means stop".into())
    );
    let hang = [ev(0.1, 0, End::PeerGone, false, None)];
    let v = sse("stall", Exit::Code(1), b"", "", &hang);
    assert_eq!(v, ok("gave up after 1.50 s of silence with exit 1".into()));
    let v = sse("stall", Exit::Killed, b"", "", &hang);
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    let v = sse("stall", Exit::Code(0), b"", "", &hang);
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    let e503 = [ev(0.1, 503, End::Complete, false, None)];
    let v = sse("503-then-ok", Exit::Code(1), b"", "", &e503);
    assert_eq!(
        v,
        warn("gave up at once on a 503 that a reconnect would have fixed (exit 1)".into())
    );
    let retried = [
        ev(0.1, 503, End::Complete, false, None),
        ev(0.6, 200, End::Complete, true, None),
    ];
    let v = sse("503-then-ok", Exit::Code(0), FIVE, "", &retried);
    assert_eq!(
        v,
        ok("retried 1 time, gap 0.50 s, then printed every event once".into())
    );
}

const ECHO: &[u8] = b"0a05776f726c64\n";

fn grpc(name: &str, exit: Exit, stdout: &[u8], stderr: &str, a: &[Attempt]) -> Verdict {
    judge_in(
        Protocol::Grpc,
        name,
        &base(1, ECHO),
        exit,
        stdout,
        stderr,
        a,
    )
}

#[test]
fn grpc_a_transient_status_retried_is_ok_and_not_retried_warn() {
    let once = [h2(0.01, 1, 200, End::Complete, false)];
    let v = grpc(
        "unavailable-once",
        Exit::Code(1),
        b"",
        "grpc error UNAVAILABLE: \n",
        &once,
    );
    assert_eq!(
        v,
        warn(
            "gave up at once (exit 1) on UNAVAILABLE that a retry would have fixed; its stderr \
             names UNAVAILABLE"
                .into()
        )
    );
    let retried = [
        h2(0.01, 1, 200, End::Complete, false),
        h2(0.21, 1, 200, End::Complete, true),
    ];
    let v = grpc("unavailable-once", Exit::Code(0), ECHO, "", &retried);
    assert_eq!(v, ok("retried 1 time, gap 0.20 s, then succeeded".into()));
    // The failed call reported as a success.
    let v = grpc("unavailable-once", Exit::Code(0), b"", "", &once);
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    let v = grpc("unavailable-always", Exit::Code(0), b"", "", &once);
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    let v = grpc("unavailable-always", Exit::Code(1), b"", "", &retried);
    assert_eq!(
        v,
        ok("retried 1 time, gap 0.20 s, then failed with exit 1".into())
    );
}

#[test]
fn grpc_the_pushback_is_measured() {
    let mut a = [
        h2(0.01, 1, 200, End::Complete, false),
        h2(1.53, 1, 200, End::Complete, true),
    ];
    let v = grpc("pushback", Exit::Code(0), ECHO, "", &a);
    assert_eq!(
        v,
        ok("retried after 1.52 s (grpc-retry-pushback-ms: 1500 honoured), then succeeded".into())
    );
    a[1].t = 0.2;
    let v = grpc("pushback", Exit::Code(0), ECHO, "", &a);
    assert_eq!(
        v,
        warn("ignored grpc-retry-pushback-ms: 1500 (retried after 0.19 s)".into())
    );
    let v = grpc(
        "pushback",
        Exit::Code(1),
        b"",
        "RESOURCE_EXHAUSTED",
        &a[..1],
    );
    assert_eq!(v.grade, Grade::Ok, "{v:?}");
}

#[test]
fn grpc_a_failed_call_must_not_be_a_success() {
    let a = [h2(0.01, 1, 200, End::Complete, false)];
    for name in ["no-trailers", "rst-mid-message", "internal-once"] {
        let v = grpc(name, Exit::Code(0), ECHO, "", &a);
        assert_eq!(v.grade, Grade::Bad, "{name}: {v:?}");
        assert!(v.reason.contains("reported as a success"), "{v:?}");
        let v = grpc(name, Exit::Code(1), b"", "13 INTERNAL: x", &a);
        assert_eq!(v.grade, Grade::Ok, "{name}: {v:?}");
        assert!(v.reason.ends_with("; its stderr names INTERNAL"), "{v:?}");
    }
    let v = grpc(
        "deadline",
        Exit::Killed,
        b"",
        "",
        &[h2(0.01, 1, 200, End::Hang, false)],
    );
    assert_eq!(v, bad("still running at --timeout 3s (no output)".into()));
}

const FOUR: &[u8] = b"1\nhello\n2\n3\n";

/// A WebSocket connection's entry: the close frames the server sent and got.
fn wsc(t: f64, end: End, healthy: bool, sent: Option<u16>, received: Option<u16>) -> Attempt {
    Attempt {
        ws: Some(WsEnd { sent, received }),
        ..at(t, 1, "HTTP/1.1", 101, end, healthy)
    }
}

fn ws(name: &str, exit: Exit, stdout: &[u8], stderr: &str, a: &[Attempt]) -> Verdict {
    judge_in(Protocol::Ws, name, &base(1, FOUR), exit, stdout, stderr, a)
}

#[test]
fn ws_a_cut_connection_must_fail_loudly_and_the_order_of_lines_does_not_matter() {
    let drop = [wsc(0.1, End::Close, false, None, None)];
    let v = ws("drop-1006", Exit::Code(1), b"hello\n1\n", "", &drop);
    assert_eq!(
        v,
        ok(
            "failed with exit 1 after a FIN with no close frame after 2 messages; printed \
             hello, 1 (2 of the healthy run's 4 lines); the server got no close frame from it"
                .into()
        )
    );
    let v = ws("drop-1006", Exit::Code(0), b"hello\n1\n", "", &drop);
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    assert!(
        v.reason.contains("messages lost without a failure"),
        "{v:?}"
    );
    // Reconnected, every message once (in another order than the healthy run's).
    let again = [
        wsc(0.1, End::Close, false, None, None),
        wsc(0.5, End::Complete, true, Some(1000), Some(1000)),
    ];
    let v = ws(
        "close-1011",
        Exit::Code(0),
        b"1\nhello\nhello\n1\n2\n3\n",
        "",
        &again,
    );
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    assert!(v.reason.contains("printed twice"), "{v:?}");
    let v = ws("close-1011", Exit::Code(0), b"hello\n1\n2\n3\n", "", &again);
    assert_eq!(
        v,
        ok("reconnected after a close frame 1011 after 2 messages, then printed every message once".into())
    );
}

#[test]
fn ws_no_close_frame_taken_for_a_normal_end_is_warn() {
    let a = [wsc(0.1, End::Close, false, None, None)];
    let v = ws("fin-without-close", Exit::Code(0), FOUR, "", &a);
    assert_eq!(v.grade, Grade::Warn, "{v:?}");
    let v = ws("fin-without-close", Exit::Code(1), FOUR, "", &a);
    assert_eq!(v.grade, Grade::Ok, "{v:?}");
    assert!(v.reason.contains("missing close frame (1006)"), "{v:?}");
}

#[test]
fn ws_a_bad_frame_must_fail_the_connection_and_never_be_delivered() {
    let a = [wsc(0.1, End::Close, false, None, Some(1007))];
    let v = ws("bad-utf8", Exit::Code(1), b"", "", &a);
    assert_eq!(
        v,
        ok(
            "failed with exit 1 on a text message of invalid UTF-8, delivering none of it; \
             the server got its close frame 1007"
                .into()
        )
    );
    let v = ws(
        "bad-utf8",
        Exit::Code(0),
        "\u{fffd}\n1\nhello\n2\n3\n".as_bytes(),
        "",
        &a,
    );
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    assert!(
        v.reason
            .starts_with("delivered a text message of invalid UTF-8"),
        "{v:?}"
    );
    let v = ws("bad-mask", Exit::Code(0), FOUR, "", &a);
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    assert!(v.reason.contains("the connection was not failed"), "{v:?}");
}

#[test]
fn ws_fragments_big_messages_refusals_and_hangs() {
    let a = [wsc(0.1, End::Complete, false, Some(1000), Some(1000))];
    let v = ws("fragmented", Exit::Code(0), FOUR, "", &a);
    assert_eq!(
        v,
        ok("read messages in 3 frames each: printed every message once".into())
    );
    let v = ws("fragmented", Exit::Code(1), b"1\n", "", &a);
    assert_eq!(v.grade, Grade::Warn, "{v:?}");
    let big = "x".repeat(2 << 20) + "\n1\nhello\n2\n3\n";
    let v = ws("big-message", Exit::Code(0), big.as_bytes(), "", &a);
    assert_eq!(
        v,
        ok("took the 2,097,152-byte message whole, exit 0".into())
    );
    let refused = [wsc(0.1, End::Close, false, None, Some(1009))];
    let v = ws("big-message", Exit::Code(1), b"", "", &refused);
    assert_eq!(
        v,
        ok(
            "refused the 2,097,152-byte message: failed with exit 1; the server got its close frame 1009"
                .into()
        )
    );
    let v = ws(
        "big-message",
        Exit::Code(0),
        b"1\nhello\n2\n3\n",
        "",
        &refused,
    );
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    let r403 = [at(0.1, 1, "HTTP/1.1", 403, End::Complete, false)];
    let v = ws("refused-403", Exit::Code(1), b"", "", &r403);
    assert_eq!(
        v,
        ok("failed with exit 1 on the upgrade refused with 403".into())
    );
    let v = ws("refused-403", Exit::Code(0), b"", "", &r403);
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    let silent = [wsc(0.1, End::PeerGone, false, None, None)];
    let v = ws("pong-never", Exit::Killed, b"1\n", "", &silent);
    assert_eq!(v, bad("still running at --timeout 3s (2 bytes)".into()));
    let v = ws(
        "pong-never",
        Exit::Code(1),
        b"1\n",
        "keepalive ping timeout",
        &silent,
    );
    assert_eq!(v.grade, Grade::Ok, "{v:?}");
    assert!(
        v.reason
            .starts_with("ended by itself after 1.50 s with exit 1"),
        "{v:?}"
    );
}
