//! SETTINGS (RFC 9113 section 6.5) both ways: what the server advertises (its SETTINGS, the
//! first frame it sends, and SETTINGS_MAX_CONCURRENT_STREAMS once more when the connection's
//! first stream's plan says `maxstreams=N`), and what the client's SETTINGS change in how the
//! server sends (its initial stream window, its largest frame). Pure.

use super::frame::{self, Setting, Settings};

/// Streams open at once (SETTINGS_MAX_CONCURRENT_STREAMS), and the most `maxstreams=N` may
/// set: the plan language refuses a larger N, so what is advertised is what is enforced.
pub const MAX_STREAMS: u32 = crate::plan::steps::MAX_CONCURRENT_STREAMS;
/// The HPACK dynamic table size the server allows (SETTINGS_HEADER_TABLE_SIZE, the default).
pub const TABLE_SIZE: usize = 4096;
/// Decoded header list (SETTINGS_MAX_HEADER_LIST_SIZE): names, values and 32 a field.
pub const MAX_HEADER_LIST: usize = 16 * 1024;
/// The receive window the server grants, for the connection and each stream (the initial
/// window, which the server keeps).
pub const RECV_WINDOW: u32 = frame::DEFAULT_WINDOW;

/// The server's side: what it advertised.
#[derive(Debug)]
pub struct Local {
    max_streams: u32,
    /// The first stream's plan was seen: its `maxstreams` is the connection's.
    planned: bool,
}

impl Local {
    /// Appends the server's SETTINGS: [`MAX_STREAMS`], [`RECV_WINDOW`], [`MAX_HEADER_LIST`],
    /// and no server push.
    pub fn start(out: &mut Vec<u8>) -> Local {
        Settings::encode(
            &[
                Setting::MaxConcurrentStreams(MAX_STREAMS),
                Setting::InitialWindowSize(RECV_WINDOW),
                Setting::MaxHeaderListSize(MAX_HEADER_LIST as u32),
                Setting::EnablePush(0),
            ],
            out,
        );
        Local {
            max_streams: MAX_STREAMS,
            planned: false,
        }
    }

    /// Streams the client may have open at once.
    pub fn max_streams(&self) -> u32 {
        self.max_streams
    }

    /// The plan of a stream (not an answer the server makes itself): the first one's
    /// `maxstreams=N` becomes the connection's limit, advertised in a SETTINGS of its own.
    pub fn plan(&mut self, maxstreams: Option<u32>, out: &mut Vec<u8>) {
        if std::mem::replace(&mut self.planned, true) {
            return;
        }
        if let Some(n) = maxstreams {
            self.max_streams = n.min(MAX_STREAMS);
            Settings::encode(&[Setting::MaxConcurrentStreams(self.max_streams)], out);
        }
    }
}

/// The client's side: what its SETTINGS said, as far as the server's sending goes.
#[derive(Debug)]
pub struct Remote {
    /// SETTINGS_INITIAL_WINDOW_SIZE: every new stream's send window.
    pub initial_window: u32,
    /// SETTINGS_MAX_FRAME_SIZE: the largest frame the server may send.
    pub max_frame: usize,
}

impl Default for Remote {
    fn default() -> Remote {
        Remote {
            initial_window: frame::DEFAULT_WINDOW,
            max_frame: frame::DEFAULT_MAX_FRAME as usize,
        }
    }
}

impl Remote {
    /// Takes a SETTINGS frame's values (the frame layer checked their ranges) and returns by
    /// how much every open stream's send window moves (section 6.9.2).
    pub fn apply(&mut self, values: &[Setting]) -> i64 {
        let before = self.initial_window;
        for v in values {
            match *v {
                Setting::InitialWindowSize(w) => self.initial_window = w,
                Setting::MaxFrameSize(n) => {
                    self.max_frame = usize::try_from(n).unwrap_or(usize::MAX)
                }
                _ => {}
            }
        }
        i64::from(self.initial_window) - i64::from(before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h2::frame::{Head, Kind};

    fn advertised(out: &[u8]) -> Vec<Setting> {
        let head = Head::parse(out).unwrap();
        assert_eq!(head.kind, Kind::Settings);
        let end = 9 + head.len as usize;
        assert_eq!(out.len(), end, "one frame");
        Settings::load(&head, &out[9..end]).unwrap().values
    }

    #[test]
    fn the_server_advertises_its_limits_first() {
        let mut out = Vec::new();
        let local = Local::start(&mut out);
        assert_eq!(local.max_streams(), MAX_STREAMS);
        assert_eq!(
            advertised(&out),
            [
                Setting::MaxConcurrentStreams(100),
                Setting::InitialWindowSize(65_535),
                Setting::MaxHeaderListSize(16_384),
                Setting::EnablePush(0),
            ]
        );
    }

    #[test]
    fn only_the_first_plan_sets_maxstreams_and_what_is_advertised_is_enforced() {
        let mut out = Vec::new();
        let mut local = Local::start(&mut out);
        out.clear();
        local.plan(Some(3), &mut out);
        assert_eq!(advertised(&out), [Setting::MaxConcurrentStreams(3)]);
        assert_eq!(local.max_streams(), 3);
        out.clear();
        local.plan(Some(7), &mut out);
        assert!(out.is_empty(), "a later plan changes nothing");
        assert_eq!(local.max_streams(), 3);

        // A first plan without maxstreams fixes the default for good.
        let mut local = Local::start(&mut out);
        out.clear();
        local.plan(None, &mut out);
        local.plan(Some(1), &mut out);
        assert!(out.is_empty());
        assert_eq!(local.max_streams(), MAX_STREAMS);

        // Beyond the bound (the plan language refuses it): the bound, advertised as such.
        let mut local = Local::start(&mut out);
        out.clear();
        local.plan(Some(500), &mut out);
        assert_eq!(advertised(&out), [Setting::MaxConcurrentStreams(100)]);
        assert_eq!(local.max_streams(), 100);
    }

    #[test]
    fn the_clients_initial_window_moves_every_stream_window_by_the_difference() {
        let mut r = Remote::default();
        assert_eq!(r.apply(&[Setting::InitialWindowSize(1000)]), 1000 - 65_535);
        assert_eq!(
            r.apply(&[
                Setting::InitialWindowSize(5),
                Setting::MaxFrameSize(20_000),
                Setting::InitialWindowSize(2000),
            ]),
            1000
        );
        assert_eq!(r.max_frame, 20_000);
        assert_eq!(r.apply(&[Setting::HeaderTableSize(0)]), 0);
    }
}
