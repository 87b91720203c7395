//! The action types this engine knows: where each may run, whether it ends the phase, and
//! the name of its result variables (`actions.ngrok.<result_name>`).

use crate::policy::Phase;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionInfo {
    pub kind: &'static str,
    pub phases: &'static [Phase],
    /// Always ends the phase when it runs (`deny`, `custom-response`). Actions that end it
    /// only sometimes (`rate-limit` over its limit, `ai-gateway`) are not terminating for
    /// the reachability check.
    pub terminating: bool,
    pub result_name: &'static str,
}

const BOTH: &[Phase] = &[Phase::Request, Phase::Response];
const REQUEST: &[Phase] = &[Phase::Request];

pub const ACTIONS: &[ActionInfo] = &[
    ActionInfo {
        kind: "deny",
        phases: REQUEST,
        terminating: true,
        result_name: "deny",
    },
    ActionInfo {
        kind: "custom-response",
        phases: BOTH,
        terminating: true,
        result_name: "custom_response",
    },
    ActionInfo {
        kind: "add-headers",
        phases: BOTH,
        terminating: false,
        result_name: "add_headers",
    },
    ActionInfo {
        kind: "remove-headers",
        phases: BOTH,
        terminating: false,
        result_name: "remove_headers",
    },
    ActionInfo {
        kind: "set-vars",
        phases: BOTH,
        terminating: false,
        result_name: "set_vars",
    },
    ActionInfo {
        kind: "log",
        phases: BOTH,
        terminating: false,
        result_name: "log",
    },
    ActionInfo {
        kind: "restrict-ips",
        phases: BOTH,
        terminating: false,
        result_name: "restrict_ips",
    },
    ActionInfo {
        kind: "rate-limit",
        phases: REQUEST,
        terminating: false,
        result_name: "rate_limit",
    },
    ActionInfo {
        kind: "ai-gateway",
        phases: REQUEST,
        terminating: false,
        result_name: "ai_gateway",
    },
];

pub fn info(kind: &str) -> Option<&'static ActionInfo> {
    ACTIONS.iter().find(|a| a.kind == kind)
}

/// The known type names, for "unknown action type" messages.
pub fn known_kinds() -> String {
    ACTIONS
        .iter()
        .map(|a| a.kind)
        .collect::<Vec<_>>()
        .join(", ")
}
