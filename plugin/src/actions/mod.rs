//! Traffic-policy actions: compiled from their `config` at load, run per request.
//!
//! Each action lives in its own file. An action reads the request through CEL, may edit the
//! header list of the message the phase works on, may set `vars.*` and its
//! `actions.ngrok.<name>.*` results, and either lets the phase go on or answers the request.

pub mod catalog;
pub mod compiler;
pub mod custom_response;
pub mod deny;
pub mod headers;
pub mod log;
pub mod rate_limit;
pub mod restrict_ips;
pub mod set_vars;

use cel::Value;

use crate::cel_env::{Activation, Bindings, Evaluator, RequestData};
use crate::host_api::HostApi;
use crate::model::{Headers, Response};
use crate::policy::{ActionDoc, Phase};
pub use compiler::Compiler;

/// An action compiled from its config (ai-gateway is handled by the engine itself).
#[derive(Debug)]
pub enum Action {
    Deny(deny::Deny),
    CustomResponse(custom_response::CustomResponse),
    AddHeaders(headers::AddHeaders),
    RemoveHeaders(headers::RemoveHeaders),
    SetVars(set_vars::SetVars),
    Log(log::Log),
    RestrictIps(restrict_ips::RestrictIps),
    RateLimit(rate_limit::RateLimit),
}

/// What running an action did to the phase.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Go on with the next action.
    Continue,
    /// Answer with this response; the phase ends.
    Respond(Response),
}

/// The state one action runs against.
pub struct RunCtx<'a, 'd> {
    pub ev: &'a Evaluator,
    pub data: &'a RequestData<'d>,
    pub bindings: &'a mut Bindings,
    pub host: &'a dyn HostApi,
    /// The header list this phase edits: the upstream request's in `on_http_request`,
    /// the client response's in `on_http_response`.
    pub headers: &'a mut Headers,
    pub phase: Phase,
}

impl<'d> RunCtx<'_, 'd> {
    /// The variables as they are now (borrowed for one evaluation).
    pub fn activation(&self) -> Activation<'_, 'd> {
        Activation {
            data: self.data,
            bindings: self.bindings,
        }
    }

    /// Records `actions.ngrok.<name>` for later expressions.
    pub fn set_result(&mut self, name: &str, value: Value) {
        self.bindings.actions.insert(name.to_string(), value);
    }
}

impl Action {
    /// Compiles a known, phase-allowed, non-ai-gateway action. Problems go to `c.diags`;
    /// `None` when the config is unusable.
    pub fn compile(doc: &ActionDoc, c: &mut Compiler<'_>) -> Option<Action> {
        let config = doc.config.as_ref();
        let path = format!("{}.config", doc.path);
        Some(match doc.kind.as_str() {
            "deny" => Action::Deny(deny::Deny::compile(config, &path, c)?),
            "custom-response" => {
                Action::CustomResponse(custom_response::CustomResponse::compile(config, &path, c)?)
            }
            "add-headers" => Action::AddHeaders(headers::AddHeaders::compile(config, &path, c)?),
            "remove-headers" => {
                Action::RemoveHeaders(headers::RemoveHeaders::compile(config, &path, c)?)
            }
            "set-vars" => Action::SetVars(set_vars::SetVars::compile(config, &path, c)?),
            "log" => Action::Log(log::Log::compile(config, &path, c)?),
            "restrict-ips" => {
                Action::RestrictIps(restrict_ips::RestrictIps::compile(config, &path, c)?)
            }
            "rate-limit" => {
                Action::RateLimit(rate_limit::RateLimit::compile(config, &doc.path, &path, c)?)
            }
            _ => return None,
        })
    }

    /// Runs the action. `Err` is a runtime failure (a CEL evaluation error) that the engine
    /// turns into a 500 naming the rule.
    pub fn run(&self, ctx: &mut RunCtx<'_, '_>) -> Result<Effect, String> {
        match self {
            Action::Deny(a) => Ok(a.run()),
            Action::CustomResponse(a) => a.run(ctx),
            Action::AddHeaders(a) => a.run(ctx),
            Action::RemoveHeaders(a) => Ok(a.run(ctx)),
            Action::SetVars(a) => a.run(ctx),
            Action::Log(a) => a.run(ctx),
            Action::RestrictIps(a) => a.run(ctx),
            Action::RateLimit(a) => a.run(ctx),
        }
    }
}

#[cfg(test)]
mod tests;
