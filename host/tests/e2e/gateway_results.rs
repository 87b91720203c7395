//! The `ai-gateway` action's result variables (`actions.ngrok.ai_gateway`) where a policy
//! reads them after the plan ran (docs/ai-gateway.md, "Result variables"): in
//! `on_http_response` rules after a served answer, streaming or not, and after a failed plan
//! that continued (`on_error: continue`) into another answer. A rule reading them must never
//! turn an answer the provider was paid for into a 500.

use std::time::Duration;

use crate::edge;
use edge_test_support::ai::{ProviderCfg, ai_policy, chat};
use edge_test_support::sse::stream_text;
use edge_test_support::{Client, Edge, MockProvider, provider};
use serde_json::json;

/// Response rules in the shape of ngrok's examples: an expression over the results, and
/// `${…}` templates reading them.
fn with_result_headers(policy: edge_test_support::ai::AiPolicy) -> String {
    policy
        .response_rule(json!({
            "expressions": ["actions.ngrok.ai_gateway.status == 'success'"],
            "actions": [{"type": "add-headers", "config": {"headers": {
                "x-served-by": "${actions.ngrok.ai_gateway.success.provider}/${actions.ngrok.ai_gateway.success.model}",
                "x-models-tried": "${size(actions.ngrok.ai_gateway.models_tried)}",
                "x-first-step": "${actions.ngrok.ai_gateway.models_tried[0].requests_made[0].retry_action}",
            }}}]
        }))
        .response_rule(json!({
            "actions": [{"type": "add-headers", "config": {"headers": {
                "x-gateway-status": "${actions.ngrok.ai_gateway.status}",
            }}}]
        }))
        .build()
}

async fn start(policy: &str, providers: &[&MockProvider]) -> Edge {
    let mut b = edge().policy(policy);
    for p in providers {
        b = b.provider(p);
    }
    b.start().await.unwrap()
}

/// An edge with the result-reading response rules over two providers: `a` answers 500,
/// `b` serves. Returns `b` too, to count what it served.
async fn failing_then_ok() -> (Edge, MockProvider) {
    let a = provider("a").status(500).start().await.unwrap();
    let b = provider("b").start().await.unwrap();
    let policy = with_result_headers(
        ai_policy()
            .provider(ProviderCfg::of(&a))
            .provider(ProviderCfg::of(&b)),
    );
    (start(&policy, &[&a, &b]).await, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_rules_see_the_results_of_a_served_answer() {
    let (e, b) = failing_then_ok().await;
    let r = Client::new()
        .unwrap()
        .post_json(
            &e.url("/v1/chat/completions"),
            &chat("a:a-model", &["b:b-model"], false),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}\n{}", r.text(), e.logs());
    assert_eq!(r.json()["model"], "b-model", "{}", r.text());
    assert_eq!(r.header("x-served-by"), Some("b/b-model"));
    assert_eq!(r.header("x-models-tried"), Some("2"));
    assert_eq!(r.header("x-first-step"), Some("next_model"));
    assert_eq!(r.header("x-gateway-status"), Some("success"));
    assert_eq!(b.hits(), 1, "the answer was paid for once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_rules_see_the_results_of_a_served_stream() {
    let (e, _b) = failing_then_ok().await;
    let s = Client::new()
        .unwrap()
        .post_stream(
            &e.url("/v1/chat/completions"),
            &chat("a:a-model", &["b:b-model"], true),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(s.status, 200, "{}", s.raw);
    assert_eq!(s.header("x-served-by"), Some("b/b-model"));
    assert_eq!(s.header("x-gateway-status"), Some("success"));
    assert!(s.raw.contains("data: [DONE]"), "{}", s.raw);
    assert!(stream_text(&s.events).starts_with("b:b-model"), "{}", s.raw);
}

/// A failed plan that continues (`on_error: continue`) to the endpoint's own upstream: the
/// response phase of that answer sees the plan's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_on_error_continue_the_response_phase_sees_the_error() {
    let a = provider("a").status(500).start().await.unwrap();
    let app = provider("app").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a))
        .set("on_error", json!("continue"))
        .response_rule(json!({
            "actions": [{"type": "add-headers", "config": {"headers": {
                "x-gateway-status": "${actions.ngrok.ai_gateway.status}",
                "x-gateway-error": "${actions.ngrok.ai_gateway.error.code}",
            }}}]
        }))
        .build();
    let e = edge()
        .policy(&policy)
        .provider(&a)
        .upstream(&format!("http://{}", app.server.addr))
        .start()
        .await
        .unwrap();
    let r = Client::new()
        .unwrap()
        .post_json(
            &e.url("/v1/chat/completions"),
            &chat("a:a-model", &[], false),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}\n{}", r.text(), e.logs());
    assert_eq!(app.hits(), 1);
    assert_eq!(r.header("x-gateway-status"), Some("error"));
    assert_eq!(r.header("x-gateway-error"), Some("all_providers_failed"));
}
