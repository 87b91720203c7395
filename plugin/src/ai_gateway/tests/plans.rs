//! Request → plan (golden), and the rules every plan must keep.

use serde_json::json;

use super::harness::{chat, load, plan_json, request, response_json};
use crate::ai_gateway::GatewayStep;
use crate::ai_gateway::continuation::Continuation;

const TWO_PROVIDERS: &str = r#"
headers:
  x-request-id: ${req.id}
  x-team: ml
query_params:
  api_version: "2024-01"
body:
  user: ${req.id}
  metadata: {source: gateway}
max_output_tokens: 1000
per_request_timeout: 30s
total_timeout: 2m
providers:
  - id: openai
    api_keys:
      - value: ${secrets.get('openai','primary')}
      - value: ${secrets.get('openai','backup')}
    models:
      - id: gpt-4o
        unsupported_params: [{name: logit_bias}]
  - id: local
    base_url: http://llm.internal:8080
    supported_api_surfaces:
      - format: openai
        surface: chat-completions
        supported_params: [messages, stream, max_tokens, user, metadata]
    models:
      - id: llama3
        id_aliases: [gpt-4o-fallback]
only_allow_configured_providers: true
"#;

#[test]
fn golden_chat_plan_keys_then_models() {
    let l = load(TWO_PROVIDERS);
    let req = chat(json!({
        "model": "GPT-4O",
        "models": ["local:llama3"],
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 4000,
        "logit_bias": {"1": 2},
        "temperature": 0.2,
        "user": "client-user",
    }));
    let plan = l.forward(&req);
    insta::assert_json_snapshot!("chat_plan_keys_then_models", plan_json(&plan));
}

#[test]
fn golden_anthropic_messages_plan() {
    let l = load(
        r#"
providers:
  - id: anthropic
    api_keys: [{value: "${secrets.get('anthropic','key')}"}]
"#,
    );
    let mut req = request(
        "POST",
        "/v1/messages",
        json!({"model": "claude-sonnet-4-5-20250929", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
    );
    req.headers
        .push(("x-api-key".into(), "client-gateway-token-1234".into()));
    req.headers
        .push(("anthropic-version".into(), "2023-06-01".into()));
    let plan = l.forward(&req);
    assert!(plan.stream);
    insta::assert_json_snapshot!("anthropic_messages_plan", plan_json(&plan));
}

#[test]
fn client_gateway_credential_never_reaches_a_keyed_provider() {
    let l = load(TWO_PROVIDERS);
    let plan = l.forward(&chat(json!({"model": "gpt-4o", "models": ["llama3"]})));
    // `local` has no keys: the client's own key is passed through there (by design).
    for a in plan.attempts.iter().filter(|a| a.provider == "openai") {
        for (k, v) in &a.headers {
            assert!(
                !v.contains("client-gateway-token"),
                "{} leaked the client's credential in {k}",
                a.provider
            );
        }
        assert!(!a.key_id.contains("sk-"));
    }
}

#[test]
fn passthrough_forwards_the_clients_own_key() {
    let l = load("providers: [{id: openai}]");
    let plan = l.forward(&chat(json!({"model": "gpt-4o"})));
    let a = &plan.attempts[0];
    assert_eq!(a.url, "https://api.openai.com/v1/chat/completions");
    assert!(a.headers.contains(&(
        "authorization".into(),
        "Bearer client-gateway-token-1234".into()
    )));
    assert_eq!(a.key_id, "");
    // No key at all for a built-in provider: 400 missing_api_key.
    let mut req = chat(json!({"model": "gpt-4o"}));
    req.headers.retain(|(k, _)| k != "authorization");
    let f = l.respond(&req);
    assert_eq!(
        (f.response.status, f.results["error"]["code"].as_str()),
        (400, Some("missing_api_key"))
    );
}

#[test]
fn model_resolution_rules() {
    let l = load(TWO_PROVIDERS);
    // Aliases are case-insensitive; provider prefix split on the first ':'.
    assert_eq!(
        l.attempt_order(&chat(json!({"model": "GPT-4O-FALLBACK"}))),
        vec!["local:llama3"]
    );
    // `ngrok/auto` and no model mean automatic selection (all allowed, config order).
    let auto = l.attempt_order(&chat(json!({"model": "ngrok/auto"})));
    assert_eq!(auto, l.attempt_order(&chat(json!({"messages": []}))));
    assert!(auto[0].starts_with("openai:gpt-4o#"), "{auto:?}");
    assert_eq!(auto.len(), 10);
    // Unknown model behind a known provider: passed through, m.known false.
    let p = l.forward(&chat(json!({"model": "openai:gpt-5-preview"})));
    assert_eq!(p.attempts[0].model, "gpt-5-preview");
    // Unknown bare model: 422 with the reason recorded.
    let f = l.respond(&chat(json!({"model": "gpt-4a"})));
    assert_eq!(f.response.status, 422);
    assert_eq!(f.results["error"]["code"], "no_matching_models");
    assert_eq!(f.results["client"]["rejected_models"][0]["model"], "gpt-4a");
    assert!(
        f.results["client"]["rejected_models"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("did not match any known models")
    );
    // Providers the policy does not allow are rejected with a reason.
    let f = l.respond(&chat(json!({"model": "google:gemini-2.5-flash"})));
    assert!(
        f.results["client"]["rejected_models"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("only_allow_configured_providers")
    );
    // A rejected name next to a good one: the good one is tried, the bad one recorded.
    let p = l.forward(&chat(json!({"model": "nope", "models": ["llama3"]})));
    assert_eq!(p.attempts.len(), 1);
    let c = Continuation::decode(&p.continuation).unwrap();
    assert_eq!(c.client.rejected_models[0].0, "nope");
}

#[test]
fn only_allow_configured_models_blocks_pass_through() {
    let l = load(
        "only_allow_configured_models: true\nproviders: [{id: openai, models: [{id: gpt-4o}]}]",
    );
    let f = l.respond(&chat(json!({"model": "openai:gpt-5-preview"})));
    assert!(
        f.results["client"]["rejected_models"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("only_allow_configured_models")
    );
    let f = l.respond(&chat(json!({"model": "gpt-4o-mini"})));
    assert_eq!(f.response.status, 422);
}

#[test]
fn format_mismatch_is_reported() {
    let l = load("only_allow_configured_providers: true\nproviders: [{id: openai}]");
    let f = l.respond(&request(
        "POST",
        "/v1/messages",
        json!({"model": "gpt-4o", "max_tokens": 1, "messages": []}),
    ));
    assert_eq!(
        (f.response.status, f.results["error"]["code"].as_str()),
        (422, Some("format_not_supported"))
    );
    // Anthropic-shaped error body on /v1/messages.
    insta::assert_json_snapshot!(
        "format_mismatch_anthropic_error",
        response_json(&f.response)
    );
}

#[test]
fn never_the_same_pair_twice_and_at_most_ten_attempts() {
    let mut yaml = String::from("providers:\n  - id: openai\n    api_keys:\n");
    for i in 0..4 {
        yaml.push_str(&format!("      - value: key-number-{i}\n"));
    }
    let l = load(&yaml);
    let order = l.attempt_order(&chat(json!({"model": "gpt-4o", "models": ["gpt-4o", "openai:GPT-4O", "gpt-4o-mini", "gpt-4.1", "gpt-5"]})));
    assert_eq!(order.len(), 10);
    let mut dedup = order.clone();
    dedup.dedup();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 10);
    assert!(order[..4].iter().all(|a| a.starts_with("openai:gpt-4o#")));
    assert!(
        order[4..8]
            .iter()
            .all(|a| a.starts_with("openai:gpt-4o-mini#"))
    );
}

#[test]
fn input_token_limit_is_enforced_before_any_attempt() {
    let l = load("max_input_tokens: 10\nproviders: [{id: openai}]");
    let big = "x".repeat(200);
    let f = l.respond(&chat(
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": big}]}),
    ));
    insta::assert_json_snapshot!("input_too_large_openai_error", response_json(&f.response));
    let small = l.plan(&chat(
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
    ));
    assert!(matches!(small, GatewayStep::Forward(_)));
}

#[test]
fn invalid_bodies_paths_and_methods() {
    let l = load("providers: [{id: openai}]");
    let cases = [
        (
            request("POST", "/v1/chat/completions", serde_json::Value::Null),
            400,
            "invalid_request_body",
        ),
        (chat(json!([1, 2])), 400, "invalid_request_body"),
        (chat(json!({"model": 4})), 400, "invalid_request_body"),
        (
            chat(json!({"models": "gpt-4o"})),
            400,
            "invalid_request_body",
        ),
        (chat(json!({"models": [1]})), 400, "invalid_request_body"),
        (
            request("POST", "/v2/other", json!({})),
            404,
            "unsupported_path",
        ),
        (
            request("GET", "/v1/chat/completions", json!({})),
            405,
            "method_not_allowed",
        ),
        (
            request("POST", "/v1/models", json!({})),
            405,
            "method_not_allowed",
        ),
    ];
    for (req, status, code) in cases {
        let f = l.respond(&req);
        assert_eq!(
            f.response.status,
            status,
            "{} {}",
            req.path,
            String::from_utf8_lossy(&f.response.body)
        );
        assert_eq!(f.results["error"]["code"], code);
        assert!(
            f.response
                .headers
                .contains(&("x-edge-error-code".into(), code.into()))
        );
        assert!(
            f.response
                .headers
                .contains(&("x-aigw-request-id".into(), "req-1".into()))
        );
    }
}

#[test]
fn models_endpoint_lists_what_the_policy_allows() {
    let l = load(TWO_PROVIDERS);
    let f = l.respond(&request("GET", "/v1/models", serde_json::Value::Null));
    insta::assert_json_snapshot!("models_list", response_json(&f.response));
}

#[test]
fn embeddings_get_no_output_limit_and_responses_get_theirs() {
    let l = load("max_output_tokens: 50\nproviders: [{id: openai}]");
    let p = l.forward(&request(
        "POST",
        "/v1/embeddings",
        json!({"model": "openai:text-embedding-3-small", "input": "hi"}),
    ));
    let body: serde_json::Value =
        serde_json::from_slice(&super::harness::body_bytes(&p.attempts[0])).unwrap();
    assert_eq!(
        body,
        json!({"model": "text-embedding-3-small", "input": "hi"})
    );
    assert_eq!(p.attempts[0].url, "https://api.openai.com/v1/embeddings");
    let p = l.forward(&request(
        "POST",
        "/v1/responses",
        json!({"model": "gpt-4o", "input": "hi", "max_output_tokens": 80}),
    ));
    let body: serde_json::Value =
        serde_json::from_slice(&super::harness::body_bytes(&p.attempts[0])).unwrap();
    assert_eq!(body["max_output_tokens"], 50);
}

#[test]
fn pass_through_models_are_unknown_to_strategies() {
    let open = load("providers: [{id: openai}]");
    assert_eq!(
        open.attempt_order(&chat(json!({"model": "openai:gpt-5-preview"}))),
        vec!["openai:gpt-5-preview"]
    );
    let strict = load(
        "providers: [{id: openai}]\nmodel_selection: {strategy: ['ai.models.filter(m, m.known)']}",
    );
    let f = strict.respond(&chat(json!({"model": "openai:gpt-5-preview"})));
    assert_eq!(
        (f.response.status, f.results["error"]["code"].as_str()),
        (422, Some("no_matching_models"))
    );
    // A strategy that keeps unknown models lets the pass-through model through.
    let lenient = load(
        "providers: [{id: openai}]\nmodel_selection: {strategy: ['ai.models.filter(m, !m.known)']}",
    );
    assert_eq!(
        lenient.attempt_order(&chat(json!({"model": "openai:gpt-5-preview"}))),
        vec!["openai:gpt-5-preview"]
    );
}

#[test]
fn disabled_and_shadowed_providers_and_models() {
    let l = load(
        r#"
providers:
  - id: openai-eu
    id_aliases: [openai]
    base_url: https://eu.example.com/v1
    models: [{id: gpt-4o}, {id: gpt-4o-mini, disabled: true}]
  - id: google
    disabled: true
"#,
    );
    // `openai` now means the EU provider; the built-in openai is replaced.
    let p = l.forward(&chat(json!({"model": "openai:gpt-4o"})));
    assert_eq!(p.attempts.len(), 1);
    assert_eq!(
        p.attempts[0].url,
        "https://eu.example.com/v1/chat/completions"
    );
    assert_eq!(
        l.attempt_order(&chat(json!({"model": "gpt-4o"}))),
        vec!["openai-eu:gpt-4o"]
    );
    let f = l.respond(&chat(json!({"model": "gpt-4o-mini"})));
    assert!(
        f.results["client"]["rejected_models"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("disabled"),
        "{}",
        f.results
    );
    let f = l.respond(&chat(json!({"model": "google:gemini-2.5-flash"})));
    assert!(
        f.results["client"]["rejected_models"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("provider 'google' is disabled")
    );
}

#[test]
fn models_endpoint_speaks_anthropic_to_anthropic_clients() {
    let l = load(
        "only_allow_configured_providers: true\nproviders: [{id: openai, models: [{id: gpt-4o}]}, {id: anthropic, models: [{id: claude-sonnet-4-5}]}]",
    );
    let mut req = request("GET", "/v1/models", serde_json::Value::Null);
    req.headers
        .push(("anthropic-version".into(), "2023-06-01".into()));
    let f = l.respond(&req);
    let body: serde_json::Value = serde_json::from_slice(&f.response.body).unwrap();
    assert_eq!(body["has_more"], false);
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"claude-sonnet-4-5") && !ids.contains(&"gpt-4o"),
        "{ids:?}"
    );
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["type"] == "model")
    );
}

#[test]
fn a_builtin_provider_configured_by_its_alias_is_not_listed_twice() {
    let l = load("providers: [{id: gemini, api_keys: [{value: g-key-abcdefgh}]}]");
    let order = l.attempt_order(&chat(json!({"model": "gemini-2.5-flash"})));
    assert_eq!(order.len(), 1, "{order:?}");
    assert!(order[0].starts_with("gemini:gemini-2.5-flash#"));
    let p = l.forward(&chat(json!({"model": "google:gemini-2.5-flash"})));
    assert_eq!(
        p.attempts[0].url,
        "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"
    );
}
