//! What a direction of the relay does to its bytes, as data the relay consults per chunk, and
//! the interface through which a running relay learns that it changed (toxiproxy's toxics are
//! added, changed and removed while connections live).
//!
//! A TCP-mode plan fixes a connection's shapes once; toxiproxy's API changes them at run time.
//! Both end up as the same [`DirShape`]s, run by the one executor in `tcp/mod.rs`.

use crate::plan::tcp::{Dir, DirPlan};
use crate::plan::EndKind;
use std::time::{Duration, Instant};

/// One direction's shaping: the plan language's steps, and the few effects toxiproxy has that
/// no plan step names (they have no offset, only time).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DirShape {
    /// The plan's steps (`latency`, `rate`, `pause`, `slice`, the ending). Offsets are
    /// counted from the start of the connection.
    pub plan: DirPlan,
    /// Relay nothing while set: bytes wait in the relay (and then in the peers' buffers),
    /// none is dropped (toxiproxy's `timeout`, and `bandwidth` at rate 0).
    pub hold: bool,
    /// End both connections this way at this time (toxiproxy's `timeout` with a timeout).
    pub cut_at: Option<(EndKind, Instant)>,
    /// Reset both connections this long after the first byte that arrives in this direction
    /// from now on, after what was relayed before it is acknowledged (`reset_peer`).
    pub reset_after_data: Option<Duration>,
    /// Pass the sender's FIN on this long after it came (`slow_close`).
    pub eof_delay: Option<Duration>,
}

impl DirShape {
    /// A plan's direction, with nothing else.
    pub fn of(plan: &DirPlan) -> DirShape {
        DirShape {
            plan: plan.clone(),
            ..DirShape::default()
        }
    }
}

/// A connection's shapes that change while it lives. The relay asks between chunks, so a
/// change applies from the next chunk on, as toxiproxy's do.
pub trait Shaper {
    /// Asked once, before connecting upstream: wait this long first, and end this way
    /// instead of connecting.
    fn start(&mut self, now: Instant) -> (Option<Duration>, Option<EndKind>);

    /// Direction `d`'s shape if it changed since the last call (the first call always gives
    /// it). `sent`: bytes delivered in `d` so far, where offsets of newly applied steps count
    /// from.
    fn shape(&mut self, d: Dir, sent: u64, now: Instant) -> Option<DirShape>;
}
