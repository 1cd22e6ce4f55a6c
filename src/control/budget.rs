//! Memory for request bodies held whole (`echo`, control API bodies): one budget a server,
//! shared by every connection, so that clients cannot make the server hold more than it.

use std::sync::atomic::{AtomicU64, Ordering};

/// Memory that `echo` may hold at once across all connections of a server: whatever clients
/// send, echoed bodies cannot take more than this.
pub struct EchoBudget {
    left: AtomicU64,
}

impl EchoBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: u64) -> EchoBudget {
        EchoBudget {
            left: AtomicU64::new(bytes),
        }
    }

    fn take(&self, n: u64) -> bool {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(n)
            })
            .is_ok()
    }

    fn give(&self, n: u64) {
        self.left.fetch_add(n, Ordering::AcqRel);
    }

    /// Takes `n` bytes for as long as the result lives (`None`: not that much is left). The
    /// control API's request bodies draw on the same budget as `echo`.
    pub fn reserve(&self, n: u64) -> Option<Reserved<'_>> {
        self.take(n).then(|| Reserved {
            budget: self,
            bytes: n,
        })
    }
}

/// Echo memory taken from an [`EchoBudget`], given back on drop: held as long as the echoed
/// body is, through `delay`, pauses and a slow client, not only while it is read.
pub struct Reserved<'a> {
    budget: &'a EchoBudget,
    bytes: u64,
}

impl Reserved<'_> {
    /// The bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        self.budget.give(self.bytes);
    }
}
