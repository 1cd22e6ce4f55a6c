//! PING (section 6.7).

use super::{flag, Error, Head, Kind, Reason};

/// A PING frame.
#[derive(Debug, PartialEq, Eq)]
pub struct Ping {
    /// The ACK flag.
    pub ack: bool,
    /// The opaque data, echoed in the answer.
    pub data: [u8; 8],
}

impl Ping {
    /// Checks a PING frame.
    pub fn load(head: &Head, payload: &[u8]) -> Result<Ping, Error> {
        if head.stream != 0 {
            return Err(Error::Conn(Reason::PROTOCOL_ERROR, "PING on a stream"));
        }
        let data: [u8; 8] = payload
            .try_into()
            .map_err(|_| Error::Conn(Reason::FRAME_SIZE_ERROR, "PING not of 8 bytes"))?;
        Ok(Ping {
            ack: head.flags & flag::ACK != 0,
            data,
        })
    }

    /// Appends the answer to a PING.
    pub fn encode_ack(data: &[u8; 8], dst: &mut Vec<u8>) {
        Head::encode(Kind::Ping, flag::ACK, 0, 8, dst);
        dst.extend_from_slice(data);
    }
}
