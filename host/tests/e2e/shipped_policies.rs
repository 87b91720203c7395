//! Every policy in `policies/` loaded by a real `edge serve` and exercised with real requests
//! (`quickstart.yaml` has its own file, `rules.yaml` is the benchmark's and is checked here).
//! Providers that would be real paid APIs are never called: requests go to the demo provider
//! or to loopback mocks behind the policies' `.internal` names (or, for `azure-openai.yaml`,
//! behind the Azure resource's host name rewritten to one), or are answered by the gateway
//! itself (`/v1/models`).

use std::sync::Arc;

use crate::edge;
use edge_test_support::ai::chat;
use edge_test_support::paths::workspace_root;
use edge_test_support::{Client, TestCa, echo_upstream, provider};
use serde_json::json;

fn policy(name: &str) -> std::path::PathBuf {
    workspace_root().join("policies").join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_protected_rejects_strangers_and_serves_token_holders() {
    let token = "gw-token-123";
    let e = edge()
        .policy_file(policy("bearer-protected.yaml"))
        .demo()
        .env("EDGE_SECRET_GATEWAY_CLIENT_TOKEN", token)
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let body =
        json!({"model": "demo-chat", "messages": [{"role": "user", "content": "let me in"}]});
    let send = |auth: Option<&'static str>| {
        let mut b = c
            .inner()
            .post(e.url("/v1/chat/completions"))
            .header("content-type", "application/json");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        c.send(b.body(body.to_string()))
    };
    let none = send(None).await.unwrap();
    assert_eq!(none.status, 401, "{}", none.text());
    assert_eq!(none.json()["error"]["type"], "authentication_error");
    assert_eq!(send(Some("Bearer wrong")).await.unwrap().status, 401);
    let ok = send(Some("Bearer gw-token-123")).await.unwrap();
    // The demo provider only accepts "demo-key": a 200 proves the gateway token was replaced.
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(
        ok.json()["choices"][0]["message"]["content"],
        "echo: let me in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategies_route_eu_only_clients_to_the_eu_provider() {
    let ca = Arc::new(TestCa::new("gpu CA").unwrap());
    let eu = provider("gpu-eu").tls(&ca).start().await.unwrap();
    let us = provider("gpu-us").tls(&ca).start().await.unwrap();
    let e = edge()
        .policy_file(policy("strategies.yaml"))
        .provider(&eu)
        .provider(&us)
        .provider_ca(&ca)
        .env("EDGE_SECRET_OPENAI_PRIMARY", "sk-unused")
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let body = json!({"messages": [{"role": "user", "content": "hallo"}]});
    let r = c
        .send(
            c.inner()
                .post(e.url("/v1/chat/completions"))
                .header("content-type", "application/json")
                .header("x-eu-only", "1")
                .body(body.to_string()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-aigw-provider"), Some("gpu-eu"));
    assert_eq!(eu.models_seen(), vec!["llama3"]);
    assert!(us.received().is_empty());

    let models = c.get(&e.url("/v1/models")).await.unwrap();
    assert_eq!(models.status, 200, "{}", models.text());
    let listed = models.text();
    for id in ["gpt-4o", "gpt-4o-mini", "llama3"] {
        assert!(listed.contains(id), "{id} missing from {listed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_provider_failover_loads_with_secrets_and_lists_its_models() {
    let e = edge()
        .policy_file(policy("multi-provider-failover.yaml"))
        .env("EDGE_SECRET_OPENAI_PRIMARY", "sk-a")
        .env("EDGE_SECRET_OPENAI_BACKUP", "sk-b")
        .env("EDGE_SECRET_ANTHROPIC_KEY", "sk-c")
        .start()
        .await
        .unwrap();
    let r = Client::new()
        .unwrap()
        .get(&e.url("/v1/models"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(text.contains("llama3.2"), "{text}");
    assert!(!text.contains("sk-a") && !text.contains("sk-b") && !text.contains("sk-c"));
    assert!(!e.logs().contains("sk-a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_yaml_guards_the_api_and_edits_headers_both_ways() {
    let up = echo_upstream().await.unwrap();
    let e = edge()
        .policy_file(policy("rules.yaml"))
        .upstream(&up.server.url())
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    // The benchmark's request shape must be forwarded (not denied), or the benchmark would
    // measure the wrong path.
    let r = c
        .send(
            c.inner()
                .get(e.url("/api/items?limit=10"))
                .header("user-agent", "bench")
                .header("x-api-key", "bench")
                .header("x-debug", "1"),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-served-by"), Some("edge"));
    let got = &up.requests.all()[0];
    assert_eq!(got.header("x-forwarded-by"), Some("edge"));
    assert_eq!(got.header("x-client-ip"), Some("127.0.0.1"));
    assert!(got.header("x-request-id").is_some_and(|v| !v.is_empty()));
    assert_eq!(got.header("x-debug"), None);

    let no_key = c.get(&e.url("/api/items")).await.unwrap();
    assert_eq!(no_key.status, 401, "{}", no_key.text());
    let delete = c
        .send(
            c.inner()
                .delete(e.url("/api/items/1"))
                .header("x-api-key", "k"),
        )
        .await
        .unwrap();
    assert_eq!(delete.status, 405);
    assert_eq!(delete.header("allow"), Some("GET, POST"));
    assert_eq!(
        up.requests.count(),
        1,
        "rejected requests never reach the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_example_reaches_the_deployment_with_api_key_and_api_version() {
    let azure = provider("azure").start().await.unwrap();
    let shipped = std::fs::read_to_string(policy("azure-openai.yaml")).unwrap();
    // The example as shipped, with the resource's host pointed at the loopback provider.
    let policy = shipped.replace(
        "https://my-resource.openai.azure.com",
        "http://azure.internal",
    );
    assert_ne!(policy, shipped, "the example names the Azure resource host");
    let key = "azure-key-0123456789abcdef";
    let e = edge()
        .policy(&policy)
        .provider(&azure)
        .env("EDGE_SECRET_AZURE_API_KEY", key)
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let r = c
        .send(
            c.inner()
                .post(e.url("/v1/chat/completions"))
                .header("content-type", "application/json")
                .header("authorization", "Bearer client-gateway-token")
                .body(chat("gpt-4o", &[], false).to_string()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let got = azure.received().pop().unwrap();
    assert_eq!(
        got.path,
        "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(got.header("api-key"), Some(key));
    assert_eq!(got.header("authorization"), None, "{:?}", got.headers);
    assert_eq!(got.model().as_deref(), Some("gpt-4o"));
}
