//! The opaque state a plan carries (`plan.continuation`) so `finish` and `served_results`
//! can work without the plugin keeping anything between calls. JSON: small, and
//! readable when debugging a host.

use serde::{Deserialize, Serialize};

use super::selection_record::SelectionRecord;
use super::skipped::SkippedCandidate;

/// What the result variables and error bodies need after the attempts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Continuation {
    /// "openai" or "anthropic".
    pub format: String,
    pub request_id: String,
    pub on_error_continue: bool,
    pub total_timeout_ms: u64,
    /// `actions.ngrok.ai_gateway.client`.
    pub client: ClientInfo,
    pub input_tokens: u64,
    pub gateway_latency_ms: u64,
    /// `actions.ngrok.ai_gateway.model_selection`.
    pub model_selection: Vec<SelectionRecord>,
    /// Per attempt index: what the results need that `AttemptResult` lacks.
    pub attempts: Vec<AttemptInfo>,
    /// (model group, its `api_key_selection` record) when key strategies ran; absent
    /// groups used the default order.
    pub key_selection: Vec<(u32, serde_json::Value)>,
    /// Candidates left out because no key could be chosen for them, in group order.
    #[serde(default)]
    pub skipped: Vec<SkippedCandidate>,
}

/// What the client asked (`actions.ngrok.ai_gateway.client`), credentials redacted. Typed
/// rather than JSON so that building it per request costs a few copies, not a tree.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ClientInfo {
    pub method: String,
    pub path: String,
    /// Lower-cased names, credential values replaced by "[redacted]".
    pub request_headers: Vec<(String, String)>,
    pub user_agent: String,
    pub model: String,
    pub models: Vec<String>,
    pub api_key_hash: String,
    /// (model, reason)
    pub rejected_models: Vec<(String, String)>,
}

impl ClientInfo {
    /// The documented shape of `actions.ngrok.ai_gateway.client` (docs/ai-gateway.md,
    /// "Result variables"): headers as name -> [values].
    pub fn to_json(&self) -> serde_json::Value {
        let mut headers = serde_json::Map::new();
        for (k, v) in &self.request_headers {
            match headers.get_mut(k) {
                Some(serde_json::Value::Array(list)) => list.push(v.clone().into()),
                _ => {
                    headers.insert(k.clone(), serde_json::json!([v]));
                }
            }
        }
        serde_json::json!({
            "method": self.method,
            "path": self.path,
            "request_headers": headers,
            "user_agent": self.user_agent,
            "model": self.model,
            "models": self.models,
            "api_key_hash": self.api_key_hash,
            "rejected_models": self.rejected_models.iter().map(|(m, r)| serde_json::json!({"model": m, "reason": r})).collect::<Vec<_>>(),
        })
    }
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
