//! PRIORITY (section 6.3): deprecated; checked and ignored.

use super::{Error, Head, Reason};

/// A PRIORITY frame.
#[derive(Debug, PartialEq, Eq)]
pub struct Priority {
    /// The stream.
    pub stream: u32,
}

impl Priority {
    /// Checks a PRIORITY frame.
    pub fn load(head: &Head, payload: &[u8]) -> Result<Priority, Error> {
        if head.stream == 0 {
            return Err(Error::Conn(Reason::PROTOCOL_ERROR, "PRIORITY on stream 0"));
        }
        if payload.len() != 5 {
            return Err(Error::Stream(head.stream, Reason::FRAME_SIZE_ERROR));
        }
        let dep = super::u32_at(payload, 0) & 0x7fff_ffff;
        if dep == head.stream {
            return Err(Error::Stream(head.stream, Reason::PROTOCOL_ERROR));
        }
        Ok(Priority {
            stream: head.stream,
        })
    }
}
