//! What each frame from the client does (RFC 9113 section 6), with the stream states of
//! section 5.1 deciding what a frame for a stream that is not open means: a new stream, a
//! request's body or trailers, a reset, a window, SETTINGS, a PING. A broken rule is an
//! [`Error`]: a stream error (RST_STREAM) or a connection error (GOAWAY) with the code the RFC
//! names and debug text saying which rule.

use super::conn::{Block, Conn};
use super::exchange::own_plan;
use super::frame::{
    Continuation, Data, Error, Head, Headers, Kind, Ping, Priority, Reason, Reset, Settings,
    WindowUpdate,
};
use super::go_away::ConnError;
use super::hpack::{DecodeError, Fields};
use super::request;
use super::response::{self, MAX_KEPT_BODY};
use super::settings::MAX_HEADER_LIST;
use super::state::{Closed, Verdict};
use super::stream::Phase;
use crate::control::journal::End;
use crate::http1::exchange::MAX_HASHED_BODY;
use crate::plan::Body;
use crate::wire::Wire;
use std::sync::Arc;

/// Most bytes of one header block (HEADERS and its CONTINUATIONs); more is ENHANCE_YOUR_CALM.
pub const MAX_HEADER_BLOCK: usize = 64 * 1024;
/// Most CONTINUATION frames in one header block (the CONTINUATION flood of 2024).
pub const MAX_CONTINUATIONS: usize = 64;

fn conn(reason: Reason, why: &'static str) -> Error {
    Error::Conn(reason, why)
}

impl From<ConnError> for Error {
    fn from(e: ConnError) -> Error {
        Error::Conn(e.reason, e.why)
    }
}

/// A frame's fate on stream `id` (not open) as its state judged it.
fn judged(id: u32, v: Verdict) -> Result<(), Error> {
    match v {
        Verdict::Ignore => Ok(()),
        Verdict::Stream(reason) => Err(Error::Stream(id, reason)),
        Verdict::Conn(e) => Err(e.into()),
        // Only HEADERS opens a stream, and it is handled before it comes here.
        Verdict::Open => Err(conn(Reason::PROTOCOL_ERROR, "frame on an idle stream")),
    }
}

impl<W: Wire + ?Sized> Conn<'_, W> {
    /// Handles one complete frame.
    pub(super) fn frame(&mut self, head: &Head, payload: &[u8]) -> Result<(), Error> {
        if let Some(b) = &self.block {
            // Inside a header block only its CONTINUATIONs may come (section 6.10).
            if head.kind != Kind::Continuation || head.stream != b.stream {
                return Err(conn(
                    Reason::PROTOCOL_ERROR,
                    "a frame other than CONTINUATION inside a header block",
                ));
            }
        }
        match head.kind {
            Kind::Data => self.recv_data(Data::load(head, payload)?),
            Kind::Headers => self.recv_headers(Headers::load(head, payload)?),
            Kind::Continuation => self.recv_continuation(Continuation::load(head, payload)?),
            Kind::Priority => Priority::load(head, payload).map(drop),
            Kind::Reset => self.recv_reset(Reset::load(head, payload)?),
            Kind::Settings => self.recv_settings(Settings::load(head, payload)?),
            Kind::PushPromise => Err(conn(Reason::PROTOCOL_ERROR, "PUSH_PROMISE from a client")),
            Kind::Ping => {
                if let Some(data) = self.ping.recv(&Ping::load(head, payload)?) {
                    Ping::encode_ack(&data, &mut self.out);
                }
                Ok(())
            }
            Kind::GoAway => super::frame::GoAway::load(head, payload).map(drop),
            Kind::WindowUpdate => self.recv_window_update(WindowUpdate::load(head, payload)?),
            Kind::Unknown(_) => Ok(()),
        }
    }

    /// A frame for stream `id`, which is not open: what its state says.
    fn not_open(&mut self, kind: Kind, id: u32) -> Result<(), Error> {
        judged(id, self.states.verdict(kind, id))
    }

    fn recv_data(&mut self, d: Data<'_>) -> Result<(), Error> {
        // Flow control counts the whole payload, whatever becomes of the stream.
        self.recv_window
            .receive(d.flow_len)
            .map_err(|r| conn(r, "DATA beyond the connection's receive window"))?;
        let now = self.wire.now();
        let Some(s) = self.streams.get_mut(&d.stream) else {
            return self.not_open(Kind::Data, d.stream);
        };
        if s.req_done {
            // Half-closed (remote): the request had ended.
            return Err(Error::Stream(d.stream, Reason::STREAM_CLOSED));
        }
        s.recv
            .receive(d.flow_len)
            .map_err(|r| Error::Stream(d.stream, r))?;
        s.body_len += d.data.len() as u64;
        if s.content_length
            .is_some_and(|cl| s.body_len > cl || (d.end_stream && s.body_len != cl))
        {
            // DATA that does not add up to the content-length (section 8.1.1).
            return Err(Error::Stream(d.stream, Reason::PROTOCOL_ERROR));
        }
        if s.body_len > MAX_HASHED_BODY {
            s.sha = None;
        } else if let Some(h) = s.sha.as_mut() {
            h.update(d.data);
        }
        let keep = s.control.is_some()
            || ((matches!(s.plan.body, Body::Echo) || s.grpc_req)
                && response::needs_more(&s.plan, s.grpc_req, &s.body));
        if keep && !s.too_large && s.phase == Phase::Request {
            if s.body.len() + d.data.len() > MAX_KEPT_BODY {
                s.too_large = true;
                s.body = Vec::new();
            } else {
                s.body.extend_from_slice(d.data);
            }
        }
        if !d.data.is_empty() || d.end_stream {
            s.last_recv = now;
            self.progress = now;
        }
        // `grpc-read=N`: the answer starts with the N-th message, the request goes on.
        let read = s.plan.h2.grpc_read.unwrap_or(u64::MAX);
        let started = match s.req_messages.as_mut() {
            Some(c) if s.phase == Phase::Request => {
                c.scan(s.body_len - d.data.len() as u64, d.data);
                c.messages() >= read
            }
            _ => false,
        };
        if started {
            s.req_messages = None;
            self.prepare(d.stream);
        }
        if d.end_stream {
            self.request_done(d.stream);
        }
        Ok(())
    }

    fn recv_headers(&mut self, h: Headers<'_>) -> Result<(), Error> {
        if h.fragment.len() > MAX_HEADER_BLOCK {
            return Err(conn(Reason::ENHANCE_YOUR_CALM, "header block over 64 KiB"));
        }
        self.block = Some(Block {
            stream: h.stream,
            end_stream: h.end_stream,
            bytes: h.fragment.to_vec(),
            continuations: 0,
            since: self.wire.now(),
        });
        if h.end_headers {
            self.end_block()?;
        }
        Ok(())
    }

    fn recv_continuation(&mut self, c: Continuation<'_>) -> Result<(), Error> {
        let Some(b) = self.block.as_mut() else {
            return Err(conn(
                Reason::PROTOCOL_ERROR,
                "CONTINUATION outside a header block",
            ));
        };
        b.continuations += 1;
        if b.bytes.len() + c.fragment.len() > MAX_HEADER_BLOCK
            || b.continuations > MAX_CONTINUATIONS
        {
            return Err(conn(
                Reason::ENHANCE_YOUR_CALM,
                "header block over 64 KiB or 64 CONTINUATION frames",
            ));
        }
        b.bytes.extend_from_slice(c.fragment);
        if c.end_headers {
            self.end_block()?;
        }
        Ok(())
    }

    /// A complete header block: a new stream, or a request's trailers.
    fn end_block(&mut self) -> Result<(), Error> {
        let Some(block) = self.block.take() else {
            return Ok(());
        };
        let id = block.stream;
        // Decoded whatever becomes of the stream: the table must stay in step.
        let fields = match self.decoder.decode(&block.bytes, MAX_HEADER_LIST) {
            Ok(f) => Some(f),
            Err(DecodeError::ListTooLarge) => None,
            Err(_) => {
                return Err(conn(
                    Reason::COMPRESSION_ERROR,
                    "header block does not decode (HPACK)",
                ))
            }
        };
        if self.streams.contains_key(&id) {
            return self.trailers(id, block.end_stream, fields);
        }
        match self.states.verdict(Kind::Headers, id) {
            Verdict::Open => self.new_stream(id, block.end_stream, fields),
            v => judged(id, v),
        }
    }

    /// A header block on an open stream: the request's trailers, which must end it.
    fn trailers(&mut self, id: u32, end_stream: bool, fields: Option<Fields>) -> Result<(), Error> {
        let Some(s) = self.streams.get_mut(&id) else {
            return Ok(());
        };
        if s.req_done {
            // Half-closed (remote): the request had ended (section 5.1).
            return Err(Error::Stream(id, Reason::STREAM_CLOSED));
        }
        let malformed = !end_stream
            || fields
                .as_ref()
                .is_some_and(|f| request::check_trailers(f).is_err())
            || s.content_length.is_some_and(|cl| cl != s.body_len);
        if malformed {
            return Err(Error::Stream(id, Reason::PROTOCOL_ERROR));
        }
        let now = self.wire.now();
        s.last_recv = now;
        self.progress = now;
        self.request_done(id);
        Ok(())
    }

    /// HEADERS on an idle stream: a new stream, unless refused or malformed.
    fn new_stream(
        &mut self,
        id: u32,
        end_stream: bool,
        fields: Option<Fields>,
    ) -> Result<(), Error> {
        let before = self.states.open(id);
        if self.go_away.refuses(id)
            || *self.won
            || self.streams.len() >= self.local.max_streams() as usize
        {
            return Err(Error::Stream(id, Reason::REFUSED_STREAM));
        }
        let Some(fields) = fields else {
            // Over SETTINGS_MAX_HEADER_LIST_SIZE: 431, as HTTP/1 answers a head too large.
            let fields = vec![(b":method".to_vec(), b"GET".to_vec())];
            self.open(id, before, request::upgraded(&fields), &fields, end_stream);
            if let Some(s) = self.streams.get_mut(&id) {
                s.own = true;
                s.plan = Arc::new(own_plan(431, "request header fields too large"));
            }
            return Ok(());
        };
        let Ok(req) = request::check(&fields) else {
            return Err(Error::Stream(id, Reason::PROTOCOL_ERROR));
        };
        if end_stream && req.content_length.is_some_and(|cl| cl != 0) {
            // A content-length with no DATA to match it (section 8.1.1).
            return Err(Error::Stream(id, Reason::PROTOCOL_ERROR));
        }
        self.open(id, before, req, &fields, end_stream);
        Ok(())
    }

    fn recv_reset(&mut self, r: Reset) -> Result<(), Error> {
        let Some(mut s) = self.streams.remove(&r.stream) else {
            return self.not_open(Kind::Reset, r.stream);
        };
        self.report(&mut s, End::PeerGone);
        // Every stream the client resets while the server holds it counts (rapid reset).
        self.states.client_reset(r.stream)?;
        Ok(())
    }

    fn recv_window_update(&mut self, w: WindowUpdate) -> Result<(), Error> {
        if w.stream == 0 {
            return self
                .send_window
                .grow(w.increment)
                .map_err(|r| conn(r, "WINDOW_UPDATE takes the connection's window past 2^31-1"));
        }
        match self.streams.get_mut(&w.stream) {
            Some(s) => s
                .send_window
                .grow(w.increment)
                .map_err(|r| Error::Stream(w.stream, r)),
            None => self.not_open(Kind::WindowUpdate, w.stream),
        }
    }

    pub(super) fn recv_settings(&mut self, s: Settings) -> Result<(), Error> {
        if s.ack {
            return Ok(());
        }
        let delta = self.remote.apply(&s.values);
        if delta != 0 {
            for st in self.streams.values_mut() {
                st.send_window.shift(delta).map_err(|r| {
                    conn(
                        r,
                        "SETTINGS_INITIAL_WINDOW_SIZE takes a stream's window past 2^31-1",
                    )
                })?;
            }
        }
        Settings::encode_ack(&mut self.out);
        Ok(())
    }

    /// RST_STREAM for a stream error; the stream, if open, ends as `error`, and frames the
    /// client sent before it knew are ignored.
    pub(super) fn stream_error(&mut self, id: u32, reason: Reason) {
        Reset::encode(id, reason, &mut self.out);
        if let Some(mut s) = self.streams.remove(&id) {
            self.report(&mut s, End::Error);
        }
        self.states.close(id, Closed::ByServer);
    }

    /// Gives back window for what was read: the connection's always, a stream's unless its
    /// plan says `window=0` (then its upload stalls once the initial window is used).
    pub(super) fn give_window(&mut self) {
        if let Some(n) = self.recv_window.release() {
            super::frame::WindowUpdate::encode(0, n, &mut self.out);
        }
        for (&id, s) in self.streams.iter_mut() {
            if s.req_done || s.plan.h2.window0 {
                continue;
            }
            if let Some(n) = s.recv.release() {
                super::frame::WindowUpdate::encode(id, n, &mut self.out);
            }
        }
    }
}
