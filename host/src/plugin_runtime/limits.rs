//! Per-instance limits: linear memory (through wasmtime's `ResourceLimiter`) and the epoch
//! deadline every call runs under (set by `pool.rs` before each call; values in
//! [`super::RuntimeConfig`]).
//!
//! A guest that asks for memory past the limit gets a failed `memory.grow`, not a trap. A
//! Rust guest then aborts (`handle_alloc_error` → `unreachable`), which surfaces as a trap;
//! [`MemoryLimiter`] remembers that it refused growth so that trap is reported as
//! `MemoryExhausted` rather than a generic trap.

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// Most table elements an instance may grow its tables to. Rust components use one small
/// function table; the cap stops a hostile guest from growing tables instead of memory.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// [`StoreLimits`] plus a record of whether it refused memory growth since the last reset.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    inner: StoreLimits,
    denied: bool,
}

impl MemoryLimiter {
    pub(crate) fn new(memory_limit_bytes: usize) -> Self {
        Self {
            inner: StoreLimitsBuilder::new()
                .memory_size(memory_limit_bytes)
                .table_elements(MAX_TABLE_ELEMENTS)
                // A refused growth returns -1 to the guest (the wasm semantics) instead of
                // trapping, so a guest that handles allocation failure may carry on.
                .trap_on_grow_failure(false)
                .build(),
            denied: false,
        }
    }

    /// Forgets earlier refusals; called before every guest call.
    pub(crate) fn reset(&mut self) {
        self.denied = false;
    }

    /// Whether memory growth was refused since the last [`Self::reset`].
    pub(crate) fn denied(&self) -> bool {
        self.denied
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        if !allowed {
            self.denied = true;
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.denied = true;
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}
