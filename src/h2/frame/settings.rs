//! SETTINGS (section 6.5).

use super::{flag, Error, Head, Kind, Reason, MAX_WINDOW};

/// Setting identifiers (section 6.5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// 0x1.
    HeaderTableSize(u32),
    /// 0x2.
    EnablePush(u32),
    /// 0x3.
    MaxConcurrentStreams(u32),
    /// 0x4.
    InitialWindowSize(u32),
    /// 0x5.
    MaxFrameSize(u32),
    /// 0x6.
    MaxHeaderListSize(u32),
}

impl Setting {
    fn id_value(self) -> (u16, u32) {
        match self {
            Setting::HeaderTableSize(v) => (1, v),
            Setting::EnablePush(v) => (2, v),
            Setting::MaxConcurrentStreams(v) => (3, v),
            Setting::InitialWindowSize(v) => (4, v),
            Setting::MaxFrameSize(v) => (5, v),
            Setting::MaxHeaderListSize(v) => (6, v),
        }
    }
}

/// A SETTINGS frame: an acknowledgement, or a list of settings (unknown ones dropped).
#[derive(Debug, PartialEq, Eq)]
pub struct Settings {
    /// The ACK flag.
    pub ack: bool,
    /// The known settings, in order.
    pub values: Vec<Setting>,
}

impl Settings {
    /// Checks a SETTINGS frame and its values.
    pub fn load(head: &Head, payload: &[u8]) -> Result<Settings, Error> {
        if head.stream != 0 {
            return Err(Error::Conn(Reason::PROTOCOL_ERROR, "SETTINGS on a stream"));
        }
        let ack = head.flags & flag::ACK != 0;
        if (ack && !payload.is_empty()) || payload.len() % 6 != 0 {
            return Err(Error::Conn(
                Reason::FRAME_SIZE_ERROR,
                "SETTINGS of a bad length",
            ));
        }
        let mut values = Vec::new();
        for c in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([c[0], c[1]]);
            let v = super::u32_at(c, 2);
            values.push(match id {
                1 => Setting::HeaderTableSize(v),
                2 if v > 1 => {
                    return Err(Error::Conn(
                        Reason::PROTOCOL_ERROR,
                        "SETTINGS_ENABLE_PUSH above 1",
                    ))
                }
                2 => Setting::EnablePush(v),
                3 => Setting::MaxConcurrentStreams(v),
                4 if v > MAX_WINDOW => {
                    return Err(Error::Conn(
                        Reason::FLOW_CONTROL_ERROR,
                        "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
                    ))
                }
                4 => Setting::InitialWindowSize(v),
                5 if !(16_384..=16_777_215).contains(&v) => {
                    return Err(Error::Conn(
                        Reason::PROTOCOL_ERROR,
                        "SETTINGS_MAX_FRAME_SIZE out of 16384..=16777215",
                    ))
                }
                5 => Setting::MaxFrameSize(v),
                6 => Setting::MaxHeaderListSize(v),
                _ => continue,
            });
        }
        Ok(Settings { ack, values })
    }

    /// Appends a SETTINGS frame with `values`.
    pub fn encode(values: &[Setting], dst: &mut Vec<u8>) {
        Head::encode(Kind::Settings, 0, 0, values.len() * 6, dst);
        for s in values {
            let (id, v) = s.id_value();
            dst.extend_from_slice(&id.to_be_bytes());
            dst.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// Appends a SETTINGS acknowledgement.
    pub fn encode_ack(dst: &mut Vec<u8>) {
        Head::encode(Kind::Settings, flag::ACK, 0, 0, dst);
    }
}
