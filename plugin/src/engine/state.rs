//! What survives between calls for one request: the `actions.ngrok.*` results of the
//! request phase, handed to the response phase as opaque bytes (the host stores them with
//! the request). `vars.*` are scoped to the phase that set them, so they are not carried.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cel_env::Bindings;
use crate::cel_env::convert::{cel_to_json, json_to_cel};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CarriedState {
    /// `actions.ngrok.<name>` as JSON.
    pub actions: BTreeMap<String, serde_json::Value>,
}

impl CarriedState {
    pub fn from_bindings(bindings: &Bindings) -> CarriedState {
        CarriedState {
            actions: bindings
                .actions
                .iter()
                .filter_map(|(k, v)| cel_to_json(v).ok().map(|j| (k.clone(), j)))
                .collect(),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        if self.actions.is_empty() {
            return Vec::new();
        }
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Empty or unreadable bytes give an empty state: the response phase then simply sees
    /// no earlier results.
    pub fn from_bytes(bytes: &[u8]) -> CarriedState {
        if bytes.is_empty() {
            return CarriedState::default();
        }
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    pub fn into_bindings(self) -> Bindings {
        Bindings {
            vars: BTreeMap::new(),
            actions: self
                .actions
                .iter()
                .map(|(k, v)| (k.clone(), json_to_cel(v)))
                .collect(),
        }
    }
}
