//! The opaque state a plan carries (`plan.continuation`) so `classify_failure` and
//! `finish` can work without the plugin keeping anything between calls. JSON: small, and
//! readable when debugging a host.

use serde::{Deserialize, Serialize};

/// What the result variables and error bodies need after the attempts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Continuation {
    /// "openai" or "anthropic".
    pub format: String,
    pub request_id: String,
    pub on_error_continue: bool,
    pub total_timeout_ms: u64,
    pub max_retry_after_ms: u64,
    /// `actions.ngrok.ai_gateway.client`.
    pub client: serde_json::Value,
    pub input_tokens: u64,
    pub gateway_latency_ms: u64,
    /// `actions.ngrok.ai_gateway.model_selection`.
    pub model_selection: Vec<serde_json::Value>,
    /// Per attempt index: what the results need that `AttemptResult` lacks.
    pub attempts: Vec<AttemptInfo>,
    /// Per model group: its key-selection record.
    pub key_selection: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AttemptInfo {
    pub url: String,
    pub provider: String,
    pub model: String,
    pub author: String,
    /// Redacted key (`sk-proj...7890`) or the configured key's id.
    pub api_key: String,
    pub group: u32,
}

impl Continuation {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<Continuation> {
        serde_json::from_slice(bytes).ok()
    }
}
