//! What the request path needs from a loaded policy and from the attempt loop, as two
//! small traits. The real implementations are the wasm plugin runtime's `LoadedPolicy`
//! and the gateway's attempt loop; keeping the request path behind
//! these traits lets its flows be tested without either.

use std::future::Future;

use bytes::Bytes;
use std::pin::Pin;

pub use crate::gateway::{FailoverClassifier, PlanResult};
use crate::plugin_runtime::PluginError;
use crate::provider_queue_metrics::ProviderQueueMetrics;
use crate::wit::types::{
    AttemptResult, FailoverAction, GatewayOutcome, Plan, Request, RequestOutcome, ResponseDecision,
    ResponseHead, ServedPlan,
};

/// The policy as the request path calls it. Each call is synchronous and short (the plugin
/// never waits for I/O); an error affects only the request that made the call.
pub trait PolicyDecider: Send + Sync + 'static {
    /// The policy reads request bodies, so the host must buffer them before deciding.
    fn needs_body(&self) -> bool;
    /// The policy has `on_http_response` rules, so the host must run the response phase.
    fn has_response_rules(&self) -> bool;
    /// Runs the `on_http_request` rules once the head (and, if needed, the body) arrived.
    fn on_http_request(&self, req: &Request) -> Result<RequestOutcome, PluginError>;
    /// Runs the `on_http_response` rules on a served response head; `served` is the
    /// ai-gateway plan that served it, if one did.
    fn on_http_response(
        &self,
        state: &[u8],
        req: &Request,
        head: &ResponseHead,
        served: Option<&ServedPlan>,
    ) -> Result<ResponseDecision, PluginError>;
    /// Asks the policy what to do after a failed attempt of a plan (every failed attempt).
    fn classify_failure(
        &self,
        failed: &AttemptResult,
        can_retry_same: bool,
    ) -> Result<FailoverAction, PluginError>;
    /// Hands a plan's failed outcome back: the error answer, or with `on_error: continue`
    /// the decision of the remaining rules.
    fn resume(
        &self,
        continuation: &[u8],
        req: &Request,
        outcome: &GatewayOutcome,
    ) -> Result<RequestOutcome, PluginError>;
}

pub type PlanFuture<'a> = Pin<Box<dyn Future<Output = PlanResult> + Send + 'a>>;

/// Runs the attempts of an `ai-gateway` plan (the real one: [`crate::gateway::execute_plan`]).
pub trait PlanRunner: Send + Sync + 'static {
    /// `request_body` is the client's body as the plugin saw it: attempt bodies refer to it.
    fn run<'a>(
        &'a self,
        plan: &'a Plan,
        request_body: &'a Bytes,
        classifier: &'a dyn FailoverClassifier,
    ) -> PlanFuture<'a>;

    /// The per-provider concurrency series the runner feeds, served on the admin
    /// `/metrics` (none for runners without caps).
    fn provider_queue_metrics(&self) -> Option<ProviderQueueMetrics> {
        None
    }
}

impl PlanRunner for crate::gateway::GatewayContext {
    fn run<'a>(
        &'a self,
        plan: &'a Plan,
        request_body: &'a Bytes,
        classifier: &'a dyn FailoverClassifier,
    ) -> PlanFuture<'a> {
        Box::pin(crate::gateway::execute_plan(
            self,
            plan,
            request_body,
            classifier,
        ))
    }

    fn provider_queue_metrics(&self) -> Option<ProviderQueueMetrics> {
        Some(crate::gateway::GatewayContext::provider_queue_metrics(self).clone())
    }
}
