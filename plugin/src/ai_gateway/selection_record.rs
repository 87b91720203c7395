//! One entry of the `model_selection` result variable: what a `model_selection` strategy
//! returned and what was kept of it. Recorded per request (and carried in the plan's
//! continuation), turned into the documented JSON only when the results are built.

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

/// One `model_selection[]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SelectionRecord {
    /// The strategy failed to evaluate or returned something other than models.
    Failed { strategy: String, error: String },
    /// The strategy's candidates.
    Candidates {
        strategy: String,
        lists: CandidateLists,
        /// `candidates_after_client_filter`, when the client named models; those are then
        /// the models to try (else the allowed candidates are).
        client_filtered: Option<Vec<String>>,
    },
}

/// `candidates_returned` and `candidates_after_allowed_filter` of one strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CandidateLists {
    /// A result computed at load (the strategy reads nothing per request): its index in
    /// the load-time results, so the long lists stay out of every continuation.
    AtLoad(usize),
    /// Computed for this request.
    Computed { returned: Json, allowed: Json },
}

impl SelectionRecord {
    /// The documented JSON. `at_load` gives the (returned, allowed) lists of a load-time
    /// result by index.
    pub fn to_json<'a>(&'a self, at_load: impl Fn(usize) -> Option<(&'a Json, &'a Json)>) -> Json {
        match self {
            SelectionRecord::Failed { strategy, error } => {
                json!({"strategy": strategy, "error": error})
            }
            SelectionRecord::Candidates {
                strategy,
                lists,
                client_filtered,
            } => {
                let (returned, allowed) = match lists {
                    CandidateLists::AtLoad(i) => at_load(*i).unwrap_or((&Json::Null, &Json::Null)),
                    CandidateLists::Computed { returned, allowed } => (returned, allowed),
                };
                let mut out = json!({
                    "strategy": strategy,
                    "candidates_returned": returned,
                    "candidates_after_allowed_filter": allowed,
                    "models_to_try": allowed,
                });
                if let Some(kept) = client_filtered {
                    out["candidates_after_client_filter"] = json!(kept);
                    out["models_to_try"] = json!(kept);
                }
                out
            }
        }
    }
}
