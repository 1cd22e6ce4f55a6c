//! Proxy mode: one request forwarded to the upstream and its response relayed to the client,
//! shaped by the plan as it passes (delay, pauses, rate, added headers, `length=`, and endings
//! at offsets of the relayed bytes). Bodies stream both ways through fixed buffers, bytes
//! unchanged; the pure parts (heads, framing) are in `crate::http::response`.
//!
//! Each client connection has its own upstream connection ([`UpConn`]), opened for its first
//! forwarded request and kept while both sides keep alive. The outcome is reported before the
//! client's connection ends, as in the executor, so a client that saw the end finds it in the
//! journal.

mod forward;
mod relay;
mod upconn;
mod updir;

pub use upconn::UpConn;

use crate::control::ctx::{Accepted, Ctx};
use crate::control::journal::Entry;
use crate::http1::conn::Forwarder;
use crate::http1::exchange::{BodyError, Exchange, Next, Outcome};
use crate::log::Val;
use crate::plan::{Plan, ProxyUse};
use crate::wire::Wire;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Size of the buffer for bytes read from the upstream: a response of any size passes through
/// this much memory.
const UP_BUF: usize = 64 * 1024;
/// The interim response httpfault sends itself to `Expect: 100-continue`.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
/// How often a wait without limit on the upstream looks whether the client left.
const CLIENT_CHECK: Duration = Duration::from_secs(1);
/// Longest single blocking read on the upstream, so a stopping server is noticed.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// Proxy mode's side of the HTTP/1.1 connection loop: requests whose plan does not make its
/// own response go to the upstream, over this client connection's own upstream connection.
pub struct Proxy<'c> {
    ctx: &'c Ctx,
    addr: SocketAddr,
    conn: Accepted,
    /// The upstream connection, kept across the client's keep-alive requests.
    up: Option<UpConn>,
    /// Write buffer, reused.
    out: Vec<u8>,
}

impl<'c> Proxy<'c> {
    /// Forwards the requests of client connection `conn` to `addr`.
    pub fn new(ctx: &'c Ctx, addr: SocketAddr, conn: Accepted) -> Self {
        Proxy {
            ctx,
            addr,
            conn,
            up: None,
            out: Vec::new(),
        }
    }
}

impl Forwarder for Proxy<'_> {
    /// Kept out of line, so its locals do not grow the stack frame every connection thread
    /// holds while it waits or hangs.
    #[inline(never)]
    fn forward<W: Wire>(
        &mut self,
        wire: &mut W,
        x: &Exchange<'_>,
        plan: &Plan,
        entry: &Entry,
        report: &mut dyn FnMut(&Outcome),
    ) -> Option<Result<Next, BodyError>> {
        if answers_itself(plan) {
            return None;
        }
        let ctx = self.ctx;
        // Borrowed from the journal entry, which keeps the request line: nothing is copied
        // per request, and the log's peer and target are made only for a failure.
        let f = Forward {
            addr: self.addr,
            method: entry.method(),
            stop: &ctx.stop,
            #[cfg(feature = "tls")]
            tls: ctx.settings.upstream_tls.as_deref(),
            idle: ctx.settings.upstream_idle,
            entry,
        };
        let Accepted { id, peer, .. } = self.conn;
        let mut note = |t: Trouble, reason: &str| {
            entry.set_upstream(t.name());
            let peer = peer.to_string();
            let (_, target) = entry.method_target();
            ctx.conn_event(
                "upstream",
                &[
                    ("conn", Val::Num(id)),
                    ("peer", Val::Str(&peer)),
                    ("target", Val::Str(&target)),
                    ("upstream", Val::Str(t.name())),
                    ("reason", Val::Str(reason)),
                ],
            )
        };
        let mut req = forward::Req {
            f: &f,
            x,
            plan,
            wire,
            buf: &mut self.out,
            report,
            note: &mut note,
        };
        Some(forward::forward(&mut req, &mut self.up))
    }
}

/// The plan makes its own response (the step table's proxy column: `status`, `text`,
/// `body`, ..., `forward=no`, an ending at a request offset): the executor answers as in
/// server mode and the upstream is not contacted.
fn answers_itself(plan: &Plan) -> bool {
    plan.proxy == ProxyUse::Answers
}

/// What went wrong with the upstream, as the log's `upstream=` field says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trouble {
    /// No connection could be made.
    Refused,
    /// No response head within `--read-timeout` (or a stalled body).
    Timeout,
    /// The upstream reset its connection.
    Reset,
    /// The upstream closed its connection early.
    Close,
    /// The upstream sent something that cannot be relayed.
    Bad,
}

impl Trouble {
    /// The log value.
    pub fn name(self) -> &'static str {
        match self {
            Trouble::Refused => "refused",
            Trouble::Timeout => "timeout",
            Trouble::Reset => "reset",
            Trouble::Close => "close",
            Trouble::Bad => "bad",
        }
    }
}

/// What the proxy needs besides the executor's [`Exchange`].
pub struct Forward<'a> {
    /// The upstream's address.
    pub addr: SocketAddr,
    /// The request's method (framing of the response depends on it).
    pub method: &'a str,
    /// The server's stop flag.
    pub stop: &'a AtomicBool,
    /// An `https://` upstream.
    #[cfg(feature = "tls")]
    pub tls: Option<&'a crate::control::ctx::UpstreamTls>,
    /// `--upstream-idle`: longest silence of the upstream within a relayed body (then the
    /// client is cut with an RST); `None` for no limit.
    pub idle: Option<Duration>,
    /// The request's journal entry (a WebSocket tunnel's `ws` counts go there).
    pub entry: &'a Entry,
}

#[cfg(test)]
mod tests {
    use super::upconn::Pump;
    use super::*;
    use crate::http::request::BodyLen;

    fn plan(text: &str) -> Plan {
        Plan::parse(text).unwrap()
    }

    #[test]
    fn content_steps_and_forward_no_answer_without_the_upstream() {
        for text in [
            "status=503",
            "text=hi",
            "body=1k",
            "echo",
            "raw=x",
            "garbage=4",
            "chunked",
            "badchunk",
            "forward=no",
            "forward=no/reset",
        ] {
            assert!(answers_itself(&plan(text)), "{text}");
        }
        for text in [
            "",
            "reset",
            "close=1m",
            "hang=head:10",
            "delay=1s/rate=1k/pause=5,1s",
            "header=X-A:1/length=5",
            "keepalive=no/idle=1s",
            "reuse=reset",
            "times=2/reset",
            "chance=0.5/close",
            "forward=yes/reset",
        ] {
            assert!(!answers_itself(&plan(text)), "{text}");
        }
    }

    #[test]
    fn forward_no_prints_back() {
        let p = plan("reset/forward=no");
        assert!(!p.forward);
        assert_eq!(Plan::parse(&p.to_string()).unwrap(), p);
        assert!(p.to_string().contains("forward=no"));
        assert!(plan("forward=yes").forward);
        assert!(Plan::parse("forward=maybe").is_err());
        assert!(Plan::parse("forward").is_err());
    }

    #[test]
    fn a_pump_moves_only_the_body() {
        let p = Pump::new(BodyLen::None);
        assert!(p.done() && p.complete() && !p.wants_client());
        let p = Pump::new(BodyLen::Length(0));
        assert!(p.complete());
        let mut q = Pump::new(BodyLen::Length(5));
        assert!(q.wants_client() && !q.wants_upstream() && !q.done());
        q.broken = true;
        assert!(q.done() && !q.complete());
        assert!(Pump::new(BodyLen::Chunked).wants_client());
    }
}
