//! The open connections of one server, by number: what stops them when the server stops, and
//! the one-shot arbiter (`--once`: the first connection with a complete request head wins,
//! every other one is closed, the listener stops).
//!
//! The registry keeps raw descriptors, not `try_clone`d sockets: a live clone would keep a
//! socket open after its owner closed it, and turn a planned RST into nothing. Instead each
//! connection removes itself (under the lock) before its socket closes, so while an entry is
//! here its descriptor is that open socket, and a shutdown through it is safe.

use crate::sys;
use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
struct State {
    open: HashMap<u64, RawFd>,
    /// The server is stopping: no new connection may register.
    closed: bool,
    /// One-shot: the connection that won, if any.
    winner: Option<u64>,
}

/// Open connections.
#[derive(Default)]
pub struct Registry {
    state: Mutex<State>,
}

/// Removes its connection from the registry when dropped: declared after the socket's owner,
/// it drops first, so the descriptor leaves the registry before it is closed.
pub struct Registration<'a> {
    registry: &'a Registry,
    id: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.registry.lock().open.remove(&self.id);
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an open connection; `None` if the server is stopping or (one-shot) the one
    /// request was already taken.
    pub fn register(&self, id: u64, fd: RawFd) -> Option<Registration<'_>> {
        let mut st = self.lock();
        if st.closed || st.winner.is_some() {
            return None;
        }
        st.open.insert(id, fd);
        Some(Registration { registry: self, id })
    }

    /// Records a connection of the control listener: one-shot mode does not refuse it.
    pub fn register_control(&self, id: u64, fd: RawFd) -> Option<Registration<'_>> {
        let mut st = self.lock();
        if st.closed {
            return None;
        }
        st.open.insert(id, fd);
        Some(Registration { registry: self, id })
    }

    /// One-shot: connection `id` has a complete request head. The first caller wins: every
    /// other connection is shut down. The caller stops the listener.
    pub fn try_win(&self, id: u64) -> bool {
        let mut st = self.lock();
        match st.winner {
            Some(w) => w == id,
            None => {
                st.winner = Some(id);
                for (&other, &fd) in &st.open {
                    if other != id {
                        let _ = sys::shutdown_fd(fd);
                    }
                }
                true
            }
        }
    }

    /// Has a connection won the one-shot request?
    pub fn won(&self) -> bool {
        self.lock().winner.is_some()
    }

    /// Stops every open connection (blocked reads, waits and holds return at once) and
    /// refuses new ones.
    pub fn close_all(&self) {
        let mut st = self.lock();
        st.closed = true;
        for &fd in st.open.values() {
            let _ = sys::shutdown_fd(fd);
        }
    }
}
