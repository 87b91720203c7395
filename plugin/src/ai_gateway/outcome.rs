//! `AiGateway::finish`: after the attempt loop ended without serving the client, the
//! error the client sees and the `actions.ngrok.ai_gateway` result variables
//! (docs/ai-gateway.md, "Result variables").
//!
//! Which error: the total timeout → `total_timeout` (504); the attempt cap cut the plan
//! short → `too_many_attempts` (503); a 4xx the rules do not fail over on →
//! `upstream_rejected` with the provider's status; every attempt failed before any
//! response (connect/DNS/TLS) → `provider_unreachable` (502); otherwise
//! `all_providers_failed` (503).

use serde_json::{Value as Json, json};

use super::continuation::Continuation;
use super::errors::GatewayError;
use super::failover::failure_name;
use super::skipped::{SkippedCandidate, entries_before};
use super::{ATTEMPTS_HEADER, AiGateway, Finish, MAX_ATTEMPTS, REQUEST_ID_HEADER};
use crate::model::{ApiFormat, FailureKind, GatewayOutcome, Headers, Response};

/// `body_on_error` is at most 1 KiB (docs/ai-gateway.md, "Result variables"); the host
/// already truncates.
const BODY_ON_ERROR_MAX: usize = 1024;

pub(super) fn finish(gw: &AiGateway, continuation: &[u8], outcome: &GatewayOutcome) -> Finish {
    let c = Continuation::decode(continuation).unwrap_or_default();
    let format = if c.format == "anthropic" {
        ApiFormat::Anthropic
    } else {
        ApiFormat::OpenAi
    };
    let models_tried = models_tried(gw, &c, outcome);
    let model_selection = gw.selection_json(&c.model_selection, format);
    let headers: Headers = vec![
        (REQUEST_ID_HEADER.to_owned(), c.request_id.clone()),
        (
            ATTEMPTS_HEADER.to_owned(),
            outcome.attempts.len().to_string(),
        ),
    ];
    let mut results = json!({
        "client": c.client.to_json(),
        "input_ngrok_tokens": c.input_tokens,
        "output_ngrok_tokens": 0,
        "gateway_latency_ms": c.gateway_latency_ms,
        "model_selection": model_selection,
        "models_tried": models_tried,
        "attempts": outcome.attempts.len(),
        "duration_ms": outcome.duration_ms,
    });
    if let Some(status) = outcome.served {
        // Not expected (the host only calls finish on failure), but keep results honest.
        results["status"] = json!("success");
        let last = outcome.attempts.last();
        results["success"] = json!({"model": last.map(|a| a.model.clone()), "provider": last.map(|a| a.provider.clone())});
        return Finish {
            response: Response {
                status,
                headers,
                body: Vec::new(),
            },
            results,
            on_error_continue: false,
        };
    }
    let error = classify(&c, outcome);
    results["status"] = json!("error");
    results["error"] = json!({"code": error.code(), "ngrok_code": error.ngrok_code(), "message": error.to_string()});
    Finish {
        response: error.response(format, &headers),
        results,
        on_error_continue: c.on_error_continue,
    }
}

fn classify(c: &Continuation, outcome: &GatewayOutcome) -> GatewayError {
    let summary = || {
        outcome
            .attempts
            .iter()
            .map(|a| match a.status {
                Some(s) => format!("{}:{} answered {s}", a.provider, a.model),
                None => format!(
                    "{}:{} {} ({})",
                    a.provider,
                    a.model,
                    failure_name(a.failure),
                    a.message
                ),
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    if outcome.timed_out
        || outcome
            .attempts
            .last()
            .is_some_and(|a| a.failure == Some(FailureKind::TotalTimeout))
    {
        return GatewayError::TotalTimeout(
            humantime::format_duration(std::time::Duration::from_millis(c.total_timeout_ms))
                .to_string(),
        );
    }
    let Some(last) = outcome.attempts.last() else {
        return GatewayError::AllFailed("no attempt was made".to_owned());
    };
    if last.retry_action == "fail_fast"
        && let Some(status) = last.status
        && (400..500).contains(&status)
    {
        let excerpt =
            String::from_utf8_lossy(&last.body_excerpt[..last.body_excerpt.len().min(300)])
                .to_string();
        return GatewayError::UpstreamRejected {
            status,
            message: format!("{}:{}: {excerpt}", last.provider, last.model),
        };
    }
    let remaining = (last.index as usize + 1) < c.attempts.len();
    if outcome.attempts.len() >= MAX_ATTEMPTS as usize && remaining {
        return GatewayError::TooManyAttempts(summary());
    }
    if outcome.attempts.iter().all(|a| {
        matches!(
            a.failure,
            Some(FailureKind::Connect | FailureKind::Dns | FailureKind::Tls)
        )
    }) {
        return GatewayError::Unreachable(summary());
    }
    GatewayError::AllFailed(summary())
}

/// `models_tried[]`: a new entry whenever the model changes, each with its requests.
fn models_tried(gw: &AiGateway, c: &Continuation, outcome: &GatewayOutcome) -> Json {
    let mut out: Vec<Json> = Vec::new();
    let mut current_group: Option<u32> = None;
    let mut skipped = c.skipped.iter().peekable();
    for a in &outcome.attempts {
        let info = c
            .attempts
            .get(a.index as usize)
            .cloned()
            .unwrap_or_default();
        if current_group != Some(info.group) || out.is_empty() {
            current_group = Some(info.group);
            out.extend(entries_before(&mut skipped, info.group));
            let keys = match c.key_selection.iter().find(|(g, _)| *g == info.group) {
                Some((_, record)) => record.clone(),
                // Default order: every configured key of the provider, as written.
                None => match gw.universe.providers.iter().find(|p| p.id == a.provider) {
                    Some(p) if !p.keys.is_empty() => json!([{
                        "strategy": "ai.keys",
                        "keys_to_try": p.keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
                    }]),
                    _ => json!([]),
                },
            };
            out.push(json!({"model": a.model, "provider": a.provider, "author": info.author, "api_key_selection": keys, "requests_made": []}));
        }
        let headers: serde_json::Map<String, Json> =
            a.headers
                .iter()
                .fold(serde_json::Map::new(), |mut m, (k, v)| {
                    if let Some(Json::Array(list)) = m.get_mut(k) {
                        list.push(json!(v));
                    } else {
                        m.insert(k.clone(), json!([v]));
                    }
                    m
                });
        let body = &a.body_excerpt[..a.body_excerpt.len().min(BODY_ON_ERROR_MAX)];
        let request = json!({
            "status": if a.failure.is_none() { "success" } else { "error" },
            "error": if a.failure.is_none() { String::new() } else { a.message.clone() },
            "failure": failure_name(a.failure),
            "retry_action": a.retry_action,
            "upstream_input_tokens": 0,
            "upstream_output_tokens": 0,
            "request": {"url": info.url, "api_key": info.api_key},
            "response": {"status_code": a.status.unwrap_or(0), "headers": headers, "body_on_error": String::from_utf8_lossy(body)},
            "upstream_latency": {"time_to_first_byte_ms": a.duration_ms, "total_ms": a.duration_ms},
        });
        if let Some(Json::Array(reqs)) = out.last_mut().and_then(|m| m.get_mut("requests_made")) {
            reqs.push(request);
        }
    }
    out.extend(skipped.map(SkippedCandidate::to_json));
    Json::Array(out)
}
