//! `providers[].allowed_requests` (docs/ai-gateway.md, "Request types"): a provider that may
//! not serve a request's type is never called for it, the client gets a 400 naming the type
//! and the refusing providers when nothing is left, and `GET /v1/models` honours
//! `list_models` — against loopback providers that record what they received.

use std::time::Duration;

use crate::edge;
use edge_test_support::ai::{ProviderCfg, ai_policy, chat};
use edge_test_support::{Client, provider};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_only_gets_the_request_types_it_allows() {
    let chat_only = provider("chatonly").start().await.unwrap();
    let full = provider("full").start().await.unwrap();
    let policy = ai_policy()
        .provider(
            ProviderCfg::of(&chat_only)
                .models(&["shared", "only-chat"])
                .field("allowed_requests", json!({"chat_completion": true})),
        )
        .provider(ProviderCfg::of(&full).models(&["shared"]))
        .build();
    let e = edge()
        .policy(&policy)
        .provider(&chat_only)
        .provider(&full)
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let url = e.url("/v1/chat/completions");

    // Not streamed: the first provider in policy order serves it.
    let r = c
        .post_json(&url, &chat("shared", &[], false))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!((chat_only.hits(), full.hits()), (1, 0));

    // Streamed: chat_completion_stream is not allowed for chatonly, so only full is called.
    let s = c
        .post_stream(&url, &chat("shared", &[], true), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(s.status, 200, "{}", s.raw);
    assert!(s.raw.contains("[DONE]"), "{}", s.raw);
    assert_eq!((chat_only.hits(), full.hits()), (1, 1));
    assert_eq!(full.received()[0].json()["stream"], true);

    // Nothing left: a 400 in the client's format naming the type and the provider.
    let r = c
        .post_json(&url, &chat("chatonly:only-chat", &[], true))
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.error_code().as_deref(), Some("request_type_not_allowed"));
    assert_eq!(
        r.header("x-edge-error-code"),
        Some("request_type_not_allowed")
    );
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("'chat_completion_stream'") && message.contains("'chatonly'"),
        "{message}"
    );
    assert_eq!(
        (chat_only.hits(), full.hits()),
        (1, 1),
        "no provider called"
    );

    // GET /v1/models lists only the models of providers that allow list_models.
    let r = c.get(&e.url("/v1/models")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let ids: Vec<String> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["shared"]);
}
