//! One HTTP connection: read a request head, choose its plan, journal it, hand the exchange to
//! the executor, and loop while the connection is kept alive. Requests under
//! `/__httpfault/` go to the control API instead.

use super::control::{self, read_api_request, write_api_reply};
use super::exchange::{self, BodyError, Carry, Exchange, Next, Outcome};
use super::response;
use crate::base64::decode as base64url;
use crate::control::ctx::{Accepted, BadPlan, Ctx, Finish, Mode};
use crate::control::journal::{End, Entry};
use crate::http::request::{self, BodyLen, RequestError, Version};
use crate::log::Val;
use crate::plan::EndKind;
use crate::plan::{Plan, PlanError, HEALTHY};
use crate::tcp::toxiproxy::{api, Toxiproxy};
use crate::wire::{Fill, SocketWire, Wire};
use crate::ws;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Why no request could be read.
pub enum NoRequest {
    /// The client closed between requests: nothing to report.
    Closed,
    /// The client closed or reset in the middle of a head.
    PeerGone,
    /// `--read-timeout` passed before a complete head.
    Timeout,
    /// `idle=DUR` passed with no new request.
    Idle,
    /// Bytes of a new request arrived on a connection marked `reuse=`.
    Reused(EndKind),
    /// The request cannot be served.
    Bad(RequestError),
}

/// The parts of a request head; its method and target are read from the head's bytes, at the
/// front of the wire's input until the exchange consumes them (no copies per request).
pub struct Head {
    /// Where the method is in the head's bytes.
    method: (usize, usize),
    /// Where the target is in the head's bytes.
    target: (usize, usize),
    /// `HEAD`: the response has no body.
    pub is_head: bool,
    /// HTTP/1.0 or 1.1.
    pub version: Version,
    /// Bytes of the head.
    pub len: usize,
    /// The body's framing.
    pub body: BodyLen,
    /// The client asked to close.
    pub close: bool,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    /// When the head's last bytes arrived.
    pub arrived: Instant,
}

impl Head {
    /// The method, from the head's bytes `input` (the wire's input before it is consumed).
    pub fn method<'a>(&self, input: &'a [u8]) -> &'a str {
        slice_str(input, self.method)
    }

    /// The target, from the head's bytes.
    pub fn target<'a>(&self, input: &'a [u8]) -> &'a str {
        slice_str(input, self.target)
    }

    /// The method and the target, with one UTF-8 check of the request line's bytes.
    pub fn method_target<'a>(&self, input: &'a [u8]) -> (&'a str, &'a str) {
        let line = slice_str(input, (self.method.0, self.target.1));
        let method = line.get(..self.method.1 - self.method.0).unwrap_or("");
        let target = line
            .get(self.target.0.saturating_sub(self.method.0)..)
            .unwrap_or("");
        (method, target)
    }
}

fn slice_str(input: &[u8], (start, end): (usize, usize)) -> &str {
    input
        .get(start..end)
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("")
}

/// Where `part` (a slice of `whole`) starts and ends in `whole`.
fn span(whole: &[u8], part: &str) -> (usize, usize) {
    let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    (start, start + part.len())
}

/// What the connection's TLS layer learnt at the handshake.
#[derive(Clone, Default)]
pub struct ConnTls {
    /// The server name the client sent.
    pub sni: Option<Arc<str>>,
    /// The SNI route's plan, which stands in for the default plan on this connection.
    pub plan: Option<Arc<Plan>>,
}

/// What the HTTP/1.1 loop hands back to the server's protocol decision.
pub enum Handoff {
    /// The connection has ended.
    Done,
    /// The first request asked for `Upgrade: h2c` and got `101`: it goes on as HTTP/2, the
    /// request becoming stream 1.
    H2c(H2c),
    /// A request asked for `Upgrade: websocket` and its plan has no HTTP answer of its own:
    /// the connection goes on as WebSocket (`ws::serve` sends the `101`).
    Ws(ws::Start),
}

/// A request that arrived with `Upgrade: h2c`, as HTTP/2 has its fields.
pub struct H2c {
    /// `:method`, `:path`, `:scheme`, `:authority`, then the other fields, names lowercase.
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
    /// The `HTTP2-Settings` header, decoded (a SETTINGS payload).
    pub settings: Vec<u8>,
}

/// Who answers a request whose plan does not make the response's content itself: nobody in
/// server mode ([`Plans`]: the plan's own executor answers), the upstream in proxy mode.
pub trait Forwarder {
    /// Answers the exchange through the upstream, or `None` to leave it to the plan.
    fn forward<W: Wire>(
        &mut self,
        wire: &mut W,
        x: &Exchange<'_>,
        plan: &Plan,
        entry: &Entry,
        report: &mut dyn FnMut(&Outcome),
    ) -> Option<Result<Next, BodyError>>;
}

/// Server mode: every request is answered by its plan.
pub struct Plans;

impl Forwarder for Plans {
    fn forward<W: Wire>(
        &mut self,
        _: &mut W,
        _: &Exchange<'_>,
        _: &Plan,
        _: &Entry,
        _: &mut dyn FnMut(&Outcome),
    ) -> Option<Result<Next, BodyError>> {
        None
    }
}

/// Serves HTTP/1.1 on a connection's wire until it ends (or turns to HTTP/2 by `Upgrade:
/// h2c`): the one connection loop, whatever the wire is (plain TCP, or TLS after its
/// handshake), monomorphised per wire.
pub fn serve<W: Wire, F: Forwarder>(
    ctx: &Ctx,
    wire: &mut W,
    finish: &mut Finish<'_>,
    accepted: Accepted,
    tls: Option<ConnTls>,
    upstream: &mut F,
) -> Handoff {
    let mut conn = Conn {
        ctx,
        id: accepted.id,
        peer: accepted.peer,
        opened: accepted.at,
        out: Vec::new(),
        upstream,
        memo: exchange::Remembered::default(),
        control_only: false,
        tls,
    };
    conn.run(wire, finish)
}

/// Ends a connection on which no request could be served, saying why (the server's protocol
/// decision found nothing to serve).
#[inline(never)]
pub fn no_request<W: Wire>(ctx: &Ctx, wire: &mut W, id: u64, peer: SocketAddr, why: NoRequest) {
    let mut conn = Conn {
        ctx,
        id,
        peer,
        opened: Instant::now(),
        out: Vec::new(),
        upstream: &mut Plans,
        memo: exchange::Remembered::default(),
        control_only: false,
        tls: None,
    };
    conn.no_request(wire, why);
}

struct Conn<'c, F> {
    ctx: &'c Ctx,
    id: u64,
    peer: SocketAddr,
    /// When the connection was accepted: the first head's time counts from then.
    opened: Instant,
    /// Write buffer the executor reuses.
    out: Vec<u8>,
    /// Who answers when the plan does not (proxy mode's upstream).
    upstream: &'c mut F,
    /// The last response, when it is fixed by its plan (see [`exchange::Remembered`]).
    memo: exchange::Remembered,
    /// A connection of the `--control` listener: its requests are never journaled.
    control_only: bool,
    /// Over TLS: what the handshake learnt.
    tls: Option<ConnTls>,
}

impl<F: Forwarder> Conn<'_, F> {
    /// A journal entry, marked as TLS when the connection is.
    fn entry(&self, e: Entry) -> Arc<Entry> {
        let tls = self.tls.as_ref().map(|t| t.sni.clone());
        self.ctx.begin(e.with_tls(tls))
    }

    /// The entry of a request that took no route, `raw` as read of it, under `plan`.
    fn unrouted(&self, arrived: Instant, raw: &[u8], plan: Arc<Plan>) -> Entry {
        let t = self.ctx.journal.since_start(arrived);
        Entry::new(t, self.id, self.peer, raw, None, None, plan)
    }

    fn run<W: Wire>(&mut self, wire: &mut W, finish: &mut Finish<'_>) -> Handoff {
        let mut carry = Carry::default();
        let mut first = true;
        loop {
            let head = match self.read_head(wire, carry, first) {
                Ok(head) => head,
                Err(why) => {
                    self.no_request(wire, why);
                    return Handoff::Done;
                }
            };
            if first {
                if let Some(up) = self.h2c_upgrade(wire, &head) {
                    return Handoff::H2c(up);
                }
            }
            first = false;
            let arrived = head.arrived;
            let is_control = self.ctx.is_control(head.target(wire.input()));
            if self.ctx.settings.once && !finish.won && !is_control {
                if !self.ctx.registry.try_win(self.id) {
                    return Handoff::Done; // another connection won: close without an answer
                }
                finish.won = true;
                self.ctx.stop_listening();
            }
            let close = head.close || finish.won;
            let next = if is_control {
                control::serve(self.ctx, wire, &head, close)
            } else if self.is_ws_upgrade(wire, &head) {
                match self.ws_upgrade(wire, &head, arrived, close) {
                    Ok(start) => return Handoff::Ws(start),
                    Err(next) => next,
                }
            } else {
                self.exchange(wire, &head, arrived, close)
            };
            match next {
                Next::KeepAlive(c) => {
                    carry = c;
                    wire.shrink();
                }
                Next::Done => return Handoff::Done,
            }
        }
    }

    /// `Upgrade: h2c` with `HTTP2-Settings` on a first request without a body (RFC 7540
    /// section 3.2; RFC 9113 deprecates it, curl `--http2` still sends it): sends `101` and
    /// returns the request as HTTP/2 fields for stream 1. A request with a body, or an
    /// upgrade to anything else, is served as HTTP/1.1 (the server may ignore the header), and
    /// so is every request when the builder turned the upgrade off (`h2c(false)`).
    #[inline(never)]
    fn h2c_upgrade<W: Wire + ?Sized>(&mut self, wire: &mut W, head: &Head) -> Option<H2c> {
        let raw = wire.input().get(..head.len)?;
        let upgrade = request::header_value(raw, "upgrade")?;
        let wants = upgrade
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"h2c"));
        let settings = request::header_value(raw, "http2-settings")?;
        // Proxy mode forwards HTTP/1.1 only (the request goes up as it came); `h2c(false)`
        // keeps every client on HTTP/1.1.
        if !wants
            || !self.ctx.settings.h2c
            || matches!(self.ctx.settings.mode, Mode::Proxy(_))
            || head.body != BodyLen::None
            || head.version != Version::Http11
            || self.ctx.is_control(head.target(raw))
        {
            return None;
        }
        let settings = base64url(settings)?;
        let mut fields = vec![
            (b":method".to_vec(), head.method(raw).as_bytes().to_vec()),
            (b":path".to_vec(), head.target(raw).as_bytes().to_vec()),
            (b":scheme".to_vec(), b"http".to_vec()),
        ];
        for (n, v) in request::fields(raw) {
            let n = n.to_ascii_lowercase();
            match n.as_slice() {
                b"host" => fields.push((b":authority".to_vec(), v.to_vec())),
                b"connection" | b"upgrade" | b"http2-settings" | b"keep-alive" => {}
                _ => fields.push((n, v.to_vec())),
            }
        }
        wire.consume(head.len);
        let switch =
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
        wire.write_all(switch).ok()?;
        Some(H2c { fields, settings })
    }

    /// `Upgrade: websocket`, in server mode (proxy mode forwards the request as it is).
    fn is_ws_upgrade<W: Wire>(&self, wire: &W, head: &Head) -> bool {
        !matches!(self.ctx.settings.mode, Mode::Proxy(_))
            && wire
                .input()
                .get(..head.len)
                .is_some_and(ws::handshake::is_upgrade)
    }

    /// A WebSocket upgrade request: its plan, then the handshake's checks. `Ok`: the
    /// connection goes on as WebSocket; `Err`: it was answered over HTTP (a bad plan, a plan
    /// with its own answer such as `status=CODE`, a bad upgrade request's `400`).
    #[inline(never)]
    fn ws_upgrade<W: Wire>(
        &mut self,
        wire: &mut W,
        head: &Head,
        arrived: Instant,
        close: bool,
    ) -> Result<ws::Start, Next> {
        use crate::plan::steps::Proto;
        let (entry, plan) = match self.begin(wire, head, arrived, Proto::Ws) {
            Ok(pair) => pair,
            Err(bad) => return Err(self.bad_plan(wire, head, arrived, bad, close)),
        };
        if plan.refuses_upgrade() {
            return Err(self.exchange_with(wire, head, arrived, close, entry, plan));
        }
        if !plan.close_notify {
            wire.set_close_notify(false);
        }
        let raw = &wire.input()[..head.len];
        let checked = match head.version {
            Version::Http11 => ws::handshake::check(raw, head.method(raw)),
            _ => Err("a WebSocket upgrade must be HTTP/1.1"),
        };
        match checked {
            Ok(up) => {
                wire.consume(head.len);
                Ok(ws::Start {
                    entry,
                    plan,
                    key: up.key,
                    arrived,
                })
            }
            Err(reason) => {
                let bytes = ws::handshake::refusal(reason);
                let n = wire.write_all(&bytes).map_or(0, |()| bytes.len() as u64);
                self.ctx
                    .end(&entry, Some(400), n, End::Close, arrived.elapsed());
                wire.close(true);
                Err(Next::Done)
            }
        }
    }

    /// Answers one request from its plan.
    fn exchange<W: Wire>(
        &mut self,
        wire: &mut W,
        head: &Head,
        arrived: Instant,
        close: bool,
    ) -> Next {
        use crate::plan::steps::Proto;
        // Proxy mode forwards an upgrade request: the tunnel's steps (`up:`) apply to it.
        let proto = match self.ctx.settings.mode {
            Mode::Proxy(_)
                if wire
                    .input()
                    .get(..head.len)
                    .is_some_and(ws::handshake::is_upgrade) =>
            {
                Proto::Tunnel
            }
            _ => Proto::H1,
        };
        let (entry, plan) = match self.begin(wire, head, arrived, proto) {
            Ok(pair) => pair,
            Err(bad) => return self.bad_plan(wire, head, arrived, bad, close),
        };
        self.exchange_with(wire, head, arrived, close, entry, plan)
    }

    /// Answers one request whose plan is chosen and journaled.
    fn exchange_with<W: Wire>(
        &mut self,
        wire: &mut W,
        head: &Head,
        arrived: Instant,
        close: bool,
        entry: Arc<Entry>,
        plan: Arc<Plan>,
    ) -> Next {
        let ctx = self.ctx;
        let seed = match plan.replace {
            Some(crate::plan::Replace::Garbage(_)) => {
                crate::plan::router::draw(ctx.settings.seed, "garbage", entry.seq()).to_bits()
            }
            _ => 0,
        };
        let x = Exchange {
            head_len: head.len,
            head_only: head.is_head,
            version: head.version,
            body: head.body,
            close,
            expect_continue: head.expect_continue,
            seed,
            read_timeout: ctx.settings.read_timeout,
            echo_budget: &ctx.echo_budget,
            entry: Some(&entry),
        };
        if !plan.close_notify {
            wire.set_close_notify(false);
        }
        let mut report = |o: &Outcome| ctx.end(&entry, o.status, o.bytes, o.end, arrived.elapsed());
        let ran = match self.upstream.forward(wire, &x, &plan, &entry, &mut report) {
            Some(ran) => ran,
            None => exchange::run_remembering(
                &x,
                &plan,
                wire,
                &mut self.out,
                &mut self.memo,
                &mut report,
            ),
        };
        match ran {
            // tls=no-close-notify: the connection ends after the response, with a FIN and no
            // close_notify (the wire was told above).
            Ok(Next::KeepAlive(_)) if !plan.close_notify => {
                wire.close(true);
                Next::Done
            }
            Ok(next) => next,
            Err(e) => {
                self.body_failed(wire, &entry, arrived, e);
                Next::Done
            }
        }
    }

    /// Chooses the request's plan and journals it. Out of line: its temporaries would
    /// otherwise stay in the frame every connection thread holds while it waits or hangs.
    #[inline(never)]
    fn begin<W: Wire>(
        &self,
        wire: &W,
        head: &Head,
        arrived: Instant,
        proto: crate::plan::steps::Proto,
    ) -> Result<(Arc<Entry>, Arc<Plan>), BadPlan> {
        let ctx = self.ctx;
        let raw_head = &wire.input()[..head.len];
        let header_plan = match ctx.settings.mode {
            // Two plan headers: which one the client meant cannot be known, so neither wins.
            Mode::Proxy(_) => request::single_header_value(raw_head, "x-httpfault-plan")
                .map_err(|()| BadPlan(PlanError::Twice("X-Httpfault-Plan header")))?
                .map(|v| String::from_utf8_lossy(v).into_owned()),
            _ => None,
        };
        let conn_plan = self.tls.as_ref().and_then(|t| t.plan.as_ref());
        let (method, target) = head.method_target(raw_head);
        let selection = ctx.select(method, target, header_plan.as_deref(), conn_plan)?;
        // HTTP/2-only steps (and WebSocket-only ones on a plain request) are a plan error here,
        // answered 400 like any bad path plan; so are steps proxy mode cannot honour.
        selection.plan.check_protocol(proto).map_err(BadPlan)?;
        if let Mode::Proxy(_) = ctx.settings.mode {
            selection.plan.check_proxy().map_err(BadPlan)?;
        }
        let entry = self.entry(Entry::new(
            ctx.journal.since_start(arrived),
            self.id,
            self.peer,
            raw_head,
            selection.route,
            selection.step,
            Arc::clone(&selection.plan),
        ));
        Ok((entry, selection.plan))
    }

    /// A path plan that does not parse: journaled and logged, then answered `400`.
    #[inline(never)]
    fn bad_plan<W: Wire>(
        &mut self,
        wire: &mut W,
        head: &Head,
        arrived: Instant,
        bad: BadPlan,
        close: bool,
    ) -> Next {
        let ctx = self.ctx;
        let raw_head = &wire.input()[..head.len];
        let entry = self.entry(self.unrouted(arrived, raw_head, ctx.healthy()));
        let reason = format!("bad plan: {}", bad.0);
        let peer = self.peer.to_string();
        ctx.conn_event(
            "bad-plan",
            &[
                ("conn", Val::Num(self.id)),
                ("peer", Val::Str(&peer)),
                ("target", Val::Str(head.target(raw_head))),
                ("reason", Val::Str(&reason)),
            ],
        );
        self.answer_bad_plan(wire, head, &entry, arrived, &reason, close)
    }

    /// A path plan that does not parse: `400` with the reason, after reading the body.
    #[inline(never)]
    fn answer_bad_plan<W: Wire>(
        &mut self,
        wire: &mut W,
        head: &Head,
        entry: &Entry,
        arrived: Instant,
        reason: &str,
        close: bool,
    ) -> Next {
        let ctx = self.ctx;
        let x = Exchange {
            head_len: head.len,
            head_only: head.is_head,
            version: head.version,
            body: head.body,
            close,
            expect_continue: head.expect_continue,
            seed: 0,
            read_timeout: ctx.settings.read_timeout,
            echo_budget: &ctx.echo_budget,
            entry: Some(entry),
        };
        let mut body = reason.as_bytes().to_vec();
        body.push(b'\n');
        let plan = crate::plan::Plan {
            status: Some(400),
            body: crate::plan::Body::Text(body),
            headers: vec![("Content-Type".into(), "text/plain".into())],
            ..crate::plan::HEALTHY
        };
        let mut report = |o: &Outcome| ctx.end(entry, o.status, o.bytes, o.end, arrived.elapsed());
        match exchange::run(&x, &plan, wire, &mut self.out, &mut report) {
            Ok(next) => next,
            Err(e) => {
                self.body_failed(wire, entry, arrived, e);
                Next::Done
            }
        }
    }

    /// The request body could not be read: journal it, answer if there is an answer.
    #[inline(never)]
    fn body_failed<W: Wire>(
        &mut self,
        wire: &mut W,
        entry: &Entry,
        arrived: Instant,
        e: BodyError,
    ) {
        let took = arrived.elapsed();
        match e {
            BodyError::PeerGone => self.ctx.end(entry, None, 0, End::PeerGone, took),
            BodyError::Timeout => {
                self.ctx.end(entry, None, 0, End::Timeout, took);
                wire.close(false);
            }
            BodyError::Bad(bad) => {
                let reason = bad.to_string();
                let peer = self.peer.to_string();
                self.ctx.conn_event(
                    "bad-request",
                    &[
                        ("conn", Val::Num(self.id)),
                        ("peer", Val::Str(&peer)),
                        ("status", Val::Num(u64::from(bad.status()))),
                        ("reason", Val::Str(&reason)),
                    ],
                );
                let bytes = self.error_response(wire, bad.status(), &reason);
                self.ctx
                    .end(entry, Some(bad.status()), bytes, End::Close, took);
                wire.close(true);
            }
            BodyError::EchoBusy => {
                let reason = "echo memory in use by other connections; try again";
                let bytes = self.error_response(wire, 503, reason);
                self.ctx.end(entry, Some(503), bytes, End::Close, took);
                wire.close(false);
            }
        }
    }

    /// Writes a small error response with `Connection: close`; returns the bytes written.
    fn error_response<W: Wire>(&mut self, wire: &mut W, status: u16, reason: &str) -> u64 {
        let mut body = reason.as_bytes().to_vec();
        body.push(b'\n');
        let bytes = response::simple_response(status, "text/plain", &body, true);
        match wire.write_all(&bytes) {
            Ok(()) => bytes.len() as u64,
            Err(_) => 0,
        }
    }

    /// Reads until a complete request head is at the front of the wire's input.
    #[inline(never)]
    fn read_head<W: Wire>(
        &mut self,
        wire: &mut W,
        carry: Carry,
        first: bool,
    ) -> Result<Head, NoRequest> {
        let start = Instant::now();
        // The first head's time counts from the accept (the protocol decision read its first
        // bytes): a client cannot stretch it by sending one byte at a time.
        let head_deadline = match first {
            true => self.opened,
            false => start,
        } + self.ctx.settings.read_timeout;
        let idle_deadline = carry.idle.map(|d| start + d);
        let mut scan = request::HeadScan::default();
        // Whether this head's bytes came in a read made here (else it was pipelined behind the
        // last request, and arrives now, when its turn comes). The first head's bytes came in
        // the reads that told HTTP/1.1 from HTTP/2.
        let mut read = first;
        loop {
            if !wire.input().is_empty() {
                if let Some(kind) = carry.reuse {
                    return Err(NoRequest::Reused(kind));
                }
                match scan.scan(wire.input()) {
                    Ok(Some(h)) => {
                        let input = wire.input();
                        return Ok(Head {
                            method: span(input, h.method),
                            target: span(input, h.target),
                            is_head: h.method == "HEAD",
                            version: h.version,
                            len: h.len,
                            body: h.body,
                            close: h.close,
                            expect_continue: h.expect_continue,
                            // The time of the read that completed it: no clock call of its own.
                            arrived: if read {
                                wire.last_data()
                            } else {
                                Instant::now()
                            },
                        });
                    }
                    Ok(None) => {}
                    Err(e) => return Err(NoRequest::Bad(e)),
                }
            }
            let empty = wire.input().is_empty();
            let deadline = match idle_deadline {
                Some(idle) if empty => idle.min(head_deadline),
                _ => head_deadline,
            };
            match wire.fill(deadline, request::MAX_HEAD) {
                Fill::Data(_) => read = true,
                Fill::Eof if wire.input().is_empty() => return Err(NoRequest::Closed),
                Fill::Eof | Fill::Gone => return Err(NoRequest::PeerGone),
                Fill::Full => return Err(NoRequest::Bad(RequestError::HeadTooLarge)),
                Fill::Timeout => {
                    let idle_over = empty && idle_deadline.is_some_and(|d| d <= Instant::now());
                    return Err(if idle_over {
                        NoRequest::Idle
                    } else {
                        NoRequest::Timeout
                    });
                }
            }
        }
    }

    /// Ends a connection on which no request could be served, saying why in the log (and,
    /// for a request that `reuse=` kills, in the journal with what was read of it).
    #[inline(never)]
    fn no_request<W: Wire>(&mut self, wire: &mut W, why: NoRequest) {
        let peer = self.peer.to_string();
        let base = [("conn", Val::Num(self.id)), ("peer", Val::Str(&peer))];
        let event = |name: &str, end: &str, extra: &[(&str, Val<'_>)]| {
            let mut fields: Vec<(&str, Val<'_>)> = base.to_vec();
            fields.extend_from_slice(extra);
            fields.push(("end", Val::Str(end)));
            self.ctx.conn_event(name, &fields);
        };
        match why {
            NoRequest::Closed => {}
            NoRequest::PeerGone => event("peer-gone", "peer-gone", &[]),
            NoRequest::Timeout => {
                event("timeout", "timeout", &[]);
                wire.close(false);
            }
            NoRequest::Idle => {
                event("idle", "close", &[]);
                wire.close(false);
            }
            NoRequest::Reused(kind) => {
                // Journaled and logged before the connection ends, so a client that retries
                // at once finds the killed request already there.
                let arrived = Instant::now();
                let plan = Plan {
                    reuse: Some(kind),
                    ..HEALTHY
                };
                let entry = self.entry(self.unrouted(arrived, wire.input(), Arc::new(plan)));
                let end = match kind {
                    EndKind::Reset => End::Reset,
                    _ => End::Close,
                };
                self.ctx.end(&entry, None, 0, end, arrived.elapsed());
                event("reuse", end.name(), &[]);
                match kind {
                    EndKind::Reset => wire.reset(),
                    _ => wire.close(true),
                }
            }
            NoRequest::Bad(e) => {
                let reason = e.to_string();
                // A client that does not speak HTTP/1.x gets no HTTP/1.1 answer.
                let status = (e != RequestError::NotHttp).then(|| e.status());
                let shown = status.map_or(Val::Raw("-"), |s| Val::Num(u64::from(s)));
                event(
                    "bad-request",
                    "close",
                    &[("status", shown), ("reason", Val::Str(&reason))],
                );
                // Journaled with what was read of it (a control listener's are not: its
                // requests never are).
                let arrived = Instant::now();
                let entry = (!self.control_only).then(|| {
                    self.ctx
                        .begin(self.unrouted(arrived, wire.input(), self.ctx.healthy()))
                });
                let bytes = status.map_or(0, |s| self.error_response(wire, s, &reason));
                if let Some(entry) = entry {
                    // Logged once, as the bad-request event above.
                    self.ctx
                        .end_unlogged(&entry, status, bytes, End::Close, arrived.elapsed());
                }
                wire.close(true);
            }
        }
    }
}

/// Serves a connection of the `--control` listener: every request goes to the control API.
#[inline(never)]
pub fn serve_control(ctx: &Ctx, wire: &mut SocketWire<'_>, id: u64, peer: SocketAddr) {
    let mut conn = Conn {
        ctx,
        id,
        peer,
        opened: Instant::now(),
        out: Vec::new(),
        upstream: &mut Plans,
        memo: exchange::Remembered::default(),
        control_only: true,
        tls: None,
    };
    let mut carry = Carry::default();
    loop {
        let head = match conn.read_head(wire, carry, false) {
            Ok(head) => head,
            Err(why) => return conn.no_request(wire, why),
        };
        match control::serve(ctx, wire, &head, head.close) {
            Next::KeepAlive(c) => carry = c,
            Next::Done => return,
        }
    }
}

/// `httpfault toxiproxy`: serves a connection of the API listener: requests under
/// `/__httpfault/` go to the control API, every other one to toxiproxy's API.
#[inline(never)]
pub fn serve_toxiproxy(
    ctx: &Ctx,
    toxiproxy: &Toxiproxy,
    wire: &mut SocketWire<'_>,
    id: u64,
    peer: SocketAddr,
) {
    let mut conn = Conn {
        ctx,
        id,
        peer,
        opened: Instant::now(),
        out: Vec::new(),
        upstream: &mut Plans,
        memo: exchange::Remembered::default(),
        control_only: true,
        tls: None,
    };
    let mut carry = Carry::default();
    loop {
        let head = match conn.read_head(wire, carry, false) {
            Ok(head) => head,
            Err(why) => return conn.no_request(wire, why),
        };
        let next = if ctx.is_control(head.target(wire.input())) {
            control::serve(ctx, wire, &head, head.close)
        } else {
            toxiproxy_api(ctx, toxiproxy, wire, &head)
        };
        match next {
            Next::KeepAlive(c) => carry = c,
            Next::Done => return,
        }
    }
}

/// One request of toxiproxy's API.
fn toxiproxy_api<W: Wire>(ctx: &Ctx, t: &Toxiproxy, wire: &mut W, head: &Head) -> Next {
    let req = match read_api_request(ctx, wire, head, api::MAX_BODY, &|s, why| {
        api::refusal(s, why).into()
    }) {
        Ok(req) => req,
        Err(next) => return next,
    };
    let r = api::handle(t, &req.method, &req.target, &req.user_agent, &req.body);
    write_api_reply(wire, r.into(), head.close, false)
}
