//! What happened, as typed values: the request journal (the library's and the control API's
//! view), and the events the stderr log prints. Bounded: the journal keeps the last N entries
//! and counts the ones it dropped; an entry keeps at most [`MAX_ENTRY_HEADERS`] of headers.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Most bytes of request header fields (names and values) kept in one journal entry.
pub const MAX_ENTRY_HEADERS: usize = 8 * 1024;
/// How often a waiter looks at its stop flag (see [`Journal::wait_unless`]).
pub const STOP_CHECK: Duration = Duration::from_millis(50);
/// Default number of entries the journal keeps.
pub const DEFAULT_JOURNAL: usize = 10_000;

/// How a response or connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum End {
    /// The whole response was sent.
    Complete,
    /// The connection was reset (RST) by the plan.
    Reset,
    /// The connection was closed cleanly (FIN) by the plan.
    Close,
    /// The connection was left open and silent by the plan.
    Hang,
    /// The client left first.
    PeerGone,
    /// The client was too slow (`--read-timeout`).
    Timeout,
    /// Something failed on the server's side (or upstream's, in proxy mode).
    Error,
}

impl End {
    /// Every value, in the order metrics print them.
    pub const ALL: [End; 7] = [
        End::Complete,
        End::Reset,
        End::Close,
        End::Hang,
        End::PeerGone,
        End::Timeout,
        End::Error,
    ];

    /// The name in logs, the journal and metrics: `complete`, `reset`, `peer-gone`, ...
    pub fn name(self) -> &'static str {
        match self {
            End::Complete => "complete",
            End::Reset => "reset",
            End::Close => "close",
            End::Hang => "hang",
            End::PeerGone => "peer-gone",
            End::Timeout => "timeout",
            End::Error => "error",
        }
    }

    pub(crate) fn index(self) -> usize {
        End::ALL.iter().position(|e| *e == self).unwrap_or(0)
    }
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One request as the server saw it: an entry of the journal.
///
/// It is added the moment the request head is complete (so a request that is still hanging
/// is there) and completed when its response ends (`end` and `duration` are `None` until then).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// Counts from 1 for the life of the server.
    pub seq: u64,
    /// When the head was complete, since the server started (one clock for every entry).
    pub t: Duration,
    /// The connection's number (counts from 1).
    pub conn: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// The request method, as received.
    pub method: String,
    /// The request target, as received.
    pub target: String,
    /// The request's header fields as received, up to 8 KiB.
    pub headers: Vec<(String, String)>,
    /// The SPEC of the route that matched, if one did.
    pub route: Option<String>,
    /// Which plan of the route's sequence was used, counted from 1.
    pub step: Option<usize>,
    /// The plan used, in plan syntax (empty for a plain `200 OK`).
    pub plan: String,
    /// The status code sent, `0` when no status line was sent (`reset`, `close`, `hang`
    /// before any byte, `raw`, `garbage`).
    pub status: u16,
    /// Response bytes written.
    pub bytes: u64,
    /// How the response ended; `None` while it goes on.
    pub end: Option<End>,
    /// How long the response took; `None` while it goes on.
    pub duration: Option<Duration>,
}

impl Request {
    /// The status sent, or `None` when no status line went out.
    pub fn status_sent(&self) -> Option<u16> {
        (self.status != 0).then_some(self.status)
    }

    /// The first header field of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    entries: VecDeque<Request>,
    next_seq: u64,
    dropped: u64,
    cap: usize,
}

/// The bounded journal, shared by every connection and the control API.
pub struct Journal {
    state: Mutex<State>,
    changed: Condvar,
    start: Instant,
}

impl Journal {
    /// A journal keeping the last `cap` entries, with `start` as time zero.
    pub fn new(cap: usize, start: Instant) -> Journal {
        Journal {
            state: Mutex::new(State {
                entries: VecDeque::new(),
                next_seq: 1,
                dropped: 0,
                cap,
            }),
            changed: Condvar::new(),
            start,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Time since the server started.
    pub fn since_start(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.start)
    }

    /// Adds an entry; its `seq` is set here and returned.
    pub fn begin(&self, mut entry: Request) -> u64 {
        let mut st = self.lock();
        let seq = st.next_seq;
        st.next_seq += 1;
        entry.seq = seq;
        if st.cap == 0 {
            st.dropped += 1;
        } else {
            if st.entries.len() >= st.cap {
                st.entries.pop_front();
                st.dropped += 1;
            }
            st.entries.push_back(entry);
        }
        drop(st);
        self.changed.notify_all();
        seq
    }

    /// Records how the request `seq` ended (again, if called again: the last call wins).
    pub fn complete(&self, seq: u64, status: Option<u16>, bytes: u64, end: End, took: Duration) {
        let mut st = self.lock();
        let first = st.entries.front().map_or(0, |e| e.seq);
        if let Some(i) = seq.checked_sub(first).and_then(|i| usize::try_from(i).ok()) {
            if let Some(e) = st.entries.get_mut(i).filter(|e| e.seq == seq) {
                e.status = status.unwrap_or(0);
                e.bytes = bytes;
                e.end = Some(end);
                e.duration = Some(took);
            }
        }
        drop(st);
        self.changed.notify_all();
    }

    /// The entries after `since` (all with 0), oldest first, and the count of dropped ones.
    pub fn snapshot(&self, since: u64) -> (Vec<Request>, u64) {
        let st = self.lock();
        let list = st
            .entries
            .iter()
            .filter(|e| e.seq > since)
            .cloned()
            .collect();
        (list, st.dropped)
    }

    /// Waits up to `timeout` until at least `min` entries after `since` are there (or, with
    /// `complete`, are there and have ended); returns what there is then.
    pub fn wait_for(
        &self,
        since: u64,
        min: usize,
        complete: bool,
        timeout: Duration,
    ) -> (Vec<Request>, u64) {
        self.wait_unless(since, min, complete, timeout, &AtomicBool::new(false))
    }

    /// [`Journal::wait_for`] that also gives up once `stop` is set (looked at every
    /// [`STOP_CHECK`]): a control request's pending `?wait=` must not hold up a stopping
    /// server, which gives each connection thread only a little time to end.
    pub fn wait_unless(
        &self,
        since: u64,
        min: usize,
        complete: bool,
        timeout: Duration,
        stop: &AtomicBool,
    ) -> (Vec<Request>, u64) {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            let ready = st
                .entries
                .iter()
                .filter(|e| e.seq > since && (!complete || e.end.is_some()))
                .count();
            let now = Instant::now();
            if ready >= min || now >= deadline || stop.load(Ordering::Relaxed) {
                break;
            }
            st = self
                .changed
                .wait_timeout(st, (deadline - now).min(STOP_CHECK))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let list = st
            .entries
            .iter()
            .filter(|e| e.seq > since)
            .cloned()
            .collect();
        (list, st.dropped)
    }

    /// Empties the journal (`seq` goes on counting).
    pub fn clear(&self) {
        self.lock().entries.clear();
        self.changed.notify_all();
    }

    /// Entries dropped so far.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }
}

/// The request's header fields for a journal entry, as received, up to
/// [`MAX_ENTRY_HEADERS`] bytes (names and values).
pub fn entry_headers(head: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut budget = MAX_ENTRY_HEADERS;
    for (name, value) in crate::request::fields(head) {
        let cost = name.len() + value.len();
        if cost > budget {
            break;
        }
        budget -= cost;
        out.push((
            String::from_utf8_lossy(name).into_owned(),
            String::from_utf8_lossy(value).into_owned(),
        ));
    }
    out
}

/// Writes `s` as a JSON string (RFC 8259 escapes).
pub fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Seconds with microsecond precision: `0.012345`.
pub fn seconds(d: Duration) -> String {
    format!("{}.{:06}", d.as_secs(), d.subsec_micros())
}

impl Request {
    /// The entry as one JSON object, as `GET /__httpfault/requests` shows it.
    pub fn to_json(&self) -> String {
        use std::fmt::Write as _;
        let mut o = String::with_capacity(256);
        let _ = write!(
            o,
            "{{\"seq\": {}, \"t\": {}, \"conn\": {}, \"peer\": ",
            self.seq,
            seconds(self.t),
            self.conn
        );
        json_str(&mut o, &self.peer.to_string());
        o.push_str(", \"method\": ");
        json_str(&mut o, &self.method);
        o.push_str(", \"target\": ");
        json_str(&mut o, &self.target);
        o.push_str(", \"headers\": [");
        for (i, (n, v)) in self.headers.iter().enumerate() {
            o.push_str(if i == 0 { "[" } else { ", [" });
            json_str(&mut o, n);
            o.push_str(", ");
            json_str(&mut o, v);
            o.push(']');
        }
        o.push_str("], \"route\": ");
        match &self.route {
            Some(r) => json_str(&mut o, r),
            None => o.push_str("null"),
        }
        match self.step {
            Some(s) => {
                let _ = write!(o, ", \"step\": {s}");
            }
            None => o.push_str(", \"step\": null"),
        }
        o.push_str(", \"plan\": ");
        json_str(&mut o, &self.plan);
        match self.status_sent() {
            Some(s) => {
                let _ = write!(o, ", \"status\": {s}");
            }
            None => o.push_str(", \"status\": null"),
        }
        let _ = write!(o, ", \"bytes\": {}, \"end\": ", self.bytes);
        match self.end {
            Some(e) => json_str(&mut o, e.name()),
            None => o.push_str("null"),
        }
        match self.duration {
            Some(d) => {
                let _ = write!(o, ", \"ms\": {}}}", d.as_millis());
            }
            None => o.push_str(", \"ms\": null}"),
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Request {
        Request {
            seq: 0,
            t: Duration::from_micros(12_345),
            conn: 1,
            peer: "127.0.0.1:50000".parse().unwrap(),
            method: "POST".into(),
            target: "/v1/upload".into(),
            headers: vec![
                ("Host".into(), "x".into()),
                ("Idempotency-Key".into(), "k1".into()),
            ],
            route: Some("POST /v1/upload reset=1m*2 status=201".into()),
            step: Some(1),
            plan: "reset=1m".into(),
            status: 0,
            bytes: 0,
            end: None,
            duration: None,
        }
    }

    #[test]
    fn entries_are_numbered_completed_and_bounded() {
        let j = Journal::new(2, Instant::now());
        assert_eq!(j.begin(entry()), 1);
        assert_eq!(j.begin(entry()), 2);
        j.complete(2, Some(200), 1048640, End::Reset, Duration::from_millis(3));
        assert_eq!(j.begin(entry()), 3);
        let (list, dropped) = j.snapshot(0);
        assert_eq!(dropped, 1);
        assert_eq!(list.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(list[0].end, Some(End::Reset));
        assert_eq!(list[0].status_sent(), Some(200));
        assert_eq!(list[1].end, None);
        assert_eq!(j.snapshot(2).0.len(), 1);
        // Completing an entry already dropped is a no-op.
        j.complete(1, None, 0, End::Close, Duration::ZERO);
        j.clear();
        assert!(j.snapshot(0).0.is_empty());
        assert_eq!(j.begin(entry()), 4, "seq goes on after a clear");
        let none = Journal::new(0, Instant::now());
        none.begin(entry());
        assert_eq!(none.snapshot(0), (Vec::new(), 1));
    }

    #[test]
    fn json_entry_has_the_contract_fields() {
        let mut e = entry();
        e.seq = 1;
        let json = e.to_json();
        assert_eq!(
            json,
            "{\"seq\": 1, \"t\": 0.012345, \"conn\": 1, \"peer\": \"127.0.0.1:50000\", \
             \"method\": \"POST\", \"target\": \"/v1/upload\", \"headers\": [[\"Host\", \"x\"], \
             [\"Idempotency-Key\", \"k1\"]], \"route\": \"POST /v1/upload reset=1m*2 status=201\", \
             \"step\": 1, \"plan\": \"reset=1m\", \"status\": null, \"bytes\": 0, \"end\": null, \
             \"ms\": null}"
        );
        let mut s = String::new();
        json_str(&mut s, "a\"\\\n\u{1}");
        assert_eq!(s, "\"a\\\"\\\\\\n\\u0001\"");
    }

    #[test]
    fn wait_returns_as_soon_as_entries_arrive() {
        let j = std::sync::Arc::new(Journal::new(10, Instant::now()));
        let j2 = j.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            j2.begin(entry());
        });
        let started = Instant::now();
        let (list, _) = j.wait_for(0, 1, false, Duration::from_secs(10));
        assert_eq!(list.len(), 1);
        assert!(started.elapsed() < Duration::from_secs(5));
        t.join().unwrap();
        let (list, _) = j.wait_for(0, 5, false, Duration::from_millis(10));
        assert_eq!(list.len(), 1, "times out with what there is");
    }

    #[test]
    fn a_wait_gives_up_when_told_to_stop() {
        let j = std::sync::Arc::new(Journal::new(10, Instant::now()));
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (j2, stop2) = (j.clone(), stop.clone());
        let started = Instant::now();
        let t = std::thread::spawn(move || {
            j2.wait_unless(0, 1, false, Duration::from_secs(60), &stop2)
                .0
                .len()
        });
        std::thread::sleep(Duration::from_millis(50));
        stop.store(true, Ordering::Relaxed);
        assert_eq!(t.join().unwrap(), 0);
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn headers_are_kept_up_to_the_bound() {
        let head = b"GET / HTTP/1.1\r\nHost:  x \r\nX-A:1\r\n\r\n";
        assert_eq!(
            entry_headers(head),
            vec![("Host".into(), "x".into()), ("X-A".into(), "1".into())]
        );
        let mut big = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..100 {
            big.extend_from_slice(format!("X-{i}: {}\r\n", "v".repeat(200)).as_bytes());
        }
        let kept = entry_headers(&big);
        let total: usize = kept.iter().map(|(n, v)| n.len() + v.len()).sum();
        assert!(
            total <= MAX_ENTRY_HEADERS && kept.len() > 30,
            "{}",
            kept.len()
        );
    }
}
