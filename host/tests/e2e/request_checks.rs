//! What the edge checks and rewrites on the request side before and while it plans attempts,
//! against real loopback providers: key selection that fails for one candidate only, quota
//! filters before any provider answered, output limits in the field the provider expects,
//! `stream` surviving a parameter allowlist, `provider:` without a model, plain http only to
//! registered `.internal` names, and edge errors in the client's format.

use std::time::Duration;

use edge_test_support::ai::{ProviderCfg, ai_policy, chat, messages};
use edge_test_support::{Client, MockProvider, provider};
use serde_json::{Value, json};

use crate::edge;

async fn start_edge(policy: &str, providers: &[&MockProvider]) -> edge_test_support::Edge {
    let mut b = edge().policy(policy);
    for p in providers {
        b = b.provider(p);
    }
    b.start().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_selection_error_skips_only_that_candidate() {
    let a = provider("a").start().await.unwrap();
    let b = provider("b").start().await.unwrap();
    // For `a` the strategy reads a missing field (a CEL error); for `b` it picks the key.
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a).keys(&["sk-a"]))
        .provider(ProviderCfg::of(&b).keys(&["sk-b"]))
        .set(
            "api_key_selection",
            json!({"strategy": ["ai.keys.filter(k, k.value == 'sk-b' || k.nope == 1)"]}),
        )
        .build();
    let e = start_edge(&policy, &[&a, &b]).await;
    let r = Client::new()
        .unwrap()
        .post_json(
            &e.url("/v1/chat/completions"),
            &chat("a:a-model", &["b:b-model"], false),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-aigw-provider"), Some("b"));
    assert_eq!(a.hits(), 0, "no key for a: it is skipped, never called");
    assert_eq!(b.received()[0].header("authorization"), Some("Bearer sk-b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_quota_filter_works_before_any_provider_answered() {
    let p = provider("p").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&p).keys(&["sk-1", "sk-2"]))
        .set(
            "api_key_selection",
            json!({"strategy": ["ai.keys.filter(k, k.quota.remaining_requests > 100)"]}),
        )
        .build();
    let e = start_edge(&policy, &[&p]).await;
    let r = Client::new()
        .unwrap()
        .post_json(
            &e.url("/v1/chat/completions"),
            &chat("p:p-model", &[], false),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "first request after start: {}", r.text());
    assert_eq!(p.received()[0].header("authorization"), Some("Bearer sk-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_limits_use_the_field_the_provider_expects_and_cap_config_limits() {
    // A provider configured as `openai` is OpenAI's own API, wherever it is pointed.
    let openai = provider("openai").start().await.unwrap();
    let other = provider("other").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&openai).keys(&["sk-openai"]))
        .provider(ProviderCfg::of(&other))
        .set("max_output_tokens", json!(50))
        .build();
    let e = start_edge(&policy, &[&openai, &other]).await;
    let c = Client::new().unwrap();
    let url = e.url("/v1/chat/completions");
    assert_eq!(
        c.post_json(&url, &chat("openai:o3", &[], false))
            .await
            .unwrap()
            .status,
        200
    );
    let sent = openai.received()[0].json();
    assert_eq!(sent["max_completion_tokens"], 50, "{sent}");
    assert!(
        sent.get("max_tokens").is_none(),
        "OpenAI rejects max_tokens for reasoning models: {sent}"
    );
    let mut body = chat("openai:gpt-5", &[], false);
    body["max_completion_tokens"] = json!(4000);
    c.post_json(&url, &body).await.unwrap();
    let sent = openai.received()[1].json();
    assert_eq!(sent["max_completion_tokens"], 50, "{sent}");
    assert!(sent.get("max_tokens").is_none(), "{sent}");
    c.post_json(&url, &chat("other:other-model", &[], false))
        .await
        .unwrap();
    assert_eq!(other.received()[0].json()["max_tokens"], 50);

    // A limit in the config `body` is capped like the client's.
    let capped = ai_policy()
        .provider(ProviderCfg::of(&other))
        .set("max_output_tokens", json!(50))
        .set("body", json!({"max_tokens": 9000}))
        .build();
    let e = start_edge(&capped, &[&other]).await;
    c.post_json(
        &e.url("/v1/chat/completions"),
        &chat("other:other-model", &[], false),
    )
    .await
    .unwrap();
    assert_eq!(other.received()[1].json()["max_tokens"], 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowlist_without_stream_still_streams() {
    let p = provider("p").start().await.unwrap();
    let policy = json!({"on_http_request": [{"actions": [{"type": "ai-gateway", "config": {
        "only_allow_configured_providers": true,
        "providers": [{
            "id": "p",
            "base_url": p.base_url(),
            "models": [{"id": "p-model"}],
            "supported_api_surfaces": [{
                "format": "openai",
                "surface": "chat-completions",
                "supported_params": ["messages"],
            }],
        }],
    }}]}]})
    .to_string();
    let e = start_edge(&policy, &[&p]).await;
    let r = Client::new()
        .unwrap()
        .post_stream(
            &e.url("/v1/chat/completions"),
            &chat("p:p-model", &[], true),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(r.raw.contains("[DONE]"), "{}", r.raw);
    assert_eq!(p.received()[0].json()["stream"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_prefix_without_a_model_is_a_400_in_the_clients_format() {
    let p = provider("p").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&p).formats(&["openai", "anthropic"]))
        .build();
    let e = start_edge(&policy, &[&p]).await;
    let c = Client::new().unwrap();
    let r = c
        .post_json(&e.url("/v1/chat/completions"), &chat("p:", &[], false))
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.error_code().as_deref(), Some("invalid_request_body"));
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("names provider 'p' but no model"), "{msg}");
    let r = c
        .post_json(&e.url("/v1/messages"), &messages("p:", false))
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["type"], "error", "{}", r.text());
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    assert_eq!(p.hits(), 0, "never sent upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_an_unregistered_internal_name_is_refused_naming_the_flag() {
    let p = provider("p").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::named("ghost", "http://ghost.internal/v1"))
        .provider(ProviderCfg::of(&p))
        .build();
    // `p` is registered with --internal, `ghost` is not.
    let e = start_edge(&policy, &[&p]).await;
    let c = Client::new().unwrap();
    let r = c
        .post_json(
            &e.url("/v1/chat/completions"),
            &chat("ghost:ghost-model", &["p:p-model"], false),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "the next model serves: {}", r.text());
    let r = c
        .post_json(
            &e.url("/v1/chat/completions"),
            &chat("ghost:ghost-model", &[], false),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 502, "{}", r.text());
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        msg.contains("plain http:// to ghost.internal is refused") && msg.contains("--internal"),
        "{msg}"
    );
    assert!(!msg.contains("dns"), "refused before any lookup: {msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_errors_on_messages_use_the_anthropic_shape() {
    let p = provider("p").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&p).formats(&["openai", "anthropic"]))
        .build();
    let e = edge()
        .policy(&policy)
        .provider(&p)
        .arg("--max-body-bytes")
        .arg("1024")
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let mut big = messages("p:p-model", false);
    big["messages"][0]["content"] = Value::String("x".repeat(4096));
    let r = c.post_json(&e.url("/v1/messages"), &big).await.unwrap();
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(
        r.header("x-edge-error-code"),
        Some("request_body_too_large")
    );
    let v = r.json();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "request_too_large", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("1024"));
    let r = c
        .post_json(&e.url("/v1/chat/completions"), &big)
        .await
        .unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"]["code"], "request_body_too_large");
    assert_eq!(p.hits(), 0);
}

#[test]
fn edge_check_with_the_serve_flags_warns_about_unregistered_plain_http_providers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.yaml");
    std::fs::write(
        &file,
        "\
on_http_request:
  - actions:
      - type: ai-gateway
        config:
          providers:
            - id: ghost
              base_url: http://ghost.internal/v1
            - id: gpu
              base_url: http://gpu.internal:8080
            - id: tls
              base_url: https://tls.internal
            - id: demo
              base_url: http://demo.internal
",
    )
    .unwrap();
    let out = std::process::Command::new(crate::EDGE_BIN)
        .args([
            "check",
            "--internal",
            "gpu.internal=127.0.0.1:8080",
            "--demo",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning is not an error: {stdout}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        vec![format!(
            "{}:7:25: warning: plain http:// to ghost.internal is not registered: attempts to \
             this provider fail until the edge runs with --internal ghost.internal=HOST:PORT \
             (or use https://)",
            file.display()
        )],
        "{stdout}"
    );
}
