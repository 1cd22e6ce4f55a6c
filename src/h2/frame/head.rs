//! The 9-byte frame header (section 4.1).

/// Bytes of a frame header.
pub const HEAD_LEN: usize = 9;

/// Frame types (section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// 0x0.
    Data,
    /// 0x1.
    Headers,
    /// 0x2.
    Priority,
    /// 0x3.
    Reset,
    /// 0x4.
    Settings,
    /// 0x5.
    PushPromise,
    /// 0x6.
    Ping,
    /// 0x7.
    GoAway,
    /// 0x8.
    WindowUpdate,
    /// 0x9.
    Continuation,
    /// Anything else: ignored (section 4.1).
    Unknown(u8),
}

impl Kind {
    fn from(b: u8) -> Kind {
        match b {
            0 => Kind::Data,
            1 => Kind::Headers,
            2 => Kind::Priority,
            3 => Kind::Reset,
            4 => Kind::Settings,
            5 => Kind::PushPromise,
            6 => Kind::Ping,
            7 => Kind::GoAway,
            8 => Kind::WindowUpdate,
            9 => Kind::Continuation,
            n => Kind::Unknown(n),
        }
    }

    fn byte(self) -> u8 {
        match self {
            Kind::Data => 0,
            Kind::Headers => 1,
            Kind::Priority => 2,
            Kind::Reset => 3,
            Kind::Settings => 4,
            Kind::PushPromise => 5,
            Kind::Ping => 6,
            Kind::GoAway => 7,
            Kind::WindowUpdate => 8,
            Kind::Continuation => 9,
            Kind::Unknown(n) => n,
        }
    }
}

/// A frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Payload length (24 bits).
    pub len: u32,
    /// Type.
    pub kind: Kind,
    /// Flags.
    pub flags: u8,
    /// Stream identifier (the reserved bit cleared).
    pub stream: u32,
}

impl Head {
    /// Parses the first 9 bytes of `buf`; `None` if fewer are there.
    pub fn parse(buf: &[u8]) -> Option<Head> {
        let b = buf.get(..HEAD_LEN)?;
        Some(Head {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: Kind::from(b[3]),
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        })
    }

    /// Appends the header of a frame with a payload of `len` bytes.
    pub fn encode(kind: Kind, flags: u8, stream: u32, len: usize, dst: &mut Vec<u8>) {
        let len = u32::try_from(len).unwrap_or(u32::MAX).min(0xff_ffff);
        dst.extend_from_slice(&len.to_be_bytes()[1..]);
        dst.push(kind.byte());
        dst.push(flags);
        dst.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    }
}
