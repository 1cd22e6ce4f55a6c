//! The properties the fuzz targets assert, one function a target. Each takes the fuzzer's raw
//! bytes and panics when a property fails (a panic is what libFuzzer reports as a crash).
//!
//! Shared by two users: the cargo-fuzz targets in `fuzz/fuzz_targets/`, and the ordinary test
//! `tests/fuzz_corpus.rs` of the main crate, which includes this file as a module and replays
//! the saved corpora through the same checks without a fuzzer.
//!
//! Each check stays cheap (a few parses of the input, never one per byte) so that the fuzzer
//! keeps a high rate of executions.

use httpfault::fuzzing::ws::{client_frame, Event, Fail, Reader};
use httpfault::fuzzing::{
    parse_duration, parse_head, parse_offset, parse_response_head, parse_size, ChunkedScanner,
    HeadScan, Plan, ResponseScan, Route, RouteTable, MAX_HEAD,
};

/// A split point in `0..=len` drawn from the input's bytes (FNV-1a), so that each input is cut
/// somewhere else and the fuzzer's mutations move the cut around.
fn split_point(data: &[u8], salt: u64, len: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let span = u64::try_from(len).unwrap_or(u64::MAX).saturating_add(1);
    usize::try_from(h % span).unwrap_or(0)
}

/// Target `head`: the request-head parser.
///
/// - `parse_head` never panics, and a head it returns fits the input and ends in LF.
/// - A [`HeadScan`] fed the input in two pieces (the same buffer grown at a split point drawn
///   from the data, as a connection reads it) agrees with `parse_head` on the whole input. An
///   input longer than [`MAX_HEAD`] is also cut right at the limit, where a random cut rarely
///   falls.
/// - Every proper prefix of a complete head is incomplete (`Ok(None)`), never an error; a few
///   prefix lengths are checked, not all, to keep executions fast.
pub fn head(data: &[u8]) {
    let whole = parse_head(data);
    if let Ok(Some(head)) = &whole {
        assert!(head.len <= data.len(), "head longer than its input");
        assert_eq!(
            data.get(head.len.wrapping_sub(1)),
            Some(&b'\n'),
            "head ends in LF"
        );
    }

    let limit = (data.len() > MAX_HEAD).then_some(MAX_HEAD);
    let cuts = [0, 1].map(|salt| split_point(data, salt, data.len()));
    for cut in cuts.into_iter().chain(limit) {
        let mut scan = HeadScan::default();
        let first = scan.scan(data.get(..cut).unwrap_or_default());
        match first {
            // An error or a head in the first piece is already what the whole input gives.
            Err(_) | Ok(Some(_)) => assert_eq!(first, whole, "piece 1 of 2 at {cut}"),
            Ok(None) => {
                let second = scan.scan(data);
                assert_eq!(second, whole, "piece 2 of 2 at {cut}");
            }
        }
    }

    if let Ok(Some(head)) = whole {
        let len = head.len;
        let cut = split_point(data, 2, len.saturating_sub(1));
        let prefixes = [
            0,
            1,
            len / 2,
            cut,
            len.saturating_sub(2),
            len.saturating_sub(1),
        ];
        for p in prefixes.into_iter().filter(|&p| p < len) {
            let prefix = data.get(..p).unwrap_or_default();
            assert_eq!(
                parse_head(prefix),
                Ok(None),
                "prefix of {p} of a {len}-byte head"
            );
        }
    }
}

/// Target `response`: the response-head parser (an upstream's heads, in proxy mode).
///
/// - `parse_response_head` never panics, and a head it returns fits the input and ends in LF.
/// - A [`ResponseScan`] fed the input in two pieces (the buffer grown at a point drawn from
///   the data, as the proxy reads an upstream) agrees with `parse_response_head` on the whole.
/// - Every proper prefix of a complete head is incomplete (`Ok(None)`), never an error.
pub fn response(data: &[u8]) {
    let whole = parse_response_head(data);
    if let Ok(Some(head)) = &whole {
        assert!(head.len <= data.len(), "head longer than its input");
        assert_eq!(
            data.get(head.len.wrapping_sub(1)),
            Some(&b'\n'),
            "head ends in LF"
        );
    }
    let summary = |r: &Result<Option<httpfault::fuzzing::ResponseHeadRef<'_>>, _>| match r {
        Ok(Some(h)) => Ok(Some((
            h.len,
            h.status,
            h.close,
            h.content_length,
            h.chunked,
        ))),
        Ok(None) => Ok(None),
        Err(e) => Err(*e),
    };
    let want = summary(&whole);
    for salt in [0, 1] {
        let cut = split_point(data, salt, data.len());
        let mut scan = ResponseScan::default();
        let first = scan.scan(data.get(..cut).unwrap_or_default());
        match summary(&first) {
            Ok(None) => assert_eq!(summary(&scan.scan(data)), want, "piece 2 of 2 at {cut}"),
            got => assert_eq!(got, want, "piece 1 of 2 at {cut}"),
        }
    }
    if let Ok(Some(head)) = whole {
        let len = head.len;
        for p in [0, 1, len / 2, len.saturating_sub(1)]
            .into_iter()
            .filter(|&p| p < len)
        {
            let prefix = data.get(..p).unwrap_or_default();
            assert!(
                matches!(parse_response_head(prefix), Ok(None)),
                "prefix of {p} of a {len}-byte head"
            );
        }
    }
}

/// Target `chunked`: the chunked-body scanner.
///
/// - `ChunkedScanner::feed` never panics; while the body is not done it consumes all it is
///   given, and a done body ends in LF.
/// - Fed in up to three pieces (cut at points drawn from the data) it gives the same result as
///   fed in one: the same bytes consumed and done flag, or the same error; and the same count of
///   body bytes.
pub fn chunked(data: &[u8]) {
    let mut one = ChunkedScanner::default();
    let whole = one.feed(data);
    if let Ok((n, done)) = whole {
        assert!(n <= data.len(), "consumed more than given");
        if done {
            assert_eq!(data.get(n.wrapping_sub(1)), Some(&b'\n'), "body ends in LF");
            assert_eq!(one.feed(data), Ok((0, true)), "a done body takes no more");
        } else {
            assert_eq!(n, data.len(), "an unfinished body takes everything");
        }
    }

    let a = split_point(data, 0, data.len());
    let b = split_point(data, 1, data.len());
    let (a, b) = (a.min(b), a.max(b));
    let pieces = [
        data.get(..a).unwrap_or_default(),
        data.get(a..b).unwrap_or_default(),
        data.get(b..).unwrap_or_default(),
    ];
    let mut many = ChunkedScanner::default();
    let mut consumed = 0;
    let mut result = Ok((0, false));
    for piece in pieces {
        match many.feed(piece) {
            Ok((n, done)) => {
                consumed += n;
                result = Ok((consumed, done));
                if done {
                    break;
                }
                assert_eq!(n, piece.len(), "an unfinished body takes everything");
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    assert_eq!(result, whole, "pieces cut at {a} and {b}");
    if whole.is_ok() {
        assert_eq!(
            many.body_bytes, one.body_bytes,
            "body bytes, cut at {a} and {b}"
        );
    }
}

/// Target `plan`: the plan parser and printer.
///
/// - `Plan::parse` never panics (on any text, the input read as UTF-8 with replacements).
/// - A parsed plan prints to text that parses to the same plan, and that plan prints the same
///   text again.
pub fn plan(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(plan) = Plan::parse(&text) else {
        return;
    };
    let printed = plan.to_string();
    let back = Plan::parse(&printed)
        .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which fails: {e}"));
    assert_eq!(back, plan, "{text:?} printed as {printed:?}");
    assert_eq!(back.to_string(), printed, "{text:?} prints twice the same");
}

/// Target `route`: the route and routes-file parsers.
///
/// - `Route::parse` and `RouteTable::parse_file` never panic.
/// - A parsed route's SPEC parses to a route with the same SPEC, sequence length and plans.
/// - A parsed table's `to_text()` parses to a table with the same `to_text()`.
pub fn route(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(route) = Route::parse(&text) {
        let back = Route::parse(route.spec())
            .unwrap_or_else(|e| panic!("{text:?}: its spec {:?} fails: {e}", route.spec()));
        assert_eq!(back.spec(), route.spec());
        assert_eq!(back.method(), route.method());
        assert_eq!(back.path(), route.path());
        let len = route.sequence_len();
        assert_eq!(back.sequence_len(), len);
        for n in [1, 2, 3, len.saturating_sub(1), len, len.saturating_add(1)] {
            assert_eq!(
                back.plan_for(n),
                route.plan_for(n),
                "request {n} of {text:?}"
            );
        }
    }
    if let Ok(table) = RouteTable::parse_file(&text) {
        let printed = table.to_text();
        let back = RouteTable::parse_file(&printed)
            .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which fails: {e}"));
        assert_eq!(back.len(), table.len());
        assert_eq!(back.to_text(), printed, "{text:?}");
    }
}

/// Target `units`: the SIZE, DUR and OFFSET parsers.
///
/// - `parse_duration`, `parse_size` and `parse_offset` never panic.
/// - A parsed duration printed in microseconds (`{n}us`) parses back to the same value, and so
///   does a size printed in bytes and an offset printed by its `Display`.
pub fn units(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(d) = parse_duration(&text) {
        let us = format!("{}us", d.as_micros());
        assert_eq!(parse_duration(&us), Some(d), "{text:?} as {us}");
    }
    if let Some(n) = parse_size(&text) {
        let bytes = n.to_string();
        assert_eq!(parse_size(&bytes), Some(n), "{text:?} as {bytes}");
    }
    if let Some(offset) = parse_offset(&text) {
        let printed = offset.to_string();
        assert_eq!(
            parse_offset(&printed),
            Some(offset),
            "{text:?} as {printed}"
        );
    }
}

/// Target `toxiproxy_json`: toxiproxy's API bodies.
///
/// - The JSON reader never panics, on any bytes.
/// - A value it reads, written back, reads as the same value, and writes the same text.
/// - A toxic made from any object (create, then attributes, then an update) never panics,
///   and one that is made writes JSON that reads back.
pub fn toxiproxy_json(data: &[u8]) {
    use httpfault::fuzzing::toxiproxy::{parse, Toxic};
    let Ok(v) = parse(data) else {
        return;
    };
    let text = v.to_string();
    let back =
        parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?} does not read back: {e}"));
    assert_eq!(back, v, "{text:?}");
    assert_eq!(back.to_string(), text);
    if let Ok(mut t) = Toxic::create(&v, 1) {
        if t.set_attributes(&v, false).is_ok() {
            let _ = t.set_attributes(&v, true);
            let mut out = String::new();
            t.write_json(&mut out);
            assert!(parse(out.as_bytes()).is_ok(), "{out:?}");
        }
    }
}

/// Target `h2`: a whole HTTP/2 connection over the input (preface, frames, HPACK blocks, the
/// plans in their paths), run in memory with a virtual clock, the input cut into three reads
/// at points drawn from it.
///
/// - The server never panics, whatever the frames.
/// - What it writes is a whole number of well-formed frames, SETTINGS first; after a GOAWAY
///   no HEADERS or DATA goes to a stream above its last-stream-id; the output stays under the
///   run's cap.
pub fn h2(data: &[u8]) {
    use httpfault::fuzzing::h2::{frame, run, MAX_OUTPUT};
    let mut input = Vec::with_capacity(data.len() + 24);
    if !data.starts_with(b"PRI ") {
        input.extend_from_slice(frame::PREFACE);
    }
    input.extend_from_slice(data);
    let a = split_point(data, 1, input.len());
    let b = split_point(data, 2, input.len());
    let out = run(&input, &[a, b]);
    assert!(out.len() <= MAX_OUTPUT);
    let mut at = 0;
    let mut last: Option<u32> = None;
    while at < out.len() {
        let head = frame::Head::parse(&out[at..]).expect("a whole frame header");
        let end = at + 9 + head.len as usize;
        assert!(end <= out.len(), "a frame cut short: {head:?}");
        if at == 0 {
            assert_eq!(head.kind, frame::Kind::Settings);
        }
        match head.kind {
            frame::Kind::GoAway => {
                let p = &out[at + 9..end];
                let l = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
                last = Some(last.map_or(l, |old: u32| old.min(l)));
            }
            frame::Kind::Headers | frame::Kind::Data => {
                if let Some(l) = last {
                    assert!(head.stream <= l, "{head:?} after GOAWAY({l})");
                }
            }
            _ => {}
        }
        at = end;
    }
}

/// Target `ws_frame`: the WebSocket frame parser (client frames, RFC 6455), with a message
/// limit drawn from the first byte (small limits reach 1009).
///
/// - The reader never panics; each event takes at least one byte and no more than given.
/// - Fed in two pieces (split where the data says), it gives the same events and the same
///   failure as fed at once: every prefix of a frame is incomplete, never an error it would
///   not be whole.
/// - What it gives keeps the RFC's rules: text messages are UTF-8, no message is over the
///   limit, pings carry at most 125 bytes, failures carry 1002, 1007 or 1009.
/// - The messages, written back as client frames, parse to the same messages.
pub fn ws_frame(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let max = match first {
        0..=127 => u64::from(first) * 8,
        _ => 1 << 20,
    };
    let whole = ws_events(rest, max, rest.len());
    let cut = split_point(rest, 7, rest.len());
    assert_eq!(ws_events(rest, max, cut), whole, "two pieces at {cut}");
    let (events, fail) = &whole;
    if let Some(f) = fail {
        assert!(
            matches!(f.code, 1002 | 1007 | 1009),
            "close code {}",
            f.code
        );
    }
    let mut again = Vec::new();
    for e in events {
        match e {
            Event::Message { text, data } => {
                assert!(data.len() as u64 <= max, "message over the limit");
                assert!(!text || std::str::from_utf8(data).is_ok(), "text not UTF-8");
                let op = if *text { 1 } else { 2 };
                again.extend(client_frame(true, op, data, [9, 8, 7, 6]));
            }
            Event::Ping(p) => assert!(p.len() <= 125, "ping of {}", p.len()),
            _ => {}
        }
    }
    let messages: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::Message { .. }))
        .collect();
    let (back, none) = ws_events(&again, max, again.len());
    assert_eq!(none, None, "written back");
    assert_eq!(back.iter().collect::<Vec<_>>(), messages, "written back");
}

/// The events of `input` with the first `first` bytes available at first, then the rest.
fn ws_events(input: &[u8], max: u64, first: usize) -> (Vec<Event>, Option<Fail>) {
    let mut r = Reader::new(max);
    let mut events = Vec::new();
    let (mut at, mut avail) = (0, first);
    loop {
        match r.next(&input[at..avail]) {
            Ok(Some((n, e))) => {
                assert!(n > 0 && at + n <= avail, "took {n} of {}", avail - at);
                at += n;
                events.push(e);
            }
            Ok(None) if avail < input.len() => avail = input.len(),
            Ok(None) => return (events, None),
            Err(f) => return (events, Some(f)),
        }
    }
}
