//! The `ai` value strategies read — `{models, providers, authors}` of one API format —
//! built at load without metrics, and again per metrics generation with them.

use std::collections::HashMap;

use serde_json::Value as Json;

use super::universe::{Model, Universe, to_cel};
use crate::model::ApiFormat;

/// `ai` for one format; `metrics` replaces each model's zeroed `metrics` when given.
pub(super) fn ai_value(
    u: &Universe,
    format: ApiFormat,
    metrics: Option<&HashMap<(String, String), Json>>,
) -> cel::Value {
    let models: Vec<Json> = u
        .allowed(format)
        .iter()
        .filter_map(|&i| u.models.get(i))
        .map(|m| with_metrics(m, u, metrics))
        .collect();
    to_cel(&serde_json::json!({
        "models": models,
        "providers": u.providers_json(format),
        "authors": u.authors_json(format),
    }))
}

/// `m.*` of one model, with its entry of `metrics` (by provider and model id) if any.
fn with_metrics(
    m: &Model,
    u: &Universe,
    metrics: Option<&HashMap<(String, String), Json>>,
) -> Json {
    let mut j = m.cel.clone();
    if let (Some(metrics), Some(p)) = (metrics, u.providers.get(m.provider))
        && let Some(mj) = metrics.get(&(p.id.clone(), m.id.clone()))
        && let Some(obj) = j.as_object_mut()
    {
        obj.insert("metrics".to_owned(), mj.clone());
    }
    j
}
