//! What each attempt's body carries (docs/ai-gateway.md, "Body handling"): output limits in
//! the field the provider expects, config limits capped too, protocol fields never stripped,
//! and a `provider:` name with no model answered with a 400.

use serde_json::{Value, json};

use super::harness::{chat, load, request};

fn first_body(l: &super::harness::Loaded, req: &crate::model::Request) -> Value {
    serde_json::from_slice(&super::harness::body_bytes(&l.forward(req).attempts[0])).unwrap()
}

#[test]
fn openai_chat_gets_max_completion_tokens_when_the_client_sent_no_limit() {
    let l = load("max_output_tokens: 50\nproviders: [{id: openai}]");
    let body = first_body(&l, &chat(json!({"model": "openai:o3", "messages": []})));
    assert_eq!(body["max_completion_tokens"], 50, "{body}");
    assert!(
        body.get("max_tokens").is_none(),
        "OpenAI rejects max_tokens for o-series: {body}"
    );
    // A limit the client sent is capped under its own name, nothing added.
    for field in ["max_tokens", "max_completion_tokens"] {
        let body = first_body(
            &l,
            &chat(json!({"model": "openai:gpt-5", "messages": [], field: 4000})),
        );
        assert_eq!(body[field], 50, "{body}");
        let limits = ["max_tokens", "max_completion_tokens", "max_output_tokens"];
        let present: Vec<&str> = limits
            .into_iter()
            .filter(|f| body.get(*f).is_some())
            .collect();
        assert_eq!(present, vec![field], "{body}");
    }
}

#[test]
fn other_openai_compatible_providers_and_messages_get_max_tokens() {
    let l = load(
        "max_output_tokens: 50\nproviders: [{id: groq}, {id: anthropic}]\nonly_allow_configured_providers: true",
    );
    let body = first_body(
        &l,
        &chat(json!({"model": "groq:llama-3.3-70b", "messages": []})),
    );
    assert_eq!(body["max_tokens"], 50, "{body}");
    assert!(body.get("max_completion_tokens").is_none(), "{body}");
    let body = first_body(
        &l,
        &request(
            "POST",
            "/v1/messages",
            json!({"model": "anthropic:claude-x", "messages": []}),
        ),
    );
    assert_eq!(body["max_tokens"], 50, "{body}");
}

#[test]
fn config_body_limits_are_capped_too() {
    let l = load(
        "max_output_tokens: 50\nbody: {max_completion_tokens: 9000}\nproviders: [{id: openai}]",
    );
    let body = first_body(&l, &chat(json!({"model": "openai:gpt-5", "messages": []})));
    assert_eq!(body["max_completion_tokens"], 50, "{body}");
    assert!(body.get("max_tokens").is_none(), "{body}");
    let l = load("max_output_tokens: 50\nbody: {max_tokens: 20}\nproviders: [{id: groq}]");
    let body = first_body(&l, &chat(json!({"model": "groq:x", "messages": []})));
    assert_eq!(
        body["max_tokens"], 20,
        "a smaller config limit stays: {body}"
    );
}

#[test]
fn an_allowlist_without_stream_keeps_stream() {
    let l = load(
        r#"
providers:
  - id: local
    base_url: http://llm.internal:8080
    supported_api_surfaces:
      - format: openai
        surface: chat-completions
        supported_params: [messages]
    models: [{id: llama3, unsupported_params: [{name: stream}]}]
only_allow_configured_providers: true
"#,
    );
    let p = l.forward(&chat(json!({
        "model": "llama3", "messages": [], "stream": true,
        "stream_options": {"include_usage": true}, "temperature": 1,
    })));
    assert!(p.stream);
    let body: Value = serde_json::from_slice(&super::harness::body_bytes(&p.attempts[0])).unwrap();
    assert_eq!(
        body,
        json!({"model": "llama3", "messages": [], "stream": true}),
        "stream is the gateway's own field; stream_options is a provider parameter"
    );
}

#[test]
fn a_provider_prefix_without_a_model_is_a_400_naming_it() {
    let l = load("providers: [{id: openai}]");
    for name in ["openai:", "OpenAI:  "] {
        let f = l.respond(&chat(json!({"model": name, "messages": []})));
        assert_eq!(f.response.status, 400, "{name}");
        assert_eq!(f.results["error"]["code"], "invalid_request_body");
        let body: Value = serde_json::from_slice(&f.response.body).unwrap();
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("names provider 'openai' but no model"),
            "{msg}"
        );
    }
    // In a fallback list too, and in the Anthropic shape on /v1/messages.
    let l = load("providers: [{id: anthropic}]");
    let f = l.respond(&request(
        "POST",
        "/v1/messages",
        json!({"model": "anthropic:claude-x", "models": ["anthropic:"], "messages": []}),
    ));
    assert_eq!(f.response.status, 400);
    let body: Value = serde_json::from_slice(&f.response.body).unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
}

/// A large conversation is not copied into every attempt: each attempt's body refers to the
/// client's for it, and put back together it is the body the provider must get.
#[test]
fn large_values_travel_as_ranges_of_the_clients_body() {
    let l = load("providers: [{id: openai}]");
    let long = "x".repeat(100_000);
    let req = chat(json!({
        "model": "gpt-4o",
        "models": ["gpt-4o-mini", "gpt-4.1"],
        "messages": [{"role": "user", "content": long}],
        "temperature": 0.5,
    }));
    let plan = l.forward(&req);
    assert_eq!(plan.attempts.len(), 3);
    for (a, model) in plan
        .attempts
        .iter()
        .zip(["gpt-4o", "gpt-4o-mini", "gpt-4.1"])
    {
        let written: usize = a
            .body
            .iter()
            .map(|p| match p {
                crate::model::BodyPiece::Bytes(b) => b.len(),
                crate::model::BodyPiece::Request { .. } => 0,
            })
            .sum();
        assert!(written < 200, "{written} bytes copied into the attempt");
        let whole = crate::model::assemble_body(&a.body, &req.body).unwrap();
        let body: Value = serde_json::from_slice(&whole).unwrap();
        assert_eq!(
            body,
            json!({
                "model": model,
                "messages": [{"role": "user", "content": long}],
                "temperature": 0.5,
            })
        );
    }
}
