//! Candidates a plan leaves out before any attempt because no key could be chosen for them
//! (an `api_key_selection` strategy failed or returned no keys). Recorded per request in the
//! plan's continuation and shown in `models_tried[]` with the error and no requests
//! (docs/ai-gateway.md, "Strategies"), so one provider's key problem never fails the others.

use std::iter::Peekable;

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

/// One candidate skipped at plan time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SkippedCandidate {
    /// Its place in the selected models (the attempts' `model_group`).
    pub group: u32,
    pub provider: String,
    pub model: String,
    pub author: String,
    /// The provider's `api_key_selection` records.
    pub api_key_selection: Vec<Json>,
    /// Why no key was chosen.
    pub error: String,
}

impl SkippedCandidate {
    /// Its `models_tried[]` entry: the usual fields, the error, no requests.
    pub fn to_json(&self) -> Json {
        json!({
            "model": self.model,
            "provider": self.provider,
            "author": self.author,
            "api_key_selection": self.api_key_selection,
            "error": self.error,
            "requests_made": [],
        })
    }
}

/// The entries of the skipped candidates that come before model group `group`, taken from
/// `skipped` (in group order); called as `models_tried[]` is built, so entries stay in the
/// order the models were selected.
pub fn entries_before<'a, I>(skipped: &mut Peekable<I>, group: u32) -> Vec<Json>
where
    I: Iterator<Item = &'a SkippedCandidate>,
{
    let mut out = Vec::new();
    while let Some(s) = skipped.next_if(|s| s.group < group) {
        out.push(s.to_json());
    }
    out
}
