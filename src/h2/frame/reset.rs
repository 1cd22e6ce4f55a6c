//! RST_STREAM (section 6.4).

use super::{Error, Head, Kind, Reason};

/// A RST_STREAM frame.
#[derive(Debug, PartialEq, Eq)]
pub struct Reset {
    /// The stream.
    pub stream: u32,
    /// Why.
    pub reason: Reason,
}

impl Reset {
    /// Checks a RST_STREAM frame.
    pub fn load(head: &Head, payload: &[u8]) -> Result<Reset, Error> {
        if head.stream == 0 {
            return Err(Error::Conn(
                Reason::PROTOCOL_ERROR,
                "RST_STREAM on stream 0",
            ));
        }
        if payload.len() != 4 {
            return Err(Error::Conn(
                Reason::FRAME_SIZE_ERROR,
                "RST_STREAM not of 4 bytes",
            ));
        }
        Ok(Reset {
            stream: head.stream,
            reason: Reason(super::u32_at(payload, 0)),
        })
    }

    /// Appends a RST_STREAM frame.
    pub fn encode(stream: u32, reason: Reason, dst: &mut Vec<u8>) {
        Head::encode(Kind::Reset, 0, stream, 4, dst);
        dst.extend_from_slice(&reason.0.to_be_bytes());
    }
}
