//! HEADERS (section 6.2) and CONTINUATION (section 6.10).

use super::{flag, unpad, Error, Head, Kind, Reason};

/// A HEADERS frame: its field block fragment, padding and priority removed.
#[derive(Debug, PartialEq, Eq)]
pub struct Headers<'a> {
    /// The stream.
    pub stream: u32,
    /// The start of the field block.
    pub fragment: &'a [u8],
    /// The request has no body.
    pub end_stream: bool,
    /// No CONTINUATION follows.
    pub end_headers: bool,
}

impl<'a> Headers<'a> {
    /// Checks a HEADERS frame.
    pub fn load(head: &Head, payload: &'a [u8]) -> Result<Headers<'a>, Error> {
        if head.stream == 0 {
            return Err(Error::Conn(Reason::PROTOCOL_ERROR, "HEADERS on stream 0"));
        }
        let (mut start, end) = unpad(head, payload)?;
        if head.flags & flag::PRIORITY != 0 {
            // Stream dependency (4) and weight (1); deprecated, read and ignored.
            start += 5;
            if start > end {
                return Err(Error::Conn(
                    Reason::FRAME_SIZE_ERROR,
                    "HEADERS too short for its priority fields",
                ));
            }
            let dep = super::u32_at(payload, start - 5) & 0x7fff_ffff;
            if dep == head.stream {
                return Err(Error::Stream(head.stream, Reason::PROTOCOL_ERROR));
            }
        }
        Ok(Headers {
            stream: head.stream,
            fragment: &payload[start..end],
            end_stream: head.flags & flag::END_STREAM != 0,
            end_headers: head.flags & flag::END_HEADERS != 0,
        })
    }

    /// Appends a HEADERS frame with `block`, split into CONTINUATION frames of at most
    /// `max_frame` bytes.
    pub fn encode(
        stream: u32,
        block: &[u8],
        end_stream: bool,
        max_frame: usize,
        dst: &mut Vec<u8>,
    ) {
        let max_frame = max_frame.max(1);
        let mut chunks = block.chunks(max_frame).peekable();
        let first = chunks.next().unwrap_or_default();
        let mut flags = if end_stream { flag::END_STREAM } else { 0 };
        if chunks.peek().is_none() {
            flags |= flag::END_HEADERS;
        }
        Head::encode(Kind::Headers, flags, stream, first.len(), dst);
        dst.extend_from_slice(first);
        while let Some(c) = chunks.next() {
            let flags = if chunks.peek().is_none() {
                flag::END_HEADERS
            } else {
                0
            };
            Head::encode(Kind::Continuation, flags, stream, c.len(), dst);
            dst.extend_from_slice(c);
        }
    }
}

/// A CONTINUATION frame.
#[derive(Debug, PartialEq, Eq)]
pub struct Continuation<'a> {
    /// The stream.
    pub stream: u32,
    /// More of the field block.
    pub fragment: &'a [u8],
    /// The block ends here.
    pub end_headers: bool,
}

impl<'a> Continuation<'a> {
    /// Checks a CONTINUATION frame.
    pub fn load(head: &Head, payload: &'a [u8]) -> Result<Continuation<'a>, Error> {
        if head.stream == 0 {
            return Err(Error::Conn(
                Reason::PROTOCOL_ERROR,
                "CONTINUATION on stream 0",
            ));
        }
        Ok(Continuation {
            stream: head.stream,
            fragment: payload,
            end_headers: head.flags & flag::END_HEADERS != 0,
        })
    }
}
