//! HTTP/2 conformance (issue 24 item 7): one test per rule h2spec found broken, named by its
//! section in RFC 9113 (h2spec's numbering is RFC 7540's, given beside it), with raw frames over
//! a real socket; and h2spec itself, cleartext and TLS, where `../shared/bin/h2spec` exists
//! (`make h2spec` runs it too).

mod common;

#[path = "h2/raw.rs"]
mod raw;

use common::*;
use httpfault::fuzzing::h2::frame::{flag, Kind, Reason};
use raw::*;
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;

const END_STREAM: u8 = flag::END_STREAM;
const END_HEADERS: u8 = flag::END_HEADERS;

fn send(t: &mut TcpStream, frames: &[Vec<u8>]) {
    t.write_all(&frames.concat()).unwrap();
}

/// Waits for a GOAWAY or the RST_STREAM of `stream`; returns the frames read.
fn error_on(t: &mut TcpStream, stream: u32) -> Frames {
    read_frames_until(t, IO, goaway_or_reset(stream)).0
}

fn no_answer(frames: &Frames, stream: u32) {
    let data = frames
        .iter()
        .any(|(h, _)| h.stream == stream && h.kind == Kind::Data);
    assert!(!data, "stream {stream} must not be served: {frames:?}");
}

/// h2spec 5.1/6 (RFC 9113 5.1, half-closed (remote)): HEADERS after the request's END_STREAM.
#[test]
fn h2_5_1_half_closed_remote_headers_is_stream_closed() {
    let s = Server::start(&[]);
    let mut t = raw(&s);
    let h = headers_block("/delay=5s");
    send(
        &mut t,
        &[
            frame(Kind::Headers, END_STREAM | END_HEADERS, 1, &h),
            frame(Kind::Headers, END_STREAM | END_HEADERS, 1, &h),
        ],
    );
    let f = error_on(&mut t, 1);
    assert_eq!(
        reset_code(&f, 1),
        Some(Reason::STREAM_CLOSED.0),
        "{f:?}\n{}",
        s.describe()
    );
    assert_eq!(goaway(&f), None, "a stream error, not a connection error");
}

/// h2spec 6.1/2 and 5.1/5 (RFC 9113 6.1): DATA on a half-closed (remote) stream.
#[test]
fn h2_6_1_data_on_a_half_closed_stream_is_stream_closed() {
    let s = Server::start(&[]);
    let mut t = raw(&s);
    send(
        &mut t,
        &[
            frame(
                Kind::Headers,
                END_STREAM | END_HEADERS,
                1,
                &headers_block("/delay=5s"),
            ),
            frame(Kind::Data, END_STREAM, 1, b"test"),
        ],
    );
    let f = error_on(&mut t, 1);
    assert_eq!(reset_code(&f, 1), Some(Reason::STREAM_CLOSED.0), "{f:?}");
}

/// HEADERS without END_STREAM on `path`, then the client's RST_STREAM CANCEL, then `late`.
fn after_the_clients_reset(late: Vec<u8>) -> Frames {
    let s = Server::start(&[]);
    let mut t = raw(&s);
    send(
        &mut t,
        &[
            frame(Kind::Headers, END_HEADERS, 1, &headers_block("/text=x")),
            frame(Kind::Reset, 0, 1, &Reason::CANCEL.0.to_be_bytes()),
            late,
        ],
    );
    error_on(&mut t, 1)
}

/// h2spec 5.1/8 (RFC 9113 5.1, closed): DATA after the client's own RST_STREAM.
#[test]
fn h2_5_1_closed_stream_data_after_rst_is_stream_closed() {
    let f = after_the_clients_reset(frame(Kind::Data, END_STREAM, 1, b"test"));
    assert_eq!(reset_code(&f, 1), Some(Reason::STREAM_CLOSED.0), "{f:?}");
}

/// h2spec 5.1/9 (RFC 9113 5.1, closed): HEADERS after the client's own RST_STREAM.
#[test]
fn h2_5_1_closed_stream_headers_after_rst_is_stream_closed() {
    let h = headers_block("/text=x");
    let f = after_the_clients_reset(frame(Kind::Headers, END_STREAM | END_HEADERS, 1, &h));
    assert_eq!(reset_code(&f, 1), Some(Reason::STREAM_CLOSED.0), "{f:?}");
}

/// Stream 1 answered whole (both ends sent END_STREAM), then `late` on it.
fn after_both_ends_closed(late: Vec<u8>) -> (Frames, bool) {
    let s = Server::start(&[]);
    let mut t = raw(&s);
    let h = headers_block("/text=ok");
    send(
        &mut t,
        &[frame(Kind::Headers, END_STREAM | END_HEADERS, 1, &h)],
    );
    let (f, _) = read_frames_until(&mut t, IO, answered(1));
    assert!(answered(1)(&f), "stream 1 answered first: {f:?}");
    send(&mut t, &[late]);
    read_frames_until(&mut t, IO, |f| goaway(f).is_some())
}

/// h2spec 5.1/11 (RFC 9113 5.1, closed): DATA on a stream both ends closed.
#[test]
fn h2_5_1_closed_stream_data_is_stream_closed() {
    let (f, _) = after_both_ends_closed(frame(Kind::Data, END_STREAM, 1, b"test"));
    assert_eq!(goaway_code(&f), Some(Reason::STREAM_CLOSED.0), "{f:?}");
}

/// h2spec 5.1/12 (RFC 9113 5.1, closed): HEADERS on a stream both ends closed.
#[test]
fn h2_5_1_closed_stream_headers_is_stream_closed() {
    let h = headers_block("/text=ok");
    let (f, _) = after_both_ends_closed(frame(Kind::Headers, END_STREAM | END_HEADERS, 1, &h));
    let (code, why) = goaway(&f).unwrap_or_else(|| panic!("no GOAWAY: {f:?}"));
    assert_eq!(code, Reason::STREAM_CLOSED.0, "{f:?}");
    assert!(why.contains("closed"), "the debug text says why: {why:?}");
}

/// h2spec 5.1.1/2 (RFC 9113 5.1.1): HEADERS on stream 3 after stream 5 opened.
#[test]
fn h2_5_1_1_a_stream_id_lower_than_one_opened_is_protocol_error() {
    let s = Server::start(&[]);
    let mut t = raw(&s);
    send(
        &mut t,
        &[
            frame(
                Kind::Headers,
                END_STREAM | END_HEADERS,
                5,
                &headers_block("/delay=5s"),
            ),
            frame(
                Kind::Headers,
                END_STREAM | END_HEADERS,
                3,
                &headers_block("/text=x"),
            ),
        ],
    );
    let (f, ended) = read_frames_until(&mut t, IO, |f| goaway(f).is_some());
    assert_eq!(goaway_code(&f), Some(Reason::PROTOCOL_ERROR.0), "{f:?}");
    no_answer(&f, 3);
    let (_, ended_after) = read_frames(&mut t, IO);
    assert!(ended || ended_after, "the connection ends after GOAWAY");
}

/// A request of `fields` on stream 1 gets RST_STREAM PROTOCOL_ERROR and no answer.
fn malformed(fields: &[(&str, &str)], data: &[&[u8]]) {
    let s = Server::start(&["status=200"]);
    let mut t = raw(&s);
    let flags = if data.is_empty() {
        END_STREAM | END_HEADERS
    } else {
        END_HEADERS
    };
    let mut frames = vec![frame(Kind::Headers, flags, 1, &block(fields))];
    for (i, d) in data.iter().enumerate() {
        let end = if i + 1 == data.len() { END_STREAM } else { 0 };
        frames.push(frame(Kind::Data, end, 1, d));
    }
    send(&mut t, &frames);
    let f = error_on(&mut t, 1);
    assert_eq!(
        reset_code(&f, 1),
        Some(Reason::PROTOCOL_ERROR.0),
        "{fields:?}: {f:?}\n{}",
        s.describe()
    );
    no_answer(&f, 1);
    // The connection goes on: stream 3 is served.
    let h = headers_block("/text=ok");
    send(
        &mut t,
        &[frame(Kind::Headers, END_STREAM | END_HEADERS, 3, &h)],
    );
    let (f, _) = read_frames_until(&mut t, IO, answered(3));
    assert!(answered(3)(&f), "{f:?}");
}

const M: (&str, &str) = (":method", "GET");
const S: (&str, &str) = (":scheme", "http");
const A: (&str, &str) = (":authority", "x");
const P: (&str, &str) = (":path", "/");

/// h2spec 8.1.2.3/3 (RFC 9113 8.3.1): a request without `:scheme`.
#[test]
fn h2_8_3_1_a_request_without_scheme_is_malformed() {
    malformed(&[M, A, P], &[]);
}

/// h2spec 8.1.2.3/5 (RFC 9113 8.3.1): `:method` twice.
#[test]
fn h2_8_3_1_a_duplicated_method_is_malformed() {
    malformed(&[M, M, S, A, P], &[]);
}

/// h2spec 8.1.2.3/6 (RFC 9113 8.3.1): `:scheme` twice.
#[test]
fn h2_8_3_1_a_duplicated_scheme_is_malformed() {
    malformed(&[M, S, S, A, P], &[]);
}

/// h2spec 8.1.2.3/7 (RFC 9113 8.3.1): `:path` twice.
#[test]
fn h2_8_3_1_a_duplicated_path_is_malformed() {
    malformed(&[M, S, A, P, P], &[]);
}

const POST: (&str, &str) = (":method", "POST");

/// h2spec 8.1.2.6/1 (RFC 9113 8.1.1): content-length that is not the DATA's length.
#[test]
fn h2_8_1_1_content_length_unlike_the_data_is_malformed() {
    malformed(&[POST, S, A, P, ("content-length", "1")], &[b"test"]);
}

/// h2spec 8.1.2.6/2 (RFC 9113 8.1.1): content-length that is not the sum of the DATA.
#[test]
fn h2_8_1_1_content_length_unlike_the_sum_of_the_data_is_malformed() {
    malformed(&[POST, S, A, P, ("content-length", "1")], &[b"te", b"st"]);
}

/// A content-length the DATA does add up to is served.
#[test]
fn h2_8_1_1_content_length_that_adds_up_is_served() {
    let s = Server::start(&["echo"]);
    let mut t = raw(&s);
    let fields = [POST, S, A, P, ("content-length", "4")];
    send(
        &mut t,
        &[
            frame(Kind::Headers, END_HEADERS, 1, &block(&fields)),
            frame(Kind::Data, 0, 1, b"te"),
            frame(Kind::Data, END_STREAM, 1, b"st"),
        ],
    );
    let (f, _) = read_frames_until(&mut t, IO, answered(1));
    assert!(answered(1)(&f) && reset_code(&f, 1).is_none(), "{f:?}");
}

/// RFC 9113 3.4 (issue 24 item 8, h2's side): a connection served as HTTP/2 (as after TLS's
/// ALPN chose `h2`) whose first bytes are not the preface gets the server's SETTINGS, then
/// GOAWAY PROTOCOL_ERROR, and nothing else.
#[test]
fn h2_3_4_a_start_that_is_not_the_preface_is_protocol_error() {
    let out = httpfault::fuzzing::h2::run(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &[]);
    let frames = parse_frames(&out);
    let kinds: Vec<Kind> = frames.iter().map(|(h, _)| h.kind).collect();
    assert_eq!(kinds, [Kind::Settings, Kind::GoAway], "{frames:?}");
    assert_eq!(goaway_code(&frames), Some(Reason::PROTOCOL_ERROR.0));
}

// --- h2spec itself ----------------------------------------------------------------------

/// `../shared/bin/h2spec` beside the repository, or `$H2SPEC`.
fn h2spec() -> Option<PathBuf> {
    let path = std::env::var_os("H2SPEC")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bin/h2spec"));
    path.exists().then_some(path)
}

/// The ids (`3.5/2`) of the cases h2spec's report lists under "Failures", and its summary.
fn h2spec_failures(report: &str) -> (Vec<String>, String) {
    let summary = report
        .lines()
        .rev()
        .find(|l| l.contains(" tests, "))
        .unwrap_or("")
        .to_string();
    let mut failed = Vec::new();
    let mut section = String::new();
    let failures = report.split("\nFailures:").nth(1).unwrap_or("");
    for line in failures.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("× ") {
            let n = rest.split(':').next().unwrap_or("");
            failed.push(format!("{section}/{n}"));
        } else if let Some((num, _)) = line.split_once(". ") {
            if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                section = num.to_string();
            }
        }
    }
    (failed, summary)
}

fn run_h2spec(bin: &PathBuf, s: &Server, tls: bool) -> (Vec<String>, String) {
    let port = s.port().to_string();
    let mut args = vec!["-h", "127.0.0.1", "-p", &port, "-o", "3"];
    if tls {
        args.extend(["-t", "-k"]);
    }
    let out = Command::new(bin).args(&args).output().expect("run h2spec");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let (failed, summary) = h2spec_failures(&report);
    eprintln!(
        "h2spec {} ({}): {summary}",
        if tls { "TLS" } else { "cleartext" },
        args.join(" ")
    );
    (failed, summary)
}

/// h2spec 2.6.0, cleartext (prior knowledge) and TLS (ALPN h2): all 146 cases pass on both.
/// Over cleartext, 3.5/2 sends `INVALID CONNECTION PREFACE\r\n\r\n` to a listener that
/// serves HTTP/1.1 too: a request line whose version is not `HTTP/x.y` is not HTTP/1.x at all,
/// so it gets no answer, only the close (an HTTP/1.1 `400` would be read as a frame header).
#[test]
fn h2spec_passes_every_case_over_cleartext_and_tls() {
    let Some(bin) = h2spec() else {
        eprintln!("SKIPPED: no h2spec at ../shared/bin/h2spec (or $H2SPEC); see `make h2spec`");
        return;
    };
    let clear = Server::start(&["-q", "ok"]);
    let (failed, summary) = run_h2spec(&bin, &clear, false);
    assert!(failed.is_empty(), "cleartext failures: {failed:?}");
    assert!(summary.starts_with("146 tests, 146 passed"), "{summary}");
    let tls = Server::start(&["-q", "--tls", "ok"]);
    let (failed, summary) = run_h2spec(&bin, &tls, true);
    assert!(failed.is_empty(), "TLS failures: {failed:?}");
    assert!(summary.starts_with("146 tests, 146 passed"), "{summary}");
}

#[test]
fn h2spec_reports_are_read_by_section_and_case() {
    let report = "\nFailures: \n\nHypertext Transfer Protocol Version 2 (HTTP/2)\n  3. Starting HTTP/2\n    3.5. HTTP/2 Connection Preface\n      × 2: Sends invalid connection preface\n        -> The endpoint MUST terminate the TCP connection.\n  5. Streams\n    5.1.1. Stream Identifiers\n      × 2: x\n\nFinished in 0.08 seconds\n146 tests, 144 passed, 0 skipped, 2 failed\n";
    let (failed, summary) = h2spec_failures(report);
    assert_eq!(failed, ["3.5/2", "5.1.1/2"]);
    assert_eq!(summary, "146 tests, 144 passed, 0 skipped, 2 failed");
}
