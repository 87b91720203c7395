//! A provider's `concurrency_and_buffer_size` (docs/ai-gateway.md, "Provider concurrency"):
//! checked at load, written on each of the provider's attempts for the host to enforce, and
//! a `saturated` attempt fails over to the next model.

use serde_json::json;

use super::harness::{chat, diagnostics, load};
use crate::ai_gateway::failover::default_action;
use crate::model::{AttemptResult, ConcurrencyLimit, FailoverAction, FailureKind};

#[test]
fn the_cap_and_queue_ride_on_every_attempt_of_the_capped_provider_only() {
    let l = load(
        r#"
providers:
  - id: vllm
    base_url: http://vllm.internal/v1
    concurrency_and_buffer_size: {concurrency: 4, buffer_size: 16}
    api_keys: [{value: k1}, {value: k2}]
    models: [{id: m}]
  - id: spill
    base_url: http://spill.internal/v1
    concurrency_and_buffer_size: {concurrency: 2}
    models: [{id: m}]
  - id: open
    base_url: https://open.example/v1
    models: [{id: m}]
"#,
    );
    let plan = l.forward(&chat(json!({"model": "m"})));
    let limits: Vec<(&str, Option<ConcurrencyLimit>)> = plan
        .attempts
        .iter()
        .map(|a| (a.provider.as_str(), a.concurrency))
        .collect();
    let capped = |concurrency, buffer_size| {
        Some(ConcurrencyLimit {
            concurrency,
            buffer_size,
        })
    };
    assert_eq!(
        limits,
        [
            ("vllm", capped(4, 16)),
            ("vllm", capped(4, 16)),
            ("spill", capped(2, 0)),
            ("open", None),
        ]
    );
}

#[test]
fn a_cap_below_one_or_a_negative_queue_is_a_load_error_at_its_path() {
    let d = diagnostics(
        "providers: [{id: p, base_url: 'https://p.example', concurrency_and_buffer_size: {concurrency: 0, buffer_size: -1}}]",
    );
    let at = |path: &str, needle: &str| d.iter().any(|(p, m)| p == path && m.contains(needle));
    assert!(
        at(
            "providers[0].concurrency_and_buffer_size.concurrency",
            "between 1 and 100000, got 0"
        ),
        "{d:#?}"
    );
    assert!(
        at(
            "providers[0].concurrency_and_buffer_size.buffer_size",
            "between 0 and 100000, got -1"
        ),
        "{d:#?}"
    );
}

#[test]
fn an_unknown_field_in_the_cap_is_a_load_error() {
    let d = diagnostics(
        "providers: [{id: p, base_url: 'https://p.example', concurrency_and_buffer_size: {concurrency: 1, queue: 3}}]",
    );
    assert!(d.iter().any(|(_, m)| m.contains("queue")), "{d:#?}");
}

#[test]
fn a_saturated_attempt_fails_over_to_the_next_model() {
    let saturated = AttemptResult {
        provider: "vllm".into(),
        model: "m".into(),
        failure: Some(FailureKind::Saturated),
        ..AttemptResult::default()
    };
    assert_eq!(default_action(&saturated, true), FailoverAction::NextModel);
    assert_eq!(default_action(&saturated, false), FailoverAction::NextModel);
}
