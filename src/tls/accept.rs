//! The TLS accept path: read the ClientHello, choose the handshake's plan by the server name
//! the client sent (an SNI route, else the default plan in force), run its handshake fault if
//! it has one, else complete the handshake with the certificate it asks for and give the
//! [`TlsWire`] back, with what the handshake learnt, to the server's protocol decision.
//!
//! A handshake fault is journaled as one entry (method `TLS`, target the server name, or `-`),
//! so a test sees what its client did: `end` is how the server ended the handshake (`reset`,
//! `close`, `hang`), or for the certificate faults `complete` when the client went on anyway
//! and `peer-gone` when it refused the certificate.

use super::wire::{HandshakeError, TlsWire};
use super::TlsServer;
use crate::control::ctx::Ctx;
use crate::control::journal::{End, Entry};
use crate::log::Val;
use crate::plan::Handshake;
use crate::plan::Plan;
use crate::wire::{Fill, SocketWire, Wire, BODY_BUF};
use rustls::server::Acceptor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// A fatal alert record, written as the first and only bytes of the server's side: content
/// type 21 (alert), record version TLS 1.2 (what TLS 1.3 servers write too), length 2, level
/// 2 (fatal), then the description. rustls has no call to send an alert of our choosing, and
/// these seven bytes are the whole of what `tls=alert=NAME` promises.
fn alert_record(code: u8) -> [u8; 7] {
    [21, 3, 3, 0, 2, 2, code]
}

/// What a completed handshake learnt.
pub struct Learnt {
    /// The server name the client sent.
    pub sni: Option<Arc<str>>,
    /// The SNI route's plan, which stands in for the default plan on this connection.
    pub plan: Option<Arc<Plan>>,
    /// ALPN chose `h2`: the connection is HTTP/2 (else HTTP/1.1, RFC 9113 section 3.3).
    pub alpn_h2: bool,
}

/// Runs the TLS handshake of one connection, with its plan's handshake fault if it has one:
/// the wire and what the handshake learnt, or `None` when the connection ended in the
/// handshake (a fault, a refused certificate, a timeout). The wire is boxed and this is out of
/// line, so neither rustls's connection nor the handshake's temporaries sit in the frames of
/// a connection thread while it serves and waits (stack pages touched per held connection).
#[inline(never)]
pub fn handshake<'a>(
    ctx: &Ctx,
    tls: &TlsServer,
    mut raw: SocketWire<'a>,
    id: u64,
    peer: SocketAddr,
) -> Option<(Box<TlsWire<'a>>, Learnt)> {
    let arrived = Instant::now();
    let deadline = arrived + ctx.settings.read_timeout;
    let accepted = read_hello(ctx, &mut raw, deadline, id, peer)?;
    let sni: Option<Arc<str>> = accepted.client_hello().server_name().map(Arc::from);
    let sel = ctx.handshake_plan(sni.as_deref());
    let fault = sel.plan.tls;
    // The SNI route's plan stands in for the default plan on this connection's requests.
    let conn_plan = sel.route.is_some().then(|| Arc::clone(&sel.plan));
    let entry = fault.map(|_| {
        let head = format!("TLS {}\r\n", sni.as_deref().unwrap_or("-"));
        ctx.begin(
            Entry::new(
                ctx.journal.since_start(arrived),
                id,
                peer,
                head.as_bytes(),
                sel.route.clone(),
                sel.step,
                Arc::clone(&sel.plan),
            )
            .with_tls(Some(sni.clone())),
        )
    });
    let end = |end: End, bytes: u64| {
        if let Some(e) = &entry {
            ctx.end(e, None, bytes, end, arrived.elapsed());
        }
    };
    if ends_before_server_hello(fault, &mut raw, &end) {
        return None;
    }
    let server = match accepted.into_connection(tls.config(fault)) {
        Ok(c) => c,
        Err((e, mut alert)) => {
            let _ = alert.write_all(&mut Out(&mut raw));
            let reason = e.to_string();
            event(ctx, id, peer, sni.as_deref(), "handshake", &reason, "close");
            end(End::Error, 0);
            raw.close(true);
            return None;
        }
    };
    let mut wire = Box::new(TlsWire::new(raw, server));
    if let Err(e) = wire.handshake(deadline) {
        let (why, how) = match &e {
            HandshakeError::Timeout => ("timeout", End::Timeout),
            _ => ("handshake", End::PeerGone),
        };
        let reason = e.to_string();
        event(ctx, id, peer, sni.as_deref(), why, &reason, how.name());
        end(how, 0);
        if matches!(e, HandshakeError::Timeout) {
            wire.close(false);
        }
        return None;
    }
    end(End::Complete, 0);
    let alpn_h2 = wire.alpn() == Some(b"h2".as_slice());
    let learnt = Learnt {
        sni,
        plan: conn_plan,
        alpn_h2,
    };
    Some((wire, learnt))
}

/// Reads until rustls has the whole ClientHello; `None` when the connection ended first (not
/// TLS: an alert; a timeout: logged).
fn read_hello(
    ctx: &Ctx,
    raw: &mut SocketWire<'_>,
    deadline: Instant,
    id: u64,
    peer: SocketAddr,
) -> Option<rustls::server::Accepted> {
    let mut acceptor = Acceptor::default();
    loop {
        // Everything read so far goes to rustls first; then it says whether the ClientHello
        // is complete.
        while !raw.input().is_empty() {
            let mut src: &[u8] = raw.input();
            match acceptor.read_tls(&mut src) {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.consume(n),
            }
        }
        match acceptor.accept() {
            Ok(Some(a)) => return Some(a),
            Ok(None) => {}
            Err((e, mut alert)) => {
                let _ = alert.write_all(&mut Out(raw));
                event(ctx, id, peer, None, "not-tls", &e.to_string(), "close");
                raw.close(true);
                return None;
            }
        }
        match raw.fill(deadline, BODY_BUF) {
            Fill::Data(_) => {}
            Fill::Full => {
                raw.close(false);
                return None;
            }
            Fill::Eof | Fill::Gone => return None, // a connect and nothing else: not worth a line
            Fill::Timeout => {
                event(ctx, id, peer, None, "timeout", "no ClientHello", "timeout");
                raw.close(false);
                return None;
            }
        }
    }
}

/// A handshake fault that ends the connection before any ServerHello (`tls=hang`, `reset`,
/// `close`, `alert=NAME`): carried out, journaled through `end`; true when it ended.
fn ends_before_server_hello(
    fault: Option<Handshake>,
    raw: &mut SocketWire<'_>,
    end: &dyn Fn(End, u64),
) -> bool {
    match fault {
        Some(Handshake::Hang) => {
            end(End::Hang, 0);
            raw.hang();
        }
        Some(Handshake::Reset) => {
            end(End::Reset, 0);
            raw.reset();
        }
        Some(Handshake::Close) => {
            end(End::Close, 0);
            raw.close(true);
        }
        Some(Handshake::Alert(code)) => {
            let sent = raw.write_all(&alert_record(code)).is_ok();
            end(End::Close, if sent { 7 } else { 0 });
            raw.close(true);
        }
        _ => return false,
    }
    true
}

/// A log line for a handshake that did not lead to requests.
fn event(
    ctx: &Ctx,
    id: u64,
    peer: SocketAddr,
    sni: Option<&str>,
    name: &str,
    reason: &str,
    end: &str,
) {
    let peer = peer.to_string();
    let mut fields = vec![("conn", Val::Num(id)), ("peer", Val::Str(&peer))];
    if let Some(s) = sni {
        fields.push(("sni", Val::Str(s)));
    }
    fields.push(("tls", Val::Str(name)));
    fields.push(("reason", Val::Str(reason)));
    fields.push(("end", Val::Str(end)));
    ctx.conn_event("tls", &fields);
}

/// Bytes rustls prepared before a connection exists (an alert), out through the raw wire.
struct Out<'w, 'a>(&'w mut SocketWire<'a>);

impl std::io::Write for Out<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
