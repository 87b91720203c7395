//! The example policies loaded whole through the engine (as `edge serve` and `edge check`
//! load them) and exercised with a request each.

use serde_json::json;

use super::harness::chat;
use crate::engine::memory_host::MemoryHost;
use crate::model::{Decision, LoadOptions, Request};

fn policy(name: &str) -> String {
    let path = format!("{}/../policies/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn host() -> MemoryHost {
    MemoryHost::new()
        .with_secret("openai", "primary", "sk-openai-primary-0001")
        .with_secret("openai", "backup", "sk-openai-backup-0002")
        .with_secret("anthropic", "key", "sk-ant-key-0003")
        .with_secret("gateway", "client-token", "gw-token-42")
}

fn options(check_only: bool) -> LoadOptions {
    LoadOptions {
        file_name: "policy.yaml".into(),
        check_only,
        ..LoadOptions::default()
    }
}

fn decide(name: &str, req: &Request) -> Decision {
    let host = host();
    let p = crate::engine::load(&policy(name), &options(false), &host)
        .unwrap_or_else(|d| panic!("{name}: {d:#?}"));
    p.on_http_request(req, &host).decision
}

#[test]
fn every_example_policy_loads_in_serve_and_check_mode() {
    for name in [
        "quickstart.yaml",
        "multi-provider-failover.yaml",
        "strategies.yaml",
        "bearer-protected.yaml",
    ] {
        crate::engine::load(&policy(name), &options(false), &host())
            .unwrap_or_else(|d| panic!("{name}: {d:#?}"));
        // `edge check` in CI: no secrets at all, still loads (with warnings).
        crate::engine::load(&policy(name), &options(true), &MemoryHost::new())
            .unwrap_or_else(|d| panic!("{name} (check): {d:#?}"));
    }
}

#[test]
fn quickstart_plans_a_demo_attempt() {
    match decide(
        "quickstart.yaml",
        &chat(json!({"model": "demo-chat", "messages": []})),
    ) {
        Decision::Forward(p) => assert_eq!(
            p.attempts[0].url,
            "http://demo.internal/v1/chat/completions"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bearer_protected_rejects_strangers_and_forwards_token_holders() {
    let mut stranger = chat(json!({"model": "demo-chat"}));
    stranger.headers.retain(|(k, _)| k != "authorization");
    match decide("bearer-protected.yaml", &stranger) {
        Decision::Respond(r) => assert_eq!(r.status, 401),
        other => panic!("{other:?}"),
    }
    let mut wrong = chat(json!({"model": "demo-chat"}));
    wrong.headers.retain(|(k, _)| k != "authorization");
    wrong
        .headers
        .push(("authorization".into(), "Bearer nope".into()));
    assert!(
        matches!(decide("bearer-protected.yaml", &wrong), Decision::Respond(r) if r.status == 401)
    );
    let mut member = chat(json!({"model": "demo-chat"}));
    member.headers.retain(|(k, _)| k != "authorization");
    member
        .headers
        .push(("authorization".into(), "Bearer gw-token-42".into()));
    match decide("bearer-protected.yaml", &member) {
        Decision::Forward(p) => {
            let a = &p.attempts[0];
            assert!(
                a.headers
                    .contains(&("authorization".into(), "Bearer demo-key".into()))
            );
            assert!(
                !a.headers.iter().any(|(_, v)| v.contains("gw-token-42")),
                "the gateway token reached the provider"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn strategies_policy_reads_request_headers_through_the_engine() {
    let mut req = chat(json!({"messages": []}));
    req.headers.push(("x-model-tier".into(), "premium".into()));
    match decide("strategies.yaml", &req) {
        Decision::Forward(p) => assert_eq!(
            p.attempts
                .iter()
                .map(|a| a.model.as_str())
                .collect::<Vec<_>>(),
            vec!["gpt-4o"]
        ),
        other => panic!("{other:?}"),
    }
    let mut req = chat(json!({"messages": []}));
    req.headers.push(("x-eu-only".into(), "1".into()));
    match decide("strategies.yaml", &req) {
        Decision::Forward(p) => assert_eq!(p.attempts[0].provider, "gpu-eu"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn multi_provider_failover_plans_keys_then_providers() {
    match decide(
        "multi-provider-failover.yaml",
        &chat(json!({"messages": []})),
    ) {
        Decision::Forward(p) => {
            let providers: Vec<&str> = p.attempts.iter().map(|a| a.provider.as_str()).collect();
            assert_eq!(providers, vec!["openai", "openai", "anthropic", "ollama"]);
            // `${req.id}` rendered by the engine.
            assert!(
                p.attempts[0]
                    .headers
                    .iter()
                    .any(|(k, v)| k == "x-request-id" && !v.is_empty() && !v.contains("${"))
            );
        }
        other => panic!("{other:?}"),
    }
}
