//! One open stream as the connection holds it: the exchange it is (plan, journal entry), the
//! request as it arrives, the answer as it goes out, its windows, and the waits it is in.

use super::flow_control::{RecvWindow, SendWindow};
use super::response::Answer;
use super::settings::RECV_WINDOW;
use super::state::Closed;
use crate::control::journal::Entry;
use crate::plan::Plan;
use crate::sha256::Sha256;
use crate::shape::{Counter, Timeline};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where a stream is.
#[derive(Debug, PartialEq, Eq)]
pub enum Phase {
    /// The request body is still arriving.
    Request,
    /// The answer is ready; HEADERS at `wake`.
    Head,
    /// DATA at `wake` (or when window opens).
    Body,
    /// Sent all it will send; kept until the client resets it or leaves (stall, hang).
    Held,
}

/// An open stream (open, or half-closed (remote) once `req_done`).
pub struct Stream {
    pub plan: Arc<Plan>,
    pub entry: Option<Arc<Entry>>,
    pub arrived: Instant,
    /// The highest stream id opened before this one (GOAWAY's last-stream-id for `goaway=`).
    pub before: u32,
    /// The request as HTTP/1-style text, for `echo`.
    pub text_head: Vec<u8>,
    pub grpc_req: bool,
    pub head_only: bool,
    pub body: Vec<u8>,
    pub body_len: u64,
    /// The request's `content-length`: its DATA must add up to it (RFC 9113 section 8.1.1).
    pub content_length: Option<u64>,
    /// The journal's `body_sha256`, hashed as DATA arrives (`None`: no body, or past
    /// [`MAX_HASHED_BODY`](crate::http1::exchange::MAX_HASHED_BODY)).
    pub sha: Option<Sha256>,
    /// The request body passed [`MAX_KEPT_BODY`](super::response::MAX_KEPT_BODY) while the
    /// plan needs it kept.
    pub too_large: bool,
    /// The client's END_STREAM came: half-closed (remote).
    pub req_done: bool,
    /// The window the server grants this stream's request body.
    pub recv: RecvWindow,
    /// The window the client grants this stream's answer.
    pub send_window: SendWindow,
    pub phase: Phase,
    pub wake: Option<Instant>,
    pub answer: Option<Answer>,
    pub sent: u64,
    pub status: Option<u16>,
    /// The DATA payload's timeline (src/shape.rs): pauses, pace and the cut, in bytes or
    /// messages of the payload.
    pub timeline: Option<Timeline>,
    /// The outcome went to the journal already (hang, stall: reported when they begin).
    pub reported: bool,
    /// An answer the server makes itself (bad plan, too large): not a plan's.
    pub own: bool,
    /// A control API request (method, target): answered by `control::handle` once its body
    /// is in, and not journaled, as over HTTP/1.1.
    pub control: Option<(String, String)>,
    /// The server sent RST_STREAM for it (a plan's `rst=`).
    pub reset_sent: bool,
    /// The HEADERS, or the last DATA of the request: a wait for more of the body counts from
    /// here.
    pub last_recv: Instant,
    /// Since when the answer has waited for the client to open its window.
    pub blocked_since: Option<Instant>,
    /// `grpc-read=N`: counts the request's messages as they arrive, until the answer starts.
    pub req_messages: Option<Counter>,
}

impl Stream {
    /// A stream that arrived at `arrived` under `plan`, waiting for its request, its answer's
    /// window `send_window` (the client's SETTINGS_INITIAL_WINDOW_SIZE).
    pub fn new(plan: Arc<Plan>, arrived: Instant, send_window: u32) -> Stream {
        Stream {
            plan,
            entry: None,
            arrived,
            before: 0,
            text_head: Vec::new(),
            grpc_req: false,
            head_only: false,
            body: Vec::new(),
            body_len: 0,
            content_length: None,
            sha: None,
            too_large: false,
            req_done: false,
            recv: RecvWindow::new(RECV_WINDOW),
            send_window: SendWindow::new(send_window),
            phase: Phase::Request,
            wake: None,
            answer: None,
            sent: 0,
            status: None,
            timeline: None,
            reported: false,
            own: false,
            control: None,
            reset_sent: false,
            last_recv: arrived,
            blocked_since: None,
            req_messages: None,
        }
    }

    /// DATA bytes of the answer not sent yet.
    pub fn body_left(&self) -> u64 {
        self.answer
            .as_ref()
            .map_or(0, |a| a.body.len().saturating_sub(self.sent))
    }

    /// Whether the stream could send now, without waiting, the connection's window being
    /// `conn_window` bytes.
    pub fn ready(&self, now: Instant, conn_window: u64) -> bool {
        let due = self.wake.map_or(true, |w| w <= now);
        match self.phase {
            Phase::Head => due,
            Phase::Body => {
                due && (self.body_left() == 0
                    || (self.send_window.available() > 0 && conn_window > 0))
            }
            _ => false,
        }
    }

    /// When the wait for the client this stream is in ends (`--read-timeout` after the wait
    /// began): for more of the request body, or for window to send its answer. `None` while
    /// the stream waits on the server's own timers or is held on purpose (`stall`, `hang`,
    /// and `window=0`, whose upload stalls because the server never opens its window).
    pub fn client_deadline(&self, read_timeout: Duration) -> Option<Instant> {
        let since = match self.phase {
            Phase::Request if !self.req_done && !self.plan.h2.window0 => Some(self.last_recv),
            Phase::Body => self.blocked_since,
            _ => None,
        };
        since.map(|s| s + read_timeout)
    }

    /// How the stream closes when the server is done with it (its answer ended or was cut).
    pub fn closed_as(&self) -> Closed {
        if self.req_done && !self.reset_sent {
            Closed::Ended
        } else {
            Closed::ByServer
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_waits_for_the_client_only_for_its_body_or_for_window() {
        let t0 = Instant::now();
        let t = Duration::from_secs(2);
        let mut s = Stream::new(Arc::new(Plan::default()), t0, 100);
        // Waiting for the request body: from the last DATA.
        assert_eq!(s.client_deadline(t), Some(t0 + t));
        s.last_recv = t0 + Duration::from_secs(1);
        assert_eq!(s.client_deadline(t), Some(t0 + Duration::from_secs(3)));
        // Unless the server stalls the upload on purpose (`window=0`).
        let mut w = Stream::new(Arc::new(Plan::parse("window=0").unwrap()), t0, 100);
        assert_eq!(w.client_deadline(t), None);
        w.req_done = true;
        assert_eq!(w.client_deadline(t), None);
        // The server's own timers and held streams are no wait for the client.
        s.req_done = true;
        s.phase = Phase::Head;
        s.wake = Some(t0 + Duration::from_secs(60));
        assert_eq!(s.client_deadline(t), None);
        assert!(!s.ready(t0, 1000) && s.ready(t0 + Duration::from_secs(60), 1000));
        s.phase = Phase::Held;
        assert_eq!(s.client_deadline(t), None);
        // Blocked on window: from when it began.
        s.phase = Phase::Body;
        s.blocked_since = Some(t0);
        assert_eq!(s.client_deadline(t), Some(t0 + t));
    }

    #[test]
    fn how_a_stream_closes_decides_what_late_frames_mean() {
        let mut s = Stream::new(Arc::new(Plan::default()), Instant::now(), 0);
        assert_eq!(
            s.closed_as(),
            Closed::ByServer,
            "answered before the request ended"
        );
        s.req_done = true;
        assert_eq!(s.closed_as(), Closed::Ended);
        s.reset_sent = true;
        assert_eq!(s.closed_as(), Closed::ByServer);
    }
}
