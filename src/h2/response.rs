//! What one HTTP/2 stream answers, worked out from its plan and request when the request is
//! complete: the HEADERS fields, the DATA payload as a source read at any offset (plain body,
//! filler, or gRPC length-prefixed messages), the trailers, and where the stream is cut. Pure.

use crate::http1::response::{DEFAULT_BODY, FILLER};
use crate::plan::{Body, EndKind, Ending, H2End, Length, Offset, Plan};
use crate::shape::{self, At};

/// Most request body bytes a stream keeps for `echo` and gRPC echo; a larger body gets `413`.
pub const MAX_KEPT_BODY: usize = 256 * 1024;

/// The request, as far as the response needs it.
pub struct Req<'a> {
    /// `HEAD`: no body.
    pub head_only: bool,
    /// `content-type: application/grpc...`.
    pub grpc: bool,
    /// The request as HTTP/1-style text (what `echo` sends back), head part.
    pub text_head: &'a [u8],
    /// The request body as kept.
    pub body: &'a [u8],
}

/// The DATA payload: bytes at any offset, generated, never held whole for filler and repeats.
#[derive(Debug)]
pub enum Source {
    /// Literal bytes.
    Bytes(Vec<u8>),
    /// A file's bytes (`file=`), shared with the plan.
    Shared(std::sync::Arc<[u8]>),
    /// `body=SIZE` filler, as HTTP/1 sends it.
    Filler(u64),
    /// `unit` over and over, `len` bytes in all (gRPC messages, each already
    /// length-prefixed; a `len` that is not a multiple ends inside a message).
    Repeat { unit: Vec<u8>, len: u64 },
}

impl Source {
    /// Total bytes.
    pub fn len(&self) -> u64 {
        match self {
            Source::Bytes(b) => b.len() as u64,
            Source::Shared(b) => b.len() as u64,
            Source::Filler(n) => *n,
            Source::Repeat { len, .. } => *len,
        }
    }

    /// gRPC messages begun in it (the last may be cut short); 0 when it is not messages.
    pub fn messages(&self) -> u64 {
        match self {
            Source::Repeat { unit, len } if !unit.is_empty() => len.div_ceil(unit.len() as u64),
            _ => 0,
        }
    }

    /// Appends bytes `from..from + n` (within the source).
    pub fn read(&self, from: u64, n: usize, dst: &mut Vec<u8>) {
        match self {
            Source::Bytes(b) => read_slice(b, from, n, dst),
            Source::Shared(b) => read_slice(b, from, n, dst),
            Source::Filler(_) => {
                dst.extend((0..n as u64).map(|i| FILLER[((from + i) % 64) as usize]));
            }
            Source::Repeat { unit, .. } => {
                let u = unit.len() as u64;
                if u == 0 {
                    return;
                }
                let mut pos = from;
                let end = from + n as u64;
                while pos < end {
                    let at = (pos % u) as usize;
                    let take = ((u - pos % u).min(end - pos)) as usize;
                    dst.extend_from_slice(&unit[at..at + take]);
                    pos += take as u64;
                }
            }
        }
    }
}

/// Appends bytes `from..from + n` of `b` (as far as it goes).
fn read_slice(b: &[u8], from: u64, n: usize, dst: &mut Vec<u8>) {
    let a = usize::try_from(from).unwrap_or(usize::MAX).min(b.len());
    dst.extend_from_slice(&b[a..a.saturating_add(n).min(b.len())]);
}

/// Where and how the stream is cut short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// RST_STREAM with this code.
    Rst(u32),
    /// GOAWAY with this code, then the connection ends.
    GoAway(u32),
    /// Nothing more on this stream.
    Stall,
    /// END_STREAM early: a body shorter than its `content-length` (`close=N`).
    EndEarly,
}

/// A stream's answer.
#[derive(Debug)]
pub struct Answer {
    /// `:status`.
    pub status: u16,
    /// Response fields after `:status` (lowercase names).
    pub fields: Vec<(String, Vec<u8>)>,
    /// The DATA payload.
    pub body: Source,
    /// Trailer fields (gRPC), sent after the body with END_STREAM.
    pub trailers: Vec<(String, Vec<u8>)>,
    /// A gRPC trailers-only answer: one HEADERS with the trailers' fields and END_STREAM.
    pub trailers_only: bool,
    /// The cut: before HEADERS (`None`), or at this place of the DATA payload (bytes or
    /// messages).
    pub cut: Option<(Cut, Option<At>)>,
    /// HEADERS without END_STREAM, then nothing (`headers-only`).
    pub headers_only: bool,
}

/// Where `o` is in a DATA payload of `len` bytes (a byte offset past the end is the end);
/// `head:N` offsets act before HEADERS (the head is one frame and is never cut), so they are
/// `None`.
pub fn body_offset(o: Offset, len: u64) -> Option<At> {
    match o {
        Offset::Head(_) | Offset::Req(_) => None,
        o => Some(shape::place(o, 0, Some(len))),
    }
}

/// gRPC's percent-encoding of `grpc-message` (printable ASCII but `%` stays as is).
fn grpc_percent(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for &b in text {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

/// Whether `plan` answers a request (`grpc`: with a gRPC content-type) the gRPC way.
pub fn grpc_answer(plan: &Plan, grpc: bool) -> bool {
    plan.h2.is_grpc() || (grpc && plan.body == Body::Default && plan.status.is_none())
}

/// Whether the answer of `plan` needs more of the request body than `kept`: a gRPC answer
/// echoes only the first message, so a client stream goes on past [`MAX_KEPT_BODY`]; any
/// other answer (`echo`) takes the whole body.
pub fn needs_more(plan: &Plan, grpc: bool, kept: &[u8]) -> bool {
    !grpc_answer(plan, grpc) || first_message(kept).is_none()
}

/// The first length-prefixed message of a gRPC request body, prefix included.
fn first_message(body: &[u8]) -> Option<&[u8]> {
    let len = u32::from_be_bytes(body.get(1..5)?.try_into().ok()?) as usize;
    body.get(..5usize.checked_add(len)?)
}

fn frame_message(payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(payload.len() + 5);
    m.push(0);
    m.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    m.extend_from_slice(payload);
    m
}

/// The DATA payload's length of a gRPC answer whose messages are `unit` bytes each (prefix
/// included), and whether its status is reached: `grpc-messages=N` messages (one, the echo,
/// without it; none for `grpc-status=CODE` alone), ended early by `grpc-status=CODE@N`.
/// `@N` past the messages there are is never reached: they all go, and the status is 0.
fn grpc_length(plan: &Plan, req_body: &[u8], unit: u64) -> (u64, bool) {
    let h2 = &plan.h2;
    let given = match (h2.grpc_messages, h2.grpc_status, &plan.body) {
        (Some(n), _, _) => Some(n),
        // `grpc-status=CODE` alone: trailers-only.
        (None, Some(_), Body::Default) if h2.grpc_status_at.is_none() => Some(0),
        (None, _, Body::Default | Body::Echo) if h2.grpc_status_at.is_none() => {
            Some(u64::from(first_message(req_body).is_some()))
        }
        (None, _, _) if h2.grpc_status_at.is_none() => Some(1),
        // `@N` alone: as many messages as it takes to reach it.
        (None, _, _) => None,
    };
    let Some(at) = h2.grpc_status_at else {
        return (given.unwrap_or(0).saturating_mul(unit), true);
    };
    let cut = at.n.saturating_mul(unit).saturating_add(at.plus);
    match given {
        None => (cut, true),
        Some(n) => {
            let all = n.saturating_mul(unit);
            (all.min(cut), cut <= all)
        }
    }
}

/// Works out the answer of `plan` to `req`.
pub fn answer(plan: &Plan, req: &Req<'_>) -> Answer {
    let h2 = &plan.h2;
    let grpc = grpc_answer(plan, req.grpc);
    let mut fields: Vec<(String, Vec<u8>)> = vec![("server".into(), b"httpfault".to_vec())];
    let mut trailers = Vec::new();
    let mut trailers_only = false;
    let body = if grpc {
        fields.push(("content-type".into(), b"application/grpc".to_vec()));
        let payload: Option<Vec<u8>> = match &plan.body {
            Body::Default | Body::Echo => first_message(req.body).map(<[u8]>::to_vec),
            Body::Filler(n) => {
                let n = usize::try_from(*n).unwrap_or(usize::MAX).min(MAX_KEPT_BODY);
                let mut b = Vec::new();
                Source::Filler(n as u64).read(0, n, &mut b);
                Some(frame_message(&b))
            }
            Body::Text(t) => Some(frame_message(t)),
            Body::File(f) => Some(frame_message(&f.bytes)),
            // HTTP/1.1 only for now: refused by the plan's protocol check.
            Body::Sse(_) => None,
        };
        let unit = payload.unwrap_or_else(|| frame_message(b""));
        let (len, reached) = grpc_length(plan, req.body, unit.len() as u64);
        let status = match (h2.grpc_status, reached) {
            (Some(code), true) => code,
            _ => 0,
        };
        if !h2.no_trailers {
            trailers.push(("grpc-status".into(), status.to_string().into_bytes()));
            if let (Some(m), true) = (&h2.grpc_message, reached) {
                trailers.push(("grpc-message".into(), grpc_percent(m)));
            }
            if let (Some(ms), true) = (h2.grpc_pushback, reached) {
                trailers.push(("grpc-retry-pushback-ms".into(), ms.to_string().into_bytes()));
            }
            trailers_only = len == 0;
        }
        Source::Repeat { unit, len }
    } else {
        match &plan.body {
            Body::Default => Source::Bytes(DEFAULT_BODY.to_vec()),
            Body::Filler(n) => Source::Filler(*n),
            Body::Text(t) => Source::Bytes(t.clone()),
            Body::File(f) => Source::Shared(f.bytes.clone()),
            // HTTP/1.1 only for now: refused by the plan's protocol check.
            Body::Sse(_) => Source::Bytes(Vec::new()),
            Body::Echo => {
                let mut b = req.text_head.to_vec();
                b.extend_from_slice(req.body);
                Source::Bytes(b)
            }
        }
    };
    let status = plan.status.unwrap_or(200);
    // 1xx, 204 and 304 have no content (RFC 9110 section 6.4.1): a client treats DATA or a
    // content-length on them as a malformed response.
    let no_body = crate::http1::response::no_body_status(status);
    // A HEAD answer declares the length the GET answer would have.
    let full_len = body.len();
    let body = if req.head_only || no_body {
        Source::Bytes(Vec::new())
    } else {
        body
    };
    let len = body.len();
    if !grpc && !no_body {
        match plan.length {
            Length::Auto => {
                fields.push(("content-length".into(), full_len.to_string().into_bytes()))
            }
            Length::Declared(n) => {
                fields.push(("content-length".into(), n.to_string().into_bytes()))
            }
            Length::Omitted => {}
        }
    }
    for (n, v) in &plan.headers {
        fields.push((n.to_ascii_lowercase(), v.clone().into_bytes()));
    }
    let at = |o: Option<Offset>| o.and_then(|o| body_offset(o, len));
    let cut = match (h2.end, plan.ending) {
        (Some(H2End::Rst(code, o)), _) => Some((Cut::Rst(code), at(o))),
        (Some(H2End::GoAway(code, o)), _) => Some((Cut::GoAway(code), at(o))),
        (Some(H2End::Stall(o)), _) => Some((Cut::Stall, at(Some(o)))),
        (Some(H2End::NoHeaders), _) => Some((Cut::Stall, None)),
        (Some(H2End::HeadersOnly), _) => None,
        // `reset`: RST_STREAM INTERNAL_ERROR; `close`: a clean early END_STREAM (RST_STREAM
        // NO_ERROR before the head); `hang`: nothing more on the stream.
        (None, Some(Ending { kind, at: o })) => {
            let off = at(o);
            Some(match kind {
                EndKind::Reset => (Cut::Rst(0x2), off),
                EndKind::Close if off.is_none() => (Cut::Rst(0x0), None),
                EndKind::Close => (Cut::EndEarly, off),
                EndKind::Hang => (Cut::Stall, off),
            })
        }
        (None, None) => None,
    };
    Answer {
        status,
        fields,
        body,
        trailers,
        trailers_only,
        cut,
        headers_only: h2.end == Some(H2End::HeadersOnly),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::units::Unit;

    fn plan(t: &str) -> Plan {
        Plan::parse(t).unwrap()
    }

    const GRPC_REQ: &[u8] = b"\x00\x00\x00\x00\x02hi";

    fn req(grpc: bool) -> Req<'static> {
        Req {
            head_only: false,
            grpc,
            text_head: b"POST /x HTTP/2\r\n\r\n",
            body: GRPC_REQ,
        }
    }

    fn body(a: &Answer) -> Vec<u8> {
        let mut b = Vec::new();
        a.body.read(0, a.body.len() as usize, &mut b);
        b
    }

    #[test]
    fn plain_answers_and_cuts() {
        let a = answer(&plan("status=503/header=Retry-After:1"), &req(false));
        assert_eq!(a.status, 503);
        assert!(a.fields.contains(&("retry-after".into(), b"1".to_vec())));
        assert_eq!(body(&a), b"Hello, world!");
        assert_eq!(
            answer(&plan("rst=cancel@1000"), &req(false)).cut,
            Some((Cut::Rst(8), Some(At::Byte(13))))
        );
        let a = answer(&plan("body=10k/rst=cancel@1000"), &req(false));
        assert_eq!(a.cut, Some((Cut::Rst(8), Some(At::Byte(1000)))));
        assert_eq!(
            answer(&plan("reset=6"), &req(false)).cut,
            Some((Cut::Rst(2), Some(At::Byte(6))))
        );
        assert_eq!(
            answer(&plan("goaway=0"), &req(false)).cut,
            Some((Cut::GoAway(0), None))
        );
        assert_eq!(
            answer(&plan("stall@5"), &req(false)).cut,
            Some((Cut::Stall, Some(At::Byte(5))))
        );
        assert!(answer(&plan("headers-only"), &req(false)).headers_only);
        let at = |unit, n, plus| Some(At::Msg { unit, n, plus });
        assert_eq!(
            answer(&plan("grpc-messages=5/rst=cancel@3msg"), &req(true)).cut,
            Some((Cut::Rst(8), at(Unit::Msg, 3, 0)))
        );
        assert_eq!(
            answer(&plan("stall@2msg+3"), &req(false)).cut,
            Some((Cut::Stall, at(Unit::Msg, 2, 3)))
        );
    }

    #[test]
    fn grpc_answers() {
        // `ok` on a gRPC request: the message echoed, status 0.
        let a = answer(&Plan::default(), &req(true));
        assert_eq!(body(&a), GRPC_REQ);
        assert_eq!(a.trailers, [("grpc-status".to_string(), b"0".to_vec())]);
        assert!(!a.trailers_only);
        // grpc-status alone: trailers-only.
        let a = answer(
            &plan("grpc-status=unavailable/grpc-message=down%20now"),
            &req(true),
        );
        assert!(a.trailers_only);
        assert_eq!(a.body.len(), 0);
        assert_eq!(a.trailers[0].1, b"14");
        assert_eq!(a.trailers[1].1, b"down now");
        // Three messages of text, then trailers; no-trailers drops them.
        let a = answer(&plan("grpc-messages=3/text=ab"), &req(true));
        assert_eq!(body(&a), b"\0\0\0\0\x02ab\0\0\0\0\x02ab\0\0\0\0\x02ab");
        let a = answer(&plan("grpc-messages=1/no-trailers"), &req(true));
        assert!(a.trailers.is_empty() && !a.trailers_only);
        assert_eq!(body(&a), GRPC_REQ);
    }

    #[test]
    fn grpc_status_after_n_messages_ends_the_stream_midway() {
        let trailer = |a: &Answer, name: &str| {
            a.trailers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        // Five messages of 7 bytes asked for, the status after the 2nd.
        let a = answer(
            &plan("grpc-messages=5/text=ab/grpc-status=unavailable@2"),
            &req(true),
        );
        assert_eq!(body(&a), b"\0\0\0\0\x02ab\0\0\0\0\x02ab");
        assert_eq!(trailer(&a, "grpc-status").as_deref(), Some("14"));
        assert!(!a.trailers_only);
        // `@N` alone: as many echoed messages as it takes; `2msg+3`: 3 bytes of the 3rd.
        let a = answer(&plan("grpc-status=unavailable@2"), &req(true));
        assert_eq!(a.body.len(), 2 * GRPC_REQ.len() as u64);
        let a = answer(&plan("grpc-status=internal@2msg+3"), &req(true));
        assert_eq!(a.body.len(), 2 * GRPC_REQ.len() as u64 + 3);
        assert_eq!(trailer(&a, "grpc-status").as_deref(), Some("13"));
        // `@0`: no message, a trailers-only answer.
        let a = answer(&plan("grpc-messages=3/grpc-status=aborted@0"), &req(true));
        assert!(a.trailers_only && a.body.len() == 0);
        // Past the messages there are: never reached, they all go with status 0.
        let a = answer(
            &plan("grpc-messages=2/grpc-status=unavailable@3/grpc-message=x/grpc-pushback=10"),
            &req(true),
        );
        assert_eq!(a.body.len(), 2 * GRPC_REQ.len() as u64);
        assert_eq!(trailer(&a, "grpc-status").as_deref(), Some("0"));
        assert_eq!(trailer(&a, "grpc-message"), None);
        assert_eq!(trailer(&a, "grpc-retry-pushback-ms"), None);
    }

    #[test]
    fn grpc_pushback_is_a_trailer_even_in_a_trailers_only_answer() {
        let a = answer(
            &plan("grpc-status=unavailable/grpc-pushback=-1"),
            &req(true),
        );
        assert!(a.trailers_only);
        assert!(a
            .trailers
            .contains(&("grpc-retry-pushback-ms".into(), b"-1".to_vec())));
        // Alone it makes a gRPC answer: the echo, status 0, and the trailer.
        let a = answer(&plan("grpc-pushback=250"), &req(true));
        assert_eq!(body(&a), GRPC_REQ);
        assert_eq!(
            a.trailers,
            [
                ("grpc-status".to_string(), b"0".to_vec()),
                ("grpc-retry-pushback-ms".to_string(), b"250".to_vec())
            ]
        );
    }

    #[test]
    fn a_source_counts_the_messages_it_begins() {
        let a = answer(&plan("grpc-messages=4/text=ab"), &req(true));
        assert_eq!(a.body.messages(), 4);
        let a = answer(&plan("grpc-status=internal@2msg+3"), &req(true));
        assert_eq!(a.body.messages(), 3);
        let a = answer(&plan("grpc-status=unavailable"), &req(true));
        assert_eq!(a.body.messages(), 0);
        assert_eq!(answer(&plan("body=10"), &req(false)).body.messages(), 0);
    }

    #[test]
    fn sources_read_at_any_offset() {
        let s = Source::Repeat {
            unit: b"abc".to_vec(),
            len: 9,
        };
        let mut out = Vec::new();
        s.read(2, 5, &mut out);
        assert_eq!(out, b"cabca");
        out.clear();
        Source::Filler(100).read(62, 4, &mut out);
        assert_eq!(out, b"-_ab");
    }
}
