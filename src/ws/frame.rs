//! WebSocket frames (RFC 6455 section 5), pure: the client's frames parsed strictly and put
//! together into messages ([`Reader`]), the server's written ([`header`], [`frame`]). A
//! violation is a [`Fail`] carrying the close code the RFC asks for: 1002 (protocol error),
//! 1007 (invalid UTF-8 in a text message or a close reason), 1009 (a message over the limit).
//! Every buffer is bounded: a frame or a message larger than the limit fails before its
//! payload is read.

/// Continuation frame.
pub const CONT: u8 = 0x0;
/// Text frame.
pub const TEXT: u8 = 0x1;
/// Binary frame.
pub const BINARY: u8 = 0x2;
/// Connection close.
pub const CLOSE: u8 = 0x8;
/// Ping.
pub const PING: u8 = 0x9;
/// Pong.
pub const PONG: u8 = 0xA;

/// Largest payload of a control frame (section 5.5).
pub const MAX_CONTROL: usize = 125;
/// Longest frame header: 2 bytes, a 64-bit length, a mask.
pub const MAX_HEADER: usize = 14;
/// Default largest message a client may send (`--ws-max-message`).
pub const DEFAULT_MAX_MESSAGE: u64 = 16 * 1024 * 1024;

/// Why the client's frames fail the connection: the close code to send and a reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fail {
    /// 1002, 1007 or 1009.
    pub code: u16,
    /// Said in the close frame and the log.
    pub reason: &'static str,
}

const fn protocol(reason: &'static str) -> Fail {
    Fail { code: 1002, reason }
}

/// A frame's header, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// The FIN bit.
    pub fin: bool,
    /// The opcode.
    pub opcode: u8,
    /// The masking key (client frames always have one).
    pub mask: [u8; 4],
    /// Bytes of the header.
    pub len: usize,
    /// Bytes of the payload.
    pub payload: u64,
}

/// Parses a client frame's header at the front of `input`: `Ok(None)` while incomplete. A
/// header that breaks the rules fails at once, before its payload arrives; so does a frame
/// longer than `max` (1009).
pub fn parse_head(input: &[u8], max: u64) -> Result<Option<Head>, Fail> {
    let [b0, b1, ..] = *input else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(protocol("RSV bits set without an extension"));
    }
    let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0F);
    if !matches!(opcode, CONT | TEXT | BINARY | CLOSE | PING | PONG) {
        return Err(protocol("reserved opcode"));
    }
    if b1 & 0x80 == 0 {
        return Err(protocol("client frame not masked"));
    }
    let control = opcode & 0x8 != 0;
    // A control frame's length is in the 7 bits (at most 125): an extended length is an
    // error whatever its value, decided before the extension arrives (the fuzz target found a
    // 16-bit length of 0 accepted whole and refused in pieces).
    check_control(control, fin, u64::from(b1 & 0x7F))?;
    let (payload, at) = match b1 & 0x7F {
        126 => match input.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match input.get(2..10) {
            Some(b) => {
                let n = u64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
                if n >> 63 != 0 {
                    return Err(protocol("64-bit length with its top bit set"));
                }
                (n, 10)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if payload > max {
        return Err(Fail {
            code: 1009,
            reason: "message too big",
        });
    }
    let Some(m) = input.get(at..at + 4) else {
        return Ok(None);
    };
    Ok(Some(Head {
        fin,
        opcode,
        mask: [m[0], m[1], m[2], m[3]],
        len: at + 4,
        payload,
    }))
}

fn check_control(control: bool, fin: bool, len: u64) -> Result<(), Fail> {
    if control && len > MAX_CONTROL as u64 {
        return Err(protocol("control frame over 125 bytes"));
    }
    if control && !fin {
        return Err(protocol("fragmented control frame"));
    }
    Ok(())
}

/// Unmasks `payload` in place with `mask`.
pub fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    // Eight bytes at a time (every chunk starts at a multiple of 4: the mask lines up), then
    // the rest byte by byte.
    let [a, b, c, d] = mask;
    let key = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8])) ^ key;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

/// What the client's frames amount to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete message (text: valid UTF-8).
    Message {
        /// Text, else binary.
        text: bool,
        /// Its payload.
        data: Vec<u8>,
    },
    /// A ping, with its payload.
    Ping(Vec<u8>),
    /// A pong.
    Pong,
    /// A close frame: its code (`None`: no code) and reason.
    Close(Option<u16>, Vec<u8>),
    /// A frame of a message still coming.
    Fragment,
}

/// The largest buffer [`Reader::recycle`] keeps for the next frame (as small as a connection's
/// first read buffer): small messages then cost no allocation, and a connection gone idle after
/// them holds at most this much more.
const SPARE_MAX: usize = 256;

/// Puts the client's frames together into messages.
#[derive(Debug)]
pub struct Reader {
    /// The message being assembled: (text, bytes so far).
    partial: Option<(bool, Vec<u8>)>,
    max: u64,
    /// A message's buffer handed back, for the next frame's payload.
    spare: Vec<u8>,
}

impl Reader {
    /// A reader of messages of at most `max` bytes.
    pub fn new(max: u64) -> Reader {
        Reader {
            partial: None,
            max,
            spare: Vec::new(),
        }
    }

    /// Hands back a message's buffer once its echo is out: the next frame's payload goes into
    /// it (kept only up to [`SPARE_MAX`] bytes of capacity).
    pub fn recycle(&mut self, mut data: Vec<u8>) {
        if data.capacity() <= SPARE_MAX {
            data.clear();
            self.spare = data;
        }
    }

    /// Bytes of the message being put together.
    pub fn held(&self) -> u64 {
        self.partial.as_ref().map_or(0, |p| p.1.len() as u64)
    }

    /// Bytes the next frame needs in the input at most (a cap for reads).
    pub fn cap(&self) -> usize {
        let have = self.partial.as_ref().map_or(0, |p| p.1.len() as u64);
        usize::try_from(self.max.saturating_sub(have)).unwrap_or(usize::MAX) + MAX_HEADER
    }

    /// The next event from the frames at the front of `input`: `Ok(None)` while the next frame
    /// is incomplete, else the bytes it took and what it was.
    pub fn next(&mut self, input: &[u8]) -> Result<Option<(usize, Event)>, Fail> {
        let have = self.partial.as_ref().map_or(0, |p| p.1.len() as u64);
        let Some(h) = parse_head(input, self.max.saturating_sub(have))? else {
            return Ok(None);
        };
        // Fits in memory: parse_head bounded it by `max`.
        let end = h.len + h.payload as usize;
        let Some(raw) = input.get(h.len..end) else {
            return Ok(None);
        };
        let mut payload = std::mem::take(&mut self.spare);
        payload.extend_from_slice(raw);
        unmask(&mut payload, h.mask);
        let event = match h.opcode {
            PING => Event::Ping(payload),
            PONG => Event::Pong,
            CLOSE => close_event(payload)?,
            CONT => {
                let Some((text, mut data)) = self.partial.take() else {
                    return Err(protocol("continuation frame with no message started"));
                };
                data.extend_from_slice(&payload);
                self.finish(h.fin, text, data)?
            }
            op => {
                if self.partial.is_some() {
                    return Err(protocol("new message inside a fragmented one"));
                }
                self.finish(h.fin, op == TEXT, payload)?
            }
        };
        Ok(Some((end, event)))
    }

    fn finish(&mut self, fin: bool, text: bool, data: Vec<u8>) -> Result<Event, Fail> {
        if !fin {
            self.partial = Some((text, data));
            return Ok(Event::Fragment);
        }
        if text && std::str::from_utf8(&data).is_err() {
            return Err(Fail {
                code: 1007,
                reason: "invalid UTF-8 in a text message",
            });
        }
        Ok(Event::Message { text, data })
    }
}

/// A close frame's payload: nothing, or a valid code and a UTF-8 reason.
fn close_event(payload: Vec<u8>) -> Result<Event, Fail> {
    match payload.as_slice() {
        [] => Ok(Event::Close(None, Vec::new())),
        [_] => Err(protocol("close frame of one byte")),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !valid_close_code(code) {
                return Err(protocol("invalid close code"));
            }
            if std::str::from_utf8(reason).is_err() {
                return Err(Fail {
                    code: 1007,
                    reason: "invalid UTF-8 in a close reason",
                });
            }
            Ok(Event::Close(Some(code), reason.to_vec()))
        }
    }
}

/// A close code a peer may send (section 7.4): 1000-1003, 1007-1014 and 3000-4999.
pub fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Appends a server frame's header (unmasked): FIN, opcode, the payload's length.
pub fn header(out: &mut Vec<u8>, fin: bool, opcode: u8, len: u64) {
    out.push((u8::from(fin) << 7) | opcode);
    match len {
        0..=125 => out.push(len as u8),
        126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
}

/// Appends a whole server frame.
pub fn frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8]) {
    header(out, fin, opcode, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Appends a close frame with `code` and `reason` (cut to fit a control frame).
pub fn close(out: &mut Vec<u8>, code: u16, reason: &[u8]) {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(&reason[..reason.len().min(MAX_CONTROL - 2)]);
    frame(out, true, CLOSE, &p);
}

/// A client frame, masked (for tests and the fuzz target's seeds).
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    header(&mut out, fin, opcode, payload.len() as u64);
    out[1] |= 0x80;
    out.extend_from_slice(&mask);
    let mut p = payload.to_vec();
    unmask(&mut p, mask);
    out.extend_from_slice(&p);
    out
}

#[cfg(test)]
mod tests;
