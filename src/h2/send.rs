//! Sending each stream's answer: HEADERS when its delay is over, then DATA as the plan paces it
//! (`rate`, `pause`) and the client's windows allow, cut where the plan says (`rst=`, `goaway=`,
//! `stall@`, `close=`), then END_STREAM or the trailers. Streams take turns of at most [`TURN`]
//! bytes. The byte timeline of this file is HTTP/2's copy of the one `src/shape.rs` will hold.

use super::conn::{Conn, Stop};
use super::frame::{flag, Data, GoAway, Head, Headers, Kind, Reason, Reset, HEAD_LEN};
use super::hpack;
use super::response::Cut;
use super::stream::{Phase, Stream};
use crate::control::journal::End;
use crate::wire::Wire;
use std::time::{Duration, Instant};

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
        s.body_start = Some(now);
        s.wake = None;
        self.send_body(id, s, now)
    }

    /// Sends what DATA may go now; false when the stream is over.
    fn send_body(&mut self, id: u32, s: &mut Stream, now: Instant) -> Result<bool, Stop> {
        let Some(a) = s.answer.as_ref() else {
            return Ok(false);
        };
        let len = a.body.len();
        let cut_at = a.cut.and_then(|(c, at)| at.map(|at| (c, at)));
        let mut budget = TURN;
        loop {
            // A pause due here comes first.
            if let Some(&(off, d)) = s.pauses.first() {
                if off <= s.sent {
                    s.pauses.remove(0);
                    s.wake = Some(now + d);
                    if d > Duration::ZERO {
                        return Ok(true);
                    }
                    continue;
                }
            }
            if let Some((cut, at)) = cut_at {
                if s.sent >= at {
                    return self.cut(id, s, cut);
                }
            }
            let Some(a) = s.answer.as_ref() else {
                return Ok(false);
            };
            if s.sent >= len {
                return Ok(self.end_body(id, s));
            }
            let mut stop_at = len;
            if let Some((_, at)) = cut_at {
                stop_at = stop_at.min(at);
            }
            if let Some(&(off, _)) = s.pauses.first() {
                stop_at = stop_at.min(off);
            }
            let mut n = (stop_at - s.sent)
                .min(budget as u64)
                .min(self.remote.max_frame as u64);
            if let (Some(rate), Some(start)) = (s.plan.rate, s.body_start) {
                let elapsed = now.saturating_duration_since(start).as_secs_f64();
                let allowed = ((rate as f64) * elapsed) as u64;
                let due = allowed.saturating_sub(s.sent);
                if due == 0 {
                    let next = crate::shape::rate_time(s.sent + 1, rate);
                    s.wake = Some(start + next);
                    return Ok(true);
                }
                n = n.min(due);
            }
            let window = s.send_window.available().min(self.send_window.available());
            if window == 0 {
                // Waiting for the client's WINDOW_UPDATE, for at most --read-timeout.
                s.wake = None;
                s.blocked_since.get_or_insert(now);
                return Ok(true);
            }
            s.blocked_since = None;
            let n = n.min(window) as usize;
            let last = s.sent + n as u64 == len
                && a.trailers.is_empty()
                && cut_at.map_or(true, |(_, at)| at > len);
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
