//! A stream as an exchange, as HTTP/1's requests are: its plan is chosen (route, path plan,
//! the connection's SNI plan), it is journaled, its answer is worked out once the request is in
//! (or at once, when the plan does not wait for the body), and how it ended is reported once.

use super::conn::Conn;
use super::hpack::Fields;
use super::request::{self, Request};
use super::response::{self, Req};
use super::state::Closed;
use super::stream::{Phase, Stream};
use crate::control;
use crate::control::ctx::BadPlan;
use crate::control::journal::{End, Entry};
use crate::log::Val;
use crate::plan::steps::Proto;
use crate::plan::units::Unit;
use crate::plan::{Body, Plan};
use crate::sha256::Sha256;
use crate::shape::{Counter, Framing, Timeline};
use crate::wire::Wire;
use std::sync::Arc;

/// How a stream's plan was chosen.
struct Chosen {
    plan: Arc<Plan>,
    route: Option<Arc<str>>,
    step: Option<usize>,
    /// An answer the server makes itself (control API, bad plan).
    own: bool,
}

impl<W: Wire + ?Sized> Conn<'_, W> {
    /// Opens stream `id` for a request: chooses its plan and journals it. `before` is the
    /// stream opened before it (GOAWAY's last-stream-id when its plan says `goaway=`).
    pub(super) fn open(
        &mut self,
        id: u32,
        before: u32,
        req: Request,
        fields: &Fields,
        end_stream: bool,
    ) {
        let arrived = self.wire.now();
        let text_head = request::text_head(&req.method, &req.path, fields);
        let ctx = self.ctx;
        if ctx.settings.once && !*self.won && !ctx.is_control(&req.path) {
            if !ctx.registry.try_win(self.id) {
                // Another connection took the one request.
                super::frame::Reset::encode(
                    id,
                    super::frame::Reason::REFUSED_STREAM,
                    &mut self.out,
                );
                self.states.close(id, Closed::ByServer);
                return;
            }
            *self.won = true;
            ctx.stop_listening();
        }
        let control = ctx
            .is_control(&req.path)
            .then(|| (req.method.clone(), req.path.clone()));
        let chosen = if control.is_some() {
            Chosen {
                plan: ctx.healthy(),
                route: None,
                step: None,
                own: true,
            }
        } else {
            self.choose(id, &req)
        };
        let entry = control.is_none().then(|| {
            let t = ctx.journal.since_start(arrived);
            let logged = if chosen.own {
                ctx.healthy()
            } else {
                Arc::clone(&chosen.plan)
            };
            let e = Entry::new(
                t,
                self.id,
                self.peer,
                &text_head,
                chosen.route,
                chosen.step,
                logged,
            );
            let e = ctx.begin(e.with_tls(self.origin.tls.clone()));
            e.set_stream(id);
            e
        });
        let plan = chosen.plan;
        if !chosen.own {
            self.local.plan(plan.h2.maxstreams, &mut self.out);
        }
        if plan.h2.ping_timeout {
            self.ping.stop();
        }
        if plan.h2.goaway_keep {
            self.go_away.graceful(id, &mut self.out);
        }
        let mut stream = Stream::new(plan, arrived, self.remote.initial_window);
        stream.entry = entry;
        stream.before = before;
        stream.head_only = req.method == "HEAD";
        stream.text_head = text_head;
        stream.grpc_req = req.grpc;
        stream.content_length = req.content_length;
        stream.sha = (!end_stream).then(Sha256::default);
        stream.own = chosen.own;
        stream.control = control;
        if stream.plan.h2.grpc_read.is_some() && !end_stream {
            stream.req_messages = Some(Counter::new(Unit::Msg, 0, Framing::Plain));
        }
        let drain = stream.plan.drain;
        self.streams.insert(id, stream);
        self.progress = arrived;
        if end_stream {
            self.request_done(id);
        } else if !drain {
            self.prepare(id);
        }
    }

    /// The plan of a request that is not for the control API: its route's, or a `400` that
    /// names why the plan cannot be served (logged).
    fn choose(&self, id: u32, req: &Request) -> Chosen {
        let ctx = self.ctx;
        let conn_plan = self.origin.plan.as_ref();
        let selected = ctx
            .select(&req.method, &req.path, None, conn_plan)
            .and_then(|sel| {
                sel.plan.check_protocol(Proto::H2).map_err(BadPlan)?;
                Ok(sel)
            });
        match selected {
            Ok(sel) => Chosen {
                plan: sel.plan,
                route: sel.route,
                step: sel.step,
                own: false,
            },
            Err(BadPlan(e)) => {
                let reason = format!("bad plan: {e}");
                let peer = self.peer.to_string();
                ctx.conn_event(
                    "bad-plan",
                    &[
                        ("conn", Val::Num(self.id)),
                        ("peer", Val::Str(&peer)),
                        ("stream", Val::Num(u64::from(id))),
                        ("target", Val::Str(&req.path)),
                        ("reason", Val::Str(&reason)),
                    ],
                );
                Chosen {
                    plan: Arc::new(own_plan(400, &reason)),
                    route: None,
                    step: None,
                    own: true,
                }
            }
        }
    }

    /// The client's END_STREAM came (on DATA or trailers): the request is in.
    pub(super) fn request_done(&mut self, id: u32) {
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        s.req_done = true;
        if let Some(e) = &s.entry {
            e.set_body(s.body_len, s.sha.take().map(Sha256::finish));
        }
        if s.phase == Phase::Request {
            self.prepare(id);
        }
    }

    /// The request is in (or the plan does not wait for it): work out the answer.
    pub(super) fn prepare(&mut self, id: u32) {
        let now = self.wire.now();
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        if s.too_large {
            s.own = true;
            s.plan = Arc::new(own_plan(413, "request body too large to keep"));
        } else if let Some((method, target)) = &s.control {
            let r = control::handle(self.ctx, method, target, &s.body);
            s.plan = Arc::new(Plan {
                status: Some(r.status),
                body: Body::Text(r.body),
                headers: vec![("content-type".into(), r.content_type.into())],
                ..crate::plan::HEALTHY
            });
        }
        let req = Req {
            head_only: s.head_only,
            grpc: s.grpc_req,
            text_head: &s.text_head,
            body: &s.body,
        };
        let answer = response::answer(&s.plan, &req);
        let len = answer.body.len();
        let mut delay = s.plan.delay.unwrap_or_default();
        let mut pauses = Vec::new();
        for &(off, d) in &s.plan.pauses {
            match response::body_offset(off, len) {
                Some(at) => pauses.push((at, d)),
                // `head:N`: before HEADERS, the head being one frame.
                None => delay += d,
            }
        }
        // The cut's kind is the answer's (`Cut`); the timeline only says when.
        let cut = answer
            .cut
            .and_then(|(_, at)| at)
            .map(|at| (at, crate::plan::EndKind::Reset));
        let counter = s
            .plan
            .message_unit()
            .map(|u| Counter::new(u, 0, Framing::Plain));
        let mut timeline = Timeline::new(pauses, cut, s.plan.rate, counter);
        // `grpc-messages=N,INTERVAL`: a pause after each message but the last, found in the
        // payload as it is fed (after the plan's pauses and cut at the same offset).
        let between = answer.body.messages().saturating_sub(1);
        timeline.beat(s.plan.h2.grpc_every, between, Unit::Msg, 0, Framing::Plain);
        if !timeline.counts_messages() {
            // Nothing to find in the payload: every byte is there to send.
            timeline.advance(len);
        }
        s.timeline = Some(timeline);
        s.answer = Some(answer);
        s.phase = Phase::Head;
        s.wake = Some(now + delay);
        s.body = Vec::new();
    }

    /// The answer was sent whole.
    pub(super) fn complete(&self, s: &mut Stream) {
        self.report(s, End::Complete);
    }

    /// The stream sends nothing more but stays open (stall, headers-only).
    pub(super) fn hold(&self, s: &mut Stream) {
        self.report(s, End::Hang);
        s.phase = Phase::Held;
        s.wake = None;
    }

    /// Journals how the stream ended (once).
    pub(super) fn report(&self, s: &mut Stream, end: End) {
        if s.reported {
            return;
        }
        s.reported = true;
        if let Some(e) = &s.entry {
            if !s.req_done {
                // The request still arriving (`grpc-read`, a cut, a client that left): what
                // came of its body so far.
                e.set_body(s.body_len, None);
            }
            self.ctx.end(e, s.status, s.sent, end, s.arrived.elapsed());
        }
    }
}

/// A plain answer the server makes itself (bad plan, too large, control API).
pub(super) fn own_plan(status: u16, reason: &str) -> Plan {
    let mut body = reason.as_bytes().to_vec();
    body.push(b'\n');
    Plan {
        status: Some(status),
        body: Body::Text(body),
        headers: vec![("content-type".into(), "text/plain".into())],
        ..crate::plan::HEALTHY
    }
}
