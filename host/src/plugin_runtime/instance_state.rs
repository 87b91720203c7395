//! What each plugin instance's `Store` carries: its WASI context, its memory limiter, the
//! tail of its stderr, and the shared host services its imports delegate to.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::guest_io::StderrTail;
use super::limits::MemoryLimiter;
use crate::host_services::HostServices;

pub(crate) struct InstanceState {
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) stderr: StderrTail,
    pub(crate) services: Arc<HostServices>,
}

impl InstanceState {
    /// A fresh state: no preopened directories, no environment or arguments, no network
    /// (WASI's default denies every address), stdout discarded, stderr captured. Clocks and
    /// randomness are the host's.
    pub(crate) fn new(services: Arc<HostServices>, memory_limit_bytes: usize) -> Self {
        let stderr = StderrTail::default();
        let mut wasi = WasiCtx::builder();
        wasi.stdout(tokio::io::empty()).stderr(stderr.clone());
        Self {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_limit_bytes),
            stderr,
            services,
        }
    }
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
