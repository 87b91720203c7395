//! The phase runner: rules in order, a rule's actions in order while its expressions all
//! hold, until an action answers the request or the rules run out.

use super::continuation::{EngineContinuation, Position};
use super::failure::policy_failure;
use super::gateway_env::GatewayRequestEnv;
use super::state::CarriedState;
use super::{LoadedPolicy, Rule, Step};
use crate::actions::{Effect, RunCtx};
use crate::ai_gateway::{AiGateway, GatewayStep};
use crate::cel_env::convert::json_to_cel;
use crate::cel_env::{Activation, Bindings, RequestData};
use crate::host_api::HostApi;
use crate::model::{
    AttemptResult, Decision, FailoverAction, GatewayOutcome, Headers, Plan, Request,
    RequestOutcome, Response, ResponseDecision, ResponseHead, ServedPlan, UpstreamRequest,
};
use crate::policy::Phase;

/// How a phase run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum PhaseEnd {
    /// Every rule ran without answering.
    Completed,
    /// An action answered (deny, custom-response, rate limit...) or the policy failed.
    Respond(Response),
    /// The ai-gateway action planned attempts; the continuation is already the engine's.
    Forward(Plan),
}

/// Name of the ai-gateway's result variables (`actions.ngrok.ai_gateway`).
const GATEWAY_RESULTS: &str = "ai_gateway";

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
    pub(crate) fn run_phase(
        &self,
        phase: Phase,
        start: Position,
        run: &mut PhaseRun<'_, '_>,
    ) -> PhaseEnd {
        let rules = self.rules(phase);
        for (rule_index, rule) in rules.iter().enumerate().skip(start.rule) {
            let first_action = if rule_index == start.rule {
                start.action
            } else {
                0
            };
            if first_action == 0 {
                match self.rule_matches(rule, run) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(message) => return PhaseEnd::Respond(self.failure(rule, &message)),
                }
            }
            for (action_index, step) in rule.steps.iter().enumerate().skip(first_action) {
                let action = match step {
                    Step::Action(action) => action,
                    Step::Gateway(gw) => {
                        let here = Position {
                            rule: rule_index,
                            action: action_index,
                        };
                        match self.run_gateway(gw, here, run) {
                            Some(end) => return end,
                            None => continue,
                        }
                    }
                };
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

    /// Runs the ai-gateway action: `None` to go on with the next action (an error with
    /// `on_error: continue`), otherwise how the phase ends.
    fn run_gateway(
        &self,
        gw: &AiGateway,
        here: Position,
        run: &mut PhaseRun<'_, '_>,
    ) -> Option<PhaseEnd> {
        let step = {
            let env = GatewayRequestEnv {
                ev: &self.ev,
                templates: &self.gateway_templates,
                act: Activation {
                    data: run.data,
                    bindings: run.bindings,
                },
            };
            gw.plan(run.data.req, &env, run.host)
        };
        match step {
            GatewayStep::Respond(finish) => {
                run.bindings
                    .actions
                    .insert(GATEWAY_RESULTS.to_string(), json_to_cel(&finish.results));
                if finish.on_error_continue {
                    None
                } else {
                    Some(PhaseEnd::Respond(finish.response))
                }
            }
            GatewayStep::Forward(mut plan) => {
                plan.continuation = EngineContinuation::encode_parts(
                    here,
                    run.bindings,
                    run.headers,
                    &plan.continuation,
                );
                Some(PhaseEnd::Forward(plan))
            }
        }
    }

    /// The ai-gateway action at `position`, if that is where one is.
    fn gateway_at(&self, position: Position) -> Option<&AiGateway> {
        match self
            .request_rules
            .get(position.rule)?
            .steps
            .get(position.action)?
        {
            Step::Gateway(gw) => Some(gw),
            Step::Action(_) => None,
        }
    }

    /// The policy's ai-gateway action; a policy has at most one (checked at load).
    fn gateway(&self) -> Option<&AiGateway> {
        self.request_rules
            .iter()
            .flat_map(|rule| &rule.steps)
            .find_map(|step| match step {
                Step::Gateway(gw) => Some(&**gw),
                Step::Action(_) => None,
            })
    }

    /// After every failed attempt of a plan: what the host does next, decided by the
    /// action's failover rules. A policy without the action (no plan can come from it)
    /// stops the attempts.
    pub fn classify_failure(&self, failed: &AttemptResult, can_retry_same: bool) -> FailoverAction {
        match self.gateway() {
            Some(gw) => gw.classify_failure(failed, can_retry_same),
            None => FailoverAction::Stop,
        }
    }

    /// After a plan's attempts ended without serving the client: the action's error
    /// response, or, with `on_error: continue`, the rest of the request phase (with
    /// `actions.ngrok.ai_gateway` bound).
    pub fn resume(
        &self,
        continuation: &[u8],
        req: &Request,
        outcome: &GatewayOutcome,
        host: &dyn HostApi,
    ) -> RequestOutcome {
        let found = EngineContinuation::decode(continuation)
            .and_then(|c| self.gateway_at(c.position).map(|gw| (c, gw)));
        let Some((c, gw)) = found else {
            return RequestOutcome {
                decision: Decision::Respond(policy_failure(
                    "ai-gateway",
                    "the plan's continuation does not match the loaded policy",
                    &self.secrets,
                )),
                state: Vec::new(),
            };
        };
        let finish = gw.finish(&c.gateway_bytes(), outcome);
        let mut bindings = c.bindings();
        bindings
            .actions
            .insert(GATEWAY_RESULTS.to_string(), json_to_cel(&finish.results));
        if !finish.on_error_continue {
            return RequestOutcome {
                decision: Decision::Respond(finish.response),
                state: self.carry(&bindings),
            };
        }
        let data = RequestData::new(req, &self.endpoint, None);
        let mut headers = c.headers.clone();
        let next = Position {
            rule: c.position.rule,
            action: c.position.action + 1,
        };
        let mut run = PhaseRun {
            data: &data,
            bindings: &mut bindings,
            headers: &mut headers,
            host,
        };
        let end = self.run_phase(Phase::Request, next, &mut run);
        self.request_outcome(end, req, headers, &bindings)
    }

    fn request_outcome(
        &self,
        end: PhaseEnd,
        req: &Request,
        headers: Headers,
        bindings: &Bindings,
    ) -> RequestOutcome {
        let decision = match end {
            PhaseEnd::Respond(response) => Decision::Respond(response),
            PhaseEnd::Forward(plan) => Decision::Forward(plan),
            PhaseEnd::Completed => Decision::Upstream(upstream_request(req, headers)),
        };
        RequestOutcome {
            decision,
            state: self.carry(bindings),
        }
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
        let mut headers = headers_to_edit(&req.headers);
        let mut run = PhaseRun {
            data: &data,
            bindings: &mut bindings,
            headers: &mut headers,
            host,
        };
        let end = self.run_phase(Phase::Request, Position::default(), &mut run);
        self.request_outcome(end, req, headers, &bindings)
    }

    /// The response phase. Called after the upstream's response head arrived, only when the
    /// policy has response rules. `served` is the ai-gateway plan that produced the
    /// response, if one did: its results become `actions.ngrok.ai_gateway`. Returns the
    /// header list to send, or a replacement.
    pub fn on_http_response(
        &self,
        state: &[u8],
        req: &Request,
        head: &ResponseHead,
        served: Option<&ServedPlan>,
        host: &dyn HostApi,
    ) -> ResponseDecision {
        let data = RequestData::new(req, &self.endpoint, Some(head));
        let mut bindings = CarriedState::from_bytes(state).into_bindings();
        if let Some(served) = served
            && let Some(c) = EngineContinuation::decode(&served.continuation)
            && let Some(gw) = self.gateway_at(c.position)
        {
            let results = gw.served_results(&c.gateway_bytes(), &served.outcome);
            bindings
                .actions
                .insert(GATEWAY_RESULTS.to_string(), json_to_cel(&results));
        }
        let mut headers = headers_to_edit(&head.headers);
        let mut run = PhaseRun {
            data: &data,
            bindings: &mut bindings,
            headers: &mut headers,
            host,
        };
        match self.run_phase(Phase::Response, Position::default(), &mut run) {
            PhaseEnd::Completed => ResponseDecision::Headers(headers),
            PhaseEnd::Respond(response) => ResponseDecision::Replace(response),
            // The ai-gateway action only runs in the request phase (checked at load).
            PhaseEnd::Forward(_) => ResponseDecision::Replace(policy_failure(
                "on_http_response",
                "the ai-gateway action cannot run in the response phase",
                &self.secrets,
            )),
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

/// Room for headers the phase's actions add before the list must grow again: most
/// policies add a few (`add-headers` takes at most 10 per action).
const ADDED_HEADERS_ROOM: usize = 8;

/// A copy of a header list for a phase to edit, with room for the headers it adds.
fn headers_to_edit(headers: &Headers) -> Headers {
    let mut copy = Vec::with_capacity(headers.len() + ADDED_HEADERS_ROOM);
    copy.extend_from_slice(headers);
    copy
}

/// The client's request as sent upstream, with the phase's header edits.
pub fn upstream_request(req: &Request, headers: Headers) -> UpstreamRequest {
    let path_and_query = if req.query.is_empty() {
        req.path.clone()
    } else {
        let mut pq = String::with_capacity(req.path.len() + 1 + req.query.len());
        pq.push_str(&req.path);
        pq.push('?');
        pq.push_str(&req.query);
        pq
    };
    UpstreamRequest {
        method: req.method.clone(),
        path_and_query,
        headers,
        body: None,
    }
}
