//! The example policies in `policies/`: each one's `ai-gateway` config loads and behaves
//! as its comments say. (The engine's own tests load the whole documents.)

use std::collections::HashMap;
use std::sync::Arc;

use cel::Value;
use cel::objects::{Key, Map};
use serde_json::{Value as Json, json};

use super::harness::{Loaded, chat, request};
use crate::ai_gateway::GatewayStep;

fn policy(name: &str) -> String {
    let path = format!("{}/../policies/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `config` of the document's one `ai-gateway` action (compact or canonical form).
fn ai_config(doc: &Json) -> Json {
    let mut found = Vec::new();
    for rule in doc["on_http_request"].as_array().unwrap() {
        let actions = match rule.get("actions") {
            Some(Json::Array(a)) => a.clone(),
            _ => vec![rule.clone()],
        };
        for a in actions {
            if a["type"] == "ai-gateway" {
                found.push(a.get("config").cloned().unwrap_or(json!({})));
            }
        }
    }
    assert_eq!(found.len(), 1, "a policy has exactly one ai-gateway action");
    found.remove(0)
}

fn load_policy(name: &str) -> Loaded {
    let doc: Json = serde_saphyr::from_str(&policy(name)).unwrap();
    let yaml = serde_json::to_string(&ai_config(&doc)).unwrap();
    super::harness::load(&yaml)
}

fn str_val(s: &str) -> Value {
    Value::String(Arc::new(s.to_owned()))
}

/// `req` as the engine binds it, with just the headers.
fn req_with_headers(headers: &[(&str, &str)]) -> Value {
    let h: HashMap<Key, Value> = headers
        .iter()
        .map(|(k, v)| {
            (
                Key::String(Arc::new(k.to_string())),
                Value::List(Arc::new(vec![str_val(v)])),
            )
        })
        .collect();
    let mut m = HashMap::new();
    m.insert(
        Key::String(Arc::new("headers".into())),
        Value::Map(Map { map: Arc::new(h) }),
    );
    Value::Map(Map { map: Arc::new(m) })
}

#[test]
fn quickstart_routes_to_the_demo_provider_and_shows_a_failover() {
    let l = load_policy("quickstart.yaml");
    let mut req =
        chat(json!({"model": "demo-chat", "messages": [{"role": "user", "content": "hello"}]}));
    req.headers.retain(|(k, _)| k != "authorization");
    let p = l.forward(&req);
    assert_eq!(
        p.attempts[0].url,
        "http://demo.internal/v1/chat/completions"
    );
    assert!(
        p.attempts[0]
            .headers
            .contains(&("authorization".into(), "Bearer demo-key".into()))
    );
    // Alias from an OpenAI SDK default.
    assert_eq!(
        l.attempt_order(&chat(json!({"model": "gpt-4o-mini"})))
            .len(),
        1
    );
    // The failover demo: 503 model first, then demo-chat, as two model groups.
    let p = l.forward(&chat(json!({"model": "fail-503", "models": ["demo-chat"]})));
    let order: Vec<(String, u32)> = p
        .attempts
        .iter()
        .map(|a| (format!("{}:{}", a.provider, a.model), a.model_group))
        .collect();
    assert_eq!(
        order,
        vec![
            ("demo-flaky:fail-503".into(), 0),
            ("demo:demo-chat".into(), 1)
        ]
    );
    // Anthropic format goes to the Anthropic-format provider, x-api-key injected.
    let p = l.forward(&request(
        "POST",
        "/v1/messages",
        json!({"model": "claude-demo", "max_tokens": 16, "messages": []}),
    ));
    assert_eq!(p.attempts[0].url, "http://demo.internal/v1/messages");
    assert!(
        p.attempts[0]
            .headers
            .contains(&("x-api-key".into(), "demo-key".into()))
    );
    // Embeddings and the model list.
    let p = l.forward(&request(
        "POST",
        "/v1/embeddings",
        json!({"model": "demo-embed", "input": "x"}),
    ));
    assert_eq!(p.attempts[0].url, "http://demo.internal/v1/embeddings");
    let f = l.respond(&request("GET", "/v1/models", Json::Null));
    let list: Json = serde_json::from_slice(&f.response.body).unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["demo-chat", "demo-embed", "fail-503"]);
}

#[test]
fn multi_provider_failover_order() {
    let l = load_policy("multi-provider-failover.yaml");
    let order = l.attempt_order(&chat(
        json!({"messages": [{"role": "user", "content": "hi"}]}),
    ));
    let providers: Vec<&str> = order.iter().map(|a| a.split(':').next().unwrap()).collect();
    assert_eq!(providers, vec!["openai", "openai", "anthropic", "ollama"]);
    assert!(order[3].starts_with("ollama:llama3.2"));
    // A client list is honoured in client order and filtered by the strategy.
    let order = l.attempt_order(&chat(
        json!({"model": "claude-sonnet-4-5", "models": ["gpt-4o", "gpt-4o-mini"]}),
    ));
    assert_eq!(order.len(), 3, "{order:?}");
    assert!(order[0].starts_with("anthropic:claude-sonnet-4-5"));
    let p = l.forward(&chat(json!({"model": "llama3.2"})));
    assert_eq!(
        p.attempts[0].url,
        "http://ollama.internal:11434/v1/chat/completions"
    );
    assert!(
        p.attempts[0]
            .headers
            .contains(&("x-request-id".into(), "req-1".into()))
    );
}

#[test]
fn strategies_policy_routes_by_header_region_and_price() {
    let l = load_policy("strategies.yaml");
    let order_with = |headers: &[(&str, &str)]| {
        let mut env = l.req_env();
        env.vars.insert("req".into(), req_with_headers(headers));
        match l.plan_with(&chat(json!({"messages": []})), &env) {
            GatewayStep::Forward(p) => p
                .attempts
                .iter()
                .map(|a| format!("{}:{}", a.provider, a.model))
                .collect::<Vec<_>>(),
            GatewayStep::Respond(f) => panic!("{}", String::from_utf8_lossy(&f.response.body)),
        }
    };
    assert_eq!(
        order_with(&[("x-model-tier", "premium")]),
        vec!["openai:gpt-4o"]
    );
    assert_eq!(order_with(&[("x-eu-only", "1")]), vec!["gpu-eu:llama3"]);
    // Cheapest first: llama3 on gpu-us has a price; gpt-4o-mini and gpt-4o come from the catalog.
    assert_eq!(
        order_with(&[]),
        vec![
            "gpu-us:llama3",
            "openai:gpt-4o-mini",
            "openai:gpt-4o",
            "gpu-eu:llama3"
        ]
    );
}

#[test]
fn bearer_protected_policy_has_one_gateway_and_a_guard() {
    let doc: Json = serde_saphyr::from_str(&policy("bearer-protected.yaml")).unwrap();
    let rules = doc["on_http_request"].as_array().unwrap();
    assert_eq!(rules[1]["actions"][0]["type"], "custom-response");
    assert_eq!(rules[1]["actions"][0]["config"]["status_code"], 401);
    let l = load_policy("bearer-protected.yaml");
    let p = l.forward(&chat(json!({"model": "demo-chat"})));
    assert!(
        !p.attempts[0]
            .headers
            .iter()
            .any(|(_, v)| v.contains("client-gateway-token"))
    );
}
