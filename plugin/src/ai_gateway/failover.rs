//! Which failures move on, and to what: the default rules and the policy's `failover.rule`
//! (documented in docs/ai-gateway.md, "Failover").
//!
//! Default rules (the host applies the same ones itself when `custom_failover` is false):
//! - 401, 403 → next key (then, with no keys left, the next model);
//! - 429 → retry the same attempt when `Retry-After` ≤ 5 s fits the total timeout,
//!   otherwise next key, then next model;
//! - 503 with `Retry-After` ≤ 5 s → retry the same attempt; other ≥ 500 and 408 → next model;
//! - connect, DNS, TLS, protocol errors, per-attempt timeouts, a stream failing before
//!   its first event → next model;
//! - the total timeout → stop;
//! - any other 4xx → stop (the request itself is wrong; another provider will not help).
//!
//! A policy may replace them with `failover: {rule: "<CEL>"}`. The rule sees `attempt`:
//!
//! | variable | type | meaning |
//! |---|---|---|
//! | `attempt.status` | int | response status; 0 when no response head arrived |
//! | `attempt.failure` | string | `status`, `connect`, `dns`, `tls`, `timeout`, `total_timeout`, `stream_error`, `protocol` |
//! | `attempt.headers` | map(string, list(string)) | response headers, lower-cased |
//! | `attempt.body` | string | up to 1 KiB of the response body |
//! | `attempt.provider`, `attempt.model`, `attempt.key_id` | string | what was tried |
//! | `attempt.index` | int | index into the plan's attempts |
//! | `attempt.duration_ms` | int | how long it took |
//! | `attempt.retry_after_ms` | int | parsed `Retry-After`, -1 when absent |
//! | `attempt.default` | string | what the default rules would do |
//!
//! It returns `"next_key"`, `"next_model"`, `"retry_same"` or `"stop"` (or a bool:
//! true = `"next_key"`, false = `"stop"`). A rule that fails at runtime falls back to
//! `attempt.default`.

use std::collections::HashMap;
use std::sync::Arc;

use cel::Value;
use cel::objects::{Key, Map};

use super::MAX_RETRY_AFTER_MS;
use super::continuation::Continuation;
use super::strategy::Strategy;
use crate::model::{AttemptResult, FailoverAction, FailureKind};

/// `Retry-After` in milliseconds (delta-seconds form only; HTTP dates are ignored).
pub fn retry_after_ms(headers: &[(String, String)]) -> Option<u64> {
    headers
        .iter()
        .find(|(k, _)| k == "retry-after")
        .and_then(|(_, v)| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| (s * 1000.0).round() as u64)
}

/// The default rules (see the module doc).
pub fn default_action(failed: &AttemptResult, max_retry_after_ms: u64) -> FailoverAction {
    match failed.failure {
        Some(FailureKind::TotalTimeout) => FailoverAction::Stop,
        Some(FailureKind::Status) | None => {
            let status = failed.status.unwrap_or(0);
            let short_retry =
                retry_after_ms(&failed.headers).is_some_and(|ms| ms <= max_retry_after_ms);
            match status {
                401 | 403 => FailoverAction::NextKey,
                429 if short_retry => FailoverAction::RetrySame,
                429 => FailoverAction::NextKey,
                503 if short_retry => FailoverAction::RetrySame,
                408 => FailoverAction::NextModel,
                s if s >= 500 => FailoverAction::NextModel,
                _ => FailoverAction::Stop,
            }
        }
        Some(_) => FailoverAction::NextModel,
    }
}

pub fn action_name(a: FailoverAction) -> &'static str {
    match a {
        FailoverAction::NextKey => "next_key",
        FailoverAction::NextModel => "next_model",
        FailoverAction::RetrySame => "retry_same",
        FailoverAction::Stop => "stop",
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
        Some(FailureKind::StreamError) => "stream_error",
        Some(FailureKind::Protocol) => "protocol",
    }
}

fn s(v: &str) -> Value {
    Value::String(Arc::new(v.to_owned()))
}

/// The `attempt` variable of a failover rule.
pub fn attempt_value(failed: &AttemptResult, default: FailoverAction) -> Value {
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
                retry_after_ms(&failed.headers)
                    .and_then(|m| i64::try_from(m).ok())
                    .unwrap_or(-1),
            ),
        ),
        ("default", s(action_name(default))),
    ];
    let map: HashMap<Key, Value> = entries
        .into_iter()
        .map(|(k, v)| (Key::String(Arc::new(k.to_owned())), v))
        .collect();
    Value::Map(Map { map: Arc::new(map) })
}

/// Runs the policy's rule for one failed attempt.
pub fn classify(
    rule: Option<&Strategy>,
    root: &cel::Context<'static, 'static>,
    continuation: &[u8],
    failed: &AttemptResult,
) -> FailoverAction {
    let max_retry = Continuation::decode(continuation)
        .map(|c| c.max_retry_after_ms)
        .unwrap_or(MAX_RETRY_AFTER_MS);
    let default = default_action(failed, max_retry);
    let Some(rule) = rule else { return default };
    match rule.eval(root, &[("attempt", attempt_value(failed, default))], None) {
        Ok(Value::String(s)) => match s.as_str() {
            "next_key" => FailoverAction::NextKey,
            "next_model" => FailoverAction::NextModel,
            "retry_same" => FailoverAction::RetrySame,
            "stop" => FailoverAction::Stop,
            _ => default,
        },
        Ok(Value::Bool(true)) => FailoverAction::NextKey,
        Ok(Value::Bool(false)) => FailoverAction::Stop,
        _ => default,
    }
}
