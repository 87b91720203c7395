//! What happens after a failed attempt: the one place that decides it. The host hands every
//! failed attempt to `classify-failure` and does what the answer says, within its mechanical
//! limits (deadlines, the attempt cap, the longest Retry-After it waits). The decision table
//! is documented in docs/ai-gateway.md, "Failover"; [`default_action`] is that table.
//!
//! A policy may replace the defaults with `failover: {rule: "<CEL>"}`. The rule sees
//! `attempt` (built by [`attempt_value`]):
//!
//! | variable | type | meaning |
//! |---|---|---|
//! | `attempt.status` | int | response status; 0 when no response head arrived |
//! | `attempt.failure` | string | `status`, `connect`, `dns`, `tls`, `timeout`, `total_timeout`, `stream_error`, `protocol`, `saturated` |
//! | `attempt.headers` | map(string, list(string)) | response headers, lower-cased |
//! | `attempt.body` | string | up to 1 KiB of the response body |
//! | `attempt.provider`, `attempt.model`, `attempt.key_id` | string | what was tried |
//! | `attempt.index` | int | index into the plan's attempts |
//! | `attempt.duration_ms` | int | how long it took |
//! | `attempt.retry_after_ms` | int | the upstream's Retry-After as the host parsed it, -1 when absent |
//! | `attempt.can_retry_same` | bool | whether the edge would honour `retry_same` now |
//! | `attempt.default` | string | what the default rules decide |
//!
//! It returns `"next_key"`, `"next_model"`, `"drop_key"`, `"retry_same"` or `"stop"` (or a
//! bool: true = `"next_key"`, false = `"stop"`). A rule that fails at runtime, or returns
//! anything else, falls back to `attempt.default`.

use std::collections::HashMap;
use std::sync::Arc;

use cel::Value;
use cel::objects::{Key, Map};

use super::strategy::Strategy;
use crate::model::{AttemptResult, AttemptStep, FailoverAction, FailureKind};

/// The default rules, run after every failed attempt whose policy has no `failover.rule`
/// (and to give such a rule `attempt.default`):
///
/// - 401: the provider rejected the key itself, so it is not sent to this provider again
///   for any model (`drop_key`); the next attempt is another key or another model.
/// - 403: the same for the client's own key (`key_id` is `""`); a configured key may be
///   refused one model and allowed another, so it only moves to the next key.
/// - 429, and 503, when the host can honour the upstream's Retry-After (`can_retry_same`
///   and a Retry-After was sent): the same attempt again after the wait.
/// - 429 otherwise: the next key (this key is out of quota; another may not be).
/// - 408, any other 5xx, connect/DNS/TLS/protocol failures, per-attempt timeouts and streams
///   that failed before their commit point: the next model, since the same provider and
///   model is likely to fail again whatever the key.
/// - saturated (the provider's concurrency cap and queue were full, or the wait for a slot
///   outlasted the attempt's deadline): the next model; every key of this provider waits
///   in the same queue, so another key would not get through sooner.
/// - the total timeout: stop; there is no time left.
/// - any other status (400, 404, 413, 422, 3xx…): stop; the request itself is at fault and
///   would fail the same way everywhere, so the client gets the provider's answer.
pub fn default_action(failed: &AttemptResult, can_retry_same: bool) -> FailoverAction {
    let honoured_wait = can_retry_same && failed.retry_after_ms.is_some();
    match failed.failure {
        Some(FailureKind::TotalTimeout) => FailoverAction::Stop,
        Some(FailureKind::Status) | None => match failed.status.unwrap_or(0) {
            401 => FailoverAction::DropKey,
            403 if failed.key_id.is_empty() => FailoverAction::DropKey,
            403 => FailoverAction::NextKey,
            429 | 503 if honoured_wait => FailoverAction::RetrySame,
            429 => FailoverAction::NextKey,
            408 => FailoverAction::NextModel,
            s if s >= 500 => FailoverAction::NextModel,
            _ => FailoverAction::Stop,
        },
        Some(
            FailureKind::Connect
            | FailureKind::Dns
            | FailureKind::Tls
            | FailureKind::Timeout
            | FailureKind::StreamError
            | FailureKind::Protocol
            | FailureKind::Saturated,
        ) => FailoverAction::NextModel,
    }
}

/// The name a failover rule returns, and `attempt.default` shows.
pub fn action_name(a: FailoverAction) -> &'static str {
    match a {
        FailoverAction::NextKey => "next_key",
        FailoverAction::NextModel => "next_model",
        FailoverAction::DropKey => "drop_key",
        FailoverAction::RetrySame => "retry_same",
        FailoverAction::Stop => "stop",
    }
}

fn action_named(name: &str) -> Option<FailoverAction> {
    Some(match name {
        "next_key" => FailoverAction::NextKey,
        "next_model" => FailoverAction::NextModel,
        "drop_key" => FailoverAction::DropKey,
        "retry_same" => FailoverAction::RetrySame,
        "stop" => FailoverAction::Stop,
        _ => return None,
    })
}

/// The name of the step the host took (`models_tried[].requests_made[].retry_action`).
pub fn step_name(step: AttemptStep) -> &'static str {
    match step {
        AttemptStep::Succeeded => "succeeded",
        AttemptStep::NextKey => "next_key",
        AttemptStep::NextModel => "next_model",
        AttemptStep::DropKey => "drop_key",
        AttemptStep::RetrySame => "retry_same",
        AttemptStep::FailFast => "fail_fast",
        AttemptStep::Exhausted => "exhausted",
        AttemptStep::AttemptCap => "attempt_cap",
        AttemptStep::TotalTimeout => "total_timeout",
    }
}

pub fn failure_name(f: Option<FailureKind>) -> &'static str {
    match f {
        None | Some(FailureKind::Status) => "status",
        Some(FailureKind::Connect) => "connect",
        Some(FailureKind::Dns) => "dns",
        Some(FailureKind::Tls) => "tls",
        Some(FailureKind::Timeout) => "timeout",
        Some(FailureKind::TotalTimeout) => "total_timeout",
        Some(FailureKind::Saturated) => "saturated",
        Some(FailureKind::StreamError) => "stream_error",
        Some(FailureKind::Protocol) => "protocol",
    }
}

fn s(v: &str) -> Value {
    Value::String(Arc::new(v.to_owned()))
}

/// The `attempt` variable of a failover rule.
pub fn attempt_value(
    failed: &AttemptResult,
    can_retry_same: bool,
    default: FailoverAction,
) -> Value {
    let mut headers: HashMap<Key, Vec<Value>> = HashMap::new();
    for (k, v) in &failed.headers {
        headers
            .entry(Key::String(Arc::new(k.clone())))
            .or_default()
            .push(s(v));
    }
    let headers: HashMap<Key, Value> = headers
        .into_iter()
        .map(|(k, v)| (k, Value::List(Arc::new(v))))
        .collect();
    let entries: Vec<(&str, Value)> = vec![
        ("status", Value::Int(i64::from(failed.status.unwrap_or(0)))),
        ("failure", s(failure_name(failed.failure))),
        (
            "headers",
            Value::Map(Map {
                map: Arc::new(headers),
            }),
        ),
        ("body", s(&String::from_utf8_lossy(&failed.body_excerpt))),
        ("provider", s(&failed.provider)),
        ("model", s(&failed.model)),
        ("key_id", s(&failed.key_id)),
        ("index", Value::Int(i64::from(failed.index))),
        (
            "duration_ms",
            Value::Int(i64::try_from(failed.duration_ms).unwrap_or(i64::MAX)),
        ),
        (
            "retry_after_ms",
            Value::Int(
                failed
                    .retry_after_ms
                    .and_then(|m| i64::try_from(m).ok())
                    .unwrap_or(-1),
            ),
        ),
        ("can_retry_same", Value::Bool(can_retry_same)),
        ("default", s(action_name(default))),
    ];
    let map: HashMap<Key, Value> = entries
        .into_iter()
        .map(|(k, v)| (Key::String(Arc::new(k.to_owned())), v))
        .collect();
    Value::Map(Map { map: Arc::new(map) })
}

/// Decides one failed attempt: the policy's rule when it has one, the defaults otherwise.
/// Runs once per failed attempt, from `classify-failure`.
pub fn classify(
    rule: Option<&Strategy>,
    root: &cel::Context<'static, 'static>,
    failed: &AttemptResult,
    can_retry_same: bool,
) -> FailoverAction {
    let default = default_action(failed, can_retry_same);
    let Some(rule) = rule else { return default };
    let attempt = attempt_value(failed, can_retry_same, default);
    match rule.eval(root, &[("attempt", attempt)], None) {
        Ok(Value::String(name)) => action_named(&name).unwrap_or(default),
        Ok(Value::Bool(true)) => FailoverAction::NextKey,
        Ok(Value::Bool(false)) => FailoverAction::Stop,
        _ => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, key_id: &str, retry_after_ms: Option<u64>) -> AttemptResult {
        AttemptResult {
            status: Some(status),
            failure: Some(FailureKind::Status),
            key_id: key_id.into(),
            retry_after_ms,
            ..AttemptResult::default()
        }
    }

    fn status(s: u16) -> FailoverAction {
        default_action(&answered(s, "k1", None), true)
    }

    #[test]
    fn statuses() {
        assert_eq!(status(401), FailoverAction::DropKey);
        assert_eq!(status(403), FailoverAction::NextKey);
        assert_eq!(status(429), FailoverAction::NextKey);
        assert_eq!(status(408), FailoverAction::NextModel);
        assert_eq!(status(500), FailoverAction::NextModel);
        assert_eq!(status(503), FailoverAction::NextModel);
        assert_eq!(status(400), FailoverAction::Stop);
        assert_eq!(status(404), FailoverAction::Stop);
        assert_eq!(status(422), FailoverAction::Stop);
        assert_eq!(status(302), FailoverAction::Stop);
    }

    #[test]
    fn the_clients_own_key_rejected_with_403_is_dropped() {
        assert_eq!(
            default_action(&answered(403, "", None), true),
            FailoverAction::DropKey
        );
        assert_eq!(
            default_action(&answered(401, "", None), true),
            FailoverAction::DropKey
        );
    }

    #[test]
    fn retry_after_is_honoured_only_when_the_host_can_wait() {
        for s in [429, 503] {
            assert_eq!(
                default_action(&answered(s, "k1", Some(1_000)), true),
                FailoverAction::RetrySame
            );
        }
        assert_eq!(
            default_action(&answered(429, "k1", Some(1_000)), false),
            FailoverAction::NextKey
        );
        assert_eq!(
            default_action(&answered(503, "k1", Some(1_000)), false),
            FailoverAction::NextModel
        );
        // No Retry-After: nothing says waiting helps.
        assert_eq!(
            default_action(&answered(503, "k1", None), true),
            FailoverAction::NextModel
        );
    }

    #[test]
    fn transport_failures() {
        for kind in [
            FailureKind::Connect,
            FailureKind::Dns,
            FailureKind::Tls,
            FailureKind::Timeout,
            FailureKind::StreamError,
            FailureKind::Protocol,
        ] {
            let failed = AttemptResult {
                failure: Some(kind),
                ..AttemptResult::default()
            };
            assert_eq!(default_action(&failed, true), FailoverAction::NextModel);
        }
        let timed_out = AttemptResult {
            failure: Some(FailureKind::TotalTimeout),
            ..AttemptResult::default()
        };
        assert_eq!(default_action(&timed_out, true), FailoverAction::Stop);
    }
}
