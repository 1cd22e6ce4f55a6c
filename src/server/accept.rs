//! The one place that decides what a connection is, and hands it to its protocol's folder:
//!
//! | the connection | goes to |
//! |---|---|
//! | on the `--control` listener | [`http1::conn::serve_control`]: every request is the control API |
//! | in TCP mode | [`tcp::serve`]: a raw relay |
//! | `httpfault toxiproxy`'s API listener | [`http1::conn::serve_toxiproxy`]: toxiproxy's API (and the control API under its prefix) |
//! | TLS (`--tls`) | [`tls::accept`] runs the handshake (and its faults); then ALPN decides: `h2` is HTTP/2, `http/1.1` or none is HTTP/1.1, with no sniffing (RFC 9113 section 3.3) |
//! | cleartext starting with the HTTP/2 preface | [`h2::serve`] (prior knowledge), or in proxy mode a GOAWAY: proxy mode forwards HTTP/1.1 only, and never answers in the upstream's place |
//! | cleartext otherwise | [`http1::conn::serve`]; a first request with `Upgrade: h2c` comes back here and goes on as HTTP/2 (not in proxy mode) |
//!
//! A new protocol is a folder and one branch here.

use crate::control::ctx::{Accepted, Ctx, Finish, Mode};
use crate::h2;
use crate::http1::conn::{self, ConnTls, Handoff, NoRequest};
use crate::log::Val;
use crate::proxy;
use crate::tcp;
use crate::tcp::toxiproxy::Toxiproxy;
#[cfg(feature = "tls")]
use crate::tls::{accept as tls_accept, TlsServer};
use crate::wire::{Fill, SocketWire, Wire};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

/// Which listener a connection came in on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The main listener.
    Main,
    /// `--control ADDR`: the control API only.
    Control,
}

/// What a connection needs besides its socket: the server's state, and its TLS server when it
/// serves HTTPS.
pub struct Front<'a> {
    /// The server's shared state.
    pub ctx: &'a Ctx,
    /// `--tls`: the certificates and configurations.
    #[cfg(feature = "tls")]
    pub tls: Option<&'a TlsServer>,
    /// `httpfault toxiproxy`: the listener speaks toxiproxy's API.
    pub toxiproxy: Option<&'a Toxiproxy>,
}

/// Serves one accepted connection until it ends.
pub fn serve(front: &Front<'_>, stream: TcpStream, id: u64, peer: SocketAddr, on: Listener) {
    let ctx = front.ctx;
    let accepted = Accepted {
        id,
        peer,
        at: Instant::now(),
    };
    if let (Listener::Main, Mode::Tcp(upstream)) = (on, &ctx.settings.mode) {
        return tcp::serve(ctx, stream, accepted, *upstream);
    }
    // A client that stops reading must not hold a thread for ever: a write that cannot go on
    // for --read-timeout ends the connection.
    let _ = stream.set_write_timeout(Some(ctx.settings.read_timeout));
    let mut wire = SocketWire::new(stream, &ctx.stop, ctx.settings.read_timeout);
    if on == Listener::Control {
        let Some(_registration) = ctx.registry.register_control(id, wire.raw_fd()) else {
            return;
        };
        return conn::serve_control(ctx, &mut wire, id, peer);
    }
    if let Some(t) = front.toxiproxy {
        let Some(_registration) = ctx.registry.register_control(id, wire.raw_fd()) else {
            return;
        };
        return conn::serve_toxiproxy(ctx, t, &mut wire, id, peer);
    }
    let mut finish = Finish::new(ctx);
    let Some(_registration) = ctx.registry.register(id, wire.raw_fd()) else {
        return; // stopping, or the one request was already taken: close
    };
    #[cfg(feature = "tls")]
    if let Some(tls) = front.tls {
        return serve_tls(ctx, tls, wire, &mut finish, accepted);
    }
    match sniff(&mut wire, accepted.at + ctx.settings.read_timeout) {
        Ok(h2::Preface::Complete) => http2(ctx, &mut wire, &mut finish, accepted, None, None),
        Ok(_) => http1(ctx, &mut wire, &mut finish, accepted, None),
        Err(why) => conn::no_request(ctx, &mut wire, id, peer, why),
    }
}

/// Reads until the first bytes tell HTTP/2's preface from anything else.
#[inline(never)]
fn sniff<W: Wire>(wire: &mut W, deadline: Instant) -> Result<h2::Preface, NoRequest> {
    loop {
        if !wire.input().is_empty() {
            match h2::preface(wire.input()) {
                h2::Preface::Partial => {}
                done => return Ok(done),
            }
        }
        match wire.fill(deadline, h2::PREFACE.len()) {
            Fill::Data(_) => {}
            Fill::Eof if wire.input().is_empty() => return Err(NoRequest::Closed),
            Fill::Eof | Fill::Gone => return Err(NoRequest::PeerGone),
            // The start of the preface fills the cap: it is not the preface after all.
            Fill::Full => return Ok(h2::Preface::No),
            Fill::Timeout => return Err(NoRequest::Timeout),
        }
    }
}

/// HTTPS: the handshake (with the plan's handshake fault), then the protocol ALPN chose.
#[cfg(feature = "tls")]
#[inline(never)]
fn serve_tls(
    ctx: &Ctx,
    tls: &TlsServer,
    raw: SocketWire<'_>,
    finish: &mut Finish<'_>,
    accepted: Accepted,
) {
    let Some((mut wire, info)) = tls_accept::handshake(ctx, tls, raw, accepted.id, accepted.peer)
    else {
        return;
    };
    let conn_tls = ConnTls {
        sni: info.sni,
        plan: info.plan,
    };
    // The handshake's cryptography went deep; a connection that now waits for its requests
    // keeps none of those stack pages.
    crate::sys::release_stack_below();
    if info.alpn_h2 {
        http2(ctx, &mut *wire, finish, accepted, None, Some(conn_tls));
    } else {
        http1(ctx, &mut *wire, finish, accepted, Some(conn_tls));
    }
}

/// HTTP/1.1, and HTTP/2 after an `Upgrade: h2c` on its first request.
fn http1<W: Wire>(
    ctx: &Ctx,
    wire: &mut W,
    finish: &mut Finish<'_>,
    accepted: Accepted,
    tls: Option<ConnTls>,
) {
    let handoff = match ctx.settings.mode {
        Mode::Proxy(addr) => proxied(ctx, wire, finish, accepted, tls.clone(), addr),
        _ => conn::serve(ctx, wire, finish, accepted, tls.clone(), &mut conn::Plans),
    };
    match handoff {
        Handoff::H2c(up) => {
            let upgrade = h2::Upgrade {
                fields: up.fields,
                settings: up.settings,
            };
            http2(ctx, wire, finish, accepted, Some(upgrade), tls);
        }
        Handoff::Ws(start) => websocket(ctx, wire, start),
        Handoff::Done => {}
    }
}

/// A WebSocket connection, after its upgrade request. Out of line: its frame buffers and
/// state would otherwise sit in the frame of every HTTP/1.1 connection thread (a held `hang`
/// connection touched a third stack page: 12 KiB instead of 8).
#[inline(never)]
fn websocket<W: Wire>(ctx: &Ctx, wire: &mut W, start: crate::ws::Start) {
    crate::ws::serve(ctx, wire, start)
}

/// Proxy mode's HTTP/1.1 loop. Out of line: its upstream connection and its loop's
/// temporaries would otherwise sit in the frame of every server-mode connection thread (stack
/// pages touched per held connection).
#[inline(never)]
fn proxied<W: Wire>(
    ctx: &Ctx,
    wire: &mut W,
    finish: &mut Finish<'_>,
    accepted: Accepted,
    tls: Option<ConnTls>,
    upstream: SocketAddr,
) -> Handoff {
    let mut up = proxy::Proxy::new(ctx, upstream, accepted);
    conn::serve(ctx, wire, finish, accepted, tls, &mut up)
}

/// HTTP/2, from its preface (cleartext or after ALPN `h2`) or an h2c upgrade.
#[inline(never)]
fn http2<W: Wire + ?Sized>(
    ctx: &Ctx,
    wire: &mut W,
    finish: &mut Finish<'_>,
    accepted: Accepted,
    upgrade: Option<h2::Upgrade>,
    tls: Option<ConnTls>,
) {
    if let Mode::Proxy(_) = ctx.settings.mode {
        return refuse_http2(ctx, wire, accepted);
    }
    let origin = h2::Origin {
        plan: tls.as_ref().and_then(|t| t.plan.clone()),
        tls: tls.map(|t| t.sni),
    };
    let Accepted { id, peer, .. } = accepted;
    h2::serve(ctx, wire, id, peer, upgrade, &mut finish.won, origin);
}

/// Proxy mode forwards HTTP/1.1 only: an HTTP/2 connection gets a GOAWAY that says so
/// (HTTP_1_1_REQUIRED, RFC 9113 section 7), never an answer made up in the upstream's place.
fn refuse_http2<W: Wire + ?Sized>(ctx: &Ctx, wire: &mut W, accepted: Accepted) {
    const REASON: &str = "proxy mode forwards HTTP/1.1 only";
    let peer = accepted.peer.to_string();
    ctx.conn_event(
        "refused",
        &[
            ("conn", Val::Num(accepted.id)),
            ("peer", Val::Str(&peer)),
            ("reason", Val::Str(REASON)),
        ],
    );
    h2::refuse(wire, REASON);
}
