//! The client-to-upstream direction of a WebSocket tunnel: its own byte timeline (the plan's
//! `up:` steps: pauses and the cut, at offsets in the client's bytes or messages) and the
//! tally of its messages and close code for the journal. The pump asks it how many of the
//! client's bytes may go up now ([`UpDir::admit`]) and tells it what went ([`UpDir::sent`]).

use crate::plan::units::Unit;
use crate::plan::{EndKind, Plan};
use crate::shape::{self, Counter, Next, Timeline};
use crate::ws::tally::Tally;
use std::time::Instant;

/// What the direction allows now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// This many of the bytes offered may go up (0: none yet, more are needed).
    Bytes(usize),
    /// A pause: nothing goes up until then.
    Hold(Instant),
    /// The plan's cut is here: nothing more goes up, the tunnel ends this way.
    Cut(EndKind),
}

/// A tunnel's client-to-upstream direction.
#[derive(Debug)]
pub struct UpDir {
    /// The `up:` steps' timeline; `None` without any.
    timeline: Option<Timeline>,
    /// Bytes that went up.
    sent: u64,
    /// The messages and close code that went up.
    pub tally: Tally,
    /// A pause in progress, until then.
    pub hold: Option<Instant>,
    /// The cut was reached.
    pub cut: Option<EndKind>,
}

impl UpDir {
    /// The direction of a tunnel shaped by `plan`'s `up:` steps.
    pub fn new(plan: &Plan) -> UpDir {
        let ws = &plan.ws;
        let timeline = (ws.up_ending.is_some() || !ws.up_pauses.is_empty()).then(|| {
            let pauses = ws
                .up_pauses
                .iter()
                .map(|&(off, d)| (shape::place(off, 0, None), d));
            let cut = ws
                .up_ending
                .and_then(|e| e.at.map(|at| (shape::place(at, 0, None), e.kind)));
            let counter = Counter::new(Unit::Msg, 0, shape::Framing::WebSocket);
            Timeline::new(pauses, cut, None, Some(counter))
        });
        UpDir {
            timeline,
            sent: 0,
            tally: Tally::default(),
            hold: None,
            cut: None,
        }
    }

    /// `avail`: the client's bytes not yet sent up, of which the first were offered before
    /// (each byte is fed to the timeline once, in order). How many may go now.
    pub fn admit(&mut self, avail: &[u8], now: Instant) -> Admit {
        if let Some(kind) = self.cut {
            return Admit::Cut(kind);
        }
        let Some(t) = self.timeline.as_mut() else {
            return Admit::Bytes(avail.len());
        };
        let known = usize::try_from(t.fed() - self.sent).unwrap_or(usize::MAX);
        if avail.len() > known {
            t.feed(&avail[known..]);
        }
        self.hold = None;
        match t.next(self.sent, now) {
            Next::Write(up_to) => {
                let n = usize::try_from(up_to - self.sent).unwrap_or(usize::MAX);
                Admit::Bytes(n.min(avail.len()))
            }
            Next::Feed => Admit::Bytes(0),
            Next::Wait(until) => {
                self.hold = Some(until);
                Admit::Hold(until)
            }
            Next::Cut(kind) => {
                self.cut = Some(kind);
                Admit::Cut(kind)
            }
        }
    }

    /// `bytes` went up.
    pub fn sent(&mut self, bytes: &[u8]) {
        self.sent += bytes.len() as u64;
        self.tally.feed(bytes);
    }

    /// Is a pause holding the client's bytes at `now`?
    pub fn holding(&self, now: Instant) -> bool {
        self.hold.is_some_and(|t| now < t)
    }
}

#[cfg(test)]
mod tests {
    use super::{Admit, UpDir};
    use crate::plan::{EndKind, Plan};
    use std::time::{Duration, Instant};

    fn frame(text: &[u8]) -> Vec<u8> {
        let mut f = vec![0x81, 0x80 | text.len() as u8, 1, 2, 3, 4];
        f.extend(
            text.iter()
                .enumerate()
                .map(|(i, b)| b ^ [1, 2, 3, 4][i % 4]),
        );
        f
    }

    /// Drives the direction over `input` as a pump would, in pieces of `piece`: the bytes that
    /// go up before the cut, and the cut.
    fn run(plan: &str, input: &[u8], piece: usize) -> (usize, Option<EndKind>) {
        let plan = Plan::parse(plan).unwrap();
        let mut d = UpDir::new(&plan);
        let (mut arrived, mut went) = (0, 0);
        let mut now = Instant::now();
        loop {
            match d.admit(&input[went..arrived], now) {
                Admit::Bytes(0) if arrived == input.len() => return (went, None),
                Admit::Bytes(0) => arrived = (arrived + piece).min(input.len()),
                Admit::Bytes(n) => {
                    d.sent(&input[went..went + n]);
                    went += n;
                }
                Admit::Hold(t) => now = t,
                Admit::Cut(k) => return (went, Some(k)),
            }
        }
    }

    #[test]
    fn cuts_after_exact_client_messages_and_bytes() {
        let m: Vec<u8> = (0..5).flat_map(|_| frame(b"hello")).collect();
        for piece in [1, 3, 11, 100] {
            assert_eq!(run("up:close=2msg", &m, piece), (22, Some(EndKind::Close)));
            assert_eq!(
                run("up:reset=2msg+3", &m, piece),
                (25, Some(EndKind::Reset))
            );
            assert_eq!(run("up:hang=7", &m, piece), (7, Some(EndKind::Hang)));
            assert_eq!(run("up:close=9msg", &m, piece), (55, None));
            assert_eq!(run("up:pause=1msg,1s", &m, piece), (55, None));
        }
    }

    #[test]
    fn a_pause_holds_then_lets_go() {
        let plan = Plan::parse("up:pause=1msg,1s").unwrap();
        let mut d = UpDir::new(&plan);
        let m = [frame(b"a"), frame(b"b")].concat();
        let now = Instant::now();
        assert_eq!(d.admit(&m, now), Admit::Bytes(7));
        d.sent(&m[..7]);
        let Admit::Hold(until) = d.admit(&m[7..], now) else {
            panic!("no pause")
        };
        assert!(until >= now + Duration::from_secs(1) && d.holding(now));
        assert_eq!(d.admit(&m[7..], until), Admit::Bytes(7));
        d.sent(&m[7..]);
        assert_eq!(d.tally.messages, 2);
    }
}
