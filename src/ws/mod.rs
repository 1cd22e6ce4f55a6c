//! WebSocket (RFC 6455): an HTTP/1.1 request with `Upgrade: websocket` whose plan has no
//! HTTP-level answer of its own (no `status`, `raw`, `garbage`, bare ending) is handed here
//! (`http1::conn`'s `Handoff::Ws`, through `server::accept`). The handshake
//! (`handshake.rs`, SHA-1 in `sha1.rs`), the frames (`frame.rs`, pure) and the connection
//! (`conn.rs`): echo each message, answer pings and the closing handshake, and run the
//! plan's WebSocket steps and its cuts, pauses and pace along the byte timeline of the
//! server's frames.

mod conn;
pub mod frame;
pub mod handshake;
mod sha1;
pub mod tally;

use crate::control::ctx::Ctx;
use crate::control::journal::{End, Entry};
use crate::plan::Plan;
use crate::wire::Wire;
use std::sync::Arc;
use std::time::Instant;

/// An upgrade the HTTP/1.1 loop accepted, its head consumed: what [`serve`] needs.
pub struct Start {
    /// The upgrade request's journal entry.
    pub entry: Arc<Entry>,
    /// Its plan.
    pub plan: Arc<Plan>,
    /// `Sec-WebSocket-Key`.
    pub key: String,
    /// When its head arrived.
    pub arrived: Instant,
}

/// What the wire does once the connection's outcome is journaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// Nothing: the client is gone.
    None,
    /// RST, once every byte is acknowledged.
    Reset,
    /// FIN (with `true`: after reading what the client still sends, bounded).
    Close(bool),
    /// Silence until the client leaves.
    Hang,
}

/// Serves a WebSocket connection: the plan's delay, the `101`, then the connection until it
/// ends; journals it (`ws` in the entry) and ends the wire as it says.
pub fn serve<W: Wire + ?Sized>(ctx: &Ctx, wire: &mut W, start: Start) {
    let plan = &*start.plan;
    let took = |start: &Start| start.arrived.elapsed();
    if let Some(d) = plan.delay {
        let until = wire.now() + d;
        if !wire.wait(until) {
            ctx.end(&start.entry, None, 0, End::PeerGone, took(&start));
            return;
        }
    }
    let head = handshake::switching(
        &start.key,
        plan.ws.bad_accept,
        plan.ws.protocol.as_deref(),
        &plan.headers,
    );
    if wire.write_all(&head).is_err() {
        ctx.end(&start.entry, None, 0, End::PeerGone, took(&start));
        return;
    }
    let max = ctx.settings.ws_max_message;
    let (end, action, sent, stats) = conn::run(ctx, wire, plan, max, &start);
    start.entry.set_ws(stats);
    let bytes = head.len() as u64 + sent;
    ctx.end(&start.entry, Some(101), bytes, end, took(&start));
    match action {
        Action::None => {}
        Action::Reset => {
            wire.await_acks();
            wire.reset();
        }
        Action::Close(drain) => wire.close(drain),
        Action::Hang => wire.hang(),
    }
}
