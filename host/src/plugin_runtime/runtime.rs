//! [`PluginRuntime`]: the compiled plugin, ready to load policies into fresh instances.
//!
//! Created once at startup from the plugin's wasm (embedded or `--plugin FILE`). Every policy
//! load — the first, each hot reload, each `edge check` — goes through
//! [`PluginRuntime::load_policy`], which returns a [`LoadedPolicy`] with its own instance
//! pool. All of them share one engine, one compiled component and one set of host services.

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker};

use super::bindings::{Gateway, GatewayPre, types};
use super::cache::{self, CacheOutcome};
use super::config::RuntimeConfig;
use super::engine::{EpochTicker, build_engine};
use super::errors::{LoadError, PluginError};
use super::guest_io::{NonBlockingTable, panic_summary, shadow_blocking_io};
use super::instance_state::InstanceState;
use super::loaded_policy::LoadedPolicy;
use super::pool::Pooled;
use super::warmer::Warmer;
use crate::host_services::HostServices;

/// Shared by the runtime handle and every policy loaded from it.
pub(crate) struct RuntimeShared {
    pub(crate) cfg: RuntimeConfig,
    pub(crate) services: Arc<HostServices>,
    pre: GatewayPre<InstanceState>,
    pub(crate) call_ticks: u64,
    pub(crate) load_ticks: u64,
    cache: CacheOutcome,
    pub(crate) warmer: Warmer,
    // Declared last so it stops after everything that uses the engine is gone.
    _ticker: EpochTicker,
}

/// The plugin, compiled and linked. Cheap to clone.
#[derive(Clone)]
pub struct PluginRuntime {
    shared: Arc<RuntimeShared>,
}

impl std::fmt::Debug for PluginRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginRuntime")
            .field("cache", &self.shared.cache)
            .field("cfg", &self.shared.cfg)
            .finish_non_exhaustive()
    }
}

impl PluginRuntime {
    /// Compiles (or loads from the artifact cache) the component in `wasm`, links the WASI
    /// and `host` imports, and checks that it implements the `gateway` world. Fails with
    /// [`PluginError::Load`] when the wasm is not such a component.
    pub fn new(
        wasm: &[u8],
        cfg: RuntimeConfig,
        services: Arc<HostServices>,
    ) -> Result<Self, PluginError> {
        let engine = build_engine(&cfg)?;
        let ticker = EpochTicker::start(&engine, cfg.epoch_tick)?;
        let (component, cache) = cache::load_component(&engine, wasm, &cfg.cache)?;
        let link_err =
            |e: wasmtime::Error| PluginError::Load(format!("cannot link the plugin: {e:#}"));
        let mut linker: Linker<InstanceState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(link_err)?;
        shadow_blocking_io(&mut linker, |s: &mut InstanceState| {
            NonBlockingTable(&mut s.table)
        })
        .map_err(link_err)?;
        Gateway::add_to_linker::<InstanceState, HasSelf<InstanceState>>(&mut linker, |s| s)
            .map_err(link_err)?;
        let pre = linker.instantiate_pre(&component).map_err(link_err)?;
        let pre = GatewayPre::new(pre).map_err(|e| {
            PluginError::Load(format!(
                "the plugin does not implement the gateway world: {e:#}"
            ))
        })?;
        let shared = RuntimeShared {
            call_ticks: cfg.ticks(cfg.call_deadline),
            load_ticks: cfg.ticks(cfg.load_deadline),
            cfg,
            services,
            pre,
            cache,
            warmer: Warmer::start()?,
            _ticker: ticker,
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// Loads `policy_text` into a fresh instance. Invalid policies come back as
    /// [`LoadError::Diagnostics`]; the instance that loaded a valid one becomes the first of
    /// the new policy's pool. `edge check` uses this with `opts.check_only` set and drops
    /// the result.
    pub fn load_policy(
        &self,
        policy_text: &str,
        opts: types::LoadOptions,
    ) -> Result<LoadedPolicy, LoadError> {
        let mut inst = self.shared.new_instance()?;
        let summary = self
            .shared
            .run_load(&mut inst, policy_text, &opts)?
            .map_err(LoadError::Diagnostics)?;
        Ok(LoadedPolicy::new(
            self.shared.clone(),
            policy_text.to_owned(),
            opts,
            summary,
            inst,
        ))
    }

    /// Whether this start loaded a cached artifact or compiled the plugin.
    pub fn cache_outcome(&self) -> &CacheOutcome {
        &self.shared.cache
    }

    /// The services every instance's imports use.
    pub fn services(&self) -> &Arc<HostServices> {
        &self.shared.services
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.shared.cfg
    }
}

impl RuntimeShared {
    /// A new instance (not yet loaded).
    pub(crate) fn new_instance(&self) -> Result<Pooled, PluginError> {
        let state = InstanceState::new(self.services.clone(), self.cfg.memory_limit_bytes);
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limiter);
        // Instantiation runs no guest code for a Rust component, but bound it anyway.
        store.set_epoch_deadline(self.load_ticks);
        let gateway = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| PluginError::Load(format!("cannot create a plugin instance: {e:#}")))?;
        Ok(Pooled {
            store,
            gateway,
            calls: 0,
        })
    }

    /// Runs `load` on `inst` under the load deadline.
    pub(crate) fn run_load(
        &self,
        inst: &mut Pooled,
        text: &str,
        opts: &types::LoadOptions,
    ) -> Result<Result<types::LoadSummary, Vec<types::Diagnostic>>, PluginError> {
        let r = self.call(inst, self.load_ticks, |g, s| g.call_load(s, text, opts));
        inst.calls = 0;
        r
    }

    /// Runs one guest call on `inst` under a deadline of `ticks` epochs, and turns a failure
    /// into the [`PluginError`] that says why.
    pub(crate) fn call<R>(
        &self,
        inst: &mut Pooled,
        ticks: u64,
        f: impl FnOnce(&Gateway, &mut Store<InstanceState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        inst.store.set_epoch_deadline(ticks);
        inst.store.data_mut().limiter.reset();
        inst.store.data().stderr.clear();
        inst.calls += 1;
        f(&inst.gateway, &mut inst.store).map_err(|e| classify(&e, inst.store.data()))
    }
}

/// Names the cause of a failed guest call.
fn classify(err: &wasmtime::Error, state: &InstanceState) -> PluginError {
    let trap = err.downcast_ref::<wasmtime::Trap>();
    let stderr = state.stderr.contents();
    let summary = panic_summary(&stderr);
    let out = if trap == Some(&wasmtime::Trap::Interrupt) {
        PluginError::DeadlineExceeded
    } else if state.limiter.denied() {
        PluginError::MemoryExhausted
    } else {
        let what = trap.map_or_else(|| first_line(&err.to_string()), |t| t.to_string());
        let message = match summary.as_deref() {
            Some(s) => format!("{s} ({what})"),
            None => what,
        };
        PluginError::Trap { message }
    };
    tracing::warn!(
        code = out.code(),
        guest_stderr = summary.as_deref().unwrap_or(""),
        error = format!("{err:?}"),
        "plugin call failed; discarding the instance"
    );
    out
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_owned()
}
