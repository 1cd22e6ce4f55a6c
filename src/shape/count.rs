//! Finding messages in a stream as it is fed: Server-Sent Events (`ev`) and length-prefixed
//! gRPC messages (`msg`), inside an HTTP/1.1 response (after its head; through chunk framing
//! when the body is chunked) or a bare payload (HTTP/2 DATA, a TCP direction). Pure, bounded
//! state, any input: a malformed stream only means fewer messages found.

use crate::plan::units::Unit;

/// How the payload is framed in the fed stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Every byte after the head is payload.
    Plain,
    /// `Transfer-Encoding: chunked`: chunk-size lines, CRLFs and trailers are not payload.
    Chunked,
    /// A WebSocket connection's server frames: every byte counts, and a message (`msg`) is a
    /// complete data message (its last frame's end), control frames between not counted.
    WebSocket,
}

/// Finds the messages of a stream and the offsets of the marks that wait for them.
#[derive(Clone, Debug)]
pub struct Counter {
    /// Stream offsets before this are not payload (an HTTP/1.1 response head).
    skip: u64,
    chunks: Option<Chunks>,
    parser: Parser,
    /// Complete messages so far.
    messages: u64,
    /// Payload bytes so far.
    payload: u64,
    watches: Vec<Watch>,
    /// Marks placed since the last [`Counter::take_found`]: (mark, offset).
    found: Vec<(usize, u64)>,
    /// The ends of messages up to this one are reported (an event generator's interval).
    report_upto: u64,
    /// Message ends found since the last [`Counter::take_ends`]: their offsets.
    ends: Vec<u64>,
}

#[derive(Clone, Copy, Debug)]
struct Watch {
    mark: usize,
    n: u64,
    plus: u64,
    /// Once message `n` ended: the payload count at which the mark is.
    due: Option<u64>,
}

impl Counter {
    /// Counts messages of `unit` in the payload of a stream whose first `skip` bytes are a
    /// head, framed as `framing`.
    pub fn new(unit: Unit, skip: u64, framing: Framing) -> Counter {
        Counter {
            skip,
            chunks: (framing == Framing::Chunked).then(Chunks::default),
            parser: match (unit, framing) {
                (Unit::Ev, _) => Parser::Sse(Sse::default()),
                (Unit::Msg, Framing::WebSocket) => Parser::Ws(WsFrames::default()),
                (Unit::Msg, _) => Parser::Prefixed(Prefixed::default()),
            },
            messages: 0,
            payload: 0,
            watches: Vec::new(),
            found: Vec::new(),
            report_upto: 0,
            ends: Vec::new(),
        }
    }

    /// Reports where each of the first `n` messages ends ([`Counter::take_ends`]).
    pub(super) fn report_ends(&mut self, n: u64) {
        self.report_upto = n;
    }

    /// Moves the offsets of the message ends found since the last call to `to`.
    pub(super) fn move_ends(&mut self, to: &mut std::collections::VecDeque<u64>) {
        to.extend(self.ends.drain(..));
    }

    /// Are message ends still to be reported?
    pub(super) fn ends_left(&self) -> bool {
        self.messages < self.report_upto
    }

    /// Watches for mark `mark`: after message `n`, then `plus` payload bytes.
    pub(super) fn watch(&mut self, mark: usize, n: u64, plus: u64) {
        self.watches.push(Watch {
            mark,
            n,
            plus,
            due: None,
        });
    }

    /// Is a mark still waiting, or a message end to be reported?
    pub(super) fn watching(&self) -> bool {
        !self.watches.is_empty() || self.ends_left()
    }

    /// The marks placed since the last call.
    pub(super) fn take_found(&mut self) -> Vec<(usize, u64)> {
        std::mem::take(&mut self.found)
    }

    /// Complete messages found so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Scans `bytes`, which start at stream offset `start`.
    pub fn scan(&mut self, start: u64, bytes: &[u8]) {
        let mut i = 0;
        // The head.
        if start < self.skip {
            let head = usize::try_from(self.skip - start).unwrap_or(usize::MAX);
            i = head.min(bytes.len());
        }
        while i < bytes.len() {
            let (used, payload) = match self.chunks.as_mut() {
                Some(c) => c.step(&bytes[i..]),
                None => (bytes.len() - i, bytes.len() - i),
            };
            // `used` bytes of framing and payload; the payload is the last `payload` of them
            // (a chunk step returns framing or payload, never both).
            let p0 = i + used - payload;
            if payload > 0 {
                self.payload_run(start + p0 as u64, &bytes[p0..p0 + payload]);
            }
            i += used.max(1);
        }
    }

    /// A run of payload bytes starting at stream offset `at`.
    fn payload_run(&mut self, at: u64, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            let (used, ended) = self.parser.advance(&bytes[i..]);
            self.dues_within(at + i as u64, used as u64);
            self.payload += used as u64;
            i += used;
            if ended {
                self.message_end(at + i as u64);
            }
            if used == 0 && !ended {
                break;
            }
        }
    }

    /// Marks whose payload count falls in the next `n` payload bytes, which start at `at`.
    fn dues_within(&mut self, at: u64, n: u64) {
        let (from, to) = (self.payload, self.payload + n);
        let found = &mut self.found;
        self.watches.retain(|w| match w.due {
            Some(due) if due > from && due <= to => {
                found.push((w.mark, at + (due - from)));
                false
            }
            _ => true,
        });
    }

    /// A message ended right before stream offset `at`.
    fn message_end(&mut self, at: u64) {
        self.messages += 1;
        if self.messages <= self.report_upto {
            self.ends.push(at);
        }
        let (k, payload) = (self.messages, self.payload);
        let found = &mut self.found;
        self.watches.retain_mut(|w| {
            if w.due.is_some() || w.n != k {
                return true;
            }
            if w.plus == 0 {
                found.push((w.mark, at));
                return false;
            }
            w.due = Some(payload + w.plus);
            true
        });
    }
}

/// The message grammar.
#[derive(Clone, Debug)]
enum Parser {
    Sse(Sse),
    Prefixed(Prefixed),
    Ws(WsFrames),
}

impl Parser {
    /// Takes payload bytes up to and including the end of a message, or all of them: (bytes
    /// used, whether a message ended right after them).
    fn advance(&mut self, bytes: &[u8]) -> (usize, bool) {
        match self {
            Parser::Sse(s) => s.advance(bytes),
            Parser::Prefixed(p) => p.advance(bytes),
            Parser::Ws(w) => w.advance(bytes),
        }
    }
}

/// The WHATWG event stream format: lines end with CRLF, LF or CR; a blank line dispatches the
/// event if a `data` field was seen since the last one (a block of comments or `retry:` alone
/// dispatches nothing, so it is not counted).
#[derive(Clone, Debug, Default)]
struct Sse {
    /// The first bytes of the current line, to tell a `data` field.
    line: [u8; 5],
    line_len: usize,
    has_data: bool,
    /// The last byte was a CR (a LF now is the rest of its line end).
    cr: bool,
    /// An event's blank line ended with a CR: it ends after the LF if one comes next.
    cr_end: bool,
}

impl Sse {
    fn advance(&mut self, bytes: &[u8]) -> (usize, bool) {
        if self.cr_end {
            self.cr_end = false;
            self.cr = false;
            return match bytes.first() {
                Some(b'\n') => (1, true),
                _ => (0, true),
            };
        }
        for (i, &b) in bytes.iter().enumerate() {
            let was_cr = std::mem::replace(&mut self.cr, b == b'\r');
            if b == b'\n' && was_cr {
                continue; // the LF of a CRLF: that line already ended
            }
            if b != b'\n' && b != b'\r' {
                if self.line_len < self.line.len() {
                    self.line[self.line_len] = b;
                }
                self.line_len = self.line_len.saturating_add(1);
                continue;
            }
            let blank = self.line_len == 0;
            if !blank {
                let l = &self.line[..self.line_len.min(5)];
                if l == b"data:" || (self.line_len == 4 && l == b"data") {
                    self.has_data = true;
                }
                self.line_len = 0;
                continue;
            }
            if self.has_data {
                self.has_data = false;
                if b == b'\r' {
                    self.cr_end = true;
                    return (i + 1, false);
                }
                return (i + 1, true);
            }
        }
        (bytes.len(), false)
    }
}

/// gRPC's length-prefixed messages: a flag byte, a 32-bit big-endian length, the message.
#[derive(Clone, Debug, Default)]
struct Prefixed {
    header: [u8; 5],
    have: usize,
    /// Bytes of the message still to come.
    left: u64,
}

impl Prefixed {
    fn advance(&mut self, bytes: &[u8]) -> (usize, bool) {
        let mut i = 0;
        while i < bytes.len() {
            if self.left > 0 {
                let take = usize::try_from(self.left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len() - i);
                self.left -= take as u64;
                i += take;
                if self.left == 0 {
                    return (i, true);
                }
                continue;
            }
            self.header[self.have] = bytes[i];
            self.have += 1;
            i += 1;
            if self.have == 5 {
                self.have = 0;
                let h = self.header;
                self.left = u64::from(u32::from_be_bytes([h[1], h[2], h[3], h[4]]));
                if self.left == 0 {
                    return (i, true);
                }
            }
        }
        (i, false)
    }
}

/// WebSocket frames (RFC 6455 section 5.2), as the server writes them: a message ends with the
/// payload of a data frame (text, binary, continuation) that has FIN set; control frames are
/// not messages. Lenient: any bytes walk through.
#[derive(Clone, Debug, Default)]
struct WsFrames {
    header: [u8; 14],
    have: usize,
    /// Bytes of the current frame's payload still to come.
    left: u64,
    /// The current frame ends a message.
    ends: bool,
}

impl WsFrames {
    /// The header's length once its first two bytes are known.
    fn header_len(&self) -> usize {
        let ext = match self.header[1] & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + ext + usize::from(self.header[1] >> 7) * 4
    }

    fn advance(&mut self, bytes: &[u8]) -> (usize, bool) {
        let mut i = 0;
        while i < bytes.len() {
            if self.left > 0 {
                let take = usize::try_from(self.left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len() - i);
                self.left -= take as u64;
                i += take;
                if self.left == 0 && self.ends {
                    return (i, true);
                }
                continue;
            }
            self.header[self.have] = bytes[i];
            self.have += 1;
            i += 1;
            if self.have < 2 || self.have < self.header_len() {
                continue;
            }
            let h = self.header;
            self.left = match h[1] & 0x7F {
                126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
                127 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
                n => u64::from(n),
            };
            self.have = 0;
            self.ends = h[0] & 0x80 != 0 && h[0] & 0x0F < 3;
            if self.left == 0 && self.ends {
                return (i, true);
            }
        }
        (i, false)
    }
}

/// A lenient chunked-framing walker: which bytes are payload. Malformed framing is read as
/// well as it can be; nothing here fails.
#[derive(Clone, Debug, Default)]
struct Chunks {
    state: ChunkState,
    size: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ChunkState {
    /// In a chunk-size line (hex digits).
    #[default]
    Size,
    /// In a chunk extension or the rest of the size line.
    SizeRest,
    /// In chunk data: `size` bytes left.
    Data,
    /// After chunk data, until its line end.
    DataEnd,
    /// After the last chunk: trailers, not payload.
    Trailers,
}

impl Chunks {
    /// Takes framing bytes, or payload bytes (one kind per call): (bytes used, payload bytes
    /// among them, which are all of them or none).
    fn step(&mut self, bytes: &[u8]) -> (usize, usize) {
        if self.state == ChunkState::Data {
            let take = usize::try_from(self.size)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            self.size -= take as u64;
            if self.size == 0 {
                self.state = ChunkState::DataEnd;
            }
            return (take, take);
        }
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            i += 1;
            match self.state {
                ChunkState::Size => match (b as char).to_digit(16) {
                    Some(d) => self.size = self.size.saturating_mul(16).saturating_add(d.into()),
                    None if b == b'\n' => return (i, self.line_end()),
                    None => self.state = ChunkState::SizeRest,
                },
                ChunkState::SizeRest if b == b'\n' => return (i, self.line_end()),
                ChunkState::DataEnd if b == b'\n' => {
                    self.state = ChunkState::Size;
                    self.size = 0;
                }
                _ => {}
            }
            if self.state == ChunkState::Data {
                return (i, 0);
            }
        }
        (i, 0)
    }

    /// The end of a size line: data follows, or the trailers after the last chunk.
    fn line_end(&mut self) -> usize {
        self.state = if self.size == 0 {
            ChunkState::Trailers
        } else {
            ChunkState::Data
        };
        0
    }
}
