//! The accept loop: each accepted connection to a thread of the pool (or refused past
//! `--max-conns`), with what it shares with its listener's other connections.

use super::accept::{self, Front, Listener};
use super::{Error, MAPS_PER_THREAD, MAPS_RESERVED};
use crate::control::ctx::Ctx;
use crate::log::Val;
use crate::pool::{Active, Pool};
use crate::sys;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What every connection of a listener gets besides its socket (cheap to clone: `Arc`s).
#[derive(Clone)]
pub(super) struct Shared {
    pub(super) ctx: Arc<Ctx>,
    #[cfg(feature = "tls")]
    pub(super) tls: Option<Arc<crate::tls::TlsServer>>,
    pub(super) toxiproxy: Option<Arc<crate::tcp::toxiproxy::Toxiproxy>>,
}

pub(super) fn accept_loop(listener: &TcpListener, shared: &Shared, pool: &Arc<Pool>, on: Listener) {
    let ctx = &shared.ctx;
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) => {
                if ctx.stop.load(Ordering::SeqCst) || ctx.registry.won() {
                    return;
                }
                if sys::out_of_resources(&e) {
                    // Out of descriptors or memory: wait for connections to end.
                    ctx.conn_event("accept-error", &[("error", Val::Str(&e.to_string()))]);
                    thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
        };
        if ctx.stop.load(Ordering::SeqCst) {
            return;
        }
        let id = ctx.next_conn_id();
        ctx.metrics.connections.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = Active::try_new(&active, ctx.settings.max_conns) else {
            refuse(ctx, id, peer, "max-conns");
            continue; // dropping the stream closes it
        };
        // Small writes (a status line before a pause) must go out at once, not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let gauge = Gauge::new(ctx);
        let job = Box::new(move || {
            let _slot = slot;
            let _gauge = gauge;
            let front = Front {
                ctx: &shared.ctx,
                #[cfg(feature = "tls")]
                tls: shared.tls.as_deref(),
                toxiproxy: shared.toxiproxy.as_deref(),
            };
            accept::serve(&front, stream, id, peer, on);
        });
        if pool.run(job).is_err() {
            refuse(ctx, id, peer, "thread-spawn-failed");
        }
    }
}

/// Counts an open connection for the metrics' gauge.
struct Gauge(Arc<Ctx>);

impl Gauge {
    fn new(ctx: &Arc<Ctx>) -> Gauge {
        ctx.active.fetch_add(1, Ordering::Relaxed);
        Gauge(Arc::clone(ctx))
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(super) fn refuse(ctx: &Ctx, id: u64, peer: SocketAddr, reason: &str) {
    ctx.metrics.refused.fetch_add(1, Ordering::Relaxed);
    let peer = peer.to_string();
    ctx.conn_event(
        "refused",
        &[
            ("conn", Val::Num(id)),
            ("peer", Val::Str(&peer)),
            ("reason", Val::Str(reason)),
            ("end", Val::Str("close")),
        ],
    );
}

/// Blackhole mode: a backlog of 0 still queues one connection, so the first client would be
/// let in (and time out reading instead of connecting). The server takes that place itself by
/// connecting to its own listener; every client's SYN is then dropped.
pub(super) fn fill_backlog(
    listener: TcpListener,
    addr: SocketAddr,
) -> Result<(TcpListener, TcpStream), Error> {
    sys::set_backlog(&listener, 0).map_err(|e| Error::Io("cannot set backlog", e))?;
    let target = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    };
    let filler = TcpStream::connect_timeout(&target, Duration::from_secs(2))
        .map_err(|e| Error::Io("cannot fill the blackhole's backlog", e))?;
    Ok((listener, filler))
}

pub(super) fn clock_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

/// The most connection threads the kernel's `vm.max_map_count` allows. Past it, std aborts
/// the whole process when a new thread cannot map its signal stack's guard page, so the
/// server must refuse connections before that point rather than find it.
pub(super) fn thread_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/sys/vm/max_map_count").ok()?;
    let maps: usize = text.trim().parse().ok()?;
    Some(maps.saturating_sub(MAPS_RESERVED) / MAPS_PER_THREAD)
}
