//! `GET /v1/models`: the models the policy allows, in the OpenAI list shape, answered by
//! the gateway without calling a provider.

use serde_json::json;

use super::AiGateway;
use crate::model::{Headers, Response};

/// One entry per allowed model id (the first provider's, in policy order); `owned_by` is
/// the model's author, or its provider when the author is unknown.
pub fn models_list(gw: &AiGateway, extra: &Headers) -> Response {
    let u = &gw.universe;
    let mut seen: Vec<String> = Vec::new();
    let mut data = Vec::new();
    let mut ids: Vec<usize> = u.openai.clone();
    ids.extend(u.anthropic.iter().copied().filter(|i| !u.openai.contains(i)));
    ids.sort_unstable();
    for i in ids {
        let Some(m) = u.models.get(i) else { continue };
        if seen.iter().any(|s| s.eq_ignore_ascii_case(&m.id)) {
            continue;
        }
        seen.push(m.id.clone());
        let provider = u.providers.get(m.provider).map(|p| p.id.as_str()).unwrap_or_default();
        let owner = if m.author_id.is_empty() { provider } else { m.author_id.as_str() };
        data.push(json!({"id": m.id, "object": "model", "created": 0, "owned_by": owner}));
    }
    let mut headers: Headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    headers.extend(extra.iter().cloned());
    Response { status: 200, headers, body: json!({"object": "list", "data": data}).to_string().into_bytes() }
}
