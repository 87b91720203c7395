//! What the `ai-gateway` action needs from the traffic-policy engine.
//!
//! The engine owns the policy document, `${…}` interpolation and the request variables;
//! the action owns everything about providers, models and failover. These two traits are
//! the whole seam: [`LoadEnv`] is handed to [`super::AiGateway::compile`] once per policy
//! load, [`RequestEnv`] to [`super::AiGateway::plan`] once per request.

use crate::host_api::HostApi;
use crate::model::{Plan, Response};

/// A `${…}` template the engine compiled at load time; rendered per request with
/// [`RequestEnv::render`]. The number means whatever the engine wants it to mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TemplateId(pub u32);

/// Load-time services, implemented by the engine over its CEL environment.
///
/// Called only from [`super::AiGateway::compile`], while the policy loads.
pub trait LoadEnv {
    /// Compiles a config string that may hold `${…}` (a `headers` / `query_params` value or
    /// a leaf of `body`) so it can be rendered per request. `Err` carries the compile error
    /// text; the action turns it into a diagnostic at the field's path.
    fn compile_template(&mut self, text: &str) -> Result<TemplateId, String>;

    /// Evaluates a string now, with no request bound: used for `api_keys[].value`, which
    /// is normally `${secrets.get('vault','name')}`. `Err` means the expression failed
    /// (for example a missing secret); in check-only mode the action reports that as a
    /// warning and goes on validating.
    fn eval_static(&mut self, text: &str) -> Result<String, String>;

    /// The host imports (metrics for strategies, logging).
    fn host(&self) -> &dyn HostApi;

    /// `edge check`: production secrets may be absent, so a key that fails to resolve is a
    /// warning instead of an error.
    fn check_only(&self) -> bool;
}

/// Per-request services, implemented by the engine.
///
/// Called from [`super::AiGateway::plan`] while one request is being decided.
pub trait RequestEnv {
    /// Renders a template compiled by [`LoadEnv::compile_template`]. A string that is one
    /// whole `${expr}` yields the expression's JSON value; anything else yields a string.
    fn render(&self, id: TemplateId) -> Result<serde_json::Value, String>;

    /// A request-scoped root variable for `model_selection` / `api_key_selection`
    /// strategies: one of `cel_env::names::REQUEST_ROOTS`. `None` when the
    /// engine has no such variable. Only the roots a strategy actually reads are asked for,
    /// and only for strategies that read any (request-independent strategies are evaluated
    /// once at load and cached, so they never call this).
    fn variable(&self, name: &str) -> Option<cel::Value>;
}

/// What the action decided for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum GatewayStep {
    /// Answer without calling a provider: `GET /v1/models`, or a gateway error found
    /// before any attempt (bad body, no model matched, input too large, …). When
    /// `finish.on_error_continue` is set and the answer is an error, the engine goes on
    /// with the next action instead of writing `finish.response`.
    Respond(Finish),
    /// Hand this plan to the host's attempt loop.
    Forward(Plan),
}

/// The end of the action for a request that is not forwarded (or whose attempts all
/// failed): the response to write, the `actions.ngrok.ai_gateway` result variables, and
/// whether the policy asked to continue on error.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    /// The client response (an error body in the request's API format, or the model list).
    pub response: Response,
    /// `actions.ngrok.ai_gateway` (its fields are listed in docs/ai-gateway.md): bind it for
    /// later rules.
    pub results: serde_json::Value,
    /// `on_error: continue` and this is an error: run the remaining actions instead of
    /// writing `response`.
    pub on_error_continue: bool,
}
