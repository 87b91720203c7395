//! The one wasmtime [`Engine`] of the process and the thread that advances its epoch.
//!
//! Built once per [`super::PluginRuntime`]; every loaded policy, instance and reload shares
//! it, so compiled code, the instance pool slots and the epoch clock are shared too.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use super::config::RuntimeConfig;
use super::errors::SetupError;

/// Core wasm instances one component may create. A wasm32-wasip2 Rust component has its main
/// module plus a few small shim/fixup modules that wit-component adds for indirect calls.
const CORE_INSTANCES_PER_COMPONENT: u32 = 8;

/// Builds the engine: component model, pooling allocator, epoch interruption, optimised code.
pub(crate) fn build_engine(cfg: &RuntimeConfig) -> Result<Engine, SetupError> {
    let mut pool = PoolingAllocationConfig::new();
    let slots = cfg.max_instances.max(1);
    // Pooling allocator: instance state and linear memories come from slots reserved once
    // at startup, so creating an instance is a few µs instead of mmap/munmap per instance.
    // Slots reserve virtual address space, not memory.
    pool.total_component_instances(slots)
        // Each slot holds the component's core instances (see the constant's comment).
        .total_core_instances(slots * CORE_INSTANCES_PER_COMPONENT)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        // Rust components have one linear memory; the shim modules have tables only.
        .total_memories(slots)
        .max_memories_per_component(1)
        .total_tables(slots * CORE_INSTANCES_PER_COMPONENT)
        // A memory slot never needs to be bigger than the per-instance memory limit; the
        // `StoreLimits` in `limits.rs` refuses growth past it first and records why.
        .max_memory_size(cfg.memory_limit_bytes)
        // Keep the first 64 KiB of each memory resident when a slot is reused, so the
        // guest's stack and statics are not page-faulted back in on every new instance.
        .linear_memory_keep_resident(64 << 10);

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        // Epoch interruption bounds every call (see `limits.rs`): about +20 % on CEL-heavy
        // calls, far cheaper than fuel (+35-40 %) and enough, since we only need a deadline.
        .epoch_interruption(true)
        // Optimise for speed: the plugin is compiled once (then cached) and called on every
        // request.
        .cranelift_opt_level(OptLevel::Speed)
        .parallel_compilation(true)
        // We keep our own artifact cache (cache.rs); wasmtime's would be a second copy.
        .cache(None);
    Engine::new(&config).map_err(SetupError::Engine)
}

/// Advances the engine's epoch every tick from a background thread, so that epoch
/// deadlines measure wall time. Stops when dropped, or by itself once the engine is gone.
#[derive(Debug)]
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: &Engine, tick: std::time::Duration) -> Result<Self, SetupError> {
        let weak = engine.weak();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_thread = stop.clone();
        let thread = std::thread::Builder::new()
            .name("edge-epoch-ticker".into())
            .spawn(move || {
                while !stop_thread.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|source| SetupError::Thread {
                name: "epoch ticker",
                source,
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
