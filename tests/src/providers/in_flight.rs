//! How many requests a mock provider is answering at once, and the most it ever was: what
//! a test of the edge's per-provider concurrency cap asserts at the provider itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The current count and its high-water mark.
#[derive(Debug, Default)]
pub struct InFlight {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl InFlight {
    /// Counts one request until the guard drops.
    pub fn enter(self: &Arc<Self>) -> InFlightGuard {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        InFlightGuard {
            count: self.clone(),
        }
    }

    /// The most requests in flight at once so far.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

/// One request being answered.
pub struct InFlightGuard {
    count: Arc<InFlight>,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.count.now.fetch_sub(1, Ordering::SeqCst);
    }
}
