//! The continuation that lets an ai-gateway plan's attempts run in the host and come back
//! (`resume`, and `on_http_response` after a served plan) without the plugin keeping state between calls: where
//! the phase stopped, what it had bound and edited, and the action's own bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::cel_env::Bindings;
use crate::cel_env::convert::{cel_to_json, json_to_cel};
use crate::model::Headers;

/// Where a phase run starts: a rule, and an action inside it. Starting past action 0 means
/// the rule's expressions already held (a resumed run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub rule: usize,
    pub action: usize,
}

/// The engine's continuation around the action's own: where the phase stopped, what it
/// had bound and edited so far, and the action's bytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EngineContinuation {
    pub position: Position,
    pub vars: BTreeMap<String, serde_json::Value>,
    pub actions: BTreeMap<String, serde_json::Value>,
    /// The upstream request's headers after the edits made before the action.
    pub headers: Headers,
    /// The action's continuation, itself JSON, embedded as is: neither base64 nor a JSON
    /// string, either of which costs a pass over it (several KB) per request. `null` when
    /// the action's bytes were not JSON (they then read back as unreadable, as before).
    pub gateway: Box<RawValue>,
}

impl PartialEq for EngineContinuation {
    fn eq(&self, other: &Self) -> bool {
        self.position == other.position
            && self.vars == other.vars
            && self.actions == other.actions
            && self.headers == other.headers
            && self.gateway.get() == other.gateway.get()
    }
}

impl EngineContinuation {
    /// The continuation built field by field: the reference [`Self::encode_parts`] is
    /// checked against (production code only splices).
    #[cfg(test)]
    pub fn new(
        position: Position,
        bindings: &Bindings,
        headers: &Headers,
        gateway: &[u8],
    ) -> EngineContinuation {
        let to_json = |m: &BTreeMap<String, cel::Value>| {
            m.iter()
                .filter_map(|(k, v)| cel_to_json(v).ok().map(|j| (k.clone(), j)))
                .collect()
        };
        EngineContinuation {
            position,
            vars: to_json(&bindings.vars),
            actions: to_json(&bindings.actions),
            headers: headers.clone(),
            gateway: std::str::from_utf8(gateway)
                .ok()
                .and_then(|text| serde_json::from_str::<Box<RawValue>>(text).ok())
                .unwrap_or_default(),
        }
    }

    /// What serializing [`EngineContinuation::new`] gives, without re-reading the action's bytes: they come
    /// straight from the action's JSON encoder, so they are spliced in as they are (a
    /// few KB that checking would scan once more per request). Runs when a plan leaves the
    /// plugin. Bytes that cannot be a JSON object (empty: the action failed to encode)
    /// become `null`, as in [`EngineContinuation::new`].
    pub fn encode_parts(
        position: Position,
        bindings: &Bindings,
        headers: &Headers,
        gateway: &[u8],
    ) -> Vec<u8> {
        #[derive(Serialize)]
        struct Head<'a> {
            position: Position,
            vars: BTreeMap<&'a str, serde_json::Value>,
            actions: BTreeMap<&'a str, serde_json::Value>,
            headers: &'a Headers,
        }
        fn to_json(m: &BTreeMap<String, cel::Value>) -> BTreeMap<&str, serde_json::Value> {
            m.iter()
                .filter_map(|(k, v)| cel_to_json(v).ok().map(|j| (k.as_str(), j)))
                .collect()
        }
        let head = Head {
            position,
            vars: to_json(&bindings.vars),
            actions: to_json(&bindings.actions),
            headers,
        };
        let Ok(mut out) = serde_json::to_vec(&head) else {
            return Vec::new();
        };
        let object = gateway.first() == Some(&b'{') && gateway.last() == Some(&b'}');
        // `out` is `{...}`: reopen it and append the last field.
        out.pop();
        out.reserve(gateway.len() + 16);
        out.extend_from_slice(b",\"gateway\":");
        out.extend_from_slice(if object { gateway } else { b"null" });
        out.push(b'}');
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<EngineContinuation> {
        serde_json::from_slice(bytes).ok()
    }

    pub fn gateway_bytes(&self) -> Vec<u8> {
        self.gateway.get().as_bytes().to_vec()
    }

    pub fn bindings(&self) -> Bindings {
        let from_json = |m: &BTreeMap<String, serde_json::Value>| {
            m.iter().map(|(k, v)| (k.clone(), json_to_cel(v))).collect()
        };
        Bindings {
            vars: from_json(&self.vars),
            actions: from_json(&self.actions),
        }
    }
}
