//! Flow control (RFC 9113 sections 5.2 and 6.9), both ways: the windows the client grants the
//! server's DATA (the connection's and each stream's; a smaller SETTINGS_INITIAL_WINDOW_SIZE can
//! drive them below zero), and the window the server grants the client's DATA, which it gives
//! back as it reads (for a `window=0` stream, never). Pure.

use super::frame::{Reason, MAX_WINDOW};

/// A window the client grants the server (section 6.9.1): what it may send now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendWindow(i64);

impl SendWindow {
    /// A window of `initial` bytes.
    pub fn new(initial: u32) -> SendWindow {
        SendWindow(i64::from(initial))
    }

    /// Bytes the server may send now (none while the window is at or below zero).
    pub fn available(self) -> u64 {
        u64::try_from(self.0).unwrap_or(0)
    }

    /// A WINDOW_UPDATE: a window past 2^31-1 is a FLOW_CONTROL_ERROR (section 6.9.1).
    pub fn grow(&mut self, increment: u32) -> Result<(), Reason> {
        self.shift(i64::from(increment))
    }

    /// SETTINGS_INITIAL_WINDOW_SIZE moved by `delta` (section 6.9.2): the window may go below
    /// zero, and past 2^31-1 is a FLOW_CONTROL_ERROR.
    pub fn shift(&mut self, delta: i64) -> Result<(), Reason> {
        let w = self.0.saturating_add(delta);
        if w > i64::from(MAX_WINDOW) {
            return Err(Reason::FLOW_CONTROL_ERROR);
        }
        self.0 = w;
        Ok(())
    }

    /// `n` bytes of DATA went out (at most [`available`](Self::available)).
    pub fn spend(&mut self, n: u64) {
        self.0 = self.0.saturating_sub(i64::try_from(n).unwrap_or(i64::MAX));
    }
}

/// The window the server grants the client's DATA (section 6.9): bytes received and not given
/// back yet may not pass its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvWindow {
    size: u32,
    unacked: u32,
}

impl RecvWindow {
    /// A window of `size` bytes, all of it open.
    pub fn new(size: u32) -> RecvWindow {
        RecvWindow { size, unacked: 0 }
    }

    /// DATA of `len` flow-controlled bytes (padding included) arrived: more than the window
    /// holds is a FLOW_CONTROL_ERROR.
    pub fn receive(&mut self, len: u32) -> Result<(), Reason> {
        match self.unacked.checked_add(len) {
            Some(used) if used <= self.size => {
                self.unacked = used;
                Ok(())
            }
            _ => Err(Reason::FLOW_CONTROL_ERROR),
        }
    }

    /// The WINDOW_UPDATE increment that gives back all that was received, if anything was.
    pub fn release(&mut self) -> Option<u32> {
        (self.unacked > 0).then(|| std::mem::take(&mut self.unacked))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_window_grows_shrinks_and_may_go_below_zero() {
        let mut w = SendWindow::new(100);
        w.spend(60);
        assert_eq!(w.available(), 40);
        // SETTINGS_INITIAL_WINDOW_SIZE from 100 to 10: 40 - 90 = -50, nothing may go.
        w.shift(-90).unwrap();
        assert_eq!(w.available(), 0);
        w.grow(50).unwrap();
        assert_eq!(w.available(), 0);
        w.grow(1).unwrap();
        assert_eq!(w.available(), 1);
    }

    #[test]
    fn a_send_window_past_2_pow_31_is_a_flow_control_error() {
        let mut w = SendWindow::new(MAX_WINDOW);
        assert_eq!(w.grow(1), Err(Reason::FLOW_CONTROL_ERROR));
        assert_eq!(
            w.available(),
            u64::from(MAX_WINDOW),
            "unchanged by the error"
        );
        let mut w = SendWindow::new(0);
        w.grow(MAX_WINDOW).unwrap();
        assert_eq!(w.shift(1), Err(Reason::FLOW_CONTROL_ERROR));
    }

    #[test]
    fn the_receive_window_bounds_what_the_client_sends_until_given_back() {
        let mut r = RecvWindow::new(10);
        assert_eq!(r.release(), None);
        r.receive(4).unwrap();
        r.receive(6).unwrap();
        assert_eq!(r.receive(1), Err(Reason::FLOW_CONTROL_ERROR));
        assert_eq!(r.release(), Some(10));
        assert_eq!(r.release(), None);
        r.receive(10).unwrap();
        assert_eq!(r.receive(u32::MAX), Err(Reason::FLOW_CONTROL_ERROR));
    }
}
