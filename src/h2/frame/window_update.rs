//! WINDOW_UPDATE (section 6.9).

use super::{Error, Head, Kind, Reason};

/// A WINDOW_UPDATE frame.
#[derive(Debug, PartialEq, Eq)]
pub struct WindowUpdate {
    /// The stream, or 0 for the connection.
    pub stream: u32,
    /// The increment (1 to 2^31-1).
    pub increment: u32,
}

impl WindowUpdate {
    /// Checks a WINDOW_UPDATE frame.
    pub fn load(head: &Head, payload: &[u8]) -> Result<WindowUpdate, Error> {
        if payload.len() != 4 {
            return Err(Error::Conn(
                Reason::FRAME_SIZE_ERROR,
                "WINDOW_UPDATE not of 4 bytes",
            ));
        }
        let increment = super::u32_at(payload, 0) & 0x7fff_ffff;
        if increment == 0 {
            return Err(match head.stream {
                0 => Error::Conn(Reason::PROTOCOL_ERROR, "WINDOW_UPDATE of 0"),
                s => Error::Stream(s, Reason::PROTOCOL_ERROR),
            });
        }
        Ok(WindowUpdate {
            stream: head.stream,
            increment,
        })
    }

    /// Appends a WINDOW_UPDATE frame.
    pub fn encode(stream: u32, increment: u32, dst: &mut Vec<u8>) {
        Head::encode(Kind::WindowUpdate, 0, stream, 4, dst);
        dst.extend_from_slice(&(increment & 0x7fff_ffff).to_be_bytes());
    }
}
