//! What the client and the later rules see once the attempt loop has ended: the error answer
//! after a loop that served nothing ([`finish`]), and the `actions.ngrok.ai_gateway` result
//! variables either way (docs/ai-gateway.md, "Result variables").
//!
//! Which answer a failed loop gets, first match wins (docs/ai-gateway.md, "Errors"):
//!
//! | the attempts | answer |
//! |---|---|
//! | the total timeout ended them | `total_timeout` (504) |
//! | the last one was a 4xx the rules stop on | the provider's own answer passed through (status, body, content type); `upstream_rejected` with the provider's status when its body was too long to keep whole |
//! | every one was rejected with 401/403 | `authentication_failed` with that status (401 when both appear) |
//! | every one answered 429 | `rate_limited` (429), `Retry-After` the shortest the providers asked for |
//! | the attempt cap cut the plan short | `too_many_attempts` (503) |
//! | every one failed to connect (connect/DNS/TLS) | `provider_unreachable` (502) |
//! | anything else | `all_providers_failed` (503) |

use serde_json::{Value as Json, json};

use super::continuation::Continuation;
use super::errors::GatewayError;
use super::failover::{failure_name, step_name};
use super::skipped::{SkippedCandidate, entries_before};
use super::{ATTEMPTS_HEADER, AiGateway, Finish, REQUEST_ID_HEADER};
use crate::error_response::ERROR_CODE_HEADER;
use crate::model::{
    ApiFormat, AttemptResult, AttemptStep, FailureKind, GatewayOutcome, Headers, ProviderAnswer,
    Response,
};

/// `body_on_error` is at most 1 KiB (docs/ai-gateway.md, "Result variables"); the host
/// already truncates.
const BODY_ON_ERROR_MAX: usize = 1024;
/// How much of a provider's rejection the `upstream_rejected` message quotes when the
/// answer itself cannot be passed through.
const REJECTION_QUOTE_MAX: usize = 300;

/// After a loop that served nothing: the answer, the result variables, and whether the
/// policy continues (`on_error: continue`).
pub(super) fn finish(gw: &AiGateway, continuation: &[u8], outcome: &GatewayOutcome) -> Finish {
    let c = Continuation::decode(continuation).unwrap_or_default();
    let format = format_of(&c);
    let (mut results, served_at) = common_results(gw, &c, outcome, format);
    let headers: Headers = vec![
        (REQUEST_ID_HEADER.to_owned(), c.request_id.clone()),
        (
            ATTEMPTS_HEADER.to_owned(),
            outcome.attempts.len().to_string(),
        ),
    ];
    if let Some(status) = outcome.served {
        // Not expected (the host only calls finish on failure), but keep results honest.
        mark_success(&mut results, &c, outcome, served_at);
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
    let response = match (&error, outcome.last_answer.as_ref()) {
        (GatewayError::UpstreamRejected { status, .. }, Some(answer))
            if answer.complete && answer.status == *status =>
        {
            passed_through(answer, error.code(), headers)
        }
        _ => error.response(format, &headers),
    };
    Finish {
        response,
        results,
        on_error_continue: c.on_error_continue,
    }
}

/// After a plan served the client: the result variables the response phase reads.
pub(super) fn served_results(
    gw: &AiGateway,
    continuation: &[u8],
    outcome: &GatewayOutcome,
) -> Json {
    let c = Continuation::decode(continuation).unwrap_or_default();
    let (mut results, served_at) = common_results(gw, &c, outcome, format_of(&c));
    mark_success(&mut results, &c, outcome, served_at);
    results
}

fn format_of(c: &Continuation) -> ApiFormat {
    if c.format == "anthropic" {
        ApiFormat::Anthropic
    } else {
        ApiFormat::OpenAi
    }
}

/// The fields every outcome has, and where in `models_tried` the last attempt stands
/// (model index, request index).
fn common_results(
    gw: &AiGateway,
    c: &Continuation,
    outcome: &GatewayOutcome,
    format: ApiFormat,
) -> (Json, Option<(usize, usize)>) {
    let (models_tried, last_at) = models_tried(gw, c, outcome);
    let results = json!({
        "client": c.client.to_json(),
        "input_ngrok_tokens": c.input_tokens,
        "output_ngrok_tokens": 0,
        "gateway_latency_ms": c.gateway_latency_ms,
        "model_selection": gw.selection_json(&c.model_selection, format),
        "models_tried": models_tried,
        "attempts": outcome.attempts.len(),
        "duration_ms": outcome.duration_ms,
    });
    (results, last_at)
}

/// `status: "success"` and the `success` record: which entry of `models_tried` served.
fn mark_success(
    results: &mut Json,
    c: &Continuation,
    outcome: &GatewayOutcome,
    served_at: Option<(usize, usize)>,
) {
    results["status"] = json!("success");
    let Some(last) = outcome.attempts.last() else {
        return;
    };
    let (model_index, request_index) = served_at.unwrap_or_default();
    let author = c
        .attempts
        .get(last.index as usize)
        .map(|a| a.author.clone())
        .unwrap_or_default();
    results["success"] = json!({
        "model_index": model_index,
        "request_index": request_index,
        "model": last.model,
        "provider": last.provider,
        "author": author,
    });
}

/// The provider's rejection as the client gets it: its status, content type and body, with
/// the gateway's own headers.
fn passed_through(answer: &ProviderAnswer, code: &str, mut headers: Headers) -> Response {
    if !answer.content_type.is_empty() {
        headers.push(("content-type".to_owned(), answer.content_type.clone()));
    }
    headers.push((ERROR_CODE_HEADER.to_owned(), code.to_owned()));
    Response {
        status: answer.status,
        headers,
        body: answer.body.clone(),
    }
}

/// The error of a loop that served nothing (the table in the module doc).
fn classify(c: &Continuation, outcome: &GatewayOutcome) -> GatewayError {
    let summary = || summary(&outcome.attempts);
    let last_step = outcome.attempts.last().map(|a| a.step);
    if outcome.timed_out || last_step == Some(AttemptStep::TotalTimeout) {
        return GatewayError::TotalTimeout(
            humantime::format_duration(std::time::Duration::from_millis(c.total_timeout_ms))
                .to_string(),
        );
    }
    let Some(last) = outcome.attempts.last() else {
        return GatewayError::AllFailed("no attempt was made".to_owned());
    };
    if last.step == AttemptStep::FailFast
        && let Some(status) = last.status
        && (400..500).contains(&status)
    {
        let excerpt = utf8_prefix(&last.body_excerpt, REJECTION_QUOTE_MAX);
        return GatewayError::UpstreamRejected {
            status,
            message: format!("{}:{}: {excerpt}", last.provider, last.model),
        };
    }
    let statuses = || outcome.attempts.iter().map(answered_status);
    if statuses().all(|s| matches!(s, Some(401 | 403))) {
        let status = if statuses().all(|s| s == Some(403)) {
            403
        } else {
            401
        };
        return GatewayError::CredentialsRejected {
            status,
            message: summary(),
        };
    }
    if statuses().all(|s| s == Some(429)) {
        return GatewayError::RateLimited {
            retry_after_ms: outcome
                .attempts
                .iter()
                .filter_map(|a| a.retry_after_ms)
                .min(),
            message: summary(),
        };
    }
    if last.step == AttemptStep::AttemptCap {
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

/// The status of an attempt that failed on the provider's answer; `None` for any other
/// failure (a stream's error event came with a 200 and is not the status's fault).
fn answered_status(a: &AttemptResult) -> Option<u16> {
    match a.failure {
        Some(FailureKind::Status) => a.status,
        _ => None,
    }
}

/// One clause per attempt, for error messages: `provider:model answered 503` or
/// `provider:model connect (why)`.
fn summary(attempts: &[AttemptResult]) -> String {
    attempts
        .iter()
        .map(|a| match answered_status(a) {
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
}

/// At most `max` bytes of `bytes` as text, never cutting a UTF-8 character in two.
fn utf8_prefix(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// `models_tried[]`: a new entry whenever the model changes, each with its requests; and
/// where the last attempt's request stands in it (model index, request index).
fn models_tried(
    gw: &AiGateway,
    c: &Continuation,
    outcome: &GatewayOutcome,
) -> (Json, Option<(usize, usize)>) {
    let mut out: Vec<Json> = Vec::new();
    let mut last_at = None;
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
            "retry_action": step_name(a.step),
            "upstream_input_tokens": 0,
            "upstream_output_tokens": 0,
            "request": {"url": info.url, "api_key": info.api_key},
            "response": {"status_code": a.status.unwrap_or(0), "headers": headers, "body_on_error": String::from_utf8_lossy(body)},
            "upstream_latency": {"time_to_first_byte_ms": a.duration_ms, "total_ms": a.duration_ms},
        });
        let model_index = out.len().saturating_sub(1);
        if let Some(Json::Array(reqs)) = out.last_mut().and_then(|m| m.get_mut("requests_made")) {
            last_at = Some((model_index, reqs.len()));
            reqs.push(request);
        }
    }
    out.extend(skipped.map(SkippedCandidate::to_json));
    (Json::Array(out), last_at)
}

#[cfg(test)]
mod tests {
    use super::utf8_prefix;

    #[test]
    fn a_quote_never_cuts_a_character() {
        assert_eq!(utf8_prefix("héllo".as_bytes(), 2), "h");
        assert_eq!(utf8_prefix("héllo".as_bytes(), 3), "hé");
        assert_eq!(utf8_prefix(b"plain", 300), "plain");
    }
}
