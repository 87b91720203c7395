//! `GET /v1/models`: the models the policy allows, answered by the gateway without calling
//! a provider. OpenAI list shape by default; the Anthropic shape (and only models served
//! in the Anthropic format) when the client speaks Anthropic (`anthropic-version` header),
//! so both SDKs' `models.list()` parse it.

use serde_json::json;

use super::AiGateway;
use super::errors::GatewayError;
use super::request_types::{RequestType, not_allowed};
use crate::model::{Headers, Request, Response};

/// The list, of the models whose provider may serve `list_models` (`allowed_requests`);
/// the error when every provider with a model to list refuses it.
pub fn models_list(
    gw: &AiGateway,
    req: &Request,
    extra: &Headers,
) -> Result<Response, GatewayError> {
    let u = &gw.universe;
    let anthropic = req.headers.iter().any(|(k, _)| k == "anthropic-version");
    let mut ids: Vec<usize> = if anthropic {
        u.allowed.anthropic.clone()
    } else {
        let mut all = u.allowed.openai.clone();
        all.extend(
            u.allowed
                .anthropic
                .iter()
                .copied()
                .filter(|i| !u.allowed.openai.contains(i)),
        );
        all
    };
    ids.sort_unstable();
    let mut refused: Vec<String> = Vec::new();
    u.retain_serving(
        &mut ids,
        |&i| u.models.get(i).map_or(usize::MAX, |m| m.provider),
        RequestType::ListModels,
        &mut refused,
    );
    if ids.is_empty() && !refused.is_empty() {
        return Err(not_allowed(RequestType::ListModels, &refused));
    }
    // One entry per model id (the first provider's, in policy order); `owned_by` is the
    // model's author, or its provider when the author is unknown.
    let mut seen: Vec<&str> = Vec::new();
    let mut data = Vec::new();
    for i in ids {
        let Some(m) = u.models.get(i) else { continue };
        if seen.iter().any(|s| s.eq_ignore_ascii_case(&m.id)) {
            continue;
        }
        seen.push(&m.id);
        let provider = u
            .providers
            .get(m.provider)
            .map(|p| p.id.as_str())
            .unwrap_or_default();
        let owner = if m.author_id.is_empty() {
            provider
        } else {
            m.author_id.as_str()
        };
        data.push(if anthropic {
            let name = m.cel.get("display_name").cloned().unwrap_or_else(|| json!(m.id));
            json!({"type": "model", "id": m.id, "display_name": name, "created_at": "1970-01-01T00:00:00Z"})
        } else {
            json!({"id": m.id, "object": "model", "created": 0, "owned_by": owner})
        });
    }
    let body = if anthropic {
        let first = data.first().and_then(|d| d.get("id").cloned());
        let last = data.last().and_then(|d| d.get("id").cloned());
        json!({"data": data, "has_more": false, "first_id": first, "last_id": last})
    } else {
        json!({"object": "list", "data": data})
    };
    let mut headers: Headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    headers.extend(extra.iter().cloned());
    Ok(Response {
        status: 200,
        headers,
        body: body.to_string().into_bytes(),
    })
}
