//! DATA (section 6.1).

use super::{flag, unpad, Error, Head, Kind, Reason};

/// A DATA frame's payload, padding removed.
#[derive(Debug, PartialEq, Eq)]
pub struct Data<'a> {
    /// The stream.
    pub stream: u32,
    /// The data.
    pub data: &'a [u8],
    /// The last frame of the stream.
    pub end_stream: bool,
    /// Bytes that count against flow control: the whole payload, padding included.
    pub flow_len: u32,
}

impl<'a> Data<'a> {
    /// Checks and unpads a DATA frame.
    pub fn load(head: &Head, payload: &'a [u8]) -> Result<Data<'a>, Error> {
        if head.stream == 0 {
            return Err(Error::Conn(Reason::PROTOCOL_ERROR, "DATA on stream 0"));
        }
        let (start, end) = unpad(head, payload)?;
        Ok(Data {
            stream: head.stream,
            data: &payload[start..end],
            end_stream: head.flags & flag::END_STREAM != 0,
            flow_len: head.len,
        })
    }

    /// Appends a DATA frame carrying `data`.
    pub fn encode(stream: u32, data: &[u8], end_stream: bool, dst: &mut Vec<u8>) {
        let flags = if end_stream { flag::END_STREAM } else { 0 };
        Head::encode(Kind::Data, flags, stream, data.len(), dst);
        dst.extend_from_slice(data);
    }
}
