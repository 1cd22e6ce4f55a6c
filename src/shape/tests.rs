//! The timeline on a virtual clock: what an engine would do, step by step, and when.

use super::*;
use crate::plan::units::Unit;
use crate::plan::EndKind;

/// What an engine did: bytes written, how it ended, and when (seconds on the virtual clock).
#[derive(Debug, PartialEq)]
struct Run {
    sent: u64,
    end: Option<EndKind>,
    secs: f64,
    /// Each write's end offset.
    writes: Vec<u64>,
}

/// Drives `t` as an engine does over `source`, fed in pieces of `feed` bytes.
fn drive(mut t: Timeline, source: &[u8], feed: usize) -> Run {
    let t0 = Instant::now();
    let mut now = t0;
    let mut sent = 0u64;
    let mut fed = 0usize;
    let mut writes = Vec::new();
    for _ in 0..1_000_000 {
        let next = if fed < source.len() || sent < t.fed() {
            t.next(sent, now)
        } else {
            t.at_end(sent, now)
        };
        match next {
            Next::Write(up_to) => {
                assert!(up_to > sent && up_to <= t.fed(), "{up_to} after {sent}");
                sent = up_to;
                writes.push(up_to);
            }
            Next::Wait(until) => {
                assert!(until >= now);
                now = until;
            }
            Next::Cut(kind) => {
                return Run {
                    sent,
                    end: Some(kind),
                    secs: (now - t0).as_secs_f64(),
                    writes,
                }
            }
            Next::Feed if fed < source.len() => {
                let to = (fed + feed).min(source.len());
                t.feed(&source[fed..to]);
                fed = to;
            }
            Next::Feed => {
                return Run {
                    sent,
                    end: None,
                    secs: (now - t0).as_secs_f64(),
                    writes,
                }
            }
        }
    }
    panic!("the timeline did not finish");
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn counter(unit: Unit) -> Option<Counter> {
    Some(Counter::new(unit, 0, Framing::Plain))
}

fn msg(unit: Unit, n: u64, plus: u64) -> At {
    At::Msg { unit, n, plus }
}

#[test]
fn without_marks_every_byte_goes_in_pieces_of_at_most_64_kib() {
    let body = vec![b'x'; 200_000];
    let r = drive(Timeline::new([], None, None, None), &body, 1 << 20);
    assert_eq!((r.sent, r.end), (200_000, None));
    assert_eq!(r.writes, [65_536, 131_072, 196_608, 200_000]);
    assert_eq!(r.secs, 0.0);
}

#[test]
fn a_cut_at_a_byte_offset_sends_exactly_the_bytes_before_it() {
    for feed in [1, 5, 6, 7, 1000] {
        let t = Timeline::new([], Some((At::Byte(6), EndKind::Reset)), None, None);
        let r = drive(t, b"Hello, world!", feed);
        assert_eq!((r.sent, r.end), (6, Some(EndKind::Reset)), "fed by {feed}");
    }
    let t = Timeline::new([], Some((At::Byte(0), EndKind::Close)), None, None);
    assert_eq!(drive(t, b"Hello", 10).sent, 0);
}

#[test]
fn a_byte_offset_past_the_end_and_end_itself_cut_after_the_last_byte() {
    for at in [At::Byte(1000), At::End, At::Byte(13)] {
        let t = Timeline::new([], Some((at, EndKind::Hang)), None, None);
        let r = drive(t, b"Hello, world!", 4);
        assert_eq!((r.sent, r.end), (13, Some(EndKind::Hang)), "{at:?}");
    }
}

#[test]
fn pauses_wait_at_their_offsets_in_the_plans_order_before_a_cut_there() {
    let t = Timeline::new(
        [
            (At::Byte(5), secs(1.0)),
            (At::Byte(2), secs(0.5)),
            (At::Byte(5), secs(2.0)),
        ],
        Some((At::Byte(5), EndKind::Close)),
        None,
        None,
    );
    let r = drive(t, b"0123456789", 100);
    assert_eq!(r.writes, [2, 5]);
    assert_eq!((r.sent, r.end), (5, Some(EndKind::Close)));
    assert_eq!(r.secs, 3.5);
}

#[test]
fn a_pause_shifts_the_pace_so_rate_and_pause_add_up() {
    // The issue's example: 4 KiB at 1 KiB/s with a 2 s pause after 1 KiB takes 6 s.
    let body = vec![b'x'; 4096];
    let t = Timeline::new([(At::Byte(1024), secs(2.0))], None, Some(1024), None);
    let r = drive(t, &body, 4096);
    assert_eq!(r.sent, 4096);
    // The last piece may go at 4096 - 20 bytes' time: within one piece (1/50 s) of 6 s.
    assert!((r.secs - 6.0).abs() <= 0.021, "{}", r.secs);
    // Pieces of rate/50 bytes: about 50 writes a second.
    assert!(
        r.writes.windows(2).all(|w| w[1] - w[0] <= 20),
        "{:?}",
        r.writes
    );
}

#[test]
fn the_pace_holds_whatever_the_feeding() {
    let body = vec![b'x'; 10_000];
    for feed in [1, 333, 10_000] {
        let t = Timeline::new([], None, Some(5_000), None);
        let r = drive(t, &body, feed);
        assert!((r.secs - 2.0).abs() <= 0.021, "fed by {feed}: {}", r.secs);
    }
}

const SSE: &[u8] = b"data: 1\n\ndata: 2\n\n: a comment alone is no event\n\nretry: 10\n\nid: 3\ndata: 3\ndata: x\n\ndata: 4\n\n";

/// The offset right after the `n`-th blank line that ends an event in [`SSE`].
fn after_event(n: usize) -> u64 {
    let ends = [9, 18, 83, 92];
    ends[n - 1]
}

#[test]
fn an_event_offset_cuts_right_after_the_events_blank_line() {
    assert_eq!(&SSE[..after_event(3) as usize][74..], b"data: x\n\n");
    for feed in [1, 2, 7, 9, 10, 1000] {
        for n in 1..=4u64 {
            let t = Timeline::new(
                [],
                Some((msg(Unit::Ev, n, 0), EndKind::Reset)),
                None,
                counter(Unit::Ev),
            );
            let r = drive(t, SSE, feed);
            assert_eq!(r.sent, after_event(n as usize), "event {n}, fed by {feed}");
            assert_eq!(r.end, Some(EndKind::Reset));
        }
    }
}

#[test]
fn an_event_offset_plus_bytes_cuts_inside_the_next_event() {
    for feed in [1, 3, 1000] {
        let t = Timeline::new(
            [],
            Some((msg(Unit::Ev, 2, 10), EndKind::Close)),
            None,
            counter(Unit::Ev),
        );
        let r = drive(t, SSE, feed);
        assert_eq!(r.sent, after_event(2) + 10, "fed by {feed}");
    }
}

#[test]
fn events_end_with_crlf_lf_or_cr_lines() {
    let crlf = b"data: a\r\n\r\ndata: b\r\n\r\n";
    let t = Timeline::new(
        [],
        Some((msg(Unit::Ev, 1, 0), EndKind::Reset)),
        None,
        counter(Unit::Ev),
    );
    assert_eq!(drive(t, crlf, 1).sent, 11);
    let cr = b"data: a\r\rdata: b\r\r";
    for feed in [1, 100] {
        let t = Timeline::new(
            [],
            Some((msg(Unit::Ev, 1, 0), EndKind::Reset)),
            None,
            counter(Unit::Ev),
        );
        assert_eq!(drive(t, cr, feed).sent, 9, "fed by {feed}");
    }
    let bare_data = b"data\n\nx";
    let t = Timeline::new(
        [],
        Some((msg(Unit::Ev, 1, 0), EndKind::Reset)),
        None,
        counter(Unit::Ev),
    );
    assert_eq!(drive(t, bare_data, 1).sent, 6);
}

#[test]
fn a_message_offset_never_reached_completes_the_stream() {
    let t = Timeline::new(
        [(msg(Unit::Ev, 9, 0), secs(5.0))],
        Some((msg(Unit::Ev, 5, 0), EndKind::Reset)),
        None,
        counter(Unit::Ev),
    );
    let r = drive(t, SSE, 4);
    assert_eq!((r.sent, r.end, r.secs), (SSE.len() as u64, None, 0.0));
}

fn grpc(messages: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        out.push(0);
        out.extend_from_slice(&(m.len() as u32).to_be_bytes());
        out.extend_from_slice(m);
    }
    out
}

#[test]
fn grpc_messages_are_counted_by_their_length_prefix() {
    let body = grpc(&[b"one", b"", b"three", b"four!"]);
    for feed in [1, 4, 1000] {
        for (n, want) in [(1, 8), (2, 13), (3, 23), (4, 33)] {
            let t = Timeline::new(
                [],
                Some((msg(Unit::Msg, n, 0), EndKind::Reset)),
                None,
                counter(Unit::Msg),
            );
            assert_eq!(
                drive(t, &body, feed).sent,
                want,
                "message {n}, fed by {feed}"
            );
        }
        // Two bytes into the third message's prefix.
        let t = Timeline::new(
            [],
            Some((msg(Unit::Msg, 2, 2), EndKind::Close)),
            None,
            counter(Unit::Msg),
        );
        assert_eq!(drive(t, &body, feed).sent, 15);
    }
}

#[test]
fn messages_are_found_after_a_head_and_through_chunk_framing() {
    let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    // The events split across chunks, with an extension on one size line.
    let mut wire = head.to_vec();
    wire.extend_from_slice(b"5\r\ndata:\r\n6;x=y\r\n 1\n\nda\r\n7\r\nta: 2\n\n\r\n0\r\n\r\n");
    let skip = head.len() as u64;
    let chunked = || Some(Counter::new(Unit::Ev, skip, Framing::Chunked));
    for feed in [1, 2, 1000] {
        let t = Timeline::new(
            [],
            Some((msg(Unit::Ev, 1, 0), EndKind::Reset)),
            None,
            chunked(),
        );
        let r = drive(t, &wire, feed);
        // Right after the first event's blank line: inside the second chunk.
        assert_eq!(
            &wire[..r.sent as usize][r.sent as usize - 4..],
            b" 1\n\n",
            "fed by {feed}"
        );
        let t = Timeline::new(
            [],
            Some((msg(Unit::Ev, 2, 0), EndKind::Reset)),
            None,
            chunked(),
        );
        let r = drive(t, &wire, feed);
        assert_eq!(
            &wire[..r.sent as usize][r.sent as usize - 5..],
            b": 2\n\n",
            "fed by {feed}"
        );
        // `1ev+3`: three payload bytes after the first event (`da`, then `t` after the next
        // chunk's size line).
        let t = Timeline::new(
            [],
            Some((msg(Unit::Ev, 1, 3), EndKind::Reset)),
            None,
            chunked(),
        );
        let r = drive(t, &wire, feed);
        assert_eq!(
            &wire[..r.sent as usize][r.sent as usize - 4..],
            b"7\r\nt",
            "fed by {feed}"
        );
    }
    // A head that looks like events is not counted.
    let mut fake = b"HTTP/1.1 200 OK\r\nX: data: 1\n\n\r\n".to_vec();
    let skip = fake.len() as u64;
    fake.extend_from_slice(b"data: a\n\n");
    let t = Timeline::new(
        [],
        Some((msg(Unit::Ev, 1, 0), EndKind::Reset)),
        None,
        Some(Counter::new(Unit::Ev, skip, Framing::Plain)),
    );
    assert_eq!(drive(t, &fake, 3).sent, fake.len() as u64);
}

#[test]
fn clear_after_says_when_nothing_is_left_to_happen() {
    let t = Timeline::new([(At::Byte(5), secs(1.0))], None, None, None);
    assert!(!t.clear_after(0));
    assert!(t.clear_after(6));
    let t = Timeline::new([], Some((At::End, EndKind::Reset)), None, None);
    assert!(!t.clear_after(100));
    let t = Timeline::new(
        [],
        Some((msg(Unit::Ev, 1, 0), EndKind::Reset)),
        None,
        counter(Unit::Ev),
    );
    assert!(!t.clear_after(100));
}

#[test]
fn no_input_makes_the_counter_panic() {
    let mut r = crate::rng::Rng::new(7);
    for _ in 0..2000 {
        let n = (r.next_u64() % 64) as usize;
        let bytes: Vec<u8> = (0..n)
            .map(|_| b"0123456789abcdef\r\n;: data\x00\xff"[(r.next_u64() % 25) as usize])
            .collect();
        for (unit, framing) in [
            (Unit::Ev, Framing::Chunked),
            (Unit::Msg, Framing::Chunked),
            (Unit::Ev, Framing::Plain),
            (Unit::Msg, Framing::Plain),
            (Unit::Msg, Framing::WebSocket),
        ] {
            let t = Timeline::new(
                [],
                Some((msg(unit, 2, 1), EndKind::Reset)),
                None,
                Some(Counter::new(unit, 3, framing)),
            );
            let run = drive(t, &bytes, 1 + (r.next_u64() % 5) as usize);
            assert!(run.sent <= bytes.len() as u64);
        }
    }
}

/// Five events of an `sse=5,1s` stream, as the HTTP/1.1 layout makes them (no head).
const FIVE: &[u8] =
    b"id: 1\ndata: 1\n\nid: 2\ndata: 2\n\nid: 3\ndata: 3\n\nid: 4\ndata: 4\n\nid: 5\ndata: 5\n\n";
const EV: u64 = 15;

/// A timeline with the interval of `sse=5,1s` (a beat after each of the first four events).
fn beating(pauses: Vec<(At, Duration)>, cut: Option<(At, EndKind)>, rate: Option<u64>) -> Timeline {
    let counter = cut
        .iter()
        .map(|c| c.0)
        .chain(pauses.iter().map(|p| p.0))
        .any(|a| matches!(a, At::Msg { .. }))
        .then(|| Counter::new(Unit::Ev, 0, Framing::Plain));
    let mut t = Timeline::new(pauses, cut, rate, counter);
    t.beat(secs(1.0), 4, Unit::Ev, 0, Framing::Plain);
    t
}

#[test]
fn an_event_generators_interval_is_a_pause_after_each_event_but_the_last() {
    for feed in [1, 7, 1000] {
        let r = drive(beating(vec![], None, None), FIVE, feed);
        assert_eq!(
            (r.sent, r.end, r.secs),
            (5 * EV, None, 4.0),
            "fed by {feed}"
        );
        // Each event goes in one write, never split by a wait.
        if feed == 1000 {
            assert_eq!(r.writes, [EV, 2 * EV, 3 * EV, 4 * EV, 5 * EV]);
        }
    }
}

#[test]
fn a_cut_right_after_an_event_comes_before_its_interval() {
    for (n, kind) in [(1, EndKind::Reset), (3, EndKind::Close), (5, EndKind::Hang)] {
        let r = drive(
            beating(vec![], Some((msg(Unit::Ev, n, 0), kind)), None),
            FIVE,
            1000,
        );
        assert_eq!((r.sent, r.end), (n * EV, Some(kind)), "{n}ev");
        // n events, n - 1 intervals before the cut, none after it.
        assert_eq!(r.secs, (n - 1) as f64, "{n}ev");
    }
    // Inside the 4th event: after 3 intervals.
    let r = drive(
        beating(vec![], Some((msg(Unit::Ev, 3, 10), EndKind::Close)), None),
        FIVE,
        4,
    );
    assert_eq!((r.sent, r.secs), (3 * EV + 10, 3.0));
}

#[test]
fn a_plans_pause_at_an_event_adds_to_its_interval_and_a_slow_pace_overlaps_it() {
    let r = drive(
        beating(vec![(msg(Unit::Ev, 2, 0), secs(2.5))], None, None),
        FIVE,
        1000,
    );
    assert_eq!((r.sent, r.secs), (5 * EV, 6.5));
    // At 15 bytes a second each event takes a second to send: the interval's schedule (an
    // event a second, from the end of the first) runs meanwhile, so they overlap rather than
    // add: about 6 s, not 9.
    let r = drive(beating(vec![], None, Some(EV)), FIVE, 1000);
    assert_eq!(r.sent, 5 * EV);
    assert!((r.secs - 5.93).abs() <= 0.05, "{}", r.secs);
}

#[test]
fn an_interval_keeps_the_stream_from_being_clear_until_its_last_event() {
    let mut t = beating(vec![], None, None);
    assert!(!t.clear_after(0));
    t.feed(FIVE);
    assert!(!t.clear_after(4 * EV));
    assert!(t.clear_after(4 * EV + 1));
}

#[test]
fn a_late_wake_up_keeps_the_events_on_their_schedule_but_a_stall_never_bursts() {
    // Every wait ends 30 ms late: the events still come a second apart from the first, the
    // last one 4 s after it (plus the last lateness), not 4 x 30 ms later.
    let mut t = beating(vec![], None, None);
    let t0 = Instant::now();
    let (mut now, mut sent, mut writes) = (t0, 0u64, Vec::new());
    t.feed(FIVE);
    loop {
        match t.next(sent, now) {
            Next::Write(up_to) => {
                sent = up_to;
                writes.push((up_to, (now - t0).as_secs_f64()));
            }
            Next::Wait(until) => now = until.max(now) + secs(0.03),
            Next::Feed | Next::Cut(_) => break,
        }
    }
    let times: Vec<f64> = writes
        .iter()
        .map(|w| (w.1 * 1000.0).round() / 1000.0)
        .collect();
    assert_eq!(times, [0.0, 1.03, 2.03, 3.03, 4.03]);
    // A stall of 5 s (the client stopped reading) restarts the schedule: one interval after.
    let mut t = beating(vec![], None, None);
    t.feed(FIVE);
    let t0 = Instant::now();
    assert_eq!(t.next(0, t0), Next::Write(EV));
    assert_eq!(t.next(EV, t0), Next::Wait(t0 + secs(1.0)));
    let late = t0 + secs(6.0);
    assert_eq!(t.next(EV, late), Next::Write(2 * EV));
    assert_eq!(t.next(2 * EV, late), Next::Wait(late + secs(1.0)));
    // A plan's pause shifts the schedule by its length.
    let mut t = beating(vec![(msg(Unit::Ev, 2, 0), secs(2.5))], None, None);
    t.feed(FIVE);
    let r = drive(t, FIVE, 1000);
    assert_eq!(r.secs, 6.5);
}

/// Server WebSocket frames: `3msg` is right after the 3rd complete data message, whatever
/// the frames' lengths and the control frames between fragments; `3msg+10` ten frame bytes
/// into the next; the cut is the same fed in any pieces.
#[test]
fn websocket_messages_are_counted_in_frames() {
    use crate::ws::frame::{self, BINARY, CONT, PING, TEXT};
    let mut s = Vec::new();
    frame::frame(&mut s, true, TEXT, b"1");
    frame::frame(&mut s, true, PING, b"p");
    frame::frame(&mut s, false, BINARY, &[0; 200]);
    frame::frame(&mut s, true, PING, b"");
    frame::frame(&mut s, true, CONT, &[0; 70_000]);
    let third_start = s.len();
    frame::frame(&mut s, false, TEXT, b"");
    frame::frame(&mut s, true, CONT, b"abc");
    let third_end = s.len() as u64;
    frame::frame(&mut s, true, TEXT, b"0123456789abcdef");
    assert!(third_start > 0);
    for feed in [1, 3, 1000, s.len()] {
        for (plus, at) in [(0, third_end), (10, third_end + 10)] {
            let t = Timeline::new(
                [],
                Some((msg(Unit::Msg, 3, plus), EndKind::Close)),
                None,
                Some(Counter::new(Unit::Msg, 0, Framing::WebSocket)),
            );
            let run = drive(t, &s, feed);
            assert_eq!((run.sent, run.end), (at, Some(EndKind::Close)), "{feed}");
        }
        // A 5th message never comes: the stream completes.
        let t = Timeline::new(
            [],
            Some((msg(Unit::Msg, 5, 0), EndKind::Reset)),
            None,
            Some(Counter::new(Unit::Msg, 0, Framing::WebSocket)),
        );
        let run = drive(t, &s, feed);
        assert_eq!((run.sent, run.end), (s.len() as u64, None));
    }
}
