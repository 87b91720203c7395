//! [`LoadedPolicy`]: one policy loaded into the plugin, with the pool of instances that
//! serve it. What the server calls for every request.
//!
//! All calls are synchronous and short (tens of µs); they may run on any thread, including
//! tokio workers, and any number at once — each call takes its own instance. A call that
//! fails answers its request with the returned [`PluginError`]; the instance is discarded
//! and the next call gets a healthy one.

use std::sync::{Arc, Weak};

use super::errors::{PluginError, SetupError};
use super::pool::{InstancePool, PoolStats, Pooled, Returned};
use super::shared::RuntimeShared;
use super::warmer::WarmUp;
use crate::wit::types;

/// A loaded policy. Cheap to clone; in-flight requests keep the policy they started with
/// alive after a reload swaps in a new one.
#[derive(Clone)]
pub struct LoadedPolicy {
    inner: Arc<PolicyInner>,
}

struct PolicyInner {
    rt: Arc<RuntimeShared>,
    /// Kept so every new instance can `load` the same text.
    text: String,
    options: types::LoadOptions,
    summary: types::LoadSummary,
    pool: InstancePool,
}

impl std::fmt::Debug for LoadedPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPolicy")
            .field("file", &self.inner.options.file_name)
            .field("summary", &self.inner.summary)
            .field("pool", &self.inner.pool.stats())
            .finish()
    }
}

impl LoadedPolicy {
    pub(crate) fn new(
        rt: Arc<RuntimeShared>,
        text: String,
        options: types::LoadOptions,
        summary: types::LoadSummary,
        first: Pooled,
    ) -> Self {
        let pool = InstancePool::new(rt.cfg.max_idle_instances.max(1), rt.cfg.recycle_after_calls);
        pool.note_created();
        pool.give_back(first);
        let policy = Self {
            inner: Arc::new(PolicyInner {
                rt,
                text,
                options,
                summary,
                pool,
            }),
        };
        // `edge check` loads a policy only to see its diagnostics; nothing will be served.
        if !policy.inner.options.check_only {
            policy.request_warm_up();
        }
        policy
    }

    /// What the policy needs from the host (body buffering, response phase) and its warnings.
    pub fn summary(&self) -> &types::LoadSummary {
        &self.inner.summary
    }

    /// The policy text this was loaded from.
    pub fn text(&self) -> &str {
        &self.inner.text
    }

    /// The options it was loaded with.
    pub fn options(&self) -> &types::LoadOptions {
        &self.inner.options
    }

    /// Counters of the instance pool.
    pub fn pool_stats(&self) -> PoolStats {
        self.inner.pool.stats()
    }

    /// Runs the `on_http_request` rules for a request whose head (and body, when the
    /// summary says `needs-body`) arrived.
    pub fn on_http_request(
        &self,
        req: &types::Request,
    ) -> Result<types::RequestOutcome, PluginError> {
        let ticks = self.inner.rt.call_ticks_for_body(req.body.len());
        self.with_instance(ticks, |g, s| g.call_on_http_request(s, req))
    }

    /// Runs the `on_http_response` rules; only when `summary().has_response_rules`.
    /// `state` is the `RequestOutcome::state` of the decision that produced the response;
    /// `served` the ai-gateway plan that served it, if one did.
    pub fn on_http_response(
        &self,
        state: &[u8],
        req: &types::Request,
        head: &types::ResponseHead,
        served: Option<&types::ServedPlan>,
    ) -> Result<types::ResponseDecision, PluginError> {
        let ticks = self.inner.rt.call_ticks;
        self.with_instance(ticks, |g, s| {
            g.call_on_http_response(s, state, req, head, served)
        })
    }

    /// Asks the plugin what to do after a failed attempt (after every one: the plugin is
    /// where failover is decided).
    pub fn classify_failure(
        &self,
        failed: &types::AttemptResult,
        can_retry_same: bool,
    ) -> Result<types::FailoverAction, PluginError> {
        let ticks = self.inner.rt.call_ticks;
        self.with_instance(ticks, |g, s| {
            g.call_classify_failure(s, failed, can_retry_same)
        })
    }

    /// Hands the end of an unsuccessful attempt loop back to the plugin, which answers with
    /// the error response or (with `on_error: continue`) the remaining rules' decision.
    pub fn resume(
        &self,
        continuation: &[u8],
        req: &types::Request,
        outcome: &types::GatewayOutcome,
    ) -> Result<types::RequestOutcome, PluginError> {
        let ticks = self.inner.rt.call_ticks_for_body(req.body.len());
        self.with_instance(ticks, |g, s| g.call_resume(s, continuation, req, outcome))
    }

    /// Takes an idle instance (or makes and loads a new one), runs `f` on it under the call
    /// deadline, and returns it to the pool unless the call failed. When an instance leaves
    /// the pool for good (failed call, recycle limit), the warmer is asked for a replacement
    /// so the next request does not pay for creating and loading one.
    fn with_instance<R>(
        &self,
        ticks: u64,
        f: impl FnOnce(
            &crate::wit::Gateway,
            &mut wasmtime::Store<super::instance_state::InstanceState>,
        ) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let inner = &*self.inner;
        let mut inst = match inner.pool.take() {
            Some(i) => i,
            None => inner.fresh_instance()?,
        };
        match inner.rt.call(&mut inst, ticks, f) {
            Ok(r) => {
                if inner.pool.give_back(inst) == Returned::Recycled {
                    self.request_warm_up();
                }
                Ok(r)
            }
            Err(e) => {
                inner.pool.note_discarded();
                drop(inst);
                self.request_warm_up();
                Err(e)
            }
        }
    }

    fn request_warm_up(&self) {
        if self.inner.rt.cfg.warm_instances > 0 {
            let target: Weak<dyn WarmUp> = Arc::downgrade(&self.inner) as Weak<PolicyInner>;
            self.inner.rt.warmer.request(target);
        }
    }
}

impl PolicyInner {
    /// A new instance with this policy loaded. The text loaded before, so a failure here is
    /// the plugin's fault (nondeterminism, a trap, a secret that disappeared), not the user's.
    fn fresh_instance(&self) -> Result<Pooled, PluginError> {
        let mut inst = self.rt.new_instance()?;
        self.pool.note_created();
        match self.rt.run_load(&mut inst, &self.text, &self.options)? {
            Ok(_) => Ok(inst),
            Err(diags) => Err(SetupError::PolicyRejected {
                count: diags.len(),
                first: diags
                    .first()
                    .map_or_else(|| "no diagnostics".to_owned(), |d| d.message.clone()),
            }
            .into()),
        }
    }
}

impl WarmUp for PolicyInner {
    /// Creates instances until `warm_instances` are idle. Runs on the warmer thread.
    fn warm_up(&self) {
        let target = self
            .rt
            .cfg
            .warm_instances
            .min(self.rt.cfg.max_idle_instances);
        while self.pool.stats().idle < target {
            match self.fresh_instance() {
                Ok(inst) => {
                    if self.pool.give_back(inst) != Returned::Kept {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot warm up a plugin instance");
                    break;
                }
            }
        }
    }
}
