//! The `ai-gateway` action: providers, model selection, failover rules, error bodies.
//!
//! The plugin decides and the host moves bytes. The engine calls, in this order:
//! - at load: [`AiGateway::compile`];
//! - per request: [`AiGateway::plan`] → answer now, or a [`crate::model::Plan`] of ordered
//!   attempts the host runs;
//! - per failed attempt of a plan: [`AiGateway::classify_failure`] (the one place failover
//!   is decided);
//! - when the attempt loop ended without serving the client: [`AiGateway::finish`];
//! - when a plan served the client and the policy has response rules:
//!   [`AiGateway::served_results`].
//!
//! Files: `config` (what a policy may write); at load, `compile` runs `validate`,
//! `settings`, `attempt_templates`, `universe_builder` (with `providers`,
//! `provider_keys` and `concurrency`; the result is the [`universe`]) and `strategies`; `catalog` (built-in
//! providers/models, data files), `strategy` + `strategy_functions` (CEL selection),
//! `ai_value` (the `ai` strategies read), `resolve` (the client's `model`/`models`),
//! `select` (strategies → models to try; `request_types` which kinds of request a provider
//! may serve, `quota` what unknown key quota reads as, `skipped` the models left out for
//! want of a key), `body`, `output_limit`, `upstream`,
//! `request_headers`, `credentials`, `key_auth`, `provider_extras`, `attempt_sends` and
//! `attempt_secrets` (what each attempt sends and must never show), `key_order` (which keys
//! a model's attempts use, in which order), `failover` (rules), `outcome` (errors and result variables after the
//! attempts), `errors` (codes and bodies), `models_list` (`GET /v1/models`).

mod ai_value;
mod attempt_secrets;
mod attempt_sends;
mod attempt_templates;
pub mod body;
pub mod catalog;
mod compile;
mod concurrency;
pub mod config;
mod continuation;
pub mod credentials;
pub mod env;
pub mod errors;
pub mod failover;
pub mod key_auth;
mod key_order;
mod models_list;
mod outcome;
mod output_limit;
mod per_format;
mod plan;
mod provider_extras;
mod provider_keys;
mod provider_tls;
mod providers;
mod quota;
pub mod request_headers;
pub mod request_types;
mod resolve;
mod select;
mod selection_record;
mod settings;
mod skipped;
mod strategies;
pub mod strategy;
pub mod strategy_functions;
mod stream_protocol;
pub mod surface;
pub mod templates;
pub mod universe;
mod universe_builder;
pub mod upstream;
pub mod validate;

#[cfg(test)]
mod tests;

use std::sync::Mutex;

use crate::host_api::HostApi;
use crate::model::{ApiFormat, AttemptResult, FailoverAction, GatewayOutcome, Request};
use crate::policy::Diagnostics;

pub use env::{Finish, GatewayStep, LoadEnv, RequestEnv, TemplateId};
pub use per_format::PerFormat;
pub use settings::Settings;

/// Response header carrying the request id on every answer (also on errors).
pub const REQUEST_ID_HEADER: &str = "x-aigw-request-id";
/// Response header with the number of upstream attempts made (set on gateway errors
/// after attempts; the host sets it on served responses).
pub const ATTEMPTS_HEADER: &str = "x-aigw-attempts";

/// Longest `Retry-After` the host waits to retry the same attempt (sent in the plan as its
/// mechanical limit): longer waits are better spent on the next key or model
/// (docs/ai-gateway.md, "Failover").
pub const MAX_RETRY_AFTER_MS: u64 = 5_000;
/// Hard cap on upstream calls per client request, so a long failover list cannot turn
/// one request into a storm (docs/ai-gateway.md, "Errors": `too_many_attempts`).
pub const MAX_ATTEMPTS: u32 = 10;

/// A compiled `ai-gateway` action. Built once per policy load; shared by every request.
pub struct AiGateway {
    pub settings: Settings,
    headers: Vec<(String, templates::Template)>,
    /// The policy's `forward_headers`, added to the default allowlist.
    forward_headers: Vec<request_headers::HeaderPattern>,
    query_params: Vec<(String, templates::Template)>,
    body: templates::BodyTemplate,
    pub universe: universe::Universe,
    model_strategies: Vec<strategy::Strategy>,
    key_strategies: Vec<strategy::Strategy>,
    failover_rule: Option<strategy::Strategy>,
    /// Root CEL contexts (functions + static `ai`).
    roots: PerFormat<cel::Context<'static, 'static>>,
    /// The static `ai` values of `roots`, reused to add pass-through models.
    ai_static: PerFormat<cel::Value>,
    /// Results of request-independent model strategies, per format, evaluated and
    /// digested at load.
    static_selections: Vec<PerFormat<Option<select::DigestResult>>>,
    /// `ai` with metrics, per format, for the metrics generation it was built from.
    metrics_cache: Mutex<Option<(u64, PerFormat<cel::Value>)>>,
    /// Results of metrics-only model strategies: (strategy, format) -> (generation, result).
    metrics_results:
        Mutex<std::collections::HashMap<(usize, ApiFormat), (u64, select::DigestResult)>>,
}

impl std::fmt::Debug for AiGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiGateway")
            .field("settings", &self.settings)
            .field("providers", &self.universe.providers.len())
            .field("models", &self.universe.models.len())
            .field("model_strategies", &self.model_strategies)
            .finish_non_exhaustive()
    }
}

impl AiGateway {
    /// Validates and compiles the action's `config` object. Runs at policy load. Every
    /// problem found is reported to `diags` by its path relative to `config` (e.g.
    /// `providers[1].base_url`; the engine reports inside [`Diagnostics::within`] the
    /// action's path). `None` when one of them is an error.
    pub fn compile(
        config: &serde_json::Value,
        env: &mut dyn LoadEnv,
        diags: &mut Diagnostics,
    ) -> Option<AiGateway> {
        compile::compile(config, env, diags)
    }

    /// Decides one request: the ordered attempts, or an immediate answer (`GET /v1/models`
    /// or a gateway error). Pure apart from the host's metrics snapshot.
    pub fn plan(&self, req: &Request, env: &dyn RequestEnv, host: &dyn HostApi) -> GatewayStep {
        plan::plan(self, req, env, host)
    }

    /// After every failed attempt of a plan: what the host does next, from the policy's
    /// failover rule or the default rules (which also stand in when the rule fails).
    pub fn classify_failure(&self, failed: &AttemptResult, can_retry_same: bool) -> FailoverAction {
        failover::classify(
            self.failover_rule.as_ref(),
            // A failover rule reads `attempt.*`, never `ai.models`: either root serves.
            &self.roots.openai,
            failed,
            can_retry_same,
        )
    }

    /// After the attempt loop ended without serving the client: the error response, the
    /// `actions.ngrok.ai_gateway` variables, and whether to continue (`on_error`).
    pub fn finish(&self, continuation: &[u8], outcome: &GatewayOutcome) -> Finish {
        outcome::finish(self, continuation, outcome)
    }

    /// After a plan served the client: the `actions.ngrok.ai_gateway` variables the
    /// response phase reads (`status: "success"`, `success`, `models_tried`).
    pub fn served_results(
        &self,
        continuation: &[u8],
        outcome: &GatewayOutcome,
    ) -> serde_json::Value {
        outcome::served_results(self, continuation, outcome)
    }
}
