//! The one byte timeline: where a stream of bytes pauses, how fast it goes, and where it is
//! cut, in bytes or in messages. Every engine drives it the same way (HTTP/1.1's executor,
//! HTTP/2's streams, proxy mode's relay, TCP mode's pipes), so a plan means the same thing
//! everywhere: `body=4k/rate=1k/pause=1k,2s` takes 6 s over any of them.
//!
//! Pure: no I/O and no clock of its own. An engine [feeds](Timeline::feed) it the bytes it is
//! about to send (so message offsets such as `3ev` can be found in them), then asks
//! [`Timeline::next`] with the count already sent and the time now, and does what it is told:
//!
//! | answer | the engine |
//! |---|---|
//! | [`Next::Write`]`(up_to)` | writes the fed bytes up to that offset (at least one) |
//! | [`Next::Wait`]`(t)` | waits until `t` (a pause, or the pace), then asks again |
//! | [`Next::Cut`]`(kind)` | ends the stream there: RST, FIN or silence |
//! | [`Next::Feed`] | feeds more bytes; when its source has none left, it asks [`Timeline::at_end`] |
//!
//! Rules, one for every engine:
//! - Offsets are positions in the stream the engine counts (HTTP/1.1: the response from its
//!   status line; HTTP/2: the stream's DATA payload; TCP: the bytes of one direction).
//! - At one offset, pauses come first (in the plan's order), then the cut, then an event
//!   generator's interval ([`Timeline::beat`]): a cut right after an event is not delayed.
//! - The pace (`rate`) lets byte `k` go at `start + k / rate`; a pause shifts `start` by its
//!   length, so a pause never counts against the rate. Writes are about 50 a second.
//! - A byte offset past the end of the stream is the end (`reset=1m` on a 13-byte body resets
//!   after the body); a message offset the stream never reaches is never reached: the stream
//!   completes (the journal says `complete`, not the fault).

mod count;
#[cfg(test)]
mod tests;

pub use count::{Counter, Framing};

use crate::plan::units::Unit;
use crate::plan::{EndKind, Offset, Plan};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Largest single write.
pub const WRITE_PIECE: usize = 64 * 1024;

/// Where a mark is, as an engine places it in its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// At this offset (clamped to the end by the engine when it knows the end).
    Byte(u64),
    /// At the end of the stream, wherever that is.
    End,
    /// After the `n`-th complete message, then `plus` bytes of payload.
    Msg {
        /// What a message is.
        unit: Unit,
        /// After this many messages.
        n: u64,
        /// Then this many payload bytes.
        plus: u64,
    },
}

/// What an engine does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Write the fed bytes up to this offset.
    Write(u64),
    /// Wait until then, and ask again.
    Wait(Instant),
    /// End the stream here.
    Cut(EndKind),
    /// Every fed byte is out: feed more (or, at the end of the source, ask
    /// [`Timeline::at_end`]).
    Feed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum What {
    Pause(Duration),
    Cut(EndKind),
}

#[derive(Clone, Copy, Debug)]
struct Mark {
    /// Where it is, once known.
    at: Option<u64>,
    /// A message offset: `(n, plus)`.
    msg: Option<(u64, u64)>,
    /// At the end of the stream.
    end: bool,
    what: What,
    done: bool,
}

/// The timeline of one stream.
#[derive(Debug)]
pub struct Timeline {
    /// Pauses in the plan's order, then the cut.
    marks: Vec<Mark>,
    rate: Option<u64>,
    /// The pace's start, shifted by every pause.
    clock: Option<Instant>,
    /// A pause in progress.
    pause_until: Option<Instant>,
    /// Largest write.
    piece: u64,
    /// Bytes fed so far.
    fed: u64,
    /// The offset the pace counts from (a timeline that took over a stream already under
    /// way: [`Timeline::resume`]).
    origin: u64,
    /// Finds messages in fed bytes; `None` when no mark counts them, or the engine reports
    /// them itself.
    counter: Option<Counter>,
    /// An event generator's interval: a pause after each of its first messages.
    beat: Option<Beat>,
}

/// See [`Timeline::beat`].
#[derive(Debug)]
struct Beat {
    every: Duration,
    /// Offsets of message ends found and not yet passed, in order.
    due: VecDeque<u64>,
    /// When the last interval was due to end: the next ends `every` later, so a late wake-up
    /// does not delay the events after it (the plan's pauses shift it, as they shift the
    /// pace).
    last: Option<Instant>,
}

impl Timeline {
    /// A timeline of `pauses` (in the plan's order), an optional `cut`, and a pace of `rate`
    /// bytes a second. `counter` finds the messages of message offsets in the fed bytes.
    pub fn new(
        pauses: impl IntoIterator<Item = (At, Duration)>,
        cut: Option<(At, EndKind)>,
        rate: Option<u64>,
        counter: Option<Counter>,
    ) -> Timeline {
        let mark = |at: At, what: What| Mark {
            at: match at {
                At::Byte(n) => Some(n),
                _ => None,
            },
            msg: match at {
                At::Msg { n, plus, .. } => Some((n, plus)),
                _ => None,
            },
            end: at == At::End,
            what,
            done: false,
        };
        let mut marks: Vec<Mark> = pauses
            .into_iter()
            .map(|(at, d)| mark(at, What::Pause(d)))
            .collect();
        if let Some((at, kind)) = cut {
            marks.push(mark(at, What::Cut(kind)));
        }
        let mut counter = counter;
        if let Some(c) = counter.as_mut() {
            for (i, m) in marks.iter().enumerate() {
                if let Some((n, plus)) = m.msg {
                    c.watch(i, n, plus);
                }
            }
        }
        let piece = match rate {
            // About 50 writes a second, so the pace is smooth and the syscalls few.
            Some(r) => (r / 50).clamp(1, WRITE_PIECE as u64),
            None => WRITE_PIECE as u64,
        };
        Timeline {
            marks,
            rate: rate.filter(|&r| r > 0),
            clock: None,
            pause_until: None,
            piece,
            fed: 0,
            origin: 0,
            counter,
            beat: None,
        }
    }

    /// An event generator's interval (`sse=N,INTERVAL`): a pause of `every` after each of the
    /// first `count` messages of `unit` in the payload (framed as `framing`, after a head of
    /// `skip` bytes). The pauses are found in the bytes as they are fed, so they follow the
    /// same rules as the plan's: the pace shifts by them, the plan's pauses at the same offset
    /// come first, and a cut there comes before the interval. Called before any byte is fed.
    pub fn beat(&mut self, every: Duration, count: u64, unit: Unit, skip: u64, framing: Framing) {
        if every.is_zero() || count == 0 {
            return;
        }
        let counter = self
            .counter
            .get_or_insert_with(|| Counter::new(unit, skip, framing));
        counter.report_ends(count);
        self.beat = Some(Beat {
            every,
            due: VecDeque::new(),
            last: None,
        });
    }

    /// Does it find messages in the fed bytes (then they must be fed, not only counted)?
    pub fn counts_messages(&self) -> bool {
        self.counter.is_some()
    }

    /// Bytes fed so far.
    pub fn fed(&self) -> u64 {
        self.fed
    }

    /// The next bytes of the stream, before they are written: message offsets are found in
    /// them. Every byte is fed once, in order.
    pub fn feed(&mut self, bytes: &[u8]) {
        let start = self.fed;
        self.fed += bytes.len() as u64;
        if let Some(c) = self.counter.as_mut() {
            if c.watching() {
                c.scan(start, bytes);
                for (i, at) in c.take_found() {
                    if let Some(m) = self.marks.get_mut(i) {
                        m.at.get_or_insert(at);
                    }
                }
                if let Some(b) = self.beat.as_mut() {
                    c.move_ends(&mut b.due);
                }
            }
        }
    }

    /// `n` more bytes whose content does not matter to the marks (no message offset).
    pub fn advance(&mut self, n: u64) {
        self.fed += n;
    }

    /// Takes over a stream of which `sent` bytes are out (a shape changed while the stream
    /// lives, as toxiproxy's toxics do): marks before `sent` are past, the pace counts from
    /// there, and the bytes fed start there.
    pub fn resume(mut self, sent: u64) -> Timeline {
        for m in &mut self.marks {
            if m.at.is_some_and(|at| at < sent) {
                m.done = true;
            }
        }
        self.origin = sent;
        self.fed = self.fed.max(sent);
        self
    }

    /// The next step, with `sent` bytes of the stream written and the time `now`.
    pub fn next(&mut self, sent: u64, now: Instant) -> Next {
        if let Some(until) = self.pause_until {
            if now < until {
                return Next::Wait(until);
            }
            self.pause_until = None;
        }
        // Pauses due here, in the plan's order; then the cut.
        let due = |m: &Mark| !m.done && m.at.is_some_and(|at| at <= sent);
        if let Some(m) = self.marks.iter_mut().find(|m| due(m) && m.is_pause()) {
            m.done = true;
            let d = match m.what {
                What::Pause(d) => d,
                What::Cut(_) => Duration::ZERO,
            };
            return self.pause(now, d);
        }
        if let Some(m) = self.marks.iter_mut().find(|m| due(m)) {
            m.done = true;
            if let What::Cut(kind) = m.what {
                return Next::Cut(kind);
            }
        }
        if let Some(b) = self.beat.as_mut() {
            if b.due.front().is_some_and(|&at| at <= sent) {
                b.due.pop_front();
                // On the schedule; from now when more than an interval late (a client that
                // stopped reading), so a stalled stream never bursts to catch up.
                let until = match b.last.map(|t| t + b.every) {
                    Some(due) if now <= due + b.every => due,
                    _ => now + b.every,
                };
                b.last = Some(until);
                self.pause_until = Some(until);
                if let Some(c) = self.clock.as_mut() {
                    *c += until.saturating_duration_since(now);
                }
                return Next::Wait(until);
            }
        }
        if sent >= self.fed {
            return Next::Feed;
        }
        if let Some(rate) = self.rate {
            let start = *self.clock.get_or_insert(now);
            let due = start + rate_time(sent.saturating_sub(self.origin), rate);
            if now < due {
                return Next::Wait(due);
            }
        }
        let beat = self.beat.as_ref().and_then(|b| b.due.front().copied());
        let stop = self
            .marks
            .iter()
            .filter(|m| !m.done)
            .filter_map(|m| m.at)
            .chain(beat)
            .filter(|&at| at > sent)
            .min()
            .unwrap_or(u64::MAX);
        Next::Write(stop.min(self.fed).min(sent + self.piece))
    }

    /// A pause of `d` from `now`, which shifts the pace's clock and the interval's schedule
    /// by as much.
    fn pause(&mut self, now: Instant, d: Duration) -> Next {
        let until = now + d;
        self.pause_until = Some(until);
        if let Some(c) = self.clock.as_mut() {
            *c += d;
        }
        if let Some(t) = self.beat.as_mut().and_then(|b| b.last.as_mut()) {
            *t += d;
        }
        Next::Wait(until)
    }

    /// The source has no more bytes and the `sent` fed ones are out: a pause or the cut due
    /// at the end (byte offsets at or past it, and `end`), else [`Next::Feed`]: the stream
    /// is complete.
    pub fn at_end(&mut self, sent: u64, now: Instant) -> Next {
        for m in self.marks.iter_mut().filter(|m| !m.done) {
            // Byte offsets past the end are the end; message offsets never reached stay
            // unreached.
            if m.end || m.at.is_some_and(|at| at > sent) {
                m.at = Some(sent);
            }
        }
        self.next(sent, now)
    }

    /// Is anything still to happen at or after `sent` (a pause, the cut, a message offset not
    /// found yet)? When nothing is, an engine may report a complete stream before its last
    /// byte goes out.
    pub fn clear_after(&self, sent: u64) -> bool {
        let beat = self.beat.as_ref().is_some_and(|b| {
            b.due.iter().any(|&at| at >= sent)
                || self.counter.as_ref().is_some_and(|c| c.ends_left())
        });
        !beat
            && !self
                .marks
                .iter()
                .any(|m| !m.done && (m.end || m.at.map_or(m.msg.is_some(), |at| at >= sent)))
    }

    /// Is a cut planned (found or not)?
    pub fn has_cut(&self) -> bool {
        self.marks
            .iter()
            .any(|m| !m.done && matches!(m.what, What::Cut(_)))
    }
}

impl Mark {
    fn is_pause(&self) -> bool {
        matches!(self.what, What::Pause(_))
    }
}

/// Where a plan's offset is in a stream whose head is `head` bytes long (0 for a bare
/// payload) and whose length is `total`, when known.
pub fn place(offset: Offset, head: u64, total: Option<u64>) -> At {
    let clamp = |n: u64| At::Byte(total.map_or(n, |t| n.min(t)));
    match offset {
        Offset::Body(n) => clamp(head.saturating_add(n)),
        Offset::Head(n) => clamp(n),
        Offset::End => total.map_or(At::End, At::Byte),
        // A request offset ends the exchange before any response (see the engines).
        Offset::Req(_) => At::Byte(0),
        Offset::Msg { unit, n, plus } => At::Msg { unit, n, plus },
    }
}

/// The timeline of a plan's pauses, ending and rate over a stream placed as in [`place`];
/// `framing` says how the payload is framed, for message offsets.
pub fn of_plan(plan: &Plan, head: u64, total: Option<u64>, framing: Framing) -> Timeline {
    let pauses = plan
        .pauses
        .iter()
        .map(|&(off, d)| (place(off, head, total), d));
    let cut = plan.ending.map(|e| {
        (
            e.at.map_or(At::Byte(0), |at| place(at, head, total)),
            e.kind,
        )
    });
    let counter = plan.message_unit().map(|u| Counter::new(u, head, framing));
    Timeline::new(pauses, cut, plan.rate, counter)
}

/// When byte `k` may go out at `rate` bytes per second, from the pace's start.
pub fn rate_time(k: u64, rate: u64) -> Duration {
    let nanos = u128::from(k) * 1_000_000_000 / u128::from(rate.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}
