//! Large chat bodies (long conversations, images in base64) through the ai-gateway action:
//! each attempt's body refers to the client's instead of carrying a copy
//! (docs/ai-gateway.md, "Body handling"), so a body near the 10 MiB limit with a `models`
//! list fails over and is served whole, within the plugin's memory and time limits.

use std::time::{Duration, Instant};

use crate::edge;
use edge_test_support::ai::{ProviderCfg, ai_policy};
use edge_test_support::{Client, provider};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_megabyte_conversation_fails_over_twice_and_arrives_whole() {
    let a = provider("a").status(500).start().await.unwrap();
    let b = provider("b").status(503).start().await.unwrap();
    let c = provider("c").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a))
        .provider(ProviderCfg::of(&b))
        .provider(ProviderCfg::of(&c))
        .build();
    let e = edge()
        .policy(&policy)
        .provider(&a)
        .provider(&b)
        .provider(&c)
        .start()
        .await
        .unwrap();
    // Just under the default 10 MiB body limit.
    let content = "a".repeat(10_300_000);
    let body = json!({
        "model": "a:a-model",
        "models": ["b:b-model", "c:c-model"],
        "messages": [{"role": "user", "content": content}],
    });
    let client = Client::new().unwrap();
    for round in 0..3 {
        let started = Instant::now();
        let r = client
            .post_json(&e.url("/v1/chat/completions"), &body)
            .await
            .unwrap();
        assert_eq!(r.status, 200, "round {round}: {}\n{}", r.text(), e.logs());
        assert_eq!(r.header("x-aigw-attempts"), Some("3"));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    for p in [&a, &b, &c] {
        let got = p.received();
        assert_eq!(got.len(), 3, "{}", p.name);
        for r in got {
            let sent = r.json();
            assert_eq!(sent["model"], format!("{}-model", p.name));
            assert_eq!(
                sent["messages"][0]["content"].as_str().map(str::len),
                Some(content.len()),
                "{} got the whole conversation",
                p.name
            );
        }
    }
    assert!(
        !e.logs().contains("plugin_deadline_exceeded"),
        "{}",
        e.logs()
    );
}
