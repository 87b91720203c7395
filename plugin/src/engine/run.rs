//! The phase runner: rules in order, a rule's actions in order while its expressions all
//! hold, until an action answers the request or the rules run out.

use super::failure::policy_failure;
use super::state::CarriedState;
use super::{LoadedPolicy, Rule};
use crate::actions::{Effect, RunCtx};
use crate::cel_env::{Activation, Bindings, RequestData};
use crate::host_api::HostApi;
use crate::model::{
    Decision, Headers, Request, RequestOutcome, Response, ResponseDecision, ResponseHead,
    UpstreamRequest,
};
use crate::policy::Phase;

/// Where a phase run starts: a rule, and an action inside it. Starting past action 0 means
/// the rule's expressions already held (a resumed run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub rule: usize,
    pub action: usize,
}

/// How a phase run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum PhaseEnd {
    /// Every rule ran without answering.
    Completed,
    /// An action answered (deny, custom-response, rate limit...) or the policy failed.
    Respond(Response),
}

/// The mutable state of one phase run.
pub struct PhaseRun<'a, 'd> {
    pub data: &'a RequestData<'d>,
    pub bindings: &'a mut Bindings,
    pub headers: &'a mut Headers,
    pub host: &'a dyn HostApi,
}

impl LoadedPolicy {
    fn rules(&self, phase: Phase) -> &[Rule] {
        match phase {
            Phase::Request => &self.request_rules,
            Phase::Response => &self.response_rules,
        }
    }

    /// Runs `phase` from `start`.
    pub(crate) fn run_phase(&self, phase: Phase, start: Position, run: &mut PhaseRun<'_, '_>) -> PhaseEnd {
        let rules = self.rules(phase);
        for (rule_index, rule) in rules.iter().enumerate().skip(start.rule) {
            let first_action = if rule_index == start.rule { start.action } else { 0 };
            if first_action == 0 {
                match self.rule_matches(rule, run) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(message) => return PhaseEnd::Respond(self.failure(rule, &message)),
                }
            }
            for action in rule.actions.iter().skip(first_action) {
                let mut ctx = RunCtx {
                    ev: &self.ev,
                    data: run.data,
                    bindings: run.bindings,
                    host: run.host,
                    headers: run.headers,
                    phase,
                };
                match action.run(&mut ctx) {
                    Ok(Effect::Continue) => {}
                    Ok(Effect::Respond(response)) => return PhaseEnd::Respond(response),
                    Err(message) => return PhaseEnd::Respond(self.failure(rule, &message)),
                }
            }
        }
        PhaseEnd::Completed
    }

    /// All of the rule's expressions hold (no expressions: always).
    fn rule_matches(&self, rule: &Rule, run: &PhaseRun<'_, '_>) -> Result<bool, String> {
        let act = Activation {
            data: run.data,
            bindings: run.bindings,
        };
        for expr in &rule.exprs {
            if !self.ev.eval_bool(expr, &act)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn failure(&self, rule: &Rule, message: &str) -> Response {
        policy_failure(&rule.label, message, &self.secrets)
    }

    /// The request phase. Called for every request once its head (and, with `needs_body`,
    /// its body) arrived. The decision is a response to write, or the upstream request to
    /// send with the policy's header edits; `state` goes back in with the response phase.
    pub fn on_http_request(&self, req: &Request, host: &dyn HostApi) -> RequestOutcome {
        let data = RequestData::new(req, &self.endpoint, None);
        let mut bindings = Bindings::default();
        let mut headers = req.headers.clone();
        let mut run = PhaseRun {
            data: &data,
            bindings: &mut bindings,
            headers: &mut headers,
            host,
        };
        let end = self.run_phase(Phase::Request, Position::default(), &mut run);
        let decision = match end {
            PhaseEnd::Respond(response) => Decision::Respond(response),
            PhaseEnd::Completed => Decision::Upstream(upstream_request(req, headers)),
        };
        RequestOutcome {
            decision,
            state: self.carry(&bindings),
        }
    }

    /// The response phase. Called after the upstream's response head arrived, only when the
    /// policy has response rules. Returns the header list to send, or a replacement.
    pub fn on_http_response(&self, state: &[u8], req: &Request, head: &ResponseHead, host: &dyn HostApi) -> ResponseDecision {
        let data = RequestData::new(req, &self.endpoint, Some(head));
        let mut bindings = CarriedState::from_bytes(state).into_bindings();
        let mut headers = head.headers.clone();
        let mut run = PhaseRun {
            data: &data,
            bindings: &mut bindings,
            headers: &mut headers,
            host,
        };
        match self.run_phase(Phase::Response, Position::default(), &mut run) {
            PhaseEnd::Completed => ResponseDecision::Headers(headers),
            PhaseEnd::Respond(response) => ResponseDecision::Replace(response),
        }
    }

    /// The bytes the response phase needs (empty when there is no response phase).
    pub(crate) fn carry(&self, bindings: &Bindings) -> Vec<u8> {
        if self.response_rules.is_empty() {
            Vec::new()
        } else {
            CarriedState::from_bindings(bindings).to_bytes()
        }
    }
}

/// The client's request as sent upstream, with the phase's header edits.
pub fn upstream_request(req: &Request, headers: Headers) -> UpstreamRequest {
    let path_and_query = if req.query.is_empty() {
        req.path.clone()
    } else {
        format!("{}?{}", req.path, req.query)
    };
    UpstreamRequest {
        method: req.method.clone(),
        path_and_query,
        headers,
        body: None,
    }
}
