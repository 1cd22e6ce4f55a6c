//! A TCP-mode connection as the server sees it: its plan chosen, a journal entry (method
//! `TCP`, target the upstream's address), the relay, and how it ended, logged.

use super::{relay, RelayEnv};
use crate::control::ctx::{Accepted, Ctx};
use crate::control::journal::{Entry, PlanRef};
use crate::log::Val;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

/// TCP mode: relays one accepted connection to a new upstream connection, shaped by the plan,
/// and journals it as one entry (method `TCP`, target the upstream's address).
#[inline(never)]
pub fn serve(ctx: &Ctx, stream: TcpStream, accepted: Accepted, upstream: SocketAddr) {
    let Accepted {
        id,
        peer,
        at: arrived,
    } = accepted;
    let plan = ctx.select_tcp();
    let label = format!("TCP {upstream}\r\n");
    let entry = ctx.begin(Entry::new(
        ctx.journal.since_start(arrived),
        id,
        peer,
        label.as_bytes(),
        None,
        None,
        PlanRef::Tcp(Arc::clone(&plan)),
    ));
    let env = RelayEnv {
        upstream,
        connect_timeout: ctx.settings.read_timeout,
        idle_timeout: None,
        stop: &ctx.stop,
        seed: ctx.settings.seed ^ id.rotate_left(32),
    };
    let out = relay(stream, &plan, &env);
    if let (false, Some(what)) = (out.connected, out.upstream) {
        // Why the client was reset, as proxy mode logs it.
        let reason = match what {
            "timeout" => format!("no connection to upstream {upstream} within the read timeout"),
            _ => format!(
                "cannot connect to upstream {upstream}: {}",
                out.up.end.name()
            ),
        };
        let peer = peer.to_string();
        ctx.conn_event(
            "upstream",
            &[
                ("conn", Val::Num(id)),
                ("peer", Val::Str(&peer)),
                ("upstream", Val::Str(what)),
                ("reason", Val::Str(&reason)),
            ],
        );
    }
    entry.set_tcp(
        out.up.bytes,
        out.up.end.name(),
        out.down.end.name(),
        out.upstream,
    );
    let end = out.end;
    ctx.end(&entry, None, out.down.bytes, end, arrived.elapsed());
}
