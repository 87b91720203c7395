//! `providers[].allowed_requests` (docs/ai-gateway.md, "Request types"): which candidates a
//! request of each type has, the error when none is left, and `GET /v1/models`.

use serde_json::{Value as Json, json};

use super::harness::{Loaded, chat, diagnostics, load, request};

/// `chat-only` serves non-streamed chat; `everything` omits the field; `nothing` has `{}`.
const THREE: &str = r#"
only_allow_configured_providers: true
providers:
  - id: chat-only
    base_url: https://chat.example
    allowed_requests: {chat_completion: true, chat_completion_stream: false, embedding: false}
    supported_api_surfaces: [{format: openai}, {format: anthropic}]
    models: [{id: shared}, {id: chat-model}]
  - id: everything
    base_url: https://all.example
    models: [{id: shared}]
  - id: nothing
    base_url: https://none.example
    allowed_requests: {}
    models: [{id: shared}, {id: idle-model}]
"#;

fn providers_tried(l: &Loaded, body: Json) -> Vec<String> {
    l.forward(&chat(body))
        .attempts
        .iter()
        .map(|a| a.provider.clone())
        .collect()
}

fn body_of(f: &crate::ai_gateway::Finish) -> Json {
    serde_json::from_slice(&f.response.body).unwrap()
}

#[test]
fn a_provider_that_may_not_serve_the_type_is_not_a_candidate() {
    let l = load(THREE);
    assert_eq!(
        providers_tried(&l, json!({"model": "shared"})),
        ["chat-only", "everything"]
    );
    assert_eq!(
        providers_tried(&l, json!({"model": "shared", "stream": true})),
        ["everything"]
    );
    // Automatic selection keeps only the providers that may serve the type, too.
    assert_eq!(
        providers_tried(&l, json!({})),
        ["chat-only", "chat-only", "everything"]
    );
}

#[test]
fn nothing_left_is_a_400_naming_the_type_and_the_refusing_providers() {
    let l = load(THREE);
    let f = l.respond(&chat(json!({"model": "chat-model", "stream": true})));
    assert_eq!(f.response.status, 400);
    let body = body_of(&f);
    assert_eq!(body["error"]["code"], "request_type_not_allowed");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("'chat_completion_stream'") && message.contains("'chat-only'"),
        "{message}"
    );
    assert!(!message.contains("'everything'"), "{message}");
    assert_eq!(f.results["error"]["code"], "request_type_not_allowed");

    // In the client's format: Anthropic's on /v1/messages.
    let f = l.respond(&request(
        "POST",
        "/v1/messages",
        json!({"model": "chat-only:chat-model", "max_tokens": 5, "stream": true, "messages": []}),
    ));
    assert_eq!(f.response.status, 400);
    let body = body_of(&f);
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(f.response.headers.contains(&(
        "x-edge-error-code".into(),
        "request_type_not_allowed".into()
    )));

    let f = l.respond(&request(
        "POST",
        "/v1/embeddings",
        json!({"model": "idle-model", "input": "x"}),
    ));
    let message = body_of(&f)["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("'embedding'") && message.contains("'nothing'"),
        "{message}"
    );
}

#[test]
fn a_strategy_whose_models_all_refuse_falls_through_to_the_next() {
    let l = load(&format!(
        "{THREE}model_selection:\n  strategy:\n    - \"ai.models.filter(m, m.provider_id == 'chat-only')\"\n    - \"ai.models.filter(m, m.provider_id == 'everything')\"\n"
    ));
    assert_eq!(providers_tried(&l, json!({})), ["chat-only", "chat-only"]);
    assert_eq!(providers_tried(&l, json!({"stream": true})), ["everything"]);
}

#[test]
fn models_list_honours_list_models() {
    let l = load(THREE);
    let f = l.respond(&request("GET", "/v1/models", Json::Null));
    assert_eq!(f.response.status, 200);
    let ids: Vec<String> = body_of(&f)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    // `everything` lists `shared`; chat-only and nothing refuse list_models.
    assert_eq!(ids, ["shared"]);

    let l = load(
        "only_allow_configured_providers: true\nproviders: [{id: quiet, base_url: 'https://q.example', allowed_requests: {chat_completion: true}, models: [{id: m1}]}]",
    );
    let f = l.respond(&request("GET", "/v1/models", Json::Null));
    assert_eq!(f.response.status, 400);
    let message = body_of(&f)["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("'list_models'") && message.contains("'quiet'"),
        "{message}"
    );
}

#[test]
fn an_unknown_request_type_is_a_load_error_naming_the_known_ones() {
    let d = diagnostics(
        "providers: [{id: p, base_url: 'https://p.example', allowed_requests: {chat: true}}]",
    );
    assert!(
        d.iter()
            .any(|(path, m)| path == "providers[0].allowed_requests.chat"
                && m.contains("'chat' is not a request type")
                && m.contains("chat_completion_stream")
                && m.contains("transcription_stream")),
        "{d:#?}"
    );
    let d = diagnostics(
        "providers: [{id: p, base_url: 'https://p.example', allowed_requests: {chat_completion: yes please}}]",
    );
    assert!(
        d.iter()
            .any(|(path, _)| path.starts_with("providers[0].allowed_requests")),
        "{d:#?}"
    );
}
