//! A provider's own `per_request_timeout` (docs/ai-gateway.md, "Provider timeouts").

use serde_json::json;

use super::harness::{chat, diagnostics, load};

#[test]
fn a_providers_timeout_replaces_the_actions_for_its_attempts_only() {
    let l = load(
        r#"
per_request_timeout: 30s
providers:
  - id: slow
    base_url: https://slow.example/v1
    per_request_timeout: 2m
    models: [{id: m}]
  - id: usual
    base_url: https://usual.example/v1
    models: [{id: m}]
"#,
    );
    let plan = l.forward(&chat(json!({"model": "m"})));
    let timeouts: Vec<(&str, u64)> = plan
        .attempts
        .iter()
        .map(|a| (a.provider.as_str(), a.timeout_ms))
        .collect();
    assert_eq!(timeouts, [("slow", 120_000), ("usual", 30_000)]);
}

#[test]
fn a_bad_provider_timeout_is_a_load_error_at_its_path() {
    let d = diagnostics(
        "providers: [{id: p, base_url: 'https://p.example', per_request_timeout: '5'}, {id: q, base_url: 'https://q.example', per_request_timeout: 2h}]",
    );
    assert!(
        d.iter()
            .any(|(p, m)| p == "providers[0].per_request_timeout" && m.contains("not a duration")),
        "{d:#?}"
    );
    assert!(
        d.iter()
            .any(|(p, m)| p == "providers[1].per_request_timeout" && m.contains("out of range")),
        "{d:#?}"
    );
}
