//! [`RuntimeShared`]: what the runtime handle and every policy loaded from it share — the
//! engine's pre-linked component, the host services, the deadlines in epoch ticks, the
//! warmer — and the one place a guest call runs: under a deadline and a memory limit, with
//! a failure turned into the [`PluginError`] that names its cause.
//!
//! Used by [`super::runtime`] to load a policy and by [`super::loaded_policy`] for every
//! request-time call and every fresh instance.

use std::sync::Arc;

use wasmtime::Store;

use super::cache::CacheOutcome;
use super::config::RuntimeConfig;
use super::engine::EpochTicker;
use super::errors::{PluginError, SetupError};
use super::guest_io::panic_summary;
use super::instance_state::InstanceState;
use super::pool::Pooled;
use super::warmer::Warmer;
use crate::host_services::HostServices;
use crate::wit::{Gateway, GatewayPre, types};

/// Shared by the runtime handle and every policy loaded from it.
pub(crate) struct RuntimeShared {
    pub(crate) cfg: RuntimeConfig,
    pub(crate) services: Arc<HostServices>,
    pub(crate) pre: GatewayPre<InstanceState>,
    pub(crate) call_ticks: u64,
    pub(crate) load_ticks: u64,
    pub(crate) cache: CacheOutcome,
    pub(crate) warmer: Warmer,
    // Declared last so it stops after everything that uses the engine is gone.
    pub(crate) _ticker: EpochTicker,
}

impl RuntimeShared {
    /// The deadline, in epoch ticks, of a request-time call handed a request body of
    /// `body_len` bytes: the base deadline plus `call_deadline_per_mib` for every MiB, so
    /// the legitimate work on a large body (copying it in, scanning its JSON) is never
    /// mistaken for a runaway guest.
    pub(crate) fn call_ticks_for_body(&self, body_len: usize) -> u64 {
        let mib = body_len as f64 / f64::from(1u32 << 20);
        let extra = self.cfg.call_deadline_per_mib.mul_f64(mib);
        self.call_ticks.saturating_add(self.cfg.ticks(extra))
    }

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
            .map_err(SetupError::Instantiate)?;
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
