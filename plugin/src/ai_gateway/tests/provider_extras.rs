//! A provider's own `headers`, `query_params` and `auth` (docs/ai-gateway.md, "Provider
//! headers, query parameters and auth"): what its attempts send, what they must never show,
//! and the load errors.

use serde_json::json;

use super::harness::{Loaded, chat, diagnostics, load};
use crate::ai_gateway::GatewayStep;
use crate::model::{Attempt, Plan, Request};

/// The plan, with `${azure.tag}` rendering as a secret-like value.
fn forward(l: &Loaded, req: &Request) -> Plan {
    let mut env = l.req_env();
    env.values
        .insert("azure.tag".to_owned(), "tag-secret-0000111".to_owned());
    match l.plan_with(req, &env) {
        GatewayStep::Forward(p) => p,
        GatewayStep::Respond(f) => panic!("expected a plan, got {:?}", f.response),
    }
}

const AZURE_AND_PLAIN: &str = r#"
only_allow_configured_providers: true
headers:
  x-team: ml
  x-trace: ${req.id}
query_params:
  source: gateway
providers:
  - id: azure
    base_url: https://myres.openai.azure.com/openai/deployments/gpt-4o-prod
    request_path_overrides: {chat-completions: /chat/completions}
    query_params: {api-version: "2024-10-21"}
    headers:
      x-team: azure-team
      x-ms-client-tag: ${azure.tag}
    auth: api-key
    api_keys: [{value: "${secrets.get('openai','primary')}"}]
    models: [{id: gpt-4o}]
  - id: tokens
    base_url: https://tokens.example/v1
    auth: {header: X-Service-Token, prefix: "Token "}
    api_keys: [{value: tok-key-0123456789}]
    models: [{id: gpt-4o}]
  - id: plain
    base_url: https://plain.example/v1
    api_keys: [{value: plain-key-0123456789}]
    models: [{id: gpt-4o}]
"#;

fn header<'a>(a: &'a Attempt, name: &str) -> Option<&'a str> {
    a.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn an_azure_deployment_is_reached_with_provider_fields_alone() {
    let l = load(AZURE_AND_PLAIN);
    let plan = forward(&l, &chat(json!({"model": "gpt-4o"})));
    let azure = &plan.attempts[0];
    assert_eq!(
        azure.url,
        "https://myres.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions?source=gateway&api-version=2024-10-21"
    );
    assert_eq!(header(azure, "api-key"), Some("sk-openai-primary-0001"));
    assert_eq!(header(azure, "authorization"), None, "{:?}", azure.headers);
    // The provider's header wins over the action's of the same name; the others stay.
    assert_eq!(header(azure, "x-team"), Some("azure-team"));
    assert_eq!(header(azure, "x-trace"), Some("req-1"));
    assert_eq!(header(azure, "x-ms-client-tag"), Some("tag-secret-0000111"));
    // Its own header values are on its redaction list, like the action's and the key.
    for secret in [
        "tag-secret-0000111",
        "sk-openai-primary-0001",
        "azure-team",
        "2024-10-21",
    ] {
        assert!(
            azure.redact.iter().any(|r| r == secret),
            "{secret}: {:?}",
            azure.redact
        );
    }
}

#[test]
fn a_named_header_with_a_prefix_and_providers_without_extras() {
    let l = load(AZURE_AND_PLAIN);
    let plan = forward(&l, &chat(json!({"model": "gpt-4o"})));
    let tokens = &plan.attempts[1];
    assert_eq!(
        header(tokens, "x-service-token"),
        Some("Token tok-key-0123456789")
    );
    assert_eq!(header(tokens, "authorization"), None);
    assert_eq!(header(tokens, "x-team"), Some("ml"));
    assert_eq!(
        tokens.url,
        "https://tokens.example/v1/chat/completions?source=gateway"
    );

    let plain = &plan.attempts[2];
    assert_eq!(
        header(plain, "authorization"),
        Some("Bearer plain-key-0123456789")
    );
    assert_eq!(
        header(plain, "x-ms-client-tag"),
        None,
        "another provider's header"
    );
    assert!(
        !plain.redact.iter().any(|r| r == "tag-secret-0000111"),
        "another provider's values are not this attempt's: {:?}",
        plain.redact
    );
}

#[test]
fn a_forwarded_client_header_of_the_auth_name_gives_way_to_the_key() {
    let l = load(&format!(
        "forward_headers: [x-service-token]\n{AZURE_AND_PLAIN}"
    ));
    let mut req = chat(json!({"model": "tokens:gpt-4o"}));
    req.headers
        .push(("x-service-token".into(), "Token from-the-client".into()));
    let plan = forward(&l, &req);
    let got: Vec<&str> = plan.attempts[0]
        .headers
        .iter()
        .filter(|(k, _)| k == "x-service-token")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(got, ["Token tok-key-0123456789"]);
}

#[test]
fn bad_provider_headers_query_and_auth_are_load_errors() {
    let d = diagnostics(
        r#"
providers:
  - id: p
    base_url: https://p.example
    headers: {host: x, x-ok: [1]}
    query_params: {v: {a: 1}}
    auth: basic
  - id: q
    base_url: https://q.example
    auth: {header: X-Key, suffix: "!"}
"#,
    );
    for (path, needle) in [
        ("providers[0].headers.host", "managed by the gateway"),
        ("providers[0].headers.x-ok", "must be a string"),
        ("providers[0].query_params.v", "must be a string"),
        ("providers[0].auth", "'basic' is not an auth style"),
        ("providers[1].auth", "'suffix' is not a field of auth"),
    ] {
        assert!(
            d.iter().any(|(p, m)| p == path && m.contains(needle)),
            "{path}: {needle} in {d:#?}"
        );
    }
}
