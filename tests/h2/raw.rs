//! A raw HTTP/2 client for the tests: frames built by hand or with the crate's own frame
//! encoders, written to a real socket; the server's answers parsed by hand. Shared by the
//! `tests/h2*.rs` files (`#[path = "h2/raw.rs"] mod raw;`).

#![allow(dead_code)]

use super::common::{ms, Server};
use httpfault::fuzzing::h2::frame::{self as fr, Head, Kind};
use httpfault::fuzzing::h2::hpack::encoder;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A header block of plain literals.
pub fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in fields {
        encoder::field(&mut b, n.as_bytes(), v.as_bytes());
    }
    b
}

/// A POST to `path` with every pseudo-header field a request needs.
pub fn headers_block(path: &str) -> Vec<u8> {
    block(&[
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", "x"),
        (":path", path),
    ])
}

pub fn frame(kind: Kind, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Head::encode(kind, flags, stream, payload.len(), &mut out);
    out.extend_from_slice(payload);
    out
}

/// Opens a connection with the preface and an empty SETTINGS.
pub fn raw(s: &Server) -> TcpStream {
    let mut t = TcpStream::connect(s.addr).unwrap();
    t.set_read_timeout(Some(ms(200))).unwrap();
    t.write_all(fr::PREFACE).unwrap();
    t.write_all(&frame(Kind::Settings, 0, 0, &[])).unwrap();
    t
}

pub type Frames = Vec<(Head, Vec<u8>)>;

/// Reads frames for `time` (or until the connection ends): (head, payload) each.
pub fn read_frames(t: &mut TcpStream, time: Duration) -> (Frames, bool) {
    read_frames_until(t, time, |_| false)
}

/// [`read_frames`], stopping early once `done` holds for the frames read so far.
pub fn read_frames_until(
    t: &mut TcpStream,
    time: Duration,
    done: impl Fn(&[(Head, Vec<u8>)]) -> bool,
) -> (Frames, bool) {
    let deadline = Instant::now() + time;
    let mut buf = Vec::new();
    let mut ended = false;
    while Instant::now() < deadline && !done(&parse_frames(&buf)) {
        let mut chunk = [0u8; 65536];
        match t.read(&mut chunk) {
            Ok(0) => {
                ended = true;
                break;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                ended = true;
                break;
            }
        }
    }
    (parse_frames(&buf), ended)
}

pub fn parse_frames(buf: &[u8]) -> Frames {
    let mut frames = Vec::new();
    let mut at = 0;
    while let Some(h) = Head::parse(&buf[at..]) {
        let end = at + 9 + h.len as usize;
        if end > buf.len() {
            break;
        }
        frames.push((h, buf[at + 9..end].to_vec()));
        at = end;
    }
    frames
}

/// The first GOAWAY's error code.
pub fn goaway_code(frames: &[(Head, Vec<u8>)]) -> Option<u32> {
    goaway(frames).map(|(code, _)| code)
}

/// The first GOAWAY: its error code and debug text.
pub fn goaway(frames: &[(Head, Vec<u8>)]) -> Option<(u32, String)> {
    frames
        .iter()
        .find(|(h, _)| h.kind == Kind::GoAway)
        .map(|(_, p)| {
            let code = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
            (code, String::from_utf8_lossy(&p[8..]).into_owned())
        })
}

/// The error code of the first RST_STREAM on `stream`.
pub fn reset_code(frames: &[(Head, Vec<u8>)], stream: u32) -> Option<u32> {
    frames
        .iter()
        .find(|(h, _)| h.kind == Kind::Reset && h.stream == stream)
        .map(|(_, p)| u32::from_be_bytes([p[0], p[1], p[2], p[3]]))
}

/// A GOAWAY or the RST_STREAM of `stream` came.
pub fn goaway_or_reset(stream: u32) -> impl Fn(&[(Head, Vec<u8>)]) -> bool {
    move |f| goaway(f).is_some() || reset_code(f, stream).is_some()
}

/// The answer on `stream` ended (END_STREAM on its DATA or HEADERS).
pub fn answered(stream: u32) -> impl Fn(&[(Head, Vec<u8>)]) -> bool {
    move |f| {
        f.iter().any(|(h, _)| {
            h.stream == stream
                && matches!(h.kind, Kind::Data | Kind::Headers)
                && h.flags & fr::flag::END_STREAM != 0
        })
    }
}
