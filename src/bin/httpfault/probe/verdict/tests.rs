//! The verdict rules on synthetic journals. The tests named after issue 24 would have given
//! the false verdicts that issue lists.

use super::super::catalogue::{find, EXTRA, LOOP_TARGET};
use super::*;

const HL: usize = 1024;

fn healthy() -> Vec<u8> {
    (0..HL).map(|i| b"abcdefghij"[i % 10]).collect()
}

/// Attempts at these times, on connections 1, 2, ...; the last one healthy when `ok_last`.
fn tries(times: &[f64], status: u16, end: End, ok_last: bool) -> Vec<Attempt> {
    let n = times.len();
    times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let last = i + 1 == n && i > 0 && ok_last;
            Attempt {
                t: *t,
                conn: i as u64 + 1,
                method: "GET".into(),
                target: "/".into(),
                version: Some("HTTP/1.1"),
                status: if last { 200 } else { status },
                end: Some(if last { End::Complete } else { end }),
                done: Some(t + 0.001),
                healthy: last,
                idempotency_key: None,
                accepts_gzip: false,
                range: None,
                last_event_id: None,
                grpc: false,
                ws: None,
            }
        })
        .collect()
}

/// A healthy run of `requests` requests on `connections` connections that printed `output`.
fn base(requests: usize, connections: usize, output: &[u8]) -> Baseline {
    Baseline {
        requests,
        connections,
        methods: vec!["GET".into(); requests],
        first_at: Some(0.01),
        overlap: false,
        output: output.to_vec(),
    }
}

/// The usual healthy run: one GET, the body printed.
fn curl() -> Baseline {
    base(1, 1, &healthy())
}

fn outcome<'a>(exit: Exit, stdout: &'a [u8], attempts: &'a [Attempt]) -> Outcome<'a> {
    Outcome {
        exit,
        seconds: if exit == Exit::Killed { 3.0 } else { 2.5 },
        timeout: "3s",
        timeout_secs: 3.0,
        stdout,
        stderr: "",
        attempts,
        method: None,
    }
}

fn run_b(name: &str, b: &Baseline, exit: Exit, stdout: &[u8], attempts: &[Attempt]) -> Verdict {
    judge(
        find(name).unwrap(),
        &outcome(exit, stdout, attempts),
        b,
        &healthy(),
    )
}

fn run(name: &str, exit: Exit, stdout: &[u8], attempts: &[Attempt]) -> Verdict {
    run_b(name, &curl(), exit, stdout, attempts)
}

#[test]
fn a_truncated_body_accepted_is_bad_with_the_numbers() {
    let h = healthy();
    let a = tries(&[0.01], 200, End::Reset, false);
    let v = run("reset-mid-body", Exit::Code(0), &h[..512], &a);
    assert_eq!(
        v,
        bad("exit 0 with 512 of 1024 bytes: truncated body accepted".into())
    );
    let v = run("close-mid-body", Exit::Code(0), b"", &a);
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    assert!(v.reason.contains("failure not reported"), "{v:?}");
}

#[test]
fn a_retry_appended_to_output_already_written_is_bad() {
    // curl --retry writing to stdout: what the broken attempt wrote stays.
    let h = healthy();
    let a = tries(&[0.0, 1.0], 200, End::Reset, true);
    let v = run(
        "reset-mid-body",
        Exit::Code(0),
        &[&h[..512], &h[..]].concat(),
        &a,
    );
    assert_eq!(v.grade, Grade::Bad);
    assert!(
        v.reason
            .starts_with("exit 0 with 1536 bytes: the first 512 bytes of a broken attempt"),
        "{v:?}"
    );
}

#[test]
fn failing_loudly_on_a_cut_is_ok_and_retrying_says_the_gaps() {
    let h = healthy();
    let a = tries(&[0.01], 200, End::Reset, false);
    let v = run("reset-mid-body", Exit::Code(56), &h[..512], &a);
    assert_eq!(v, ok("failed with exit 56 after 512 of 1024 bytes".into()));
    let a = tries(&[0.0, 0.5, 1.5], 200, End::Reset, true);
    let v = run("reset-mid-body", Exit::Code(0), &h, &a);
    assert_eq!(
        v,
        ok("retried 2 times, gaps 0.50 s and 1.00 s, then succeeded".into())
    );
}

#[test]
fn a_post_resent_after_the_server_read_it_is_bad_unless_one_idempotency_key() {
    let h = healthy();
    let mut a = tries(&[0.0, 0.5, 1.0], 200, End::Reset, true);
    for x in &mut a {
        x.method = "POST".into();
    }
    let post = Baseline {
        methods: vec!["POST".into()],
        ..curl()
    };
    let v = run_b("reset-mid-body", &post, Exit::Code(0), &h, &a);
    assert_eq!(
        v,
        bad("POST sent 3 times after the server had read it: duplicate side effects".into())
    );
    for x in &mut a {
        x.idempotency_key = Some("k1".into());
    }
    let v = run_b("reset-mid-body", &post, Exit::Code(0), &h, &a);
    assert_eq!(v.grade, Grade::Ok, "{v:?}");
    // --method overrides what the journal says.
    let get = tries(&[0.0, 0.5], 200, End::Reset, true);
    let o = Outcome {
        method: Some("PATCH"),
        ..outcome(Exit::Code(0), &h, &get)
    };
    let v = judge(find("empty-reply").unwrap(), &o, &curl(), &h);
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    assert!(v.reason.starts_with("PATCH sent 2 times"), "{v:?}");
    // A command that POSTs twice on its own is not a duplicate when it POSTs twice.
    let mut two = tries(&[0.0, 1.1], 200, End::Reset, true);
    for x in &mut two {
        x.method = "POST".into();
    }
    let posts = Baseline {
        methods: vec!["POST".into(); 2],
        ..base(2, 2, &[h.clone(), h.clone()].concat())
    };
    let v = run_b("reset-mid-body", &posts, Exit::Code(1), &h[..512], &two);
    assert_ne!(v.grade, Grade::Bad, "{v:?}");
}

#[test]
fn issue_24_4_killed_says_still_running_at_the_timeout_and_quotes_a_timeout_on_stderr() {
    let a = tries(&[0.0], 0, End::Hang, false);
    let v = run("hang-before-head", Exit::Killed, b"", &a);
    assert_eq!(v, bad("still running at --timeout 3s (no output)".into()));
    assert!(!v.reason.contains("no timeout"));
    // httpx under load: its own timeout fired, the process was still there at --timeout;
    // nothing was retried, so how it would have ended was not seen.
    let stderr = "Traceback (most recent call last):\n  ...\nhttpx.ReadTimeout: timed out\n";
    let o = Outcome {
        stderr,
        ..outcome(Exit::Killed, b"", &a)
    };
    let v = judge(find("hang-before-head").unwrap(), &o, &curl(), &healthy());
    assert_eq!(
        v,
        na(
            "no verdict: still running at --timeout 3s (no output); its stderr says: \
            httpx.ReadTimeout: timed out: a timeout fired, the end was not seen (raise --timeout)"
                .into()
        )
    );
    // Timeouts, then retries, then still running: its retries outlast --timeout.
    let again = tries(&[0.0, 1.0, 2.0], 0, End::PeerGone, false);
    let o = Outcome {
        stderr,
        ..outcome(Exit::Killed, b"", &again)
    };
    let v = judge(find("hang-before-head").unwrap(), &o, &curl(), &healthy());
    assert_eq!(
        v,
        bad(
            "still running at --timeout 3s (no output); its stderr says: httpx.ReadTimeout: \
             timed out"
                .into()
        )
    );
    let v = run("refused", Exit::Killed, b"", &[]);
    assert_eq!(v.grade, Grade::Bad);
    assert!(
        v.reason
            .starts_with("still running at --timeout 3s although nothing listens"),
        "{v:?}"
    );
    let v = run("connect-timeout", Exit::Killed, b"", &[]);
    assert_eq!(
        v,
        bad("still running at --timeout 3s, its connect never accepted".into())
    );
    let h = healthy();
    let v = run(
        "dribble",
        Exit::Killed,
        &h[..100],
        &tries(&[0.0], 200, End::PeerGone, false),
    );
    assert_eq!(
        v,
        bad("still reading the dribbled body at --timeout 3s (100 of 1024 bytes)".into())
    );
    let waiting = tries(&[0.5], 503, End::Complete, false);
    let v = run("503-retry-after", Exit::Killed, b"", &waiting);
    assert_eq!(
        v,
        bad(
            "still running at --timeout 3s, 2.50 s after the last 503 (1 attempt): its waits \
             outlast it"
                .into()
        )
    );
    let mut many = tries(&[0.0, 0.01, 0.02, 0.03], 302, End::Complete, false);
    for x in &mut many[1..] {
        x.target = LOOP_TARGET.into();
    }
    let v = run("redirect-loop", Exit::Killed, b"", &many);
    assert_eq!(
        v,
        bad("still running at --timeout 3s after following 3 redirects".into())
    );
}

#[test]
fn issue_24_5_killed_before_any_request_is_no_verdict() {
    // A JVM still starting at --timeout: no request on any scenario with a server.
    for name in [
        "hang-before-head",
        "reset-mid-body",
        "503-once",
        "redirect-loop",
    ] {
        let v = run(name, Exit::Killed, b"", &[]);
        assert_eq!(
            v,
            na("killed at --timeout 3s before any request: slow start? raise --timeout".into()),
            "{name}"
        );
    }
    // Where nothing is journaled, the healthy run's first request says when it gets there.
    let slow = Baseline {
        first_at: Some(2.4),
        ..curl()
    };
    let v = run_b("connect-timeout", &slow, Exit::Killed, b"", &[]);
    assert_eq!(v.grade, Grade::NotApplicable, "{v:?}");
    assert!(v.reason.contains("slow start? raise --timeout"), "{v:?}");
    // A scenario it made no request in, though not killed, says nothing either.
    let v = run("503-once", Exit::Code(1), b"", &[]);
    assert_eq!(
        v,
        na(
            "made no request this time (exit 1, no output), although it did in the healthy run"
                .into()
        )
    );
}

#[test]
fn a_timeout_on_a_hang_is_ok() {
    let a = tries(&[0.0], 0, End::PeerGone, false);
    let v = run("hang-before-head", Exit::Code(28), b"", &a);
    assert_eq!(
        v,
        ok("gave up after 2.50 s with exit 28 (no output)".into())
    );
}

#[test]
fn no_retry_on_nothing_at_all_is_a_warning_for_get_and_right_for_post() {
    let mut a = tries(&[0.0], 0, End::Close, false);
    let v = run("empty-reply", Exit::Code(52), b"", &a);
    assert_eq!(
        v,
        warn("gave up at once (exit 52) on an empty reply that a retry would have fixed".into())
    );
    a[0].method = "POST".into();
    let v = run("empty-reply", Exit::Code(52), b"", &a);
    assert_eq!(v.grade, Grade::Ok, "{v:?}");
}

#[test]
fn transient_statuses_want_a_retry_that_honours_retry_after() {
    let h = healthy();
    let one = tries(&[0.0], 503, End::Complete, false);
    let v = run("503-once", Exit::Code(22), b"", &one);
    assert_eq!(
        v,
        warn("gave up at once (exit 22) on a 503 that a retry would have fixed".into())
    );
    let v = run("503-once", Exit::Code(0), b"PROBE-ERROR-503", &one);
    assert_eq!(
        v,
        warn(
            "gave up at once on a 503 that a retry would have fixed, and exited 0 with 15 \
              bytes, the 503's body as data: error not reported"
                .into()
        )
    );
    let fast = tries(&[0.0, 0.1], 503, End::Complete, true);
    let v = run("503-retry-after", Exit::Code(0), &h, &fast);
    assert_eq!(
        v,
        warn("ignored Retry-After: 2 (retried after 0.10 s)".into())
    );
    let instant = tries(&[0.0, 0.001], 503, End::Complete, true);
    let busy = tries(&[0.0, 0.04], 503, End::Complete, true);
    assert_eq!(run("503-once", Exit::Code(0), &h, &busy).grade, Grade::Warn);
    let v = run("503-once", Exit::Code(0), &h, &instant);
    assert_eq!(v, warn("retried without waiting (gap 0.001 s)".into()));
    let polite = tries(&[0.0, 2.01], 503, End::Complete, true);
    let v = run("503-retry-after", Exit::Code(0), &h, &polite);
    assert_eq!(
        v,
        ok("retried 1 time, gap 2.01 s (Retry-After: 2), then succeeded".into())
    );
}

#[test]
fn issue_24_2_a_poller_of_two_requests_is_not_retrying() {
    // Two GETs 1.1 s apart, each body printed; a 503 or 429 body not printed.
    let h = healthy();
    let two = [h.clone(), h.clone()].concat();
    let poller = base(2, 2, &two);
    for name in ["503-once", "429-retry-after"] {
        let status = if name == "503-once" { 503 } else { 429 };
        let a = tries(&[0.0, 1.1], status, End::Complete, true);
        let v = run_b(name, &poller, Exit::Code(0), &h, &a);
        assert_eq!(v.grade, Grade::Warn, "{name}: {v:?}");
        assert!(
            v.reason.starts_with(&format!(
                "did not retry a {status} that a retry would have fixed"
            )),
            "{name}: {v:?}"
        );
        assert!(!v.reason.contains("retried"), "{name}: {v:?}");
        // The same poller with a retry of its own: one request beyond its two.
        let a = tries(&[0.0, 1.05, 2.2], status, End::Complete, true);
        let mut a = a;
        a[1].healthy = true;
        a[1].status = 200;
        let v = run_b(name, &poller, Exit::Code(0), &two, &a);
        assert_eq!(v.grade, Grade::Ok, "{name}: {v:?}");
        assert!(v.reason.starts_with("retried 1 time, gap 1.05 s"), "{v:?}");
    }
    // A cut first poll skipped, the second printed: a body missing, not a truncation.
    let a = tries(&[0.0, 1.1], 200, End::Reset, true);
    let v = run_b("reset-mid-body", &poller, Exit::Code(0), &h, &a);
    assert_eq!(
        v,
        warn(
            "exit 0 with 1 of the healthy run's 2 bodies: the failed request was dropped and \
              not reported"
                .into()
        )
    );
}

#[test]
fn two_requests_at_once_are_not_a_retry_without_waiting() {
    // Two GETs sent together (Promise.all); the first meets the 503 and is retried 1 s after
    // its answer, while the second was sent with it.
    let h = healthy();
    let both = Baseline {
        overlap: true,
        ..base(2, 2, &[h.clone(), h.clone()].concat())
    };
    let mut a = tries(&[0.0, 0.002, 1.05], 503, End::Complete, true);
    a[0].done = Some(0.05);
    a[1].status = 200;
    a[1].healthy = true;
    a[1].done = Some(0.06);
    let v = run_b(
        "503-once",
        &both,
        Exit::Code(0),
        &[h.clone(), h.clone()].concat(),
        &a,
    );
    assert_eq!(v, ok("retried 1 time, gap 1.05 s, then succeeded".into()));
    // The same journal from a command that sends one after the other: an instant retry.
    let one_by_one = Baseline {
        overlap: false,
        ..both.clone()
    };
    let v = run_b(
        "503-once",
        &one_by_one,
        Exit::Code(0),
        &[h.clone(), h].concat(),
        &a,
    );
    assert_eq!(v.grade, Grade::Warn, "{v:?}");
}

#[test]
fn issue_24_2_a_go_client_printing_the_503_body_as_data() {
    // Two GETs, one after the other; the 503's body printed, then the real one.
    let h = healthy();
    let go = base(2, 1, &[h.clone(), h.clone()].concat());
    let a = tries(&[0.0, 0.002], 503, End::Complete, true);
    let out = [&b"PROBE-ERROR-503"[..], &h].concat();
    let v = run_b("503-once", &go, Exit::Code(0), &out, &a);
    assert_eq!(
        v,
        warn(
            "did not retry a 503 that a retry would have fixed, and exited 0 with 1039 \
              bytes, the 503's body as data: error not reported"
                .into()
        )
    );
}

#[test]
fn issue_24_6_a_trailing_newline_is_the_healthy_output() {
    // Python's print(body): the healthy run printed the newline too.
    let h = healthy();
    let printed = [&h[..], b"\n"].concat();
    let py = base(1, 1, &printed);
    let a = tries(&[0.0, 0.5], 0, End::Close, true);
    let v = run_b("empty-reply", &py, Exit::Code(0), &printed, &a);
    assert_eq!(v, ok("retried 1 time, gap 0.50 s, then succeeded".into()));
    let cut = tries(&[0.0], 200, End::Reset, false);
    let v = run_b(
        "reset-mid-body",
        &py,
        Exit::Code(0),
        &[&h[..512], b"\n"].concat(),
        &cut,
    );
    assert_eq!(
        v,
        bad("exit 0 with 512 of 1024 bytes: truncated body accepted".into())
    );
}

#[test]
fn a_cut_body_among_several_is_a_truncation_with_the_whole_length() {
    // curl -s {url} {url}: the first transfer cut (exit 56 for it), the second whole, exit 0.
    let h = healthy();
    let two = base(2, 1, &[h.clone(), h.clone()].concat());
    let a = tries(&[0.0, 0.01], 200, End::Reset, true);
    let out = [&h[..512], &h[..]].concat();
    let v = run_b("reset-mid-body", &two, Exit::Code(0), &out, &a);
    assert_eq!(
        v,
        bad(
            "exit 0 with 1536 bytes, a body cut at 512 of 1024 bytes among them: truncated body \
             accepted"
                .into()
        )
    );
}

#[test]
fn a_command_that_prints_a_summary_is_compared_whole() {
    let summary = base(1, 1, b"ok\n");
    let cut = tries(&[0.0], 200, End::Reset, false);
    let v = run_b("reset-mid-body", &summary, Exit::Code(0), b"ok\n", &cut);
    assert_eq!(
        v,
        bad("printed what the healthy run printed although no attempt got the whole body".into())
    );
    let v = run_b("reset-mid-body", &summary, Exit::Code(0), b"ok?\n", &cut);
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    assert!(v.reason.contains("first difference at byte 2"), "{v:?}");
    let retried = tries(&[0.0, 0.5], 200, End::Reset, true);
    let v = run_b("reset-mid-body", &summary, Exit::Code(0), b"ok\n", &retried);
    assert_eq!(v.grade, Grade::Ok, "{v:?}");
    let silent = base(1, 1, b"");
    let v = run_b("reset-mid-body", &silent, Exit::Code(0), b"", &cut);
    assert_eq!(
        v,
        bad(
            "exit 0 with no output although no attempt got the whole body: failure not reported"
                .into()
        )
    );
}

#[test]
fn always_500_grades_reporting_and_backoff() {
    let one = tries(&[0.0], 500, End::Complete, false);
    assert_eq!(
        run("500-always", Exit::Code(22), b"", &one),
        ok("failed with exit 22 on a 500, no retry".into())
    );
    assert_eq!(
        run("500-always", Exit::Code(0), b"PROBE-ERROR-500", &one).grade,
        Grade::Warn
    );
    let hammer = tries(&[0.0, 0.001, 0.002, 0.003], 500, End::Complete, false);
    assert_eq!(
        run("500-always", Exit::Code(22), b"", &hammer),
        warn("retried 3 times without waiting (gaps under 0.1 s)".into())
    );
    // Issue 24 item 6: "retried 1 times".
    let twice = tries(&[0.0, 0.001], 500, End::Complete, false);
    assert_eq!(
        run("500-always", Exit::Code(22), b"", &twice),
        warn("retried 1 time without waiting (gaps under 0.1 s)".into())
    );
    // urllib3's Retry: no wait before the first retry, backoff after.
    let urllib3 = tries(&[0.0, 0.001, 1.0, 3.0], 500, End::Complete, false);
    assert_eq!(
        run("500-always", Exit::Code(1), b"", &urllib3).grade,
        Grade::Ok
    );
    let backoff = tries(&[0.0, 1.0, 3.0, 7.0], 500, End::Complete, false);
    assert_eq!(
        run("500-always", Exit::Code(22), b"", &backoff),
        ok("retried 3 times, gaps 1.00 s, 2.00 s and 4.00 s, then gave up with exit 22".into())
    );
}

#[test]
fn issue_24_6_stale_keepalive_needs_a_reused_connection_to_mean_anything() {
    let h = healthy();
    let two = [h.clone(), h.clone()].concat();
    let reuses = base(2, 1, &two);
    let mut a = tries(&[0.0, 0.1, 0.1], 200, End::Complete, false);
    for x in &mut a {
        x.healthy = true;
    }
    a[1].conn = 1;
    a[1].status = 0;
    a[1].end = Some(End::Close);
    a[2].conn = 2;
    let v = run_b("stale-keepalive", &reuses, Exit::Code(0), &two, &a);
    assert_eq!(
        v,
        ok(
            "request 2 met the closed kept-alive connection; resent on a new one, then succeeded"
                .into()
        )
    );
    let v = run_b("stale-keepalive", &reuses, Exit::Code(56), &h, &a[..2]);
    assert_eq!(v.grade, Grade::Warn, "{v:?}");
    // One request: the scenario was not exercised (it said `ok` before).
    let v = run("stale-keepalive", Exit::Code(0), &h, &a[..1]);
    assert_eq!(
        v,
        na(
            "not exercised: in the healthy run it made 1 request on 1 connection, reusing none"
                .into()
        )
    );
    // A command that reuses, but opened new connections this time.
    let mut fresh = tries(&[0.0, 0.1], 200, End::Complete, false);
    for x in &mut fresh {
        x.healthy = true;
    }
    let v = run_b("stale-keepalive", &reuses, Exit::Code(0), &two, &fresh);
    assert_eq!(v.grade, Grade::NotApplicable, "{v:?}");
    assert!(
        v.reason.starts_with("not exercised: no request met"),
        "{v:?}"
    );
}

/// The gzip scenario's first attempt, asking for gzip or not, and how it ended.
fn gzip_try(asked: bool, end: End) -> Attempt {
    let mut a = tries(&[0.0], 200, end, false).remove(0);
    a.accepts_gzip = asked;
    a
}

#[test]
fn issue_24_3_bad_gzip_catches_data_kept_after_its_crc_failed() {
    let h = healthy();
    let mut corrupt = h.clone();
    corrupt[512] ^= 1;
    let asked = [gzip_try(true, End::Complete)];
    let v = run("bad-gzip", Exit::Code(0), &corrupt, &asked);
    assert_eq!(
        v,
        bad(
            "exit 0 with a corrupted body (byte 512 differs): it kept data whose gzip CRC failed"
                .into()
        )
    );
    // wget --compression=auto: keeps what it decoded, resumes the rest with Range.
    let mut wget = vec![gzip_try(true, End::Complete)];
    let mut resume = tries(&[0.0, 0.3], 200, End::Complete, true).remove(1);
    resume.range = Some("bytes=1009-".into());
    wget.push(resume);
    let v = run("bad-gzip", Exit::Code(0), &corrupt, &wget);
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    assert!(
        v.reason.ends_with(
            "; it resumed with Range: bytes=1009- after the CRC failed instead of fetching again"
        ),
        "{v:?}"
    );
    let v = run("bad-gzip", Exit::Code(4), &corrupt[..1009], &wget);
    assert_eq!(v.grade, Grade::Warn, "{v:?}");
    assert!(
        v.reason
            .starts_with("failed with exit 4; it resumed with Range"),
        "{v:?}"
    );
    // curl --compressed: exit 61 after the whole body.
    let v = run("bad-gzip", Exit::Code(61), &corrupt, &asked);
    assert_eq!(
        v,
        ok(
            "rejected the gzip body whose CRC failed (exit 61, after the whole body arrived)"
                .into()
        )
    );
    // Issue 24 item 6: a failure before the body was whole is not said to be the rejection.
    let left = [gzip_try(true, End::PeerGone)];
    let v = run("bad-gzip", Exit::Code(28), b"", &left);
    assert_eq!(
        v,
        ok("failed with exit 28 before the whole gzip body arrived (peer-gone)".into())
    );
    let v = run(
        "bad-gzip",
        Exit::Code(1),
        b"",
        &[gzip_try(false, End::Complete)],
    );
    assert_eq!(
        v,
        ok("failed with exit 1 on a gzip body it had not asked for".into())
    );
    // Not asking for gzip and printing it as sent: not exercised.
    let raw = [0x1f, 0x8b, 8, 0];
    let v = run(
        "bad-gzip",
        Exit::Code(0),
        &raw,
        &[gzip_try(false, End::Complete)],
    );
    assert_eq!(
        v,
        na(
            "not exercised: it did not ask for gzip (no Accept-Encoding: gzip) and printed the \
            gzip bytes as sent (4 bytes on stdout)"
                .into()
        )
    );
    let v = run("bad-gzip", Exit::Code(0), &raw, &asked);
    assert_eq!(v.grade, Grade::Warn, "{v:?}");
    let retried = [
        gzip_try(true, End::Complete),
        tries(&[0.0, 0.2], 200, End::Complete, true).remove(1),
    ];
    let v = run("bad-gzip", Exit::Code(0), &h, &retried);
    assert_eq!(v, ok("retried 1 time, gap 0.20 s, then succeeded".into()));
}

#[test]
fn extra_bytes_refused_and_connect_timeout() {
    let h = healthy();
    let one = tries(&[0.0], 200, End::Complete, false);
    let mut more = h.clone();
    more.extend_from_slice(EXTRA.as_bytes());
    assert_eq!(
        run("extra-bytes", Exit::Code(0), &more, &one),
        bad("exit 0 with the 31 bytes past Content-Length appended to the body".into())
    );
    assert_eq!(
        run("extra-bytes", Exit::Code(0), &h, &one),
        ok("read the 1024-byte body and ignored the 31 bytes past Content-Length".into())
    );
    assert_eq!(
        run("extra-bytes", Exit::Code(1), b"", &one).grade,
        Grade::Warn
    );
    assert_eq!(
        run("refused", Exit::Code(7), b"", &[]),
        ok("failed with exit 7 after 2.50 s: nothing listens".into())
    );
    assert_eq!(run("refused", Exit::Code(0), b"", &[]).grade, Grade::Bad);
    assert_eq!(
        run("connect-timeout", Exit::Code(28), b"", &[]).grade,
        Grade::Ok
    );
}

/// A redirect chain: a request for `/`, then `follows` for the loop's target; `runs` times.
fn chain_of(runs: usize, follows: usize) -> Vec<Attempt> {
    let times: Vec<f64> = (0..runs * (follows + 1)).map(|i| i as f64 * 0.01).collect();
    let mut a = tries(&times, 302, End::Complete, false);
    for (i, x) in a.iter_mut().enumerate() {
        if i % (follows + 1) != 0 {
            x.target = LOOP_TARGET.into();
        }
    }
    a
}

#[test]
fn issue_24_6_redirects_are_counted_per_run_of_the_chain() {
    let v = run("redirect-loop", Exit::Code(47), b"", &chain_of(1, 2));
    assert_eq!(
        v,
        ok("followed 2 redirects, then gave up with exit 47".into())
    );
    // axios-retry re-running a 22-request chain 4 times: 84 redirects, not "87".
    let v = run("redirect-loop", Exit::Code(1), b"", &chain_of(4, 21));
    assert_eq!(
        v,
        ok(
            "ran the redirect chain 4 times (3 retries), 21 redirects each time, 84 in all, \
            then gave up with exit 1"
                .into()
        )
    );
    // A command of two requests, each following the loop 4 times (urllib's limit).
    let two = base(2, 2, &[healthy(), healthy()].concat());
    let v = run_b("redirect-loop", &two, Exit::Code(0), b"", &chain_of(2, 4));
    assert_eq!(
        v,
        warn("followed 4 redirects in each of its 2 requests, then exited 0 with no output".into())
    );
    let v = run(
        "redirect-loop",
        Exit::Code(0),
        b"PROBE-ERROR-302",
        &chain_of(1, 0),
    );
    assert_eq!(
        v,
        warn(
            "did not follow the redirect and exited 0 with 15 bytes, the 302's body as data: \
              error not reported"
                .into()
        )
    );
}

#[test]
fn issue_24_1_a_client_that_spoke_http2_is_not_graded() {
    let h = healthy();
    let mut a = tries(&[0.0], 400, End::Complete, false);
    a[0].version = Some("HTTP/2");
    for name in [
        "bad-chunk",
        "bad-gzip",
        "extra-bytes",
        "stale-keepalive",
        "reset-mid-body",
    ] {
        let v = run(name, Exit::Code(0), &h[..67], &a);
        assert_eq!(v, na("spoke HTTP/2; use --protocol http2".into()), "{name}");
    }
}

/// Handshake entries (method TLS) that ended so.
fn handshakes(times: &[f64], end: End) -> Vec<Attempt> {
    let mut a = tries(times, 0, end, false);
    for x in &mut a {
        x.method = HANDSHAKE.into();
        x.version = None;
    }
    a
}

#[test]
fn a_bad_certificate_must_be_refused_before_any_request() {
    for name in [
        "tls-expired",
        "tls-wrong-host",
        "tls-self-signed",
        "tls-untrusted",
    ] {
        let v = run(
            name,
            Exit::Code(60),
            b"",
            &handshakes(&[0.1], End::PeerGone),
        );
        assert_eq!(v.grade, Grade::Ok, "{name}: {v:?}");
        assert!(v.reason.contains("exit 60"), "{v:?}");
        // curl -k: the handshake completes and the GET gets the body.
        let mut a = handshakes(&[0.1], End::Complete);
        a.extend(tries(&[0.12], 200, End::Complete, false));
        let v = run(name, Exit::Code(0), &healthy(), &a);
        assert_eq!(v.grade, Grade::Bad, "{name}: {v:?}");
        assert!(v.reason.starts_with("accepted "), "{v:?}");
        assert!(v.reason.contains("sent GET over it"), "{v:?}");
        // Sent the request and only then failed: still bad.
        let v = run(name, Exit::Code(1), b"", &a);
        assert_eq!(v.grade, Grade::Bad, "{name}: {v:?}");
    }
    let v = run(
        "tls-expired",
        Exit::Code(0),
        b"",
        &handshakes(&[0.1], End::PeerGone),
    );
    assert_eq!(v.grade, Grade::Bad, "refused but exit 0: {v:?}");
    let v = run(
        "tls-expired",
        Exit::Code(1),
        b"",
        &handshakes(&[0.1], End::Complete),
    );
    assert_eq!(
        v.grade,
        Grade::Ok,
        "name checked after the handshake: {v:?}"
    );
}

#[test]
fn a_broken_handshake_must_fail_loudly() {
    let v = run(
        "tls-reset",
        Exit::Code(35),
        b"",
        &handshakes(&[0.1], End::Reset),
    );
    assert_eq!(v.grade, Grade::Ok, "{v:?}");
    assert!(v.reason.contains("exit 35"), "{v:?}");
    let v = run(
        "tls-reset",
        Exit::Code(35),
        b"",
        &handshakes(&[0.1, 0.6, 1.6], End::Reset),
    );
    assert_eq!(v.grade, Grade::Ok, "{v:?}");
    assert!(
        v.reason.contains("retried 2 times, gaps 0.50 s and 1.00 s"),
        "{v:?}"
    );
    let v = run(
        "tls-reset",
        Exit::Code(0),
        b"",
        &handshakes(&[0.1], End::Reset),
    );
    assert_eq!(v.grade, Grade::Bad, "{v:?}");
    let v = run(
        "tls-hang",
        Exit::Code(28),
        b"",
        &handshakes(&[0.1], End::Hang),
    );
    assert_eq!(v.grade, Grade::Ok, "{v:?}");
    let v = run(
        "tls-hang",
        Exit::Killed,
        b"",
        &handshakes(&[0.1], End::Hang),
    );
    assert_eq!(v, bad("still running at --timeout 3s (no output)".into()));
}

#[test]
fn a_cut_without_close_notify_accepted_is_a_warning() {
    let half = &healthy()[..HL / 2];
    let cut = tries(&[0.1], 200, End::Close, false);
    let v = run("tls-no-close-notify", Exit::Code(0), half, &cut);
    assert_eq!(v.grade, Grade::Warn, "{v:?}");
    assert!(v.reason.contains("512 of 1024 bytes"), "{v:?}");
    let v = run("tls-no-close-notify", Exit::Code(56), half, &cut);
    assert_eq!(v.grade, Grade::Ok, "{v:?}");
    let v = run(
        "tls-no-close-notify",
        Exit::Code(0),
        &healthy(),
        &tries(&[0.1, 0.5], 200, End::Close, true),
    );
    assert_eq!(v.grade, Grade::Ok, "noticed and retried: {v:?}");
    let v = run("tls-no-close-notify", Exit::Code(0), &healthy(), &cut);
    assert_eq!(v.grade, Grade::Bad, "a body never sent whole: {v:?}");
}
