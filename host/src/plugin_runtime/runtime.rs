//! [`PluginRuntime`]: the compiled plugin, ready to load policies into fresh instances.
//!
//! Created once at startup from the plugin's wasm (embedded or `--plugin FILE`). Every policy
//! load — the first, each hot reload, each `edge check` — goes through
//! [`PluginRuntime::load_policy`], which returns a [`LoadedPolicy`] with its own instance
//! pool. All of them share one engine, one compiled component and one set of host services.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use super::cache::{self, CacheOutcome};
use super::config::RuntimeConfig;
use super::engine::{EpochTicker, build_engine};
use super::errors::{LoadError, PluginError, SetupError};
use super::guest_io::{NonBlockingTable, shadow_blocking_io};
use super::instance_state::InstanceState;
use super::loaded_policy::LoadedPolicy;
use super::shared::RuntimeShared;
use super::warmer::Warmer;
use crate::host_services::HostServices;
use crate::wit::{Gateway, GatewayPre, types};

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
        let (component, cache) = cache::load_component(&engine, wasm, &cfg)?;
        let mut linker: Linker<InstanceState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(SetupError::Link)?;
        shadow_blocking_io(&mut linker, |s: &mut InstanceState| {
            NonBlockingTable(&mut s.table)
        })
        .map_err(SetupError::Link)?;
        Gateway::add_to_linker::<InstanceState, HasSelf<InstanceState>>(&mut linker, |s| s)
            .map_err(SetupError::Link)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(SetupError::Link)?;
        let pre = GatewayPre::new(pre).map_err(SetupError::NotAGateway)?;
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
