//! GOAWAY (section 6.8).

use super::{Error, Head, Kind, Reason};

/// A GOAWAY frame.
#[derive(Debug, PartialEq, Eq)]
pub struct GoAway {
    /// The last stream the sender processed or may process.
    pub last_stream: u32,
    /// Why.
    pub reason: Reason,
}

impl GoAway {
    /// Checks a GOAWAY frame (debug data ignored).
    pub fn load(head: &Head, payload: &[u8]) -> Result<GoAway, Error> {
        if head.stream != 0 {
            return Err(Error::Conn(Reason::PROTOCOL_ERROR, "GOAWAY on a stream"));
        }
        if payload.len() < 8 {
            return Err(Error::Conn(
                Reason::FRAME_SIZE_ERROR,
                "GOAWAY shorter than 8 bytes",
            ));
        }
        Ok(GoAway {
            last_stream: super::u32_at(payload, 0) & 0x7fff_ffff,
            reason: Reason(super::u32_at(payload, 4)),
        })
    }

    /// Appends a GOAWAY frame with `debug` data.
    pub fn encode(last_stream: u32, reason: Reason, debug: &[u8], dst: &mut Vec<u8>) {
        Head::encode(Kind::GoAway, 0, 0, 8 + debug.len(), dst);
        dst.extend_from_slice(&(last_stream & 0x7fff_ffff).to_be_bytes());
        dst.extend_from_slice(&reason.0.to_be_bytes());
        dst.extend_from_slice(debug);
    }
}
