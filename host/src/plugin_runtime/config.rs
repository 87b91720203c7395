//! Settings of the plugin runtime, with the defaults the edge runs with.

use std::path::PathBuf;
use std::time::Duration;

use super::child_compile::Compiler;

/// Where precompiled plugin artifacts are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ArtifactCache {
    /// `$XDG_CACHE_HOME/edge`, else `$HOME/.cache/edge`; off when neither is set.
    #[default]
    Default,
    /// This directory (`--cache-dir`).
    Dir(PathBuf),
    /// Compile on every start.
    Off,
}

/// Limits and sizes of the plugin runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub cache: ArtifactCache,
    /// Linear memory one instance may grow to. 64 MiB holds a large policy with its compiled
    /// CEL programs and a bounded request body several times over; a guest that wants more
    /// is broken or hostile, and failing its request is better than starving the host.
    pub memory_limit_bytes: usize,
    /// Longest a request-time call (`on-http-request`, `on-http-response`,
    /// `classify-failure`, `resume`) may run. Calls take tens of µs; 100 ms only stops a
    /// runaway loop, and at the 1 ms epoch tick it is enforced within a few ms.
    pub call_deadline: Duration,
    /// Added to `call_deadline` for every MiB of request body a call is handed. The plugin's
    /// work grows with the body (copying it into the guest, scanning its JSON once: about
    /// 10 ms per MiB on a busy 2-core machine, measured); 25 ms keeps that well inside the
    /// deadline, so a 10 MiB body has 350 ms while a small request keeps 100 ms.
    pub call_deadline_per_mib: Duration,
    /// Longest `load` may run: parsing and compiling every CEL expression of a large policy
    /// takes milliseconds, so this is generous, but a `load` that loops must still end.
    pub load_deadline: Duration,
    /// An instance is dropped and replaced after this many calls, so slow leaks or heap
    /// fragmentation inside the guest never accumulate for the life of the process.
    pub recycle_after_calls: u64,
    /// Most idle instances kept per loaded policy. Calls are short and synchronous, so at
    /// most one instance per thread calling into the plugin is busy at a time; more idle
    /// ones than worker threads would only hold memory.
    pub max_idle_instances: usize,
    /// Idle instances a background thread keeps ready per loaded policy, so requests rarely
    /// pay for creating one (see `warmer.rs`). One is the instance that loaded the policy;
    /// the warmer replaces it after a recycle or trap. More help bursts of concurrent
    /// requests right after a start or reload, at about 6-7 MiB of resident memory each for
    /// the gateway plugin with a small policy (measured), which counts against the edge's
    /// idle-memory budget. 0 turns the warmer off. Never more than `max_idle_instances`.
    pub warm_instances: usize,
    /// Instance slots of the pooling allocator, shared by every loaded policy (a reload
    /// briefly holds the old and the new pool). Creating an instance beyond this fails the
    /// request with `plugin_load_failed`.
    pub max_instances: u32,
    /// Epoch tick: the resolution of the deadlines above.
    pub epoch_tick: Duration,
    /// Where the plugin is compiled on a cache miss (`child_compile.rs`).
    pub compiler: Compiler,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Self {
            cache: ArtifactCache::Default,
            memory_limit_bytes: 64 << 20,
            call_deadline: Duration::from_millis(100),
            call_deadline_per_mib: Duration::from_millis(25),
            load_deadline: Duration::from_secs(5),
            recycle_after_calls: 10_000,
            max_idle_instances: threads * 2,
            warm_instances: 1,
            max_instances: 128,
            epoch_tick: Duration::from_millis(1),
            compiler: Compiler::InProcess,
        }
    }
}

impl RuntimeConfig {
    /// Epoch ticks that make up `d` (at least one).
    pub(crate) fn ticks(&self, d: Duration) -> u64 {
        let tick = self.epoch_tick.as_nanos().max(1);
        u64::try_from(d.as_nanos().div_ceil(tick))
            .unwrap_or(u64::MAX)
            .max(1)
    }
}
