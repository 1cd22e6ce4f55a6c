//! Sending each stream's answer: HEADERS when its delay is over, then DATA as the plan paces it
//! (`rate`, `pause`) and the client's windows allow, cut where the plan says (`rst=`, `goaway=`,
//! `stall@`, `close=`), then END_STREAM or the trailers. Streams take turns of at most [`TURN`]
//! bytes. Pauses, pace and cuts come from each stream's timeline (`src/shape.rs`), in bytes or
//! messages of the DATA payload, as in every other engine.

use super::conn::{Conn, Stop};
use super::frame::{flag, Data, GoAway, Head, Headers, Kind, Reason, Reset, HEAD_LEN};
use super::hpack;
use super::response::Cut;
use super::stream::{Phase, Stream};
use crate::control::journal::End;
use crate::shape::Next as Step;
use crate::wire::Wire;
use std::time::Instant;

/// Most DATA bytes written for one stream in one turn of the loop, so streams take turns.
pub const TURN: usize = 64 * 1024;

impl<W: Wire + ?Sized> Conn<'_, W> {
    /// Moves every stream whose time has come as far as it can go now.
    pub(super) fn run_streams(&mut self) -> Result<(), Stop> {
        let now = self.wire.now();
        let window = self.send_window.available();
        let ids: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| s.ready(now, window))
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            self.advance(id, now)?;
            if self.out.len() >= TURN && !self.flush() {
                return Err(Stop::PeerGone);
            }
        }
        Ok(())
    }

    fn advance(&mut self, id: u32, now: Instant) -> Result<(), Stop> {
        let Some(mut s) = self.streams.remove(&id) else {
            return Ok(());
        };
        let keep = match s.phase {
            Phase::Head => self.send_head(id, &mut s, now)?,
            Phase::Body => self.send_body(id, &mut s, now)?,
            _ => true,
        };
        if keep {
            self.streams.insert(id, s);
        } else {
            self.states.close(id, s.closed_as());
            // An answer that ended is progress: the client has --read-timeout from here.
            self.progress = now;
        }
        Ok(())
    }

    /// Sends HEADERS (or the cut that comes before them). False when the stream is over.
    fn send_head(&mut self, id: u32, s: &mut Stream, now: Instant) -> Result<bool, Stop> {
        let Some(a) = s.answer.as_ref() else {
            return Ok(false);
        };
        if let Some((cut, None)) = a.cut {
            return self.cut(id, s, cut);
        }
        let mut block = Vec::new();
        hpack::encoder::field(&mut block, b":status", a.status.to_string().as_bytes());
        for (n, v) in &a.fields {
            hpack::encoder::field(&mut block, n.as_bytes(), v);
        }
        if a.trailers_only {
            for (n, v) in &a.trailers {
                hpack::encoder::field(&mut block, n.as_bytes(), v);
            }
        }
        let empty = a.body.len() == 0 && a.trailers.is_empty() && a.cut.is_none();
        let end = (empty || a.trailers_only) && !a.headers_only;
        Headers::encode(id, &block, end, self.remote.max_frame, &mut self.out);
        s.status = Some(a.status);
        if end {
            self.complete(s);
            return Ok(false);
        }
        if a.headers_only {
            self.hold(s);
            return Ok(true);
        }
        s.phase = Phase::Body;
        s.wake = None;
        self.send_body(id, s, now)
    }

    /// Sends what DATA may go now, as the stream's timeline says; false when the stream is
    /// over.
    fn send_body(&mut self, id: u32, s: &mut Stream, now: Instant) -> Result<bool, Stop> {
        let mut budget = TURN;
        loop {
            let (Some(a), Some(t)) = (s.answer.as_ref(), s.timeline.as_mut()) else {
                return Ok(false);
            };
            let len = a.body.len();
            let next = match t.fed() >= len && s.sent >= t.fed() {
                true => t.at_end(s.sent, now),
                false => t.next(s.sent, now),
            };
            let up_to = match next {
                Step::Wait(until) => {
                    s.wake = Some(until);
                    return Ok(true);
                }
                Step::Cut(_) => {
                    let cut = a.cut.map_or(Cut::Stall, |c| c.0);
                    return self.cut(id, s, cut);
                }
                Step::Feed if t.fed() >= len => return Ok(self.end_body(id, s)),
                Step::Feed => {
                    // Message offsets: the timeline reads the payload before it goes.
                    let from = t.fed();
                    let n = (len - from).min(TURN as u64) as usize;
                    let mut piece = Vec::with_capacity(n);
                    a.body.read(from, n, &mut piece);
                    t.feed(&piece);
                    continue;
                }
                Step::Write(up_to) => up_to,
            };
            let n = (up_to - s.sent)
                .min(budget as u64)
                .min(self.remote.max_frame as u64);
            let window = s.send_window.available().min(self.send_window.available());
            if window == 0 {
                // Waiting for the client's WINDOW_UPDATE, for at most --read-timeout.
                s.wake = None;
                s.blocked_since.get_or_insert(now);
                return Ok(true);
            }
            s.blocked_since = None;
            let n = n.min(window) as usize;
            // END_STREAM on the last DATA when nothing follows it (no trailers, no cut, no
            // pause, no message offset still to be found).
            let last = s.sent + n as u64 == len
                && a.trailers.is_empty()
                && !t.has_cut()
                && t.clear_after(len);
            let start = self.out.len();
            Head::encode(
                Kind::Data,
                if last { flag::END_STREAM } else { 0 },
                id,
                n,
                &mut self.out,
            );
            a.body.read(s.sent, n, &mut self.out);
            debug_assert_eq!(self.out.len() - start, HEAD_LEN + n);
            s.sent += n as u64;
            s.send_window.spend(n as u64);
            self.send_window.spend(n as u64);
            budget -= n;
            if last {
                self.complete(s);
                return Ok(false);
            }
            if budget == 0 {
                s.wake = Some(now);
                return Ok(true);
            }
        }
    }

    /// The body is all sent: trailers, or an empty END_STREAM.
    fn end_body(&mut self, id: u32, s: &mut Stream) -> bool {
        let Some(a) = s.answer.as_ref() else {
            return false;
        };
        if a.trailers.is_empty() {
            Data::encode(id, b"", true, &mut self.out);
        } else {
            let mut block = Vec::new();
            for (n, v) in &a.trailers {
                hpack::encoder::field(&mut block, n.as_bytes(), v);
            }
            Headers::encode(id, &block, true, self.remote.max_frame, &mut self.out);
        }
        self.complete(s);
        false
    }

    /// Carries out a cut. False when the stream is over.
    fn cut(&mut self, id: u32, s: &mut Stream, cut: Cut) -> Result<bool, Stop> {
        match cut {
            Cut::Rst(code) => {
                self.report(s, End::Reset);
                Reset::encode(id, Reason(code), &mut self.out);
                s.reset_sent = true;
                Ok(false)
            }
            Cut::EndEarly => {
                self.report(s, End::Close);
                Data::encode(id, b"", true, &mut self.out);
                Ok(false)
            }
            Cut::Stall => {
                self.hold(s);
                Ok(true)
            }
            Cut::GoAway(code) => {
                self.report(s, End::Close);
                GoAway::encode(s.before, Reason(code), b"", &mut self.out);
                self.flush();
                Err(Stop::Close)
            }
        }
    }
}
