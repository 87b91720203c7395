//! The README flow: `edge serve --demo --policy policies/quickstart.yaml`, one curl for a
//! completion and one for a failover, with no keys and no second process.

use std::time::Duration;

use crate::edge;
use edge_test_support::Client;
use edge_test_support::paths::workspace_root;
use serde_json::json;

async fn quickstart_edge() -> edge_test_support::Edge {
    edge()
        .policy_file(workspace_root().join("policies/quickstart.yaml"))
        .demo()
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_from_the_demo_provider() {
    let e = quickstart_edge().await;
    let body =
        json!({"model": "demo-chat", "messages": [{"role": "user", "content": "Hello there"}]});
    let r = Client::new()
        .unwrap()
        .post_json(&e.url("/v1/chat/completions"), &body)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "echo: Hello there"
    );
    assert_eq!(r.header("x-aigw-attempts"), Some("1"));
    assert_eq!(r.header("x-aigw-model"), Some("demo-chat"));
    assert!(r.header("x-aigw-provider").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_from_a_failing_model_to_a_working_one() {
    let e = quickstart_edge().await;
    let body = json!({
        "model": "fail-503",
        "models": ["demo-chat"],
        "messages": [{"role": "user", "content": "Hello there"}],
    });
    let r = Client::new()
        .unwrap()
        .post_json(&e.url("/v1/chat/completions"), &body)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-aigw-attempts"), Some("2"));
    assert_eq!(r.header("x-aigw-model"), Some("demo-chat"));
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "echo: Hello there"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_and_anthropic_messages_from_the_demo_provider() {
    let e = quickstart_edge().await;
    let c = Client::new().unwrap();
    let body = json!({"model": "demo-chat", "stream": true, "messages": [{"role": "user", "content": "one two three"}]});
    let s = c
        .post_stream(
            &e.url("/v1/chat/completions"),
            &body,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(s.status, 200, "{}", s.raw);
    assert_eq!(
        edge_test_support::sse::stream_text(&s.events).trim(),
        "echo: one two three"
    );
    assert_eq!(s.events.last().map(|e| e.data.as_str()), Some("[DONE]"));

    let body = json!({"model": "demo-chat", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]});
    let r = c
        .send(
            c.inner()
                .post(e.url("/v1/messages"))
                .header("anthropic-version", "2023-06-01")
                .body(body.to_string()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["content"][0]["text"], "echo: hi");
}
