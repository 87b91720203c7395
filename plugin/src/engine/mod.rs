//! Runs the phases of a loaded policy against a request.
//!
//! [`load`] turns policy text into a [`LoadedPolicy`] (or every diagnostic at once). The
//! host then calls, per request:
//! - [`LoadedPolicy::on_http_request`] after the request head (and body, when the summary
//!   says `needs_body`) arrived;
//! - [`LoadedPolicy::on_http_response`] after the upstream answered, only when the policy
//!   has response rules;
//! - [`LoadedPolicy::classify_failure`] / [`LoadedPolicy::resume`] around an ai-gateway
//!   plan's attempts.

mod continuation;
mod failure;
mod gateway_env;
mod load;
pub mod memory_host;
mod run;
mod state;

use crate::actions::Action;
use crate::ai_gateway::AiGateway;
use crate::cel_env::{Evaluator, Expr, Template};
use crate::model::{EndpointInfo, LoadSummary};

pub use load::load;

/// A policy ready to handle requests. Built once per plugin instance by [`load`].
pub struct LoadedPolicy {
    pub(crate) ev: Evaluator,
    pub(crate) endpoint: EndpointInfo,
    pub(crate) request_rules: Vec<Rule>,
    pub(crate) response_rules: Vec<Rule>,
    pub(crate) summary: LoadSummary,
    /// Secret values the policy resolved, masked out of error messages.
    pub(crate) secrets: Vec<String>,
    /// Templates the ai-gateway action compiled through `LoadEnv` (indexed by `TemplateId`).
    pub(crate) gateway_templates: Vec<Template>,
}

impl LoadedPolicy {
    /// What the host needs to know: does it buffer bodies, does it call the response phase.
    pub fn summary(&self) -> &LoadSummary {
        &self.summary
    }
}

/// One compiled rule.
pub struct Rule {
    /// The rule's name, or its path in the document.
    pub label: String,
    pub exprs: Vec<Expr>,
    pub steps: Vec<Step>,
}

/// One action of a rule.
pub enum Step {
    Action(Action),
    /// The ai-gateway action, which may hand a plan to the host instead of answering.
    Gateway(Box<AiGateway>),
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod gateway_tests;
