//! The typed shape of a policy: phases of rules, each rule a list of expressions and actions.
//!
//! Produced by `parse` from the YAML tree. Every element keeps its path in the document
//! so later stages (CEL compilation, action configs) can report located diagnostics.

use super::yaml_tree::Node;

/// The HTTP phases a policy can hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Phase {
    /// `on_http_request`: before the request goes anywhere.
    Request,
    /// `on_http_response`: after the upstream (or the ai-gateway attempts) answered.
    Response,
}

impl Phase {
    pub fn key(self) -> &'static str {
        match self {
            Phase::Request => "on_http_request",
            Phase::Response => "on_http_response",
        }
    }
}

/// A policy document, structurally valid (action configs are not checked yet).
#[derive(Debug, Clone, Default)]
pub struct PolicyDoc {
    pub on_http_request: Vec<RuleDoc>,
    pub on_http_response: Vec<RuleDoc>,
}

impl PolicyDoc {
    pub fn rules(&self, phase: Phase) -> &[RuleDoc] {
        match phase {
            Phase::Request => &self.on_http_request,
            Phase::Response => &self.on_http_response,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RuleDoc {
    pub name: Option<String>,
    /// e.g. `on_http_request[2]`
    pub path: String,
    pub expressions: Vec<ExprDoc>,
    pub actions: Vec<ActionDoc>,
}

impl RuleDoc {
    /// The rule's name, or its path when it has none (for logs and error bodies).
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.path)
    }
}

#[derive(Debug, Clone)]
pub struct ExprDoc {
    pub source: String,
    pub path: String,
}

#[derive(Debug, Clone)]
pub struct ActionDoc {
    /// The `type` field, e.g. `custom-response`.
    pub kind: String,
    /// e.g. `on_http_request[0].actions[1]`
    pub path: String,
    /// `config`, when present.
    pub config: Option<Node>,
}
