//! HTTP/2 error codes (RFC 9113 section 7) as the plan language names them (`rst=CODE`,
//! `goaway=CODE`). Here, below both the plan language and the HTTP/2 engine, so that the plan
//! does not depend on the engine; `h2::frame` re-exports it.

use std::fmt;

/// An error code (section 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reason(pub u32);

/// The error codes of section 7, by name as the plan language writes them.
pub static REASONS: [(&str, u32); 14] = [
    ("no_error", 0x0),
    ("protocol_error", 0x1),
    ("internal_error", 0x2),
    ("flow_control_error", 0x3),
    ("settings_timeout", 0x4),
    ("stream_closed", 0x5),
    ("frame_size_error", 0x6),
    ("refused_stream", 0x7),
    ("cancel", 0x8),
    ("compression_error", 0x9),
    ("connect_error", 0xa),
    ("enhance_your_calm", 0xb),
    ("inadequate_security", 0xc),
    ("http_1_1_required", 0xd),
];

impl Reason {
    /// NO_ERROR.
    pub const NO_ERROR: Reason = Reason(0x0);
    /// PROTOCOL_ERROR.
    pub const PROTOCOL_ERROR: Reason = Reason(0x1);
    /// INTERNAL_ERROR.
    pub const INTERNAL_ERROR: Reason = Reason(0x2);
    /// FLOW_CONTROL_ERROR.
    pub const FLOW_CONTROL_ERROR: Reason = Reason(0x3);
    /// STREAM_CLOSED.
    pub const STREAM_CLOSED: Reason = Reason(0x5);
    /// FRAME_SIZE_ERROR.
    pub const FRAME_SIZE_ERROR: Reason = Reason(0x6);
    /// REFUSED_STREAM.
    pub const REFUSED_STREAM: Reason = Reason(0x7);
    /// CANCEL.
    pub const CANCEL: Reason = Reason(0x8);
    /// COMPRESSION_ERROR.
    pub const COMPRESSION_ERROR: Reason = Reason(0x9);
    /// ENHANCE_YOUR_CALM.
    pub const ENHANCE_YOUR_CALM: Reason = Reason(0xb);

    /// A name (`cancel`, `refused_stream`, also with `-`, any case) or a number (decimal or
    /// `0x` hex) as the plan language takes it.
    pub fn parse(text: &str) -> Option<Reason> {
        let norm = text.to_ascii_lowercase().replace('-', "_");
        if let Some((_, code)) = REASONS.iter().find(|(n, _)| *n == norm) {
            return Some(Reason(*code));
        }
        let n = match norm.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None if norm.bytes().all(|b| b.is_ascii_digit()) => norm.parse().ok()?,
            None => return None,
        };
        Some(Reason(n))
    }

    /// The name of a known code.
    pub fn name(self) -> Option<&'static str> {
        REASONS.iter().find(|(_, c)| *c == self.0).map(|(n, _)| *n)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}
