//! The HTTP/2 frame layer (RFC 9113 section 6): one small file per frame type, each a struct
//! with `load(head, payload)` that checks what the RFC requires of the frame on its own, and
//! `encode(dst)`. Which frame may come when (stream states, CONTINUATION sequences) is the
//! connection loop's business.

mod data;
mod go_away;
mod head;
mod headers;
mod ping;
mod priority;
mod reset;
mod settings;
mod window_update;

pub use data::Data;
pub use go_away::GoAway;
pub use head::{Head, Kind, HEAD_LEN};
pub use headers::{Continuation, Headers};
pub use ping::Ping;
pub use priority::Priority;
pub use reset::Reset;
pub use settings::{Setting, Settings};
pub use window_update::WindowUpdate;

pub use crate::plan::reason::{Reason, REASONS};

/// The client connection preface (section 3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// SETTINGS_MAX_FRAME_SIZE's initial value, and the size of every frame the server accepts.
pub const DEFAULT_MAX_FRAME: u32 = 16_384;
/// The initial flow-control window (section 6.9.2).
pub const DEFAULT_WINDOW: u32 = 65_535;
/// The largest flow-control window.
pub const MAX_WINDOW: u32 = (1 << 31) - 1;

/// Frame flags.
pub mod flag {
    /// DATA, HEADERS.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING.
    pub const ACK: u8 = 0x1;
    /// HEADERS, CONTINUATION.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS.
    pub const PADDED: u8 = 0x8;
    /// HEADERS.
    pub const PRIORITY: u8 = 0x20;
}

/// A frame that breaks a rule of section 6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A connection error: GOAWAY with this code, and its debug data: which rule broke.
    Conn(Reason, &'static str),
    /// A stream error: RST_STREAM of this stream with this code.
    Stream(u32, Reason),
}

/// Strips the padding of a PADDED frame (DATA, HEADERS): the pad length byte and the padding.
fn unpad(head: &Head, payload: &[u8]) -> Result<(usize, usize), Error> {
    if head.flags & flag::PADDED == 0 {
        return Ok((0, payload.len()));
    }
    let pad = usize::from(*payload.first().ok_or(Error::Conn(
        Reason::FRAME_SIZE_ERROR,
        "PADDED frame without its pad length",
    ))?);
    // Padding as long as the payload or longer is a PROTOCOL_ERROR (6.1, 6.2).
    if pad >= payload.len() {
        return Err(Error::Conn(
            Reason::PROTOCOL_ERROR,
            "padding as long as the payload",
        ));
    }
    Ok((1, payload.len() - pad))
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

#[cfg(test)]
mod tests;
